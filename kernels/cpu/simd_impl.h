// Dot-product kernels on 256-bit vectors, compiled twice: for AVX2+FMA
// (avx2.cpp) and for AVX-512 with VNNI (avx512.cpp, RS_VNNI=1), where the
// signed int8 dot uses vpdpbusd. Each weight block is decoded once and
// multiplied with up to four activation rows (prefill and batched decode).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <type_traits>

#include "cpu/attn_loop.h"
#include "cpu/blocks.h"
#include "cpu/expf_data.h"
#include "cpu/fp16.h"
#include "cpu/kernels.h"

namespace rs::kernels::RS_SIMD_NS {

// Scratch memory that grows, kept here rather than as std::vector: a library
// template instantiated in this object would be one weak symbol shared with
// the other kernel objects, compiled for this object's instruction set
// (tests/kernels checks no symbol leaves the namespace).
template <typename T>
class Scratch {
  public:
    Scratch() = default;
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch() { ::operator delete (p_, std::align_val_t{64}); }
    // Room for n values (contents kept only up to the old size's use: none).
    T* resize(size_t n) {
        if (n > cap_) {
            ::operator delete (p_, std::align_val_t{64});
            p_ = static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64}));
            cap_ = n;
        }
        return p_;
    }
    T* data() const { return p_; }

  private:
    T* p_ = nullptr;
    size_t cap_ = 0;
};

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
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

// Q5_0 weights: 32 signed quants per block (nibble, plus 16 where the high
// bit is clear subtracted: (n | ~h<<4) as int8 = n + 16h - 16), then as Q8_0.
inline __m256i q5_0_quants(const BlockQ5_0& x) {
    uint32_t h;
    std::memcpy(&h, x.qh, 4);
    // spread the 32 high bits to 32 bytes: byte j = 0xFF where bit j is set
    const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                            0x0202020202020202, 0x0303030303030303);
    __m256i hb = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)), shuf);
    hb = _mm256_or_si256(hb, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    hb = _mm256_cmpeq_epi8(hb, _mm256_set1_epi64x(-1));
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.qs));
    const __m256i lo =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0xF));
    return _mm256_or_si256(lo, _mm256_andnot_si256(hb, _mm256_set1_epi8(static_cast<char>(0xF0))));
}

template <int NA>
struct DotQ5_0 {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const int nb = n / 32;
        const auto* x = static_cast<const BlockQ5_0*>(w);
        const BlockQ8_0* y[NA];
        const float* yd[NA];
        for (int j = 0; j < NA; ++j) {
            y[j] = reinterpret_cast<const BlockQ8_0*>(act + j * stride);
            yd[j] = reinterpret_cast<const float*>(act + j * stride + q8_act_sums_offset(nb)) + nb;
        }
        __m256 acc[NA];
        for (int j = 0; j < NA; ++j) acc[j] = _mm256_setzero_ps();
        for (int b = 0; b < nb; ++b) {
            const __m256i q = q5_0_quants(x[b]);
            const float dw = h2f(x[b].d);
            for (int j = 0; j < NA; ++j) {
                const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[j][b].qs));
                acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(dw * yd[j][b]),
                                         _mm256_cvtepi32_ps(dot_i8(q, a)), acc[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = hsum(acc[j]);
    }
};

// Q5_1 weights (kernels.h): the unsigned quants (nibble + 16 * high bit)
// against the activations, the minimum against the block sum in F16.
template <int NA>
struct DotQ5_1 {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const int nb = n / 32;
        const auto* x = static_cast<const BlockQ5_1*>(w);
        const BlockQ8_0* y[NA];
        const int32_t* sums[NA];
        const float* yd[NA];
        for (int j = 0; j < NA; ++j) {
            y[j] = reinterpret_cast<const BlockQ8_0*>(act + j * stride);
            sums[j] = reinterpret_cast<const int32_t*>(act + j * stride + q8_act_sums_offset(nb));
            yd[j] = reinterpret_cast<const float*>(sums[j] + nb);
        }
        __m256 acc[NA];
        float accm[NA];
        for (int j = 0; j < NA; ++j) {
            acc[j] = _mm256_setzero_ps();
            accm[j] = 0;
        }
        const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                                0x0202020202020202, 0x0303030303030303);
        for (int b = 0; b < nb; ++b) {
            uint32_t h;
            std::memcpy(&h, x[b].qh, 4);
            __m256i hb = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)), shuf);
            hb = _mm256_or_si256(hb, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
            hb = _mm256_cmpeq_epi8(hb, _mm256_set1_epi64x(-1));  // 0xFF where the bit is set
            const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs));
            const __m256i q = _mm256_or_si256(
                _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0xF)),
                _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
            const float dw = h2f(x[b].d), mw = h2f(x[b].m);
            for (int j = 0; j < NA; ++j) {
                acc[j] = _mm256_fmadd_ps(
                    _mm256_set1_ps(dw * yd[j][b]),
                    _mm256_cvtepi32_ps(dot_u8s8(
                        q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[j][b].qs)))),
                    acc[j]);
                const float s = _cvtsh_ss(_cvtss_sh(yd[j][b] * static_cast<float>(sums[j][b] / 8),
                                                    _MM_FROUND_TO_NEAREST_INT));
                accm[j] = __builtin_fmaf(mw, s, accm[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = hsum(acc[j]) + accm[j];
    }
};

// Q8_0 weights against Q8_0 activations in llama.cpp's vec_dot order: per
// block 8 int32 lanes of 4 products each (exact), acc = fma(d_w * d_a, lanes,
// acc), the 8 lanes summed at the end. Up to four activation rows share each
// weight block.
template <int NA>
struct DotQ8_0 {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const int nb = n / 32;
        const auto* x = static_cast<const BlockQ8_0*>(w);
        const BlockQ8_0* y[NA];
        const float* yd[NA];
        for (int j = 0; j < NA; ++j) {
            y[j] = reinterpret_cast<const BlockQ8_0*>(act + j * stride);
            yd[j] = reinterpret_cast<const float*>(act + j * stride + q8_act_sums_offset(nb)) + nb;
        }
        __m256 acc[NA];
        for (int j = 0; j < NA; ++j) acc[j] = _mm256_setzero_ps();
        for (int b = 0; b < nb; ++b) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
            const float dw = h2f(x[b].d);
            for (int j = 0; j < NA; ++j) {
                const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[j][b].qs));
                acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(dw * yd[j][b]),
                                         _mm256_cvtepi32_ps(dot_i8(q, a)), acc[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = hsum(acc[j]);
    }
};

// The bytes [p, p + n) towards L1 (a tile two 256-blocks ahead: the tile's
// rows side by side are more streams than the prefetchers follow).
inline void prefetch_ahead(const uint8_t* p, size_t n) {
    for (size_t l = 0; l < n; l += 64)
        _mm_prefetch(reinterpret_cast<const char*>(p + l), _MM_HINT_T0);
}

#if RS_VNNI
// Q8_0 and Q5_0 weights against Q8_0 activations, two weight rows to a
// 512-bit vector: row r's block (as 32 signed quants) in the low half, row
// r + 1's in the high half, each activation block broadcast to both. One
// vpdpbusd gives both rows' eight vec_dot lanes, one fma updates both rows'
// float lanes, and each half is summed at the end as DotQ8_0 sums its vector:
// the same arithmetic lane for lane, so the same bits. A pair's weights are
// decoded once for NA activation rows.
struct PairQ8_0 {
    using Block = BlockQ8_0;
    static __m256i quants(const Block& x) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
    }
};
struct PairQ5_0 {
    using Block = BlockQ5_0;
    static __m256i quants(const Block& x) { return q5_0_quants(x); }
};

template <class W>
struct GemmPair {
    // yq: the NA activation rows' quants plus 128 (unsigned), nb * 32 bytes
    // each; yd[j]: row j's block scales.
    template <int NA>
    struct Run {
        static void run(const uint8_t* yq, const float* const* yd, int nb,
                        const typename W::Block* x0, const typename W::Block* x1, float* out0,
                        size_t s0, float* out1, size_t s1) {
            const size_t row_bytes = static_cast<size_t>(nb) * 32;
            __m512 acc[NA];
            for (int j = 0; j < NA; ++j) acc[j] = _mm512_setzero_ps();
            const __m512i zero = _mm512_setzero_si512(), k128 = _mm512_set1_epi8(-128);
            for (int b = 0; b < nb; ++b) {
                const __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(W::quants(x0[b])),
                                                     W::quants(x1[b]), 1);
                // (a + 128) . w - 128 * sum(w) = a . w, lane by lane, exactly.
                const __m512i minus = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, k128, w));
                const __m512 dw = _mm512_insertf32x8(_mm512_set1_ps(h2f(x0[b].d)),
                                                     _mm256_set1_ps(h2f(x1[b].d)), 1);
                for (int j = 0; j < NA; ++j) {
                    const __m512i a = _mm512_broadcast_i64x4(_mm256_loadu_si256(
                        reinterpret_cast<const __m256i*>(yq + j * row_bytes + 32 * b)));
                    const __m512i lanes = _mm512_dpbusd_epi32(minus, a, w);
                    acc[j] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(yd[j][b])),
                                             _mm512_cvtepi32_ps(lanes), acc[j]);
                }
            }
            for (int j = 0; j < NA; ++j) {
                out0[static_cast<size_t>(j) * s0] = hsum(_mm512_castps512_ps256(acc[j]));
                out1[static_cast<size_t>(j) * s1] = hsum(_mm512_extractf32x8_ps(acc[j], 1));
            }
        }
    };
};

// Q5_0 tiles (pack_q5_0) against Q8_0 activations, lanes = the tile's 16
// rows. vec_dot's eight int32 lanes of a block (lane k: values 4k..4k+3)
// become eight vectors over the rows: lane k is one vpdpbusd of the rows'
// unsigned values (nibble | high bit << 4, 0..31) against the activation's
// bytes 4k..4k+3, started from -16 times their sum (the values are the
// quants + 16); then acc_k = fma(d_w * d_a, float(lane k), acc_k) per row, and
// each row's eight sums are added as hsum adds a 256-bit vector's lanes:
// DotQ5_0's arithmetic row for row.
// One 32-block of a Q5_0 tile: the eight lane vectors of unsigned values and
// the rows' scales.
inline void q5_0_tile_block(const uint8_t* o, __m512i v[8], __m512& d) {
    const __m512i lo4 = _mm512_set1_epi8(0xF), spread = _mm512_set1_epi32(0x00204081),
                  ones = _mm512_set1_epi32(0x01010101), nib = _mm512_set1_epi32(0xF);
    const __m512i qh = _mm512_loadu_si512(o + 256);
    for (int c = 0; c < 4; ++c) {
        const __m512i q = _mm512_loadu_si512(o + 64 * c);
        v[c] = _mm512_and_si512(q, lo4);
        v[4 + c] = _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4);
    }
    for (int k = 0; k < 8; ++k) {
        // bits 4k..4k+3 of each row's qh to bit 4 of its 4 bytes
        const __m512i bits =
            _mm512_and_si512(_mm512_srli_epi32(qh, static_cast<unsigned>(4 * k)), nib);
        v[k] = _mm512_or_si512(
            v[k], _mm512_slli_epi32(_mm512_and_si512(_mm512_mullo_epi32(bits, spread), ones), 4));
    }
    d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + 320)));
}

// NA activation rows against a tile's blocks, each block's lane vectors and
// scales from `block(b, v, d)`; corr(j, b, k): -16 times the sum of row j's
// bytes 4k..4k+3 of block b.
template <int NA, class Block, class Corr>
inline void q5_0_tile_rows(int nb, const uint8_t* act, size_t stride, float* out, size_t out_stride,
                           int n_w, Block block, Corr corr) {
    const BlockQ8_0* y[NA];
    const float* yd[NA];
    for (int j = 0; j < NA; ++j) {
        y[j] = reinterpret_cast<const BlockQ8_0*>(act + j * stride);
        yd[j] = reinterpret_cast<const float*>(act + j * stride + q8_act_sums_offset(nb)) + nb;
    }
    __m512 acc[NA][8];
    for (int j = 0; j < NA; ++j)
        for (int k = 0; k < 8; ++k) acc[j][k] = _mm512_setzero_ps();
    for (int b = 0; b < nb; ++b) {
        __m512i v[8];
        __m512 d;
        block(b, v, d);
        for (int j = 0; j < NA; ++j) {
            const __m512 sc = _mm512_mul_ps(d, _mm512_set1_ps(yd[j][b]));
            for (int k = 0; k < 8; ++k) {
                int32_t a;
                std::memcpy(&a, y[j][b].qs + 4 * k, 4);
                const __m512i lanes =
                    _mm512_dpbusd_epi32(corr(j, b, k), v[k], _mm512_set1_epi32(a));
                acc[j][k] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(lanes), acc[j][k]);
            }
        }
    }
    const __mmask16 keep = static_cast<__mmask16>((1u << n_w) - 1);
    for (int j = 0; j < NA; ++j) {
        const __m512* a = acc[j];
        const __m512 r =
            _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[4]), _mm512_add_ps(a[2], a[6])),
                          _mm512_add_ps(_mm512_add_ps(a[1], a[5]), _mm512_add_ps(a[3], a[7])));
        _mm512_mask_storeu_ps(out + static_cast<size_t>(j) * out_stride, keep, r);
    }
}

// Q4_K tiles (pack_q4_k) against Q8_K activations, lanes = the tile's 16
// rows: per pair c of 32-value groups, each group's exact integer dot by
// vpdpbusd of 4 nibbles x 4 activation bytes at a time, times the group's
// scale, summed over the pair; the mins against the activation's 16-value
// sums likewise; then acc = fma(float(sumi), d * d_a, acc) and accm =
// fma(float(summ), dmin * d_a, accm) for each row in its own lane, pairs and
// blocks in order, result acc - accm: DotQ4_K's arithmetic row for row.
// Q5_K tiles add each value's fifth bit from the qh chunks and, as DotQ5_K
// does, sum the integers over the whole 256-block before its two fmas.
template <bool kFive, int NA>
struct TileK45 {
    static void run(const uint8_t* tile, int nb, const uint8_t* act, size_t stride, float* out,
                    size_t out_stride, int n_w) {
        constexpr size_t kScales = kFive ? 2048 + 512 : 2048, kMins = kScales + 128,
                         kD = kScales + 256, kBlock = kD + 64;
        const BlockQ8_K* y[NA];
        for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_K*>(act + j * stride);
        __m512 acc[NA], accm[NA];
        for (int j = 0; j < NA; ++j) acc[j] = accm[j] = _mm512_setzero_ps();
        const __m512i lo4 = _mm512_set1_epi8(0xF), one = _mm512_set1_epi8(1);
        for (int b = 0; b < nb; ++b) {
            const uint8_t* o = tile + static_cast<size_t>(b) * kBlock;
            prefetch_ahead(o + 2 * kBlock, kBlock);
            const __m512 d =
                _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + kD)));
            const __m512 dmin =
                _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + kD + 32)));
            __m512 dy[NA], dmy[NA];
            __m512i sumi[NA], summ[NA];  // Q5_K: over the whole block
            for (int j = 0; j < NA; ++j) {
                const __m512 ya = _mm512_set1_ps(y[j][b].d);
                dy[j] = _mm512_mul_ps(d, ya);
                dmy[j] = _mm512_mul_ps(dmin, ya);
                sumi[j] = summ[j] = _mm512_setzero_si512();
            }
            for (int c = 0; c < 4; ++c) {
                __m512i ilo[NA], ihi[NA];
                for (int j = 0; j < NA; ++j) ilo[j] = ihi[j] = _mm512_setzero_si512();
                for (int g = 0; g < 8; ++g) {
                    const __m512i q = _mm512_loadu_si512(o + 64 * (8 * c + g));
                    __m512i ql = _mm512_and_si512(q, lo4);
                    __m512i qh = _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4);
                    if constexpr (kFive) {
                        const __m512i h = _mm512_loadu_si512(o + 2048 + 64 * g);
                        const auto bit = [&](int s) {
                            return _mm512_slli_epi16(
                                _mm512_and_si512(_mm512_srl_epi16(h, _mm_cvtsi32_si128(s)), one),
                                4);
                        };
                        ql = _mm512_or_si512(ql, bit(2 * c));
                        qh = _mm512_or_si512(qh, bit(2 * c + 1));
                    }
                    for (int j = 0; j < NA; ++j) {
                        int32_t al, ah;
                        std::memcpy(&al, y[j][b].qs + 64 * c + 4 * g, 4);
                        std::memcpy(&ah, y[j][b].qs + 64 * c + 32 + 4 * g, 4);
                        ilo[j] = _mm512_dpbusd_epi32(ilo[j], ql, _mm512_set1_epi32(al));
                        ihi[j] = _mm512_dpbusd_epi32(ihi[j], qh, _mm512_set1_epi32(ah));
                    }
                }
                const auto bytes16 = [&](size_t off) {
                    return _mm512_cvtepu8_epi32(
                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(o + off)));
                };
                const __m512i sl = bytes16(kScales + 16 * (2 * c)),
                              sh = bytes16(kScales + 16 * (2 * c + 1));
                const __m512i ml = bytes16(kMins + 16 * (2 * c)),
                              mh = bytes16(kMins + 16 * (2 * c + 1));
                for (int j = 0; j < NA; ++j) {
                    const int16_t* bs = y[j][b].bsums + 4 * c;
                    const __m512i si = _mm512_add_epi32(_mm512_mullo_epi32(ilo[j], sl),
                                                        _mm512_mullo_epi32(ihi[j], sh));
                    const __m512i sm =
                        _mm512_add_epi32(_mm512_mullo_epi32(ml, _mm512_set1_epi32(bs[0] + bs[1])),
                                         _mm512_mullo_epi32(mh, _mm512_set1_epi32(bs[2] + bs[3])));
                    if constexpr (kFive) {
                        sumi[j] = _mm512_add_epi32(sumi[j], si);
                        summ[j] = _mm512_add_epi32(summ[j], sm);
                    } else {
                        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(si), dy[j], acc[j]);
                        accm[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sm), dmy[j], accm[j]);
                    }
                }
            }
            if constexpr (kFive)
                for (int j = 0; j < NA; ++j) {
                    acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[j]), dy[j], acc[j]);
                    accm[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(summ[j]), dmy[j], accm[j]);
                }
        }
        const __mmask16 keep = static_cast<__mmask16>((1u << n_w) - 1);
        for (int j = 0; j < NA; ++j)
            _mm512_mask_storeu_ps(out + static_cast<size_t>(j) * out_stride, keep,
                                  _mm512_sub_ps(acc[j], accm[j]));
    }
};
template <int NA>
struct TileQ4_K : TileK45<false, NA> {};
template <int NA>
struct TileQ5_K : TileK45<true, NA> {};

// Q6_K tiles (pack_q6_k) against Q8_K activations, lanes = the tile's 16
// rows: the 6-bit values of four consecutive positions rebuilt per lane from
// the ql and qh chunks as DotQ6_K rebuilds them, each 16-value group's exact
// dot by vpdpbusd (unsigned values; 32 times the activation group's sum taken
// off), times the group's scale, summed over the block; then acc =
// fma(float(sumi), d * d_a, acc) per row in its lane: DotQ6_K's arithmetic.
template <int NA>
struct TileQ6_K {
    static void run(const uint8_t* tile, int nb, const uint8_t* act, size_t stride, float* out,
                    size_t out_stride, int n_w) {
        constexpr size_t kBlock = 2048 + 1024 + 256 + 32;
        const BlockQ8_K* y[NA];
        for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_K*>(act + j * stride);
        __m512 acc[NA];
        for (int j = 0; j < NA; ++j) acc[j] = _mm512_setzero_ps();
        const __m512i m4 = _mm512_set1_epi8(0xF), m2 = _mm512_set1_epi8(3);
        const auto load = [](const uint8_t* p) { return _mm512_loadu_si512(p); };
        const auto bcast = [](const int8_t* p) {
            int32_t v;
            std::memcpy(&v, p, 4);
            return _mm512_set1_epi32(v);
        };
        for (int b = 0; b < nb; ++b) {
            const uint8_t* o = tile + static_cast<size_t>(b) * kBlock;
            prefetch_ahead(o + 2 * kBlock, kBlock);
            __m512i sumi[NA];
            for (int j = 0; j < NA; ++j) sumi[j] = _mm512_setzero_si512();
            for (int h = 0; h < 2; ++h)
                for (int G = 0; G < 2; ++G) {
                    __m512i is[4][NA];
                    for (int s = 0; s < 4; ++s)
                        for (int j = 0; j < NA; ++j) is[s][j] = _mm512_setzero_si512();
                    for (int qq = 0; qq < 4; ++qq) {
                        const int q = 4 * G + qq;
                        const __m512i A = load(o + 64 * (16 * h + q));
                        const __m512i B = load(o + 64 * (16 * h + 8 + q));
                        const __m512i H = load(o + 2048 + 64 * (8 * h + q));
                        const auto hi2 = [&](int sh) {
                            return _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(H, sh), m2),
                                                     4);
                        };
                        const __m512i v[4] = {
                            _mm512_or_si512(_mm512_and_si512(A, m4), hi2(0)),
                            _mm512_or_si512(_mm512_and_si512(B, m4), hi2(2)),
                            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(A, 4), m4), hi2(4)),
                            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(B, 4), m4), hi2(6))};
                        for (int j = 0; j < NA; ++j) {
                            const int8_t* yb = y[j][b].qs + 128 * h + 4 * q;
                            for (int s = 0; s < 4; ++s)
                                is[s][j] = _mm512_dpbusd_epi32(is[s][j], v[s], bcast(yb + 32 * s));
                        }
                    }
                    for (int s = 0; s < 4; ++s) {
                        const int g = 8 * h + 2 * s + G;
                        const __m512i sc = _mm512_cvtepi8_epi32(
                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(o + 3072 + 16 * g)));
                        for (int j = 0; j < NA; ++j)
                            sumi[j] = _mm512_add_epi32(
                                sumi[j],
                                _mm512_mullo_epi32(
                                    sc, _mm512_sub_epi32(
                                            is[s][j], _mm512_set1_epi32(32 * y[j][b].bsums[g]))));
                    }
                }
            const __m512 d =
                _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + 3328)));
            for (int j = 0; j < NA; ++j)
                acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[j]),
                                         _mm512_mul_ps(d, _mm512_set1_ps(y[j][b].d)), acc[j]);
        }
        const __mmask16 keep = static_cast<__mmask16>((1u << n_w) - 1);
        for (int j = 0; j < NA; ++j)
            _mm512_mask_storeu_ps(out + static_cast<size_t>(j) * out_stride, keep, acc[j]);
    }
};

// GemmFn over pairs of rows: activation rows in groups of eight (their quants
// offset to unsigned once per group), each against every pair of weight rows
// (a tile of rows stays in L1/L2 across groups); an odd last row pairs with
// itself.
template <class W>
inline void gemm_pairs(int n, const void* w, size_t w_stride, int n_w, const void* act,
                       size_t act_stride, int n_act, float* out, size_t out_stride) {
    using Block = typename W::Block;
    const int nb = n / 32;
    const auto* w8 = static_cast<const uint8_t*>(w);
    const auto row = [&](int r) {
        return reinterpret_cast<const Block*>(w8 + static_cast<size_t>(r) * w_stride);
    };
    thread_local Scratch<uint8_t> offset;
    uint8_t* yq = offset.resize(static_cast<size_t>(8) * nb * 32);
    const __m256i flip = _mm256_set1_epi8(-128);
    float spare[8];
    for (int j0 = 0; j0 < n_act;) {
        const int na = std::min(8, n_act - j0);
        const float* yd[8];
        for (int j = 0; j < na; ++j) {
            const uint8_t* a = act_row(act, act_stride, j0 + j);
            const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
            yd[j] = reinterpret_cast<const float*>(a + q8_act_sums_offset(nb)) + nb;
            for (int b = 0; b < nb; ++b)
                _mm256_storeu_si256(
                    reinterpret_cast<__m256i*>(yq + (static_cast<size_t>(j) * nb + b) * 32),
                    _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs)),
                                     flip));
        }
        float* o = out + static_cast<size_t>(j0) * out_stride;
        for (int r = 0; r < n_w; r += 2) {
            const bool pair = r + 1 < n_w;
            const Block* x1 = row(pair ? r + 1 : r);
            float* o1 = pair ? o + r + 1 : spare;
            const size_t s1 = pair ? out_stride : 1;  // (the spare row's outputs: one each)
            switch (na) {
#define RS_PAIR_CASE(K)                                                                       \
    case K:                                                                                   \
        GemmPair<W>::template Run<K>::run(yq, yd, nb, row(r), x1, o + r, out_stride, o1, s1); \
        break;
                RS_PAIR_CASE(8)
                RS_PAIR_CASE(7)
                RS_PAIR_CASE(6)
                RS_PAIR_CASE(5)
                RS_PAIR_CASE(4)
                RS_PAIR_CASE(3)
                RS_PAIR_CASE(2)
                RS_PAIR_CASE(1)
#undef RS_PAIR_CASE
                default:
                    break;
            }
        }
        j0 += na;
    }
}
inline void gemm_q8_0(int n, const void* w, size_t w_stride, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    gemm_pairs<PairQ8_0>(n, w, w_stride, n_w, act, act_stride, n_act, out, out_stride);
}
inline void gemm_q5_0(int n, const void* w, size_t w_stride, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    gemm_pairs<PairQ5_0>(n, w, w_stride, n_w, act, act_stride, n_act, out, out_stride);
}
#else
// The K-quant tiles on 256-bit vectors (AVX2 without VNNI): a tile's 16 rows
// as two halves of 8 lanes, each vpdpbusd as vpmaddubsw + vpmaddwd (the
// unsigned values are at most 63, so the int16 pairs cannot saturate: 2 * 63
// * 127 < 32767). The same exact integers and the same fmas row for row as
// the AVX-512 tiles and the scalar dots.
inline __m256i dot4_u8s8(__m256i u, int32_t a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_set1_epi32(a)), _mm256_set1_epi16(1));
}
inline void store_rows(float* out, __m256 lo, __m256 hi, int n_w) {
    alignas(32) float r[16];
    _mm256_store_ps(r, lo);
    _mm256_store_ps(r + 8, hi);
    for (int i = 0; i < n_w; ++i) out[i] = r[i];
}

template <bool kFive, int NA>
struct TileK45Core {
    static void run(const uint8_t* tile, int nb, const uint8_t* act, size_t stride, float* out,
                    size_t out_stride, int n_w) {
        constexpr size_t kScales = kFive ? 2048 + 512 : 2048, kMins = kScales + 128,
                         kD = kScales + 256, kBlock = kD + 64;
        const BlockQ8_K* y[NA];
        for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_K*>(act + j * stride);
        __m256 acc[NA][2], accm[NA][2];
        for (int j = 0; j < NA; ++j)
            for (int h = 0; h < 2; ++h) acc[j][h] = accm[j][h] = _mm256_setzero_ps();
        const __m256i lo4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
        for (int b = 0; b < nb; ++b) {
            const uint8_t* o = tile + static_cast<size_t>(b) * kBlock;
            prefetch_ahead(o + 2 * kBlock, kBlock);
            __m256 dy[NA][2], dmy[NA][2];
            __m256i sumi[NA][2], summ[NA][2];
            for (int h = 0; h < 2; ++h) {
                const __m256 d = _mm256_cvtph_ps(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(o + kD + 16 * h)));
                const __m256 dmin = _mm256_cvtph_ps(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(o + kD + 32 + 16 * h)));
                for (int j = 0; j < NA; ++j) {
                    const __m256 ya = _mm256_set1_ps(y[j][b].d);
                    dy[j][h] = _mm256_mul_ps(d, ya);
                    dmy[j][h] = _mm256_mul_ps(dmin, ya);
                    sumi[j][h] = summ[j][h] = _mm256_setzero_si256();
                }
            }
            for (int c = 0; c < 4; ++c) {
                __m256i ilo[NA][2], ihi[NA][2];
                for (int j = 0; j < NA; ++j)
                    for (int h = 0; h < 2; ++h) ilo[j][h] = ihi[j][h] = _mm256_setzero_si256();
                for (int g = 0; g < 8; ++g)
                    for (int h = 0; h < 2; ++h) {
                        const __m256i q = _mm256_loadu_si256(
                            reinterpret_cast<const __m256i*>(o + 64 * (8 * c + g) + 32 * h));
                        __m256i ql = _mm256_and_si256(q, lo4);
                        __m256i qh = _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4);
                        if constexpr (kFive) {
                            const __m256i hb = _mm256_loadu_si256(
                                reinterpret_cast<const __m256i*>(o + 2048 + 64 * g + 32 * h));
                            const auto bit = [&](int s) {
                                return _mm256_slli_epi16(
                                    _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(s)),
                                                     one),
                                    4);
                            };
                            ql = _mm256_or_si256(ql, bit(2 * c));
                            qh = _mm256_or_si256(qh, bit(2 * c + 1));
                        }
                        for (int j = 0; j < NA; ++j) {
                            int32_t al, ah;
                            std::memcpy(&al, y[j][b].qs + 64 * c + 4 * g, 4);
                            std::memcpy(&ah, y[j][b].qs + 64 * c + 32 + 4 * g, 4);
                            ilo[j][h] = _mm256_add_epi32(ilo[j][h], dot4_u8s8(ql, al));
                            ihi[j][h] = _mm256_add_epi32(ihi[j][h], dot4_u8s8(qh, ah));
                        }
                    }
                for (int h = 0; h < 2; ++h) {
                    const auto bytes8 = [&](size_t off) {
                        return _mm256_cvtepu8_epi32(
                            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(o + off + 8 * h)));
                    };
                    const __m256i sl = bytes8(kScales + 16 * (2 * c)),
                                  sh = bytes8(kScales + 16 * (2 * c + 1));
                    const __m256i ml = bytes8(kMins + 16 * (2 * c)),
                                  mh = bytes8(kMins + 16 * (2 * c + 1));
                    for (int j = 0; j < NA; ++j) {
                        const int16_t* bs = y[j][b].bsums + 4 * c;
                        const __m256i si = _mm256_add_epi32(_mm256_mullo_epi32(ilo[j][h], sl),
                                                            _mm256_mullo_epi32(ihi[j][h], sh));
                        const __m256i sm = _mm256_add_epi32(
                            _mm256_mullo_epi32(ml, _mm256_set1_epi32(bs[0] + bs[1])),
                            _mm256_mullo_epi32(mh, _mm256_set1_epi32(bs[2] + bs[3])));
                        if constexpr (kFive) {
                            sumi[j][h] = _mm256_add_epi32(sumi[j][h], si);
                            summ[j][h] = _mm256_add_epi32(summ[j][h], sm);
                        } else {
                            acc[j][h] =
                                _mm256_fmadd_ps(_mm256_cvtepi32_ps(si), dy[j][h], acc[j][h]);
                            accm[j][h] =
                                _mm256_fmadd_ps(_mm256_cvtepi32_ps(sm), dmy[j][h], accm[j][h]);
                        }
                    }
                }
            }
            if constexpr (kFive)
                for (int j = 0; j < NA; ++j)
                    for (int h = 0; h < 2; ++h) {
                        acc[j][h] =
                            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[j][h]), dy[j][h], acc[j][h]);
                        accm[j][h] =
                            _mm256_fmadd_ps(_mm256_cvtepi32_ps(summ[j][h]), dmy[j][h], accm[j][h]);
                    }
        }
        for (int j = 0; j < NA; ++j)
            store_rows(out + static_cast<size_t>(j) * out_stride,
                       _mm256_sub_ps(acc[j][0], accm[j][0]), _mm256_sub_ps(acc[j][1], accm[j][1]),
                       n_w);
    }
};

struct TileQ6_KCore {
    static void run(const uint8_t* tile, int nb, const uint8_t* act, float* out, int n_w) {
        constexpr size_t kBlock = 2048 + 1024 + 256 + 32;
        const auto* y = reinterpret_cast<const BlockQ8_K*>(act);
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
        for (int b = 0; b < nb; ++b) {
            const uint8_t* o = tile + static_cast<size_t>(b) * kBlock;
            prefetch_ahead(o + 2 * kBlock, kBlock);
            for (int h2 = 0; h2 < 2; ++h2) {  // rows 0-7, then 8-15
                __m256i sumi = _mm256_setzero_si256();
                for (int h = 0; h < 2; ++h)
                    for (int G = 0; G < 2; ++G) {
                        __m256i is[4];
                        for (int s = 0; s < 4; ++s) is[s] = _mm256_setzero_si256();
                        for (int qq = 0; qq < 4; ++qq) {
                            const int q = 4 * G + qq;
                            const auto ld = [&](size_t off) {
                                return _mm256_loadu_si256(
                                    reinterpret_cast<const __m256i*>(o + off + 32 * h2));
                            };
                            const __m256i A = ld(64 * (16 * h + q)), B = ld(64 * (16 * h + 8 + q)),
                                          H = ld(2048 + 64 * (8 * h + q));
                            const auto hi2 = [&](int sh) {
                                return _mm256_slli_epi16(
                                    _mm256_and_si256(_mm256_srli_epi16(H, sh), m2), 4);
                            };
                            const __m256i v[4] = {
                                _mm256_or_si256(_mm256_and_si256(A, m4), hi2(0)),
                                _mm256_or_si256(_mm256_and_si256(B, m4), hi2(2)),
                                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(A, 4), m4),
                                                hi2(4)),
                                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(B, 4), m4),
                                                hi2(6))};
                            const int8_t* yb = y[b].qs + 128 * h + 4 * q;
                            for (int s = 0; s < 4; ++s) {
                                int32_t a;
                                std::memcpy(&a, yb + 32 * s, 4);
                                is[s] = _mm256_add_epi32(is[s], dot4_u8s8(v[s], a));
                            }
                        }
                        for (int s = 0; s < 4; ++s) {
                            const int g = 8 * h + 2 * s + G;
                            const __m256i sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64(
                                reinterpret_cast<const __m128i*>(o + 3072 + 16 * g + 8 * h2)));
                            sumi = _mm256_add_epi32(
                                sumi, _mm256_mullo_epi32(
                                          sc, _mm256_sub_epi32(
                                                  is[s], _mm256_set1_epi32(32 * y[b].bsums[g]))));
                        }
                    }
                const __m256 d = _mm256_cvtph_ps(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(o + 3328 + 16 * h2)));
                acc[h2] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi),
                                          _mm256_mul_ps(d, _mm256_set1_ps(y[b].d)), acc[h2]);
            }
        }
        store_rows(out, acc[0], acc[1], n_w);
    }
};

// The Tile interface of gemm_k_packed: NA activation rows, two (Q4_K, Q5_K)
// or one (Q6_K) at a time through the 256-bit registers.
template <bool kFive, int NA>
struct TileK45 {
    static void run(const uint8_t* tile, int nb, const uint8_t* act, size_t stride, float* out,
                    size_t out_stride, int n_w) {
        int j = 0;
        for (; j + 2 <= NA; j += 2)
            TileK45Core<kFive, 2>::run(tile, nb, act + j * stride, stride,
                                       out + static_cast<size_t>(j) * out_stride, out_stride, n_w);
        if (j < NA)
            TileK45Core<kFive, 1>::run(tile, nb, act + j * stride, stride,
                                       out + static_cast<size_t>(j) * out_stride, out_stride, n_w);
    }
};
template <int NA>
struct TileQ4_K : TileK45<false, NA> {};
template <int NA>
struct TileQ5_K : TileK45<true, NA> {};
template <int NA>
struct TileQ6_K {
    static void run(const uint8_t* tile, int nb, const uint8_t* act, size_t stride, float* out,
                    size_t out_stride, int n_w) {
        for (int j = 0; j < NA; ++j)
            TileQ6_KCore::run(tile, nb, act + j * stride, out + static_cast<size_t>(j) * out_stride,
                              n_w);
    }
};
#endif

// Rows tile0 * 16 .. + n_w of a packed K-quant matrix (Tile: TileQ4_K or
// TileQ6_K, kBlock its bytes per tile and 256-block) against activation rows
// in groups of four.
template <template <int> class Tile, size_t kBlock>
inline void gemm_k_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                          size_t act_stride, int n_act, float* out, size_t out_stride) {
    const int nb = n / QK_K;
    for (int r0 = 0; r0 < n_w; r0 += 16) {
        const uint8_t* tile = static_cast<const uint8_t*>(packed) +
                              static_cast<size_t>(tile0 + r0 / 16) * nb * kBlock;
        const int rows = std::min(16, n_w - r0);
        int j = 0;
        for (; j + 4 <= n_act; j += 4)
            Tile<4>::run(tile, nb, act_row(act, act_stride, j), act_stride,
                         out + static_cast<size_t>(j) * out_stride + r0, out_stride, rows);
        const uint8_t* a = act_row(act, act_stride, j);
        float* o = out + static_cast<size_t>(j) * out_stride + r0;
        switch (n_act - j) {
            case 3:
                Tile<3>::run(tile, nb, a, act_stride, o, out_stride, rows);
                break;
            case 2:
                Tile<2>::run(tile, nb, a, act_stride, o, out_stride, rows);
                break;
            case 1:
                Tile<1>::run(tile, nb, a, act_stride, o, out_stride, rows);
                break;
            default:
                break;
        }
    }
}
#if RS_VNNI
// Q5_0 tiles (pack_q5_0) against Q8_0 activations, lanes = the tile's 16
// rows. vec_dot's eight int32 lanes of a block (lane k: values 4k..4k+3)
// become eight vectors over the rows: lane k is one vpdpbusd of the rows'
// unsigned values (nibble | high bit << 4, 0..31) against the activation's
// bytes 4k..4k+3, started from -16 times their sum (the values are the
// quants + 16); then acc_k = fma(d_w * d_a, float(lane k), acc_k) per row, and
// each row's eight sums are added as hsum adds a 256-bit vector's lanes:
// DotQ5_0's arithmetic row for row. Few activation rows (decoding) decode
// each block as they go; more decode the tile once and take the activations'
// corrections from a table.
inline void gemm_q5_0_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                             size_t act_stride, int n_act, float* out, size_t out_stride) {
    const int nb = n / QK8_0;
    constexpr size_t kBlock = 16 * 22;
    const __m512i k16 = _mm512_set1_epi8(16);
    thread_local Scratch<uint8_t> decoded;  // (64-byte aligned: whole vectors)
    thread_local Scratch<float> scales;
    thread_local Scratch<int32_t> corrections;
    const bool many = n_act >= 4;
    if (many) {
        int32_t* c = corrections.resize(static_cast<size_t>(n_act) * nb * 8);
        for (int j = 0; j < n_act; ++j) {
            const auto* y = reinterpret_cast<const BlockQ8_0*>(act_row(act, act_stride, j));
            for (int b = 0; b < nb; ++b) {  // -16 * each 4 bytes' sum, 8 at once
                const __m256i sums = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(
                        _mm256_set1_epi8(1),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs))),
                    _mm256_set1_epi16(1));
                _mm256_storeu_si256(
                    reinterpret_cast<__m256i*>(c + (static_cast<size_t>(j) * nb + b) * 8),
                    _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 4)));
            }
        }
    }
    for (int r0 = 0; r0 < n_w; r0 += 16) {
        const uint8_t* tile = static_cast<const uint8_t*>(packed) +
                              static_cast<size_t>(tile0 + r0 / 16) * nb * kBlock;
        const int rows = std::min(16, n_w - r0);
        if (many) {
            auto* v = reinterpret_cast<__m512i*>(decoded.resize(static_cast<size_t>(nb) * 8 * 64));
            float* d = scales.resize(static_cast<size_t>(nb) * 16);
            for (int b = 0; b < nb; ++b) {
                __m512 db;
                q5_0_tile_block(tile + static_cast<size_t>(b) * kBlock, v + 8 * b, db);
                _mm512_store_ps(d + 16 * b, db);
            }
            const int32_t* c = corrections.data();
            const auto run = [&]<int NA>(int j) {
                q5_0_tile_rows<NA>(
                    nb, act_row(act, act_stride, j), act_stride,
                    out + static_cast<size_t>(j) * out_stride + r0, out_stride, rows,
                    [&](int b, __m512i* vb, __m512& db) {
                        for (int k = 0; k < 8; ++k) vb[k] = _mm512_load_si512(v + 8 * b + k);
                        db = _mm512_load_ps(d + 16 * b);
                    },
                    [&](int jj, int b, int k) {
                        return _mm512_set1_epi32(c[(static_cast<size_t>(j + jj) * nb + b) * 8 + k]);
                    });
            };
            int j = 0;
            for (; j + 2 <= n_act; j += 2) run.template operator()<2>(j);
            if (j < n_act) run.template operator()<1>(j);
            continue;
        }
        const auto run = [&]<int NA>(int j) {
            const uint8_t* a = act_row(act, act_stride, j);
            q5_0_tile_rows<NA>(
                nb, a, act_stride, out + static_cast<size_t>(j) * out_stride + r0, out_stride, rows,
                [&](int b, __m512i* vb, __m512& db) {
                    const uint8_t* o = tile + static_cast<size_t>(b) * kBlock;
                    prefetch_ahead(o + 2 * kBlock, kBlock);
                    q5_0_tile_block(o, vb, db);
                },
                [&](int jj, int b, int k) {
                    int32_t av;
                    std::memcpy(
                        &av, reinterpret_cast<const BlockQ8_0*>(a + jj * act_stride)[b].qs + 4 * k,
                        4);
                    return _mm512_sub_epi32(
                        _mm512_setzero_si512(),
                        _mm512_dpbusd_epi32(_mm512_setzero_si512(), k16, _mm512_set1_epi32(av)));
                });
        };
        int j = 0;
        for (; j + 2 <= n_act; j += 2) run.template operator()<2>(j);
        if (j < n_act) run.template operator()<1>(j);
    }
}
#endif
inline void gemm_q4_k_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                             size_t act_stride, int n_act, float* out, size_t out_stride) {
    gemm_k_packed<TileQ4_K, 2048 + 256 + 64>(n, packed, tile0, n_w, act, act_stride, n_act, out,
                                             out_stride);
}
inline void gemm_q5_k_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                             size_t act_stride, int n_act, float* out, size_t out_stride) {
    gemm_k_packed<TileQ5_K, 2048 + 512 + 256 + 64>(n, packed, tile0, n_w, act, act_stride, n_act,
                                                   out, out_stride);
}
inline void gemm_q6_k_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                             size_t act_stride, int n_act, float* out, size_t out_stride) {
    gemm_k_packed<TileQ6_K, 2048 + 1024 + 256 + 32>(n, packed, tile0, n_w, act, act_stride, n_act,
                                                    out, out_stride);
}

// The vocabulary statistics of kernels.h in two 4-double vectors (lanes
// 0-3 and 4-7), the tail lane by lane as the scalar table does.
inline double combine8(const double* l) {
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}
inline double sum_f32(const float* x, int n) {
    __m256d a = _mm256_setzero_pd(), b = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
        b = _mm256_add_pd(b, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)));
    }
    alignas(32) double l[8];
    _mm256_store_pd(l, a);
    _mm256_store_pd(l + 4, b);
    for (int k = 0; i < n; ++i, ++k) l[k] += x[i];
    return combine8(l);
}
// softmax_stats' pass; kBuckets: sample_buckets' buckets into idx in the
// same pass (buckets_stats).
template <bool kBuckets>
inline void stats_pass(const float* z, const float* e, int n, float mx, double L, double inv_s,
                       uint16_t* idx, double out[3]) {
    const __m256d m = _mm256_set1_pd(mx), vl = _mm256_set1_pd(L), vs = _mm256_set1_pd(inv_s);
    const __m256 vmx = _mm256_set1_ps(mx), last = _mm256_set1_ps(kSampleLastNat),
                 per = _mm256_set1_ps(kSamplePerNat);
    const __m256i last_b = _mm256_set1_epi32(kSampleBuckets - 1);
    __m256d h[2], m2[2], sd[2];
    for (int k = 0; k < 2; ++k) h[k] = m2[k] = sd[k] = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 zv = _mm256_loadu_ps(z + i);
        if constexpr (kBuckets) {
            const __m256 d = _mm256_sub_ps(vmx, zv);
            const __m256 near = _mm256_cmp_ps(d, last, _CMP_LT_OQ);
            const __m256i b = _mm256_blendv_epi8(last_b, _mm256_cvttps_epi32(_mm256_mul_ps(d, per)),
                                                 _mm256_castps_si256(near));
            _mm_storeu_si128(
                reinterpret_cast<__m128i*>(idx + i),
                _mm_packus_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1)));
        }
        for (int k = 0; k < 2; ++k) {
            const __m128 zh = k == 0 ? _mm256_castps256_ps128(zv) : _mm256_extractf128_ps(zv, 1);
            const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(zh), m);
            const __m256d lp = _mm256_sub_pd(d, vl);
            const __m256d p = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(e + i + 4 * k)), vs);
            // (e = 0 adds nothing, as in the scalar table: 0 * -inf would be NaN)
            const __m256d live = _mm256_cmp_pd(p, _mm256_setzero_pd(), _CMP_NEQ_UQ);
            const __m256d plp = _mm256_and_pd(live, _mm256_mul_pd(p, lp));
            h[k] = _mm256_sub_pd(h[k], plp);
            m2[k] = _mm256_add_pd(m2[k], _mm256_and_pd(live, _mm256_mul_pd(plp, lp)));
            sd[k] = _mm256_add_pd(sd[k], d);
        }
    }
    alignas(32) double lh[8], lm[8], ls[8];
    for (int k = 0; k < 2; ++k) {
        _mm256_store_pd(lh + 4 * k, h[k]);
        _mm256_store_pd(lm + 4 * k, m2[k]);
        _mm256_store_pd(ls + 4 * k, sd[k]);
    }
    for (int k = 0; i < n; ++i, ++k) {
        if constexpr (kBuckets) {
            const float df = mx - z[i];
            idx[i] = static_cast<uint16_t>(
                df < kSampleLastNat ? static_cast<int>(df * kSamplePerNat) : kSampleBuckets - 1);
        }
        const double d = static_cast<double>(z[i]) - mx;
        const double lp = d - L, p = static_cast<double>(e[i]) * inv_s;
        const double plp = p == 0 ? 0.0 : p * lp, plp2 = p == 0 ? 0.0 : plp * lp;
        lh[k] -= plp;
        lm[k] += plp2;
        ls[k] += d;
    }
    out[0] = combine8(lh);
    out[1] = combine8(lm);
    out[2] = combine8(ls);
}
inline void softmax_stats(const float* z, const float* e, int n, float mx, double L, double inv_s,
                          double out[3]) {
    stats_pass<false>(z, e, n, mx, L, inv_s, nullptr, out);
}

#if RS_VNNI
// The scalar sample_buckets on 16 lanes (the same subtraction, comparison,
// exact scaling by 64 and truncation).
inline void sample_buckets(const float* z, int n, float mx, uint16_t* idx) {
    const __m512 vmx = _mm512_set1_ps(mx), last = _mm512_set1_ps(kSampleLastNat),
                 per = _mm512_set1_ps(kSamplePerNat);
    const __m512i last_b = _mm512_set1_epi32(kSampleBuckets - 1);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 d = _mm512_sub_ps(vmx, _mm512_loadu_ps(z + i));
        const __mmask16 near = _mm512_cmp_ps_mask(d, last, _CMP_LT_OQ);
        const __m512i b = _mm512_mask_cvttps_epi32(last_b, near, _mm512_mul_ps(d, per));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + i), _mm512_cvtepi32_epi16(b));
    }
    for (; i < n; ++i) {
        const float d = mx - z[i];
        idx[i] = static_cast<uint16_t>(d < kSampleLastNat ? static_cast<int>(d * kSamplePerNat)
                                                          : kSampleBuckets - 1);
    }
}

// 32 bucket numbers compared at a time; a bucket holds few of the tokens.
inline int bucket_members(const uint16_t* idx, int n, int b, int32_t* ids) {
    const __m512i vb = _mm512_set1_epi16(static_cast<int16_t>(b));
    int c = 0, i = 0;
    for (; i + 32 <= n; i += 32) {
        uint32_t m = _mm512_cmpeq_epi16_mask(_mm512_loadu_si512(idx + i), vb);
        for (; m; m &= m - 1) ids[c++] = i + __builtin_ctz(m);
    }
    for (; i < n; ++i)
        if (idx[i] == b) ids[c++] = i;
    return c;
}
#endif

// Activation rows to Q8_0 (the scalar quantize_q8_0's arithmetic: scale
// 127/amax, round half to even), with the per-block Q4_0 offsets and scales.
inline void quantize_q8_0(const float* x, void* vy, int n) {
    const int nb = n / 32;
    auto* y = static_cast<BlockQ8_0*>(vy);
    auto* sums = reinterpret_cast<int32_t*>(static_cast<uint8_t*>(vy) + q8_act_sums_offset(nb));
    auto* ds = reinterpret_cast<float*>(sums + nb);
#if RS_VNNI
    // The same steps on 16 lanes, the scale's half conversions in hardware
    // (round to nearest even, as fp32_to_fp16; amax is finite and >= 0).
    const __m512 sign16 = _mm512_set1_ps(-0.0f);
    for (int b = 0; b < nb; ++b) {
        const float* xb = x + static_cast<size_t>(b) * 32;
        const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
        const float amax = _mm512_reduce_max_ps(
            _mm512_max_ps(_mm512_andnot_ps(sign16, v0), _mm512_andnot_ps(sign16, v1)));
        const __m128i dh = _mm_cvtps_ph(_mm_set_ss(amax / 127.f), _MM_FROUND_TO_NEAREST_INT);
        y[b].d = static_cast<uint16_t>(_mm_extract_epi16(dh, 0));
        const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
        const __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, id),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, id),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs), _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16), _mm512_cvtsepi32_epi8(q1));
        sums[b] = 8 * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        ds[b] = _mm_cvtss_f32(_mm_cvtph_ps(dh));
    }
#else
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int b = 0; b < nb; ++b) {
        const float* xb = x + static_cast<size_t>(b) * 32;
        __m256 v[4];
        __m256 mx = _mm256_setzero_ps();
        for (int i = 0; i < 4; ++i) {
            v[i] = _mm256_loadu_ps(xb + 8 * i);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[i]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        y[b].d = fp32_to_fp16(amax / 127.f);
        const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
        __m256i q[4];
        for (int i = 0; i < 4; ++i)
            q[i] = _mm256_cvtps_epi32(_mm256_round_ps(
                _mm256_mul_ps(v[i], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        const __m256i sum32 =
            _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        // int32 -> int8 in order: packs interleave 128-bit lanes, a permute restores it
        __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
        __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), p8);
        sums[b] = 8 * hsum_i32(sum32);
        ds[b] = h2f(y[b].d);
    }
#endif
}

// ---- Q4_0 weights against Q8_0 activations (see GemmFn) ----
//
// Lanes are weight rows: a tile of 8 rows is transposed so that one vector
// holds the same 4 quants of all 8 rows, and each activation's 4 quants are
// broadcast against it; one vpdpbusd (VNNI) then advances 8 row-by-activation
// dot products by 4 terms. The nibbles stay unsigned (0..15) and each block's
// sum is corrected by 8 * (sum of the activation block's quants), so the
// per-block integer is exact, as is llama.cpp's (its 8-row repacked Q4_0
// kernels sum the same way).

// Rows row0..row0+7 (clamped to n_w - 1) of block b as 8 vectors of 8
// dwords (chunk c = nibbles 4c..4c+3 of the 8 rows) and the 8 rows' scales.
inline void load_tile8_block(const uint8_t* w, size_t w_stride, int row0, int n_w, int b,
                             __m256i chunk[8], __m256& dw) {
    __m256i v[8];
    const BlockQ4_0* x[8];
    for (int r = 0; r < 8; ++r) {
        x[r] = reinterpret_cast<const BlockQ4_0*>(
                   w + static_cast<size_t>(std::min(row0 + r, n_w - 1)) * w_stride) +
               b;
        const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[r]->qs));
        v[r] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0xF));
    }
    dw = _mm256_cvtph_ps(_mm_setr_epi16(
        static_cast<int16_t>(x[0]->d), static_cast<int16_t>(x[1]->d), static_cast<int16_t>(x[2]->d),
        static_cast<int16_t>(x[3]->d), static_cast<int16_t>(x[4]->d), static_cast<int16_t>(x[5]->d),
        static_cast<int16_t>(x[6]->d), static_cast<int16_t>(x[7]->d)));
    __m256i t[8], u[8];
    for (int p = 0; p < 4; ++p) {
        t[2 * p] = _mm256_unpacklo_epi32(v[2 * p], v[2 * p + 1]);
        t[2 * p + 1] = _mm256_unpackhi_epi32(v[2 * p], v[2 * p + 1]);
    }
    for (int h = 0; h < 2; ++h) {  // rows 0-3, rows 4-7
        const __m256i* th = t + 4 * h;
        u[4 * h + 0] = _mm256_unpacklo_epi64(th[0], th[2]);
        u[4 * h + 1] = _mm256_unpackhi_epi64(th[0], th[2]);
        u[4 * h + 2] = _mm256_unpacklo_epi64(th[1], th[3]);
        u[4 * h + 3] = _mm256_unpackhi_epi64(th[1], th[3]);
    }
    for (int c = 0; c < 4; ++c) {
        chunk[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
        chunk[c + 4] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
    }
}

struct Q8ActRow {
    const BlockQ8_0* q;
    const int32_t* off;  // 8 * sum of the block's quants
    const float* d;
};

inline Q8ActRow q8_act_row(const uint8_t* row, int nb) {
    const auto* sums = reinterpret_cast<const int32_t*>(row + q8_act_sums_offset(nb));
    return {reinterpret_cast<const BlockQ8_0*>(row), sums,
            reinterpret_cast<const float*>(sums + nb)};
}

// The activation rows of a product (on the stack for the usual few).
class Q8ActRows {
  public:
    Q8ActRows(const void* act, size_t stride, int n, int nb) {
        Q8ActRow* r = n > 64 ? heap_.resize(static_cast<size_t>(n)) : stack_;
        for (int j = 0; j < n; ++j) r[j] = q8_act_row(act_row(act, stride, j), nb);
    }
    const Q8ActRow* data() const { return heap_.data() ? heap_.data() : stack_; }

  private:
    Q8ActRow stack_[64];
    Scratch<Q8ActRow> heap_;
};

inline int32_t load4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Tiles of 8 rows in 256-bit vectors.
struct Tile8 {
    static constexpr int kRows = 8;
    using I = __m256i;
    using F = __m256;
    static void load(const uint8_t* w, size_t w_stride, int row0, int n_w, int b, I chunk[8],
                     F& dw) {
        load_tile8_block(w, w_stride, row0, n_w, b, chunk, dw);
    }
    // Half h (rows 8h..8h+7) of a packed 16-row tile's block.
    static void load_packed(const uint8_t* p, int h, I chunk[8], F& dw) {
        const __m256i lo4 = _mm256_set1_epi8(0xF);
        for (int c = 0; c < 4; ++c) {
            const __m256i raw =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * c + 32 * h));
            chunk[c] = _mm256_and_si256(raw, lo4);
            chunk[c + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), lo4);
        }
        dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 256 + 16 * h)));
    }
    static I zero() { return _mm256_setzero_si256(); }
    static I add(I x, I y) {
#if RS_VNNI
        return _mm256_add_epi32(x, y);
#else
        return _mm256_add_epi16(x, y);  // int16 partial sums (see dot)
#endif
    }
    static F fzero() {
        return _mm256_setzero_ps();
    }
    static I dot(I acc, I w, int32_t x) {
#if RS_VNNI
        return _mm256_dpbusd_epi32(acc, w, _mm256_set1_epi32(x));
#else  // nibble x int8 pairs stay within int16 over a whole block (8 * 2 * 15 * 127)
        return _mm256_add_epi16(acc, _mm256_maddubs_epi16(w, _mm256_set1_epi32(x)));
#endif
    }
    // With VNNI a block's sum starts at -offset (one subtraction fewer);
    // the int16 partial sums of the other path take it after widening.
    static I start_neg(int32_t neg_offset) {
#if RS_VNNI
        return _mm256_set1_epi32(neg_offset);
#else
        (void)neg_offset;
        return _mm256_setzero_si256();
#endif
    }
    static I finish(I s, int32_t offset) {
#if RS_VNNI
        (void)offset;
        return s;
#else
        return _mm256_sub_epi32(_mm256_madd_epi16(s, _mm256_set1_epi16(1)),
                                _mm256_set1_epi32(offset));
#endif
    }
    static F fma(I s, F dw, float da, F acc) {
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(da)), acc);
    }
    static void store(float* o, int n_w, F v) {
        if (n_w == 8) {
            _mm256_storeu_ps(o, v);
        } else {
            alignas(32) float t[8];
            _mm256_store_ps(t, v);
            for (int r = 0; r < n_w; ++r) o[r] = t[r];
        }
    }
};

#if RS_VNNI
// Tiles of 16 rows in 512-bit vectors (two 8-row transposes side by side).
struct Tile16 {
    static constexpr int kRows = 16;
    using I = __m512i;
    using F = __m512;
    // Register r holds rows r and r + 8 (nibbles unpacked), so one 8x8 dword
    // transpose on both 256-bit halves at once yields chunk c = [rows 0-7 | rows 8-15].
    static void load(const uint8_t* w, size_t w_stride, int row0, int n_w, int b, I chunk[8],
                     F& dw) {
        const uint8_t* row[16];
        for (int r = 0; r < 16; ++r)
            row[r] = w + static_cast<size_t>(std::min(row0 + r, n_w - 1)) * w_stride +
                     static_cast<size_t>(b) * sizeof(BlockQ4_0);
        const __m512i lo4 = _mm512_set1_epi8(0xF);
        __m512i v[8];
        for (int r = 0; r < 8; ++r) {
            const __m128i qa = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row[r] + 2));
            const __m128i qb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row[r + 8] + 2));
            const __m512i x = _mm512_mask_broadcast_i32x4(_mm512_broadcast_i32x4(qa), 0xFF00, qb);
            v[r] = _mm512_and_si512(_mm512_mask_blend_epi64(0xCC, x, _mm512_srli_epi16(x, 4)), lo4);
        }
        __m512i t[8], u[8];
        for (int p = 0; p < 4; ++p) {
            t[2 * p] = _mm512_unpacklo_epi32(v[2 * p], v[2 * p + 1]);
            t[2 * p + 1] = _mm512_unpackhi_epi32(v[2 * p], v[2 * p + 1]);
        }
        for (int h = 0; h < 2; ++h) {
            const __m512i* th = t + 4 * h;
            u[4 * h + 0] = _mm512_unpacklo_epi64(th[0], th[2]);
            u[4 * h + 1] = _mm512_unpackhi_epi64(th[0], th[2]);
            u[4 * h + 2] = _mm512_unpacklo_epi64(th[1], th[3]);
            u[4 * h + 3] = _mm512_unpackhi_epi64(th[1], th[3]);
        }
        const __m512i lo_idx = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
        const __m512i hi_idx = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
        for (int c = 0; c < 4; ++c) {
            chunk[c] = _mm512_permutex2var_epi64(u[c], lo_idx, u[4 + c]);
            chunk[c + 4] = _mm512_permutex2var_epi64(u[c], hi_idx, u[4 + c]);
        }
        alignas(32) uint16_t d16[16];
        for (int r = 0; r < 16; ++r) std::memcpy(&d16[r], row[r], 2);
        dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(d16)));
    }
    static void load_packed(const uint8_t* p, int, I chunk[8], F& dw) {
        const __m512i lo4 = _mm512_set1_epi8(0xF);
        for (int c = 0; c < 4; ++c) {
            const __m512i raw = _mm512_loadu_si512(p + 64 * c);
            chunk[c] = _mm512_and_si512(raw, lo4);
            chunk[c + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), lo4);
        }
        dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 256)));
    }
    static I zero() { return _mm512_setzero_si512(); }
    static I add(I x, I y) { return _mm512_add_epi32(x, y); }
    static F fzero() { return _mm512_setzero_ps(); }
    static I dot(I acc, I w, int32_t x) {
        return _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(x));
    }
    static I start_neg(int32_t neg_offset) { return _mm512_set1_epi32(neg_offset); }
    static I finish(I s, int32_t) { return s; }
    static F fma(I s, F dw, float da, F acc) {
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(da)), acc);
    }
    static void store(float* o, int n_w, F v) {
        _mm512_mask_storeu_ps(o, static_cast<__mmask16>((1u << n_w) - 1), v);
    }
};
using GemmTile = Tile16;
// Up to 8 activation rows share one unpacked block: 8 chunks, 8 integer and 8
// float accumulators fit the 32 vector registers, and a batch of 8 branches
// unpacks each weight block once instead of twice.
constexpr int kGemmGroup = 6;
#else
using GemmTile = Tile8;
constexpr int kGemmGroup = 4;
#endif

// Block b of NA activation rows, as the rows themselves (Q8ActRow) ...
struct RowsBlock {
    const Q8ActRow* a;
    int b;
    const int8_t* qs(int j) const { return a[j].q[b].qs; }
    int32_t off(int j) const { return a[j].off[b]; }
    int32_t neg_off(int j) const { return -a[j].off[b]; }
    float d(int j) const { return a[j].d[b]; }
};
// ... or as one interleaved record (see interleave_acts): the rows' 32 quants
// one after another, then their Q4_0 offsets negated (a block's integer sum
// starts there: broadcast straight from memory), then their scales.
template <int NA>
struct IlBlock {
    const uint8_t* rec;
    const int8_t* qs(int j) const { return reinterpret_cast<const int8_t*>(rec) + 32 * j; }
    int32_t neg_off(int j) const {
        int32_t v;
        std::memcpy(&v, rec + 32 * NA + 4 * j, 4);
        return v;
    }
    int32_t off(int j) const { return -neg_off(j); }
    float d(int j) const {
        float v;
        std::memcpy(&v, rec + 36 * NA + 4 * j, 4);
        return v;
    }
};

// One block of a tile against NA activation rows.
// With one or two activation rows, their 8 products run in P independent integer chains
// (added exactly at the end): one chain of 8 would leave the multiply-add's
// latency, not its throughput, as the limit.
template <class T, int NA, class Src>
inline void tile_block(const typename T::I chunk[8], typename T::F dw, const Src& src,
                       typename T::F* acc) {
    constexpr int P = NA == 1 ? 4 : NA == 2 ? 2 : 1;
    typename T::I is[NA][P];
    for (int j = 0; j < NA; ++j) {
        is[j][0] = T::start_neg(src.neg_off(j));
        for (int q = 1; q < P; ++q) is[j][q] = T::zero();
    }
    for (int c = 0; c < 8; ++c)
        for (int j = 0; j < NA; ++j)
            is[j][c % P] = T::dot(is[j][c % P], chunk[c], load4(src.qs(j) + 4 * c));
    for (int j = 0; j < NA; ++j) {
        typename T::I sum = is[j][0];
        for (int q = 1; q < P; ++q) sum = T::add(sum, is[j][q]);
        acc[j] = T::fma(T::finish(sum, src.off(j)), dw, src.d(j), acc[j]);
    }
}

// Spread prefetches of `lines` cache lines from pf over nb blocks: the tile
// reads its rows side by side, which the hardware prefetchers do not follow.
inline void prefetch_part(const uint8_t* pf, size_t lines, int b, int nb) {
    for (size_t l = lines * static_cast<size_t>(b) / static_cast<size_t>(nb);
         l < lines * static_cast<size_t>(b + 1) / static_cast<size_t>(nb); ++l)
        _mm_prefetch(reinterpret_cast<const char*>(pf + 64 * l), _MM_HINT_T0);
}

// Few activation rows (decoding): each block of the tile is transposed in
// registers and used at once.
template <class T, int NA>
struct TileDirect {
    static void go(const Q8ActRow* a, float* out, size_t out_stride, const uint8_t* w,
                   size_t w_stride, int row0, int n_w, int nb, const uint8_t* pf, size_t pf_lines) {
        typename T::F acc[NA];
        for (int j = 0; j < NA; ++j) acc[j] = T::fzero();
        for (int b = 0; b < nb; ++b) {
            typename T::I chunk[8];
            typename T::F dw;
            prefetch_part(pf, pf_lines, b, nb);
            T::load(w, w_stride, row0, n_w, b, chunk, dw);
            tile_block<T, NA>(chunk, dw, RowsBlock{a, b}, acc);
        }
        for (int j = 0; j < NA; ++j)
            T::store(out + static_cast<size_t>(j) * out_stride + row0,
                     std::min(T::kRows, n_w - row0), acc[j]);
    }
};

// Many activation rows (prefill, wide batches): the transposed tile is
// packed once and run against every group of activation rows.
template <class T, int NA>
struct TilePacked {
    static void go(const Q8ActRow* a, float* out, size_t out_stride, const typename T::I* packed,
                   const typename T::F* dws, int nb, int row0, int n_w) {
        typename T::F acc[NA];
        for (int j = 0; j < NA; ++j) acc[j] = T::fzero();
        for (int b = 0; b < nb; ++b)
            tile_block<T, NA>(packed + 8 * b, dws[b], RowsBlock{a, b}, acc);
        for (int j = 0; j < NA; ++j)
            T::store(out + static_cast<size_t>(j) * out_stride + row0,
                     std::min(T::kRows, n_w - row0), acc[j]);
    }
};

// One group of na activation rows (at most kGemmGroup, or kIlGroup for
// interleaved groups): Run<T, na>::go(a, out, out_stride, args...).
template <class T, template <class, int> class Run, typename Src, typename... A>
inline void run_group(Src a, int na, float* out, size_t out_stride, A... args) {
    switch (na) {
#if RS_VNNI
        case 8:
            return Run<T, 8>::go(a, out, out_stride, args...);
        case 7:
            return Run<T, 7>::go(a, out, out_stride, args...);
        case 6:
            return Run<T, 6>::go(a, out, out_stride, args...);
        case 5:
            return Run<T, 5>::go(a, out, out_stride, args...);
#endif
        case 4:
            return Run<T, 4>::go(a, out, out_stride, args...);
        case 3:
            return Run<T, 3>::go(a, out, out_stride, args...);
        case 2:
            return Run<T, 2>::go(a, out, out_stride, args...);
        case 1:
            return Run<T, 1>::go(a, out, out_stride, args...);
        default:
            return;
    }
}

// Activation rows in groups of at most kGemmGroup, as even as possible (8
// rows run as 4 + 4, not 6 + 2: a small group pays the weight loads alone).
template <class T, template <class, int> class Run, typename... A>
inline void by_act_groups(const Q8ActRow* a, int n_act, float* out, size_t out_stride, A... args) {
    const int groups = (n_act + kGemmGroup - 1) / kGemmGroup;
    for (int g = 0, j = 0; g < groups; ++g) {
        const int na = n_act / groups + (g < n_act % groups ? 1 : 0);
        run_group<T, Run>(a + j, na, out + static_cast<size_t>(j) * out_stride, out_stride,
                          args...);
        j += na;
    }
}

// A per-thread buffer for one tile's chunks (nb * 8 vectors) and scales.
template <class T>
inline void chunk_buffer(int nb, typename T::I*& chunks, typename T::F*& dws) {
    thread_local Scratch<uint8_t> buf;  // bytes: a vector type's attributes don't survive templates
    chunks = reinterpret_cast<typename T::I*>(
        buf.resize(static_cast<size_t>(nb) * 9 * sizeof(typename T::I)));
    dws = reinterpret_cast<typename T::F*>(chunks + static_cast<size_t>(nb) * 8);
}

// A group of at most kIlGroup activation rows interleaved per block (IlBlock,
// 40 bytes a row): one pointer walks all rows, so a group of 8 needs no
// register per row for addressing.
constexpr int kIlGroup = RS_VNNI ? 8 : 4;

inline void interleave_acts(const Q8ActRow* a, int na, int nb, uint8_t* dst) {
    for (int b = 0; b < nb; ++b) {
        uint8_t* rec = dst + static_cast<size_t>(b) * na * 40;
        for (int j = 0; j < na; ++j) {
            std::memcpy(rec + 32 * j, a[j].q[b].qs, 32);
            const int32_t neg = -a[j].off[b];
            std::memcpy(rec + 32 * na + 4 * j, &neg, 4);
            std::memcpy(rec + 36 * na + 4 * j, a[j].d + b, 4);
        }
    }
}

// Repacked weights (kernels.h): each block's chunks are two loads and masks
// away, so every group of activation rows reads them straight from the tile.
template <class T, int NA>
struct TileFromPackedIl {
    static void go(const uint8_t* acts, float* out, size_t out_stride, const uint8_t* tile, int nb,
                   int half, int n_rows, const uint8_t* pf, size_t pf_lines) {
        typename T::F acc[NA];
        for (int j = 0; j < NA; ++j) acc[j] = T::fzero();
        for (int b = 0; b < nb; ++b) {
            prefetch_part(pf, pf_lines, b, nb);
            typename T::I chunk[8];
            typename T::F dw;
            T::load_packed(tile + static_cast<size_t>(b) * (kQ4Tile * sizeof(BlockQ4_0)), half,
                           chunk, dw);
            tile_block<T, NA>(chunk, dw, IlBlock<NA>{acts + static_cast<size_t>(b) * NA * 40}, acc);
        }
        for (int j = 0; j < NA; ++j)
            T::store(out + static_cast<size_t>(j) * out_stride, n_rows, acc[j]);
    }
};

inline void gemm_q4_0_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                             size_t act_stride, int n_act, float* out, size_t out_stride) {
    using T = GemmTile;
    const int nb = n / 32;
    Q8ActRows rows(act, act_stride, n_act, nb);
    const Q8ActRow* a = rows.data();
    const size_t tile_bytes = static_cast<size_t>(nb) * kQ4Tile * sizeof(BlockQ4_0);
    const auto* base =
        static_cast<const uint8_t*>(packed) + static_cast<size_t>(tile0) * tile_bytes;
    // Many activation rows (prefill): unpack each tile once into registers-
    // ready chunks rather than once per group of rows.
    const bool expand = n_act > 4 * kIlGroup;
    typename T::I* chunks = nullptr;
    typename T::F* dws = nullptr;
    if (expand) chunk_buffer<T>(nb, chunks, dws);
    // Few rows (decoding, branches): groups of at most kIlGroup, as even as
    // possible, each interleaved once for all the tiles.
    const int n_groups = (n_act + kIlGroup - 1) / kIlGroup;
    uint8_t* il = nullptr;
    if (!expand) {
        thread_local Scratch<uint8_t> il_buf;
        il = il_buf.resize(static_cast<size_t>(n_act) * nb * 40);
        for (int g = 0, j = 0; g < n_groups; ++g) {
            const int na = n_act / n_groups + (g < n_act % n_groups ? 1 : 0);
            interleave_acts(a + j, na, nb, il + static_cast<size_t>(j) * nb * 40);
            j += na;
        }
    }
    for (int r0 = 0, t = 0; r0 < n_w; r0 += kQ4Tile, ++t)
        for (int h = 0; h < kQ4Tile / T::kRows; ++h) {
            const int first = r0 + h * T::kRows;
            if (first >= n_w) break;
            const uint8_t* tile = base + static_cast<size_t>(t) * tile_bytes;
            const int rows = std::min(T::kRows, n_w - first);
            if (!expand) {
                // The tile after next, fetched while this one computes (the
                // streamers do not run far enough ahead at this pace); the
                // first group of rows issues it.
                const int64_t ahead = r0 / kQ4Tile + 2;
                const bool in = h == 0 && (ahead + 1) * kQ4Tile <= n_w + kQ4Tile - 1;
                const uint8_t* pf = base + static_cast<size_t>(ahead) * tile_bytes;
                const size_t pf_lines = in ? tile_bytes / 64 : size_t{0};
                for (int g = 0, j = 0; g < n_groups; ++g) {
                    const int na = n_act / n_groups + (g < n_act % n_groups ? 1 : 0);
                    run_group<T, TileFromPackedIl>(
                        static_cast<const uint8_t*>(il + static_cast<size_t>(j) * nb * 40), na,
                        out + first + static_cast<size_t>(j) * out_stride, out_stride, tile, nb, h,
                        rows, g == 0 ? pf : nullptr, g == 0 ? pf_lines : size_t{0});
                    j += na;
                }
                continue;
            }
            for (int b = 0; b < nb; ++b)
                T::load_packed(tile + static_cast<size_t>(b) * (kQ4Tile * sizeof(BlockQ4_0)), h,
                               chunks + 8 * b, dws[b]);
            by_act_groups<T, TilePacked>(a, n_act, out + first, out_stride,
                                         static_cast<const typename T::I*>(chunks),
                                         static_cast<const typename T::F*>(dws), nb, 0, rows);
        }
}

inline void gemm_q4_0(int n, const void* w, size_t w_stride, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    using T = GemmTile;
    constexpr int R = T::kRows;
    const int nb = n / 32;
    Q8ActRows rows(act, act_stride, n_act, nb);
    const Q8ActRow* a = rows.data();
    const auto* w8 = static_cast<const uint8_t*>(w);
    const uint8_t* end = w8 + static_cast<size_t>(n_w) * w_stride;
    auto ahead = [&](int row, size_t& lines) {  // the tile starting at `row`, for prefetching
        const uint8_t* p = w8 + static_cast<size_t>(row) * w_stride;
        lines =
            p < end ? (std::min<size_t>(R * w_stride, static_cast<size_t>(end - p)) + 63) / 64 : 0;
        return p;
    };
    if (n_act <= kGemmGroup) {
        for (int r0 = 0; r0 < n_w; r0 += R) {
            size_t lines;
            const uint8_t* pf = ahead(r0 + 2 * R, lines);
            by_act_groups<T, TileDirect>(a, n_act, out, out_stride, w8, w_stride, r0, n_w, nb, pf,
                                         lines);
        }
        return;
    }
    typename T::I* packed;
    typename T::F* dws;
    chunk_buffer<T>(nb, packed, dws);
    for (int r0 = 0; r0 < n_w; r0 += R) {
        size_t lines;
        const uint8_t* pf = ahead(r0 + R, lines);
        for (int b = 0; b < nb; ++b) {
            prefetch_part(pf, lines, b, nb);
            T::load(w8, w_stride, r0, n_w, b, packed + 8 * b, dws[b]);
        }
        by_act_groups<T, TilePacked>(a, n_act, out, out_stride,
                                     static_cast<const typename T::I*>(packed),
                                     static_cast<const typename T::F*>(dws), nb, r0, n_w);
    }
}

template <int NA>
struct DotQ4_K {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const auto* x = static_cast<const BlockQ4_K*>(w);
        const BlockQ8_K* y[NA];
        for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_K*>(act + j * stride);
        // Per pair of sub-blocks: exact integers, then one fma each (llama.cpp's
        // repacked Q4_K kernels accumulate this way).
        float acc[NA], accm[NA];
        for (int j = 0; j < NA; ++j) acc[j] = accm[j] = 0;
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
                const float dy = d * y[j][b].d, dmy = dmin * y[j][b].d;
                for (int c = 0; c < 4; ++c) {  // pairs of sub-blocks (64 weights)
                    __m256i sumi = _mm256_setzero_si256();
                    for (int s = 2 * c; s < 2 * c + 2; ++s) {
                        __m256i qy = _mm256_loadu_si256(
                            reinterpret_cast<const __m256i*>(y[j][b].qs + 32 * s));
                        __m256i p = _mm256_maddubs_epi16(q4[s], qy);  // nibbles are unsigned
                        sumi =
                            _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16(sc[s])));
                    }
                    const int summ =
                        mn[2 * c] * (y[j][b].bsums[4 * c] + y[j][b].bsums[4 * c + 1]) +
                        mn[2 * c + 1] * (y[j][b].bsums[4 * c + 2] + y[j][b].bsums[4 * c + 3]);
                    acc[j] = __builtin_fmaf(static_cast<float>(hsum_i32(sumi)), dy, acc[j]);
                    accm[j] = __builtin_fmaf(static_cast<float>(summ), dmy, accm[j]);
                }
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = acc[j] - accm[j];
    }
};

template <int NA>
struct DotQ6_K {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const auto* x = static_cast<const BlockQ6_K*>(w);
        const BlockQ8_K* y[NA];
        for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_K*>(act + j * stride);
        float acc[NA];  // per block: the exact integer, then one fma
        for (int j = 0; j < NA; ++j) acc[j] = 0;
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
                acc[j] = __builtin_fmaf(static_cast<float>(hsum_i32(sumi)), d * y[j][b].d, acc[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = acc[j];
    }
};

// ---- Q2_K, Q3_K, Q5_K, IQ4_XS against Q8_K; IQ4_NL, MXFP4 against Q8_0 ----
// Each block's quants are decoded once into 32-byte vectors in value order
// (one vector per 32 values) and multiplied with up to four activation rows.
// The per-block integers are exact (int16 pair sums of vpmaddubsw stay far
// below saturation for these ranges), so the results are the scalar table's
// to the bit (kernels.h gives the order of the float operations).

inline __m256i load32(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
// 16-bit lanes shifted right by a run-time count.
inline __m256i srl16(__m256i v, int c) {
    return _mm256_srl_epi16(v, _mm_cvtsi32_si128(c));
}
// A block's 16 bytes of nibbles as 32 bytes in value order (low nibbles, then
// high), each through the 16-entry int8 table (held in both 128-bit lanes).
inline __m256i nibble_lookup(const uint8_t* qs, __m256i table) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i idx =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0xF));
    return _mm256_shuffle_epi8(table, idx);
}
inline __m256i table16(const int8_t* t) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}
// int16 sums of adjacent products of signed int8 x and y (|x| <= 127).
inline __m256i mul_i8_pairs(__m256i x, __m256i y) {
    return _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}
// Scales of two 16-value groups: the low 128-bit lane gets a, the high one b.
inline __m256i scale_pair(int a, int b) {
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(b)),
                            _mm_set1_epi16(static_cast<short>(a)));
}

// Q2_K / Q3_K low bits: vector k (values 32k..32k+31) = bits 2(k % 4) of
// qs[32(k / 4) + l].
inline void k_low2(const uint8_t* qs, __m256i q[8]) {
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int n = 0; n < 2; ++n) {
        const __m256i bits = load32(qs + 32 * n);
        for (int j = 0; j < 4; ++j) q[4 * n + j] = _mm256_and_si256(srl16(bits, 2 * j), m3);
    }
}

// A block's eight vectors of unsigned quants (0..63) against its Q8_K
// activations, each vector's int16 pair sums weighted by its scales; exact
// int32 lane sums.
inline __m256i dot_u8_scaled(const __m256i q[8], const int8_t* qs, const __m256i scv[8]) {
    __m256i sumi = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k)
        sumi = _mm256_add_epi32(
            sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], load32(qs + 32 * k)), scv[k]));
    return sumi;
}

// The Q8_K activation rows a kernel reads, NA of them `stride` bytes apart.
template <int NA>
inline void q8k_rows(const uint8_t* act, size_t stride, const BlockQ8_K* y[NA]) {
    for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_K*>(act + j * stride);
}

template <int NA>
struct DotQ2_K {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const auto* x = static_cast<const BlockQ2_K*>(w);
        const BlockQ8_K* y[NA];
        q8k_rows<NA>(act, stride, y);
        float acc[NA], accm[NA];
        for (int j = 0; j < NA; ++j) acc[j] = accm[j] = 0;
        for (int b = 0; b < n / QK_K; ++b) {
            __m256i q[8], scv[8];
            k_low2(x[b].qs, q);
            const uint8_t* sc = x[b].scales;
            for (int k = 0; k < 8; ++k) scv[k] = scale_pair(sc[2 * k] & 0xF, sc[2 * k + 1] & 0xF);
            const __m256i mins = _mm256_srli_epi16(
                _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc))), 4);
            const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
            for (int j = 0; j < NA; ++j) {
                const __m256i sumi = dot_u8_scaled(q, y[j][b].qs, scv);
                const int summ = hsum_i32(_mm256_madd_epi16(load32(y[j][b].bsums), mins));
                acc[j] = __builtin_fmaf(static_cast<float>(hsum_i32(sumi)), d * y[j][b].d, acc[j]);
                accm[j] = __builtin_fmaf(static_cast<float>(summ), dmin * y[j][b].d, accm[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = acc[j] - accm[j];
    }
};

// Q3_K: the unsigned quants q + 4 (0..7) against the activations, and 4 times
// each group's activation sum (bsums) subtracted with the group's scale.
template <int NA>
struct DotQ3_K {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const auto* x = static_cast<const BlockQ3_K*>(w);
        const BlockQ8_K* y[NA];
        q8k_rows<NA>(act, stride, y);
        float acc[NA];
        for (int j = 0; j < NA; ++j) acc[j] = 0;
        const __m256i one = _mm256_set1_epi8(1);
        for (int b = 0; b < n / QK_K; ++b) {
            __m256i q[8], scv[8];
            k_low2(x[b].qs, q);
            const __m256i hm = load32(x[b].hmask);
            for (int k = 0; k < 8; ++k)
                q[k] = _mm256_or_si256(q[k],
                                       _mm256_slli_epi16(_mm256_and_si256(srl16(hm, k), one), 2));
            alignas(32) int16_t sc[16];
            for (int g = 0; g < 16; ++g) sc[g] = static_cast<int16_t>(q3k_scale(g, x[b].scales));
            for (int k = 0; k < 8; ++k) scv[k] = scale_pair(sc[2 * k], sc[2 * k + 1]);
            const __m256i sc16 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc));
            const float d = h2f(x[b].d);
            for (int j = 0; j < NA; ++j) {
                __m256i sumi = dot_u8_scaled(q, y[j][b].qs, scv);
                const __m256i corr = _mm256_madd_epi16(load32(y[j][b].bsums), sc16);
                sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(corr, 2));
                acc[j] = __builtin_fmaf(static_cast<float>(hsum_i32(sumi)), d * y[j][b].d, acc[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = acc[j];
    }
};

template <int NA>
struct DotQ5_K {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const auto* x = static_cast<const BlockQ5_K*>(w);
        const BlockQ8_K* y[NA];
        q8k_rows<NA>(act, stride, y);
        float acc[NA], accm[NA];
        for (int j = 0; j < NA; ++j) acc[j] = accm[j] = 0;
        const __m256i lo = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
        for (int b = 0; b < n / QK_K; ++b) {
            __m256i q[8];
            const __m256i qh = load32(x[b].qh);
            for (int c = 0; c < 4; ++c) {
                const __m256i bits = load32(x[b].qs + 32 * c);
                q[2 * c] =
                    _mm256_or_si256(_mm256_and_si256(bits, lo),
                                    _mm256_slli_epi16(_mm256_and_si256(srl16(qh, 2 * c), one), 4));
                q[2 * c + 1] = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(bits, 4), lo),
                    _mm256_slli_epi16(_mm256_and_si256(srl16(qh, 2 * c + 1), one), 4));
            }
            uint8_t sc[8], mn[8];
            __m256i scv[8];
            for (int s = 0; s < 8; ++s) {
                q4k_scale_min(s, x[b].scales, sc[s], mn[s]);
                scv[s] = _mm256_set1_epi16(sc[s]);
            }
            alignas(32) int16_t m16[16];
            for (int g = 0; g < 16; ++g) m16[g] = mn[g / 2];
            const __m256i mins = _mm256_load_si256(reinterpret_cast<const __m256i*>(m16));
            const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
            for (int j = 0; j < NA; ++j) {
                const __m256i sumi = dot_u8_scaled(q, y[j][b].qs, scv);
                const int summ = hsum_i32(_mm256_madd_epi16(load32(y[j][b].bsums), mins));
                acc[j] = __builtin_fmaf(static_cast<float>(hsum_i32(sumi)), d * y[j][b].d, acc[j]);
                accm[j] = __builtin_fmaf(static_cast<float>(summ), dmin * y[j][b].d, accm[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = acc[j] - accm[j];
    }
};

template <int NA>
struct DotIQ4_XS {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        const auto* x = static_cast<const BlockIQ4_XS*>(w);
        const BlockQ8_K* y[NA];
        q8k_rows<NA>(act, stride, y);
        float acc[NA];
        for (int j = 0; j < NA; ++j) acc[j] = 0;
        const __m256i table = table16(kIq4Values);
        for (int b = 0; b < n / QK_K; ++b) {
            __m256i q[8], scv[8];
            for (int ib = 0; ib < 8; ++ib) {
                q[ib] = nibble_lookup(x[b].qs + 16 * ib, table);
                scv[ib] = _mm256_set1_epi16(static_cast<short>(iq4xs_scale(ib, x[b])));
            }
            const float d = h2f(x[b].d);
            for (int j = 0; j < NA; ++j) {
                __m256i sumi = _mm256_setzero_si256();
                for (int ib = 0; ib < 8; ++ib)
                    sumi = _mm256_add_epi32(
                        sumi, _mm256_madd_epi16(mul_i8_pairs(q[ib], load32(y[j][b].qs + 32 * ib)),
                                                scv[ib]));
                acc[j] = __builtin_fmaf(static_cast<float>(hsum_i32(sumi)), d * y[j][b].d, acc[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = acc[j];
    }
};

// IQ4_NL / MXFP4 against Q8_0 activations: DotQ8_0 with the quants looked up.
template <typename Block, int NA>
inline void dot_table_q8_0(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
    const int nb = n / 32;
    const auto* x = static_cast<const Block*>(w);
    constexpr bool mx = std::is_same_v<Block, BlockMXFP4>;
    const __m256i table = table16(mx ? kMxfp4Values : kIq4Values);
    const BlockQ8_0* y[NA];
    const float* yd[NA];
    for (int j = 0; j < NA; ++j) {
        y[j] = reinterpret_cast<const BlockQ8_0*>(act + j * stride);
        yd[j] = reinterpret_cast<const float*>(act + j * stride + q8_act_sums_offset(nb)) + nb;
    }
    __m256 acc[NA];
    for (int j = 0; j < NA; ++j) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; ++b) {
        const __m256i q = nibble_lookup(x[b].qs, table);
        float dw;
        if constexpr (mx)
            dw = e8m0_half(x[b].e);
        else
            dw = h2f(x[b].d);
        for (int j = 0; j < NA; ++j)
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(dw * yd[j][b]),
                                     _mm256_cvtepi32_ps(dot_i8(q, load32(y[j][b].qs))), acc[j]);
    }
    for (int j = 0; j < NA; ++j) out[j] = hsum(acc[j]);
}
template <int NA>
struct DotIQ4_NL {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        dot_table_q8_0<BlockIQ4_NL, NA>(act, stride, out, n, w);
    }
};
template <int NA>
struct DotMXFP4 {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w) {
        dot_table_q8_0<BlockMXFP4, NA>(act, stride, out, n, w);
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

// Dot of a weight row (F32 or F16) with F32 activations in llama.cpp's
// vec_dot order (its AVX-512 build): four 16-lane accumulators over steps of
// 64 elements, folded 0+2, 1+3, then 0+1, the 16 lanes summed in halves, and
// the tail added in double. Decoding in llama.cpp sums this way; matching it
// keeps our logits on its to the last bit where the rest matches too.
template <typename W>
inline float dot_vec_order(const W* w, const float* y, int n) {
    auto lw = [&](int i) {
        if constexpr (sizeof(W) == 4)
            return load8(w + i);
        else
            return load8(w + i, false);
    };
    __m256 s[4][2];
    for (auto& a : s) a[0] = a[1] = _mm256_setzero_ps();
    const int np = n & ~63;
    for (int i = 0; i < np; i += 64)
        for (int a = 0; a < 4; ++a) {
            const int k = i + 16 * a;
            s[a][0] = _mm256_fmadd_ps(lw(k), _mm256_loadu_ps(y + k), s[a][0]);
            s[a][1] = _mm256_fmadd_ps(lw(k + 8), _mm256_loadu_ps(y + k + 8), s[a][1]);
        }
    double sum = 0;
    if (np) {
        for (int h = 0; h < 2; ++h) {
            s[0][h] = _mm256_add_ps(s[0][h], s[2][h]);
            s[1][h] = _mm256_add_ps(s[1][h], s[3][h]);
            s[0][h] = _mm256_add_ps(s[0][h], s[1][h]);
        }
        sum = hsum(_mm256_add_ps(s[0][1], s[0][0]));
    }
    if constexpr (sizeof(W) == 4) {
        // ggml_vec_dot_f32: the tail in float, each product rounded, then added.
        auto fsum = static_cast<float>(sum);
        for (int i = np; i < n; ++i) fsum += w[i] * y[i];
        return fsum;
    } else {
        for (int i = np; i < n; ++i) sum += static_cast<double>(h2f(w[i]) * y[i]);
        return static_cast<float>(sum);
    }
}

inline float dot_f16_row(const uint16_t* w, const float* y, int n) {
    return dot_vec_order(w, y, n);
}

// BF16 weight rows against F32 activations, up to four rows at a time.
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
    gemm_q4_0(n, w, 0, 1, act, stride, n_act, out, 1);
}
inline void dot_q5_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ5_0>(n_act, out, act, stride, n, w);
}
inline void dot_q8_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ8_0>(n_act, out, act, stride, n, w);
}
inline void dot_q4_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ4_K>(n_act, out, act, stride, n, w);
}
inline void dot_q6_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ6_K>(n_act, out, act, stride, n, w);
}
inline void dot_q5_1(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ5_1>(n_act, out, act, stride, n, w);
}
inline void dot_q2_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ2_K>(n_act, out, act, stride, n, w);
}
inline void dot_q3_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ3_K>(n_act, out, act, stride, n, w);
}
inline void dot_q5_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ5_K>(n_act, out, act, stride, n, w);
}
inline void dot_iq4_xs(int n, const void* w, const void* act, size_t stride, int n_act,
                       float* out) {
    by_groups<DotIQ4_XS>(n_act, out, act, stride, n, w);
}
inline void dot_iq4_nl(int n, const void* w, const void* act, size_t stride, int n_act,
                       float* out) {
    by_groups<DotIQ4_NL>(n_act, out, act, stride, n, w);
}
inline void dot_mxfp4(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotMXFP4>(n_act, out, act, stride, n, w);
}
inline void dot_f32(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    for (int j = 0; j < n_act; ++j)
        out[j] = dot_vec_order(static_cast<const float*>(w),
                               reinterpret_cast<const float*>(act_row(act, stride, j)), n);
}
inline void dot_f16(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    for (int j = 0; j < n_act; ++j)
        out[j] = dot_vec_order(static_cast<const uint16_t*>(w),
                               reinterpret_cast<const float*>(act_row(act, stride, j)), n);
}
// llama.cpp's prompt-batch order (tinyBLAS, AVX-512 build): one 16-lane
// accumulator (two 8-lane halves here) over steps of 16, then hi + lo and
// the 8 lanes summed as _mm512_reduce_add_ps does. n % 16 == 0. Each weight
// step is loaded once for up to four activation rows.
template <int NA>
struct DotTiled {
    static void run(const uint8_t* act, size_t stride, float* out, int n, const void* w, int kind) {
        const float* y[NA];
        for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const float*>(act + j * stride);
        __m256 lo[NA], hi[NA];
        for (int j = 0; j < NA; ++j) lo[j] = hi[j] = _mm256_setzero_ps();
        for (int i = 0; i < n; i += 16) {
            __m256 w0, w1;
            if (kind == 0) {
                w0 = load8(static_cast<const float*>(w) + i);
                w1 = load8(static_cast<const float*>(w) + i + 8);
            } else {
                w0 = load8(static_cast<const uint16_t*>(w) + i, false);
                w1 = load8(static_cast<const uint16_t*>(w) + i + 8, false);
            }
            for (int j = 0; j < NA; ++j) {
                lo[j] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y[j] + i), lo[j]);
                hi[j] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y[j] + i + 8), hi[j]);
            }
        }
        for (int j = 0; j < NA; ++j) out[j] = hsum(_mm256_add_ps(hi[j], lo[j]));
    }
};

inline void dot_f32_tiled(int n, const void* w, const void* act, size_t stride, int n_act,
                          float* out) {
    by_groups<DotTiled>(n_act, out, act, stride, n, w, 0);
}
inline void dot_f16_tiled(int n, const void* w, const void* act, size_t stride, int n_act,
                          float* out) {
    by_groups<DotTiled>(n_act, out, act, stride, n, w, 1);
}

inline void dot_bf16(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotFloat>(n_act, out, act, stride, n, w, 2);
}

// The first two steps of transposing N rows of floats (N = 8 or 16 lanes):
// afterwards u[4j + e] holds, in each 128-bit lane L, element 4L + e of
// rows 4j..4j+3; the caller moves the 128-bit lanes into place.
inline __m256 unpack_lo(__m256 a, __m256 b) {
    return _mm256_unpacklo_ps(a, b);
}
inline __m256 unpack_hi(__m256 a, __m256 b) {
    return _mm256_unpackhi_ps(a, b);
}
template <int Imm>
inline __m256 shuffle(__m256 a, __m256 b) {
    return _mm256_shuffle_ps(a, b, Imm);
}
#if RS_VNNI
inline __m512 unpack_lo(__m512 a, __m512 b) {
    return _mm512_unpacklo_ps(a, b);
}
inline __m512 unpack_hi(__m512 a, __m512 b) {
    return _mm512_unpackhi_ps(a, b);
}
template <int Imm>
inline __m512 shuffle(__m512 a, __m512 b) {
    return _mm512_shuffle_ps(a, b, Imm);
}
#endif
template <class V, int N>
inline void transpose_in_lanes(const V r[N], V u[N]) {
    V t[N];
    for (int i = 0; i < N / 2; ++i) {
        t[2 * i] = unpack_lo(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = unpack_hi(r[2 * i], r[2 * i + 1]);
    }
    for (int j = 0; j < N / 4; ++j) {
        u[4 * j + 0] = shuffle<0x44>(t[4 * j], t[4 * j + 2]);
        u[4 * j + 1] = shuffle<0xEE>(t[4 * j], t[4 * j + 2]);
        u[4 * j + 2] = shuffle<0x44>(t[4 * j + 1], t[4 * j + 3]);
        u[4 * j + 3] = shuffle<0xEE>(t[4 * j + 1], t[4 * j + 3]);
    }
}

// vexp's range reduction and polynomial (attn_loop.h) on a vector: returns
// p(b), and n with x = n ln2 + b; the caller applies 2^n.
inline __m256 fmadd(__m256 a, __m256 b, __m256 c) {
    return _mm256_fmadd_ps(a, b, c);
}
inline __m256 fnmadd(__m256 a, __m256 b, __m256 c) {
    return _mm256_fnmadd_ps(a, b, c);
}
inline __m256 broadcast(__m256, float v) {
    return _mm256_set1_ps(v);
}
#if RS_VNNI
inline __m512 fmadd(__m512 a, __m512 b, __m512 c) {
    return _mm512_fmadd_ps(a, b, c);
}
inline __m512 fnmadd(__m512 a, __m512 b, __m512 c) {
    return _mm512_fnmadd_ps(a, b, c);
}
inline __m512 broadcast(__m512, float v) {
    return _mm512_set1_ps(v);
}
#endif
template <class V>
inline V vexp_poly(V x, V& n) {
    auto c = [&](float v) { return broadcast(x, v); };
    const V r = c(0x1.8p23f);
    const V z = fmadd(x, c(0x1.715476p+0f), r);
    n = z - r;
    const V b = fnmadd(n, c(0x1.7f7d1cp-20f), fnmadd(n, c(0x1.62e4p-1f), x));
    const V u = b * b;
    return fmadd(fmadd(fmadd(c(0x1.0e4020p-7f), b, c(0x1.573e2ep-5f)), u,
                       fmadd(c(0x1.555e66p-3f), b, c(0x1.fffdb6p-2f))),
                 u, fmadd(c(0x1.ffffecp-1f), b, c(1.0f)));
}

// The scalar vexp on 8 lanes (see attn_loop.h): the same operations in the
// same order; 2^n applied exactly in the normal range (outside it the
// result is 0, a denormal or inf, and 1 + e rounds the same either way).
inline __m256 vexp8(__m256 x) {
    __m256 n;
    const __m256 j = vexp_poly(x, n);
    // 2^n in two exact steps: n1 = clamp(n, -126, 127), n2 = n - n1
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 =
        _mm256_max_epi32(_mm256_min_epi32(ni, _mm256_set1_epi32(127)), _mm256_set1_epi32(-126));
    const __m256i n2 =
        _mm256_max_epi32(_mm256_min_epi32(_mm256_sub_epi32(ni, n1), _mm256_set1_epi32(127)),
                         _mm256_set1_epi32(-126));
    auto pow2 = [](__m256i e) {
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
    };
    return _mm256_mul_ps(_mm256_mul_ps(j, pow2(n1)), pow2(n2));
}

// 8 rows of 8 floats to 8 columns (col c = element c of rows 0..7).
inline void transpose8(const __m256 r[8], __m256 c[8]) {
    __m256 u[8];
    transpose_in_lanes<__m256, 8>(r, u);
    for (int e = 0; e < 4; ++e) {
        c[e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x20);
        c[4 + e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x31);
    }
}

// Sums of squares of 8 rows (rows[k]; a caller with fewer repeats one), each
// the scalar chain ss += double(x * x) in order, the rows' chains side by
// side in double lanes (rows 0-3 and 4-7): a row's sum waits on its own
// additions only.
inline void sums_of_squares8(const float* const* rows, int n, double* ss) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r[8], c[8];
        for (int k = 0; k < 8; ++k) {
            const __m256 v = _mm256_loadu_ps(rows[k] + i);
            r[k] = _mm256_mul_ps(v, v);
        }
        transpose8(r, c);
        for (int j = 0; j < 8; ++j) {
            lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(c[j])));
            hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(c[j], 1)));
        }
    }
    _mm256_storeu_pd(ss, lo);
    _mm256_storeu_pd(ss + 4, hi);
    for (; i < n; ++i)
        for (int k = 0; k < 8; ++k) ss[k] += static_cast<double>(rows[k][i] * rows[k][i]);
}

// RMSNorm (KernelTable::rmsnorm): squares and products 8 lanes at a time,
// the squares' double sum in order (so every table gives the same bits).
inline void rmsnorm(const float* x, const float* w, float* out, int n_rows, int n, float eps) {
    alignas(32) float sq[8];
    for (int r0 = 0; r0 < n_rows; r0 += 8) {
        // Eight rows at a time: their sums side by side when there are
        // several (all read before any is written, for in place).
        const int m = std::min(8, n_rows - r0);
        double ss[8] = {};
        if (m >= 2) {
            const float* rows[8];
            for (int k = 0; k < 8; ++k)
                rows[k] = x + static_cast<size_t>(r0 + std::min(k, m - 1)) * n;
            sums_of_squares8(rows, n, ss);
        } else {
            const float* xr = x + static_cast<size_t>(r0) * n;
            int i = 0;
            for (; i + 8 <= n; i += 8) {
                const __m256 v = _mm256_loadu_ps(xr + i);
                _mm256_store_ps(sq, _mm256_mul_ps(v, v));
                for (int l = 0; l < 8; ++l) ss[0] += static_cast<double>(sq[l]);
            }
            for (; i < n; ++i) ss[0] += static_cast<double>(xr[i] * xr[i]);
        }
        for (int k = 0; k < m; ++k) {
            const float* xr = x + static_cast<size_t>(r0 + k) * n;
            float* o = out + static_cast<size_t>(r0 + k) * n;
            const float scale = 1.0f / std::sqrt(static_cast<float>(ss[k] / n) + eps);
            const __m256 vs = _mm256_set1_ps(scale);
            int i = 0;
            if (w) {
                for (; i + 8 <= n; i += 8)
                    _mm256_storeu_ps(o + i,
                                     _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vs),
                                                   _mm256_loadu_ps(w + i)));
                for (; i < n; ++i) o[i] = xr[i] * scale * w[i];
            } else {
                for (; i + 8 <= n; i += 8)
                    _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_loadu_ps(xr + i), vs));
                for (; i < n; ++i) o[i] = xr[i] * scale;
            }
        }
    }
}

// RoPE (KernelTable::rope), the scalar operations lane for lane: neox pairs
// 8 at a time from the two halves; adjacent pairs 4 at a time, the angles
// duplicated into both lanes of a pair and the pair's partner swapped in.
inline void rope(float* x, int n_heads, int hd, int n_dims, const float* cos, const float* sin,
                 bool neox) {
    const int half = n_dims / 2;
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<size_t>(h) * hd;
        int i = 0;
        if (neox) {
            for (; i + 8 <= half; i += 8) {
                const __m256 x0 = _mm256_loadu_ps(v + i), x1 = _mm256_loadu_ps(v + i + half);
                const __m256 c = _mm256_loadu_ps(cos + i), s = _mm256_loadu_ps(sin + i);
                _mm256_storeu_ps(v + i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));
                _mm256_storeu_ps(v + i + half, _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c)));
            }
        } else {
            for (; i + 4 <= half; i += 4) {
                const __m128 c4 = _mm_loadu_ps(cos + i), s4 = _mm_loadu_ps(sin + i);
                const __m256 c = _mm256_set_m128(_mm_unpackhi_ps(c4, c4), _mm_unpacklo_ps(c4, c4));
                const __m256 s = _mm256_set_m128(_mm_unpackhi_ps(s4, s4), _mm_unpacklo_ps(s4, s4));
                const __m256 xv = _mm256_loadu_ps(v + 2 * i);
                const __m256 xs = _mm256_permute_ps(xv, 0xB1);  // each pair's partner
                // Even lanes hold x0 (partner x1), odd lanes x1 (partner x0).
                const __m256 even = _mm256_fmsub_ps(xv, c, _mm256_mul_ps(xs, s));
                const __m256 odd = _mm256_fmadd_ps(xs, s, _mm256_mul_ps(xv, c));
                _mm256_storeu_ps(v + 2 * i, _mm256_blend_ps(even, odd, 0xAA));
            }
        }
        for (; i < half; ++i) {
            const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            const float c = cos[i], s = sin[i], x0 = v[a], x1 = v[b];
            v[a] = std::fma(x0, c, -(x1 * s));
            v[b] = std::fma(x0, s, x1 * c);
        }
    }
}

inline void swiglu(const float* g, const float* u, float* out, int n) {
    const int nv = n / 16 * 16;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int i = 0; i < nv; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = vexp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)),
                                                _mm256_loadu_ps(u + i)));
    }
    for (int i = nv; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

inline void f32_to_f16(const float* x, uint16_t* y, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

// F16 value sums held as floats (attn_loop.h): each update rounded to F16.
inline void f16_mad(float* acc, const uint16_t* v, float s, int n) {
    const __m256 vs = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
        const __m256 a = _mm256_fmadd_ps(x, vs, _mm256_loadu_ps(acc + i));
        _mm256_storeu_ps(acc + i, _mm256_cvtph_ps(_mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT)));
    }
    for (; i < n; ++i) acc[i] = round_f16(__builtin_fmaf(h2f(v[i]), s, acc[i]));
}

inline void f16_scale(float* acc, float s, int n) {
    const __m256 vs = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 a = _mm256_mul_ps(_mm256_loadu_ps(acc + i), vs);
        _mm256_storeu_ps(acc + i, _mm256_cvtph_ps(_mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT)));
    }
    for (; i < n; ++i) acc[i] = round_f16(acc[i] * s);
}

// Attention over an F16 cache (KernelTable::attn_f16): the scalar loop's
// arithmetic, element for element (attn_loop.h on this table's kernels). With
// AVX-512 and a head size of 64, 128 or 256 the query, the F16 value sum (held
// as the F32 values of its halves) and each position's K and V stay in
// 512-bit registers.

#if RS_VNNI
// std::exp on 8 floats at once, bit for bit (expf_data.h): the C library's
// algorithm in double precision lanes.
inline __m256 expf8_libm(__m256 xf) {
    const __m512d xd = _mm512_cvtps_pd(xf);
    const __m512d inv = _mm512_set1_pd(kExpfInvLn2N), shift = _mm512_set1_pd(kExpfShift);
    const __m512d kd0 = _mm512_fmadd_pd(inv, xd, shift);
    const __m512d kd = _mm512_sub_pd(kd0, shift);
    const __m512d r = _mm512_fmsub_pd(inv, xd, kd);
    const __m512i ki = _mm512_castpd_si512(kd0);
    // tab[ki & 31] from four registers (two 16-entry permutes, bit 4
    // choosing between them): the same words a gather loads, fewer cycles.
    const __m512i t0 = _mm512_loadu_si512(kExp2fTab), t1 = _mm512_loadu_si512(kExp2fTab + 8),
                  t2 = _mm512_loadu_si512(kExp2fTab + 16), t3 = _mm512_loadu_si512(kExp2fTab + 24);
    const __m512i lo = _mm512_permutex2var_epi64(t0, ki, t1);
    const __m512i hi = _mm512_permutex2var_epi64(t2, ki, t3);
    __m512i t = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(ki, _mm512_set1_epi64(16)), lo, hi);
    t = _mm512_add_epi64(t, _mm512_slli_epi64(ki, 52 - 5));
    const __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(kExpfC0), r, _mm512_set1_pd(kExpfC1));
    const __m512d r2 = _mm512_mul_pd(r, r);
    __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(kExpfC2), r, _mm512_set1_pd(1.0));
    y = _mm512_mul_pd(_mm512_fmadd_pd(z, r2, y), _mm512_castsi512_pd(t));
    __m256 out = _mm512_cvtpd_ps(y);
    out = _mm256_mask_blend_ps(_mm256_cmp_ps_mask(xf, _mm256_set1_ps(kExpfUnderflow), _CMP_LT_OQ),
                               out, _mm256_setzero_ps());
    return _mm256_mask_blend_ps(_mm256_cmp_ps_mask(xf, _mm256_set1_ps(kExpfOverflow), _CMP_GT_OQ),
                                out, _mm256_set1_ps(INFINITY));
}

// attn_exp on 16 lanes: vexp's operations in order, 2^n one exact scaling
// (n >= -126 above -87), 0 below -87.
inline __m512 attn_exp16(__m512 x) {
    __m512 n;
    const __m512 j = vexp_poly(x, n);
    const __m512 p2 = _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
    return _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ), j, p2);
}

inline void expf_libm(const float* x, float* y, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, expf8_libm(_mm256_loadu_ps(x + i)));
    if (i < n) {
        alignas(32) float in[8] = {}, out[8];
        for (int j = i; j < n; ++j) in[j - i] = x[j];
        _mm256_store_ps(out, expf8_libm(_mm256_load_ps(in)));
        for (int j = i; j < n; ++j) y[j] = out[j - i];
    }
}

// Lane i gets lane i - K, the first K lanes -inf.
template <int K>
inline __m512 shift_lanes_up(__m512 x) {
    return _mm512_castsi512_ps(_mm512_alignr_epi32(
        _mm512_castps_si512(x), _mm512_castps_si512(_mm512_set1_ps(-INFINITY)), 16 - K));
}

// Positions are taken in chunks of 32 and all query heads of a KV head go
// through a chunk together, in three phases: the chunk's scores (each
// position's K converted once for every head), the online-softmax
// bookkeeping with its exponentials (expf8_libm, 8 at a time), then the
// value updates, several heads at a time so that sixteen independent F16
// value chains hide each other's latency (a head's sum lives in registers for the
// chunk and in memory between chunks; its values are F16 numbers held as
// floats, so the round trip is exact). The order of every operation on M, S
// and each sum is the scalar loop's.
// 16 cache values as floats (F16 widened, or F32 as they are).
inline __m512 load16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load16(const float* p) {
    return _mm512_loadu_ps(p);
}
// A value sum after an update: an F16 cache keeps it in F16 (rounded after
// every update, as llama.cpp does), an F32 cache in F32.
template <typename E>
inline __m512 round_acc(__m512 x) {
    if constexpr (sizeof(E) == 2)
        return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
    else
        return x;
}

template <typename E, int NV, int G>  // NV = hd / 16 vectors; G heads' value sums in registers
inline void attn_values(const E* const* v, int p0, int m, const float* ms, const float* vs,
                        const uint32_t* rescale, float* accm) {
    constexpr int hd = 16 * NV;
    constexpr int kChunk = 32;
    __m512 acc[G][NV];
    for (int h = 0; h < G; ++h)
        for (int j = 0; j < NV; ++j) acc[h][j] = _mm512_load_ps(accm + h * hd + 16 * j);
    uint32_t any = 0;  // positions where some head of the G rescales
    for (int h = 0; h < G; ++h) any |= rescale[h];
    for (int i = 0; i < m; ++i) {
        const E* vp = v[p0 + i];
        __m512 vv[NV];
        for (int j = 0; j < NV; ++j) vv[j] = load16(vp + 16 * j);
        const bool some = any >> i & 1;
        for (int h = 0; h < G; ++h) {
            if (some && (rescale[h] >> i & 1)) {
                const __m512 f = _mm512_set1_ps(ms[h * kChunk + i]);
                for (int j = 0; j < NV; ++j) acc[h][j] = round_acc<E>(_mm512_mul_ps(acc[h][j], f));
            }
            const __m512 w = _mm512_set1_ps(vs[h * kChunk + i]);
            for (int j = 0; j < NV; ++j)
                acc[h][j] = round_acc<E>(_mm512_fmadd_ps(vv[j], w, acc[h][j]));
        }
    }
    for (int h = 0; h < G; ++h)
        for (int j = 0; j < NV; ++j) _mm512_store_ps(accm + h * hd + 16 * j, acc[h][j]);
}

constexpr int kAttnMaxHeads = 16;

// 16 rows of 16 floats to 16 columns (col c = element c of rows 0..15).
inline void transpose16(const __m512 r[16], __m512 c[16]) {
    __m512 u[16];  // u[4j + e]: in 128-bit lane L, element 4L + e of rows 4j..4j+3
    transpose_in_lanes<__m512, 16>(r, u);
    for (int e = 0; e < 4; ++e) {
        const __m512 v0 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88);
        const __m512 w0 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xDD);
        const __m512 v1 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88);
        const __m512 w1 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xDD);
        c[e] = _mm512_shuffle_f32x4(v0, v1, 0x88);
        c[8 + e] = _mm512_shuffle_f32x4(v0, v1, 0xDD);
        c[4 + e] = _mm512_shuffle_f32x4(w0, w1, 0x88);
        c[12 + e] = _mm512_shuffle_f32x4(w0, w1, 0xDD);
    }
}

// K of up to 16 positions (k[i], i < m; the last repeated to 16) transposed:
// kt[16 * d + i] = k[i][d], d < 16 * NV.
template <int NV, typename E>
inline void transpose_k16(const E* const* k, int m, float* kt) {
    for (int j = 0; j < NV; ++j) {
        __m512 r[16], c[16];
        for (int i = 0; i < 16; ++i)
            r[i] = _mm512_loadu_ps(reinterpret_cast<const float*>(k[std::min(i, m - 1)]) + 16 * j);
        transpose16(r, c);
        for (int e = 0; e < 16; ++e) _mm512_store_ps(kt + 16 * (16 * j + e), c[e]);
    }
}

// Scores of G heads over 16 positions of an F32 cache, dot_f32_chain in each
// lane: kt = the positions' K transposed (kt[16 * d + i] = K[i][d]).
template <int G, int HD>
inline void scores_chain(const float* kt, const float* const* qs, float scale, float* sc,
                         int sc_stride) {
    __m512 s[G];
    for (int g = 0; g < G; ++g) s[g] = _mm512_setzero_ps();
    for (int d = 0; d < HD; ++d) {
        const __m512 kd = _mm512_load_ps(kt + 16 * d);
        for (int g = 0; g < G; ++g) s[g] = _mm512_fmadd_ps(kd, _mm512_set1_ps(qs[g][d]), s[g]);
    }
    const __m512 vs = _mm512_set1_ps(scale);
    for (int g = 0; g < G; ++g) _mm512_storeu_ps(sc + g * sc_stride, _mm512_mul_ps(s[g], vs));
}

// scores_chain for nq heads (sc + h * sc_stride for head h): groups of 8,
// then the rest.
template <int HD>
inline void scores_chain_heads(const float* kt, const float* const* qs, int nq, float scale,
                               float* sc, int sc_stride) {
    using Fn = void (*)(const float*, const float* const*, float, float*, int);
    static constexpr Fn kTail[8] = {nullptr,
                                    scores_chain<1, HD>,
                                    scores_chain<2, HD>,
                                    scores_chain<3, HD>,
                                    scores_chain<4, HD>,
                                    scores_chain<5, HD>,
                                    scores_chain<6, HD>,
                                    scores_chain<7, HD>};
    int h = 0;
    for (; h + 8 <= nq; h += 8)
        scores_chain<8, HD>(kt, qs + h, scale, sc + h * sc_stride, sc_stride);
    if (h < nq) kTail[nq - h](kt, qs + h, scale, sc + h * sc_stride, sc_stride);
}

template <typename E, int NV>  // NV = hd / 16 vectors; nq <= kAttnMaxHeads query heads
void attn_zmm(AttnHead* heads, int nq, const E* const* k, const E* const* v, int n, float scale,
              const float* kt_all = nullptr) {
    constexpr int hd = 16 * NV;
    constexpr int kChunk = 32, kMaxHeads = kAttnMaxHeads;
    alignas(64) float accm[kMaxHeads * hd];
    alignas(64) float sc[kMaxHeads][kChunk], ms[kMaxHeads][kChunk], vs[kMaxHeads][kChunk];
    uint32_t rescale[kMaxHeads];  // bit i: position i raises the maximum
    __m512 folds[kMaxHeads][4];
    float M[kMaxHeads], S[kMaxHeads] = {};
    const float* qs[kMaxHeads];
    if (nq >= 4 && nq < kMaxHeads)  // (rows past nq go through the transposes unused)
        for (int h = nq; h < kMaxHeads; ++h)
            for (int i = 0; i < kChunk; ++i) ms[h][i] = vs[h][i] = 0.0f;
    for (int h = 0; h < nq; ++h) {
        M[h] = heads[h].M;
        S[h] = heads[h].S;
        qs[h] = heads[h].q;
        for (int i = 0; i < NV; ++i)
            _mm512_store_ps(accm + h * hd + 16 * i, _mm512_loadu_ps(heads[h].acc + 16 * i));
    }
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int p0 = 0; p0 < n; p0 += kChunk) {
        const int m = std::min(kChunk, n - p0);
        if constexpr (sizeof(E) == 4) {
            // F32 cache: 16 positions' K transposed once for all heads, then
            // each head's scores as fma chains with the positions in lanes.
            // (kt_all: the caller's, for all n positions, 16 at a time, when
            // several head groups share a span; a single group over all
            // positions transposes here, without the span's state round trips.)
            alignas(64) float kt_own[hd * 16];
            for (int i0 = 0; i0 < m; i0 += 16) {
                const float* kt = kt_own;
                if (kt_all)
                    kt = kt_all + static_cast<size_t>((p0 + i0) / 16) * hd * 16;
                else
                    transpose_k16<NV>(k + p0 + i0, m - i0, kt_own);
                scores_chain_heads<hd>(kt, qs, nq, scale, &sc[0][i0], kChunk);
            }
        } else {
            // Scores in dot_vec_order: four 16-lane sums folded to one vector per
            // position and head, then 16 lanes reduced as _mm512_reduce_add_ps
            // does (halves, quarters, pairs), four positions at a time.
            for (int i0 = 0; i0 < m; i0 += 4) {
                for (int i = 0; i < 4; ++i) {
                    const E* kp = k[p0 + std::min(i0 + i, m - 1)];
                    __m512 kv[NV];
                    for (int j = 0; j < NV; ++j) kv[j] = load16(kp + 16 * j);
                    for (int h = 0; h < nq; ++h) {
                        const float* qh = qs[h];
                        __m512 s4[4];
                        for (int a = 0; a < 4; ++a)
                            s4[a] = _mm512_mul_ps(kv[a], _mm512_loadu_ps(qh + 16 * a));
                        for (int st = 1; st < NV / 4; ++st)
                            for (int a = 0; a < 4; ++a)
                                s4[a] = _mm512_fmadd_ps(
                                    kv[4 * st + a], _mm512_loadu_ps(qh + 16 * (4 * st + a)), s4[a]);
                        s4[0] = _mm512_add_ps(s4[0], s4[2]);
                        s4[1] = _mm512_add_ps(s4[1], s4[3]);
                        folds[h][i] = _mm512_add_ps(s4[0], s4[1]);
                    }
                }
                for (int h = 0; h < nq; ++h) {
                    const __m512* fold = folds[h];
                    // [hi256 + lo256] of positions (0,1) and (2,3)
                    const __m512 a = fold[0], b = fold[1], c = fold[2], d = fold[3];
                    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0xEE),
                                                    _mm512_shuffle_f32x4(a, b, 0x44));
                    const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0xEE),
                                                    _mm512_shuffle_f32x4(c, d, 0x44));
                    // [hi128 + lo128] of each: lanes a | b | c | d
                    __m512 w = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0xDD),
                                             _mm512_shuffle_f32x4(ab, cd, 0x88));
                    w = _mm512_add_ps(w, _mm512_permute_ps(w, 0x4E));  // [0]+[2], [1]+[3]
                    w = _mm512_add_ps(w, _mm512_permute_ps(w, 0xB1));  // [0]+[1]
                    // lanes 0, 4, 8, 12 are the four positions' scores (lanes
                    // past m are overwritten with -inf below)
                    const __m512 four = _mm512_permutexvar_ps(
                        _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), w);
                    _mm_store_ps(&sc[h][i0], _mm512_castps512_ps128(_mm512_mul_ps(four, vscale)));
                }
            }
        }
        // Bookkeeping, 16 positions per vector: the running maximum before
        // each position is a prefix maximum (exact, so the scalar loop's
        // M at every step), a position above it rescales, and the exponentials
        // (Mold - M, or s - M) are taken 8 at a time. Positions past m are -inf.
        for (int h = 0; h < nq; ++h) {
            for (int i = m; i < kChunk; ++i) sc[h][i] = -INFINITY;
            __m512 carry = _mm512_set1_ps(M[h]);
            uint32_t rs = 0;
            for (int half = 0; half < 2; ++half) {
                const __m512 x = _mm512_load_ps(&sc[h][16 * half]);
                __m512 pm = x;  // inclusive prefix maximum
                pm = _mm512_max_ps(pm, shift_lanes_up<1>(pm));
                pm = _mm512_max_ps(pm, shift_lanes_up<2>(pm));
                pm = _mm512_max_ps(pm, shift_lanes_up<4>(pm));
                pm = _mm512_max_ps(pm, shift_lanes_up<8>(pm));
                const __m512 before = _mm512_max_ps(carry, shift_lanes_up<1>(pm));
                const __mmask16 up = _mm512_cmp_ps_mask(x, before, _CMP_GT_OQ);
                const __m512 arg =
                    _mm512_mask_blend_ps(up, _mm512_sub_ps(x, before), _mm512_sub_ps(before, x));
                __m512 e;
                if constexpr (sizeof(E) == 4) {
                    e = attn_exp16(arg);
                } else {
                    const __m256 e0 = expf8_libm(_mm512_castps512_ps256(arg));
                    const __m256 e1 = expf8_libm(
                        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(arg), 1)));
                    e = _mm512_castpd_ps(_mm512_insertf64x4(
                        _mm512_castps_pd(_mm512_castps256_ps512(e0)), _mm256_castps_pd(e1), 1));
                }
                const __m512 one = _mm512_set1_ps(1.0f);
                _mm512_store_ps(&ms[h][16 * half], _mm512_mask_blend_ps(up, one, e));
                _mm512_store_ps(&vs[h][16 * half], _mm512_mask_blend_ps(up, e, one));
                rs |= static_cast<uint32_t>(up) << (16 * half);
                carry = _mm512_max_ps(carry, _mm512_permutexvar_ps(_mm512_set1_epi32(15), pm));
            }
            rescale[h] = rs;
            M[h] = _mm512_cvtss_f32(carry);
        }
        if (nq >= 4) {
            // The heads' denominators in the lanes of one vector: the
            // factors transposed to a position per vector, then each lane
            // the scalar chain S = fma(S, ms, vs) in position order.
            __m512 Sv = _mm512_loadu_ps(S);
            for (int half = 0; half * 16 < m; ++half) {
                __m512 r[16], mt[16], vt[16];
                for (int h = 0; h < 16; ++h) r[h] = _mm512_load_ps(&ms[h][16 * half]);
                transpose16(r, mt);
                for (int h = 0; h < 16; ++h) r[h] = _mm512_load_ps(&vs[h][16 * half]);
                transpose16(r, vt);
                for (int i = 0; i < std::min(16, m - 16 * half); ++i)
                    Sv = _mm512_fmadd_ps(Sv, mt[i], vt[i]);
            }
            _mm512_storeu_ps(S, Sv);
        } else {
            for (int i = 0; i < m; ++i)
                for (int h = 0; h < nq; ++h) S[h] = std::fma(S[h], ms[h][i], vs[h][i]);
        }
        // Value sums of G heads in registers with their V: 24 + 4 of 32
        // registers at head size 64 (16 + 4 over an F16 cache, whose
        // rounding needs more), 16 + 8 at 128, 16 + 16 at 256.
        constexpr int G = NV == 4 ? (sizeof(E) == 4 ? 6 : 4) : NV == 8 ? 2 : 1;
        int h = 0;
        for (; h + G <= nq; h += G)
            attn_values<E, NV, G>(v, p0, m, &ms[h][0], &vs[h][0], &rescale[h], accm + h * hd);
        switch (nq - h) {
            case 5:
                attn_values<E, NV, 5>(v, p0, m, &ms[h][0], &vs[h][0], &rescale[h], accm + h * hd);
                break;
            case 4:
                attn_values<E, NV, 4>(v, p0, m, &ms[h][0], &vs[h][0], &rescale[h], accm + h * hd);
                break;
            case 3:
                attn_values<E, NV, 3>(v, p0, m, &ms[h][0], &vs[h][0], &rescale[h], accm + h * hd);
                break;
            case 2:
                attn_values<E, NV, 2>(v, p0, m, &ms[h][0], &vs[h][0], &rescale[h], accm + h * hd);
                break;
            case 1:
                attn_values<E, NV, 1>(v, p0, m, &ms[h][0], &vs[h][0], &rescale[h], accm + h * hd);
                break;
            default:
                break;
        }
    }
    for (int h = 0; h < nq; ++h) {
        heads[h].M = M[h];
        heads[h].S = S[h];
        for (int i = 0; i < NV; ++i)
            _mm512_storeu_ps(heads[h].acc + 16 * i, _mm512_load_ps(accm + h * hd + 16 * i));
    }
}

// More heads than the kernel holds (branches going through a shared prefix
// together): groups of at most kAttnMaxHeads, as even as possible. Over an
// F32 cache they take each span of positions in turn, the span's K
// transposed once for all of them (and its K and V in L1).
template <typename E, int NV>
void attn_zmm_heads(AttnHead* heads, int nh, const E* const* k, const E* const* v, int n,
                    float scale) {
    if (nh <= kAttnMaxHeads) return attn_zmm<E, NV>(heads, nh, k, v, n, scale);
    const int groups = (nh + kAttnMaxHeads - 1) / kAttnMaxHeads;
    const int per = (nh + groups - 1) / groups;
    if constexpr (sizeof(E) == 2) {
        // Over an F16 cache each group converts K itself: whole groups, all positions.
        for (int h = 0; h < nh; h += per)
            attn_zmm<E, NV>(heads + h, std::min(per, nh - h), k, v, n, scale);
        return;
    }
    constexpr int kSpan = 64;
    // Over an F32 cache the span's K is transposed once for every group.
    alignas(64) float kt[sizeof(E) == 4 ? kSpan * 16 * NV : 1];
    for (int p0 = 0; p0 < n; p0 += kSpan) {
        const int m = std::min(kSpan, n - p0);
        if constexpr (sizeof(E) == 4)
            for (int i0 = 0; i0 < m; i0 += 16)
                transpose_k16<NV>(k + p0 + i0, m - i0, kt + static_cast<size_t>(i0) * 16 * NV);
        for (int h = 0; h < nh; h += per)
            attn_zmm<E, NV>(heads + h, std::min(per, nh - h), k + p0, v + p0, m, scale,
                            sizeof(E) == 4 ? kt : nullptr);
    }
}
#endif

// F32 cache, head sizes without the register-resident kernel: the scores of
// 8 positions at a time, dot_f32_chain in each lane of a 256-bit vector (K of
// 8 positions transposed 8 dimensions at a time, once for all heads), then
// each head's softmax updates in order.
inline void attn_f32_chain_loop(AttnHead* heads, int nh, const float* const* k,
                                const float* const* v, int n, int hd, float scale) {
    thread_local Scratch<float> kt, sc;
    kt.resize(static_cast<size_t>(hd) * 8);
    sc.resize(static_cast<size_t>(nh) * (static_cast<size_t>(n) + 8));
    const size_t stride = static_cast<size_t>(n) + 8;
    const __m256 vscale = _mm256_set1_ps(scale);
    for (int p0 = 0; p0 < n; p0 += 8) {
        for (int d0 = 0; d0 < hd; d0 += 8) {
            __m256 r[8], c[8];
            for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(k[std::min(p0 + i, n - 1)] + d0);
            transpose8(r, c);
            for (int e = 0; e < 8; ++e) _mm256_storeu_ps(kt.data() + 8 * (d0 + e), c[e]);
        }
        for (int h = 0; h < nh; ++h) {
            const float* q = heads[h].q;
            __m256 s = _mm256_setzero_ps();
            for (int d = 0; d < hd; ++d)
                s = _mm256_fmadd_ps(_mm256_loadu_ps(kt.data() + 8 * d), _mm256_set1_ps(q[d]), s);
            _mm256_storeu_ps(sc.data() + static_cast<size_t>(h) * stride + p0,
                             _mm256_mul_ps(s, vscale));
        }
    }
    for (int h = 0; h < nh; ++h) {
        const float* hs = sc.data() + static_cast<size_t>(h) * stride;
        attn_updates<float, f32_mad, f32_scale, attn_exp>(
            heads[h], [&](int p) { return hs[p]; }, v, n, hd);
    }
}

// The register-resident kernel for head sizes 64/128/256 (AVX-512); else over
// an F32 cache the 8-position score chains (head sizes of whole vectors), and
// otherwise the loop per head on this table's kernels.
template <typename E, float (*Dot)(const E*, const float*, int),
          void (*Mad)(float*, const E*, float, int), void (*Scale)(float*, float, int),
          float (*Exp)(float)>
inline void attn_heads(AttnHead* heads, int nh, const E* const* k, const E* const* v, int n, int hd,
                       float scale) {
#if RS_VNNI
    switch (hd) {
        case 64:
            return attn_zmm_heads<E, 4>(heads, nh, k, v, n, scale);
        case 128:
            return attn_zmm_heads<E, 8>(heads, nh, k, v, n, scale);
        case 256:
            return attn_zmm_heads<E, 16>(heads, nh, k, v, n, scale);
        default:
            break;
    }
#endif
    if constexpr (sizeof(E) == 4) {
        if (hd % 8 == 0) return attn_f32_chain_loop(heads, nh, k, v, n, hd, scale);
    }
    for (int h = 0; h < nh; ++h) attn_loop<E, Dot, Mad, Scale, Exp>(heads[h], k, v, n, hd, scale);
}

inline void attn_f16(AttnHead* heads, int nh, const uint16_t* const* k, const uint16_t* const* v,
                     int n, int hd, float scale) {
    attn_heads<uint16_t, dot_f16_row, f16_mad, f16_scale, libm_exp>(heads, nh, k, v, n, hd, scale);
}

// Over an F32 cache: the same kernel without the F16 conversions.
inline void attn_f32(AttnHead* heads, int nh, const float* const* k, const float* const* v, int n,
                     int hd, float scale) {
    attn_heads<float, dot_f32_chain, f32_mad, f32_scale, attn_exp>(heads, nh, k, v, n, hd, scale);
}

// ---- The sampler's passes fused (kernels.h: logits_max, exp_sum,
// buckets_stats): each is the composition of the kernels above, operation
// for operation and lane for lane, in one pass over the vocabulary.

template <bool kDiv>
inline float logits_max_pass(const float* x, float t, float* z, int n, bool* finite) {
    const __m256 inf = _mm256_set1_ps(INFINITY), vt = _mm256_set1_ps(t);
    __m256 ok = _mm256_cmp_ps(inf, inf, _CMP_EQ_OQ);  // all lanes set
    __m256 m = _mm256_set1_ps(kDiv ? x[0] / t : x[0]);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        ok = _mm256_and_ps(ok, _mm256_cmp_ps(v, inf, _CMP_LT_OQ));
        if constexpr (kDiv) {
            v = _mm256_div_ps(v, vt);
            _mm256_storeu_ps(z + i, v);
        }
        m = _mm256_max_ps(v, m);  // v > m ? v : m
    }
    alignas(32) float l[8];
    _mm256_store_ps(l, m);
    float r = l[0];
    for (int k = 1; k < 8; ++k) r = l[k] > r ? l[k] : r;
    bool fin = _mm256_movemask_ps(ok) == 0xFF;
    for (; i < n; ++i) {
        fin = fin && x[i] < INFINITY;
        float v = x[i];
        if constexpr (kDiv) {
            v = v / t;
            z[i] = v;
        }
        r = v > r ? v : r;
    }
    *finite = fin;
    return r;
}
inline float logits_max(const float* x, float t, float* z, int n, bool* finite) {
    return z ? logits_max_pass<true>(x, t, z, n, finite)
             : logits_max_pass<false>(x, t, nullptr, n, finite);
}
inline float max_f32(const float* x, int n) {
    bool finite;  // (logits_max's pass without the division)
    return logits_max_pass<false>(x, 1.0f, nullptr, n, &finite);
}

// std::exp of 8 floats (expf8_libm where there is one, else the C library).
inline __m256 exp8(__m256 x) {
#if RS_VNNI
    return expf8_libm(x);
#else
    alignas(32) float t[8];
    _mm256_store_ps(t, x);
    for (float& v : t) v = std::exp(v);
    return _mm256_load_ps(t);
#endif
}

inline double exp_sum(const float* z, float mx, float* e, int n) {
    const __m256 vm = _mm256_set1_ps(mx);
    __m256d a = _mm256_setzero_pd(), b = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = exp8(_mm256_sub_ps(_mm256_loadu_ps(z + i), vm));
        _mm256_storeu_ps(e + i, v);
        a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        b = _mm256_add_pd(b, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    alignas(32) double l[8];
    _mm256_store_pd(l, a);
    _mm256_store_pd(l + 4, b);
    if (i < n) {
        alignas(32) float in[8] = {}, out[8];
        for (int j = i; j < n; ++j) in[j - i] = z[j] - mx;
        _mm256_store_ps(out, exp8(_mm256_load_ps(in)));
        for (int k = 0; i < n; ++i, ++k) {
            e[i] = out[k];
            l[k] += e[i];
        }
    }
    return combine8(l);
}

inline void buckets_stats(const float* z, const float* e, int n, float mx, double L, double inv_s,
                          uint16_t* idx, double out[3]) {
    stats_pass<true>(z, e, n, mx, L, inv_s, idx, out);
}

}  // namespace rs::kernels::RS_SIMD_NS
