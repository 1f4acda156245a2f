// Products of quantized weights with a few dozen activation rows (steps of
// many branches) on tensor cores: each block decodes a tile of 32 weight
// rows into shared memory as bfloat16, 32 columns at a time, and multiplies
// it with up to 64 activation rows (bfloat16, converted once per product)
// with WMMA 16x16x16 fragments accumulating in F32. The weights are read
// once for 64 rows, where the matrix-vector kernel reads them once per
// eight. Each output is its row's dot product in a fixed order, whatever
// the other rows are.
#include <cuda_bf16.h>
#include <mma.h>

#include "cuda/common.cuh"
#include "cuda/ops.h"
#include "cuda/quant.h"

namespace rs::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kTileW = 32;  // weight rows a block (two warps of 16)
constexpr int kTileX = 64;  // activation rows a block (four fragments of 16)
constexpr int kStepK = 32;  // columns a step
constexpr int kPad = 8;     // (shared rows padded against bank conflicts)
constexpr int kThreads = 64;

template <uint32_t T>
__global__ void __launch_bounds__(kThreads)
    gemm_tc_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int cols, int n_out,
                   const __nv_bfloat16* __restrict__ x, int n_rows, float* __restrict__ y,
                   int ldy) {
    __shared__ __align__(32) __nv_bfloat16 ws[kTileW][kStepK + kPad];
    __shared__ __align__(32) __nv_bfloat16 xs[kTileX][kStepK + kPad];
    __shared__ __align__(32) float cs[kTileX][kTileW + 4];
    const int i0 = blockIdx.x * kTileW;  // first weight row
    const int r0 = blockIdx.y * kTileX;  // first activation row
    const int warp = threadIdx.x / kWarp;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kTileX / 16];
#pragma unroll
    for (int f = 0; f < kTileX / 16; ++f) wmma::fill_fragment(acc[f], 0.0f);

    for (int k0 = 0; k0 < cols; k0 += kStepK) {
        // 32 rows x 4 chunks of eight weights: two chunks a thread.
        for (int t = threadIdx.x; t < kTileW * (kStepK / 8); t += kThreads) {
            const int i = t / (kStepK / 8), c = t % (kStepK / 8);
            float v[8];
            if (i0 + i < n_out)
                decode8<T>(w + static_cast<size_t>(i0 + i) * row_bytes, k0 / 8 + c, v);
            else
                for (int j = 0; j < 8; ++j) v[j] = 0.0f;
#pragma unroll
            for (int j = 0; j < 8; ++j) ws[i][c * 8 + j] = __float2bfloat16_rn(v[j]);
        }
        // 64 rows x 32 activations, eight (16 bytes) a load.
        for (int t = threadIdx.x; t < kTileX * (kStepK / 8); t += kThreads) {
            const int r = t / (kStepK / 8), c = t % (kStepK / 8);
            uint4 v = make_uint4(0, 0, 0, 0);
            if (r0 + r < n_rows)
                v = *reinterpret_cast<const uint4*>(x + static_cast<size_t>(r0 + r) * cols + k0 +
                                                    c * 8);
            *reinterpret_cast<uint4*>(&xs[r][c * 8]) = v;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < kStepK; kk += 16) {
            // A: this warp's 16 weight rows (row-major); B: activations as
            // columns (x rows are B's columns: column-major).
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
            wmma::load_matrix_sync(a, &ws[warp * 16][kk], kStepK + kPad);
#pragma unroll
            for (int f = 0; f < kTileX / 16; ++f) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
                wmma::load_matrix_sync(b, &xs[f * 16][kk], kStepK + kPad);
                wmma::mma_sync(acc[f], a, b, acc[f]);
            }
        }
        __syncthreads();
    }
    // acc[f] (weight row i, activation row r) -> cs[r][i], then y[r][i0 + i].
#pragma unroll
    for (int f = 0; f < kTileX / 16; ++f)
        wmma::store_matrix_sync(&cs[f * 16][warp * 16], acc[f], kTileW + 4, wmma::mem_col_major);
    __syncthreads();
    for (int t = threadIdx.x; t < kTileX * kTileW; t += kThreads) {
        const int r = t / kTileW, i = t % kTileW;
        if (r0 + r < n_rows && i0 + i < n_out)
            y[static_cast<size_t>(r0 + r) * ldy + i0 + i] = cs[r][i];
    }
}

}  // namespace

bool gemm_tc_supported(uint32_t type, int cols) {
    return !is_float_type(type) && supported_type(type) && cols % kStepK == 0;
}

void gemm_tc(uint32_t type, const uint8_t* w, size_t row_bytes, int cols, int n_out,
             const void* x_bf16, int n_rows, float* y, int ldy, cudaStream_t s) {
    if (n_rows <= 0) return;
    const dim3 grid(blocks_for(n_out, kTileW), blocks_for(n_rows, kTileX));
    const auto* x = static_cast<const __nv_bfloat16*>(x_bf16);
    switch (type) {
#define RS_TYPE_CASE(T)                                                                            \
    case T:                                                                                        \
        gemm_tc_kernel<T><<<grid, kThreads, 0, s>>>(w, row_bytes, cols, n_out, x, n_rows, y, ldy); \
        break;
        RS_CUDA_WEIGHT_TYPES(RS_TYPE_CASE)
#undef RS_TYPE_CASE
        default:
            break;
    }
}

}  // namespace rs::cuda
