// The local engine behind the generator seam: a Session (a backend, the
// paged KV cache) plus the sampler. A step's branches are decoded in one
// batched pass, then sampled on the backend's threads (each draw depends
// only on its own logits, tokens and counter, so results do not depend on
// the split).
#include "reasonscope/local_generator.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "cuda/draw.h"
#include "reasonscope/device_draw.h"
#include "reasonscope/error.h"
#include "reasonscope/model.h"

namespace rs {

LocalGenerator::LocalGenerator(const Model& model, const SessionOptions& opt)
    : session_(std::make_unique<Session>(model, opt)) {}
LocalGenerator::LocalGenerator(std::unique_ptr<Session> session) : session_(std::move(session)) {}
LocalGenerator::~LocalGenerator() {
    for (const Seq& s : seqs_)
        if (s.kv >= 0 && session_->kv().alive(s.kv)) session_->release(s.kv);
}

const Tokenizer& LocalGenerator::tokenizer() const {
    return session_->model().tokenizer();
}
std::string LocalGenerator::model_name() const {
    return session_->model().gguf().get_string("general.name", session_->model().path());
}
std::string LocalGenerator::backend_name() const {
    return session_->backend().name();
}
GeneratorCaps LocalGenerator::caps() const {
    const BackendCaps b = session_->backend().caps();
    GeneratorCaps c;
    c.full_logits = b.full_logits;
    c.hidden_taps = b.hidden_taps;
    c.batch_invariant = b.batch_invariant;
    return c;
}
int LocalGenerator::n_ctx() const {
    return session_->n_ctx();
}
int LocalGenerator::hidden_dim() const {
    return session_->model().config().dim;
}
int LocalGenerator::n_layers() const {
    return session_->model().config().n_layers;
}

LocalGenerator::Seq& LocalGenerator::seq_ref(int seq) {
    if (seq < 0 || seq >= static_cast<int>(seqs_.size()) || seqs_[static_cast<size_t>(seq)].kv < 0)
        throw Error("generator: no sequence " + std::to_string(seq));
    return seqs_[static_cast<size_t>(seq)];
}
const LocalGenerator::Seq& LocalGenerator::seq_ref(int seq) const {
    return const_cast<LocalGenerator*>(this)->seq_ref(seq);
}

int LocalGenerator::add(Seq s) {
    if (!free_.empty()) {
        const int id = free_.back();
        free_.pop_back();
        seqs_[static_cast<size_t>(id)] = std::move(s);
        return id;
    }
    seqs_.push_back(std::move(s));
    return static_cast<int>(seqs_.size()) - 1;
}

int LocalGenerator::start(std::span<const TokenId> prompt) {
    if (prompt.empty()) throw Error("the prompt is empty");
    if (static_cast<int>(prompt.size()) >= session_->n_ctx())
        throw Error("prompt of " + std::to_string(prompt.size()) +
                    " tokens does not fit the context of " + std::to_string(session_->n_ctx()));
    // The live sequence whose computed tokens share the longest prefix with
    // this prompt (at least one KV block): the new sequence forks it, forgets
    // the rest, and evaluates only what differs. A server's concurrent
    // requests with one system prompt share its KV this way.
    const size_t want = prompt.size() - 1;  // tokens to evaluate
    size_t best_len = 0;
    int best = -1;
    for (size_t i = 0; i < seqs_.size(); ++i) {
        const Seq& o = seqs_[i];
        if (o.kv < 0) continue;
        const size_t have = std::min(o.tokens.size() - 1, want);
        size_t n = 0;
        while (n < have && o.tokens[n] == prompt[n]) ++n;
        if (n > best_len) {
            best_len = n;
            best = static_cast<int>(i);
        }
    }
    Seq s;
    const bool reuse = best >= 0 && static_cast<int>(best_len) >= session_->kv().block_tokens();
    s.kv = reuse ? session_->fork(seqs_[static_cast<size_t>(best)].kv) : session_->create();
    try {
        if (reuse) {
            session_->kv().truncate(s.kv, static_cast<int>(best_len));
            if (want > best_len) session_->eval(s.kv, prompt.subspan(best_len, want - best_len));
        } else if (want > 0) {
            session_->eval(s.kv, prompt.first(want));
        }
    } catch (...) {
        session_->release(s.kv);
        throw;
    }
    s.tokens.assign(prompt.begin(), prompt.end());
    return add(std::move(s));
}

int LocalGenerator::fork(int seq) {
    const Seq& parent = seq_ref(seq);
    Seq s;
    s.kv = session_->fork(parent.kv);
    s.tokens = parent.tokens;
    return add(std::move(s));
}

void LocalGenerator::release(int seq) {
    Seq& s = seq_ref(seq);
    session_->release(s.kv);
    s = Seq{};
    free_.push_back(seq);
}

bool LocalGenerator::alive(int seq) const {
    return seq >= 0 && seq < static_cast<int>(seqs_.size()) &&
           seqs_[static_cast<size_t>(seq)].kv >= 0;
}
int LocalGenerator::length(int seq) const {
    return static_cast<int>(seq_ref(seq).tokens.size());
}
const std::vector<TokenId>& LocalGenerator::tokens(int seq) const {
    return seq_ref(seq).tokens;
}

std::vector<Extension> LocalGenerator::extend(std::span<const ExtendRequest> requests,
                                              const SamplingParams& params,
                                              const std::vector<int>& tap_layers) {
    std::vector<Extension> out(requests.size());
    if (requests.empty()) return out;
    std::vector<int> kvs;
    std::vector<TokenId> pending;
    for (const ExtendRequest& r : requests) {
        const Seq& s = seq_ref(r.seq);
        kvs.push_back(s.kv);
        pending.push_back(s.tokens.back());
    }
    std::vector<float> hidden;
    // A backend that samples where its logits are (a GPU) takes the rows the
    // sampler's own draw would give the same for; the rest come to the host.
    const bool on_backend = session_->backend().caps().device_draw;
    std::vector<draw::Spec> specs;
    std::vector<draw::Result> drawn;
    if (on_backend) {
        specs.resize(requests.size());
        drawn.resize(requests.size());
        for (size_t k = 0; k < requests.size(); ++k) {
            const ExtendRequest& r = requests[k];
            const SamplingParams& p = r.params ? *r.params : params;
            if (r.force >= 0 || r.veto_with >= 0 || !draw_on_backend_possible(p))
                specs[k].active = 0;  // (the host needs the logits)
            else
                draw_spec(p, r.stream, static_cast<uint64_t>(seq_ref(r.seq).tokens.size()),
                          specs[k]);
        }
    }
    session_->decode_draw(kvs, pending, tap_layers, hidden, logits_,
                          on_backend ? specs.data() : nullptr, on_backend ? drawn.data() : nullptr);
    const std::vector<float>& logits = logits_;
    const int V = session_->n_vocab();
    const size_t hid_row = tap_layers.size() * static_cast<size_t>(hidden_dim());
    const Sampler call_sampler(params);
    // Requests with their own sampling parameters: one sampler per distinct set.
    std::vector<std::unique_ptr<Sampler>> own;
    std::vector<const SamplingParams*> own_params;
    std::vector<const Sampler*> samplers(requests.size(), &call_sampler);
    for (size_t k = 0; k < requests.size(); ++k) {
        const SamplingParams* p = requests[k].params;
        if (!p) continue;
        const auto it = std::find(own_params.begin(), own_params.end(), p);
        if (it != own_params.end()) {
            samplers[k] = own[static_cast<size_t>(it - own_params.begin())].get();
            continue;
        }
        own.push_back(std::make_unique<Sampler>(*p));
        own_params.push_back(p);
        samplers[k] = own.back().get();
    }
    std::vector<char> broken(requests.size(), 0);
    session_->backend().parallel_for(
        static_cast<int64_t>(requests.size()), [&](int64_t b, int64_t e) {
            for (auto k = static_cast<size_t>(b); k < static_cast<size_t>(e); ++k) {
                const Seq& s = seqs_[static_cast<size_t>(requests[k].seq)];
                // The token sampled here sits at position length(seq).
                const float* row = logits.data() + k * static_cast<size_t>(V);
                const ExtendRequest& r = requests[k];
                const Sampler& sampler = *samplers[k];
                if (on_backend && specs[k].active) {
                    if (drawn[k].status == draw::kDone) {
                        out[k].token = draw_signals(drawn[k], V);
                        continue;
                    }
                    if (drawn[k].status == draw::kNotNumbers) {
                        broken[k] = 1;
                        continue;
                    }
                }  // (kFallback: the row's logits are here)
                if (r.force >= 0) {
                    if (!logits_are_numbers(row, V)) {
                        broken[k] = 1;
                        continue;
                    }
                    out[k].token = sampler.signals_for(row, V, r.force);
                    out[k].forced = true;
                    continue;
                }
                // (the sampler's first pass checks the logits: token -1)
                out[k].token = sampler.sample(row, V, s.tokens, r.stream,
                                              static_cast<uint64_t>(s.tokens.size()));
                if (out[k].token.token < 0) {
                    broken[k] = 1;
                    continue;
                }
                if (r.veto_with >= 0 &&
                    std::find(r.veto.begin(), r.veto.end(), out[k].token.token) != r.veto.end()) {
                    out[k].token = sampler.signals_for(row, V, r.veto_with);
                    out[k].forced = true;
                }
            }
        });
    for (size_t k = 0; k < requests.size(); ++k)
        if (broken[k])
            throw NonFiniteLogits(
                "the model's logits are not numbers (NaN or +inf) at position " +
                    std::to_string(seqs_[static_cast<size_t>(requests[k].seq)].tokens.size() - 1),
                k);
    for (size_t k = 0; k < requests.size(); ++k) {
        seqs_[static_cast<size_t>(requests[k].seq)].tokens.push_back(out[k].token.token);
        if (hid_row)
            out[k].hidden.assign(hidden.begin() + static_cast<std::ptrdiff_t>(k * hid_row),
                                 hidden.begin() + static_cast<std::ptrdiff_t>((k + 1) * hid_row));
    }
    return out;
}

double LocalGenerator::continuation_logprob(std::span<const TokenId> prefix,
                                            std::span<const TokenId> continuation) {
    if (continuation.empty()) return 0.0;
    std::vector<TokenId> all(prefix.begin(), prefix.end());
    all.insert(all.end(), continuation.begin(), continuation.end());
    const std::vector<float> logits = teacher_logits(all);
    const auto V = static_cast<size_t>(session_->n_vocab());
    double total = 0;
    for (size_t i = 0; i < continuation.size(); ++i) {
        const float* row = logits.data() + (prefix.size() - 1 + i) * V;
        if (!logits_are_numbers(row, static_cast<int>(V)))
            throw Error("scoring: the model's logits are not numbers (NaN or +inf) at position " +
                        std::to_string(prefix.size() - 1 + i));
        double mx = *std::max_element(row, row + V), s = 0;
        for (size_t k = 0; k < V; ++k) s += std::exp(row[k] - mx);
        total += row[static_cast<size_t>(continuation[i])] - mx - std::log(s);
    }
    return total;
}

std::vector<float> LocalGenerator::teacher_logits(std::span<const TokenId> all) {
    if (static_cast<int>(all.size()) >= session_->n_ctx())
        throw Error("scorer prompt does not fit the context");
    const int seq = session_->create();
    std::vector<float> logits;
    try {
        logits = session_->eval(seq, all.first(all.size() - 1), true);
    } catch (...) {
        session_->release(seq);
        throw;
    }
    session_->release(seq);
    return logits;
}

std::vector<TokenSignals> LocalGenerator::continuation_signals(
    std::span<const TokenId> prefix, std::span<const TokenId> continuation, int k) {
    std::vector<TokenSignals> out;
    if (continuation.empty()) return out;
    if (prefix.empty()) throw Error("continuation signals need a prefix of at least one token");
    std::vector<TokenId> all(prefix.begin(), prefix.end());
    all.insert(all.end(), continuation.begin(), continuation.end());
    const std::vector<float> logits = teacher_logits(all);
    const auto V = static_cast<size_t>(session_->n_vocab());
    for (size_t i = 0; i < continuation.size(); ++i) {
        const float* row = logits.data() + (prefix.size() - 1 + i) * V;
        if (!logits_are_numbers(row, static_cast<int>(V)))
            throw Error("scoring: the model's logits are not numbers (NaN or +inf) at position " +
                        std::to_string(prefix.size() - 1 + i));
        TokenSignals sig;
        sig.token = continuation[i];
        distribution_signals(row, static_cast<int>(V), 1.0f, k, sig);
        out.push_back(std::move(sig));
    }
    return out;
}

std::vector<float> LocalGenerator::next_token_logprobs(std::span<const TokenId> tokens) {
    if (static_cast<int>(tokens.size()) >= session_->n_ctx())
        throw Error("scorer prompt does not fit the context");
    const int seq = session_->create();
    std::vector<float> logits;
    try {
        logits = session_->eval(seq, tokens);
    } catch (...) {
        session_->release(seq);
        throw;
    }
    session_->release(seq);
    if (!logits_are_numbers(logits.data(), static_cast<int>(logits.size())))
        throw Error("scoring: the model's logits are not numbers (NaN or +inf) at position " +
                    std::to_string(tokens.size() - 1));
    double mx = *std::max_element(logits.begin(), logits.end()), s = 0;
    for (float v : logits) s += std::exp(v - mx);
    const auto lse = static_cast<float>(mx + std::log(s));
    for (float& v : logits) v -= lse;
    return logits;
}

GeneratorStats LocalGenerator::stats() const {
    GeneratorStats st;
    st.forward_passes = session_->forward_passes();
    const KvStats kv = session_->kv().stats();
    st.kv_bytes = kv.bytes_used();
    st.kv_capacity_bytes = kv.bytes_total();
    st.kv_block_bytes = kv.bytes_per_block;
    st.kv_block_tokens = kv.block_tokens;
    return st;
}

namespace {

// A local generator that owns its model.
class OwningGenerator final : public Generator {
  public:
    OwningGenerator(std::unique_ptr<Model> m, const SessionOptions& opt)
        : model_(std::move(m)), gen_(*model_, opt) {}
    const Tokenizer& tokenizer() const override { return gen_.tokenizer(); }
    std::string model_name() const override { return gen_.model_name(); }
    std::string backend_name() const override { return gen_.backend_name(); }
    std::string backend_reason() const override { return gen_.backend_reason(); }
    GeneratorCaps caps() const override { return gen_.caps(); }
    int n_ctx() const override { return gen_.n_ctx(); }
    int hidden_dim() const override { return gen_.hidden_dim(); }
    int n_layers() const override { return gen_.n_layers(); }
    int start(std::span<const TokenId> p) override { return gen_.start(p); }
    int fork(int seq) override { return gen_.fork(seq); }
    void release(int seq) override { gen_.release(seq); }
    bool alive(int seq) const override { return gen_.alive(seq); }
    int length(int seq) const override { return gen_.length(seq); }
    const std::vector<TokenId>& tokens(int seq) const override { return gen_.tokens(seq); }
    std::vector<Extension> extend(std::span<const ExtendRequest> r, const SamplingParams& p,
                                  const std::vector<int>& taps) override {
        return gen_.extend(r, p, taps);
    }
    double continuation_logprob(std::span<const TokenId> p, std::span<const TokenId> c) override {
        return gen_.continuation_logprob(p, c);
    }
    std::vector<TokenSignals> continuation_signals(std::span<const TokenId> p,
                                                   std::span<const TokenId> c, int k) override {
        return gen_.continuation_signals(p, c, k);
    }
    std::vector<float> next_token_logprobs(std::span<const TokenId> t) override {
        return gen_.next_token_logprobs(t);
    }
    GeneratorStats stats() const override { return gen_.stats(); }

  private:
    std::unique_ptr<Model> model_;
    LocalGenerator gen_;  // after model_: destroyed first
};

}  // namespace

std::unique_ptr<Generator> open_local_generator(const std::string& gguf_path,
                                                const SessionOptions& opt) {
    return std::make_unique<OwningGenerator>(Model::load(gguf_path), opt);
}

}  // namespace rs
