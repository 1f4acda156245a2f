#include "reasonscope/session.h"

#include <algorithm>
#include <string>

#include "cuda/draw.h"
#include "reasonscope/architecture.h"
#include "reasonscope/error.h"

namespace rs {

Session::Session(const Model& model, const SessionOptions& opt) : Session(model, nullptr, opt) {}

Session::Session(const Model& model, std::unique_ptr<Backend> backend, const SessionOptions& opt)
    : model_(model) {
    if (!model.has_weights())
        throw Error(model.path() + ": loaded for its tokenizer only; it cannot run here");
    const ModelConfig& c = model.config();
    n_ctx_ = opt.n_ctx > 0 ? opt.n_ctx : std::min(c.ctx, 4096);
    int kv_tokens = opt.kv_tokens > 0 ? opt.kv_tokens : 4 * n_ctx_;
    max_batch_ = std::max(1, opt.max_batch);
    if (backend) {
        backend_ = std::move(backend);
        backend_reason_ = "given by the caller";
    } else {
        BackendOptions bo;
        bo.threads = opt.threads;
        bo.batch_invariant = opt.deterministic;
        backend_ = make_backend(opt.backend, model, bo, &backend_reason_);
    }
    KvLayout layout;
    layout.n_layers = c.n_layers;
    layout.kv_dim = c.kv_dim();
    layout.block_tokens = 16;
    layout.n_blocks = (kv_tokens + layout.block_tokens - 1) / layout.block_tokens;
    layout.type = opt.kv_type;
    kv_ = std::make_unique<KvCache>(backend_->make_kv_storage(layout), n_ctx_);
}

void Session::run_pass(std::span<const BatchRow> rows, float* logits, const TapRequest* taps,
                       const draw::Spec* draw, draw::Result* draw_out) {
    if (rows.empty()) return;
    const int n_vocab = model_.config().n_vocab;
    for (const BatchRow& r : rows)
        if (r.token < 0 || r.token >= n_vocab)
            throw Error("token id " + std::to_string(r.token) + " is outside the vocabulary (" +
                        std::to_string(n_vocab) + ")");
    Pass pass;
    pass.rows = rows;
    pass.kv = kv_.get();
    pass.taps = taps;
    pass.logits = logits;
    pass.draw = draw;
    pass.draw_out = draw_out;
    pass.one_sequence =
        rows.size() >= 2 && std::all_of(rows.begin(), rows.end(),
                                        [&](const BatchRow& r) { return r.seq == rows[0].seq; });
    if (rows.size() >= 2) {  // (a prompt's rows share their sequence's blocks too)
        std::vector<int> seqs, n_pos;
        for (const BatchRow& r : rows) {
            seqs.push_back(r.seq);
            n_pos.push_back(r.pos + 1);
        }
        pass.shared = plan_shared_prefixes(*kv_, seqs, n_pos);
    }
    backend_->begin_pass(pass);
    model_.architecture().forward(model_, *backend_, pass);
    backend_->end_pass();
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
        run_pass(rows, dst, nullptr);
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
    std::vector<float> out;
    decode_into(seqs, tokens, tap_layers, hidden, out);
    return out;
}

void Session::decode_into(std::span<const int> seqs, std::span<const TokenId> tokens,
                          const std::vector<int>& tap_layers, std::vector<float>& hidden,
                          std::vector<float>& out) {
    decode_draw(seqs, tokens, tap_layers, hidden, out, nullptr, nullptr);
}

void Session::decode_draw(std::span<const int> seqs, std::span<const TokenId> tokens,
                          const std::vector<int>& tap_layers, std::vector<float>& hidden,
                          std::vector<float>& out, const draw::Spec* specs, draw::Result* results) {
    if (specs && !backend_->caps().device_draw)
        throw Error("decode: the " + backend_->name() + " backend does not sample on its own");
    if (seqs.size() != tokens.size()) throw Error("decode: sequence and token counts differ");
    const int D = model_.config().dim;
    for (int l : tap_layers)
        if (l < -1 || l >= model_.config().n_layers)
            throw Error("hidden-state tap layer " + std::to_string(l) + " is outside the model's " +
                        std::to_string(model_.config().n_layers) + " layers");
    hidden.assign(tap_layers.empty() ? 0 : seqs.size() * tap_layers.size() * static_cast<size_t>(D),
                  0.0f);
    const int V = n_vocab();
    out.resize(seqs.size() * static_cast<size_t>(V));
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
        run_pass(rows, out.data() + done * V, tap_layers.empty() ? nullptr : &taps,
                 specs ? specs + done : nullptr, results ? results + done : nullptr);
        for (size_t i = 0; i < n; ++i) kv_->commit(seqs[done + i], 1);
        ++passes_;
        tokens_ += static_cast<int64_t>(n);
        done += n;
    }
}

}  // namespace rs
