// Element-wise ops: residual adds, biases, scaling, gathering rows.
#include "cuda/common.cuh"
#include "cuda/ops.h"

namespace rs::cuda {
namespace {

__global__ void add_kernel(float* x, const float* __restrict__ y, int64_t n) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) x[i] += y[i];
}

__global__ void add_bias_kernel(float* x, const float* __restrict__ b, int64_t n, int cols) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) x[i] += b[i % cols];
}

__global__ void scale_kernel(float* x, float v, int64_t n) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= v;
}

__global__ void gather_kernel(const float* __restrict__ src, int cols, const int* __restrict__ idx,
                              float* __restrict__ dst) {
    const int r = blockIdx.x;
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c < cols)
        dst[static_cast<size_t>(r) * cols + c] = src[static_cast<size_t>(idx[r]) * cols + c];
}

}  // namespace

cudaError_t kernel_image_error() {
    cudaFuncAttributes a{};
    return cudaFuncGetAttributes(&a, add_kernel);
}

void add(float* x, const float* y, int64_t n, cudaStream_t s) {
    if (n > 0) add_kernel<<<blocks_for(n, 256), 256, 0, s>>>(x, y, n);
}

void add_bias(float* x, const float* bias, int rows, int cols, cudaStream_t s) {
    const int64_t n = static_cast<int64_t>(rows) * cols;
    if (n > 0) add_bias_kernel<<<blocks_for(n, 256), 256, 0, s>>>(x, bias, n, cols);
}

void scale(float* x, float v, int64_t n, cudaStream_t s) {
    if (n > 0) scale_kernel<<<blocks_for(n, 256), 256, 0, s>>>(x, v, n);
}

void gather_rows(const float* src, int cols, const int* idx, int n, float* dst, cudaStream_t s) {
    if (n <= 0) return;
    const dim3 grid(static_cast<unsigned>(n), blocks_for(cols, 256));
    gather_kernel<<<grid, 256, 0, s>>>(src, cols, idx, dst);
}

}  // namespace rs::cuda
