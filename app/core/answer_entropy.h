// Conditional answer entropy per step ("Measuring Reasoning Utility", 2025):
// after each step of a trace, how unsure the model would be of its answer if
// it had to answer now. The trace's prefix up to the step, then a forced
// answer cue ("\nAnswer:" for an answer-line task, "\boxed{" after the
// thinking span for a boxed one), then M answers sampled at temperature 1
// up to the answer's end; the answers are grouped by their normal form
// (normalize_answer) and the entropy of the groups' frequencies is the
// step's value, in [0, ln M]. The entropy of the first answer token's
// distribution is the cheap variant. The prefix is evaluated once, step by
// step on one KV sequence; each step's answers are forks of it, decoded in
// one batch.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reasonscope/answer.h"
#include "reasonscope/run_store.h"
#include "reasonscope/session.h"
#include "reasonscope/tree.h"

namespace rs::app {

struct AnswerEntropyOptions {
    int samples = 8;             // M answers per step
    int max_answer_tokens = 16;  // an answer's end, at the latest
    uint64_t seed = 1;
    std::string cue;  // the forced answer prefix; "" = answer_cue() of the run
};

struct StepAnswerEntropy {
    int step = 0;                    // 1 = after the first step
    int node = -1;                   // the step's node
    int prefix_tokens = 0;           // tokens before the cue (prompt included)
    double entropy = 0;              // over the answer groups, nats, in [0, ln samples]
    double first_token_entropy = 0;  // of the first answer token's distribution, nats
    std::string top_answer;          // the largest group ("" = no answer stated)
    double top_prob = 0;             // its share of the samples
    // (normal form, count), largest first; "" is the samples that stated no answer.
    std::vector<std::pair<std::string, int>> answers;
};

// The cue that asks the run's model for its answer now: by the run's answer
// format (prompt_settings), after closing the thinking span when the step
// ends inside it.
std::string answer_cue(const RunRow& run, bool inside_thinking);

// The answer entropy after each step of the path root .. leaf of a stored
// run; the session must hold the run's model. Throws rs::Error for a node
// outside the tree, a trace longer than the context, a bad option.
std::vector<StepAnswerEntropy> answer_entropy(Session& session, const RunRow& run,
                                              const ReasoningTree& tree, int leaf,
                                              const AnswerEntropyOptions& opt);

// The leaf a trace of a stored run ends at when none is chosen: the run's
// chosen node when it has one, else its first terminal leaf, else its
// deepest leaf.
int default_trace_leaf(const RunRow& run, const ReasoningTree& tree);

}  // namespace rs::app
