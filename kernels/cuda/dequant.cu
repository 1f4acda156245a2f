// Weights dequantized to half or bfloat16 for cuBLAS (prompts and many-branch
// steps), and activations converted to match.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/common.cuh"
#include "cuda/ops.h"
#include "cuda/quant.h"

namespace rs::cuda {
namespace {

template <uint32_t T, bool BF16>
__global__ void dequant_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int cols,
                               int64_t r0, int64_t n, void* __restrict__ out) {
    const int chunks = cols / 8;
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n * chunks) return;
    const int64_t r = i / chunks;
    const int c = static_cast<int>(i % chunks);
    float v[8];
    decode8<T>(w + static_cast<size_t>(r0 + r) * row_bytes, c, v);
    const size_t o = static_cast<size_t>(r) * cols + static_cast<size_t>(c) * 8;
    if constexpr (BF16) {
        __nv_bfloat16* d = static_cast<__nv_bfloat16*>(out) + o;
#pragma unroll
        for (int k = 0; k < 8; ++k) d[k] = __float2bfloat16_rn(v[k]);
    } else {
        __half* d = static_cast<__half*>(out) + o;
#pragma unroll
        for (int k = 0; k < 8; ++k) d[k] = __float2half_rn(v[k]);
    }
}

template <bool BF16>
__global__ void convert_kernel(const float* __restrict__ x, int64_t n, void* __restrict__ out) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    if constexpr (BF16)
        static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(x[i]);
    else
        static_cast<__half*>(out)[i] = __float2half_rn(x[i]);
}

template <uint32_t T>
void dequant_type(const uint8_t* w, size_t row_bytes, int cols, int64_t r0, int64_t n, void* out,
                  bool bf16, cudaStream_t s) {
    const int64_t work = n * (cols / 8);
    if (bf16)
        dequant_kernel<T, true>
            <<<blocks_for(work, 256), 256, 0, s>>>(w, row_bytes, cols, r0, n, out);
    else
        dequant_kernel<T, false>
            <<<blocks_for(work, 256), 256, 0, s>>>(w, row_bytes, cols, r0, n, out);
}

}  // namespace

void dequantize_rows(uint32_t type, const uint8_t* w, size_t row_bytes, int cols, int64_t r0,
                     int64_t n, void* out, bool bf16, cudaStream_t s) {
    if (n <= 0) return;
    switch (type) {
#define RS_TYPE_CASE(T)                                           \
    case T:                                                       \
        dequant_type<T>(w, row_bytes, cols, r0, n, out, bf16, s); \
        break;
        RS_CUDA_WEIGHT_TYPES(RS_TYPE_CASE)
#undef RS_TYPE_CASE
        default:
            break;  // (the backend refuses other types when it prepares a model)
    }
}

void convert_f32(const float* x, int64_t n, void* out, bool bf16, cudaStream_t s) {
    if (n <= 0) return;
    if (bf16)
        convert_kernel<true><<<blocks_for(n, 256), 256, 0, s>>>(x, n, out);
    else
        convert_kernel<false><<<blocks_for(n, 256), 256, 0, s>>>(x, n, out);
}

}  // namespace rs::cuda
