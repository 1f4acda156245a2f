// RMSNorm per group of `width` values (a row, or a head for Q/K norms).
#include "cuda/common.cuh"
#include "cuda/ops.h"

namespace rs::cuda {
namespace {

// (out may be x: each element is read by its own thread before it is written)
__global__ void rmsnorm_kernel(const float* x, const float* __restrict__ w, float* out, int width,
                               float eps) {
    __shared__ float scratch[32];
    const size_t off = static_cast<size_t>(blockIdx.x) * width;
    const float* xr = x + off;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
    ss = block_sum(ss, scratch);
    const float scale = 1.0f / sqrtf(ss / static_cast<float>(width) + eps);
    float* o = out + off;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        const float v = xr[i] * scale;
        o[i] = w ? v * w[i] : v;
    }
}

}  // namespace

void rmsnorm(const float* x, const float* w, float* out, int64_t groups, int width, float eps,
             cudaStream_t s) {
    if (groups <= 0) return;
    const int threads = width >= 1024 ? 256 : width >= 256 ? 128 : 32;
    rmsnorm_kernel<<<static_cast<unsigned>(groups), threads, 0, s>>>(x, w, out, width, eps);
}

}  // namespace rs::cuda
