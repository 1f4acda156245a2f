#include "reasonscope/sampling.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <unordered_set>

#include "cpu/kernels.h"
#include "reasonscope/error.h"

namespace rs {

namespace {

uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

class RepetitionPenalty final : public SamplerStage {
  public:
    RepetitionPenalty(float p, int n) : p_(p), n_(n) {}
    std::string name() const override { return "repetition_penalty"; }
    void apply(Candidates& c, std::span<const TokenId> h) const override {
        if (p_ == 1.0f || n_ == 0) return;
        std::unordered_set<TokenId> seen;
        size_t from = h.size() > static_cast<size_t>(n_) ? h.size() - static_cast<size_t>(n_) : 0;
        for (size_t i = from; i < h.size(); ++i) seen.insert(h[i]);
        for (auto& x : c.items)
            if (seen.count(x.id)) x.logit = x.logit > 0 ? x.logit / p_ : x.logit * p_;
        c.sorted = false;
    }

  private:
    float p_;
    int n_;
};

class Temperature final : public SamplerStage {
  public:
    explicit Temperature(float t) : t_(t) {}
    std::string name() const override { return "temperature"; }
    void apply(Candidates& c, std::span<const TokenId>) const override {
        if (t_ < kGreedyTemperature) return;
        for (auto& x : c.items) x.logit /= t_;
    }

  private:
    float t_;
};

class TopK final : public SamplerStage {
  public:
    explicit TopK(int k) : k_(k) {}
    std::string name() const override { return "top_k"; }
    void apply(Candidates& c, std::span<const TokenId>) const override {
        if (k_ <= 0 || static_cast<size_t>(k_) >= c.items.size()) return;
        c.sort();
        c.items.resize(static_cast<size_t>(k_));
    }

  private:
    int k_;
};

std::vector<double> softmax(const Candidates& c) {
    double mx = -INFINITY;
    for (const auto& x : c.items) mx = std::max(mx, static_cast<double>(x.logit));
    std::vector<double> p(c.items.size());
    double s = 0;
    for (size_t i = 0; i < p.size(); ++i) s += p[i] = std::exp(c.items[i].logit - mx);
    for (auto& v : p) v /= s;
    return p;
}

class TopP final : public SamplerStage {
  public:
    explicit TopP(float p) : p_(p) {}
    std::string name() const override { return "top_p"; }
    void apply(Candidates& c, std::span<const TokenId>) const override {
        if (p_ >= 1.0f) return;
        c.sort();
        auto p = softmax(c);
        double cum = 0;
        size_t keep = p.size();
        for (size_t i = 0; i < p.size(); ++i) {
            cum += p[i];
            if (cum >= p_) {
                keep = i + 1;
                break;
            }
        }
        c.items.resize(keep);
    }

  private:
    float p_;
};

class MinP final : public SamplerStage {
  public:
    explicit MinP(float p) : p_(p) {}
    std::string name() const override { return "min_p"; }
    void apply(Candidates& c, std::span<const TokenId>) const override {
        if (p_ <= 0) return;
        c.sort();
        const float cut = c.items.front().logit + std::log(p_);
        size_t keep = 1;
        while (keep < c.items.size() && c.items[keep].logit >= cut) ++keep;
        c.items.resize(keep);
    }

  private:
    float p_;
};

}  // namespace

double counter_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
    uint64_t h = mix64(seed ^ 0x9E3779B97F4A7C15ULL);
    h = mix64(h ^ (stream * 0xD1B54A32D192ED03ULL));
    h = mix64(h ^ (counter * 0x8CB92BA72F3D8DD7ULL));
    return static_cast<double>(h >> 11) * 0x1.0p-53;
}

void Candidates::sort() {
    if (sorted) return;
    sorted = true;
    const size_t n = items.size();
    bool id_order = true;
    for (size_t i = 1; i < n && id_order; ++i) id_order = items[i - 1].id < items[i].id;
    if (n < 512 || !id_order) {
        std::sort(items.begin(), items.end(), [](const Candidate& a, const Candidate& b) {
            return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
        });
        return;
    }
    // A stable LSD radix sort (11, 11, 10 bits) on a key that orders floats
    // descending (-0 as +0); stability keeps equal logits in id order. A pass
    // whose digit is the same for every item is skipped.
    thread_local std::vector<uint32_t> key, key2;
    thread_local std::vector<Candidate> tmp;
    key.resize(n);
    key2.resize(n);
    tmp.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const float f = items[i].logit == 0.0f ? 0.0f : items[i].logit;
        uint32_t u;
        std::memcpy(&u, &f, 4);
        u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // ascending as unsigned
        key[i] = ~u;                                     // descending
    }
    for (int shift : {0, 11, 22}) {
        size_t count[2049] = {};
        for (size_t i = 0; i < n; ++i) ++count[((key[i] >> shift) & 2047u) + 1];
        if (std::any_of(count + 1, count + 2049, [&](size_t c) { return c == n; })) continue;
        for (int b = 0; b < 2048; ++b) count[b + 1] += count[b];
        for (size_t i = 0; i < n; ++i) {
            const size_t to = count[(key[i] >> shift) & 2047u]++;
            tmp[to] = items[i];
            key2[to] = key[i];
        }
        items.swap(tmp);
        key.swap(key2);
    }
}

std::unique_ptr<SamplerStage> make_repetition_penalty(float p, int n) {
    return std::make_unique<RepetitionPenalty>(p, n);
}
std::unique_ptr<SamplerStage> make_temperature(float t) {
    return std::make_unique<Temperature>(t);
}
std::unique_ptr<SamplerStage> make_top_k(int k) {
    return std::make_unique<TopK>(k);
}
std::unique_ptr<SamplerStage> make_top_p(float p) {
    return std::make_unique<TopP>(p);
}
std::unique_ptr<SamplerStage> make_min_p(float p) {
    return std::make_unique<MinP>(p);
}

void SamplingParams::validate() const {
    auto bad = [](const char* name, double v, const char* range) {
        std::ostringstream s;
        s << "sampling parameter " << name << " = " << v << " is outside " << range;
        throw Error(s.str());
    };
    if (!(temperature >= 0 && temperature <= 100)) bad("temperature", temperature, "[0, 100]");
    if (top_k < 0) bad("top_k", top_k, "[0, n_vocab]");
    if (!(top_p > 0 && top_p <= 1)) bad("top_p", top_p, "(0, 1]");
    if (!(min_p >= 0 && min_p < 1)) bad("min_p", min_p, "[0, 1)");
    if (!(repeat_penalty > 0 && repeat_penalty <= 10))
        bad("repeat_penalty", repeat_penalty, "(0, 10]");
    static_assert(kMaxAlternatives == 1048576, "the message below says so");
    if (n_alternatives < 0 || n_alternatives > kMaxAlternatives)
        bad("n_alternatives", n_alternatives, "[0, 1048576]");
}

namespace {

// softmax(z) with z = logits / t in float: mx = max z, e_i = exp(z_i - mx)
// (float, std::exp bit for bit on every CPU), s = sum of e in double over
// eight fixed lanes. Everything sampling and the signals need, in two passes
// over the vocabulary (kernels' logits_max and exp_sum) with the same bits on
// every CPU. z is the logits themselves at t = 1, else `zbuf`.
struct Softmax {
    float mx = 0;
    double s = 1;
    const float* z = nullptr;
    bool finite = true;  // no logit is NaN or +inf
};

Softmax softmax_parts(const float* logits, int n, float t, std::vector<float>& zbuf,
                      std::vector<float>& e) {
    const auto un = static_cast<size_t>(n);
    e.resize(un);
    Softmax sm;
    sm.z = logits;
    if (t != 1.0f) {
        zbuf.resize(un);
        sm.z = zbuf.data();
    }
    if (n == 0) return sm;
    const kernels::KernelTable& k = kernels::kernels();
    const float mx = k.logits_max(logits, t, t != 1.0f ? zbuf.data() : nullptr, n, &sm.finite);
    if (mx == -INFINITY) {  // nothing is possible: every token alike
        std::fill(e.begin(), e.end(), 1.0f);
        zbuf.assign(un, 0.0f);
        sm.z = zbuf.data();
        sm.mx = 0;
        sm.s = n;
        return sm;
    }
    sm.mx = mx;
    sm.s = k.exp_sum(sm.z, mx, e.data(), n);
    return sm;
}

// The signals of softmax(z) given its parts; the alternatives are ranked by
// the raw logits (ties by id).
// `stats`: softmax_stats' sums when a fused pass took them (buckets_stats).
void signals_from(const float* logits, const float* z, const float* e, int n, const Softmax& sm,
                  int k, TokenSignals& out, const double* stats = nullptr) {
    const double L = std::log(sm.s), lse = sm.mx + L, inv_s = 1.0 / sm.s;
    double sums[3];
    if (stats)
        std::copy(stats, stats + 3, sums);
    else
        kernels::kernels().softmax_stats(z, e, n, sm.mx, L, inv_s, sums);
    const double H = sums[0], M2 = sums[1], SD = sums[2];
    out.entropy = static_cast<float>(H);
    // Self-certainty: KL(U || p) = sum_i (1/n) log((1/n) / p_i) = -log n - mean lp.
    out.self_certainty =
        n > 0 ? static_cast<float>(-std::log(static_cast<double>(n)) - (SD / n - L)) : 0.0f;
    out.varentropy = static_cast<float>(std::max(0.0, M2 - H * H));  // E[(log p + H)^2]
    if (out.token >= 0 && out.token < n) out.logprob = static_cast<float>(z[out.token] - lse);
    out.top.clear();
    if (k > 0) {
        // The k best (logit descending, ties by id) in one pass.
        k = std::min(k, n);
        auto better = [&](int a, int b) {
            return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
        };
        std::vector<int> best;
        if (k <= 64) {
            best.reserve(static_cast<size_t>(k) + 1);
            for (int j = 0; j < n; ++j) {
                if (static_cast<int>(best.size()) == k && !better(j, best.back())) continue;
                best.insert(std::upper_bound(best.begin(), best.end(), j, better), j);
                if (static_cast<int>(best.size()) > k) best.pop_back();
            }
        } else {  // many (up to the whole vocabulary): one partial sort
            best.resize(static_cast<size_t>(n));
            for (int j = 0; j < n; ++j) best[static_cast<size_t>(j)] = j;
            std::partial_sort(best.begin(), best.begin() + k, best.end(), better);
            best.resize(static_cast<size_t>(k));
        }
        for (int id : best) out.top.emplace_back(id, static_cast<float>(z[id] - lse));
    }
}

// The vocabulary in the sampling order (z descending, ties by id) without
// sorting it: tokens fall into buckets 1/64 nat wide by their distance below
// the maximum (the buckets' order is the sampling order; kernels'
// sample_buckets), each bucket with its count and its weights' sum (four
// partial sums over the tokens in id order, i % 4, added (0+1)+(2+3)); a
// bucket is sorted only when a walk has to stop inside it. Walks over the
// first L tokens (the kept prefix of top-k, top-p and min-p) pass whole
// buckets by their sums, so the results are fixed by the logits alone and
// cost two passes over the vocabulary however flat the distribution is.
class SortedPrefix {
  public:
    // idx: every token's bucket (kernels' sample_buckets).
    SortedPrefix(const float* z, const float* e, int n, const uint16_t* idx) : z_(z), e_(e), n_(n) {
        // (per-thread storage, reused: a sampled token must not allocate)
        thread_local std::vector<int> counts;
        thread_local std::vector<double> sums, parts;
        thread_local std::vector<int32_t> members;
        thread_local Candidates in;
        idx_ = idx;
        counts_ = &counts;
        members_ = &members;
        // Four partial sums a bucket, so that runs of tokens in one bucket
        // do not wait on each other's additions.
        parts.assign(4 * static_cast<size_t>(kBuckets), 0.0);
        double* part = parts.data();
        for (int i = 0; i < n; ++i) part[4 * idx_[i] + (i & 3)] += e[i];
        sums.resize(kBuckets);
        for (int b = 0; b < kBuckets; ++b) {
            const double* q = part + 4 * b;
            sums[static_cast<size_t>(b)] = (q[0] + q[1]) + (q[2] + q[3]);
        }
        sum_ = sums.data();
        in_ = &in;
    }
    // The first token, within the first L of the sampling order, where the
    // running weight sum satisfies `stop` (monotone), and its position (when
    // `position`, or L < n: counting the buckets costs a pass); the L-th token
    // if none does.
    template <class Stop>
    std::pair<int, TokenId> find(int L, Stop stop, bool position) {
        const int* count = L < n_ || position ? counts() : nullptr;
        double acc = 0;
        int pos = 0, last_b = -1;
        for (int b = 0; b < kBuckets && pos < L; ++b) {
            const int c = count ? count[b] : 0;
            if (count ? c == 0 : sum_[b] == 0) continue;
            last_b = b;
            if ((!count || pos + c <= L) && !stop(acc + sum_[b])) {
                acc += sum_[b];
                pos += c;
                continue;
            }
            const std::vector<Candidate>& in = sorted(b);
            for (size_t j = 0; j < in.size() && pos < L; ++j, ++pos) {
                acc += e_[in[j].id];
                if (stop(acc)) return {pos, in[j].id};
            }
        }
        // Rounding left the sum short: the last token kept.
        if (count) return {L - 1, at(L - 1)};
        if (last_b < 0) return {0, 0};
        return {n_ - 1, sorted(last_b).back().id};
    }
    // The weight sum of the first L tokens.
    double mass(int L) {
        const int* count = counts();
        double acc = 0;
        int pos = 0;
        for (int b = 0; b < kBuckets && pos < L; ++b) {
            const int c = count[b];
            if (c == 0) continue;
            if (pos + c <= L) {
                acc += sum_[b];
                pos += c;
                continue;
            }
            const std::vector<Candidate>& in = sorted(b);
            for (size_t j = 0; pos < L; ++j, ++pos) acc += e_[in[j].id];
        }
        return acc;
    }

  private:
    static constexpr int kBuckets = kernels::kSampleBuckets;
    const int* counts() {  // tokens per bucket, counted when first needed
        if (!counted_) {
            counts_->assign(kBuckets, 0);
            for (int i = 0; i < n_; ++i) ++(*counts_)[idx_[i]];
            counted_ = true;
        }
        return counts_->data();
    }
    TokenId at(int p) {  // the token at position p of the sampling order
        const int* count = counts();
        for (int b = 0; b < kBuckets; ++b) {
            if (p < count[b]) return sorted(b)[static_cast<size_t>(p)].id;
            p -= count[b];
        }
        return 0;
    }
    const std::vector<Candidate>& sorted(int b) {
        if (cached_ != b) {  // walks visit buckets in order: one at a time suffices
            members_->resize(static_cast<size_t>(n_));
            const int m = kernels::kernels().bucket_members(idx_, n_, b, members_->data());
            in_->items.clear();
            for (int j = 0; j < m; ++j) {
                const int32_t i = (*members_)[static_cast<size_t>(j)];
                in_->items.push_back({i, z_[i]});
            }
            in_->sorted = false;
            in_->sort();
            cached_ = b;
        }
        return in_->items;
    }
    const float *z_, *e_;
    int n_;
    const uint16_t* idx_;
    std::vector<int>* counts_;
    std::vector<int32_t>* members_;
    bool counted_ = false;
    double* sum_;
    Candidates* in_;
    int cached_ = -1;
};

// The inverse-CDF draw over the first L tokens of the sampling order: the
// token where the running weight sum passes u times their total.
TokenId draw(SortedPrefix& order, int L, double u01, double total) {
    const double target = u01 * total;
    return order
        .find(
            L, [&](double acc) { return target < acc; }, false)
        .second;
}

}  // namespace

bool logits_are_numbers(const float* logits, int n) {
    if (n <= 0) return true;
    bool finite = true;
    kernels::kernels().logits_max(logits, 1.0f, nullptr, n, &finite);
    return finite;
}

void distribution_signals(const float* logits, int n, float temperature, int k, TokenSignals& out) {
    const float t = temperature >= kGreedyTemperature ? temperature : 1.0f;
    thread_local std::vector<float> z, e;
    const Softmax sm = softmax_parts(logits, n, t, z, e);
    signals_from(logits, sm.z, e.data(), n, sm, k, out);
}

Sampler::Sampler(const SamplingParams& p) : p_(p) {
    p_.validate();
    penalty_ = make_repetition_penalty(p.repeat_penalty, p.repeat_last_n);
}

TokenSignals Sampler::signals_for(const float* logits, int n_vocab, TokenId token) const {
    TokenSignals sig;
    if (token < 0 || token >= n_vocab)
        throw Error("forced token " + std::to_string(token) + " is outside the vocabulary of " +
                    std::to_string(n_vocab));
    sig.token = token;
    distribution_signals(logits, n_vocab, p_.temperature > 0 ? p_.temperature : 1.0f,
                         p_.n_alternatives, sig);
    return sig;
}

TokenSignals Sampler::sample(const float* logits, int n_vocab, std::span<const TokenId> history,
                             uint64_t stream, uint64_t pos) const {
    TokenSignals sig;
    if (p_.temperature < kGreedyTemperature) {
        if (n_vocab <= 0) return sig;
        bool finite = true;
        const float mx = kernels::kernels().logits_max(logits, 1.0f, nullptr, n_vocab, &finite);
        if (!finite) return sig;  // token -1, as below
        int best = 0;             // the first of the largest
        while (best + 1 < n_vocab && !(logits[best] == mx)) ++best;
        if (p_.repeat_penalty != 1.0f) {
            Candidates c;
            c.items.reserve(static_cast<size_t>(n_vocab));
            for (int i = 0; i < n_vocab; ++i) c.items.push_back({i, logits[i]});
            penalty_->apply(c, history);
            c.sort();
            best = c.items.front().id;
        }
        sig.token = best;
        distribution_signals(logits, n_vocab, 1.0f, p_.n_alternatives, sig);
        return sig;
    }
    thread_local std::vector<float> z, e;
    const Softmax sm = softmax_parts(logits, n_vocab, p_.temperature, z, e);
    if (!sm.finite) return sig;  // token -1: a NaN or +inf among the logits
    const bool penalty = p_.repeat_penalty != 1.0f && p_.repeat_last_n != 0 && !history.empty();
    const float* dz = sm.z;
    const float* de = e.data();
    Softmax dsm = sm;
    if (penalty) {
        // The penalised tokens' logits change; the draw uses its own softmax.
        thread_local std::vector<float> zp, ep, pen;
        pen.assign(logits, logits + n_vocab);
        Candidates seen;
        const size_t from = history.size() > static_cast<size_t>(p_.repeat_last_n)
                                ? history.size() - static_cast<size_t>(p_.repeat_last_n)
                                : 0;
        for (size_t i = from; i < history.size(); ++i)
            if (history[i] >= 0 && history[i] < n_vocab)
                seen.items.push_back({history[i], logits[history[i]]});
        penalty_->apply(seen, history);  // the penalty stage on just these tokens
        for (const Candidate& c : seen.items) pen[static_cast<size_t>(c.id)] = c.logit;
        dsm = softmax_parts(pen.data(), n_vocab, p_.temperature, zp, ep);
        dz = dsm.z;
        de = ep.data();
    }
    // Every token's bucket; without a penalty the same pass takes the
    // signals' sums (the draw's softmax is the signals' one).
    thread_local std::vector<uint16_t> idx;
    idx.resize(static_cast<size_t>(n_vocab));
    double stats[3];
    const kernels::KernelTable& kt = kernels::kernels();
    if (penalty)
        kt.sample_buckets(dz, n_vocab, dsm.mx, idx.data());
    else
        kt.buckets_stats(dz, de, n_vocab, dsm.mx, std::log(sm.s), 1.0 / sm.s, idx.data(), stats);
    // The stages keep a prefix of the sampling order: its length L.
    SortedPrefix order(dz, de, n_vocab, idx.data());
    int L = n_vocab;
    if (p_.top_k > 0 && p_.top_k < L) L = p_.top_k;
    double total = L == n_vocab ? dsm.s : order.mass(L);
    if (p_.top_p < 1.0f) {
        // The fewest tokens whose share of the kept weight reaches top_p.
        const double want = static_cast<double>(p_.top_p) * total;
        L = order
                .find(
                    L, [&](double acc) { return acc >= want; }, true)
                .first +
            1;
        total = order.mass(L);
    }
    if (p_.min_p > 0) {
        // Tokens within log(min_p) of the most likely one (it always stays).
        const float cut = dsm.mx + std::log(p_.min_p);
        int within = 0;
        for (int i = 0; i < n_vocab; ++i) within += dz[i] >= cut;
        if (std::max(within, 1) < L) {
            L = std::max(within, 1);
            total = order.mass(L);
        }
    }
    sig.token = draw(order, L, counter_uniform(p_.seed, stream, pos), total);
    signals_from(logits, sm.z, e.data(), n_vocab, sm, p_.n_alternatives, sig,
                 penalty ? nullptr : stats);
    return sig;
}

}  // namespace rs
