// The wire shapes of the inference servers the remote generator talks to:
// how a "sample these tokens" or "score this text" question becomes an HTTP
// request for each kind of server, and how its reply becomes token ids with
// log-probabilities. Pure functions over JSON (no networking), so each shape
// is tested against recorded replies written from the servers' documentation.
//
//   openai        OpenAI-style POST /v1/completions with token-id prompts
//                 (reasonscope serve; vLLM's token-id extensions are sent)
//   vllm          the same plus vLLM's prompt_logprobs for scoring
//   sglang        POST /generate (input_ids, return_logprob, top_logprobs_num,
//                 logprob_start_len for scoring)
//   llama-server  llama.cpp's native POST /completion (n_probs,
//                 return_tokens, cache_prompt); cannot score text
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "reasonscope/error.h"
#include "reasonscope/sampling.h"
#include "reasonscope/tokenizer.h"

namespace rs::remote {

enum class Kind { OpenAI, Vllm, Sglang, LlamaServer };

// "openai", "vllm", "sglang", "llama-server" (also "llama.cpp", "reasonscope");
// throws rs::Error listing the kinds.
Kind parse_kind(const std::string& name);
const char* kind_name(Kind k);

// A reply that does not have the shape its kind documents: names the field.
class ProtocolError : public Error {
  public:
    using Error::Error;
};

// Sample up to max_tokens tokens after `prompt`, n times.
struct SampleAsk {
    std::vector<TokenId> prompt;
    int n = 1;
    int max_tokens = 16;
    int top_logprobs = 0;  // alternatives asked per token
    SamplingParams sp;     // temperature below kGreedyTemperature: greedy
    uint64_t seed = 0;
    std::string model;  // the model id requests name
};

struct TokenOut {
    TokenId id = -1;
    float logprob = 0;
    std::vector<std::pair<TokenId, float>> top;  // most likely first
};

struct ChoiceOut {
    std::vector<TokenOut> tokens;
    // "stop" (the model ended), "length" (max_tokens reached) or the
    // server's word for anything else.
    std::string finish;
};

struct Usage {
    int64_t prompt = 0, completion = 0, cached = 0;
};

struct SampleReply {
    std::vector<ChoiceOut> choices;
    Usage usage;
};

// Log-probabilities of tokens[from..] given what precedes each.
struct ScoreAsk {
    std::vector<TokenId> tokens;
    size_t from = 1;
    std::string model;
};

struct HttpCall {
    std::string path;
    nlohmann::json body;
};

// Whether a kind can score text (prompt log-probabilities).
bool can_score(Kind k);

HttpCall sample_request(Kind k, const SampleAsk& a);
// Throws ProtocolError naming the field that is missing or malformed, or
// when the reply has fewer choices than asked.
SampleReply parse_sample_reply(Kind k, const SampleAsk& a, const nlohmann::json& reply);

// Throws rs::Error for a kind that cannot score.
HttpCall score_request(Kind k, const ScoreAsk& a);
// One log-probability per token of tokens[from..].
std::vector<float> parse_score_reply(Kind k, const ScoreAsk& a, const nlohmann::json& reply,
                                     Usage* usage = nullptr);

// Entropy and varentropy of a next-token distribution known only by its top
// k log-probabilities: the tail (1 - their mass) is taken as spread evenly
// over as few tokens as it can be, none more likely than the least likely
// of the top k (at most n_vocab - k of them). Exact when the top k hold all
// the mass; an estimate otherwise (the run records k).
void approximate_signals(const std::vector<std::pair<TokenId, float>>& top, int n_vocab,
                         float& entropy, float& varentropy);

}  // namespace rs::remote
