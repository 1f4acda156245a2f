// Sampling on the device: draw.h's draw_row with one block of draw::kThreads
// threads a row, its reductions over shared memory in the host emulation's
// order (each thread its strided partial, then pairs at halving strides).
#include "cuda/common.cuh"
#include "cuda/draw.h"
#include "cuda/ops.h"

namespace rs::cuda {
namespace {

__constant__ uint64_t kExp2fTab[32] = RS_DRAW_EXP2F_TABLE;

// draw_row's block (see draw.h). The members are host-device so that the
// host instantiation of draw_row compiles; only the device runs them.
struct BlockReducer {
    int t = 0, n = 0;
    double* d = nullptr;              // 3 x kThreads doubles
    unsigned long long* u = nullptr;  // kThreads words
    int* slot = nullptr;
    uint32_t* hc = nullptr;  // 256 bins: counts, masses
    unsigned long long* hm = nullptr;

    template <class F>
    RS_HD double sum(F f) {
#if defined(__CUDA_ARCH__)
        double a = 0;
        for (int i = t; i < n; i += draw::kThreads) a += f(i);
        d[t] = a;
        __syncthreads();
        for (int s = draw::kThreads / 2; s > 0; s >>= 1) {
            if (t < s) d[t] += d[t + s];
            __syncthreads();
        }
        const double r = d[0];
        __syncthreads();
        return r;
#else
        (void)f;
        return 0;
#endif
    }
    // Three sums at once, each in sum's order.
    template <class F>
    RS_HD void sum3(F f, double out[3]) {
#if defined(__CUDA_ARCH__)
        double a0 = 0, a1 = 0, a2 = 0;
        for (int i = t; i < n; i += draw::kThreads) {
            double v[3];
            f(i, v);
            a0 += v[0];
            a1 += v[1];
            a2 += v[2];
        }
        d[t] = a0;
        d[draw::kThreads + t] = a1;
        d[2 * draw::kThreads + t] = a2;
        __syncthreads();
        for (int s = draw::kThreads / 2; s > 0; s >>= 1) {
            if (t < s)
                for (int c = 0; c < 3; ++c)
                    d[c * draw::kThreads + t] += d[c * draw::kThreads + t + s];
            __syncthreads();
        }
        for (int c = 0; c < 3; ++c) out[c] = d[c * draw::kThreads];
        __syncthreads();
#else
        (void)f;
        out[0] = out[1] = out[2] = 0;
#endif
    }
    template <class F>
    RS_HD uint64_t sum_u64(F f) {
        unsigned long long a = 0;
        for (int i = t; i < n; i += draw::kThreads) a += f(i);
        return words(a, [](unsigned long long x, unsigned long long y) { return x + y; });
    }
    // Counts and masses by bin (integers: exact in any order). Each thread
    // keeps its last four bins in registers and adds them to shared memory
    // when it needs the room (a pass's tokens mostly fall in a few bins).
    template <class B, class M>
    RS_HD void histogram(B bin, M mass, const uint32_t*& out_c, const uint64_t*& out_m) {
#if defined(__CUDA_ARCH__)
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
#else
        (void)bin, (void)mass;
        out_c = nullptr;
        out_m = nullptr;
#endif
    }
    // Reduces one word a thread with op (max, min or +).
    template <class Op>
    RS_HD unsigned long long words(unsigned long long v, Op op) {
#if defined(__CUDA_ARCH__)
        u[t] = v;
        __syncthreads();
        for (int s = draw::kThreads / 2; s > 0; s >>= 1) {
            if (t < s) u[t] = op(u[t], u[t + s]);
            __syncthreads();
        }
        const unsigned long long r = u[0];
        __syncthreads();
        return r;
#else
        (void)v, (void)op;
        return 0;
#endif
    }
    template <class F>
    RS_HD int count(F f) {
        unsigned long long c = 0;
        for (int i = t; i < n; i += draw::kThreads) c += f(i) ? 1 : 0;
        return static_cast<int>(
            words(c, [](unsigned long long a, unsigned long long b) { return a + b; }));
    }
    template <class F>
    RS_HD uint64_t max_key(F f) {
        unsigned long long m = 0;
        for (int i = t; i < n; i += draw::kThreads) m = m > f(i) ? m : f(i);
        return words(m, [](unsigned long long a, unsigned long long b) { return a > b ? a : b; });
    }
    template <class F>
    RS_HD uint64_t min_key(F f) {
        unsigned long long m = ~0ull;
        for (int i = t; i < n; i += draw::kThreads) m = m < f(i) ? m : f(i);
        return words(m, [](unsigned long long a, unsigned long long b) { return a < b ? a : b; });
    }
    // (the order key of a float orders it as the float does)
    template <class F>
    RS_HD float max_f(F f) {
        unsigned long long m = 0;
        for (int i = t; i < n; i += draw::kThreads) {
            const unsigned long long k = draw::order_key(f(i), 0) >> 32;
            m = m > k ? m : k;
        }
        const auto top = static_cast<uint32_t>(
            words(m, [](unsigned long long a, unsigned long long b) { return a > b ? a : b; }));
        const uint32_t bits = (top & 0x80000000u) ? (top & 0x7FFFFFFFu) : ~top;
#if defined(__CUDA_ARCH__)
        return __uint_as_float(bits);
#else
        float x;
        std::memcpy(&x, &bits, 4);
        return x;
#endif
    }
    template <class F>
    RS_HD void for_each(F f) {
        for (int i = t; i < n; i += draw::kThreads) f(i);
    }
    template <class P, class E>
    RS_HD void collect(P pred, E emit) {
#if defined(__CUDA_ARCH__)
        if (t == 0) *slot = 0;
        __syncthreads();
        for (int i = t; i < n; i += draw::kThreads)
            if (pred(i)) emit(atomicAdd(slot, 1), i);
        __syncthreads();
#else
        (void)pred, (void)emit;
#endif
    }
    template <class F>
    RS_HD void single(F f) {
#if defined(__CUDA_ARCH__)
        __syncthreads();
        if (t == 0) f();
        __syncthreads();
#else
        (void)f;
#endif
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
    if (threadIdx.x < 32) tab[threadIdx.x] = kExp2fTab[threadIdx.x];
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
