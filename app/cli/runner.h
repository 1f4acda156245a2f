// Shared by `run`, `eval` and the desktop app: one search on a task with a
// strategy plugin, from parsed settings to a finished RunOutcome.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cli/args.h"
#include "plugins/plugin_manager.h"
#include "reasonscope/run_store.h"
#include "reasonscope/search.h"
#include "reasonscope/strategy.h"

namespace rs::cli {

struct RunRequest {
    Task task;
    std::string suite;
    std::string strategy;
    std::vector<std::pair<std::string, std::string>> sets;  // --set k=v
    uint64_t seed = 42;
    RunConfig config;  // budgets; sampling is filled from the strategy's parameters
};

// Session settings for searches: a KV arena of 64k tokens (many branches;
// the arena is only touched as blocks are used).
SessionOptions search_session_options(int threads);
// --kv, --deterministic and --backend, for every command that makes a session.
void add_session_options(Args& a, const char* kv_default);
void apply_session_options(const Args& a, SessionOptions& so);
std::string backend_names();  // the registered backends, "cpu, cuda"
// Throws rs::Error unless name is a registered backend or "auto".
void check_backend_name(const std::string& name);

// Resolves the strategy and its parameters (throws rs::Error for bad ones).
struct PreparedRun {
    std::unique_ptr<Strategy> strategy;
    StrategyInfo info;
    Params params;
    RunConfig config;
};
PreparedRun prepare_run(const app::PluginManager& plugins, const RunRequest& req);

// Loads "SUITE:ID": SUITE is a .jsonl path or a suite name under resources/tasks.
Task load_task_ref(const std::string& ref);
std::string resolve_suite_path(const std::string& name_or_path);

// The run store's description of a run about to start, and its final fields.
RunRow describe_run(const Model& model, const Generator& gen, const RunRequest& req,
                    const PreparedRun& p);
RunRow finished_row(const RunOutcome& out, const SearchContext& ctx);
std::string model_fingerprint(const std::string& path);

// Coverage: some terminal leaf of the tree has the right answer.
bool any_correct(const ReasoningTree& tree);

}  // namespace rs::cli
