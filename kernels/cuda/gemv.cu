// Matrix-vector products for decode: one warp per weight row, each lane
// decoding eight weights at a time and multiplying them into up to eight
// activation rows, so W is read once for all of them.
#include "cuda/common.cuh"
#include "cuda/ops.h"
#include "cuda/quant.h"

namespace rs::cuda {
namespace {

constexpr int kRowsPerBlock = 4;  // warps (weight rows) per thread block

template <uint32_t T, int R>
__global__ void gemv_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int cols, int n_out,
                            const float* __restrict__ x, float* __restrict__ y, int ldy) {
    const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp;
    const int lane = threadIdx.x % kWarp;
    if (row >= n_out) return;
    const uint8_t* wr = w + static_cast<size_t>(row) * row_bytes;
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = 0.0f;
    const int chunks = cols / 8;
    const bool vec = (cols & 7) == 0;  // activation rows 16-byte aligned
    for (int c = lane; c < chunks; c += kWarp) {
        float v[8];
        decode8<T>(wr, c, v);
#pragma unroll
        for (int r = 0; r < R; ++r) {
            const float* xp = x + static_cast<size_t>(r) * cols + 8 * c;
            float4 a, b;
            if (vec) {
                a = __ldg(reinterpret_cast<const float4*>(xp));
                b = __ldg(reinterpret_cast<const float4*>(xp) + 1);
            } else {
                a = make_float4(xp[0], xp[1], xp[2], xp[3]);
                b = make_float4(xp[4], xp[5], xp[6], xp[7]);
            }
            float s = acc[r];
            s = fmaf(v[0], a.x, s);
            s = fmaf(v[1], a.y, s);
            s = fmaf(v[2], a.z, s);
            s = fmaf(v[3], a.w, s);
            s = fmaf(v[4], b.x, s);
            s = fmaf(v[5], b.y, s);
            s = fmaf(v[6], b.z, s);
            s = fmaf(v[7], b.w, s);
            acc[r] = s;
        }
    }
    if constexpr (T == kF32 || T == kF16 || T == kBF16) {  // rows of any length: the tail
        for (int k = 8 * chunks + lane; k < cols; k += kWarp) {
            const float v = decode1_float(T, wr, k);
            for (int r = 0; r < R; ++r)
                acc[r] = fmaf(v, x[static_cast<size_t>(r) * cols + k], acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const float s = warp_sum(acc[r]);
        if (lane == 0) y[static_cast<size_t>(r) * ldy + row] = s;
    }
}

// The kernel for n activation rows (1..8: a register accumulator each).
template <uint32_t T, int R = 1>
void gemv_launch(int n, dim3 grid, dim3 block, const uint8_t* w, size_t row_bytes, int cols,
                 int n_out, const float* x, float* y, int ldy, cudaStream_t s) {
    if constexpr (R < 8)
        if (n != R)
            return gemv_launch<T, R + 1>(n, grid, block, w, row_bytes, cols, n_out, x, y, ldy, s);
    gemv_kernel<T, R><<<grid, block, 0, s>>>(w, row_bytes, cols, n_out, x, y, ldy);
}

template <uint32_t T>
void gemv_type(const uint8_t* w, size_t row_bytes, int cols, int n_out, const float* x, int n_rows,
               float* y, int ldy, cudaStream_t s) {
    const dim3 grid(blocks_for(n_out, kRowsPerBlock)), block(kRowsPerBlock * kWarp);
    for (int r0 = 0; r0 < n_rows; r0 += 8)
        gemv_launch<T>(n_rows - r0 < 8 ? n_rows - r0 : 8, grid, block, w, row_bytes, cols, n_out,
                       x + static_cast<size_t>(r0) * cols, y + static_cast<size_t>(r0) * ldy, ldy,
                       s);
}

}  // namespace

void gemv(uint32_t type, const uint8_t* w, size_t row_bytes, int cols, int n_out, const float* x,
          int n_rows, float* y, int ldy, cudaStream_t s) {
    switch (type) {
#define RS_TYPE_CASE(T)                                                \
    case T:                                                            \
        gemv_type<T>(w, row_bytes, cols, n_out, x, n_rows, y, ldy, s); \
        break;
        RS_CUDA_WEIGHT_TYPES(RS_TYPE_CASE)
#undef RS_TYPE_CASE
        default:
            break;  // (the backend refuses other types when it prepares a model)
    }
}

}  // namespace rs::cuda
