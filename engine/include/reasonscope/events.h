// Run events: what a search reports as it grows its tree. The SearchContext
// emits them itself, so a strategy cannot forget to. Observers (the run
// store, the UI's run model, the live monitor, the CLI) receive every event
// in order on the engine thread and must not block.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reasonscope/tree.h"

namespace rs {

enum class EventKind {
    RunStarted,
    NodeAdded,
    TokensAppended,
    NodeStatusChanged,
    NodeScored,
    AnswerFound,
    HiddenState,  // a step's residual-stream taps (only when taps are on)
    Metrics,
    RunFinished
};
const char* event_name(EventKind k);

struct RunMetrics {
    int64_t tokens_generated = 0;
    int64_t forward_passes = 0;
    int64_t nodes = 0;
    int64_t kv_bytes = 0, kv_peak_bytes = 0;
    int branches_alive = 0;
    double wall_seconds = 0;
    double tokens_per_second = 0;
};

struct RunEvent {
    explicit RunEvent(EventKind k = EventKind::Metrics) : kind(k) {}
    EventKind kind;
    int node = -1;
    int parent = -1;
    std::vector<TokenRecord> tokens;  // TokensAppended: the new tokens
    NodeStatus status = NodeStatus::Open;
    std::string key;   // NodeScored: scorer id; RunFinished: "ok", "cancelled", "budget", "error"
    double value = 0;  // NodeScored
    std::string
        text;  // AnswerFound: the answer; RunFinished: final answer; RunStarted: strategy id
    int correct = -1;
    RunMetrics metrics;
    std::vector<int> layers;    // HiddenState: the tapped layers
    std::vector<float> hidden;  // HiddenState: (layers.size(), dim)
};

class RunObserver {
  public:
    virtual ~RunObserver() = default;
    virtual void on_event(const RunEvent& e) = 0;
};

}  // namespace rs
