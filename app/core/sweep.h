// A sweep: what each extra token of compute buys. Several strategies at
// several budgets (each strategy's sample-count parameter) on the tasks of a
// suite, one run per (strategy, budget, task), each stored and tagged with
// the sweep, strategy and budget. Per point (strategy, budget): accuracy,
// coverage (a right answer anywhere in the tree), mean tokens, forward
// passes and seconds, the run ids; per strategy, coverage@k from its
// largest budget; per finished trace of every run, its signals
// (trace_signals.h), and each signal's AUROC for telling right traces from
// wrong ones over the whole sweep and per strategy, as `eval --signals`
// reports them. The CLI's `sweep` and the app's Experiments window both
// run it; the sweep reports progress and stops at a cancel flag, keeping
// what it finished.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/run_service.h"
#include "core/trace_signals.h"
#include "reasonscope/error.h"

namespace rs::app {

// A sweep that cannot be set up as asked (an unknown strategy, one without
// a sample-count parameter): the caller's mistake, said before any run.
class SweepSetupError : public Error {
  public:
    using Error::Error;
};

struct SweepSettings {
    std::string suite;        // the suite's path (stored with each run)
    std::vector<Task> tasks;  // the problems, already cut to the limit
    std::vector<std::string> strategies;
    std::vector<int> budgets;  // sorted ascending by plan_sweep
    // STRATEGY -> the parameter its budget sets (default: the first of n,
    // width, particles, iterations, traces, samples, budget it has).
    std::map<std::string, std::string> budget_params;
    // name=value for every strategy that has the parameter.
    std::vector<std::pair<std::string, std::string>> sets;
    uint64_t seed = 42;
    RunConfig config;  // per-run budgets (max tokens, ...)
    PromptOptions prompt;
    std::string tag;  // "sweep:<unix seconds>"; empty: made when the sweep is planned
};

// The parameter a budget sets for `info` (throws SweepSetupError).
std::string sweep_budget_param(const StrategyInfo& info,
                               const std::map<std::string, std::string>& given);

// One (strategy, budget) and its request (the task is filled per problem).
struct SweepPlanPoint {
    std::string strategy, param;
    int budget = 0;
    RunRequest request;
};
struct SweepPlan {
    SweepSettings settings;
    std::vector<SweepPlanPoint> points;  // strategy by strategy, budgets ascending
    int total_runs() const { return static_cast<int>(points.size() * settings.tasks.size()); }
};
// Checks every (strategy, budget) before a model is needed: SweepSetupError
// for an unknown strategy or budget parameter, rs::Error for a budget
// outside the parameter's range or a bad parameter.
SweepPlan plan_sweep(const PluginManager& plugins, SweepSettings settings);

// One problem's run of a point.
struct SweepRun {
    int64_t id = 0;  // in the store; 0 when not stored
    std::string task, status, answer;
    int correct = -1;      // 1 right, 0 wrong, -1 no expected answer
    bool covered = false;  // a right answer somewhere in the tree
    int64_t tokens = 0, passes = 0;
    double seconds = 0;
    int traces = 0, right_traces = 0;  // finished traces with an answer, and right ones
    // The signals of its finished traces with an answer and a known
    // correctness (trace_signals of its tree, the task's id as the problem).
    std::vector<TraceSignals> signal_traces;
};

struct SweepPoint {
    std::string strategy, param;
    int budget = 0;
    int planned = 0;             // problems the point is to run
    std::vector<SweepRun> runs;  // finished ones, in task order
    int problems() const { return static_cast<int>(runs.size()); }
    bool complete() const { return problems() == planned; }
    double accuracy() const;
    double coverage() const;
    double mean_tokens() const;
    double mean_passes() const;
    double mean_seconds() const;
    std::vector<int64_t> run_ids() const;
};

struct SweepProgress {
    int done = 0, total = 0;  // runs finished, runs planned
    double elapsed = 0;       // seconds since the sweep began
    double remaining = -1;    // estimated seconds left (-1: no estimate yet)
    std::string strategy;     // the run about to start (empty at the end)
    int budget = 0;
    std::string task;
};

struct SweepResult {
    std::string suite, backend, tag;
    int problems = 0;
    std::vector<int> budgets;
    std::vector<std::string> strategies;
    std::vector<SweepPoint> points;  // finished points, then the one cut short (if any)
    bool cancelled = false;
    std::string error;  // a run that failed: the sweep stopped there
    double seconds = 0;
    // Per strategy: (k, coverage@k) from its largest complete budget.
    std::map<std::string, std::vector<std::pair<int, double>>> coverage_at_k;
    // Each signal's AUROC over every trace of the sweep, and per strategy
    // over its traces (sweep_signal_aurocs with kSweepBootstrap resamples
    // seeded with the sweep's seed).
    std::vector<SignalAuroc> aurocs;
    std::map<std::string, std::vector<SignalAuroc>> strategy_aurocs;
};

// Bootstrap resamples of a sweep's signal AUROCs (as `eval --signals`).
inline constexpr int kSweepBootstrap = 1000;

// The traces of the points' runs, point by point, run by run; only
// `strategy`'s when it is not empty.
std::vector<TraceSignals> sweep_traces(const std::vector<SweepPoint>& points,
                                       const std::string& strategy = {});
// signal_aurocs over sweep_traces (resamples 0: no bootstrap, the interval
// is the estimate itself: cheap enough to redo after every run).
std::vector<SignalAuroc> sweep_signal_aurocs(const std::vector<SweepPoint>& points, int resamples,
                                             uint64_t seed, const std::string& strategy = {});

struct SweepOptions {
    RunStore* store = nullptr;            // where runs are recorded, tagged; nullptr: not stored
    std::atomic<bool>* cancel = nullptr;  // ends the run in progress (cancelled) and the sweep
    std::atomic<bool>* pause = nullptr;
    std::vector<RunObserver*> observers;  // told every run's events
    // Before the first run and after every run.
    std::function<void(const SweepProgress&)> on_progress;
    // The point a run just added to (complete or not yet).
    std::function<void(const SweepPoint&)> on_point;
    // Each signal's AUROC over the sweep's traces (and per strategy) in the
    // result, with kSweepBootstrap resamples; off, they are left empty.
    bool signal_aurocs = false;
};

// pass@k from n traces of which c are right (Chen et al. 2021).
double pass_at_k(int n, int c, int k);

// Runs the plan point by point, problem by problem, on the engine given
// (each run a fresh strategy from `plugins`).
// A run that fails (or cannot start) stops the sweep with result.error; a
// cancel stops it with result.cancelled; the finished runs are kept either
// way (a point cut short has fewer runs than planned; the cancelled run
// itself is stored as cancelled but not counted).
SweepResult run_sweep(const Model& model, Generator& gen, const PluginManager& plugins,
                      const SweepPlan& plan, const SweepOptions& opt = {});

// The CLI's `sweep --json`: suite, problems, budgets, backend, cells (one
// per point: strategy, budget, accuracy, coverage, mean tokens, passes and
// seconds, plus param, problems and run ids), coverage_at_k; tag,
// cancelled and error when they apply.
nlohmann::json sweep_json(const SweepResult& r);

// A tag for a new sweep ("sweep:<unix seconds>").
std::string new_sweep_tag();

}  // namespace rs::app
