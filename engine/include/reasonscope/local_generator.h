// The local engine behind the generator seam (generator.h): a Session on a
// backend plus the sampler. For the application and the engine's own tools;
// strategies and scorers see only Generator.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "reasonscope/generator.h"
#include "reasonscope/session.h"

namespace rs {

// The local engine: a Session on a backend. Takes the model (it must outlive
// the generator) and session options; or an existing session.
class LocalGenerator final : public Generator {
  public:
    LocalGenerator(const Model& model, const SessionOptions& opt);
    explicit LocalGenerator(std::unique_ptr<Session> session);
    ~LocalGenerator() override;

    const Tokenizer& tokenizer() const override;
    std::string model_name() const override;
    std::string backend_name() const override;
    std::string backend_reason() const override { return session_->backend_reason(); }
    GeneratorCaps caps() const override;
    int n_ctx() const override;
    int hidden_dim() const override;
    int n_layers() const override;
    int start(std::span<const TokenId> prompt) override;
    int fork(int seq) override;
    void release(int seq) override;
    bool alive(int seq) const override;
    int length(int seq) const override;
    const std::vector<TokenId>& tokens(int seq) const override;
    std::vector<Extension> extend(std::span<const ExtendRequest> requests,
                                  const SamplingParams& params,
                                  const std::vector<int>& tap_layers = {}) override;
    double continuation_logprob(std::span<const TokenId> prefix,
                                std::span<const TokenId> continuation) override;
    std::vector<TokenSignals> continuation_signals(std::span<const TokenId> prefix,
                                                   std::span<const TokenId> continuation,
                                                   int k) override;
    std::vector<float> next_token_logprobs(std::span<const TokenId> tokens) override;
    GeneratorStats stats() const override;

    Session& session() { return *session_; }  // for the engine's own tools (bench, logits)

  private:
    struct Seq {
        int kv = -1;                  // KV sequence: every token but the pending one
        std::vector<TokenId> tokens;  // all tokens, the pending one last
    };
    Seq& seq_ref(int seq);
    const Seq& seq_ref(int seq) const;
    int add(Seq s);
    // Logits after each of all[0..n-2] (teacher forcing on a scratch sequence).
    std::vector<float> teacher_logits(std::span<const TokenId> all);

    std::unique_ptr<Session> session_;
    std::vector<Seq> seqs_;      // by id; kv < 0: free
    std::vector<float> logits_;  // a step's logits, the storage kept across steps
    std::vector<int> free_;
};

// A local generator on its own model file (e.g. a process reward model):
// owns the model. Throws rs::Error naming the file and the problem.
std::unique_ptr<Generator> open_local_generator(const std::string& gguf_path,
                                                const SessionOptions& opt);

}  // namespace rs
