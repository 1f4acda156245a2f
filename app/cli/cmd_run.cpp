// reasonscope run / strategies / eval.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/prompt_args.h"
#include "cli/remote_args.h"
#include "cli/session_args.h"
#include "core/counterfactual.h"
#include "core/resources.h"
#include "core/run_service.h"
#include "core/session_options.h"
#include "core/trace_signals.h"
#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "reasonscope/text_safety.h"

namespace rs::cli {
namespace {

void add_budget_options(Args& a) {
    a.option("model", "GGUF model (default: the bundled model)")
        .multi("set", "strategy parameter name=value (repeatable)")
        .multi("scorer-opt",
               "option of the strategy's scorer, name=value (repeatable; see "
               "`reasonscope scorers`)")
        .option("seed", "random seed", "42")
        .option("threads", "compute threads (0 = all cores)", "0")
        .option("max-tokens", "budget: generated tokens (0 = none)", "0")
        .option("max-passes", "budget: forward passes (0 = none)", "0")
        .option("max-seconds", "budget: wall time (0 = none)", "0")
        .option("taps", "hidden-state taps: comma-separated layers (-1 = final norm), e.g. -1", "");
    add_session_options(a, "f32");
    add_prompt_options(a);
    add_remote_options(a);
}

app::RunRequest request_from(const Args& a) {
    app::RunRequest r;
    r.strategy = a.get("strategy");
    for (const auto& s : a.all("set")) r.sets.push_back(split_setting(s));
    for (const auto& s : a.all("scorer-opt")) {
        auto [k, v] = split_setting(s);
        r.config.scorer_options[k] = v;
    }
    r.seed = static_cast<uint64_t>(a.get_int("seed", 0, 2147483647));
    r.config.max_tokens = a.get_int("max-tokens", 0, 1 << 30);
    r.config.max_passes = a.get_int("max-passes", 0, 1 << 30);
    r.config.max_seconds = a.get_double("max-seconds", 0, 1e7);
    r.prompt = prompt_options(a);
    r.config.tap_layers = a.get_int_list("taps", -1, 1 << 20);
    return r;
}

// Prints the tree as it grows when --verbose.
class Printer final : public RunObserver {
  public:
    void on_event(const RunEvent& e) override {
        if (const auto* a = std::get_if<AnswerFound>(&e))
            std::fprintf(stderr, "  node %d answers %s%s\n", a->node, field(a->answer).c_str(),
                         a->correct == 1   ? " (correct)"
                         : a->correct == 0 ? " (wrong)"
                                           : "");
    }
};

// Ctrl-C (SIGINT) and SIGTERM during `run` and `eval`: the first sets the
// flag the search checks between steps, so the run ends "cancelled" with its
// rows flushed and stored, and the command exits 128 + the signal; a second
// signal ends the process at once (the run is then marked incomplete when
// the store is next opened).
std::atomic<bool> g_cancel{false};
volatile std::sig_atomic_t g_signal = 0;
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler stores to it");

extern "C" void cancel_on_signal(int sig) {
    if (g_signal != 0) _exit(128 + sig);  // async-signal-safe, as is the rest
    g_signal = sig;
    g_cancel.store(true);
}

class CancelOnSignals {
  public:
    CancelOnSignals() {
        g_cancel.store(false);
        g_signal = 0;
        struct sigaction sa = {};
        sa.sa_handler = cancel_on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~CancelOnSignals() {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }
    CancelOnSignals(const CancelOnSignals&) = delete;
    CancelOnSignals& operator=(const CancelOnSignals&) = delete;
    std::atomic<bool>* flag() { return &g_cancel; }
    int signal() const { return g_signal; }
    const char* name() const { return g_signal == SIGINT ? "SIGINT" : "SIGTERM"; }

  private:
    struct sigaction old_int_ = {}, old_term_ = {};
};

SessionOptions session_options(const Args& a) {
    SessionOptions so = app::search_session_options(a.get_threads());
    apply_session_options(a, so);
    return so;
}

}  // namespace

int cmd_scorers(const Argv& argv) {
    Args a("scorers", "[--json]");
    a.flag("json", "print JSON");
    if (!a.parse(argv)) return 0;
    app::PluginManager pm;
    pm.scan();
    const auto all = scorers();
    if (a.flag_set("json")) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& s : all) {
            nlohmann::json x = {{"id", s.id},
                                {"name", s.name},
                                {"description", s.description},
                                {"reference", s.reference},
                                {"source", s.source}};
            if (!s.needs.empty()) x["needs"] = s.needs;
            x["options"] = nlohmann::json::array();
            for (const auto& o : s.options)
                x["options"].push_back(
                    {{"name", o.name}, {"type", o.type}, {"default", o.dflt}, {"help", o.help}});
            j.push_back(x);
        }
        std::puts(j.dump(2).c_str());
    } else {
        for (const auto& s : all) {
            std::printf("%s — %s\n  %s\n", s.id.c_str(), s.name.c_str(), s.description.c_str());
            if (!s.reference.empty()) std::printf("  reference: %s\n", s.reference.c_str());
            std::printf("  from: %s\n", s.source.c_str());
            if (!s.needs.empty()) {
                std::string n;
                for (const std::string& x : s.needs) n += (n.empty() ? "" : ", ") + x;
                std::printf("  needs: %s\n", n.c_str());
            }
            for (const auto& o : s.options)
                std::printf("    --scorer-opt %s=...  (%s, default %s) %s\n", o.name.c_str(),
                            o.type.c_str(), o.dflt.dump().c_str(), o.help.c_str());
        }
    }
    for (const auto& e : pm.errors())
        std::fprintf(stderr, "plugin %s failed to load: %s\n", qPrintable(e.path),
                     qPrintable(e.message));
    return 0;
}

int cmd_strategies(const Argv& argv) {
    Args a("strategies", "[--json]");
    a.flag("json", "print JSON");
    if (!a.parse(argv)) return 0;
    app::PluginManager pm;
    pm.scan();
    if (a.flag_set("json")) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& e : pm.strategies()) {
            auto x = strategy_info_to_json(e.info);
            x["path"] = e.path.toStdString();
            j.push_back(x);
        }
        std::puts(j.dump(2).c_str());
    } else {
        for (const auto& e : pm.strategies()) {
            std::printf("%s — %s\n  %s\n  paper: %s\n", e.info.id.c_str(), e.info.name.c_str(),
                        e.info.description.c_str(), e.info.paper.c_str());
            for (const auto& p : e.info.params) {
                std::string range =
                    p.min.is_null() ? "" : " [" + p.min.dump() + ", " + p.max.dump() + "]";
                if (!p.choices.empty()) {
                    range = " {";
                    for (size_t i = 0; i < p.choices.size(); ++i)
                        range += (i ? "|" : "") + p.choices[i];
                    range += "}";
                }
                std::printf("    --set %s=%s  (%s%s) %s\n", p.name.c_str(), p.dflt.dump().c_str(),
                            p.type.c_str(), range.c_str(), p.help.c_str());
            }
        }
    }
    for (const auto& e : pm.errors())
        std::fprintf(stderr, "plugin %s failed to load: %s\n", qPrintable(e.path),
                     qPrintable(e.message));
    return pm.strategies().empty() ? 2 : 0;
}

int cmd_run(const Argv& argv) {
    Args a("run",
           "[--model FILE] (--prompt TEXT | --task SUITE:ID) --strategy ID [--set k=v ...] [--seed "
           "S]");
    add_budget_options(a);
    a.option("prompt", "problem text")
        .option("task", "SUITE:ID from a task suite (e.g. hard:hard-007)")
        .option("strategy", "strategy id (see `reasonscope strategies`)", "chain-of-thought")
        .flag("verbose", "report answers as they are found")
        .flag("json", "print JSON")
        .option("db", "run store (default: $XDG_DATA_HOME/reasonscope/runs.sqlite)")
        .flag("no-store", "do not store the run")
        .option("name", "name the stored run")
        .multi("tag", "tag the stored run");
    if (!a.parse(argv)) return 0;
    app::RunRequest req = request_from(a);
    if (a.has("task")) {
        app::TaskRef ref = app::resolve_task_ref(a.get("task"), suite_options(a));
        req.task = std::move(ref.task);
        req.suite = ref.suite_path;
    } else if (a.has("prompt")) {
        req.task.id = "prompt";
        req.task.prompt = a.get("prompt");
        req.task.answer_format = suite_options(a).answer_format;
    } else
        throw UsageError{"run: give --prompt TEXT or --task SUITE:ID"};
    app::PluginManager pm;
    pm.scan();
    app::PreparedRun p = app::prepare_run(pm, req);  // bad parameters fail before the model loads
    Engine engine = open_engine(a, session_options(a));
    const Model* model = engine.model.get();
    Generator& gen = *engine.gen;
    Printer printer;
    app::RunOptions opt;
    if (a.flag_set("verbose")) opt.observers.push_back(&printer);
    std::unique_ptr<RunStore> store;
    if (!a.flag_set("no-store")) {
        store = RunStore::open(a.get("db").empty() ? RunStore::default_path() : a.get("db"));
        WriteOptions w = store->write_options();
        w.on_status = [](int64_t id, const RecorderStatus& s) {
            const std::string run = id > 0 ? "run " + std::to_string(id) + ": " : "";
            if (s.waiting)
                std::fprintf(stderr, "%swaiting for the database: %s\n", run.c_str(),
                             s.last_error.c_str());
            else if (s.lost.empty())
                std::fprintf(stderr, "%sthe database is free again, nothing lost\n", run.c_str());
        };
        store->set_write_options(std::move(w));
        opt.store = store.get();
        opt.name = a.get("name");
        opt.tags = a.all("tag");
    }
    CancelOnSignals interrupt;
    opt.cancel = interrupt.flag();
    const app::RunResult res = app::run_and_record(*model, gen, req, std::move(p), opt);
    const RunOutcome& out = res.outcome;
    const int64_t stored_id = res.run_id;

    const ReasoningTree& t = res.tree();
    int terminal = 0, pruned = 0, thinking_tokens = 0;
    std::map<std::string, int> answers;
    for (const auto& n : t.nodes()) {
        thinking_tokens += n.thinking_tokens();
        terminal += n.status == NodeStatus::Terminal;
        pruned += n.status == NodeStatus::Pruned;
        if (!n.answer.empty()) answers[n.answer]++;
    }
    if (a.flag_set("json")) {
        nlohmann::json j = {{"strategy", req.strategy},
                            {"params", res.params},
                            {"task", req.task.id},
                            {"status", out.status},
                            {"answer", out.answer},
                            {"correct", out.correct},
                            {"expected", req.task.answer},
                            {"nodes", t.size()},
                            {"depth", t.max_depth()},
                            {"terminal", terminal},
                            {"pruned", pruned},
                            {"coverage", app::any_correct(t)},
                            {"tokens", out.metrics.tokens_generated},
                            {"forward_passes", out.metrics.forward_passes},
                            {"wall_seconds", out.metrics.wall_seconds},
                            {"kv_peak_bytes", out.metrics.kv_peak_bytes},
                            {"answers", answers},
                            {"run_id", stored_id}};
        if (!out.error.empty()) j["error"] = out.error;
        j["prompt_settings"] = res.prompt.describe();
        j["thinking_tokens"] = thinking_tokens;
        print_json(j);
    } else {
        std::printf("strategy  %s %s\n", req.strategy.c_str(), res.params.dump().c_str());
        if (res.prompt.chat || res.prompt.thinking.enabled()) {
            std::printf(
                "prompt    %s%s\n",
                res.prompt.chat ? ("chat template (" + res.prompt.template_from + ", sha256 " +
                                   res.prompt.template_sha.substr(0, 12) + ")")
                                      .c_str()
                                : "as given",
                res.prompt.thinking.enabled() ? (", thinking " + field(res.prompt.thinking.open) +
                                                 ".." + field(res.prompt.thinking.close) + ": " +
                                                 std::to_string(thinking_tokens) + " tokens")
                                                    .c_str()
                                              : "");
        }
        std::printf("tree      %d nodes, depth %d, %d terminal, %d pruned\n", t.size(),
                    t.max_depth(), terminal, pruned);
        std::printf("answers  ");
        for (const auto& [ans, c] : answers) std::printf(" %s x%d", field(ans).c_str(), c);
        std::printf("\nanswer    %s%s\n", out.answer.empty() ? "(none)" : field(out.answer).c_str(),
                    out.correct == 1 ? "  (correct)"
                    : out.correct == 0
                        ? ("  (wrong; expected " + field(req.task.answer) + ")").c_str()
                        : "");
        std::printf("cost      %lld tokens, %lld forward passes, %.2f s, KV peak %.1f MB\n",
                    static_cast<long long>(out.metrics.tokens_generated),
                    static_cast<long long>(out.metrics.forward_passes), out.metrics.wall_seconds,
                    out.metrics.kv_peak_bytes / 1e6);
        if (out.status != "ok")
            std::printf("status    %s %s\n", out.status.c_str(), field(out.error).c_str());
        if (stored_id)
            std::printf("stored    run %lld in %s\n", static_cast<long long>(stored_id),
                        store->path().c_str());
    }
    if (out.status == "error") throw Error("strategy '" + req.strategy + "' failed: " + out.error);
    if (out.status == "cancelled" && interrupt.signal()) {
        if (stored_id)
            std::fprintf(stderr, "run %lld cancelled (%s); its rows are stored in %s\n",
                         static_cast<long long>(stored_id), interrupt.name(),
                         store->path().c_str());
        else
            std::fprintf(stderr, "run cancelled (%s)\n", interrupt.name());
        return 128 + interrupt.signal();
    }
    if (out.status == "incomplete")
        throw Error("run " + std::to_string(stored_id) + " is incomplete in " + store->path() +
                    ": " + out.error);
    return 0;
}

int cmd_eval(const Argv& argv) {
    Args a("eval", "[--model FILE] --suite FILE --strategy ID [--set k=v] [--limit N] [--json]");
    add_budget_options(a);
    a.option("suite", "task suite (.jsonl path or name: easy, medium, hard)", "hard")
        .option("strategy", "strategy id", "chain-of-thought")
        .option("limit", "evaluate the first N tasks (0 = all)", "0")
        .option("concurrency",
                "problems searched at once (with --remote; each has its own requests)", "1")
        .flag("json", "print JSON")
        .flag("quiet", "no per-problem rows")
        .flag("signals",
              "per finished trace: its signals and whether it is right; each signal's AUROC for "
              "predicting a right answer, with a 95% bootstrap interval over problems")
        .option("signals-window", "DeepConf group size in tokens (--signals)", "16")
        .option("signals-csv", "write every trace's signals to this CSV file (--signals)");
    if (!a.parse(argv)) return 0;
    app::RunRequest base = request_from(a);
    const bool want_signals = a.flag_set("signals") || a.has("signals-csv");
    const int signals_window = a.get_int("signals-window", 1, 1 << 20);
    std::string suite_path = app::resolve_suite_path(a.get("suite"));
    auto tasks = load_suite(suite_path, suite_options(a));
    int limit = a.get_int("limit", 0, 1 << 30);
    if (limit > 0 && static_cast<size_t>(limit) < tasks.size())
        tasks.resize(static_cast<size_t>(limit));
    const int concurrency = a.get_int("concurrency", 1, 256);
    const bool remote = a.has("remote") && !a.get("remote").empty();
    if (concurrency > 1 && !remote)
        throw UsageError{
            "--concurrency needs --remote (the local engine searches one problem at "
            "a time, on all its threads)"};
    app::PluginManager pm;
    pm.scan();
    const Params params = app::prepare_run(pm, base).params;  // checked before the model loads
    // One generator per problem in flight (a server's generator holds its
    // sequences; each search has its own).
    std::vector<Engine> engines;
    engines.push_back(open_engine(a, session_options(a)));
    for (int i = 1; i < std::min<int>(concurrency, static_cast<int>(tasks.size())); ++i)
        engines.push_back(open_engine(a, session_options(a)));
    const Model& model = *engines.front().model;
    const bool rows_shown = !a.flag_set("json") && !a.flag_set("quiet");
    const bool progress = concurrency > 1 && !a.flag_set("json") && isatty(fileno(stderr));
    if (rows_shown) {
        std::printf("%-12s %-8s %-8s %-7s %8s %8s %8s", "task", "answer", "expected", "ok",
                    "tokens", "passes", "seconds");
        if (remote) std::printf(" %8s %9s %8s", "requests", "prompt", "cached");
        std::printf("\n");
    }
    CancelOnSignals interrupt;
    app::RunOptions opt;  // not stored
    opt.cancel = interrupt.flag();

    struct Result {
        bool done = false;
        RunOutcome out;
        bool covered = false;
        nlohmann::json server_usage;
        std::vector<app::TraceSignals> traces;
    };
    std::vector<Result> results(tasks.size());
    std::mutex mu;
    std::string failure;  // the first error ends the evaluation
    size_t next = 0, finished = 0, printed = 0;
    const auto print_ready = [&] {
        // Rows in suite order, as they become available.
        for (; printed < tasks.size() && results[printed].done; ++printed) {
            const Task& t = tasks[printed];
            const Result& r = results[printed];
            if (!rows_shown) continue;
            if (progress) std::fprintf(stderr, "\r\033[K");
            std::printf("%-12s %-8s %-8s %-7s %8lld %8lld %8.2f", field(t.id).c_str(),
                        r.out.answer.empty() ? "-" : field(r.out.answer).c_str(),
                        field(t.answer).c_str(), r.out.correct == 1 ? "yes" : "no",
                        static_cast<long long>(r.out.metrics.tokens_generated),
                        static_cast<long long>(r.out.metrics.forward_passes),
                        r.out.metrics.wall_seconds);
            if (remote)
                std::printf(" %8lld %9lld %8lld", r.server_usage.value("requests", 0LL),
                            r.server_usage.value("prompt_tokens", 0LL),
                            r.server_usage.value("cached_tokens", 0LL));
            std::printf("\n");
        }
        std::fflush(stdout);
        if (progress) {
            const int width = 30;
            const int fill = static_cast<int>(width * finished / std::max<size_t>(tasks.size(), 1));
            std::fprintf(stderr, "\r[%s%s] %zu/%zu",
                         std::string(static_cast<size_t>(fill), '#').c_str(),
                         std::string(static_cast<size_t>(width - fill), ' ').c_str(), finished,
                         tasks.size());
        }
    };
    const auto worker = [&](Engine& eng) {
        for (;;) {
            size_t i;
            {
                const std::lock_guard lk(mu);
                if (next >= tasks.size() || !failure.empty() || interrupt.signal()) return;
                i = next++;
            }
            app::RunRequest req = base;
            req.task = tasks[i];
            req.suite = suite_path;
            Result r;
            try {
                const app::RunResult res = app::run_and_record(model, *eng.gen, pm, req, opt);
                r.out = res.outcome;
                r.covered = app::any_correct(res.tree());
                if (want_signals)
                    r.traces = app::trace_signals(res.tree(), tasks[i].id, signals_window);
                r.server_usage = res.server_usage;
                if (r.out.status == "error" && !interrupt.signal())
                    throw Error("task " + tasks[i].id + ": " + r.out.error);
            } catch (const std::exception& e) {
                const std::lock_guard lk(mu);
                if (failure.empty()) failure = e.what();
                return;
            }
            const std::lock_guard lk(mu);
            if (interrupt.signal()) return;  // the summary covers the tasks done
            results[i] = std::move(r);
            results[i].done = true;
            ++finished;
            print_ready();
        }
    };
    if (engines.size() == 1) {
        worker(engines.front());
    } else {
        std::vector<std::thread> pool;
        for (Engine& e : engines) pool.emplace_back(worker, std::ref(e));
        for (std::thread& t : pool) t.join();
    }
    if (progress) std::fprintf(stderr, "\r\033[K");
    if (!failure.empty()) throw Error(failure);

    nlohmann::json rows = nlohmann::json::array();
    int correct = 0, covered = 0;
    double tokens = 0, passes = 0, wall = 0;
    size_t done = 0;
    nlohmann::json server_total = {
        {"requests", 0}, {"prompt_tokens", 0}, {"completion_tokens", 0}, {"cached_tokens", 0}};
    for (size_t i = 0; i < tasks.size(); ++i) {
        const Result& r = results[i];
        if (!r.done) continue;
        ++done;
        const bool ok = r.out.correct == 1;
        correct += ok;
        covered += r.covered;
        tokens += static_cast<double>(r.out.metrics.tokens_generated);
        passes += static_cast<double>(r.out.metrics.forward_passes);
        wall += r.out.metrics.wall_seconds;
        nlohmann::json row = {{"task", tasks[i].id},
                              {"answer", r.out.answer},
                              {"expected", tasks[i].answer},
                              {"correct", ok},
                              {"coverage", r.covered},
                              {"tokens", r.out.metrics.tokens_generated},
                              {"forward_passes", r.out.metrics.forward_passes},
                              {"wall_seconds", r.out.metrics.wall_seconds}};
        if (remote) {
            row["server"] = r.server_usage;
            for (auto& [k, v] : server_total.items())
                v = v.get<int64_t>() + r.server_usage.value(k, int64_t{0});
        }
        rows.push_back(std::move(row));
    }
    if (interrupt.signal())
        std::fprintf(stderr, "eval cancelled (%s) after %zu of %zu tasks\n", interrupt.name(), done,
                     tasks.size());
    const double n = static_cast<double>(std::max<size_t>(done, 1));
    nlohmann::json summary = {{"suite", suite_path},
                              {"strategy", base.strategy},
                              {"params", params},
                              {"problems", done},
                              {"accuracy", correct / n},
                              {"coverage", covered / n},
                              {"mean_tokens", tokens / n},
                              {"mean_forward_passes", passes / n},
                              {"mean_wall_seconds", wall / n}};
    if (remote) {
        summary["server"] = server_total;
        summary["backend"] = engines.front().gen->backend_name();
        summary["concurrency"] = engines.size();
    }
    std::vector<app::SignalAuroc> aurocs;
    if (want_signals) {
        std::vector<app::TraceSignals> all;
        for (const Result& r : results)
            if (r.done) all.insert(all.end(), r.traces.begin(), r.traces.end());
        aurocs = app::signal_aurocs(all, 1000, base.seed);
        summary["signals"] = {{"traces", all.size()},
                              {"window", signals_window},
                              {"auroc", app::aurocs_to_json(aurocs)}};
        if (a.has("signals-csv")) {
            std::ofstream csv(a.get("signals-csv"));
            if (!csv) throw Error("cannot write " + a.get("signals-csv"));
            csv << "task,leaf,correct";
            for (const auto& sa : aurocs) csv << "," << sa.signal;
            csv << "\n";
            for (const app::TraceSignals& t : all) {
                csv << text::csv_text(t.task) << "," << t.leaf << "," << (t.correct ? 1 : 0);
                for (const auto& sa : aurocs) {
                    csv << ",";
                    if (const auto it = t.values.find(sa.signal); it != t.values.end())
                        csv << it->second;
                }
                csv << "\n";
            }
            if (!csv.flush()) throw Error("cannot write " + a.get("signals-csv"));
        }
    }
    if (a.flag_set("json")) {
        summary["rows"] = rows;
        print_json(summary);
    } else {
        std::printf(
            "\n%s on %s (%zu problems) %s\naccuracy %.1f%%  coverage %.1f%%  mean tokens %.0f  "
            "mean passes %.0f  mean %.2f s\n",
            base.strategy.c_str(), suite_path.c_str(), done, params.dump().c_str(),
            100.0 * correct / n, 100.0 * covered / n, tokens / n, passes / n, wall / n);
        if (remote)
            std::printf(
                "server    %s: %lld requests, %lld prompt tokens (%lld cached), %lld "
                "completion tokens\n",
                engines.front().gen->backend_name().c_str(),
                static_cast<long long>(server_total["requests"].get<int64_t>()),
                static_cast<long long>(server_total["prompt_tokens"].get<int64_t>()),
                static_cast<long long>(server_total["cached_tokens"].get<int64_t>()),
                static_cast<long long>(server_total["completion_tokens"].get<int64_t>()));
        if (want_signals) {
            size_t n_traces = 0;
            for (const Result& r : results) n_traces += r.traces.size();
            std::printf(
                "\nwhich signal predicts a right answer (%zu finished traces; AUROC with a 95%% "
                "bootstrap over problems; within: the mean AUROC inside each problem that has "
                "right and wrong traces):\n%-22s %7s %17s %7s %7s %7s\n",
                n_traces, "signal", "AUROC", "95% interval", "within", "right", "wrong");
            for (const auto& sa : aurocs)
                std::printf("%-22s %7.3f   [%5.3f, %5.3f] %7.3f %7d %7d\n", sa.signal.c_str(),
                            sa.auroc, sa.lo, sa.hi, sa.within, sa.positives, sa.negatives);
            if (!aurocs.empty())
                std::printf("(%d problems have both right and wrong traces)\n",
                            aurocs.front().within_problems);
        }
    }
    return interrupt.signal() ? 128 + interrupt.signal() : 0;
}

// reasonscope branch: a counterfactual branch of a stored run, from one of
// its tokens with a recorded alternative in its place (as the app's token
// view does), on the run's own model; stored linked to the run (schema 8).
int cmd_branch(const Argv& argv) {
    Args a("branch",
           "--run ID --node N --token I --with TOKEN_ID [--sample-like-run] [--seed S] [--db FILE] "
           "[--model FILE] [--threads T] [--json]");
    a.option("run", "the stored run to branch from")
        .option("node", "a node (step) of the run")
        .option("token", "the token of that step to replace (0 = its first)", "0")
        .option("with", "the token id to put there: one of its recorded alternatives")
        .flag("sample-like-run", "continue with the run's temperature and seed (default: greedy)")
        .option("seed", "random seed when not sampling like the run", "42")
        .option("db", "run store (default: $XDG_DATA_HOME/reasonscope/runs.sqlite)")
        .option("model", "the run's model file, when it is no longer where the run recorded it")
        .option("threads", "compute threads (0 = all cores)", "0")
        .flag("json", "print JSON");
    add_session_options(a, "f32");
    if (!a.parse(argv)) return 0;
    for (const char* need : {"run", "node"})
        if (!a.has(need)) throw UsageError{std::string("branch: --") + need + " is required"};
    const int64_t id = a.get_int("run", 1, 1 << 30);
    auto store = RunStore::open(a.get("db").empty() ? RunStore::default_path() : a.get("db"));
    const StoredRun run = store->load(id);
    app::BranchChoice c;
    c.node = a.get_int("node", 0, 1 << 30);
    c.index = a.get_int("token", 0, 1 << 30);
    c.alternative = a.has("with") ? a.get_int("with", 0, 1 << 30) : -1;
    c.sample_like_run = a.flag_set("sample-like-run");
    c.seed = static_cast<uint64_t>(a.get_int("seed", 0, 2147483647));
    app::BranchRequest br = app::counterfactual_request(run.run, run.tree, c);
    // The run's own model: a branch on another would be meaningless.
    const std::string path = a.has("model") ? a.get("model") : run.run.model_path;
    if (!run.run.server.empty())
        throw Error("run " + std::to_string(id) +
                    " was made on an inference server; branch from it in the app, connected to "
                    "that server");
    if (path.empty()) throw Error("run " + std::to_string(id) + " does not record its model file");
    if (!std::filesystem::exists(path))
        throw Error("run " + std::to_string(id) + "'s model " + path +
                    " is not there; give the file with --model");
    if (!run.run.model_hash.empty() && app::model_fingerprint(path) != run.run.model_hash)
        throw Error(path + " is not the file run " + std::to_string(id) +
                    " ran on (its fingerprint differs)");
    app::PluginManager pm;
    pm.scan();
    app::PreparedRun p = app::prepare_run(pm, br.request);
    auto model = Model::load(path);
    SessionOptions so = session_options(a);
    LocalGenerator gen(*model, so);
    app::RunOptions opt;
    opt.store = store.get();
    CancelOnSignals interrupt;
    opt.cancel = interrupt.flag();
    const app::RunResult res = app::run_and_record(*model, gen, br.request, std::move(p), opt);
    const RunOutcome& out = res.outcome;
    if (a.flag_set("json")) {
        nlohmann::json j = {
            {"run_id", res.run_id},
            {"counterfactual_of",
             {{"run", id}, {"node", c.node}, {"token", c.index}, {"forced_token", c.alternative}}},
            {"forced_piece", br.forced_piece},
            {"replaced_piece", br.replaced_piece},
            {"sampling", br.sampling},
            {"status", out.status},
            {"answer", out.answer},
            {"correct", out.correct},
            {"tokens", out.metrics.tokens_generated},
            {"wall_seconds", out.metrics.wall_seconds}};
        print_json(j);
    } else {
        std::printf(
            "run %lld: counterfactual of run %lld at node %d, token %d: '%s' instead of "
            "'%s' (%s)\n",
            static_cast<long long>(res.run_id), static_cast<long long>(id), c.node, c.index,
            field(br.forced_piece).c_str(), field(br.replaced_piece).c_str(), br.sampling.c_str());
        std::printf("answer    %s%s\n", out.answer.empty() ? "(none)" : field(out.answer).c_str(),
                    out.correct == 1   ? "  (correct)"
                    : out.correct == 0 ? "  (wrong)"
                                       : "");
        std::printf("cost      %lld tokens, %.2f s\n",
                    static_cast<long long>(out.metrics.tokens_generated), out.metrics.wall_seconds);
        if (out.status != "ok")
            std::printf("status    %s %s\n", out.status.c_str(), field(out.error).c_str());
    }
    if (interrupt.signal()) return 128 + interrupt.signal();
    return out.status == "error" ? 1 : 0;
}

}  // namespace rs::cli
