// A Session evaluates tokens for many sequences of one model: it asks the
// backend registry for a backend (or takes one), keeps the paged KV cache's
// bookkeeping (the storage is the backend's) and runs each pass through the
// model's architecture on the backend's ops. Sequences are created, forked (sharing their
// prefix) and released; eval() feeds tokens to one sequence (prefill),
// decode() one token to each of many sequences in a single batched pass.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reasonscope/backend.h"
#include "reasonscope/kv_cache.h"
#include "reasonscope/model.h"

namespace rs {

struct SessionOptions {
    int threads = 0;    // 0: all cores
    int n_ctx = 0;      // per-sequence context; 0: the model's (capped at 4096)
    int kv_tokens = 0;  // arena size in tokens; 0: 4 * n_ctx
    // F32 by default: attention needs no F16 rounding, so searches run faster
    // (self-consistency@16 on the bundled model: 10% less time). F16 halves the
    // memory and is llama.cpp's default cache, which its reference logits use.
    KvType kv_type = KvType::F32;
    int max_batch = 256;  // rows per forward pass (prefill is chunked)
    // Every row's logits independent of its batch, prompts included. Off, a
    // prompt of an F32/F16 model is summed in llama.cpp's prompt-batch order
    // (its logits equal llama.cpp's); batches of branches are invariant either way.
    bool deterministic = false;
    // cpu, cuda or auto (the registry's first available; see backend.h).
    std::string backend = "auto";
};

class Session {
  public:
    Session(const Model& model, const SessionOptions& opt = {});
    // With a given backend (another device, a remote engine, or a scripted
    // one in tests).
    Session(const Model& model, std::unique_ptr<Backend> backend, const SessionOptions& opt = {});
    ~Session();

    const Model& model() const { return model_; }
    Backend& backend() { return *backend_; }
    const Backend& backend() const { return *backend_; }
    // Why this backend runs: "asked for cpu", "auto: cpu is the first available; cuda: ...".
    const std::string& backend_reason() const { return backend_reason_; }
    KvCache& kv() { return *kv_; }
    const KvCache& kv() const { return *kv_; }
    int n_ctx() const { return n_ctx_; }
    int n_vocab() const { return model_.config().n_vocab; }

    int create() { return kv_->create(); }
    int fork(int seq) { return kv_->fork(seq); }
    void release(int seq) { kv_->release(seq); }
    int length(int seq) const { return kv_->length(seq); }

    // Feeds tokens to seq. Returns the logits after the last token, or after
    // every token when all_logits (n_tokens * n_vocab). Throws rs::Error on
    // context overflow, leaving the sequence as it was.
    std::vector<float> eval(int seq, std::span<const TokenId> tokens, bool all_logits = false);
    // One token for each sequence, one batched pass; logits (n * n_vocab).
    std::vector<float> decode(std::span<const int> seqs, std::span<const TokenId> tokens);
    // The same, also returning each row's residual stream at `tap_layers`
    // (-1 = final norm) in `hidden`: (n, tap_layers.size(), dim).
    std::vector<float> decode(std::span<const int> seqs, std::span<const TokenId> tokens,
                              const std::vector<int>& tap_layers, std::vector<float>& hidden);
    // The same into `logits`, resized to n * n_vocab without clearing (every
    // element is written): a caller that keeps the vector across steps
    // reuses its storage (a batch's logits are megabytes).
    void decode_into(std::span<const int> seqs, std::span<const TokenId> tokens,
                     const std::vector<int>& tap_layers, std::vector<float>& hidden,
                     std::vector<float>& logits);
    // The same, each row sampled on the backend by its spec (backend caps
    // device_draw; see Pass::draw): results[i] for row i; only rows whose
    // result is draw::kFallback have their logits in `logits`.
    void decode_draw(std::span<const int> seqs, std::span<const TokenId> tokens,
                     const std::vector<int>& tap_layers, std::vector<float>& hidden,
                     std::vector<float>& logits, const draw::Spec* specs, draw::Result* results);

    int64_t forward_passes() const { return passes_; }
    // One pass of rows (see Pass); the rows' slots were reserved.
    void run_pass(std::span<const BatchRow> rows, float* logits, const TapRequest* taps,
                  const draw::Spec* draw = nullptr, draw::Result* draw_out = nullptr);
    int64_t tokens_evaluated() const { return tokens_; }

  private:
    const Model& model_;
    int n_ctx_;
    int max_batch_;
    std::string backend_reason_;
    std::unique_ptr<Backend> backend_;  // before kv_: its storage goes first
    std::unique_ptr<KvCache> kv_;
    int64_t passes_ = 0, tokens_ = 0;
};

}  // namespace rs
