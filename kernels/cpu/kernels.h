// CPU kernels behind one table of function pointers, chosen once from the
// CPU's features (AVX-512, AVX2+FMA, scalar). The scalar table is every
// kernel's reference; tests compare the SIMD tables against it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rs::kernels {

enum class Isa { Scalar, Avx2, Avx512 };
const char* isa_name(Isa isa);

// Activation format a weight type's dot product consumes.
enum class ActFormat { F32, Q8_0, Q8_K };

// Weight types with a direct dot kernel (ggml numbering).
enum WeightType : uint32_t {
    W_F32 = 0,
    W_F16 = 1,
    W_Q4_0 = 2,
    W_Q5_0 = 6,
    W_Q5_1 = 7,
    W_Q8_0 = 8,
    W_Q2_K = 10,
    W_Q3_K = 11,
    W_Q4_K = 12,
    W_Q5_K = 13,
    W_Q6_K = 14,
    W_IQ4_NL = 20,
    W_IQ4_XS = 23,
    W_BF16 = 30,
    W_MXFP4 = 39
};

// out[j] = dot(w_row, act_j) for j < n_act; act_j = act + j * act_stride
// bytes; n = row length in elements.
using DotFn = void (*)(int n, const void* w_row, const void* act, size_t act_stride, int n_act,
                       float* out);

// Matrix product of Q4_0 weight rows with Q8_0 activation rows:
// out[j * out_stride + r] = dot(weight row r, activation row j) for r < n_w
// (row r at w + r * w_stride bytes) and j < n_act (row j at act + j *
// act_stride). Every element is computed the same way whatever n_w, n_act or
// the ISA: per block of 32 the exact integer dot product, then
// acc = fma(float(isum), float(d_w * d_a), acc) over the blocks in order. So a
// row's result does not depend on its batch (batch invariance) and the SIMD
// tables agree with the scalar one bit for bit.
using GemmFn = void (*)(int n, const void* w, size_t w_stride, int n_w, const void* act,
                        size_t act_stride, int n_act, float* out, size_t out_stride);

// Q4_0 matrices repacked for the matrix product: tiles of 16 rows; per tile
// and block of 32, 4 groups of 64 bytes (group c: quant bytes 4c..4c+3 of rows
// 0..15, i.e. nibbles 4c..4c+3 in the low halves and 16+4c.. in the high),
// then the 16 rows' f16 scales: 288 bytes, as in the original. Rows past the
// last repeat it. Same arithmetic as GemmFn, so the same results to the bit.
constexpr int kQ4Tile = 16;
size_t q4_0_packed_bytes(int64_t rows, int n);
void pack_q4_0(const void* w, size_t w_stride, int64_t rows, int n, void* packed);
void dequantize_q4_0_packed_row(const void* packed, int n, int64_t row, float* out);
// Rows tile0 * 16 .. + n_w of a packed matrix; out[j * out_stride + r] for r < n_w.
using GemmPackedFn = void (*)(int n, const void* packed, int64_t tile0, int n_w, const void* act,
                              size_t act_stride, int n_act, float* out, size_t out_stride);

// Q4_K matrices repacked for the matrix product: tiles of 16 rows; per tile
// and 256-block, 2048 bytes of quants (for pair c of 32-value groups and each
// 4 bytes g of it, 64 bytes: bytes 32c+4g..+3 of rows 0..15, whose low nibbles
// are values 4g..4g+3 of group 2c and high nibbles those of group 2c+1), then
// the 16 rows' 6-bit scales of groups 0..7 as bytes (group major), their mins
// likewise, then the rows' f16 d and dmin: 2368 bytes for the original 2304.
// Rows past the last repeat it. GemmPackedFn on it gives dot_q4_k's results
// to the bit.
size_t q4_k_packed_bytes(int64_t rows, int n);
void pack_q4_k(const void* w, size_t w_stride, int64_t rows, int n, void* packed);
void dequantize_q4_k_packed_row(const void* packed, int n, int64_t row, float* out);
// Row `row` of a packed Q4_K matrix as the original blocks (n / 256 of them).
void unpack_q4_k_row(const void* packed, int n, int64_t row, void* blocks);

// Q5_0 matrices repacked into 16-row tiles: per tile and 32-block, the rows'
// qs bytes in 4 chunks of 64 (chunk c: bytes 4c..4c+3 of rows 0..15: low
// nibbles are values 4c..4c+3, high nibbles 16+4c..), the rows' 4 qh bytes,
// the rows' f16 d: 352 bytes, as in the original. GemmPackedFn on it gives
// dot_q5_0's results to the bit (against Q8_0 activations).
size_t q5_0_packed_bytes(int64_t rows, int n);
void pack_q5_0(const void* w, size_t w_stride, int64_t rows, int n, void* packed);
void dequantize_q5_0_packed_row(const void* packed, int n, int64_t row, float* out);
void unpack_q5_0_row(const void* packed, int n, int64_t row, void* blocks);

// Q5_K matrices repacked as Q4_K's, with the rows' qh bytes in 8 chunks of 64
// (chunk i: bytes 4i..4i+3 of rows 0..15) after the quants: 2880 bytes for
// the original 2816. GemmPackedFn on it gives dot_q5_k's results to the bit.
size_t q5_k_packed_bytes(int64_t rows, int n);
void pack_q5_k(const void* w, size_t w_stride, int64_t rows, int n, void* packed);
void dequantize_q5_k_packed_row(const void* packed, int n, int64_t row, float* out);
void unpack_q5_k_row(const void* packed, int n, int64_t row, void* blocks);

// Q6_K matrices repacked likewise: per tile and 256-block, the rows' ql bytes
// in 32 chunks of 64 (chunk i: bytes 4i..4i+3 of rows 0..15), their qh bytes
// in 16 such chunks, the 16 groups' int8 scales (group major), the rows' f16
// d: 3360 bytes, as in the original. GemmPackedFn on it gives dot_q6_k's
// results to the bit.
size_t q6_k_packed_bytes(int64_t rows, int n);
void pack_q6_k(const void* w, size_t w_stride, int64_t rows, int n, void* packed);
void dequantize_q6_k_packed_row(const void* packed, int n, int64_t row, float* out);
void unpack_q6_k_row(const void* packed, int n, int64_t row, void* blocks);

// Q8_0 activation rows: nb BlockQ8_0, then (at q8_act_sums_offset) nb int32
// Q4_0 offsets (8 * the sum of each block's quants: Q4_0 kernels multiply the
// unsigned nibbles and subtract it), then nb float scales (the f16 scale widened).
inline size_t q8_act_sums_offset(int nb) {
    return (static_cast<size_t>(nb) * 34 + 3) & ~size_t{3};
}

// One query head's online-softmax state for the attention kernels.
struct AttnHead {
    const float* q;  // hd queries
    float* acc;      // hd value sums (over an F16 cache: F16 values held as floats)
    float M, S;      // running maximum score and denominator
};
// A head before its first position: acc zeroed, M = -inf, S = 0.
void attn_start(AttnHead& h, const float* q, float* acc, int hd);
// out[i] = acc[i] / S (0 if no position was seen); out may be h.acc.
void attn_finish(const AttnHead& h, float* out, int hd);

constexpr int kSampleBuckets = 4096;
constexpr float kSamplePerNat = 64.0f;
// The distance from which tokens share the last bucket.
constexpr float kSampleLastNat = (kSampleBuckets - 1) / kSamplePerNat;

struct KernelTable {
    Isa isa;
    DotFn dot_f32, dot_f16, dot_bf16, dot_q4_0, dot_q5_0, dot_q8_0, dot_q4_k, dot_q6_k;
    // K-quants and IQ4_XS against Q8_K activations: per 256-block the exact
    // integer dot (group scales applied as integers; Q2_K/Q5_K's mins against
    // the activation's group sums as a second integer), then
    // acc = fma(float(isum), d_w * d_a, acc) (and accm likewise with dmin;
    // result acc - accm), blocks in order.
    DotFn dot_q2_k, dot_q3_k, dot_q5_k, dot_iq4_xs;
    // IQ4_NL and MXFP4 (32-blocks of 4-bit codes through a table) against
    // Q8_0 activations in Q8_0's order: 8 lanes of 4 exact products per block,
    // lane = fma(d_w * d_a, lane_isum, lane), lanes summed at the end. MXFP4's
    // codes are doubled E2M1 values and d_w = 2^(e - 128).
    DotFn dot_iq4_nl, dot_mxfp4;
    // Q5_1 against Q8_0 activations: Q5_0's lanes over the unsigned quants,
    // plus the block minimum against the activation block's sum as llama.cpp's
    // Q8_1 holds it (s = f16(d_a * sum(q_a))): accm = fma(m_w, s, accm) in
    // block order; result lanes summed + accm.
    DotFn dot_q5_1;
    // F32 / F16 weight rows against unrounded F32 activations in llama.cpp's
    // prompt-batch order (its tinyBLAS path, taken for two or more rows of one
    // sequence): one 16-lane accumulator over steps of 16, the lanes summed as
    // _mm512_reduce_add_ps does. n must be a multiple of 16.
    DotFn dot_f32_tiled, dot_f16_tiled;
    GemmFn gemm_q4_0;
    GemmPackedFn gemm_q4_0_packed;
    GemmPackedFn gemm_q5_0_packed;  // Q5_0 tiles (pack_q5_0) against Q8_0 activations
    GemmPackedFn gemm_q4_k_packed;  // Q4_K tiles (pack_q4_k) against Q8_K activations
    GemmPackedFn gemm_q5_k_packed;  // Q5_K tiles (pack_q5_k) against Q8_K activations
    GemmPackedFn gemm_q6_k_packed;  // Q6_K tiles (pack_q6_k) against Q8_K activations
    // Q8_0 weights against Q8_0 activations, each element exactly dot_q8_0's
    // (null: take dot_q8_0 row by row).
    GemmFn gemm_q8_0;
    GemmFn gemm_q5_0;  // the same for Q5_0 (dot_q5_0's elements)
    void (*quantize_q8_0)(const float* x, void* y, int n);
    void (*quantize_q8_k)(const float* x, void* y, int n);
    void (*f32_to_f16)(const float* x, uint16_t* y, int n);  // round to nearest even
    // SwiGLU: out[i] = silu(g[i]) * u[i], silu(x) = x / (1 + exp(-x)), with
    // exp as llama.cpp's vector SiLU computes it (the ARM optimized-routines
    // polynomial) on whole groups of 16 and the C library's expf on the rest.
    void (*swiglu)(const float* g, const float* u, float* out, int n);
    // RMSNorm of rows of n values: out[i] = x[i] * scale * w[i] (multiplied
    // in that order), scale = 1 / sqrt(float(ss / n) + eps) with ss the sum of
    // the float squares x[i] * x[i] in double, in order (as ggml's rms_norm);
    // w null: no weight. out may be x. The SIMD tables vectorize the squares
    // and the products; the double sum keeps its order, so all tables agree.
    void (*rmsnorm)(const float* x, const float* w, float* out, int n_rows, int n, float eps);
    // Rotary position embedding of n_heads heads of hd values (one row), the
    // first n_dims of each rotated by the row's angles: cos[i], sin[i] for
    // pair i < n_dims / 2. Pairs are (2i, 2i+1), or (i, i + n_dims/2) with neox.
    // x0' = fma(x0, c, -(x1 * s)), x1' = fma(x0, s, x1 * c), as llama.cpp's.
    void (*rope)(float* x, int n_heads, int hd, int n_dims, const float* cos, const float* sin,
                 bool neox);
    // y[i] = std::exp(x[i]), bit for bit (the SIMD version: expf_data.h).
    void (*exp_f32)(const float* x, float* y, int n);
    // Softmax statistics over a vocabulary, in eight double lanes (element i
    // in lane i % 8, lanes combined ((0+1)+(2+3))+((4+5)+(6+7)), no fma), so
    // every table gives the same bits. sum_f32: the sum of x. softmax_stats:
    // with d_i = z_i - mx, lp_i = d_i - L and p_i = e_i * inv_s, out =
    // (-sum p lp, sum (p lp) lp, sum d). max_f32: the largest of x (n >= 1).
    double (*sum_f32)(const float* x, int n);
    void (*softmax_stats)(const float* z, const float* e, int n, float mx, double L, double inv_s,
                          double out[3]);
    float (*max_f32)(const float* x, int n);
    // Sampling buckets (engine/sampling): token i's bucket is its distance
    // below the maximum, d = mx - z[i], in steps of 1/kSamplePerNat nat
    // (int(d * kSamplePerNat)), the last bucket holding everything further.
    // sample_buckets writes every token's; bucket_members writes the ids in
    // bucket b in id order and returns their count.
    void (*sample_buckets)(const float* z, int n, float mx, uint16_t* idx);
    int (*bucket_members)(const uint16_t* idx, int n, int b, int32_t* ids);
    // The sampler's passes fused, each giving the bits of the kernels above
    // composed (one read of the vocabulary instead of several). logits_max:
    // with z, z[i] = x[i] / t (a division) and max_f32(z); without, max_f32(x);
    // *finite: every x is below +inf (no NaN, no +inf). exp_sum: e[i] =
    // exp_f32(z[i] - mx) (the subtraction in float), returns sum_f32(e).
    // buckets_stats: sample_buckets(z, n, mx, idx) and softmax_stats(...).
    float (*logits_max)(const float* x, float t, float* z, int n, bool* finite);
    double (*exp_sum)(const float* z, float mx, float* e, int n);
    void (*buckets_stats)(const float* z, const float* e, int n, float mx, double L, double inv_s,
                          uint16_t* idx, double out[3]);
    // Attention of query heads over n positions of a KV head, as online
    // softmax states (AttnHead) that each call advances: splitting the
    // positions between calls, or the heads, gives the same bits as one call,
    // so heads of branches that share a prefix go through its positions
    // together (each position's K and V read once for all of them).
    // Over an F16 cache (k[p], v[p]: the head's hd halfs at position p; the
    // queries already rounded to F16 values), in llama.cpp's one-chunk
    // flash-attention order: score = the vec_dot-order dot * scale, online
    // softmax with the value sum kept in F16 (rounded after every update),
    // S = fma(S, ms, vs). attn_finish then gives acc / S.
    void (*attn_f16)(AttnHead* heads, int nh, const uint16_t* const* k, const uint16_t* const* v,
                     int n, int hd, float scale);
    // The same over an F32 cache: queries as they are, each score one fma
    // chain over the head's dimensions in order (dot_f32_chain: the 512-bit
    // kernel puts 16 positions in the lanes of a vector, no horizontal sums),
    // value sums in F32 as llama.cpp's flash attention keeps them (fma on
    // whole steps of 64 values, multiply then add on the rest).
    void (*attn_f32)(AttnHead* heads, int nh, const float* const* k, const float* const* v, int n,
                     int hd, float scale);
};

Isa best_isa();                           // what this CPU supports (RS_ISA env may lower it)
const KernelTable& kernels();             // the table for best_isa()
const KernelTable* kernels_for(Isa isa);  // nullptr if this CPU cannot run it

// Dot kernel and activation format for a weight type; nullptr / false if the
// type has no direct kernel (callers then dequantize rows).
DotFn dot_for(const KernelTable& k, uint32_t type);
bool act_format_for(uint32_t type, ActFormat& fmt);
size_t act_row_bytes(ActFormat fmt, int n);

// Dequantize one row of n elements of a GGUF type into f32. False if the
// type is not supported.
bool dequantize_row(uint32_t type, const void* src, float* dst, int64_t n);
// Reference quantizers (scalar) for writing model files.
void quantize_row_q4_0_ref(const float* x, void* y, int64_t n);
void quantize_row_q8_0_ref(const float* x, void* y, int64_t n);
void quantize_row_q5_0_ref(const float* x, void* y, int64_t n);
void quantize_row_q5_1_ref(const float* x, void* y, int64_t n);
void quantize_row_q4_k_ref(const float* x, void* y, int64_t n);  // n: multiple of 256
void quantize_row_q6_k_ref(const float* x, void* y, int64_t n);
void quantize_row_q5_k_ref(const float* x, void* y, int64_t n);    // n: multiple of 256
void quantize_row_iq4_xs_ref(const float* x, void* y, int64_t n);  // n: multiple of 256
void quantize_row_iq4_nl_ref(const float* x, void* y, int64_t n);

// Per-ISA tables (defined in scalar.cpp / avx2.cpp / avx512.cpp).
extern const KernelTable kScalarTable;
extern const KernelTable kAvx2Table;
extern const KernelTable kAvx512Table;

}  // namespace rs::kernels
