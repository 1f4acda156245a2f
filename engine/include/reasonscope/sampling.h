// Token sampling and per-token signals.
//
// The sampling stages are small chainable objects over a candidate list
// (repetition penalty, temperature, top-k, top-p, min-p); the Sampler gives
// what that chain and an inverse-CDF draw over the sorted list give, without
// sorting the vocabulary (tokens in buckets by logit, a bucket sorted only
// where a cut or the draw stops in it). The draw is greedy, or keyed by
// (seed, stream, position) through a counter-based generator, so a branch's
// tokens do not depend on which other branches share its batch, their order,
// or the thread count.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reasonscope/tokenizer.h"

namespace rs {

// Uniform double in [0, 1) from a stateless hash of (seed, stream, counter).
double counter_uniform(uint64_t seed, uint64_t stream, uint64_t counter);

struct Candidate {
    TokenId id;
    float logit;
};

struct Candidates {
    std::vector<Candidate> items;
    bool sorted = false;  // by logit, descending
    // By logit descending, equal logits by id ascending (a total order, so the
    // result does not depend on the method). Linear-time radix passes when the
    // items are in id order (as built from a logit vector), else a comparison sort.
    void sort();
};

class SamplerStage {
  public:
    virtual ~SamplerStage() = default;
    virtual std::string name() const = 0;
    virtual void apply(Candidates& c, std::span<const TokenId> history) const = 0;
};

std::unique_ptr<SamplerStage> make_repetition_penalty(float penalty, int last_n);
std::unique_ptr<SamplerStage> make_temperature(float t);
std::unique_ptr<SamplerStage> make_top_k(int k);
std::unique_ptr<SamplerStage> make_top_p(float p);
std::unique_ptr<SamplerStage> make_min_p(float p);

// Temperatures below this sample greedily: logits divided by a smaller one
// overflow (1e-40 makes them all infinite, and the draw NaN).
inline constexpr float kGreedyTemperature = 1e-6f;

// The most alternatives a token may report: a whole vocabulary.
inline constexpr int kMaxAlternatives = 1 << 20;

struct SamplingParams {
    float temperature = 0.8f;  // 0 (or below kGreedyTemperature) = greedy
    int top_k = 0;             // 0 = off
    float top_p = 1.0f;
    float min_p = 0.0f;
    float repeat_penalty = 1.0f;
    int repeat_last_n = 64;
    uint64_t seed = 42;
    int n_alternatives = 5;  // top-k alternatives reported per token (all: the vocabulary)
    // Throws rs::Error naming a parameter outside its range.
    void validate() const;
};

// What the model thought at one step: the chosen token's log-probability,
// entropy and varentropy of the next-token distribution (after temperature;
// of the raw distribution when greedy), and the most likely alternatives.
struct TokenSignals {
    TokenId token = -1;
    float logprob = 0;
    float entropy = 0;
    float varentropy = 0;
    // KL(U || p) = -log n - mean_i log p_i over the whole vocabulary (Kang et
    // al. 2025, "self-certainty"); NaN where the full distribution is unknown.
    float self_certainty = std::numeric_limits<float>::quiet_NaN();
    std::vector<std::pair<TokenId, float>> top;  // (id, logprob), most likely first
};

// False when a row of logits holds a NaN or +inf (a broken weight, an
// overflow in a kernel): nothing can be sampled from it.
bool logits_are_numbers(const float* logits, int n);

// Entropy/varentropy/top-k of softmax(logits / temperature) (T below
// kGreedyTemperature means 1).
void distribution_signals(const float* logits, int n, float temperature, int k, TokenSignals& out);

class Sampler {
  public:
    explicit Sampler(const SamplingParams& p);
    const SamplingParams& params() const { return p_; }
    // Picks the next token of stream `stream` at position `pos`; token -1
    // when the logits hold a NaN or +inf (see logits_are_numbers).
    TokenSignals sample(const float* logits, int n_vocab, std::span<const TokenId> history,
                        uint64_t stream, uint64_t pos) const;
    // The signals of a given token (forced by the run) under the same
    // distribution sample() draws from.
    TokenSignals signals_for(const float* logits, int n_vocab, TokenId token) const;

  private:
    SamplingParams p_;
    std::unique_ptr<SamplerStage> penalty_;  // the repetition penalty stage
};

}  // namespace rs
