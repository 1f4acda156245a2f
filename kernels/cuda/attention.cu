// Causal attention over the paged KV cache: one thread block per (query
// head, row); its warps take every n-th position of the row's range, each
// keeping an online-softmax state (maximum, denominator, value sums in the
// lanes: dimension d in lane d % 32), merged at the end. Grouped-query: the
// query head reads its KV head (h / (n_heads / n_kv_heads)).
#include <cuda_fp16.h>

#include <cmath>

#include "cuda/common.cuh"
#include "cuda/ops.h"

namespace rs::cuda {
namespace {

constexpr int kAttnWarps = 8;
constexpr int kMaxHeadDim = 256;

template <bool F16>
__device__ __forceinline__ float kv_at(const uint8_t* p, int d) {
    if constexpr (F16)
        return __half2float(reinterpret_cast<const __half*>(p)[d]);
    else
        return reinterpret_cast<const float*>(p)[d];
}

template <int NK, bool F16>
__global__ void __launch_bounds__(kAttnWarps* kWarp) attn_kernel(KvArena a, AttnArgs A) {
    const int r = blockIdx.x, h = blockIdx.y;
    const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
    const int hd = A.head_dim, group = A.n_heads / A.n_kv_heads, g = h / group;
    const size_t eb = F16 ? 2 : 4;
    const size_t block_bytes = static_cast<size_t>(a.block_tokens) * a.kv_dim * eb;
    const size_t pos_bytes = static_cast<size_t>(a.kv_dim) * eb,
                 head_off = static_cast<size_t>(g) * hd * eb;
    const float* q = A.q + (static_cast<size_t>(r) * A.n_heads + h) * hd;
    float qv[NK], acc[NK];
#pragma unroll
    for (int k = 0; k < NK; ++k) {
        const int d = lane + kWarp * k;
        qv[k] = d < hd ? q[d] : 0.0f;
        acc[k] = 0.0f;
    }
    float m = -INFINITY, sum = 0.0f;
    const int* table = A.tables + A.table_off[r];
    const int n = A.n_pos[r];
    const int p0 = A.window > 0 && n > A.window ? n - A.window : 0;
    for (int p = p0 + warp; p < n; p += kAttnWarps) {
        const uint8_t* kb =
            a.base +
            (static_cast<size_t>(table[p / a.block_tokens]) * a.n_layers + A.layer) * 2 *
                block_bytes +
            static_cast<size_t>(p % a.block_tokens) * pos_bytes + head_off;
        const uint8_t* vb = kb + block_bytes;
        float dot = 0.0f;
#pragma unroll
        for (int k = 0; k < NK; ++k) {
            const int d = lane + kWarp * k;
            if (d < hd) dot = fmaf(qv[k], kv_at<F16>(kb, d), dot);
        }
        const float s = warp_sum(dot) * A.scale;
        const float m_new = fmaxf(m, s);
        const float c_old = expf(m - m_new), c_new = expf(s - m_new);
        sum = sum * c_old + c_new;
#pragma unroll
        for (int k = 0; k < NK; ++k) {
            const int d = lane + kWarp * k;
            if (d < hd) acc[k] = fmaf(c_new, kv_at<F16>(vb, d), acc[k] * c_old);
        }
        m = m_new;
    }
    __shared__ float sm[kAttnWarps], ss[kAttnWarps];
    __shared__ float sacc[kAttnWarps][kMaxHeadDim];
    if (lane == 0) {
        sm[warp] = m;
        ss[warp] = sum;
    }
#pragma unroll
    for (int k = 0; k < NK; ++k) {
        const int d = lane + kWarp * k;
        if (d < hd) sacc[warp][d] = acc[k];
    }
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < kAttnWarps; ++w) M = fmaxf(M, sm[w]);
    const float sink = A.sinks ? A.sinks[h] : -INFINITY;
    M = fmaxf(M, sink);
    float S = A.sinks ? expf(sink - M) : 0.0f;
    float c[kAttnWarps];
    for (int w = 0; w < kAttnWarps; ++w) {
        c[w] = sm[w] == -INFINITY ? 0.0f : expf(sm[w] - M);
        S = fmaf(ss[w], c[w], S);
    }
    float* o = A.out + (static_cast<size_t>(r) * A.n_heads + h) * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float v = 0.0f;
        for (int w = 0; w < kAttnWarps; ++w) v = fmaf(sacc[w][d], c[w], v);
        o[d] = v / S;
    }
}

template <bool F16>
void attn_launch(const KvArena& a, const AttnArgs& A, cudaStream_t s) {
    const dim3 grid(static_cast<unsigned>(A.rows), static_cast<unsigned>(A.n_heads));
    const dim3 block(kAttnWarps * kWarp);
    switch ((A.head_dim + kWarp - 1) / kWarp) {
        case 1:
            attn_kernel<1, F16><<<grid, block, 0, s>>>(a, A);
            break;
        case 2:
            attn_kernel<2, F16><<<grid, block, 0, s>>>(a, A);
            break;
        case 3:
            attn_kernel<3, F16><<<grid, block, 0, s>>>(a, A);
            break;
        case 4:
            attn_kernel<4, F16><<<grid, block, 0, s>>>(a, A);
            break;
        case 5:
            attn_kernel<5, F16><<<grid, block, 0, s>>>(a, A);
            break;
        case 6:
            attn_kernel<6, F16><<<grid, block, 0, s>>>(a, A);
            break;
        case 7:
            attn_kernel<7, F16><<<grid, block, 0, s>>>(a, A);
            break;
        default:
            attn_kernel<8, F16><<<grid, block, 0, s>>>(a, A);
            break;
    }
}

}  // namespace

void attention(const KvArena& a, const AttnArgs& args, cudaStream_t s) {
    if (args.rows <= 0 || args.head_dim > kMaxHeadDim) return;  // (the backend checks head_dim)
    if (a.f16)
        attn_launch<true>(a, args, s);
    else
        attn_launch<false>(a, args, s);
}

}  // namespace rs::cuda
