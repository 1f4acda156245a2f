// The generator seam: everything the search runtime (SearchContext) and the
// strategy and scorer plugins may ask of a language model. Sequences start
// from a prompt, fork (a child shares its parent's prefix), get released, and
// are extended many at a time by one sampled token each, with the token's
// signals. The local engine (a Session on a backend) is one implementation;
// a remote OpenAI-compatible server is another. Nothing above this seam sees
// a Session, KV cache or Model (this header includes none of them; the local
// engine's generator is in local_generator.h).
//
// A sequence holds the tokens evaluated so far plus one pending token: the
// last token of its prompt or the last one sampled, fed at its next step.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reasonscope/error.h"
#include "reasonscope/sampling.h"
#include "reasonscope/tokenizer.h"

namespace rs {

struct GeneratorCaps {
    bool full_logits = true;           // next_token_logprobs over the whole vocabulary
    bool hidden_taps = true;           // residual-stream taps with a step
    bool prefix_sharing = true;        // fork() shares the parent's computed prefix
    bool continuation_logprob = true;  // log P(continuation | prefix) by teacher forcing
    bool batch_invariant = true;       // a branch's tokens do not depend on its batch
    int max_alternatives = 1 << 30;    // top alternatives a token can report
};

struct GeneratorStats {
    int64_t forward_passes = 0;  // batched passes (or server requests)
    int64_t kv_bytes = 0;        // KV memory in use now
    // The KV cache's size and allocation unit (0: unknown; the search then
    // cannot check a request against it).
    int64_t kv_capacity_bytes = 0;
    int64_t kv_block_bytes = 0;  // one block: kv_block_tokens positions, all layers
    int kv_block_tokens = 0;
};

// Thrown by extend() when the model's next-token logits for requests[request]
// are not numbers (NaN), naming the position; the search adds the step.
class NonFiniteLogits : public Error {
  public:
    NonFiniteLogits(const std::string& what, size_t request) : Error(what), request(request) {}
    size_t request;
};

// What plugin metadata may say a strategy or scorer needs ("needs": [...]):
// "continuation_logprob" (scoring given text), "full_logits" (whole
// next-token distributions), "hidden_taps" (residual-stream taps).
inline const std::vector<std::string>& capability_names() {
    static const std::vector<std::string> names = {"continuation_logprob", "full_logits",
                                                   "hidden_taps"};
    return names;
}
// Of `needs`, what `caps` lacks, in words ("" when nothing is missing).
inline std::string missing_capabilities(const std::vector<std::string>& needs,
                                        const GeneratorCaps& caps) {
    std::string out;
    for (const std::string& n : needs) {
        const char* what = nullptr;
        if (n == "continuation_logprob" && !caps.continuation_logprob)
            what = "scoring given text (prompt log-probabilities)";
        else if (n == "full_logits" && !caps.full_logits)
            what = "full next-token distributions";
        else if (n == "hidden_taps" && !caps.hidden_taps)
            what = "hidden-state taps";
        if (what) out += (out.empty() ? "" : ", ") + std::string(what);
    }
    return out;
}

// One sequence to extend by one token; `stream` keys the sampling randomness
// (with the run seed and the token's position): the search uses the node id.
struct ExtendRequest {
    ExtendRequest() = default;
    ExtendRequest(int seq_, uint64_t stream_) : seq(seq_), stream(stream_) {}
    int seq = -1;
    uint64_t stream = 0;
    // The run decides the token instead of the sampler (budget forcing): its
    // signals are those of the forced token under the model's distribution.
    TokenId force = -1;
    // When the sampler draws one of these tokens, `veto_with` takes its place
    // (s1's "Wait" instead of the end of thinking).
    std::vector<TokenId> veto;
    TokenId veto_with = -1;
    // This request's sampling instead of the call's (a server batching
    // requests of different clients in one step); must outlive the call.
    const SamplingParams* params = nullptr;
};

struct Extension {
    TokenSignals token;         // the sampled token (now the sequence's pending token)
    bool forced = false;        // the token was forced or replaced a vetoed one
    std::vector<float> hidden;  // (tap layers, hidden_dim()) if taps were asked for
};

class Generator {
  public:
    virtual ~Generator() = default;
    virtual const Tokenizer& tokenizer() const = 0;
    virtual std::string model_name() const = 0;
    virtual std::string backend_name() const = 0;  // where it computes ("cpu (avx512)", a URL)
    virtual std::string backend_reason() const { return {}; }  // why that one ("auto: ...")
    virtual GeneratorCaps caps() const = 0;
    virtual int n_ctx() const = 0;       // tokens a sequence may hold
    virtual int hidden_dim() const = 0;  // width of a hidden-state tap (0: none)
    virtual int n_layers() const = 0;    // tap layers are -1 (final norm) .. n_layers - 1

    // A sequence whose tokens are `prompt` (all but the last evaluated now,
    // the last pending). Throws rs::Error if it does not fit the context.
    virtual int start(std::span<const TokenId> prompt) = 0;
    virtual int fork(int seq) = 0;
    virtual void release(int seq) = 0;
    virtual bool alive(int seq) const = 0;
    virtual int length(int seq) const = 0;  // tokens, the pending one included
    // The sequence's tokens (prompt and sampled), the pending one last.
    virtual const std::vector<TokenId>& tokens(int seq) const = 0;

    // One token for each request, in one batch where the engine can: each
    // sequence's pending token is evaluated and the next is sampled with
    // `params` (counter-based: seed, request.stream, position), becoming the
    // sequence's pending token. tap_layers: hidden states at these layers of
    // the evaluated token. Throws rs::Error on context overflow.
    virtual std::vector<Extension> extend(std::span<const ExtendRequest> requests,
                                          const SamplingParams& params,
                                          const std::vector<int>& tap_layers = {}) = 0;

    // log P(continuation | prefix) under the model (prefix starts with BOS
    // if the model wants one), by teacher forcing on a scratch sequence.
    virtual double continuation_logprob(std::span<const TokenId> prefix,
                                        std::span<const TokenId> continuation) = 0;
    // The same by token: each continuation token's signals under the raw
    // distribution (temperature 1): its log-probability, the entropy and
    // varentropy, and the k most likely tokens. Echoed prompts of a server.
    virtual std::vector<TokenSignals> continuation_signals(std::span<const TokenId> prefix,
                                                           std::span<const TokenId> continuation,
                                                           int k) {
        (void)prefix, (void)continuation, (void)k;
        throw Error("per-token continuation signals are not available on " + backend_name());
    }
    // log-probabilities of the next token after `tokens` (n_vocab of them;
    // needs caps().full_logits).
    virtual std::vector<float> next_token_logprobs(std::span<const TokenId> tokens) = 0;

    virtual GeneratorStats stats() const = 0;

    // A generator whose calls wait on something outside the process (a
    // server) watches this flag while it waits and abandons the work in
    // flight when it is set (extend() then ends the search as cancelled).
    // nullptr: none. The local engine's passes are short; it ignores it.
    virtual void watch_cancel(const std::atomic<bool>* /*flag*/) {}
};

}  // namespace rs
