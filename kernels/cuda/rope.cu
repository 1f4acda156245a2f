// Rotary embedding from per-row cos/sin tables (made on the host once per pass).
#include "cuda/common.cuh"
#include "cuda/ops.h"

namespace rs::cuda {
namespace {

__global__ void rope_kernel(float* x, int cols, int n_heads, int head_dim, int n_dims, bool neox,
                            const float* __restrict__ cs) {
    const int r = blockIdx.x, half = n_dims / 2;
    const int i = blockIdx.y * blockDim.x + threadIdx.x;  // (head, pair)
    if (i >= n_heads * half) return;
    const int h = i / half, p = i % half;
    const float* c = cs + static_cast<size_t>(r) * n_dims;
    const float cos_v = c[p], sin_v = c[half + p];
    float* hx = x + static_cast<size_t>(r) * cols + static_cast<size_t>(h) * head_dim;
    const int a = neox ? p : 2 * p, b = neox ? p + half : 2 * p + 1;
    const float x0 = hx[a], x1 = hx[b];
    hx[a] = x0 * cos_v - x1 * sin_v;
    hx[b] = x0 * sin_v + x1 * cos_v;
}

}  // namespace

void rope(float* x, int rows, int cols, int n_heads, int head_dim, int n_dims, bool neox,
          const float* cs, cudaStream_t s) {
    if (rows <= 0 || n_dims < 2) return;
    const dim3 grid(static_cast<unsigned>(rows), blocks_for(n_heads * (n_dims / 2), 128));
    rope_kernel<<<grid, 128, 0, s>>>(x, cols, n_heads, head_dim, n_dims, neox, cs);
}

}  // namespace rs::cuda
