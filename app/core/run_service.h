// The run service: one search on a task with a strategy plugin, from a
// request to a finished (and, when a store is given, recorded) run. The CLI's
// `run`, `eval`, `demo` and `bench-store` and the GUI's engine host all run
// searches through run_and_record().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/prompt.h"
#include "plugins/plugin_manager.h"
#include "reasonscope/generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "reasonscope/search.h"
#include "reasonscope/strategy.h"

namespace rs::app {

struct RunRequest {
    Task task;
    std::string suite;
    std::string strategy;
    std::vector<std::pair<std::string, std::string>> sets;  // parameter name=value
    uint64_t seed = 42;
    RunConfig config;      // budgets; sampling is filled from the strategy's parameters
    PromptOptions prompt;  // chat template, thinking budget, step delimiters
    // A counterfactual branch: where in which stored run it departs (stored
    // with the run; run 0: not a branch).
    struct Departure {
        int64_t run = 0;
        int node = -1, token = -1;  // the node, and the token index within it
        int forced_token = -1;      // the token put in place of the sampled one
    } counterfactual_of;
};

// The strategy and its parameters, resolved.
struct PreparedRun {
    std::unique_ptr<Strategy> strategy;
    StrategyInfo info;
    Params params;
    RunConfig config;
};
// Throws rs::Error for an unknown strategy, a bad parameter or a scorer
// option the strategy's scorer does not have.
PreparedRun prepare_run(const PluginManager& plugins, const RunRequest& req);

// This build's version ("0.2.0").
std::string app_version();

// The run store's description of a run about to start, and its final fields.
RunRow describe_run(const Model& model, const Generator& gen, const RunRequest& req,
                    const PreparedRun& p, const PromptPlan& plan);
RunRow finished_row(const RunOutcome& out, const SearchContext& ctx);
std::string model_fingerprint(const std::string& path);

// Coverage: some terminal leaf of the tree has the right answer.
bool any_correct(const ReasoningTree& tree);

struct RunOptions {
    RunStore* store = nullptr;      // where the run is recorded; nullptr: not stored
    std::string name;               // the stored run's name
    std::vector<std::string> tags;  // the stored run's tags
    // Told every event besides the recorder (CLI printers, the GUI's queue).
    std::vector<RunObserver*> observers;
    std::atomic<bool>* cancel = nullptr;  // checked by the search between steps
    std::atomic<bool>* pause = nullptr;
    // Called once the run's row is stored (row.id set), before the search starts.
    std::function<void(const RunRow&)> on_stored;
};

struct RunResult {
    // status ok | budget | cancelled | error, answer, metrics; "incomplete"
    // when the store could not write all of the run's rows (error says why).
    RunOutcome outcome;
    int64_t run_id = 0;  // the stored run; 0 when not stored
    RunRow row;          // the run as stored when it began (default when not stored)
    PromptPlan prompt;   // what the model was given (template, thinking, steps)
    Params params;       // the strategy's parameters, defaults filled in
    // On a server: its cost of this run (RemoteUsage::to_json); else null.
    nlohmann::json server_usage;
    // The finished search (it holds its generator sequences until dropped);
    // the recorder it wrote to, flushed, is declared first so it outlives it.
    std::unique_ptr<RunRecorder> recorder;
    std::unique_ptr<SearchContext> context;
    const ReasoningTree& tree() const { return context->tree(); }
    int chosen_node() const { return context->chosen_node(); }
};

// Prepares the request, stores the run (when opt.store), runs the strategy
// with the recorder and opt.observers, flushes the recorder and stores the
// final fields. A bad request throws before anything is stored. Once stored,
// a run is always finished: a strategy that throws gives outcome.status
// "error" (so does its row); a failure setting the search up (an empty prompt
// or one past the context, a tap layer the model lacks) or recording it marks
// the row "error" with the message, then is rethrown.
RunResult run_and_record(const Model& model, Generator& gen, const PluginManager& plugins,
                         const RunRequest& req, const RunOptions& opt = {});
// The same with a request already prepared (for callers that check it before
// loading the model).
RunResult run_and_record(const Model& model, Generator& gen, const RunRequest& req,
                         PreparedRun prepared, const RunOptions& opt = {});

}  // namespace rs::app
