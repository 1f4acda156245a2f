// Sampling on the device: draw.h's draw_row with one block of draw::kThreads
// threads a row, its reductions over shared memory in the host emulation's
// order (each thread its strided partial, then pairs at halving strides).
#include "cpu/expf_data.h"
#include "cuda/common.cuh"
#include "cuda/draw.h"
#include "cuda/ops.h"

namespace rs::cuda {
namespace {

__constant__ uint64_t kTab[32] = RS_EXP2F_TABLE;

// draw_row's block (see draw.h).
struct BlockReducer {
    int t = 0, n = 0;
    double* d = nullptr;              // 3 x kThreads doubles
    unsigned long long* u = nullptr;  // kThreads words
    int* slot = nullptr;
    uint32_t* hc = nullptr;  // 256 bins: counts, masses
    unsigned long long* hm = nullptr;

    // N sums at once: each thread's strided partials, then pairs at halving
    // strides (the host emulation's order).
    template <int N, class F>
    __device__ void sums(F f, double out[N]) {
        double a[N] = {};
        for (int i = t; i < n; i += draw::kThreads) {
            double v[N];
            f(i, v);
            for (int c = 0; c < N; ++c) a[c] += v[c];
        }
        for (int c = 0; c < N; ++c) d[c * draw::kThreads + t] = a[c];
        __syncthreads();
        for (int s = draw::kThreads / 2; s > 0; s >>= 1) {
            if (t < s)
                for (int c = 0; c < N; ++c)
                    d[c * draw::kThreads + t] += d[c * draw::kThreads + t + s];
            __syncthreads();
        }
        for (int c = 0; c < N; ++c) out[c] = d[c * draw::kThreads];
        __syncthreads();
    }
    template <class F>
    __device__ double sum(F f) {
        double r;
        sums<1>([&](int i, double* v) { v[0] = f(i); }, &r);
        return r;
    }
    template <class F>
    __device__ void sum3(F f, double out[3]) {
        sums<3>(f, out);
    }
    // Reduces one word a thread with op (max or +).
    template <class Op>
    __device__ unsigned long long words(unsigned long long v, Op op) {
        u[t] = v;
        __syncthreads();
        for (int s = draw::kThreads / 2; s > 0; s >>= 1) {
            if (t < s) u[t] = op(u[t], u[t + s]);
            __syncthreads();
        }
        const unsigned long long r = u[0];
        __syncthreads();
        return r;
    }
    template <class F>
    __device__ uint64_t sum_u64(F f) {
        unsigned long long a = 0;
        for (int i = t; i < n; i += draw::kThreads) a += f(i);
        return words(a, [](unsigned long long x, unsigned long long y) { return x + y; });
    }
    template <class F>
    __device__ int count(F f) {
        return static_cast<int>(sum_u64([&](int i) { return f(i) ? 1ull : 0ull; }));
    }
    template <class F>
    __device__ uint64_t max_key(F f) {
        unsigned long long m = 0;
        for (int i = t; i < n; i += draw::kThreads) {
            const unsigned long long k = f(i);
            m = m > k ? m : k;
        }
        return words(m, [](unsigned long long a, unsigned long long b) { return a > b ? a : b; });
    }
    // Counts and masses by bin (integers: exact in any order). Each thread
    // keeps its last four bins in registers and adds them to shared memory
    // when it needs the room (a pass's tokens mostly fall in a few bins).
    template <class B, class M>
    __device__ void histogram(B bin, M mass, const uint32_t*& out_c, const uint64_t*& out_m) {
        __syncthreads();  // (the previous histogram may still be read)
        if (t < 256) {
            hc[t] = 0;
            hm[t] = 0;
        }
        __syncthreads();
        int cb[4] = {-1, -1, -1, -1};
        uint32_t cc[4] = {0, 0, 0, 0};
        unsigned long long cm[4] = {0, 0, 0, 0};
        int next = 0;
        for (int i = t; i < n; i += draw::kThreads) {
            const int b = bin(i);
            if (b < 0) continue;
            const unsigned long long m = mass(i);
            bool hit = false;
#pragma unroll
            for (int c = 0; c < 4; ++c)  // (fixed indices: the cache stays in registers)
                if (cb[c] == b) {
                    ++cc[c];
                    cm[c] += m;
                    hit = true;
                }
            if (hit) continue;
#pragma unroll
            for (int c = 0; c < 4; ++c)
                if (c == next) {
                    if (cb[c] >= 0) {
                        atomicAdd(&hc[cb[c]], cc[c]);
                        atomicAdd(&hm[cb[c]], cm[c]);
                    }
                    cb[c] = b;
                    cc[c] = 1;
                    cm[c] = m;
                }
            next = (next + 1) & 3;
        }
        for (int c = 0; c < 4; ++c)
            if (cb[c] >= 0) {
                atomicAdd(&hc[cb[c]], cc[c]);
                atomicAdd(&hm[cb[c]], cm[c]);
            }
        __syncthreads();
        out_c = hc;
        out_m = reinterpret_cast<const uint64_t*>(hm);
    }
    template <class F>
    __device__ void for_each(F f) {
        for (int i = t; i < n; i += draw::kThreads) f(i);
    }
    template <class P, class E>
    __device__ void collect(P pred, E emit) {
        if (t == 0) *slot = 0;
        __syncthreads();
        for (int i = t; i < n; i += draw::kThreads)
            if (pred(i)) emit(atomicAdd(slot, 1), i);
        __syncthreads();
    }
    template <class F>
    __device__ void single(F f) {
        __syncthreads();
        if (t == 0) f();
        __syncthreads();
    }
};

// (one block a multiprocessor: 64 registers a thread, no spills)
__global__ void __launch_bounds__(draw::kThreads, 1)
    draw_kernel(const float* __restrict__ logits, int V, const draw::Spec* __restrict__ specs,
                float* z, float* e, draw::Result* out) {
    __shared__ double d[3 * draw::kThreads];
    __shared__ unsigned long long u[draw::kThreads];
    __shared__ uint32_t hc[256];
    __shared__ unsigned long long hm[256];
    __shared__ uint64_t tab[32];  // (lanes read different words: shared, not constant memory)
    __shared__ int slot;
    if (threadIdx.x < 32) tab[threadIdx.x] = kTab[threadIdx.x];
    __syncthreads();
    const int row = blockIdx.x;
    const draw::Spec sp = specs[row];
    draw::Result& res = out[row];
    if (!sp.active) {
        if (threadIdx.x == 0) res = draw::Result{};
        return;
    }
    BlockReducer r;
    r.t = static_cast<int>(threadIdx.x);
    r.n = V;
    r.d = d;
    r.u = u;
    r.slot = &slot;
    r.hc = hc;
    r.hm = hm;
    const size_t off = static_cast<size_t>(row) * static_cast<size_t>(V);
    draw::draw_row(r, logits + off, V, sp, tab, z + off, e + off, res);
}

}  // namespace

void draw_rows(const float* logits, int rows, int V, const draw::Spec* specs, float* z, float* e,
               draw::Result* out, cudaStream_t s) {
    if (rows <= 0) return;
    draw_kernel<<<rows, draw::kThreads, 0, s>>>(logits, V, specs, z, e, out);
}

}  // namespace rs::cuda
