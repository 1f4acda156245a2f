#include "reasonscope/device_draw.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/expf_data.h"
#include "cuda/draw.h"

namespace rs {
namespace {

// A block of draw::kThreads threads, one after another: thread t takes
// i = t, t + kThreads, ... in order, then the partials meet in the device's
// tree (pairs at strides kThreads/2, ..., 1).
class HostBlock {
  public:
    explicit HostBlock(int n) : n_(n) {}
    // N sums at once, each in that order.
    template <int N, class F>
    void sums(F f, double out[N]) {
        double p[N][draw::kThreads];
        for (int t = 0; t < draw::kThreads; ++t) {
            double a[N] = {};
            for (int i = t; i < n_; i += draw::kThreads) {
                double v[N];
                f(i, v);
                for (int c = 0; c < N; ++c) a[c] += v[c];
            }
            for (int c = 0; c < N; ++c) p[c][t] = a[c];
        }
        for (int s = draw::kThreads / 2; s > 0; s >>= 1)
            for (int t = 0; t < s; ++t)
                for (int c = 0; c < N; ++c) p[c][t] += p[c][t + s];
        for (int c = 0; c < N; ++c) out[c] = p[c][0];
    }
    template <class F>
    double sum(F f) {
        double r;
        sums<1>([&](int i, double* v) { v[0] = f(i); }, &r);
        return r;
    }
    template <class F>
    void sum3(F f, double out[3]) {
        sums<3>(f, out);
    }
    template <class F>
    uint64_t sum_u64(F f) {  // (exact: any order)
        uint64_t a = 0;
        for (int i = 0; i < n_; ++i) a += f(i);
        return a;
    }
    template <class B, class M>
    void histogram(B bin, M mass, const uint32_t*& hc, const uint64_t*& hm) {
        std::fill(hc_, hc_ + 256, 0u);
        std::fill(hm_, hm_ + 256, uint64_t{0});
        for (int i = 0; i < n_; ++i)
            if (const int b = bin(i); b >= 0) {
                ++hc_[b];
                hm_[b] += mass(i);
            }
        hc = hc_;
        hm = hm_;
    }
    template <class F>
    int count(F f) {
        int c = 0;
        for (int i = 0; i < n_; ++i) c += f(i) ? 1 : 0;
        return c;
    }
    template <class F>
    uint64_t max_key(F f) {
        uint64_t m = 0;
        for (int i = 0; i < n_; ++i) m = std::max(m, f(i));
        return m;
    }
    template <class F>
    void for_each(F f) {
        for (int i = 0; i < n_; ++i) f(i);
    }
    template <class P, class E>
    void collect(P pred, E emit) {
        int slot = 0;
        for (int i = 0; i < n_; ++i)
            if (pred(i)) emit(slot++, i);
    }
    template <class F>
    void single(F f) {
        f();
    }

  private:
    int n_;
    uint32_t hc_[256];
    uint64_t hm_[256];
};

}  // namespace

bool draw_on_backend_possible(const SamplingParams& p) {
    return (p.repeat_penalty == 1.0f || p.repeat_last_n == 0) &&
           p.n_alternatives <= draw::kMaxAlternatives;
}

void draw_spec(const SamplingParams& p, uint64_t stream, uint64_t pos, draw::Spec& out) {
    out = draw::Spec{};
    out.greedy = p.temperature < kGreedyTemperature ? 1 : 0;
    out.t = out.greedy ? 1.0f : p.temperature;
    out.top_k = p.top_k;
    out.top_p = p.top_p;
    out.min_p = p.min_p;
    out.log_min_p = p.min_p > 0 ? std::log(p.min_p) : 0.0f;
    out.u = counter_uniform(p.seed, stream, pos);
    out.n_alt = std::min(p.n_alternatives, draw::kMaxAlternatives);
}

TokenSignals draw_signals(const draw::Result& r, int n_vocab) {
    TokenSignals sig;
    sig.token = r.token;
    const double L = std::log(r.s), lse = r.mx + L;
    const double H = -r.plp;
    sig.entropy = static_cast<float>(H);
    sig.self_certainty =
        n_vocab > 0
            ? static_cast<float>(-std::log(static_cast<double>(n_vocab)) - (r.sd / n_vocab - L))
            : 0.0f;
    sig.varentropy = static_cast<float>(std::max(0.0, r.plp2 - H * H));
    sig.logprob = static_cast<float>(r.z_token - lse);
    for (int a = 0; a < r.n_alt; ++a)
        sig.top.emplace_back(r.alt_id[a], static_cast<float>(r.alt_z[a] - lse));
    return sig;
}

void draw_on_host(const float* logits, int n_vocab, const draw::Spec& spec, draw::Result& out) {
    thread_local std::vector<float> z, e;
    z.resize(static_cast<size_t>(n_vocab));
    e.resize(static_cast<size_t>(n_vocab));
    HostBlock block(n_vocab);
    out = draw::Result{};
    draw::draw_row(block, logits, n_vocab, spec, kernels::kExp2fTab, z.data(), e.data(), out);
}

}  // namespace rs
