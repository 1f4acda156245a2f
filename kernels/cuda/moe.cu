// Mixture of experts on the device: each expert's outputs weighted into
// their (row, rank) slots, then each row's slots summed in rank order (as
// the CPU backend sums them). Routing is the host's (moe_route).
#include "cuda/common.cuh"
#include "cuda/ops.h"

namespace rs::cuda {
namespace {

__global__ void moe_scatter_kernel(const float* __restrict__ src, const float* __restrict__ bias,
                                   const int* __restrict__ slots, const float* __restrict__ weights,
                                   int cols, float* __restrict__ dst) {
    const int i = blockIdx.x;
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    const int slot = slots[i];
    const float v = src[static_cast<size_t>(i) * cols + c];
    dst[static_cast<size_t>(slot) * cols + c] = (bias ? v + bias[c] : v) * weights[slot];
}

__global__ void moe_sum_kernel(const float* __restrict__ slots, int k, int cols,
                               float* __restrict__ out) {
    const int r = blockIdx.x;
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    const float* s = slots + static_cast<size_t>(r) * k * cols + c;
    float acc = s[0];
    for (int j = 1; j < k; ++j) acc += s[static_cast<size_t>(j) * cols];
    out[static_cast<size_t>(r) * cols + c] = acc;
}

}  // namespace

void moe_scatter(const float* src, const float* bias, const int* slots, const float* weights, int n,
                 int cols, float* dst, cudaStream_t s) {
    if (n <= 0) return;
    const dim3 grid(static_cast<unsigned>(n), blocks_for(cols, 256));
    moe_scatter_kernel<<<grid, 256, 0, s>>>(src, bias, slots, weights, cols, dst);
}

void moe_sum(const float* slots, int rows, int k, int cols, float* out, cudaStream_t s) {
    if (rows <= 0) return;
    const dim3 grid(static_cast<unsigned>(rows), blocks_for(cols, 256));
    moe_sum_kernel<<<grid, 256, 0, s>>>(slots, k, cols, out);
}

}  // namespace rs::cuda
