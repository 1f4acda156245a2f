// The CUDA kernels as host functions: each launches one op on a stream and
// returns at once (errors surface at the backend's next CUDA_CHECK). Plain
// device pointers, no engine types; one op per .cu file in this folder.
// Activations are F32, row-major (rows x cols); weight rows are GGUF's bytes
// (quant.h decodes them).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "cuda/draw.h"

namespace rs::cuda {

// Whether this build's kernels can run on the current device (their SASS
// or PTX fits it): cudaSuccess, or the error their lookup gives.
cudaError_t kernel_image_error();

// y(r, i) = W row i . x(r) for r < n_rows (x rows of `cols`, y rows of ldy):
// one warp per weight row, up to eight activation rows per read of W. Each
// row's sum is in the same order whatever n_rows is (batch invariant).
void gemv(uint32_t type, const uint8_t* w, size_t row_bytes, int cols, int n_out, const float* x,
          int n_rows, float* y, int ldy, cudaStream_t s);

// y(r, i) = W row i . x(r) on tensor cores for a few dozen rows: x in
// bfloat16 (convert_f32), W quantized with cols a multiple of 32
// (gemm_tc_supported); weights decoded to bfloat16, sums in F32.
bool gemm_tc_supported(uint32_t type, int cols);
void gemm_tc(uint32_t type, const uint8_t* w, size_t row_bytes, int cols, int n_out,
             const void* x_bf16, int n_rows, float* y, int ldy, cudaStream_t s);

// Rows [r0, r0 + n) of W dequantized to half (bf16 = false) or bfloat16
// values, row-major n x cols, for cuBLAS.
void dequantize_rows(uint32_t type, const uint8_t* w, size_t row_bytes, int cols, int64_t r0,
                     int64_t n, void* out, bool bf16, cudaStream_t s);
// n floats to half (bf16 = false) or bfloat16, rounded to nearest even.
void convert_f32(const float* x, int64_t n, void* out, bool bf16, cudaStream_t s);

// out(r) = table row tokens[r], dequantized (cols values).
void embed(uint32_t type, const uint8_t* table, size_t row_bytes, int cols, const int* tokens,
           int rows, float* out, cudaStream_t s);

// RMSNorm of each group of `width` values (groups = rows * cols / width),
// times w (width values, may be null); out may be x.
void rmsnorm(const float* x, const float* w, float* out, int64_t groups, int width, float eps,
             cudaStream_t s);

// Rotary embedding: cs has per row n_dims/2 cosines then n_dims/2 sines.
void rope(float* x, int rows, int cols, int n_heads, int head_dim, int n_dims, bool neox,
          const float* cs, cudaStream_t s);

// Element-wise ops on n floats (add_bias: rows of cols).
void add(float* x, const float* y, int64_t n, cudaStream_t s);
void add_bias(float* x, const float* bias, int rows, int cols, cudaStream_t s);
void scale(float* x, float v, int64_t n, cudaStream_t s);
void swiglu(const float* g, const float* u, float* out, int64_t n, cudaStream_t s);
void geglu(const float* g, const float* u, float* out, int64_t n, cudaStream_t s);
void swiglu_oai(const float* g, const float* u, float* out, int64_t n, float alpha, float limit,
                cudaStream_t s);
// Mixture of experts: dst row slots[i] = (src row i + bias) * weights[slots[i]]
// for i < n (rows of cols; bias may be null), and out(r) = the sum of rows
// r * k .. r * k + k - 1 of slots, in that order.
void moe_scatter(const float* src, const float* bias, const int* slots, const float* weights, int n,
                 int cols, float* dst, cudaStream_t s);
void moe_sum(const float* slots, int rows, int k, int cols, float* out, cudaStream_t s);
// dst(i) = src(idx[i]) for i < n, rows of cols.
void gather_rows(const float* src, int cols, const int* idx, int n, float* dst, cudaStream_t s);

// The paged KV arena: blocks of block_tokens positions, block-major (a block
// holds every layer's K then V, each block_tokens x kv_dim values).
struct KvArena {
    uint8_t* base = nullptr;
    int n_layers = 0, kv_dim = 0, block_tokens = 16;
    bool f16 = false;
};

// Row r's K and V (kv_dim values each) into block blocks[r], slot
// slots[r], of layer `layer`.
void store_kv(const KvArena& a, int layer, const float* k, const float* v, const int* blocks,
              const int* slots, int rows, cudaStream_t s);

// Causal attention, online softmax per (row, query head): row r attends to
// positions [0, n_pos[r]) of its sequence (the last `window` of them when
// window > 0), whose block table starts at tables + table_off[r]. sinks: one
// logit per query head joining the denominator (null: none). head_dim <= 256.
struct AttnArgs {
    const float* q = nullptr;
    float* out = nullptr;
    const int* tables = nullptr;
    const int* table_off = nullptr;
    const int* n_pos = nullptr;
    const float* sinks = nullptr;
    int rows = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0, layer = 0, window = 0;
    float scale = 1.f;
    // Rows whose sequences share their first blocks (branches of one
    // prefix; no window): chunks of up to 8 such rows, 3 ints each (offset
    // into chunk_rows, rows, shared positions), read each shared position's
    // K and V once for all of their rows; `alone` lists the other rows
    // (null with n_alone = rows: every row alone).
    const int* chunks = nullptr;
    const int* chunk_rows = nullptr;
    int n_chunks = 0;
    const int* alone = nullptr;
    int n_alone = 0;
};
constexpr int kAttnChunkRows = 8;
void attention(const KvArena& a, const AttnArgs& args, cudaStream_t s);

// Each row's draw (draw.h: one block a row), rows of V logits; z and e:
// rows x V floats of scratch; out: a result per row (specs inactive: kFallback).
void draw_rows(const float* logits, int rows, int V, const draw::Spec* specs, float* z, float* e,
               draw::Result* out, cudaStream_t s);

}  // namespace rs::cuda
