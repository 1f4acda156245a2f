// Dot-product kernels on 256-bit vectors, compiled twice: for AVX2+FMA
// (avx2.cpp) and for AVX-512 with VNNI (avx512.cpp, RS_VNNI=1), where the
// signed int8 dot uses vpdpbusd. Each weight block is decoded once and
// multiplied with up to four activation rows (prefill and batched decode).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <new>
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
    const int32_t* sum;
    const float* d;
};

inline Q8ActRow q8_act_row(const uint8_t* row, int nb) {
    const auto* sums = reinterpret_cast<const int32_t*>(row + q8_act_sums_offset(nb));
    return {reinterpret_cast<const BlockQ8_0*>(row), sums,
            reinterpret_cast<const float*>(sums + nb)};
}

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
    static I zero() { return _mm256_setzero_si256(); }
    static F fzero() { return _mm256_setzero_ps(); }
    static I dot(I acc, I w, int32_t x) {
#if RS_VNNI
        return _mm256_dpbusd_epi32(acc, w, _mm256_set1_epi32(x));
#else  // nibble x int8 pairs stay within int16 over a whole block (8 * 2 * 15 * 127)
        return _mm256_add_epi16(acc, _mm256_maddubs_epi16(w, _mm256_set1_epi32(x)));
#endif
    }
    static I finish(I s, int32_t offset) {
#if !RS_VNNI
        s = _mm256_madd_epi16(s, _mm256_set1_epi16(1));
#endif
        return _mm256_sub_epi32(s, _mm256_set1_epi32(offset));
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
    static void load(const uint8_t* w, size_t w_stride, int row0, int n_w, int b, I chunk[8],
                     F& dw) {
        __m256i lo[8], hi[8];
        __m256 dlo, dhi;
        load_tile8_block(w, w_stride, row0, n_w, b, lo, dlo);
        load_tile8_block(w, w_stride, row0 + 8, n_w, b, hi, dhi);
        for (int c = 0; c < 8; ++c)
            chunk[c] =
                _mm512_inserti64x4(_mm512_inserti64x4(_mm512_setzero_si512(), lo[c], 0), hi[c], 1);
        dw = _mm512_insertf32x8(_mm512_insertf32x8(_mm512_setzero_ps(), dlo, 0), dhi, 1);
    }
    static I zero() { return _mm512_setzero_si512(); }
    static F fzero() { return _mm512_setzero_ps(); }
    static I dot(I acc, I w, int32_t x) {
        return _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(x));
    }
    static I finish(I s, int32_t offset) { return _mm512_sub_epi32(s, _mm512_set1_epi32(offset)); }
    static F fma(I s, F dw, float da, F acc) {
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(da)), acc);
    }
    static void store(float* o, int n_w, F v) {
        _mm512_mask_storeu_ps(o, static_cast<__mmask16>((1u << n_w) - 1), v);
    }
};
using GemmTile = Tile16;
constexpr int kGemmGroup = 6;
#else
using GemmTile = Tile8;
constexpr int kGemmGroup = 4;
#endif

// One block of a tile against NA activation rows.
template <class T, int NA>
inline void tile_block(const typename T::I chunk[8], typename T::F dw, const Q8ActRow* a, int b,
                       typename T::F* acc) {
    typename T::I is[NA];
    for (int j = 0; j < NA; ++j) is[j] = T::zero();
    for (int c = 0; c < 8; ++c)
        for (int j = 0; j < NA; ++j) is[j] = T::dot(is[j], chunk[c], load4(a[j].q[b].qs + 4 * c));
    for (int j = 0; j < NA; ++j)
        acc[j] = T::fma(T::finish(is[j], 8 * a[j].sum[b]), dw, a[j].d[b], acc[j]);
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
            tile_block<T, NA>(chunk, dw, a, b, acc);
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
        for (int b = 0; b < nb; ++b) tile_block<T, NA>(packed + 8 * b, dws[b], a, b, acc);
        for (int j = 0; j < NA; ++j)
            T::store(out + static_cast<size_t>(j) * out_stride + row0,
                     std::min(T::kRows, n_w - row0), acc[j]);
    }
};

template <class T, template <class, int> class Run, typename... A>
inline void by_act_groups(const Q8ActRow* a, int n_act, float* out, size_t out_stride, A... args) {
    int j = 0;
    auto at = [&](int k) { return out + static_cast<size_t>(k) * out_stride; };
    for (; j + kGemmGroup <= n_act; j += kGemmGroup)
        Run<T, kGemmGroup>::go(a + j, at(j), out_stride, args...);
    switch (n_act - j) {
#if RS_VNNI
        case 5:
            Run<T, 5>::go(a + j, at(j), out_stride, args...);
            break;
        case 4:
            Run<T, 4>::go(a + j, at(j), out_stride, args...);
            break;
#endif
        case 3:
            Run<T, 3>::go(a + j, at(j), out_stride, args...);
            break;
        case 2:
            Run<T, 2>::go(a + j, at(j), out_stride, args...);
            break;
        case 1:
            Run<T, 1>::go(a + j, at(j), out_stride, args...);
            break;
        default:
            break;
    }
}

inline void gemm_q4_0(int n, const void* w, size_t w_stride, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    using T = GemmTile;
    constexpr int R = T::kRows;
    const int nb = n / 32;
    std::vector<Q8ActRow> rows_heap;
    Q8ActRow rows_stack[64];
    Q8ActRow* a = rows_stack;
    if (n_act > 64) {
        rows_heap.resize(static_cast<size_t>(n_act));
        a = rows_heap.data();
    }
    for (int j = 0; j < n_act; ++j) a[j] = q8_act_row(act_row(act, act_stride, j), nb);
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
    // Per-thread packing buffer: nb * 8 chunks, then nb scale vectors.
    struct Buffer {
        void* p = nullptr;
        size_t bytes = 0;
        ~Buffer() { ::operator delete (p, std::align_val_t{64}); }
    };
    thread_local Buffer buf;
    const size_t need = static_cast<size_t>(nb) * 9 * sizeof(typename T::I);
    if (buf.bytes < need) {
        ::operator delete (buf.p, std::align_val_t{64});
        buf.p = ::operator new (need, std::align_val_t{64});
        buf.bytes = need;
    }
    auto* packed = static_cast<typename T::I*>(buf.p);
    auto* dws = reinterpret_cast<typename T::F*>(packed + static_cast<size_t>(nb) * 8);
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
        float acc[NA], accm[NA];  // per block: exact integers, then one fma each
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
                acc[j] = __builtin_fmaf(static_cast<float>(hsum_i32(sumi)), d * y[j][b].d, acc[j]);
                accm[j] = __builtin_fmaf(static_cast<float>(summ), dmin * y[j][b].d, accm[j]);
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
    for (int i = np; i < n; ++i) {
        float wi;
        if constexpr (sizeof(W) == 4)
            wi = w[i];
        else
            wi = h2f(w[i]);
        sum += static_cast<double>(wi * y[i]);
    }
    return static_cast<float>(sum);
}

inline float dot_f16_row(const uint16_t* w, const float* y, int n) {
    return dot_vec_order(w, y, n);
}
inline float dot_f32_plain(const float* a, const float* b, int n) {
    return dot_vec_order(a, b, n);
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
inline void dot_q8_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ8_0>(n_act, out, act, stride, n, w);
}
inline void dot_q4_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ4_K>(n_act, out, act, stride, n, w);
}
inline void dot_q6_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    by_groups<DotQ6_K>(n_act, out, act, stride, n, w);
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
