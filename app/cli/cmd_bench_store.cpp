// reasonscope bench-store: the run store's write rate, the cost of storing a
// real search (stored vs not, same seed, interleaved repetitions) and the
// time to open a run of N tokens.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/resources.h"
#include "core/run_service.h"
#include "core/session_options.h"
#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"

namespace rs::cli {
namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

int cmd_bench_store(const Argv& argv) {
    Args a("bench-store", "[--tokens N] [--reps R] [--db FILE] [--json]");
    a.option("tokens", "token rows in the synthetic run", "1000000")
        .option("reps", "search repetitions for the overhead", "5")
        .option("db", "scratch database (deleted first)", "/tmp/reasonscope-bench-store.sqlite")
        .option("model", "model for the search (default: bundled)")
        .option("samples", "self-consistency samples in the measured search (a long run)", "64")
        .flag("json", "print JSON");
    if (!a.parse(argv)) return 0;
    const int n_tokens = a.get_int("tokens", 1000, 100000000), reps = a.get_int("reps", 1, 100);
    const std::string db = a.get("db");
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(db + ext);
    auto store = RunStore::open(db);

    // 1. Write rate: a synthetic run of n_tokens tokens over 1000-token nodes.
    RunRow row;
    row.strategy = "synthetic";
    row.prompt = "bench";
    int64_t id = store->begin_run(row);
    auto t0 = Clock::now();
    {
        auto rec = store->recorder(id);
        TokenRecord tk;
        tk.piece = "x";
        tk.top = {{1, -0.1f}, {2, -2.f}, {3, -3.f}, {4, -4.f}, {5, -5.f}};
        tk.top_pieces = {"a", "b", "c", "d", "e"};
        rec->on_event(NodeAdded{0, -1, "bench"});
        int node = 0;
        for (int i = 0; i < n_tokens; ++i) {
            if (i % 1000 == 0) {
                ++node;
                rec->on_event(NodeAdded{node, node - 1, ""});
            }
            tk.id = i % 300;
            tk.entropy = static_cast<float>(i % 7) * 0.1f;
            rec->on_event(TokensAppended{node, {tk}});
        }
        RunMetrics m;  // the row says what it holds, as a search's would
        m.tokens_generated = n_tokens;
        m.nodes = node + 1;
        rec->on_event(RunFinished{"ok", "", -1, -1, m});
        rec->flush();
    }
    const double write_s = since(t0);
    // 2. Open the run.
    t0 = Clock::now();
    StoredRun loaded = store->load(id);
    const double open_s = since(t0);
    size_t loaded_tokens = 0;
    for (const auto& n : loaded.tree.nodes()) loaded_tokens += n.tokens.size();

    // 3. Overhead of storing a real search (self-consistency, --samples samples).
    auto model = Model::load(app::model_path_or_default(a.get("model")));
    LocalGenerator gen(*model, app::search_session_options(1));
    app::PluginManager pm;
    pm.scan();
    app::RunRequest req;
    req.task = app::load_task_ref("hard:hard-000");
    req.strategy = "self-consistency";
    const std::string samples = std::to_string(a.get_int("samples", 1, 256));
    req.sets = {{"n", samples}};
    std::vector<double> with, without;
    for (int r = 0; r < reps; ++r) {
        for (int k = 0; k < 2; ++k) {
            const int stored = (k + r) % 2;  // alternate the order: no systematic first/second bias
            // The same search either way, through the run service; only the
            // store differs (describing, recording and finishing the run).
            app::PreparedRun p = app::prepare_run(pm, req);  // outside the timing
            app::RunOptions opt;
            if (stored) opt.store = store.get();
            auto t = Clock::now();
            const app::RunResult res = app::run_and_record(*model, gen, req, std::move(p), opt);
            (stored ? with : without).push_back(since(t));
            if (res.outcome.status == "error")
                throw Error("the measured search failed: " + res.outcome.error);
        }
    }
    std::sort(with.begin(), with.end());
    std::sort(without.begin(), without.end());
    const double mw = with[with.size() / 2], mo = without[without.size() / 2];
    nlohmann::json j = {{"token_rows", n_tokens},
                        {"write_seconds", write_s},
                        {"rows_per_second", n_tokens / write_s},
                        {"open_seconds", open_s},
                        {"opened_tokens", loaded_tokens},
                        {"search_seconds_stored", mw},
                        {"search_seconds_not_stored", mo},
                        {"store_overhead_pct", 100.0 * (mw - mo) / mo}};
    if (a.flag_set("json")) {
        std::puts(j.dump(2).c_str());
        return 0;
    }
    std::printf("write     %d token rows in %.2f s: %.0f rows/s (engine thread only queues)\n",
                n_tokens, write_s, n_tokens / write_s);
    std::printf("open      run of %zu tokens in %.3f s\n", loaded_tokens, open_s);
    std::printf(
        "overhead  self-consistency n=%s on hard-000: %.3f s stored vs %.3f s not (median of %d): "
        "%+.1f%%\n",
        samples.c_str(), mw, mo, reps, 100.0 * (mw - mo) / mo);
    return 0;
}

}  // namespace rs::cli
