#include "core/sweep.h"

#include <algorithm>
#include <chrono>

namespace rs::app {

std::string sweep_budget_param(const StrategyInfo& info,
                               const std::map<std::string, std::string>& given) {
    if (const auto it = given.find(info.id); it != given.end()) return it->second;
    for (const char* p : {"n", "width", "particles", "iterations", "traces", "samples", "budget"})
        if (info.find(p)) return p;
    throw SweepSetupError("sweep: strategy '" + info.id +
                          "' has no sample-count parameter; say which with --budget-param " +
                          info.id + "=NAME");
}

SweepPlan plan_sweep(const PluginManager& plugins, SweepSettings settings) {
    SweepPlan plan;
    std::sort(settings.budgets.begin(), settings.budgets.end());
    settings.budgets.erase(std::unique(settings.budgets.begin(), settings.budgets.end()),
                           settings.budgets.end());
    if (settings.strategies.empty() || settings.budgets.empty())
        throw SweepSetupError("sweep: give --strategies and --budgets");
    if (settings.tag.empty()) settings.tag = new_sweep_tag();
    for (const std::string& id : settings.strategies) {
        const auto* e = plugins.find(id);
        if (!e) throw SweepSetupError("sweep: unknown strategy '" + id + "'");
        const std::string param = sweep_budget_param(e->info, settings.budget_params);
        if (!e->info.find(param))
            throw SweepSetupError("sweep: strategy '" + id + "' has no parameter '" + param + "'");
        for (int b : settings.budgets) {
            SweepPlanPoint pt;
            pt.strategy = id;
            pt.param = param;
            pt.budget = b;
            RunRequest& r = pt.request;
            r.strategy = id;
            for (const auto& [k, v] : settings.sets)
                if (e->info.find(k)) r.sets.emplace_back(k, v);
            r.sets.emplace_back(param, std::to_string(b));
            r.seed = settings.seed;
            r.config = settings.config;
            r.prompt = settings.prompt;
            r.suite = settings.suite;
            prepare_run(plugins, r);  // a budget outside the parameter's range fails here
            plan.points.push_back(std::move(pt));
        }
    }
    plan.settings = std::move(settings);
    return plan;
}

double pass_at_k(int n, int c, int k) {
    if (n - c < k) return 1.0;
    double p = 1.0;
    for (int i = n - c + 1; i <= n; ++i) p *= 1.0 - static_cast<double>(k) / i;
    return 1.0 - p;
}

namespace {

template <class F>
double mean_of(const std::vector<SweepRun>& runs, F f) {
    if (runs.empty()) return 0;
    double s = 0;
    for (const SweepRun& r : runs) s += f(r);
    return s / static_cast<double>(runs.size());
}

// Seconds left: each strategy's seconds per unit of budget so far (all
// strategies' when it has none yet) times the budgets of the runs to come,
// since a run's cost grows about linearly with its sample count.
double estimate_remaining(const SweepPlan& plan, const std::vector<SweepPoint>& points,
                          size_t next_point, size_t next_task) {
    std::map<std::string, std::pair<double, double>> rate;  // strategy -> (seconds, budget)
    double all_s = 0, all_b = 0;
    for (const SweepPoint& p : points)
        for (const SweepRun& r : p.runs) {
            rate[p.strategy].first += r.seconds;
            rate[p.strategy].second += p.budget;
            all_s += r.seconds;
            all_b += p.budget;
        }
    if (all_b <= 0) return -1;
    double left = 0;
    const size_t tasks = plan.settings.tasks.size();
    for (size_t i = next_point; i < plan.points.size(); ++i) {
        const SweepPlanPoint& pt = plan.points[i];
        const size_t runs = i == next_point ? tasks - next_task : tasks;
        const auto it = rate.find(pt.strategy);
        const double per = it != rate.end() && it->second.second > 0
                               ? it->second.first / it->second.second
                               : all_s / all_b;
        left += per * pt.budget * static_cast<double>(runs);
    }
    return left;
}

}  // namespace

double SweepPoint::accuracy() const {
    return mean_of(runs, [](const SweepRun& r) { return r.correct == 1 ? 1.0 : 0.0; });
}
double SweepPoint::coverage() const {
    return mean_of(runs, [](const SweepRun& r) { return r.covered ? 1.0 : 0.0; });
}
double SweepPoint::mean_tokens() const {
    return mean_of(runs, [](const SweepRun& r) { return static_cast<double>(r.tokens); });
}
double SweepPoint::mean_passes() const {
    return mean_of(runs, [](const SweepRun& r) { return static_cast<double>(r.passes); });
}
double SweepPoint::mean_seconds() const {
    return mean_of(runs, [](const SweepRun& r) { return r.seconds; });
}
std::vector<int64_t> SweepPoint::run_ids() const {
    std::vector<int64_t> ids;
    for (const SweepRun& r : runs)
        if (r.id) ids.push_back(r.id);
    return ids;
}

std::string new_sweep_tag() {
    return "sweep:" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
}

SweepResult run_sweep(const Model& model, Generator& gen, const PluginManager& plugins,
                      const SweepPlan& plan, const SweepOptions& opt) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const auto since = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
    const SweepSettings& s = plan.settings;
    SweepResult res;
    res.suite = s.suite;
    res.backend = gen.backend_name();
    res.tag = opt.store ? s.tag : std::string();
    res.problems = static_cast<int>(s.tasks.size());
    res.budgets = s.budgets;
    res.strategies = s.strategies;

    SweepProgress prog;
    prog.total = plan.total_runs();
    const auto report = [&](size_t point, size_t task) {
        if (!opt.on_progress) return;
        prog.elapsed = since();
        prog.remaining =
            prog.done == prog.total ? 0 : estimate_remaining(plan, res.points, point, task);
        prog.strategy.clear();
        prog.task.clear();
        prog.budget = 0;
        if (point < plan.points.size() && task < s.tasks.size()) {
            prog.strategy = plan.points[point].strategy;
            prog.budget = plan.points[point].budget;
            prog.task = s.tasks[task].id;
        }
        opt.on_progress(prog);
    };

    RunOptions ro;
    ro.store = opt.store;
    ro.observers = opt.observers;
    ro.cancel = opt.cancel;
    ro.pause = opt.pause;
    report(0, 0);
    for (size_t pi = 0; pi < plan.points.size() && !res.cancelled && res.error.empty(); ++pi) {
        const SweepPlanPoint& pp = plan.points[pi];
        SweepPoint point;
        point.strategy = pp.strategy;
        point.param = pp.param;
        point.budget = pp.budget;
        point.planned = static_cast<int>(s.tasks.size());
        ro.tags = {s.tag, "strategy:" + pp.strategy, "budget:" + std::to_string(pp.budget)};
        res.points.push_back(point);
        for (size_t ti = 0; ti < s.tasks.size(); ++ti) {
            if (opt.cancel && opt.cancel->load()) {
                res.cancelled = true;
                break;
            }
            RunRequest req = pp.request;
            req.task = s.tasks[ti];
            try {
                const RunResult r = run_and_record(model, gen, plugins, req, ro);
                if (r.outcome.status == "cancelled") {
                    res.cancelled = true;
                    break;
                }
                if (r.outcome.status == "error") {
                    res.error = "sweep: " + pp.strategy + " budget " + std::to_string(pp.budget) +
                                ", task " + req.task.id + ": " + r.outcome.error;
                    break;
                }
                SweepRun run;
                run.id = r.run_id;
                run.task = req.task.id;
                run.status = r.outcome.status;
                run.answer = r.outcome.answer;
                run.correct = r.outcome.correct;
                run.covered = any_correct(r.tree());
                run.tokens = r.outcome.metrics.tokens_generated;
                run.passes = r.outcome.metrics.forward_passes;
                run.seconds = r.outcome.metrics.wall_seconds;
                run.signal_traces = trace_signals(r.tree(), req.task.id);
                for (const Node& nd : r.tree().nodes())
                    if (nd.status == NodeStatus::Terminal && !nd.answer.empty()) {
                        ++run.traces;
                        run.right_traces += nd.correct == 1;
                    }
                res.points.back().runs.push_back(std::move(run));
            } catch (const std::exception& e) {
                res.error = e.what();
                break;
            }
            ++prog.done;
            if (opt.on_point) opt.on_point(res.points.back());
            report(ti + 1 < s.tasks.size() ? pi : pi + 1, ti + 1 < s.tasks.size() ? ti + 1 : 0);
        }
        if (res.points.back().runs.empty()) res.points.pop_back();  // cut short before a run
    }

    // coverage@k: mean over problems of pass@k from the largest complete
    // budget's finished traces (problems with fewer than k traces: as they are).
    for (const std::string& id : s.strategies) {
        const SweepPoint* largest = nullptr;
        for (const SweepPoint& p : res.points)
            if (p.strategy == id && p.complete()) largest = &p;
        std::vector<std::pair<int, double>>& ck = res.coverage_at_k[id];
        if (!largest) continue;
        int max_n = 0;
        for (const SweepRun& r : largest->runs) max_n = std::max(max_n, r.traces);
        for (int k = 1; k <= 64 && k <= max_n; k *= 2) {
            double sum = 0;
            for (const SweepRun& r : largest->runs)
                sum += r.traces == 0 ? 0.0
                                     : pass_at_k(r.traces, r.right_traces, std::min(k, r.traces));
            ck.emplace_back(k,
                            sum / static_cast<double>(std::max<size_t>(largest->runs.size(), 1)));
        }
    }
    if (opt.signal_aurocs) {
        res.aurocs = sweep_signal_aurocs(res.points, kSweepBootstrap, s.seed);
        for (const std::string& id : s.strategies)
            res.strategy_aurocs[id] = sweep_signal_aurocs(res.points, kSweepBootstrap, s.seed, id);
    }
    res.seconds = since();
    return res;
}

std::vector<TraceSignals> sweep_traces(const std::vector<SweepPoint>& points,
                                       const std::string& strategy) {
    std::vector<TraceSignals> all;
    for (const SweepPoint& p : points) {
        if (!strategy.empty() && p.strategy != strategy) continue;
        for (const SweepRun& r : p.runs)
            all.insert(all.end(), r.signal_traces.begin(), r.signal_traces.end());
    }
    return all;
}

std::vector<SignalAuroc> sweep_signal_aurocs(const std::vector<SweepPoint>& points, int resamples,
                                             uint64_t seed, const std::string& strategy) {
    return signal_aurocs(sweep_traces(points, strategy), resamples, seed);
}

nlohmann::json sweep_json(const SweepResult& r) {
    nlohmann::json out = {{"suite", r.suite},
                          {"problems", r.problems},
                          {"budgets", r.budgets},
                          {"backend", r.backend}};
    out["cells"] = nlohmann::json::array();
    for (const std::string& id : r.strategies)
        for (const SweepPoint& c : r.points) {
            if (c.strategy != id) continue;
            out["cells"].push_back({{"strategy", c.strategy},
                                    {"budget", c.budget},
                                    {"accuracy", c.accuracy()},
                                    {"coverage", c.coverage()},
                                    {"mean_tokens", c.mean_tokens()},
                                    {"mean_forward_passes", c.mean_passes()},
                                    {"mean_seconds", c.mean_seconds()},
                                    {"param", c.param},
                                    {"problems", c.problems()},
                                    {"run_ids", c.run_ids()}});
        }
    out["coverage_at_k"] = nlohmann::json::object();
    for (const std::string& id : r.strategies) {
        nlohmann::json cj = nlohmann::json::array();
        if (const auto it = r.coverage_at_k.find(id); it != r.coverage_at_k.end())
            for (const auto& [k, v] : it->second) cj.push_back({{"k", k}, {"coverage", v}});
        out["coverage_at_k"][id] = cj;
    }
    if (!r.tag.empty()) out["tag"] = r.tag;
    if (r.cancelled) out["cancelled"] = true;
    if (!r.error.empty()) out["error"] = r.error;
    return out;
}

}  // namespace rs::app
