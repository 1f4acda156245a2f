// The generator seam (generator.h) on an inference server: vLLM, SGLang,
// llama.cpp's llama-server, or `reasonscope serve`. A sequence is its token
// ids; the server is asked for a chunk of tokens at a time (with their top-k
// log-probabilities) and the search takes them one per extend(), so a step of
// k branches costs about one request per branch and chunk, sent concurrently
// (bounded), and the server's prefix cache shares the common prompt.
// Children forked from one node ask together (one request with n choices
// where the server takes n); in sampled runs the first child takes its
// parent's unread tokens, so a branch that goes on after a step boundary
// does not ask again.
//
// What a server cannot give is refused with the reason: hidden-state taps,
// full next-token distributions; text scoring on servers without prompt
// log-probabilities. Entropy and varentropy are estimated from the top k
// (protocol.h). Transport failures, HTTP errors and malformed replies throw
// rs::Error with one clear message; cancel (watch_cancel) abandons requests
// in flight and ends the search as cancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reasonscope/generator.h"
#include "remote/protocol.h"

namespace rs::remote {

struct RemoteOptions {
    std::string url;  // http://host:port, optionally with a path prefix
    Kind kind = Kind::OpenAI;
    std::string model;       // the server's model id; empty: its first
    std::string api_key;     // sent as a bearer token; never stored
    int concurrency = 8;     // requests in flight at once
    int chunk = 32;          // tokens asked per request and branch
    int max_n = 16;          // choices asked in one request (servers cap n)
    int top_k = 20;          // alternatives asked per token (signals from them)
    double timeout_s = 120;  // a reply must come within this
    double connect_timeout_s = 10;
};

// What the probe found, and what every stored run records.
struct ServerInfo {
    Kind kind = Kind::OpenAI;
    std::string url;  // without credentials
    std::string model;
    std::string version;  // the server's, where it says
    std::string owned_by;
    int n_ctx = 0;  // the server's context, 0: unknown
    bool prompt_logprobs = false;
    int top_k = 0;
    std::string tokenizer_check;  // "matches", or why it was not checked
    nlohmann::json to_json() const;
};

struct RemoteUsage {
    int64_t requests = 0;
    int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
    int64_t tokens_used = 0;  // of the completion tokens, those the search took
    double seconds = 0;       // wall time waiting for replies
    nlohmann::json to_json() const;
    // What was used since `before` (an earlier reading of the same counters).
    RemoteUsage since(const RemoteUsage& before) const;
};

// `url` without user:password@ (what may be stored and shown).
std::string redact_url(const std::string& url);

class RemoteGenerator final : public Generator {
  public:
    // Probes the server (GET /v1/models, the version, /tokenize) and checks
    // that it tokenizes like `tok` (the model's tokenizer read from a local
    // GGUF, which must outlive the generator). local_ctx: the GGUF's context
    // (0: unknown). Throws rs::Error when the server cannot be reached, has
    // no such model, or tokenizes differently.
    RemoteGenerator(const Tokenizer& tok, int local_ctx, RemoteOptions opt);
    ~RemoteGenerator() override;

    const Tokenizer& tokenizer() const override { return tok_; }
    std::string model_name() const override { return info_.model; }
    std::string backend_name() const override;
    std::string backend_reason() const override;
    GeneratorCaps caps() const override;
    int n_ctx() const override { return n_ctx_; }
    int hidden_dim() const override { return 0; }
    int n_layers() const override { return 0; }
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
    std::vector<float> next_token_logprobs(std::span<const TokenId> tokens) override;
    GeneratorStats stats() const override;
    void watch_cancel(const std::atomic<bool>* flag) override { cancel_ = flag; }

    const ServerInfo& server() const { return info_; }
    RemoteUsage usage() const;

  private:
    struct Impl;
    struct Seq;
    Seq& seq_ref(int seq);
    const Seq& seq_ref(int seq) const;
    int add(Seq s);
    // Sends the calls (at most opt.concurrency at once), watching cancel;
    // returns the parsed replies in order. Throws on the first failure.
    std::vector<nlohmann::json> send_all(const std::vector<HttpCall>& calls);

    const Tokenizer& tok_;
    RemoteOptions opt_;
    ServerInfo info_;
    int n_ctx_ = 0;
    std::unique_ptr<Impl> impl_;
    std::vector<Seq> seqs_;
    std::vector<int> free_;
    const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace rs::remote
