// Writes each pass row's K and V into its block of the paged KV arena.
#include <cuda_fp16.h>

#include "cuda/common.cuh"
#include "cuda/ops.h"

namespace rs::cuda {
namespace {

__global__ void store_kv_kernel(KvArena a, int layer, const float* __restrict__ k,
                                const float* __restrict__ v, const int* __restrict__ blocks,
                                const int* __restrict__ slots) {
    const int r = blockIdx.x;
    const int i = blockIdx.y * blockDim.x + threadIdx.x;
    if (i >= a.kv_dim) return;
    const size_t eb = a.f16 ? 2 : 4;
    const size_t block_bytes = static_cast<size_t>(a.block_tokens) * a.kv_dim * eb;
    uint8_t* kb = a.base + (static_cast<size_t>(blocks[r]) * a.n_layers + layer) * 2 * block_bytes +
                  static_cast<size_t>(slots[r]) * a.kv_dim * eb;
    uint8_t* vb = kb + block_bytes;
    const float kx = k[static_cast<size_t>(r) * a.kv_dim + i];
    const float vx = v[static_cast<size_t>(r) * a.kv_dim + i];
    if (a.f16) {
        reinterpret_cast<__half*>(kb)[i] = __float2half_rn(kx);
        reinterpret_cast<__half*>(vb)[i] = __float2half_rn(vx);
    } else {
        reinterpret_cast<float*>(kb)[i] = kx;
        reinterpret_cast<float*>(vb)[i] = vx;
    }
}

}  // namespace

void store_kv(const KvArena& a, int layer, const float* k, const float* v, const int* blocks,
              const int* slots, int rows, cudaStream_t s) {
    if (rows <= 0) return;
    const dim3 grid(static_cast<unsigned>(rows), blocks_for(a.kv_dim, 128));
    store_kv_kernel<<<grid, 128, 0, s>>>(a, layer, k, v, blocks, slots);
}

}  // namespace rs::cuda
