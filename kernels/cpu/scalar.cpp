// Scalar reference kernels: the definition every SIMD version is tested
// against. Plain loops, no intrinsics.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

// attn_loop.h's helpers in this object's own namespace (see there).
#define RS_SIMD_NS scalar_ref
#include "cpu/attn_loop.h"
#include "cpu/blocks.h"
#include "cpu/fp16.h"
#include "cpu/kernels.h"

namespace rs::kernels {
namespace {

using namespace scalar_ref;

inline float h2f(uint16_t h) {
    return fp16_lookup(h);
}

// llama.cpp's vec_dot summation order (see dot_vec_order in simd_impl.h):
// 4 x 16 lanes over steps of 64, folded, halves summed, the tail in double
// (F16 rows) or in float (F32 rows).
template <bool FloatTail, typename Get>
float vec_order(int n, Get product_terms) {
    float s[4][16] = {};
    const int np = n & ~63;
    for (int i = 0; i < np; i += 64)
        for (int a = 0; a < 4; ++a)
            for (int l = 0; l < 16; ++l) {
                float w, y;
                product_terms(i + 16 * a + l, w, y);
                s[a][l] = std::fma(w, y, s[a][l]);
            }
    double sum = 0;
    if (np) {
        float t8[8], t4[4];
        for (int l = 0; l < 16; ++l) {
            s[0][l] += s[2][l];
            s[1][l] += s[3][l];
            s[0][l] += s[1][l];
        }
        for (int l = 0; l < 8; ++l) t8[l] = s[0][l] + s[0][l + 8];
        for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
        sum = (t4[0] + t4[2]) + (t4[1] + t4[3]);
    }
    if constexpr (FloatTail) {
        // ggml_vec_dot_f32 keeps its sum in float: product rounded, then added
        // (its build does not contract the two into an fma).
        auto fsum = static_cast<float>(sum);
        for (int i = np; i < n; ++i) {
            float w, y;
            product_terms(i, w, y);
            fsum += w * y;
        }
        return fsum;
    }
    for (int i = np; i < n; ++i) {
        float w, y;
        product_terms(i, w, y);
        sum += static_cast<double>(w * y);
    }
    return static_cast<float>(sum);
}

// llama.cpp's prompt-batch order (tinyBLAS): one accumulator of 16 lanes
// over steps of 16, then the lanes summed 8+8, 4+4, (0+2)+(1+3).
template <typename Get>
float tiled_order(int n, Get product_terms) {
    float s[16] = {};
    for (int i = 0; i < n; i += 16)
        for (int l = 0; l < 16; ++l) {
            float w, y;
            product_terms(i + l, w, y);
            s[l] = std::fma(w, y, s[l]);
        }
    float t8[8], t4[4];
    for (int l = 0; l < 8; ++l) t8[l] = s[l] + s[l + 8];
    for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

float dot_f32_1(const float* w, const float* a, int n) {
    return vec_order<true>(n, [&](int i, float& x, float& y) {
        x = w[i];
        y = a[i];
    });
}

float dot_f16_row(const uint16_t* w, const float* a, int n) {
    return vec_order<false>(n, [&](int i, float& x, float& y) {
        x = h2f(w[i]);
        y = a[i];
    });
}

template <typename RowDot>
void for_each_act(const void* act, size_t stride, int n_act, float* out, RowDot f) {
    for (int j = 0; j < n_act; ++j) out[j] = f(static_cast<const uint8_t*>(act) + j * stride);
}

void dot_f32(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        return dot_f32_1(static_cast<const float*>(w), reinterpret_cast<const float*>(a), n);
    });
}

void dot_f16(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        return dot_f16_row(static_cast<const uint16_t*>(w), reinterpret_cast<const float*>(a), n);
    });
}

void dot_f32_tiled(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* wf = static_cast<const float*>(w);
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* af = reinterpret_cast<const float*>(a);
        return tiled_order(n, [&](int i, float& x, float& y) {
            x = wf[i];
            y = af[i];
        });
    });
}

void dot_f16_tiled(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* wh = static_cast<const uint16_t*>(w);
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* af = reinterpret_cast<const float*>(a);
        return tiled_order(n, [&](int i, float& x, float& y) {
            x = h2f(wh[i]);
            y = af[i];
        });
    });
}

void dot_bf16(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* wh = static_cast<const uint16_t*>(w);
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* af = reinterpret_cast<const float*>(a);
        float s = 0;
        for (int i = 0; i < n; ++i) s += bf16_to_fp32(wh[i]) * af[i];
        return s;
    });
}

// Q4_0 against Q8_0 activations, as kernels.h defines it: the exact integer
// dot per block, then acc = fma(isum, d_w * d_a, acc) block by block.
void gemm_q4_0(int n, const void* w, size_t w_stride, int n_w, const void* act, size_t act_stride,
               int n_act, float* out, size_t out_stride) {
    const int nb = n / QK8_0;
    for (int r = 0; r < n_w; ++r) {
        const auto* x = reinterpret_cast<const BlockQ4_0*>(static_cast<const uint8_t*>(w) +
                                                           static_cast<size_t>(r) * w_stride);
        for (int j = 0; j < n_act; ++j) {
            const uint8_t* ar =
                static_cast<const uint8_t*>(act) + static_cast<size_t>(j) * act_stride;
            const auto* y = reinterpret_cast<const BlockQ8_0*>(ar);
            const auto* yd = reinterpret_cast<const float*>(ar + q8_act_sums_offset(nb)) + nb;
            float acc = 0;
            for (int b = 0; b < nb; ++b) {
                int isum = 0;
                for (int i = 0; i < 16; ++i) {
                    isum += ((x[b].qs[i] & 0xF) - 8) * y[b].qs[i];
                    isum += ((x[b].qs[i] >> 4) - 8) * y[b].qs[i + 16];
                }
                const float d = h2f(x[b].d) * yd[b];
                acc = std::fma(static_cast<float>(isum), d, acc);
            }
            out[static_cast<size_t>(j) * out_stride + static_cast<size_t>(r)] = acc;
        }
    }
}

// A packed layout, row by row: each row's blocks (kValues values each)
// unpacked, then its dot.
template <class Block, int kValues>
void gemm_packed_rows(void (*unpack)(const void*, int, int64_t, void*), DotFn dot, int n,
                      const void* packed, int64_t tile0, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    std::vector<Block> row(static_cast<size_t>(n / kValues));
    std::vector<float> res(static_cast<size_t>(n_act));
    for (int r = 0; r < n_w; ++r) {
        unpack(packed, n, tile0 * kQ4Tile + r, row.data());
        dot(n, row.data(), act, act_stride, n_act, res.data());
        for (int j = 0; j < n_act; ++j) out[static_cast<size_t>(j) * out_stride + r] = res[j];
    }
}
void dot_q4_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out);
void dot_q5_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out);
void gemm_q5_0_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    gemm_packed_rows<BlockQ5_0, QK8_0>(unpack_q5_0_row, dot_q5_0, n, packed, tile0, n_w, act,
                                       act_stride, n_act, out, out_stride);
}
void dot_q5_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out);
void dot_q6_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out);
void gemm_q5_k_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    gemm_packed_rows<BlockQ5_K, QK_K>(unpack_q5_k_row, dot_q5_k, n, packed, tile0, n_w, act,
                                      act_stride, n_act, out, out_stride);
}
void gemm_q4_k_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    gemm_packed_rows<BlockQ4_K, QK_K>(unpack_q4_k_row, dot_q4_k, n, packed, tile0, n_w, act,
                                      act_stride, n_act, out, out_stride);
}
void gemm_q6_k_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    gemm_packed_rows<BlockQ6_K, QK_K>(unpack_q6_k_row, dot_q6_k, n, packed, tile0, n_w, act,
                                      act_stride, n_act, out, out_stride);
}

double combine8(const double* l) {
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}
double sum_f32(const float* x, int n) {
    double lane[8] = {};
    for (int i = 0; i < n; ++i) lane[i % 8] += x[i];
    return combine8(lane);
}
void softmax_stats(const float* z, const float* e, int n, float mx, double L, double inv_s,
                   double out[3]) {
    double h[8] = {}, m2[8] = {}, sd[8] = {};
    const double m = mx;
    for (int i = 0; i < n; ++i) {
        const double d = static_cast<double>(z[i]) - m;
        // (an impossible token, e = 0 and lp = -inf, adds nothing: p lp -> 0)
        const double lp = d - L, p = static_cast<double>(e[i]) * inv_s;
        const double plp = p == 0 ? 0.0 : p * lp, plp2 = p == 0 ? 0.0 : plp * lp;
        h[i % 8] -= plp;
        m2[i % 8] += plp2;
        sd[i % 8] += d;
    }
    out[0] = combine8(h);
    out[1] = combine8(m2);
    out[2] = combine8(sd);
}
float max_f32(const float* x, int n) {
    float m = x[0];
    for (int i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}
void sample_buckets(const float* z, int n, float mx, uint16_t* idx) {
    for (int i = 0; i < n; ++i) {
        const float d = mx - z[i];
        idx[i] = static_cast<uint16_t>(d < kSampleLastNat ? static_cast<int>(d * kSamplePerNat)
                                                          : kSampleBuckets - 1);
    }
}
int bucket_members(const uint16_t* idx, int n, int b, int32_t* ids) {
    int c = 0;
    for (int i = 0; i < n; ++i)
        if (idx[i] == b) ids[c++] = i;
    return c;
}
// The fused passes: the kernels above composed (kernels.h).
float logits_max(const float* x, float t, float* z, int n, bool* finite) {
    bool ok = true;
    for (int i = 0; i < n; ++i) ok = ok && x[i] < INFINITY;
    *finite = ok;
    if (!z) return max_f32(x, n);
    for (int i = 0; i < n; ++i) z[i] = x[i] / t;
    return max_f32(z, n);
}
void expf_libm(const float* x, float* y, int n);
double exp_sum(const float* z, float mx, float* e, int n) {
    for (int i = 0; i < n; ++i) e[i] = z[i] - mx;
    expf_libm(e, e, n);
    return sum_f32(e, n);
}
void buckets_stats(const float* z, const float* e, int n, float mx, double L, double inv_s,
                   uint16_t* idx, double out[3]) {
    sample_buckets(z, n, mx, idx);
    softmax_stats(z, e, n, mx, L, inv_s, out);
}

void dot_q4_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    gemm_q4_0(n, w, 0, 1, act, stride, n_act, out, 1);
}

// The packed layout, row by row: unpack each row's blocks and run gemm_q4_0.
void gemm_q4_0_packed(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                      size_t act_stride, int n_act, float* out, size_t out_stride) {
    const int nb = n / QK4_0;
    std::vector<BlockQ4_0> row(static_cast<size_t>(nb));
    for (int r = 0; r < n_w; ++r) {
        const int64_t t = tile0 + r / kQ4Tile;
        const int lane = r % kQ4Tile;
        for (int b = 0; b < nb; ++b) {
            const auto* p = static_cast<const uint8_t*>(packed) +
                            (static_cast<size_t>(t) * nb + b) * (kQ4Tile * sizeof(BlockQ4_0));
            for (int c = 0; c < 4; ++c)
                std::memcpy(row[static_cast<size_t>(b)].qs + 4 * c, p + 64 * c + 4 * lane, 4);
            std::memcpy(&row[static_cast<size_t>(b)].d, p + 256 + 2 * lane, 2);
        }
        gemm_q4_0(n, row.data(), 0, 1, act, act_stride, n_act, out + r, out_stride);
    }
}

// The 32 signed 5-bit quants of a Q5_0 block (nibble + 16 * high bit - 16).
void q5_0_values(const BlockQ5_0& x, int v[32]) {
    uint32_t h;
    std::memcpy(&h, x.qh, 4);
    for (int j = 0; j < 16; ++j) {
        v[j] = ((x.qs[j] & 0xF) | static_cast<int>(((h >> j) << 4) & 0x10)) - 16;
        v[j + 16] = ((x.qs[j] >> 4) | static_cast<int>((h >> (j + 12)) & 0x10)) - 16;
    }
}

// Q5_0 in llama.cpp's vec_dot order, as Q8_0 below.
void dot_q5_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ5_0*>(w);
    const int nb = n / QK8_0;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
        const auto* yd = reinterpret_cast<const float*>(a + q8_act_sums_offset(nb)) + nb;
        float lane[8] = {};
        for (int b = 0; b < nb; ++b) {
            int v[32];
            q5_0_values(x[b], v);
            const float d = h2f(x[b].d) * yd[b];
            for (int l = 0; l < 8; ++l) {
                int isum = 0;
                for (int k = 0; k < 4; ++k) isum += v[4 * l + k] * y[b].qs[4 * l + k];
                lane[l] = std::fma(d, static_cast<float>(isum), lane[l]);
            }
        }
        float t4[4];
        for (int l = 0; l < 4; ++l) t4[l] = lane[l] + lane[l + 4];
        return (t4[0] + t4[2]) + (t4[1] + t4[3]);
    });
}

// Q5_1 (kernels.h): Q5_0's lanes over the unsigned quants, the minimum
// against the activation block's sum rounded to F16 as llama.cpp's Q8_1 keeps it.
void dot_q5_1(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ5_1*>(w);
    const int nb = n / QK8_0;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
        const auto* sums = reinterpret_cast<const int32_t*>(a + q8_act_sums_offset(nb));
        const auto* yd = reinterpret_cast<const float*>(sums + nb);
        float lane[8] = {}, accm = 0;
        for (int b = 0; b < nb; ++b) {
            uint32_t h;
            std::memcpy(&h, x[b].qh, 4);
            int v[32];
            for (int j = 0; j < 16; ++j) {
                v[j] = (x[b].qs[j] & 0xF) | static_cast<int>(((h >> j) << 4) & 0x10);
                v[j + 16] = (x[b].qs[j] >> 4) | static_cast<int>((h >> (j + 12)) & 0x10);
            }
            const float d = h2f(x[b].d) * yd[b];
            for (int l = 0; l < 8; ++l) {
                int isum = 0;
                for (int k = 0; k < 4; ++k) isum += v[4 * l + k] * y[b].qs[4 * l + k];
                lane[l] = std::fma(d, static_cast<float>(isum), lane[l]);
            }
            const float s = h2f(fp32_to_fp16(yd[b] * static_cast<float>(sums[b] / 8)));
            accm = std::fma(h2f(x[b].m), s, accm);
        }
        float t4[4];
        for (int l = 0; l < 4; ++l) t4[l] = lane[l] + lane[l + 4];
        return ((t4[0] + t4[2]) + (t4[1] + t4[3])) + accm;
    });
}

// Q8_0 in llama.cpp's vec_dot order: 8 lanes of 4 products per block,
// lane = fma(d_w * d_a, isum_lane, lane), lanes summed at the end.
void dot_q8_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    const int nb = n / QK8_0;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
        const auto* yd = reinterpret_cast<const float*>(a + q8_act_sums_offset(nb)) + nb;
        float lane[8] = {};
        for (int b = 0; b < nb; ++b) {
            const float d = h2f(x[b].d) * yd[b];
            for (int l = 0; l < 8; ++l) {
                int isum = 0;
                for (int k = 0; k < 4; ++k) isum += x[b].qs[4 * l + k] * y[b].qs[4 * l + k];
                lane[l] = std::fma(d, static_cast<float>(isum), lane[l]);
            }
        }
        float t4[4];
        for (int l = 0; l < 4; ++l) t4[l] = lane[l] + lane[l + 4];
        return (t4[0] + t4[2]) + (t4[1] + t4[3]);
    });
}

void dot_q4_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    int nb = n / QK_K;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
        // Per pair of sub-blocks (64 weights): exact integers, then one fma each,
        // as llama.cpp's repacked Q4_K kernels accumulate.
        float acc = 0, accm = 0;
        for (int b = 0; b < nb; ++b) {
            const uint8_t* q = x[b].qs;
            const int8_t* q8 = y[b].qs;
            for (int j = 0; j < 4; ++j) {  // 64 weights: low nibbles then high nibbles
                uint8_t sc1, m1, sc2, m2;
                q4k_scale_min(2 * j, x[b].scales, sc1, m1);
                q4k_scale_min(2 * j + 1, x[b].scales, sc2, m2);
                int s1 = 0, s2 = 0;
                for (int l = 0; l < 32; ++l) {
                    s1 += (q[l] & 0xF) * q8[l];
                    s2 += (q[l] >> 4) * q8[l + 32];
                }
                const int sumi = sc1 * s1 + sc2 * s2;
                const int summ = m1 * (y[b].bsums[4 * j] + y[b].bsums[4 * j + 1]) +
                                 m2 * (y[b].bsums[4 * j + 2] + y[b].bsums[4 * j + 3]);
                acc = std::fma(static_cast<float>(sumi), h2f(x[b].d) * y[b].d, acc);
                accm = std::fma(static_cast<float>(summ), h2f(x[b].dmin) * y[b].d, accm);
                q += 32;
                q8 += 64;
            }
        }
        return acc - accm;
    });
}

void dot_q6_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ6_K*>(w);
    int nb = n / QK_K;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
        float acc = 0;  // per block: the exact integer, then one fma
        for (int b = 0; b < nb; ++b) {
            int8_t q6[256];
            const uint8_t* ql = x[b].ql;
            const uint8_t* qh = x[b].qh;
            for (int h = 0; h < 256; h += 128) {
                for (int l = 0; l < 32; ++l) {
                    q6[h + l] =
                        static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                    q6[h + l + 32] =
                        static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                    q6[h + l + 64] =
                        static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                    q6[h + l + 96] =
                        static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
                }
                ql += 64;
                qh += 32;
            }
            int isum = 0;
            for (int v = 0; v < 256; ++v) isum += x[b].scales[v / 16] * q6[v] * y[b].qs[v];
            acc = std::fma(static_cast<float>(isum), h2f(x[b].d) * y[b].d, acc);
        }
        return acc;
    });
}

// The 256 quants of a K-quant block in value order: Q2_K 0..3, Q3_K -4..3,
// Q5_K 0..31.
void q2k_values(const BlockQ2_K& x, int q[256]) {
    for (int v = 0; v < 256; ++v)
        q[v] = (x.qs[32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3;
}
void q3k_values(const BlockQ3_K& x, int q[256]) {
    for (int v = 0; v < 256; ++v) {
        const int n = v / 128, j = (v % 128) / 32, l = v % 32;
        const int lo = (x.qs[32 * n + l] >> (2 * j)) & 3;
        const int hi = (x.hmask[l] >> (4 * n + j)) & 1;
        q[v] = lo + 4 * hi - 4;
    }
}
void q5k_values(const BlockQ5_K& x, int q[256]) {
    for (int v = 0; v < 256; ++v) {
        const int s = v / 32, l = v % 32;
        const uint8_t b = x.qs[32 * (s / 2) + l];
        q[v] = ((s % 2 ? b >> 4 : b & 0xF) | (((x.qh[l] >> s) & 1) << 4));
    }
}
// 32 table values of a block's 16 bytes of nibbles (low nibbles first).
void nibble_values(const uint8_t* qs, const int8_t* table, int v[32]) {
    for (int j = 0; j < 16; ++j) {
        v[j] = table[qs[j] & 0xF];
        v[j + 16] = table[qs[j] >> 4];
    }
}

// The exact integer dot of n decoded quants with n int8 activations.
int idot(const int* q, const int8_t* y, int n) {
    int s = 0;
    for (int l = 0; l < n; ++l) s += q[l] * y[l];
    return s;
}

// Q2_K: per block the exact scaled integer and the mins against the group
// sums, one fma each (kernels.h).
void dot_q2_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ2_K*>(w);
    const int nb = n / QK_K;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
        float acc = 0, accm = 0;
        for (int b = 0; b < nb; ++b) {
            int q[256];
            q2k_values(x[b], q);
            int isum = 0, summ = 0;
            for (int g = 0; g < 16; ++g) {
                isum += (x[b].scales[g] & 0xF) * idot(q + 16 * g, y[b].qs + 16 * g, 16);
                summ += (x[b].scales[g] >> 4) * y[b].bsums[g];
            }
            acc = std::fma(static_cast<float>(isum), h2f(x[b].d) * y[b].d, acc);
            accm = std::fma(static_cast<float>(summ), h2f(x[b].dmin) * y[b].d, accm);
        }
        return acc - accm;
    });
}

void dot_q3_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ3_K*>(w);
    const int nb = n / QK_K;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
        float acc = 0;
        for (int b = 0; b < nb; ++b) {
            int q[256];
            q3k_values(x[b], q);
            int isum = 0;
            for (int g = 0; g < 16; ++g)
                isum += q3k_scale(g, x[b].scales) * idot(q + 16 * g, y[b].qs + 16 * g, 16);
            acc = std::fma(static_cast<float>(isum), h2f(x[b].d) * y[b].d, acc);
        }
        return acc;
    });
}

void dot_q5_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ5_K*>(w);
    const int nb = n / QK_K;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
        float acc = 0, accm = 0;
        for (int b = 0; b < nb; ++b) {
            int q[256];
            q5k_values(x[b], q);
            int isum = 0, summ = 0;
            for (int s = 0; s < 8; ++s) {
                uint8_t sc, m;
                q4k_scale_min(s, x[b].scales, sc, m);
                isum += sc * idot(q + 32 * s, y[b].qs + 32 * s, 32);
                summ += m * (y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
            }
            acc = std::fma(static_cast<float>(isum), h2f(x[b].d) * y[b].d, acc);
            accm = std::fma(static_cast<float>(summ), h2f(x[b].dmin) * y[b].d, accm);
        }
        return acc - accm;
    });
}

void dot_iq4_xs(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockIQ4_XS*>(w);
    const int nb = n / QK_K;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
        float acc = 0;
        for (int b = 0; b < nb; ++b) {
            int isum = 0;
            for (int ib = 0; ib < 8; ++ib) {
                int v[32];
                nibble_values(x[b].qs + 16 * ib, kIq4Values, v);
                isum += iq4xs_scale(ib, x[b]) * idot(v, y[b].qs + 32 * ib, 32);
            }
            acc = std::fma(static_cast<float>(isum), h2f(x[b].d) * y[b].d, acc);
        }
        return acc;
    });
}

// 32-blocks of table codes (IQ4_NL, MXFP4) against Q8_0 activations, in
// Q8_0's lane order (kernels.h).
template <typename Block>
float dot_table_q8_0(const Block* x, const uint8_t* a, int nb) {
    const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
    const auto* yd = reinterpret_cast<const float*>(a + q8_act_sums_offset(nb)) + nb;
    float lane[8] = {};
    for (int b = 0; b < nb; ++b) {
        int v[32];
        float dw;
        if constexpr (std::is_same_v<Block, BlockMXFP4>) {
            nibble_values(x[b].qs, kMxfp4Values, v);
            dw = e8m0_half(x[b].e);
        } else {
            nibble_values(x[b].qs, kIq4Values, v);
            dw = h2f(x[b].d);
        }
        const float d = dw * yd[b];
        for (int l = 0; l < 8; ++l) {
            int isum = 0;
            for (int k = 0; k < 4; ++k) isum += v[4 * l + k] * y[b].qs[4 * l + k];
            lane[l] = std::fma(d, static_cast<float>(isum), lane[l]);
        }
    }
    float t4[4];
    for (int l = 0; l < 4; ++l) t4[l] = lane[l] + lane[l + 4];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

void dot_iq4_nl(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        return dot_table_q8_0(static_cast<const BlockIQ4_NL*>(w), a, n / QK8_0);
    });
}

void dot_mxfp4(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        return dot_table_q8_0(static_cast<const BlockMXFP4*>(w), a, n / QK8_0);
    });
}

// Activation rows for Q4_0/Q8_0 weights: Q8_0 blocks, then d * sum(q) per
// block and d per block as floats (nb each), which the SIMD kernels use to
// fold constant offsets and to skip half-to-float conversions.
// Activation rows to Q8_0 as llama.cpp's x86 path does it: scale 127/amax
// (not 1/d: the two differ in the last bit now and then, and a quant that
// rounds the other way moves a logit by ~0.05), round half to even.
void quantize_q8_0(const float* x, void* vy, int n) {
    const int nb = n / QK8_0;
    auto* y = static_cast<BlockQ8_0*>(vy);
    for (int b = 0; b < nb; ++b) {
        const float* xb = x + static_cast<size_t>(b) * QK8_0;
        float amax = 0;
        for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(xb[j]));
        y[b].d = fp32_to_fp16(amax / 127.f);
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        for (int j = 0; j < QK8_0; ++j)
            y[b].qs[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
    }
    auto* sums = reinterpret_cast<int32_t*>(static_cast<uint8_t*>(vy) + q8_act_sums_offset(nb));
    auto* ds = reinterpret_cast<float*>(sums + nb);
    for (int b = 0; b < nb; ++b) {
        int s = 0;
        for (int j = 0; j < QK8_0; ++j) s += y[b].qs[j];
        ds[b] = h2f(y[b].d);
        sums[b] = 8 * s;
    }
}

void quantize_q8_k(const float* x, void* vy, int n) {
    auto* y = static_cast<BlockQ8_K*>(vy);
    for (int b = 0; b < n / QK_K; ++b, x += QK_K) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK_K; ++j) {
            float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0) {
            y[b].d = 0;
            std::memset(y[b].qs, 0, sizeof y[b].qs);
            std::memset(y[b].bsums, 0, sizeof y[b].bsums);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; ++j) {
            int v = static_cast<int>(std::nearbyint(iscale * x[j]));
            y[b].qs[j] = static_cast<int8_t>(std::min(127, v));
        }
        for (int g = 0; g < 16; ++g) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += y[b].qs[g * 16 + l];
            y[b].bsums[g] = static_cast<int16_t>(sum);
        }
        y[b].d = 1 / iscale;
    }
}

void swiglu(const float* g, const float* u, float* out, int n) {
    const int nv = n / 16 * 16;
    for (int i = 0; i < nv; ++i) out[i] = g[i] / (1.0f + vexp(0.0f - g[i])) * u[i];
    for (int i = nv; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void f32_to_f16(const float* x, uint16_t* y, int n) {
    for (int i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

void expf_libm(const float* x, float* y, int n) {
    for (int i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

void rmsnorm(const float* x, const float* w, float* out, int n_rows, int n, float eps) {
    for (int r = 0; r < n_rows; ++r) {
        const float* xr = x + static_cast<size_t>(r) * n;
        float* o = out + static_cast<size_t>(r) * n;
        double ss = 0;
        for (int i = 0; i < n; ++i) ss += static_cast<double>(xr[i] * xr[i]);
        const float scale = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
        if (w)
            for (int i = 0; i < n; ++i) o[i] = xr[i] * scale * w[i];
        else
            for (int i = 0; i < n; ++i) o[i] = xr[i] * scale;
    }
}

void rope(float* x, int n_heads, int hd, int n_dims, const float* cos, const float* sin,
          bool neox) {
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<size_t>(h) * hd;
        for (int i = 0; i < n_dims / 2; ++i) {
            const int a = neox ? i : 2 * i, b = neox ? i + n_dims / 2 : 2 * i + 1;
            const float c = cos[i], s = sin[i], x0 = v[a], x1 = v[b];
            v[a] = std::fma(x0, c, -(x1 * s));
            v[b] = std::fma(x0, s, x1 * c);
        }
    }
}

// F16 value-sum updates (attn_loop.h's round_f16 after each; the SIMD tables
// have their own).
void f16_mad(float* y, const uint16_t* x, float v, int n) {
    for (int i = 0; i < n; ++i) y[i] = round_f16(std::fma(fp16_lookup(x[i]), v, y[i]));
}
void f16_scale(float* y, float v, int n) {
    for (int i = 0; i < n; ++i) y[i] = round_f16(y[i] * v);
}

void attn_f32(AttnHead* heads, int nh, const float* const* k, const float* const* v, int n, int hd,
              float scale) {
    for (int h = 0; h < nh; ++h)
        attn_loop<float, dot_f32_chain, f32_mad, f32_scale, attn_exp>(heads[h], k, v, n, hd, scale);
}

void attn_f16(AttnHead* heads, int nh, const uint16_t* const* k, const uint16_t* const* v, int n,
              int hd, float scale) {
    for (int h = 0; h < nh; ++h)
        attn_loop<uint16_t, dot_f16_row, f16_mad, f16_scale, libm_exp>(heads[h], k, v, n, hd,
                                                                       scale);
}

}  // namespace

void quantize_row_q8_0_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_0*>(vy);
    for (int64_t b = 0; b < n / QK8_0; ++b, x += QK8_0) {
        float amax = 0;
        for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.f;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y[b].qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
    }
}

// K-quants for writing benchmark files: plain per-sub-block min/max (Q4_K)
// and absolute-max (Q6_K) scales, quantized to 6/8 bits against one f16
// super-block scale. Simpler than llama.cpp's search for the best scales (a
// little more error), the same format.
void quantize_row_q4_k_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ4_K*>(vy);
    for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
        float scale[8], mins[8], dmax = 0, mmax = 0;
        for (int j = 0; j < 8; ++j) {
            float lo = 0, hi = 0;
            for (int i = 0; i < 32; ++i) {
                lo = std::min(lo, x[32 * j + i]);
                hi = std::max(hi, x[32 * j + i]);
            }
            scale[j] = (hi - lo) / 15.0f;
            mins[j] = -lo;
            dmax = std::max(dmax, scale[j]);
            mmax = std::max(mmax, mins[j]);
        }
        const float d = dmax / 63.0f, dmin = mmax / 63.0f;
        y[b].d = fp32_to_fp16(d);
        y[b].dmin = fp32_to_fp16(dmin);
        const float dq = h2f(y[b].d), dmq = h2f(y[b].dmin);
        uint8_t sc[8], m[8];
        for (int j = 0; j < 8; ++j) {
            sc[j] = static_cast<uint8_t>(
                std::clamp(static_cast<int>(std::lround(dq > 0 ? scale[j] / dq : 0.0f)), 0, 63));
            m[j] = static_cast<uint8_t>(
                std::clamp(static_cast<int>(std::lround(dmq > 0 ? mins[j] / dmq : 0.0f)), 0, 63));
        }
        for (int j = 0; j < 4; ++j) {
            y[b].scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
            y[b].scales[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
            y[b].scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
        }
        uint8_t q[QK_K];
        for (int j = 0; j < 8; ++j) {
            const float step = dq * sc[j], off = dmq * m[j];
            for (int i = 0; i < 32; ++i)
                q[32 * j + i] = static_cast<uint8_t>(std::clamp(
                    static_cast<int>(std::lround(step > 0 ? (x[32 * j + i] + off) / step : 0.0f)),
                    0, 15));
        }
        for (int p = 0; p < 4; ++p)
            for (int l = 0; l < 32; ++l)
                y[b].qs[32 * p + l] =
                    static_cast<uint8_t>(q[64 * p + l] | (q[64 * p + 32 + l] << 4));
    }
}

void quantize_row_q6_k_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ6_K*>(vy);
    for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
        float scale[16], smax = 0;
        for (int j = 0; j < 16; ++j) {
            float amax = 0;
            for (int i = 0; i < 16; ++i) amax = std::max(amax, std::fabs(x[16 * j + i]));
            scale[j] = amax / 31.0f;
            smax = std::max(smax, scale[j]);
        }
        const float d = smax / 127.0f;
        y[b].d = fp32_to_fp16(d);
        const float dq = h2f(y[b].d);
        int q[QK_K];
        for (int j = 0; j < 16; ++j) {
            const int sc =
                std::clamp(static_cast<int>(std::lround(dq > 0 ? scale[j] / dq : 0.0f)), 0, 127);
            y[b].scales[j] = static_cast<int8_t>(sc);
            const float step = dq * static_cast<float>(sc);
            for (int i = 0; i < 16; ++i)
                q[16 * j + i] =
                    std::clamp(
                        static_cast<int>(std::lround(step > 0 ? x[16 * j + i] / step : 0.0f)), -32,
                        31) +
                    32;
        }
        std::memset(y[b].qh, 0, sizeof y[b].qh);
        for (int h = 0; h < 2; ++h) {
            uint8_t* ql = y[b].ql + 64 * h;
            uint8_t* qh = y[b].qh + 32 * h;
            const int* qq = q + 128 * h;
            for (int l = 0; l < 32; ++l) {
                ql[l] = static_cast<uint8_t>((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
                ql[l + 32] = static_cast<uint8_t>((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
                qh[l] = static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) |
                                             ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
            }
        }
    }
}

// Q5_K as quantize_row_q4_k_ref with 32 levels: per sub-block min/max, 6-bit
// scales and mins against f16 super-block scales.
void quantize_row_q5_k_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ5_K*>(vy);
    for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
        float scale[8], mins[8], dmax = 0, mmax = 0;
        for (int j = 0; j < 8; ++j) {
            float lo = 0, hi = 0;
            for (int i = 0; i < 32; ++i) {
                lo = std::min(lo, x[32 * j + i]);
                hi = std::max(hi, x[32 * j + i]);
            }
            scale[j] = (hi - lo) / 31.0f;
            mins[j] = -lo;
            dmax = std::max(dmax, scale[j]);
            mmax = std::max(mmax, mins[j]);
        }
        y[b].d = fp32_to_fp16(dmax / 63.0f);
        y[b].dmin = fp32_to_fp16(mmax / 63.0f);
        const float dq = h2f(y[b].d), dmq = h2f(y[b].dmin);
        uint8_t sc[8], m[8];
        for (int j = 0; j < 8; ++j) {
            sc[j] = static_cast<uint8_t>(
                std::clamp(static_cast<int>(std::lround(dq > 0 ? scale[j] / dq : 0.0f)), 0, 63));
            m[j] = static_cast<uint8_t>(
                std::clamp(static_cast<int>(std::lround(dmq > 0 ? mins[j] / dmq : 0.0f)), 0, 63));
        }
        for (int j = 0; j < 4; ++j) {
            y[b].scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
            y[b].scales[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
            y[b].scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
        }
        std::memset(y[b].qh, 0, sizeof y[b].qh);
        std::memset(y[b].qs, 0, sizeof y[b].qs);
        for (int j = 0; j < 8; ++j) {
            const float step = dq * sc[j], off = dmq * m[j];
            for (int l = 0; l < 32; ++l) {
                const int q = std::clamp(
                    static_cast<int>(std::lround(step > 0 ? (x[32 * j + l] + off) / step : 0.0f)),
                    0, 31);
                y[b].qs[32 * (j / 2) + l] |= static_cast<uint8_t>((q & 0xF) << (4 * (j % 2)));
                y[b].qh[l] |= static_cast<uint8_t>((q >> 4) << j);
            }
        }
    }
}

namespace {
// The index of the IQ4 grid value nearest to v.
uint8_t iq4_nearest(float v) {
    int best = 0;
    for (int i = 1; i < 16; ++i)
        if (std::fabs(v - kIq4Values[i]) < std::fabs(v - kIq4Values[best])) best = i;
    return static_cast<uint8_t>(best);
}
// 32 values against step d (grid value * d), packed as nibbles like Q4_0.
void iq4_pack(const float* x, float d, uint8_t* qs) {
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 16; ++j)
        qs[j] = static_cast<uint8_t>(iq4_nearest(x[j] * id) | (iq4_nearest(x[j + 16] * id) << 4));
}
// The signed value of largest magnitude among n.
float signed_amax(const float* x, int n) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; ++i)
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            max = x[i];
        }
    return max;
}
}  // namespace

// IQ4_NL / IQ4_XS: the value of largest magnitude maps to the grid's end
// (-127), every value to its nearest grid point (no search for a better scale).
void quantize_row_iq4_nl_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockIQ4_NL*>(vy);
    for (int64_t b = 0; b < n / 32; ++b, x += 32) {
        y[b].d = fp32_to_fp16(signed_amax(x, 32) / -127.0f);
        iq4_pack(x, h2f(y[b].d), y[b].qs);
    }
}

void quantize_row_iq4_xs_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockIQ4_XS*>(vy);
    for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
        float sub[8], smax = 0;
        for (int ib = 0; ib < 8; ++ib) {
            sub[ib] = signed_amax(x + 32 * ib, 32) / -127.0f;
            smax = std::max(smax, std::fabs(sub[ib]));
        }
        y[b].d = fp32_to_fp16(smax / 31.0f);
        const float d = h2f(y[b].d);
        y[b].scales_h = 0;
        std::memset(y[b].scales_l, 0, sizeof y[b].scales_l);
        for (int ib = 0; ib < 8; ++ib) {
            const int ls =
                std::clamp(static_cast<int>(std::lround(d > 0 ? sub[ib] / d : 0.0f)), -32, 31) + 32;
            y[b].scales_l[ib / 2] |= static_cast<uint8_t>((ls & 0xF) << (4 * (ib % 2)));
            y[b].scales_h = static_cast<uint16_t>(y[b].scales_h | ((ls >> 4) << (2 * ib)));
            iq4_pack(x + 32 * ib, d * static_cast<float>(ls - 32), y[b].qs + 16 * ib);
        }
    }
}

void quantize_row_q5_0_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ5_0*>(vy);
    for (int64_t b = 0; b < n / QK8_0; ++b, x += QK8_0) {
        float amax = 0, max = 0;  // the signed value of largest magnitude maps to -16
        for (int j = 0; j < 32; ++j)
            if (std::fabs(x[j]) > amax) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        const float d = max / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        uint32_t h = 0;
        for (int j = 0; j < 16; ++j) {
            auto q = [&](float v) {
                return static_cast<uint8_t>(std::min(31, static_cast<int>(v * id + 16.5f)));
            };
            const uint8_t a = q(x[j]), c = q(x[j + 16]);
            y[b].qs[j] = static_cast<uint8_t>((a & 0xF) | ((c & 0xF) << 4));
            h |= static_cast<uint32_t>((a & 0x10) >> 4) << j;
            h |= static_cast<uint32_t>((c & 0x10) >> 4) << (j + 16);
        }
        std::memcpy(y[b].qh, &h, 4);
    }
}

// Q5_1: per block min and (max - min) / 31, round to nearest.
void quantize_row_q5_1_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ5_1*>(vy);
    for (int64_t b = 0; b < n / 32; ++b, x += 32) {
        float lo = x[0], hi = x[0];
        for (int j = 1; j < 32; ++j) {
            lo = std::min(lo, x[j]);
            hi = std::max(hi, x[j]);
        }
        const float d = (hi - lo) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        y[b].m = fp32_to_fp16(lo);
        uint32_t h = 0;
        for (int j = 0; j < 16; ++j) {
            auto q = [&](float v) {
                return static_cast<uint8_t>(std::min(31, static_cast<int>((v - lo) * id + 0.5f)));
            };
            const uint8_t a = q(x[j]), c = q(x[j + 16]);
            y[b].qs[j] = static_cast<uint8_t>((a & 0xF) | ((c & 0xF) << 4));
            h |= static_cast<uint32_t>((a & 0x10) >> 4) << j;
            h |= static_cast<uint32_t>((c & 0x10) >> 4) << (j + 16);
        }
        std::memcpy(y[b].qh, &h, 4);
    }
}

void quantize_row_q4_0_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ4_0*>(vy);
    for (int64_t b = 0; b < n / QK4_0; ++b, x += QK4_0) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK4_0; ++j) {
            if (std::fabs(x[j]) > amax) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < 16; ++j) {
            auto q0 = static_cast<uint8_t>(std::min(15, static_cast<int>(x[j] * id + 8.5f)));
            auto q1 = static_cast<uint8_t>(std::min(15, static_cast<int>(x[j + 16] * id + 8.5f)));
            y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

bool dequantize_row(uint32_t type, const void* src, float* y, int64_t n) {
    switch (type) {
        case 0:
            std::memcpy(y, src, static_cast<size_t>(n) * 4);
            return true;
        case 1: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) y[i] = h2f(h[i]);
            return true;
        }
        case 30: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(h[i]);
            return true;
        }
        case 2: {
            const auto* x = static_cast<const BlockQ4_0*>(src);
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                float d = h2f(x[b].d);
                for (int j = 0; j < 16; ++j) {
                    y[j] = static_cast<float>((x[b].qs[j] & 0xF) - 8) * d;
                    y[j + 16] = static_cast<float>((x[b].qs[j] >> 4) - 8) * d;
                }
            }
            return true;
        }
        case 3: {
            const auto* x = static_cast<const BlockQ4_1*>(src);
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                float d = h2f(x[b].d), m = h2f(x[b].m);
                for (int j = 0; j < 16; ++j) {
                    y[j] = static_cast<float>(x[b].qs[j] & 0xF) * d + m;
                    y[j + 16] = static_cast<float>(x[b].qs[j] >> 4) * d + m;
                }
            }
            return true;
        }
        case 6:
        case 7: {
            bool has_min = type == 7;
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                float d, m = 0;
                const uint8_t *qh, *qs;
                if (has_min) {
                    const auto* x = static_cast<const BlockQ5_1*>(src) + b;
                    d = h2f(x->d);
                    m = h2f(x->m);
                    qh = x->qh;
                    qs = x->qs;
                } else {
                    const auto* x = static_cast<const BlockQ5_0*>(src) + b;
                    d = h2f(x->d);
                    qh = x->qh;
                    qs = x->qs;
                }
                uint32_t h;
                std::memcpy(&h, qh, 4);
                int off = has_min ? 0 : 16;
                for (int j = 0; j < 16; ++j) {
                    int x0 = (qs[j] & 0xF) | static_cast<int>(((h >> j) << 4) & 0x10);
                    int x1 = (qs[j] >> 4) | static_cast<int>((h >> (j + 12)) & 0x10);
                    y[j] = static_cast<float>(x0 - off) * d + m;
                    y[j + 16] = static_cast<float>(x1 - off) * d + m;
                }
            }
            return true;
        }
        case 8: {
            const auto* x = static_cast<const BlockQ8_0*>(src);
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                float d = h2f(x[b].d);
                for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
            }
            return true;
        }
        case 12: {
            const auto* x = static_cast<const BlockQ4_K*>(src);
            for (int64_t b = 0; b < n / QK_K; ++b) {
                const uint8_t* q = x[b].qs;
                float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
                for (int j = 0; j < 4; ++j) {
                    uint8_t sc1, m1, sc2, m2;
                    q4k_scale_min(2 * j, x[b].scales, sc1, m1);
                    q4k_scale_min(2 * j + 1, x[b].scales, sc2, m2);
                    for (int l = 0; l < 32; ++l) *y++ = d * sc1 * (q[l] & 0xF) - dmin * m1;
                    for (int l = 0; l < 32; ++l) *y++ = d * sc2 * (q[l] >> 4) - dmin * m2;
                    q += 32;
                }
            }
            return true;
        }
        case 14: {
            const auto* x = static_cast<const BlockQ6_K*>(src);
            for (int64_t b = 0; b < n / QK_K; ++b) {
                float d = h2f(x[b].d);
                const uint8_t* ql = x[b].ql;
                const uint8_t* qh = x[b].qh;
                const int8_t* sc = x[b].scales;
                for (int h = 0; h < 256; h += 128) {
                    for (int l = 0; l < 32; ++l) {
                        int is = l / 16;
                        int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                        int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                        y[l] = d * sc[is] * q1;
                        y[l + 32] = d * sc[is + 2] * q2;
                        y[l + 64] = d * sc[is + 4] * q3;
                        y[l + 96] = d * sc[is + 6] * q4;
                    }
                    y += 128;
                    ql += 64;
                    qh += 32;
                    sc += 8;
                }
            }
            return true;
        }
        case W_Q2_K: {
            const auto* x = static_cast<const BlockQ2_K*>(src);
            for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
                int q[256];
                q2k_values(x[b], q);
                const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
                for (int v = 0; v < 256; ++v) {
                    const uint8_t sc = x[b].scales[v / 16];
                    y[v] = d * static_cast<float>(sc & 0xF) * static_cast<float>(q[v]) -
                           dmin * static_cast<float>(sc >> 4);
                }
            }
            return true;
        }
        case W_Q3_K: {
            const auto* x = static_cast<const BlockQ3_K*>(src);
            for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
                int q[256];
                q3k_values(x[b], q);
                const float d = h2f(x[b].d);
                for (int v = 0; v < 256; ++v)
                    y[v] = d * static_cast<float>(q3k_scale(v / 16, x[b].scales)) *
                           static_cast<float>(q[v]);
            }
            return true;
        }
        case W_Q5_K: {
            const auto* x = static_cast<const BlockQ5_K*>(src);
            for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
                int q[256];
                q5k_values(x[b], q);
                const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
                for (int s = 0; s < 8; ++s) {
                    uint8_t sc, m;
                    q4k_scale_min(s, x[b].scales, sc, m);
                    const float ds = d * sc, ms = dmin * m;
                    for (int l = 0; l < 32; ++l)
                        y[32 * s + l] = ds * static_cast<float>(q[32 * s + l]) - ms;
                }
            }
            return true;
        }
        case W_IQ4_NL: {
            const auto* x = static_cast<const BlockIQ4_NL*>(src);
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                int v[32];
                nibble_values(x[b].qs, kIq4Values, v);
                const float d = h2f(x[b].d);
                for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(v[j]);
            }
            return true;
        }
        case W_IQ4_XS: {
            const auto* x = static_cast<const BlockIQ4_XS*>(src);
            for (int64_t b = 0; b < n / QK_K; ++b) {
                const float d = h2f(x[b].d);
                for (int ib = 0; ib < 8; ++ib, y += 32) {
                    int v[32];
                    nibble_values(x[b].qs + 16 * ib, kIq4Values, v);
                    const float dl = d * static_cast<float>(iq4xs_scale(ib, x[b]));
                    for (int j = 0; j < 32; ++j) y[j] = dl * static_cast<float>(v[j]);
                }
            }
            return true;
        }
        case W_MXFP4: {
            const auto* x = static_cast<const BlockMXFP4*>(src);
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                int v[32];
                nibble_values(x[b].qs, kMxfp4Values, v);
                const float d = e8m0_half(x[b].e);
                for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(v[j]);
            }
            return true;
        }
        default:
            return false;
    }
}

const KernelTable kScalarTable = {
    .isa = Isa::Scalar,
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot_q4_0 = dot_q4_0,
    .dot_q5_0 = dot_q5_0,
    .dot_q8_0 = dot_q8_0,
    .dot_q4_k = dot_q4_k,
    .dot_q6_k = dot_q6_k,
    .dot_q2_k = dot_q2_k,
    .dot_q3_k = dot_q3_k,
    .dot_q5_k = dot_q5_k,
    .dot_iq4_xs = dot_iq4_xs,
    .dot_iq4_nl = dot_iq4_nl,
    .dot_mxfp4 = dot_mxfp4,
    .dot_q5_1 = dot_q5_1,
    .dot_f32_tiled = dot_f32_tiled,
    .dot_f16_tiled = dot_f16_tiled,
    .gemm_q4_0 = gemm_q4_0,
    .gemm_q4_0_packed = gemm_q4_0_packed,
    .gemm_q5_0_packed = gemm_q5_0_packed,
    .gemm_q4_k_packed = gemm_q4_k_packed,
    .gemm_q5_k_packed = gemm_q5_k_packed,
    .gemm_q6_k_packed = gemm_q6_k_packed,
    .gemm_q8_0 = nullptr,  // dot_q8_0 row by row
    .gemm_q5_0 = nullptr,
    .quantize_q8_0 = quantize_q8_0,
    .quantize_q8_k = quantize_q8_k,
    .f32_to_f16 = f32_to_f16,
    .swiglu = swiglu,
    .rmsnorm = rmsnorm,
    .rope = rope,
    .exp_f32 = expf_libm,
    .sum_f32 = sum_f32,
    .softmax_stats = softmax_stats,
    .max_f32 = max_f32,
    .sample_buckets = sample_buckets,
    .bucket_members = bucket_members,
    .logits_max = logits_max,
    .exp_sum = exp_sum,
    .buckets_stats = buckets_stats,
    .attn_f16 = attn_f16,
    .attn_f32 = attn_f32,
};

}  // namespace rs::kernels
