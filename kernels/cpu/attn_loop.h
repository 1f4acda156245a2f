// The online-softmax attention loop in llama.cpp's one-chunk flash-attention
// order (see KernelTable::attn_f16 / attn_f32), on a table's own dot, value
// update and rescale kernels: the scalar table's definition, and the SIMD
// tables' path for head sizes without a register-resident kernel.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/fp16.h"

namespace rs::kernels {

// One query head over n positions. E: the cache's element type; A: the value
// sum's (uint16_t: F16, rounded after every update; float: F32).
template <typename E, typename A, float (*Dot)(const E*, const float*, int),
          void (*Mad)(A*, const E*, float, int), void (*Scale)(A*, float, int)>
void attn_loop(const float* q, const E* const* k, const E* const* v, int n, int hd, float scale,
               float* out) {
    std::vector<A> acc(static_cast<size_t>(hd), A{0});
    float M = -INFINITY, S = 0.0f;
    for (int p = 0; p < n; ++p) {
        const float s = Dot(k[p], q, hd) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > M) {
            const float Mold = M;
            M = s;
            ms = std::exp(Mold - M);
            Scale(acc.data(), ms, hd);
        } else {
            vs = std::exp(s - M);
        }
        Mad(acc.data(), v[p], vs, hd);
        S = std::fma(S, ms, vs);
    }
    const float inv = S == 0.0f ? 0.0f : 1.0f / S;
    for (int i = 0; i < hd; ++i) {
        const A a = acc[static_cast<size_t>(i)];
        if constexpr (sizeof(A) == 2)
            out[i] = fp16_lookup(a) * inv;
        else
            out[i] = a * inv;
    }
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

}  // namespace rs::kernels
