// The sweep as a library (app/core/sweep.h) on the bundled model: the same
// numbers as `reasonscope sweep --json` for the same settings, every run
// stored and tagged, progress reported with an estimate of the time left,
// a cancel mid-run that ends the run in progress as cancelled, stops the
// sweep and keeps the points finished before it, and the signal AUROCs of
// the sweep's traces equal to those of the stored runs' trees.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/resources.h"
#include "core/session_options.h"
#include "core/sweep.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/run_store.h"
#include "sql_query.h"
#include "test_paths.h"

using namespace rs;

namespace {

struct Engine {
    std::unique_ptr<Model> model;
    std::unique_ptr<LocalGenerator> gen;
};

Engine open_bundled() {
    Engine e;
    e.model = Model::load(app::default_model_path());
    SessionOptions so = app::search_session_options(1);
    so.kv_type = KvType::F32;
    e.gen = std::make_unique<LocalGenerator>(*e.model, so);
    return e;
}

app::SweepSettings settings(const std::string& suite, int limit) {
    app::SweepSettings s;
    s.suite = app::resolve_suite_path(suite);
    s.tasks = load_suite(s.suite);
    s.tasks.resize(static_cast<size_t>(limit));
    s.strategies = {"self-consistency", "best-of-n"};
    s.budgets = {2, 1};               // planned in ascending order
    s.sets = {{"temperature", "2"}};  // hot enough that budgets make a difference
    return s;
}

// Cancels once the run after `runs` finished ones has seen `events` events.
struct CancelMidRun final : RunObserver {
    std::atomic<bool>* flag = nullptr;
    int done = 0, runs = 0, events = 0, seen = 0;
    void on_event(const RunEvent&) override {
        if (done == runs && ++seen == events) *flag = true;
    }
};

}  // namespace

class TestSweep : public QObject {
    Q_OBJECT
  private slots:
    void planChecksEveryStrategy() {
        app::PluginManager pm;
        pm.scan();
        app::SweepSettings s = settings("easy", 1);
        const app::SweepPlan plan = app::plan_sweep(pm, s);
        QCOMPARE(plan.points.size(), size_t{4});
        QCOMPARE(plan.points[0].budget, 1);
        QCOMPARE(plan.points[0].param, std::string("n"));
        QCOMPARE(plan.points[3].strategy, std::string("best-of-n"));
        QCOMPARE(plan.total_runs(), 4);
        QVERIFY(plan.settings.tag.rfind("sweep:", 0) == 0);
        s.strategies = {"no-such-strategy"};
        QVERIFY_THROWS_EXCEPTION(app::SweepSetupError, app::plan_sweep(pm, s));
        s.strategies = {"chain-of-thought"};  // nothing to sweep
        QVERIFY_THROWS_EXCEPTION(app::SweepSetupError, app::plan_sweep(pm, s));
    }

    void sameNumbersAsTheCli() {
        QTemporaryDir dir;
        const QString cli_db = dir.filePath("cli.sqlite");
        QProcess p;
        p.start(test::binary("reasonscope"),
                {"sweep", "--suite", "hard", "--limit", "3", "--strategies",
                 "self-consistency,best-of-n", "--budgets", "1,2", "--set", "temperature=2",
                 "--threads", "1", "--db", cli_db, "--json"});
        QVERIFY(p.waitForFinished(600000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const auto cli = nlohmann::json::parse(p.readAllStandardOutput().toStdString());

        app::PluginManager pm;
        pm.scan();
        const app::SweepPlan plan = app::plan_sweep(pm, settings("hard", 3));
        Engine e = open_bundled();
        const std::string db = dir.filePath("core.sqlite").toStdString();
        auto store = RunStore::open(db);
        app::SweepOptions opt;
        opt.store = store.get();
        std::vector<app::SweepProgress> progress;
        opt.on_progress = [&](const app::SweepProgress& pr) { progress.push_back(pr); };
        int point_reports = 0;
        opt.on_point = [&](const app::SweepPoint&) { ++point_reports; };
        const app::SweepResult res = app::run_sweep(*e.model, *e.gen, pm, plan, opt);
        QVERIFY(res.error.empty());
        QVERIFY(!res.cancelled);
        QCOMPARE(res.points.size(), size_t{4});
        QCOMPARE(point_reports, 12);

        // Progress: before the first run and after each, 12 planned; an
        // estimate from the first run on, none left at the end.
        QCOMPARE(progress.size(), size_t{13});
        QCOMPARE(progress.front().done, 0);
        QCOMPARE(progress.front().remaining, -1.0);
        QCOMPARE(progress.front().strategy, std::string("self-consistency"));
        QCOMPARE(progress[1].done, 1);
        QVERIFY(progress[1].remaining > 0);
        QCOMPARE(progress.back().done, 12);
        QCOMPARE(progress.back().total, 12);
        QCOMPARE(progress.back().remaining, 0.0);
        for (size_t i = 1; i < progress.size(); ++i)
            QVERIFY(progress[i].elapsed >= progress[i - 1].elapsed);

        // The CLI's numbers, point by point (seconds aside: they are timings).
        const auto j = app::sweep_json(res);
        QCOMPARE(j["cells"].size(), cli["cells"].size());
        for (size_t i = 0; i < j["cells"].size(); ++i) {
            const auto &a = j["cells"][i], &b = cli["cells"][i];
            QCOMPARE(a["strategy"], b["strategy"]);
            QCOMPARE(a["budget"], b["budget"]);
            QCOMPARE(a["accuracy"].get<double>(), b["accuracy"].get<double>());
            QCOMPARE(a["coverage"].get<double>(), b["coverage"].get<double>());
            QCOMPARE(a["mean_tokens"].get<double>(), b["mean_tokens"].get<double>());
            QCOMPARE(a["mean_forward_passes"].get<double>(),
                     b["mean_forward_passes"].get<double>());
            QCOMPARE(a["run_ids"].size(), size_t{3});
        }
        QCOMPARE(j["coverage_at_k"], cli["coverage_at_k"]);
        // More samples, more tokens.
        QVERIFY(j["cells"][0]["mean_tokens"].get<double>() <
                j["cells"][1]["mean_tokens"].get<double>());
        QCOMPARE(j["tag"].get<std::string>(), plan.settings.tag);

        // Every run stored under the point's three tags, its numbers the point's.
        for (const app::SweepPoint& pt : res.points) {
            const std::string where =
                " FROM runs WHERE id IN (SELECT run_id FROM tags WHERE tag='" + res.tag +
                "') AND id IN (SELECT run_id FROM tags WHERE tag='strategy:" + pt.strategy +
                "') AND id IN (SELECT run_id FROM tags WHERE tag='budget:" +
                std::to_string(pt.budget) + "')";
            QCOMPARE(test::query_int(db, "SELECT COUNT(*)" + where), int64_t{3});
            QCOMPARE(test::query_int(db, "SELECT SUM(tokens)" + where),
                     static_cast<int64_t>(std::llround(pt.mean_tokens() * 3)));
            QCOMPARE(test::query_int(db, "SELECT SUM(correct = 1)" + where),
                     static_cast<int64_t>(std::llround(pt.accuracy() * 3)));
            QCOMPARE(test::query_int(db, "SELECT MIN(id)" + where), pt.run_ids().front());
        }
    }

    void signalAurocsOfTheStoredRuns() {
        // A sweep whose traces are both right and wrong (temperature 1 on
        // three hard problems).
        app::PluginManager pm;
        pm.scan();
        app::SweepSettings s = settings("hard", 3);
        s.sets = {{"temperature", "1"}};
        const app::SweepPlan plan = app::plan_sweep(pm, s);
        Engine e = open_bundled();
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        app::SweepOptions opt;
        opt.store = store.get();
        opt.signal_aurocs = true;
        const app::SweepResult res = app::run_sweep(*e.model, *e.gen, pm, plan, opt);
        QVERIFY(res.error.empty());
        QCOMPARE(res.points.size(), size_t{4});

        // The signals: per run, trace_signals of its stored tree; the AUROCs
        // over the sweep (and per strategy), signal_aurocs over them.
        std::vector<app::TraceSignals> stored_all;
        std::map<std::string, std::vector<app::TraceSignals>> stored_by;
        size_t runs = 0;
        for (const app::SweepPoint& pt : res.points)
            for (const app::SweepRun& run : pt.runs) {
                const StoredRun sr = store->load(run.id);
                QCOMPARE(sr.run.task_id, run.task);
                const auto ts = app::trace_signals(sr.tree, sr.run.task_id);
                QCOMPARE(ts.size(), run.signal_traces.size());
                QCOMPARE(static_cast<int>(ts.size()), run.traces);  // every trace has an answer
                for (size_t i = 0; i < ts.size(); ++i) {
                    QCOMPARE(ts[i].task, run.signal_traces[i].task);
                    QCOMPARE(ts[i].leaf, run.signal_traces[i].leaf);
                    QCOMPARE(ts[i].correct, run.signal_traces[i].correct);
                    QCOMPARE(ts[i].values, run.signal_traces[i].values);
                }
                stored_all.insert(stored_all.end(), ts.begin(), ts.end());
                stored_by[pt.strategy].insert(stored_by[pt.strategy].end(), ts.begin(), ts.end());
                ++runs;
            }
        QCOMPARE(runs, size_t{12});
        QVERIFY(stored_all.size() >= 12);
        const auto same = [](const std::vector<app::SignalAuroc>& a,
                             const std::vector<app::SignalAuroc>& b) {
            QCOMPARE(a.size(), b.size());
            QVERIFY(a.size() >= 8);  // the token signals at least
            for (size_t i = 0; i < a.size(); ++i) {
                QCOMPARE(a[i].signal, b[i].signal);
                QCOMPARE(a[i].auroc, b[i].auroc);
                QCOMPARE(a[i].lo, b[i].lo);
                QCOMPARE(a[i].hi, b[i].hi);
                QCOMPARE(a[i].within, b[i].within);
                QCOMPARE(a[i].within_problems, b[i].within_problems);
                QCOMPARE(a[i].positives, b[i].positives);
                QCOMPARE(a[i].negatives, b[i].negatives);
                QVERIFY(a[i].lo <= a[i].auroc && a[i].auroc <= a[i].hi);
            }
        };
        const auto expect =
            app::signal_aurocs(stored_all, app::kSweepBootstrap, plan.settings.seed);
        same(res.aurocs, expect);
        if (QTest::currentTestFailed()) return;
        QCOMPARE(res.aurocs.front().positives + res.aurocs.front().negatives,
                 static_cast<int>(stored_all.size()));
        QVERIFY(res.aurocs.front().positives > 0 && res.aurocs.front().negatives > 0);
        QCOMPARE(res.strategy_aurocs.size(), size_t{2});
        for (const auto& [id, ts] : stored_by) {
            same(res.strategy_aurocs.at(id),
                 app::signal_aurocs(ts, app::kSweepBootstrap, plan.settings.seed));
            if (QTest::currentTestFailed()) return;
        }
    }

    void cancelKeepsFinishedPoints() {
        app::PluginManager pm;
        pm.scan();
        const app::SweepPlan plan = app::plan_sweep(pm, settings("easy", 3));
        Engine e = open_bundled();
        QTemporaryDir dir;
        const std::string db = dir.filePath("runs.sqlite").toStdString();
        auto store = RunStore::open(db);
        std::atomic<bool> cancel{false};
        CancelMidRun stopper;
        stopper.flag = &cancel;
        stopper.runs = 4;  // the second point's second problem, a few events in
        stopper.events = 5;
        app::SweepOptions opt;
        opt.store = store.get();
        opt.cancel = &cancel;
        opt.observers = {&stopper};
        opt.on_progress = [&](const app::SweepProgress& pr) { stopper.done = pr.done; };
        const app::SweepResult res = app::run_sweep(*e.model, *e.gen, pm, plan, opt);
        QVERIFY(res.cancelled);
        QVERIFY(res.error.empty());
        QCOMPARE(res.points.size(), size_t{2});
        QVERIFY(res.points[0].complete());
        QCOMPARE(res.points[0].problems(), 3);
        QCOMPARE(res.points[1].budget, 2);
        QCOMPARE(res.points[1].problems(), 1);
        QVERIFY(!res.points[1].complete());
        // The run in progress is stored as cancelled, tagged with its point.
        QCOMPARE(test::query_int(db, "SELECT COUNT(*) FROM runs"), int64_t{5});
        QCOMPARE(test::query_int(db,
                                 "SELECT COUNT(*) FROM runs WHERE status='cancelled' AND id IN "
                                 "(SELECT run_id FROM tags WHERE tag='budget:2')"),
                 int64_t{1});
        // coverage@k only from a complete point; JSON says it was cut short.
        QVERIFY(!res.coverage_at_k.at("self-consistency").empty());
        QVERIFY(res.coverage_at_k.at("best-of-n").empty());
        const auto j = app::sweep_json(res);
        QCOMPARE(j["cancelled"], true);
        QCOMPARE(j["cells"][1]["problems"], 1);
    }
};

QTEST_GUILESS_MAIN(TestSweep)
#include "tst_sweep.moc"
