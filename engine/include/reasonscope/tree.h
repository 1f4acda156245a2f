// The reasoning tree a search grows. A node is one reasoning step: a span of
// tokens ending at a step delimiter (a newline by default), with the signals
// of every token, a status, scores and visit statistics.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "reasonscope/tokenizer.h"

namespace rs {

enum class NodeStatus { Open, Expanded, Pruned, Terminal };
const char* status_name(NodeStatus s);

struct TokenRecord {
    TokenId id = 0;
    std::string piece;  // detokenized text of this token
    float logprob = 0, entropy = 0, varentropy = 0;
    // KL(uniform || next-token distribution) (Kang et al. 2025); NaN: not known
    // (a server's top-k cannot give it, nor a store older than schema 7).
    float self_certainty = std::numeric_limits<float>::quiet_NaN();
    std::vector<std::pair<TokenId, float>> top;  // alternatives (id, logprob), most likely first
    std::vector<std::string> top_pieces;         // their text
    bool thinking = false;  // inside the model's thinking span (its markers included)
    bool forced = false;    // put there by the run (budget forcing), not sampled
};

struct Node {
    int id = 0;
    int parent = -1;  // -1 for the root (the prompt)
    int depth = 0;
    std::vector<int> children;
    std::string text;  // this step's text
    std::vector<TokenRecord> tokens;
    NodeStatus status = NodeStatus::Open;
    bool ended = false;                    // generation hit end-of-sequence
    std::string answer;                    // extracted final answer, if any
    int correct = -1;                      // -1 unknown, 0 wrong, 1 right (vs the task's answer)
    std::map<std::string, double> scores;  // by scorer id
    int visits = 0;
    double value_sum = 0;
    std::vector<float> hidden;  // residual stream at the step's end, first tap layer (optional)
    // Wall time, in seconds after the run started: when the node was added
    // and when its last token came (its start while it has none). NaN: not
    // known (a run stored before schema 8, or an import that does not say).
    double started_at = std::numeric_limits<double>::quiet_NaN();
    double ended_at = std::numeric_limits<double>::quiet_NaN();

    double mean_logprob() const;
    double mean_entropy() const;
    int thinking_tokens() const;  // tokens inside the thinking span
    // The step's text outside the thinking span (all of it without one).
    std::string answer_text() const;
    double value() const { return visits ? value_sum / visits : 0.0; }
    double wall_seconds() const { return ended_at - started_at; }  // NaN when not known
};

class ReasoningTree {
  public:
    int add(int parent);  // returns the new node's id
    Node& at(int id) { return nodes_.at(static_cast<size_t>(id)); }
    const Node& at(int id) const { return nodes_.at(static_cast<size_t>(id)); }
    int size() const { return static_cast<int>(nodes_.size()); }
    const std::vector<Node>& nodes() const { return nodes_; }
    std::vector<int> path(int id) const;  // root .. id
    std::string path_text(int id) const;  // texts along the path, root excluded
    std::vector<int> leaves() const;
    int max_depth() const;

  private:
    std::vector<Node> nodes_;
};

}  // namespace rs
