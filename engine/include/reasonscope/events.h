// Run events: what a search reports as it grows its tree, as one typed
// stream. The SearchContext emits them itself, so a strategy cannot forget
// to, and builds its own tree only by applying them (apply_event() below). Every
// consumer that keeps a tree (the run store's recorder, the UI's run model)
// applies the same events with the same function, so a tree rebuilt from the
// stream equals the search's. Observers receive every event in order on the
// engine thread and must not block.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "reasonscope/tree.h"

namespace rs {

struct RunMetrics {
    int64_t tokens_generated = 0;
    int64_t forward_passes = 0;
    int64_t nodes = 0;
    int64_t kv_bytes = 0, kv_peak_bytes = 0;
    int branches_alive = 0;
    double wall_seconds = 0;
    double tokens_per_second = 0;
};

// A run begins (before its root is added).
struct RunStarted {
    std::string prompt;
};
// A node joins the tree. Ids are dense and in order: `node` is the tree's
// size before it is added. The root (parent -1) starts with the prompt as its
// text; a step starts empty and grows by TokensAppended.
// `at` (here and in TokensAppended): seconds after the run started, stamped
// by the SearchContext as it publishes the event; NaN when not known.
struct NodeAdded {
    int node = -1;
    int parent = -1;
    std::string text;
    double at = std::numeric_limits<double>::quiet_NaN();
};
// Generated tokens of a step (text grows by their pieces).
struct TokensAppended {
    int node = -1;
    std::vector<TokenRecord> tokens;
    double at = std::numeric_limits<double>::quiet_NaN();
};
struct NodeStatusChanged {
    int node = -1;
    NodeStatus status = NodeStatus::Open;
};
struct NodeScored {
    int node = -1;
    std::string scorer;  // scorer id (or a strategy's own key, e.g. "ess")
    double value = 0;
};
// Search statistics after an update (absolute, so applying twice is harmless).
struct NodeStats {
    int node = -1;
    int visits = 0;
    double value_sum = 0;
};
// The step's generation hit end-of-sequence.
struct NodeEnded {
    int node = -1;
};
struct AnswerFound {
    int node = -1;
    std::string answer;
    int correct = -1;  // -1 unknown, 0 wrong, 1 right
};
// A step's residual-stream taps (only when taps are on).
struct HiddenState {
    int node = -1;
    std::vector<int> layers;    // the tapped layers
    std::vector<float> hidden;  // (layers.size(), dim); the tree keeps the first layer's
};
struct MetricsSampled {
    RunMetrics metrics;
};
struct RunFinished {
    std::string status;  // "ok", "cancelled", "budget", "error"
    std::string answer;  // the strategy's final answer
    int node = -1;       // the node it came from, -1 if none
    int correct = -1;
    RunMetrics metrics;
};

using RunEvent =
    std::variant<RunStarted, NodeAdded, TokensAppended, NodeStatusChanged, NodeScored, NodeStats,
                 NodeEnded, AnswerFound, HiddenState, MetricsSampled, RunFinished>;

// Names as in logs ("node_added", "node_stats", ...).
inline const char* event_name(const RunStarted&) {
    return "run_started";
}
inline const char* event_name(const NodeAdded&) {
    return "node_added";
}
inline const char* event_name(const TokensAppended&) {
    return "tokens_appended";
}
inline const char* event_name(const NodeStatusChanged&) {
    return "node_status";
}
inline const char* event_name(const NodeScored&) {
    return "node_scored";
}
inline const char* event_name(const NodeStats&) {
    return "node_stats";
}
inline const char* event_name(const NodeEnded&) {
    return "node_ended";
}
inline const char* event_name(const AnswerFound&) {
    return "answer_found";
}
inline const char* event_name(const HiddenState&) {
    return "hidden_state";
}
inline const char* event_name(const MetricsSampled&) {
    return "metrics";
}
inline const char* event_name(const RunFinished&) {
    return "run_finished";
}
const char* event_name(const RunEvent& e);

// The node an event is about, or -1 (RunStarted, MetricsSampled, RunFinished).
int event_node(const RunEvent& e);

// The one way an event changes a tree: node added (parent, children, depth,
// the root's text, its start time), tokens appended (tokens, text and the
// node's end time), status, score,
// visits/value_sum, ended, answer/correct, hidden state (first tapped layer).
// RunStarted, MetricsSampled and RunFinished leave the tree as it is. An
// event about a node the tree does not have (or a NodeAdded out of order) is
// ignored, so a consumer that joined late cannot corrupt its tree. (Not
// named apply(): a call with a std::variant argument would find std::apply
// by argument-dependent lookup.)
void apply_event(ReasoningTree& tree, const RunEvent& e);

class RunObserver {
  public:
    virtual ~RunObserver() = default;
    virtual void on_event(const RunEvent& e) = 0;
};

}  // namespace rs
