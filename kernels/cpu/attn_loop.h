// The online-softmax attention loop in llama.cpp's one-chunk flash-attention
// order (see KernelTable::attn_f16 / attn_f32), on a table's own dot, value
// update and rescale kernels: the scalar table's definition, and the SIMD
// tables' path for head sizes without a register-resident kernel.
#pragma once

#include <cmath>
#include <cstdint>

#include "cpu/fp16.h"
#include "cpu/kernels.h"

// Every kernel object compiles this header with its own instruction set, so
// everything here lives in that object's namespace (RS_SIMD_NS: scalar_ref,
// avx2, avx512): one shared inline symbol would let the linker keep any one
// object's copy, and the scalar table could run AVX-512 code.
#ifndef RS_SIMD_NS
#error "define RS_SIMD_NS (the including kernel object's namespace) before attn_loop.h"
#endif

namespace rs::kernels::RS_SIMD_NS {

// exp(x) by range reduction to 2^n * p(b), b = x - n ln2 (ln2 in two parts),
// p a degree-5 polynomial: the ARM optimized-routines method, with the
// coefficients llama.cpp's vector SiLU uses.
inline float vexp(float x) {
    const float z = std::fma(x, 0x1.715476p+0f, 0x1.8p23f);
    const float n = z - 0x1.8p23f;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, std::fma(0x1.ffffecp-1f, b, 1.0f));
    return std::ldexp(j, static_cast<int>(n));
}

// The softmax's exponential over an F32 cache (arguments <= 0): vexp, and 0
// below -87 (where e^x leaves the normal range): 2^n is then one exact
// scaling, so the 512-bit kernel's vector version gives the same bits.
inline float attn_exp(float x) {
    return x < -87.0f ? 0.0f : vexp(x);
}

// The C library's exponential (llama.cpp's, over an F16 cache).
inline float libm_exp(float x) {
    return std::exp(x);
}

// One query head over n more positions, its softmax state in h, given the
// scores (Score(p): position p's score, already scaled). E: the cache's
// element type; Mad and Scale update the value sum (float; over an F16 cache
// rounded to F16 after every update).
template <typename E, void (*Mad)(float*, const E*, float, int), void (*Scale)(float*, float, int),
          float (*Exp)(float), typename Score>
void attn_updates(AttnHead& h, Score score, const E* const* v, int n, int hd) {
    float M = h.M, S = h.S;
    for (int p = 0; p < n; ++p) {
        const float s = score(p);
        float ms = 1.0f, vs = 1.0f;
        if (s > M) {
            const float Mold = M;
            M = s;
            ms = Exp(Mold - M);
            Scale(h.acc, ms, hd);
        } else {
            vs = Exp(s - M);
        }
        Mad(h.acc, v[p], vs, hd);
        S = std::fma(S, ms, vs);
    }
    h.M = M;
    h.S = S;
}

template <typename E, float (*Dot)(const E*, const float*, int),
          void (*Mad)(float*, const E*, float, int), void (*Scale)(float*, float, int),
          float (*Exp)(float)>
void attn_loop(AttnHead& h, const E* const* k, const E* const* v, int n, int hd, float scale) {
    attn_updates<E, Mad, Scale, Exp>(
        h, [&](int p) { return Dot(k[p], h.q, hd) * scale; }, v, n, hd);
}

// F16 value sums held as floats: each update rounded to F16 (as llama.cpp
// keeps them in F16), so every value is an F16 number.
inline float round_f16(float x) {
    return fp16_lookup(fp32_to_fp16(x));
}

// A score over an F32 cache: one fma chain over the head's dimensions in
// order (the 512-bit kernel runs it with 16 positions in the lanes of a
// vector, so no horizontal sums are needed).
inline float dot_f32_chain(const float* k, const float* q, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s = std::fma(k[i], q[i], s);
    return s;
}

// F32 value sums as ggml_vec_mad_f32 / ggml_vec_scale_f32 update them: fma on
// whole steps of 64 values, multiply then add on the rest.
inline void f32_mad(float* y, const float* x, float v, int n) {
    const int np = n & ~63;
    for (int i = 0; i < np; ++i) y[i] = std::fma(x[i], v, y[i]);
    for (int i = np; i < n; ++i) y[i] += x[i] * v;
}
inline void f32_scale(float* y, float v, int n) {
    for (int i = 0; i < n; ++i) y[i] *= v;
}

}  // namespace rs::kernels::RS_SIMD_NS
