#include "reasonscope/session.h"

#include <algorithm>
#include <string>

#include "reasonscope/error.h"

namespace rs {

Session::Session(const Model& model, const SessionOptions& opt) : Session(model, nullptr, opt) {}

Session::Session(const Model& model, std::unique_ptr<Backend> backend, const SessionOptions& opt)
    : model_(model) {
    const ModelConfig& c = model.config();
    n_ctx_ = opt.n_ctx > 0 ? opt.n_ctx : std::min(c.ctx, 4096);
    int kv_tokens = opt.kv_tokens > 0 ? opt.kv_tokens : 4 * n_ctx_;
    max_batch_ = std::max(1, opt.max_batch);
    kv_ = std::make_unique<KvCache>(c.n_layers, c.kv_dim(), kv_tokens, n_ctx_, opt.kv_type);
    backend_ =
        backend ? std::move(backend) : make_cpu_backend(model, opt.threads, opt.deterministic);
}

Session::~Session() = default;

std::vector<float> Session::eval(int seq, std::span<const TokenId> tokens, bool all_logits) {
    const int V = n_vocab();
    std::vector<float> out(static_cast<size_t>(all_logits ? tokens.size() : 1) * V);
    if (tokens.empty()) return {};
    const int start = kv_->length(seq);
    kv_->reserve(seq, static_cast<int>(tokens.size()));
    std::vector<BatchRow> rows;
    size_t done = 0;
    while (done < tokens.size()) {
        size_t n = std::min(tokens.size() - done, static_cast<size_t>(max_batch_));
        rows.clear();
        for (size_t i = 0; i < n; ++i) {
            bool last = done + i + 1 == tokens.size();
            rows.push_back(
                {seq, start + static_cast<int>(done + i), tokens[done + i], all_logits || last});
        }
        float* dst = all_logits ? out.data() + done * V : out.data();
        backend_->forward(rows, *kv_, dst);
        kv_->commit(seq, static_cast<int>(n));
        ++passes_;
        tokens_ += static_cast<int64_t>(n);
        done += n;
    }
    return out;
}

std::vector<float> Session::decode(std::span<const int> seqs, std::span<const TokenId> tokens) {
    std::vector<float> unused;
    return decode(seqs, tokens, {}, unused);
}

std::vector<float> Session::decode(std::span<const int> seqs, std::span<const TokenId> tokens,
                                   const std::vector<int>& tap_layers, std::vector<float>& hidden) {
    if (seqs.size() != tokens.size()) throw Error("decode: sequence and token counts differ");
    const int D = model_.config().dim;
    for (int l : tap_layers)
        if (l < -1 || l >= model_.config().n_layers)
            throw Error("hidden-state tap layer " + std::to_string(l) + " is outside the model's " +
                        std::to_string(model_.config().n_layers) + " layers");
    hidden.assign(tap_layers.empty() ? 0 : seqs.size() * tap_layers.size() * static_cast<size_t>(D),
                  0.0f);
    const int V = n_vocab();
    std::vector<float> out(seqs.size() * static_cast<size_t>(V));
    for (int s : seqs) kv_->reserve(s, 1);
    std::vector<BatchRow> rows;
    for (size_t done = 0; done < seqs.size();) {
        size_t n = std::min(seqs.size() - done, static_cast<size_t>(max_batch_));
        rows.clear();
        for (size_t i = 0; i < n; ++i)
            rows.push_back({seqs[done + i], kv_->length(seqs[done + i]), tokens[done + i], true,
                            !tap_layers.empty()});
        TapRequest taps{tap_layers,
                        hidden.data() + done * tap_layers.size() * static_cast<size_t>(D)};
        backend_->forward(rows, *kv_, out.data() + done * V, tap_layers.empty() ? nullptr : &taps);
        for (size_t i = 0; i < n; ++i) kv_->commit(seqs[done + i], 1);
        ++passes_;
        tokens_ += static_cast<int64_t>(n);
        done += n;
    }
    return out;
}

}  // namespace rs
