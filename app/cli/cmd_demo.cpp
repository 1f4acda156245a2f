// reasonscope demo: what `make run` does without a display. It runs greedy
// chain of thought and self-consistency on a problem from the bundled hard
// suite with the bundled model, stores both runs, compares them and writes
// an HTML trace report.
#include <cstdio>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/session_args.h"
#include "core/export_run.h"
#include "core/resources.h"
#include "core/run_service.h"
#include "core/session_options.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_export.h"
#include "reasonscope/run_store.h"

namespace rs::cli {

int cmd_demo(const Argv& argv) {
    Args a("demo", "[--model FILE] [--task SUITE:ID] [--db FILE] [-o REPORT.html]");
    a.option("model", "GGUF model (default: the bundled model)")
        .option("task", "problem (hard-008: greedy gets it wrong, the vote gets it right)",
                "hard:hard-008")
        .option("strategy", "the search to compare with greedy chain of thought",
                "self-consistency")
        .multi("set", "strategy parameter name=value")
        .option("db", "run store (default: $XDG_DATA_HOME/reasonscope/runs.sqlite)")
        .option("o", "report file", "reasonscope-demo.html")
        .option("threads", "compute threads (0 = all cores)", "0");
    add_session_options(a, "f32");
    if (!a.parse(argv)) return 0;
    SessionOptions so = app::search_session_options(a.get_threads());
    apply_session_options(a, so);
    auto model = Model::load(app::model_path_or_default(a.get("model")));
    LocalGenerator gen(*model, so);
    app::PluginManager pm;
    pm.scan();
    auto store = RunStore::open(a.get("db").empty() ? RunStore::default_path() : a.get("db"));
    Task task = app::load_task_ref(a.get("task"));
    std::printf("model    %s (%s; %s)\nproblem  %s  %s", model->path().c_str(),
                gen.backend_name().c_str(), gen.backend_reason().c_str(), task.id.c_str(),
                task.prompt.c_str());
    std::printf("expected %s\n\n", task.answer.c_str());

    int64_t ids[2] = {0, 0};
    const std::string strategies[2] = {"chain-of-thought", a.get("strategy")};
    for (int i = 0; i < 2; ++i) {
        app::RunRequest req;
        req.task = task;
        req.suite = a.get("task").substr(0, a.get("task").rfind(':'));
        req.strategy = strategies[i];
        if (i == 1)
            for (const auto& s : a.all("set")) req.sets.push_back(split_setting(s));
        app::RunOptions opt;
        opt.store = store.get();
        opt.name = "demo: " + req.strategy;
        opt.tags = {"demo"};
        const app::RunResult res = app::run_and_record(*model, gen, pm, req, opt);
        const RunOutcome& out = res.outcome;
        ids[i] = res.run_id;
        std::printf(
            "%-18s answer %-6s %-8s %5lld tokens %5lld passes %6.2f s  (%d nodes; run %lld)\n",
            req.strategy.c_str(), out.answer.empty() ? "-" : out.answer.c_str(),
            out.correct == 1 ? "correct" : "wrong",
            static_cast<long long>(out.metrics.tokens_generated),
            static_cast<long long>(out.metrics.forward_passes), out.metrics.wall_seconds,
            res.tree().size(), static_cast<long long>(ids[i]));
    }
    std::printf("\n%s\n",
                compare_to_text(compare_runs(store->load(ids[0]), store->load(ids[1]))).c_str());
    app::export_run(store->load(ids[1]), a.get("o"), app::ExportFormat::Html);
    std::printf("report   %s\nstore    %s (reasonscope runs --db ... to list)\n",
                std::filesystem::absolute(a.get("o")).c_str(), store->path().c_str());
    return 0;
}

}  // namespace rs::cli
