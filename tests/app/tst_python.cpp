// Strategies written in Python (app/python/): the shipped ports grow the same
// tree as their C++ originals on the bundled model (same seed, same
// parameters); scripts that raise, do not parse, loop forever or return
// nonsense end their run cleanly with a message naming file and line; an
// edited script runs as edited without a restart.
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/run_service.h"
#include "core/session_options.h"
#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/search.h"
#include "tree_compare.h"

using namespace rs;

namespace {

const char* kModel = RS_SOURCE_DIR "/resources/models/reasoner.gguf";

Task easy_task() {
    return Task{"easy-001", "Q: 13+7*4\n", "41", "Answer:\\s*(-?\\d+)"};
}

// Writes `text` to `path` and moves its mtime on, so that a rewrite within
// the file system's timestamp granularity still counts as a change.
void write_script(const QString& path, const QString& text) {
    const bool existed = QFile::exists(path);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(text.toUtf8());
    f.close();
    if (existed) {
        const std::filesystem::path p = path.toStdString();
        std::filesystem::last_write_time(
            p, std::filesystem::last_write_time(p) + std::chrono::seconds(2));
    }
}

// A minimal script with the given body for run(ctx, params).
QString script(const QString& id, const QString& body) {
    return "STRATEGY = {'id': '" + id + "', 'name': '" + id +
           "', 'parameters': [{'name': 'n', 'type': 'int', 'default': 1, 'min': 1, 'max': 8}]}\n"
           "\n"
           "def run(ctx, params):\n" +
           body;
}

}  // namespace

class TestPython : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;
    app::PluginManager plugins_;  // the built-in folder: C++ plugins and Python strategies
    std::vector<std::unique_ptr<LocalGenerator>> generators_;  // outlive the runs' contexts

    app::RunResult run(const app::PluginManager& pm, const std::string& strategy,
                       const QStringList& sets, RunConfig config = {},
                       std::atomic<bool>* cancel = nullptr) {
        app::RunRequest req;
        req.task = easy_task();
        req.strategy = strategy;
        for (const QString& s : sets) req.sets.push_back(split_setting(s.toStdString()));
        req.config = config;
        req.seed = 7;
        generators_.push_back(
            std::make_unique<LocalGenerator>(*model_, app::search_session_options(1)));
        app::RunOptions opt;
        opt.cancel = cancel;
        return app::run_and_record(*model_, *generators_.back(), pm, req, opt);
    }

  private slots:
    void initTestCase() {
        if (!QFileInfo::exists(kModel)) QSKIP("the bundled model is missing");
        model_ = Model::load(kModel);
        plugins_.scan();
    }

    void listedBesideCppPlugins() {
        const auto* py = plugins_.find("py-self-consistency");
        const auto* cpp = plugins_.find("self-consistency");
        QVERIFY2(py, "py-self-consistency is not listed");
        QVERIFY(cpp);
        QVERIFY(py->path.endsWith("self_consistency.py"));
        QVERIFY(!py->loader);
        // The same parameters, declared the same way, so the same form and --set options.
        // (compared as JSON values: Qt's metadata writes 0.0 as 0)
        QVERIFY(strategy_info_to_json(py->info)["parameters"] ==
                strategy_info_to_json(cpp->info)["parameters"]);
        QVERIFY(plugins_.find("py-beam-search"));
        for (const auto& e : plugins_.errors())
            QVERIFY2(!e.path.endsWith(".py"), qPrintable(e.path + ": " + e.message));
    }

    void sameTreeAsCpp_data() {
        QTest::addColumn<QString>("cpp");
        QTest::addColumn<QStringList>("sets");
        QTest::newRow("self-consistency") << "self-consistency" << QStringList{"n=4"};
        QTest::newRow("self-consistency weighted")
            << "self-consistency" << QStringList{"n=3", "weighting=score", "scorer=logprob"};
        QTest::newRow("beam-search")
            << "beam-search" << QStringList{"width=2", "expansions=2", "max_depth=6"};
    }

    void sameTreeAsCpp() {
        QFETCH(QString, cpp);
        QFETCH(QStringList, sets);
        RunConfig cfg;
        cfg.max_tokens = 1200;
        app::RunResult want = run(plugins_, cpp.toStdString(), sets, cfg);
        app::RunResult got = run(plugins_, "py-" + cpp.toStdString(), sets, cfg);
        QVERIFY2(got.outcome.status == want.outcome.status, got.outcome.error.c_str());
        QVERIFY(want.tree().size() >= 3);
        const std::string diff = test::tree_difference(got.tree(), want.tree());
        QVERIFY2(diff.empty(), diff.c_str());
        QCOMPARE(got.outcome.answer, want.outcome.answer);
        QCOMPARE(got.chosen_node(), want.chosen_node());
        QCOMPARE(got.outcome.metrics.tokens_generated, want.outcome.metrics.tokens_generated);
        QCOMPARE(got.outcome.metrics.forward_passes, want.outcome.metrics.forward_passes);
    }

    void raisingScriptFailsTheRunWithItsTraceback() {
        QTemporaryDir dir;
        const QString path = dir.filePath("raises.py");
        write_script(path, script("raises",
                                  "    kids = ctx.expand(ctx.root, params['n'])\n"
                                  "    check(kids)\n"
                                  "\n"
                                  "def check(kids):\n"
                                  "    raise ValueError('no good: %d kids' % len(kids))\n"));
        app::PluginManager pm;
        pm.scan({dir.path()});
        QVERIFY(pm.errors().empty());
        app::RunResult r = run(pm, "raises", {"n=2"});
        QCOMPARE(r.outcome.status, std::string("error"));
        const QString err = QString::fromStdString(r.outcome.error);
        QVERIFY2(err.contains("Traceback"), qPrintable(err));
        QVERIFY2(err.contains(path + "\", line 5, in run"), qPrintable(err));
        QVERIFY2(err.contains(path + "\", line 8, in check"), qPrintable(err));
        QVERIFY2(err.contains("ValueError: no good: 2 kids"), qPrintable(err));
        QVERIFY2(!err.contains("reasonscope-support"), qPrintable(err));
        QCOMPARE(r.tree().size(), 3);  // what it did before it raised stays
    }

    void syntaxErrorIsReportedNotRun() {
        QTemporaryDir dir;
        const QString bad = dir.filePath("broken.py");
        write_script(bad, script("broken", "    for x in\n"));
        write_script(dir.filePath("no_run.py"), "STRATEGY = {'id': 'x', 'name': 'x'}\n");
        write_script(dir.filePath("not_literal.py"),
                     "N = 3\nSTRATEGY = {'id': 'y', 'name': 'y', 'n': N}\ndef run(ctx, p): pass\n");
        write_script(dir.filePath("_helper.py"), "x = 1\n");  // not a strategy: ignored
        app::PluginManager pm;
        pm.scan({dir.path()});
        QVERIFY(pm.strategies().empty());
        QCOMPARE(pm.errors().size(), size_t(3));
        QString all;
        for (const auto& e : pm.errors()) all += e.path + ": " + e.message + "\n";
        QVERIFY2(all.contains(bad + ":4: syntax error: invalid syntax"), qPrintable(all));
        QVERIFY2(all.contains("for x in"), qPrintable(all));
        QVERIFY2(all.contains("no_run.py: defines no function run(ctx, params)"), qPrintable(all));
        QVERIFY2(all.contains("not_literal.py:2: STRATEGY must be a literal dict"),
                 qPrintable(all));

        // Broken after it was listed: refused when it is to run, by file and line.
        const QString later = dir.filePath("later.py");
        write_script(later, script("later", "    pass\n"));
        app::PluginManager pm2;
        pm2.scan({dir.path()});
        QVERIFY(pm2.find("later"));
        write_script(later, script("later", "    pass\n") + "def oops(:\n");
        try {
            run(pm2, "later", {});
            QFAIL("a broken script ran");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains(later + ":5: syntax error"), e.what());
        }
    }

    void endlessLoopStopsAtTheTimeBudget() {
        QTemporaryDir dir;
        write_script(dir.filePath("loop.py"), script("loop",
                                                     "    ctx.expand(ctx.root, 1)\n"
                                                     "    while True:\n"
                                                     "        pass\n"));
        app::PluginManager pm;
        pm.scan({dir.path()});
        RunConfig cfg;
        cfg.max_seconds = 0.5;
        const auto t0 = std::chrono::steady_clock::now();
        app::RunResult r = run(pm, "loop", {}, cfg);
        const double took =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        QCOMPARE(r.outcome.status, std::string("error"));
        const QString err = QString::fromStdString(r.outcome.error);
        QVERIFY2(err.contains("time budget (0.5 s) was spent"), qPrintable(err));
        QVERIFY2(
            err.contains("loop.py\", line 5, in run") || err.contains("loop.py\", line 6, in run"),
            qPrintable(err));
        QVERIFY2(took < 5, qPrintable(QString::number(took)));
        QCOMPARE(r.tree().size(), 2);
    }

    void endlessLoopStopsOnCancel() {
        QTemporaryDir dir;
        write_script(dir.filePath("spin.py"),
                     script("spin",
                            "    while True:\n        try:\n            pass\n"
                            "        except Exception:\n            pass\n"));
        app::PluginManager pm;
        pm.scan({dir.path()});
        std::atomic<bool> cancel{false};
        std::thread t([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            cancel = true;
        });
        app::RunResult r = run(pm, "spin", {}, {}, &cancel);
        t.join();
        QCOMPARE(r.outcome.status, std::string("cancelled"));
    }

    void expandingPastTheBudgetEndsTheRun() {
        // A script that ignores should_stop() and swallows exceptions: the
        // engine's refusals end it as a C++ strategy would be ended.
        QTemporaryDir dir;
        write_script(dir.filePath("greedy.py"), script("greedy",
                                                       "    while True:\n"
                                                       "        try:\n"
                                                       "            ctx.expand(ctx.root, 1)\n"
                                                       "        except Exception:\n"
                                                       "            pass\n"));
        app::PluginManager pm;
        pm.scan({dir.path()});
        RunConfig cfg;
        cfg.max_tokens = 40;
        app::RunResult r = run(pm, "greedy", {}, cfg);
        QCOMPARE(r.outcome.status, std::string("budget"));
    }

    void nonsenseIsAClearError_data() {
        QTest::addColumn<QString>("body");
        QTest::addColumn<QString>("message");
        QTest::newRow("bad node") << "    ctx.choose_answer('7', 999)\n"
                                  << "IndexError: node 999 does not exist (the tree has 1 nodes";
        QTest::newRow("answer not a str") << "    ctx.choose_answer(7)\n"
                                          << "TypeError: ctx.choose_answer: the answer must be a "
                                             "str, not int";
        QTest::newRow("no scorer") << "    ctx.score(ctx.root)\n"
                                   << "this strategy has no `scorer` parameter";
        QTest::newRow("unknown scorer") << "    ctx.score(ctx.root, 'nope')\n"
                                        << "ValueError: unknown scorer 'nope'";
        QTest::newRow("kept ctx") << "    global kept\n    kept = ctx\n"
                                     "    ctx.choose_answer('1')\n"
                                  << "";
    }

    void nonsenseIsAClearError() {
        QFETCH(QString, body);
        QFETCH(QString, message);
        QTemporaryDir dir;
        write_script(dir.filePath("nonsense.py"), script("nonsense", body));
        app::PluginManager pm;
        pm.scan({dir.path()});
        app::RunResult r = run(pm, "nonsense", {});
        if (message.isEmpty()) {
            QCOMPARE(r.outcome.status, std::string("ok"));
            QCOMPARE(r.outcome.answer, std::string("1"));
            return;
        }
        QCOMPARE(r.outcome.status, std::string("error"));
        QVERIFY2(QString::fromStdString(r.outcome.error).contains(message),
                 r.outcome.error.c_str());
    }

    void editedScriptRunsWithoutRestart() {
        QTemporaryDir dir;
        const QString path = dir.filePath("edit.py");
        write_script(path, script("edit", "    ctx.choose_answer('first')\n"));
        app::PluginManager pm;
        pm.scan({dir.path()});
        QCOMPARE(run(pm, "edit", {}).outcome.answer, std::string("first"));
        // New code and a new parameter, same plugin manager.
        write_script(path,
                     "STRATEGY = {'id': 'edit', 'name': 'edit', 'parameters': "
                     "[{'name': 'word', 'type': 'string', 'default': 'second'}]}\n"
                     "def run(ctx, params):\n"
                     "    ctx.choose_answer(params['word'] + '!')\n");
        QCOMPARE(run(pm, "edit", {}).outcome.answer, std::string("second!"));
        QCOMPARE(run(pm, "edit", {"word=third"}).outcome.answer, std::string("third!"));
        QVERIFY(pm.find("edit")->info.find("word"));
    }
};

QTEST_GUILESS_MAIN(TestPython)
#include "tst_python.moc"
