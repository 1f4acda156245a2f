// Dot-product kernels on 256-bit vectors, compiled twice: for AVX2+FMA
// (avx2.cpp) and for AVX-512 with VNNI (avx512.cpp, RS_VNNI=1), where the
// signed int8 dot uses vpdpbusd. Each weight block is decoded once and
// multiplied with up to four activation rows (prefill and batched decode).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "cpu/blocks.h"
#include "cpu/fp16.h"
#include "cpu/kernels.h"

namespace rs::kernels::RS_SIMD_NS {

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Sum of x*y over int8 lanes, in 8 int32 lanes (x, y signed; |x| <= 127).
inline __m256i dot_i8(__m256i x, __m256i y) {
    const __m256i ax = _mm256_sign_epi8(x, x);
    const __m256i sy = _mm256_sign_epi8(y, x);
#if RS_VNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
#endif
}

inline float h2f(uint16_t h) {
    return fp16_lookup(h);
}

inline const uint8_t* act_row(const void* act, size_t stride, int j) {
    return static_cast<const uint8_t*>(act) + static_cast<size_t>(j) * stride;
}

// Runs Body<NA> over activation rows in groups of at most four.
template <template <int> class Body, typename... A>
void by_groups(int n_act, float* out, const void* act, size_t stride, A... a) {
    int j = 0;
    for (; j + 4 <= n_act; j += 4) Body<4>::run(act_row(act, stride, j), stride, out + j, a...);
    switch (n_act - j) {
        case 3:
            Body<3>::run(act_row(act, stride, j), stride, out + j, a...);
            break;
        case 2:
            Body<2>::run(act_row(act, stride, j), stride, out + j, a...);
            break;
        case 1:
            Body<1>::run(act_row(act, stride, j), stride, out + j, a...);
            break;
        default:
            break;
    }
}

// Unsigned-by-signed int8 dot in 8 int32 lanes (u: 0..255, s: -127..127).
// AVX2's vpmaddubsw saturates int16 pairs, so only use it where u <= 127*2.
inline __m256i dot_u8s8(__m256i u, __m256i s) {
#if RS_VNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// Dot of two float arrays (also the offset terms: block scales x activation sums).
inline float dot_f32_plain(const float* a, const float* b, int n) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float s = hsum(acc);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

// Q4_0 / Q8_0 weights against Q8_0 activation rows. Per block and
// activation: one int8 dot (vpdpbusd with VNNI), one conversion, one
// multiply by the activation scale (a float in the row, broadcast from
// memory) and one FMA with the weight scale, shared by all activations.
// Q4_0 nibbles stay unsigned: sum((n-8)*q) = sum(n*q) - 8*sum(q); with VNNI
// Q8_0 weights are shifted to unsigned (q+128) and 128*sum(q) is removed.
// The offset terms are dot products of the weight scales with the rows'
// d*sum(q) arrays, done once per row pair. Two blocks per iteration keep two
// independent chains.
template <bool kQ4, int NA>
struct DotQ8Act {
    static constexpr bool kOffset = kQ4 || RS_VNNI;
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const int nb = n / 32;
        const BlockQ8_0* y[NA];
        const float* ys[NA];
        const float* yd[NA];
        for (int j = 0; j < NA; ++j) {
            y[j] = reinterpret_cast<const BlockQ8_0*>(act + j * stride);
            ys[j] = reinterpret_cast<const float*>(y[j] + nb);
            yd[j] = ys[j] + nb;
        }
        float dw_stack[2048];  // weight scales of this row
        std::vector<float> dw_heap;
        float* dw = dw_stack;
        if (nb > 2048) {
            dw_heap.resize(static_cast<size_t>(nb));
            dw = dw_heap.data();
        }
        __m256 acc0[NA], acc1[NA];
        for (int j = 0; j < NA; ++j) acc0[j] = acc1[j] = _mm256_setzero_ps();
        const __m256i lo = _mm256_set1_epi8(0xF);
#if RS_VNNI
        const __m256i k128 = _mm256_set1_epi8(static_cast<char>(0x80));
#endif
        auto weights = [&](int b) -> __m256i {
            if constexpr (kQ4) {
                const auto* x = static_cast<const BlockQ4_0*>(w) + b;
                __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x->qs));
                return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), lo);
            } else {
                const auto* x = static_cast<const BlockQ8_0*>(w) + b;
                __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->qs));
#if RS_VNNI
                return _mm256_xor_si256(q, k128);
#else
                return q;
#endif
            }
        };
        auto scale = [&](int b) -> float {
            return kQ4 ? h2f((static_cast<const BlockQ4_0*>(w) + b)->d)
                       : h2f((static_cast<const BlockQ8_0*>(w) + b)->d);
        };
        auto idot = [&](__m256i wq, const int8_t* q) {
            __m256i yq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
            if constexpr (kOffset)
                return dot_u8s8(wq, yq);
            else
                return dot_i8(wq, yq);
        };
        int b = 0;
        for (; b + 2 <= nb; b += 2) {
            const __m256i q0 = weights(b), q1 = weights(b + 1);
            dw[b] = scale(b);
            dw[b + 1] = scale(b + 1);
            const __m256 d0 = _mm256_set1_ps(dw[b]), d1 = _mm256_set1_ps(dw[b + 1]);
            for (int j = 0; j < NA; ++j) {
                __m256 p0 = _mm256_mul_ps(_mm256_cvtepi32_ps(idot(q0, y[j][b].qs)),
                                          _mm256_broadcast_ss(yd[j] + b));
                __m256 p1 = _mm256_mul_ps(_mm256_cvtepi32_ps(idot(q1, y[j][b + 1].qs)),
                                          _mm256_broadcast_ss(yd[j] + b + 1));
                acc0[j] = _mm256_fmadd_ps(d0, p0, acc0[j]);
                acc1[j] = _mm256_fmadd_ps(d1, p1, acc1[j]);
            }
        }
        for (; b < nb; ++b) {
            const __m256i q0 = weights(b);
            dw[b] = scale(b);
            const __m256 d0 = _mm256_set1_ps(dw[b]);
            for (int j = 0; j < NA; ++j) {
                __m256 p0 = _mm256_mul_ps(_mm256_cvtepi32_ps(idot(q0, y[j][b].qs)),
                                          _mm256_broadcast_ss(yd[j] + b));
                acc0[j] = _mm256_fmadd_ps(d0, p0, acc0[j]);
            }
        }
        for (int j = 0; j < NA; ++j) {
            float s = hsum(_mm256_add_ps(acc0[j], acc1[j]));
            if (kOffset) s -= (kQ4 ? 8.0f : 128.0f) * dot_f32_plain(dw, ys[j], nb);
            out[j] = s;
        }
    }
};
template <int NA>
struct DotQ4_0 : DotQ8Act<true, NA> {};
template <int NA>
struct DotQ8_0 : DotQ8Act<false, NA> {};

// Many activation rows (prefill, wide batches): decode the weight row once
// (the same pair loop as DotQ8Act, kept separate on purpose: for one or a few
// rows - decoding - fusing the decode into the loop is measurably faster,
// 80 vs 67 tok/s on Qwen2.5-0.5B Q4_0, than decoding into a buffer first)
// into registers-ready form and its scales once, then run the pair loop for
// each group of four rows.
template <bool kQ4, int NA>
struct DotQ8ActPre {
    static void run(const uint8_t* act, size_t stride, float* out, const __m256i* wq,
                    const float* dw, int nb) {
        constexpr bool kOffset = kQ4 || RS_VNNI;
        const BlockQ8_0* y[NA];
        const float* ys[NA];
        const float* yd[NA];
        for (int j = 0; j < NA; ++j) {
            y[j] = reinterpret_cast<const BlockQ8_0*>(act + j * stride);
            ys[j] = reinterpret_cast<const float*>(y[j] + nb);
            yd[j] = ys[j] + nb;
        }
        __m256 acc0[NA], acc1[NA];
        for (int j = 0; j < NA; ++j) acc0[j] = acc1[j] = _mm256_setzero_ps();
        auto idot = [&](__m256i q, const int8_t* a) {
            __m256i yq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
            if constexpr (kOffset)
                return dot_u8s8(q, yq);
            else
                return dot_i8(q, yq);
        };
        int b = 0;
        for (; b + 2 <= nb; b += 2) {
            const __m256 d0 = _mm256_broadcast_ss(dw + b), d1 = _mm256_broadcast_ss(dw + b + 1);
            for (int j = 0; j < NA; ++j) {
                __m256 p0 = _mm256_mul_ps(_mm256_cvtepi32_ps(idot(wq[b], y[j][b].qs)),
                                          _mm256_broadcast_ss(yd[j] + b));
                __m256 p1 = _mm256_mul_ps(_mm256_cvtepi32_ps(idot(wq[b + 1], y[j][b + 1].qs)),
                                          _mm256_broadcast_ss(yd[j] + b + 1));
                acc0[j] = _mm256_fmadd_ps(d0, p0, acc0[j]);
                acc1[j] = _mm256_fmadd_ps(d1, p1, acc1[j]);
            }
        }
        for (; b < nb; ++b) {
            const __m256 d0 = _mm256_broadcast_ss(dw + b);
            for (int j = 0; j < NA; ++j) {
                __m256 p0 = _mm256_mul_ps(_mm256_cvtepi32_ps(idot(wq[b], y[j][b].qs)),
                                          _mm256_broadcast_ss(yd[j] + b));
                acc0[j] = _mm256_fmadd_ps(d0, p0, acc0[j]);
            }
        }
        for (int j = 0; j < NA; ++j) {
            float s = hsum(_mm256_add_ps(acc0[j], acc1[j]));
            if (kOffset) s -= (kQ4 ? 8.0f : 128.0f) * dot_f32_plain(dw, ys[j], nb);
            out[j] = s;
        }
    }
};
template <int NA>
struct PreQ4_0 : DotQ8ActPre<true, NA> {};
template <int NA>
struct PreQ8_0 : DotQ8ActPre<false, NA> {};

template <bool kQ4, template <int> class Small, template <int> class Pre>
inline void dot_q8act(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const int nb = n / 32;
    if (n_act <= 4 || nb > 1024) {
        by_groups<Small>(n_act, out, act, stride, n, w);
        return;
    }
    alignas(32) __m256i wq[1024];
    alignas(32) float dw[1024];
    const __m256i lo = _mm256_set1_epi8(0xF);
    for (int b = 0; b < nb; ++b) {
        if constexpr (kQ4) {
            const auto* x = static_cast<const BlockQ4_0*>(w) + b;
            __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x->qs));
            wq[b] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), lo);
            dw[b] = h2f(x->d);
        } else {
            const auto* x = static_cast<const BlockQ8_0*>(w) + b;
            __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->qs));
#if RS_VNNI
            q = _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));
#endif
            wq[b] = q;
            dw[b] = h2f(x->d);
        }
    }
    by_groups<Pre>(n_act, out, act, stride, static_cast<const __m256i*>(wq),
                   static_cast<const float*>(dw), nb);
}

template <int NA>
struct DotQ4_K {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const auto* x = static_cast<const BlockQ4_K*>(w);
        const BlockQ8_K* y[NA];
        for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_K*>(act + j * stride);
        __m256 acc[NA];
        float accm[NA];
        for (int j = 0; j < NA; ++j) {
            acc[j] = _mm256_setzero_ps();
            accm[j] = 0;
        }
        const __m256i lo = _mm256_set1_epi8(0xF);
        for (int b = 0; b < n / QK_K; ++b) {
            uint8_t sc[8], mn[8];
            for (int s = 0; s < 8; ++s) q4k_scale_min(s, x[b].scales, sc[s], mn[s]);
            const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
            __m256i q4[8];
            for (int c = 0; c < 4; ++c) {
                __m256i bits =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * c));
                q4[2 * c] = _mm256_and_si256(bits, lo);
                q4[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), lo);
            }
            for (int j = 0; j < NA; ++j) {
                __m256i sumi = _mm256_setzero_si256();
                for (int s = 0; s < 8; ++s) {
                    __m256i qy =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[j][b].qs + 32 * s));
                    __m256i p = _mm256_maddubs_epi16(q4[s], qy);  // nibbles are unsigned
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16(sc[s])));
                }
                int summ = 0;
                for (int s = 0; s < 8; ++s)
                    summ += mn[s] * (y[j][b].bsums[2 * s] + y[j][b].bsums[2 * s + 1]);
                acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * y[j][b].d), _mm256_cvtepi32_ps(sumi),
                                         acc[j]);
                accm[j] += dmin * y[j][b].d * static_cast<float>(summ);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = hsum(acc[j]) - accm[j];
    }
};

template <int NA>
struct DotQ6_K {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const auto* x = static_cast<const BlockQ6_K*>(w);
        const BlockQ8_K* y[NA];
        for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_K*>(act + j * stride);
        __m256 acc[NA];
        for (int j = 0; j < NA; ++j) acc[j] = _mm256_setzero_ps();
        const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3),
                      k32 = _mm256_set1_epi8(32);
        for (int b = 0; b < n / QK_K; ++b) {
            __m256i q6[8];  // unsigned 0..63, in value order 32 at a time
            __m256i scv[8];
            for (int h = 0; h < 2; ++h) {
                const uint8_t* ql = x[b].ql + 64 * h;
                const uint8_t* qh = x[b].qh + 32 * h;
                const int8_t* sc = x[b].scales + 8 * h;
                __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
                __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
                __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
                q6[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                                _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
                q6[4 * h + 1] = _mm256_or_si256(
                    _mm256_and_si256(l1, m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
                q6[4 * h + 2] = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
                q6[4 * h + 3] = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
                for (int k = 0; k < 4; ++k)
                    scv[4 * h + k] =
                        _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
            }
            const float d = h2f(x[b].d);
            for (int j = 0; j < NA; ++j) {
                __m256i sumi = _mm256_setzero_si256();
                for (int k = 0; k < 8; ++k) {
                    __m256i qy =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[j][b].qs + 32 * k));
                    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q6[k], qy),
                                                 _mm256_maddubs_epi16(k32, qy));
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scv[k]));
                }
                acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * y[j][b].d), _mm256_cvtepi32_ps(sumi),
                                         acc[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = hsum(acc[j]);
    }
};

// Weight rows of 16-bit floats (F16 or BF16) or F32 against F32 activations.
inline __m256 load8(const float* p) {
    return _mm256_loadu_ps(p);
}
inline __m256 load8(const uint16_t* p, bool bf16) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (bf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

template <int NA>
struct DotFloat {
    // kind: 0 f32, 1 f16, 2 bf16
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w, int kind) {
        const float* y[NA];
        for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const float*>(act + j * stride);
        __m256 acc[NA][2];
        for (int j = 0; j < NA; ++j) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            __m256 w0, w1;
            if (kind == 0) {
                w0 = load8(static_cast<const float*>(w) + i);
                w1 = load8(static_cast<const float*>(w) + i + 8);
            } else {
                w0 = load8(static_cast<const uint16_t*>(w) + i, kind == 2);
                w1 = load8(static_cast<const uint16_t*>(w) + i + 8, kind == 2);
            }
            for (int j = 0; j < NA; ++j) {
                acc[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y[j] + i), acc[j][0]);
                acc[j][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y[j] + i + 8), acc[j][1]);
            }
        }
        for (int j = 0; j < NA; ++j) {
            float s = hsum(_mm256_add_ps(acc[j][0], acc[j][1]));
            for (int k = i; k < n; ++k) {
                float wk = kind == 0   ? static_cast<const float*>(w)[k]
                           : kind == 1 ? h2f(static_cast<const uint16_t*>(w)[k])
                                       : bf16_to_fp32(static_cast<const uint16_t*>(w)[k]);
                s += wk * y[j][k];
            }
            out[j] = s;
        }
    }
};

inline void dot_q4_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    dot_q8act<true, DotQ4_0, PreQ4_0>(n, w, act, stride, n_act, out);
}
inline void dot_q8_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    dot_q8act<false, DotQ8_0, PreQ8_0>(n, w, act, stride, n_act, out);
}
inline void dot_q4_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ4_K>(n_act, out, act, stride, n, w);
}
inline void dot_q6_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ6_K>(n_act, out, act, stride, n, w);
}
inline void dot_f32(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotFloat>(n_act, out, act, stride, n, w, 0);
}
inline void dot_f16(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotFloat>(n_act, out, act, stride, n, w, 1);
}
inline void dot_bf16(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotFloat>(n_act, out, act, stride, n, w, 2);
}

inline void axpy(float a, const float* x, float* y, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += a * x[i];
}

inline void f16_mad(uint16_t* acc, const uint16_t* v, float s, int n) {
    const __m256 vs = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + i)));
        __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(acc + i),
                         _mm256_cvtps_ph(_mm256_fmadd_ps(x, vs, a), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) acc[i] = fp32_to_fp16(__builtin_fmaf(h2f(v[i]), s, h2f(acc[i])));
}

inline void f16_scale(uint16_t* acc, float s, int n) {
    const __m256 vs = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + i)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(acc + i),
                         _mm256_cvtps_ph(_mm256_mul_ps(a, vs), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) acc[i] = fp32_to_fp16(h2f(acc[i]) * s);
}

}  // namespace rs::kernels::RS_SIMD_NS
