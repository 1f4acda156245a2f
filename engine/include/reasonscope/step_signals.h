// Per-step signals: what the model's token distributions and hidden states
// say about one reasoning step (a tree node's tokens). One function computes
// them for every consumer (the node pane, the HTML report and JSON export,
// `eval --signals`, strategies), from what the tree keeps, so a stored run
// gives the same values as the live one.
//
// A signal that cannot be computed is NaN ("absent", never 0): self-certainty
// when the tokens lack it (a run on a server, a store older than schema 7),
// the latent changes when hidden-state taps were off.
#pragma once

#include <cstddef>
#include <vector>

#include "reasonscope/tree.h"

namespace rs {

// DeepConf's token confidence (Fu et al. 2025): minus the mean log-probability
// of the token's k most likely alternatives (all reported ones when k <= 0;
// non-finite ones skipped), its own log-probability negated when none were
// reported. High when the distribution is peaked.
double token_confidence(const TokenRecord& t, int k = 0);

// DeepConf's group confidence over token confidences `c`: groups are the
// windows of `window` consecutive tokens (one group of all of them when
// fewer). Each window is summed afresh, so an online check that sums the
// same window gets the same value bit for bit.
struct GroupConfidence {
    double lowest = 0;  // the lowest window mean (DeepConf's "lowest group")
    double tail = 0;    // the last window's mean
    double mean = 0;    // the mean of all tokens
};
GroupConfidence group_confidence(const std::vector<double>& c, size_t window);

// Latent-trajectory change ("Tracing the Traces", Vilas et al. 2025) of a
// sequence of hidden states h_1..h_T (T >= 2; all NaN otherwise):
//   net        ||h_T - h_1||
//   cumulative sum_t ||h_{t+1} - h_t||
//   aligned    mean_t cos(h_{t+1} - h_t, h_T - h_t): how much each move heads
//              for where the trajectory ends (1 = straight at it)
struct LatentChange {
    double net, cumulative, aligned;
};
LatentChange latent_change(const std::vector<const std::vector<float>*>& states);

struct StepSignals {
    int tokens = 0;
    double mean_logprob = 0, min_logprob = 0;  // token log-probabilities
    double mean_entropy = 0, mean_varentropy = 0;
    // DeepConf: the lowest sliding-window mean of the step's token confidences.
    double group_confidence = 0;
    // Kang et al. 2025: the mean over the step's tokens of KL(U || p), the
    // divergence of the next-token distribution from uniform (NaN: absent).
    double self_certainty = 0;
    // Latent change of the trajectory so far: the step-end hidden states
    // (first tapped layer) of the path's steps up to and including this one
    // (the engine taps a step at its end). NaN: taps were off or fewer than
    // two steps on the path have a state.
    double latent_net = 0, latent_cumulative = 0, latent_aligned = 0;
};

// The signals of node `node`'s step; `window` is DeepConf's group size in
// tokens, `top_k` the alternatives per token confidence (<= 0: all). The
// root (the prompt) and an empty step have tokens = 0 and NaN token signals.
StepSignals step_signals(const ReasoningTree& tree, int node, int window = 16, int top_k = 0);

// Names and meanings, in display order (for tables and exports); value()
// reads one by name (NaN for an unknown one).
const std::vector<std::pair<const char*, const char*>>& step_signal_names();
double step_signal_value(const StepSignals& s, const char* name);

}  // namespace rs
