// Embedding lookup: each pass row's token row of the table, dequantized.
#include "cuda/common.cuh"
#include "cuda/ops.h"
#include "cuda/quant.h"

namespace rs::cuda {
namespace {

__global__ void embed_kernel(uint32_t type, const uint8_t* __restrict__ table, size_t row_bytes,
                             int cols, const int* __restrict__ tokens, float* __restrict__ out) {
    const int r = blockIdx.x;
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    const uint8_t* row = table + static_cast<size_t>(tokens[r]) * row_bytes;
    float* orow = out + static_cast<size_t>(r) * cols;
    if (c == cols / 8) {  // rows of a float type of any length: the tail
        for (int k = 8 * c; k < cols; ++k) orow[k] = decode1_float(type, row, k);
        return;
    }
    if (c > cols / 8) return;
    float v[8];
    decode8_any(type, row, c, v);
    float* o = orow + static_cast<size_t>(c) * 8;
#pragma unroll
    for (int k = 0; k < 8; ++k) o[k] = v[k];
}

}  // namespace

void embed(uint32_t type, const uint8_t* table, size_t row_bytes, int cols, const int* tokens,
           int rows, float* out, cudaStream_t s) {
    if (rows <= 0) return;
    const dim3 grid(static_cast<unsigned>(rows), blocks_for(cols / 8 + 1, 128));  // (+ the tail)
    embed_kernel<<<grid, 128, 0, s>>>(type, table, row_bytes, cols, tokens, out);
}

}  // namespace rs::cuda
