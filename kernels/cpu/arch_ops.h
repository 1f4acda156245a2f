// Element-wise ops that some architectures add (gemma3's GELU gate, gpt-oss's
// clamped SwiGLU and attention sinks, the MoE router's softmax). Scalar and
// not per ISA: table lookups and libm calls, in ggml's CPU order, so every
// kernel table shares them.
#pragma once

#include "cpu/kernels.h"

namespace rs::kernels {

// out[i] = gelu(g[i]) * u[i] with GELU's tanh form as ggml's geglu computes
// it: gelu of g rounded to F16, looked up in a table of F16 results; 0 for
// g <= -10 and g for g >= 10. out may be g or u.
void geglu_f16(const float* g, const float* u, float* out, int n);

// gpt-oss's SwiGLU: x = min(g, limit), y = clamp(u, -limit, limit),
// out = x / (1 + exp(-alpha x)) * (y + 1). out may be g or u.
void swiglu_oai(const float* g, const float* u, float* out, int n, float alpha, float limit);

// An attention sink of logit s joins a head's softmax after its positions
// (before attn_finish), as llama.cpp's flash attention adds it: a larger s
// rescales the value sums, and S = S * ms + vs.
void attn_sink(AttnHead& h, float s, int hd);

// ggml's soft_max of n values in place: the maximum, exp(x - max) summed in
// double in order, each times float(1 / sum).
void softmax(float* x, int n);

}  // namespace rs::kernels
