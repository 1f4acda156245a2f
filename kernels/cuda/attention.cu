// Causal attention over the paged KV cache, online softmax (maximum,
// denominator, value sums in the lanes: dimension d in lane d % 32).
// Grouped-query: a query head reads its KV head (h / (n_heads / n_kv_heads)).
// Rows alone: one thread block per (row, query head), its warps taking
// every n-th position and merged at the end. Rows sharing a prefix: one
// block per (chunk of up to 8 such rows, query head), a warp per row; the
// shared positions' K and V come into shared memory 16 positions at a time,
// once for all the chunk's rows, then each warp takes its row's own
// positions.
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

// Where layer `layer`'s K of KV head g at position p of a block table is
// (V: block_bytes further), in the arena's block-major layout.
template <bool F16>
struct KvView {
    const uint8_t* base;
    size_t block_bytes, pos_bytes, head_off;
    int block_tokens, n_layers, layer;
    __device__ KvView(const KvArena& a, int layer_, int g, int hd)
        : base(a.base),
          block_bytes(static_cast<size_t>(a.block_tokens) * a.kv_dim * (F16 ? 2 : 4)),
          pos_bytes(static_cast<size_t>(a.kv_dim) * (F16 ? 2 : 4)),
          head_off(static_cast<size_t>(g) * hd * (F16 ? 2 : 4)),
          block_tokens(a.block_tokens),
          n_layers(a.n_layers),
          layer(layer_) {}
    __device__ const uint8_t* k(const int* table, int p) const {
        return base +
               (static_cast<size_t>(table[p / block_tokens]) * n_layers + layer) * 2 * block_bytes +
               static_cast<size_t>(p % block_tokens) * pos_bytes + head_off;
    }
};

// A warp's query (dimension d in lane d % 32) and its state: maximum,
// denominator, value sums.
template <int NK>
struct WarpHead {
    float q[NK], acc[NK];
    float m = -INFINITY, sum = 0.0f;
    __device__ WarpHead(const float* qp, int hd, int lane) {
#pragma unroll
        for (int k = 0; k < NK; ++k) {
            const int d = lane + kWarp * k;
            q[k] = d < hd ? qp[d] : 0.0f;
            acc[k] = 0.0f;
        }
    }
    // The scaled score of one K row (cache bytes kb, or staged floats ks).
    template <bool F16>
    __device__ float score(const uint8_t* kb, const float* ks, int hd, int lane,
                           float scale) const {
        float dot = 0.0f;
#pragma unroll
        for (int k = 0; k < NK; ++k) {
            const int d = lane + kWarp * k;
            if (d < hd) dot = fmaf(q[k], ks ? ks[d] : kv_at<F16>(kb, d), dot);
        }
        return warp_sum(dot) * scale;
    }
    // One online-softmax step by score s and its V row (bytes vb, or floats vs).
    template <bool F16>
    __device__ void step(float s, const uint8_t* vb, const float* vs, int hd, int lane) {
        const float m_new = fmaxf(m, s);
        const float c_old = expf(m - m_new), c_new = expf(s - m_new);
        sum = sum * c_old + c_new;
#pragma unroll
        for (int k = 0; k < NK; ++k) {
            const int d = lane + kWarp * k;
            if (d < hd) acc[k] = fmaf(c_new, vs ? vs[d] : kv_at<F16>(vb, d), acc[k] * c_old);
        }
        m = m_new;
    }
};

template <int NK, bool F16>
__global__ void __launch_bounds__(kAttnWarps* kWarp) attn_kernel(KvArena a, AttnArgs A) {
    const int r = A.alone ? A.alone[blockIdx.x] : static_cast<int>(blockIdx.x), h = blockIdx.y;
    const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
    const int hd = A.head_dim, g = h / (A.n_heads / A.n_kv_heads);
    const KvView<F16> kv(a, A.layer, g, hd);
    WarpHead<NK> st(A.q + (static_cast<size_t>(r) * A.n_heads + h) * hd, hd, lane);
    const int* table = A.tables + A.table_off[r];
    const int n = A.n_pos[r];
    const int p0 = A.window > 0 && n > A.window ? n - A.window : 0;
    for (int p = p0 + warp; p < n; p += kAttnWarps) {
        const uint8_t* kb = kv.k(table, p);
        st.template step<F16>(st.template score<F16>(kb, nullptr, hd, lane, A.scale),
                              kb + kv.block_bytes, nullptr, hd, lane);
    }
    __shared__ float sm[kAttnWarps], ss[kAttnWarps];
    __shared__ float sacc[kAttnWarps][kMaxHeadDim];
    if (lane == 0) {
        sm[warp] = st.m;
        ss[warp] = st.sum;
    }
#pragma unroll
    for (int k = 0; k < NK; ++k) {
        const int d = lane + kWarp * k;
        if (d < hd) sacc[warp][d] = st.acc[k];
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

constexpr int kTilePos = 16;

template <int NK, bool F16>
__global__ void __launch_bounds__(kAttnChunkRows* kWarp) attn_chunk_kernel(KvArena a, AttnArgs A) {
    __shared__ float ks[kTilePos][kMaxHeadDim], vs[kTilePos][kMaxHeadDim];
    const int* chunk = A.chunks + 3 * blockIdx.x;
    const int n_rows = chunk[1], shared = chunk[2];
    const int h = blockIdx.y;
    const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
    const bool active = warp < n_rows;
    const int r = A.chunk_rows[chunk[0] + (active ? warp : 0)];
    const int hd = A.head_dim, g = h / (A.n_heads / A.n_kv_heads);
    const KvView<F16> kv(a, A.layer, g, hd);
    WarpHead<NK> st(A.q + (static_cast<size_t>(r) * A.n_heads + h) * hd, hd, lane);
    // The shared positions, in tiles every warp of the block helps load (the
    // block tables agree there: the first row's is read).
    const int* table0 = A.tables + A.table_off[A.chunk_rows[chunk[0]]];
    for (int t0 = 0; t0 < shared; t0 += kTilePos) {
        const int np = min(kTilePos, shared - t0);
        for (int i = threadIdx.x; i < np * hd; i += blockDim.x) {
            const int p = i / hd, d = i % hd;
            const uint8_t* kb = kv.k(table0, t0 + p);
            ks[p][d] = kv_at<F16>(kb, d);
            vs[p][d] = kv_at<F16>(kb + kv.block_bytes, d);
        }
        __syncthreads();
        if (active)
            for (int p = 0; p < np; ++p)
                st.template step<F16>(st.template score<F16>(nullptr, ks[p], hd, lane, A.scale),
                                      nullptr, vs[p], hd, lane);
        __syncthreads();
    }
    if (!active) return;
    // The row's own positions.
    const int* table = A.tables + A.table_off[r];
    const int n = A.n_pos[r];
    for (int p = shared; p < n; ++p) {
        const uint8_t* kb = kv.k(table, p);
        st.template step<F16>(st.template score<F16>(kb, nullptr, hd, lane, A.scale),
                              kb + kv.block_bytes, nullptr, hd, lane);
    }
    if (A.sinks) {  // the sink joins the denominator with no value
        const float sink = A.sinks[h], m_new = fmaxf(st.m, sink);
        const float c_old = expf(st.m - m_new);
        st.sum = st.sum * c_old + expf(sink - m_new);
#pragma unroll
        for (int k = 0; k < NK; ++k) st.acc[k] *= c_old;
    }
    float* o = A.out + (static_cast<size_t>(r) * A.n_heads + h) * hd;
#pragma unroll
    for (int k = 0; k < NK; ++k) {
        const int d = lane + kWarp * k;
        if (d < hd) o[d] = st.acc[k] / st.sum;
    }
}

template <bool F16>
void attn_launch(const KvArena& a, const AttnArgs& A, cudaStream_t s) {
    const dim3 block(kAttnWarps * kWarp), chunk_block(kAttnChunkRows * kWarp);
    const dim3 grid(static_cast<unsigned>(A.alone ? A.n_alone : A.rows),
                    static_cast<unsigned>(A.n_heads));
    const dim3 chunk_grid(static_cast<unsigned>(A.n_chunks), static_cast<unsigned>(A.n_heads));
    const bool alone = grid.x > 0, chunks = A.n_chunks > 0;
    switch ((A.head_dim + kWarp - 1) / kWarp) {
#define RS_ATTN_CASE(NK)                                                                 \
    case NK:                                                                             \
        if (alone) attn_kernel<NK, F16><<<grid, block, 0, s>>>(a, A);                    \
        if (chunks) attn_chunk_kernel<NK, F16><<<chunk_grid, chunk_block, 0, s>>>(a, A); \
        break;
        RS_ATTN_CASE(1)
        RS_ATTN_CASE(2)
        RS_ATTN_CASE(3)
        RS_ATTN_CASE(4)
        RS_ATTN_CASE(5)
        RS_ATTN_CASE(6)
        RS_ATTN_CASE(7)
        default:
            RS_ATTN_CASE(8)
#undef RS_ATTN_CASE
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
