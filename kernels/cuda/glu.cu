// Gated FFN activations: SwiGLU (silu(g) * u) and GeGLU (gelu(g) * u, GELU's
// tanh form).
#include <cuda_fp16.h>

#include "cuda/common.cuh"
#include "cuda/ops.h"

namespace rs::cuda {
namespace {

// (out may be g or u: each element is read by its own thread before it is written)
__global__ void swiglu_kernel(const float* g, const float* u, float* out, int64_t n) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float x = g[i];
    out[i] = x / (1.0f + expf(-x)) * u[i];
}

// GELU as ggml's table has it (and the CPU backend): of x rounded to F16,
// the result rounded to F16; 0 below -10, x above 10.
__global__ void geglu_kernel(const float* g, const float* u, float* out, int64_t n) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float x = g[i];
    float y;
    if (x <= -10.0f) {
        y = 0.0f;
    } else if (x >= 10.0f) {
        y = x;
    } else {
        constexpr float kA = 0.044715f, kSqrt2OverPi = 0.79788456080286535587989211986876f;
        const float h = __half2float(__float2half_rn(x));
        y = __half2float(
            __float2half_rn(0.5f * h * (1.0f + tanhf(kSqrt2OverPi * h * fmaf(kA * h, h, 1.0f)))));
    }
    out[i] = y * u[i];
}

// gpt-oss's clamped SwiGLU: g clamped above at limit, u to +-limit,
// g * sigmoid(alpha g) * (u + 1) (the CPU's swiglu_oai).
__global__ void swiglu_oai_kernel(const float* g, const float* u, float* out, int64_t n,
                                  float alpha, float limit) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    // (std::min and std::clamp's comparisons, so a NaN stays a NaN as on the CPU)
    const float x = limit < g[i] ? limit : g[i];
    const float y = u[i] < -limit ? -limit : (limit < u[i] ? limit : u[i]);
    out[i] = x / (1.0f + expf(alpha * (-x))) * (y + 1.0f);
}

}  // namespace

void swiglu_oai(const float* g, const float* u, float* out, int64_t n, float alpha, float limit,
                cudaStream_t s) {
    if (n > 0) swiglu_oai_kernel<<<blocks_for(n, 256), 256, 0, s>>>(g, u, out, n, alpha, limit);
}

void swiglu(const float* g, const float* u, float* out, int64_t n, cudaStream_t s) {
    if (n > 0) swiglu_kernel<<<blocks_for(n, 256), 256, 0, s>>>(g, u, out, n);
}

void geglu(const float* g, const float* u, float* out, int64_t n, cudaStream_t s) {
    if (n > 0) geglu_kernel<<<blocks_for(n, 256), 256, 0, s>>>(g, u, out, n);
}

}  // namespace rs::cuda
