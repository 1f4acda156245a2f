// The online-softmax attention loop over an F16 cache, in llama.cpp's
// one-chunk order (see KernelTable::attn_f16), on a table's own dot, value
// update and rescale kernels: the scalar table's definition, and the SIMD
// tables' path for head sizes without a register-resident kernel.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/fp16.h"

namespace rs::kernels {

template <float (*Dot)(const uint16_t*, const float*, int),
          void (*Mad)(uint16_t*, const uint16_t*, float, int), void (*Scale)(uint16_t*, float, int)>
void attn_f16_loop(const float* q, const uint16_t* const* k, const uint16_t* const* v, int n,
                   int hd, float scale, float* out) {
    std::vector<uint16_t> acc(static_cast<size_t>(hd), 0);
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
    for (int i = 0; i < hd; ++i) out[i] = fp16_lookup(acc[static_cast<size_t>(i)]) * inv;
}

// The F32-cache loop (see KernelTable::attn_f32) on a table's F32 dot.
template <float (*Dot)(const float*, const float*, int)>
void attn_f32_loop(const float* q, const float* const* k, const float* const* v, int n, int hd,
                   float scale, float* out) {
    std::vector<float> acc(static_cast<size_t>(hd), 0.0f);
    const int np = hd & ~63;  // ggml_vec_mad_f32: fma on steps of 64, then y += x*v
    float M = -INFINITY, S = 0.0f;
    for (int p = 0; p < n; ++p) {
        const float s = Dot(k[p], q, hd) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > M) {
            const float Mold = M;
            M = s;
            ms = std::exp(Mold - M);
            for (int i = 0; i < hd; ++i) acc[static_cast<size_t>(i)] *= ms;
        } else {
            vs = std::exp(s - M);
        }
        for (int i = 0; i < np; ++i)
            acc[static_cast<size_t>(i)] = std::fma(v[p][i], vs, acc[static_cast<size_t>(i)]);
        for (int i = np; i < hd; ++i) acc[static_cast<size_t>(i)] += v[p][i] * vs;
        S = std::fma(S, ms, vs);
    }
    const float inv = S == 0.0f ? 0.0f : 1.0f / S;
    for (int i = 0; i < hd; ++i) out[i] = acc[static_cast<size_t>(i)] * inv;
}

}  // namespace rs::kernels
