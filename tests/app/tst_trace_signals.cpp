// Which signal predicts a right answer: AUROC by hand-counted cases, trace
// signals on a hand-built tree (DeepConf's group confidence included), the
// bootstrap over problems, and `eval --signals` on the bundled model.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/trace_signals.h"
#include "reasonscope/run_store.h"
#include "test_paths.h"

using namespace rs;

class TestTraceSignals : public QObject {
    Q_OBJECT
  private slots:
    void aurocCounts() {
        QCOMPARE(app::auroc({1, 2, 3, 4}, {false, false, true, true}), 1.0);
        QCOMPARE(app::auroc({1, 2, 3, 4}, {true, true, false, false}), 0.0);
        QCOMPARE(app::auroc({5, 5, 5, 5}, {true, false, true, false}), 0.5);
        // Pairs (right, wrong): (3,1) (3,2) (3,4) (5,1) (5,2) (5,4) -> 5 of 6 won.
        QCOMPARE(app::auroc({1, 3, 2, 5, 4}, {false, true, false, true, false}), 5.0 / 6.0);
        // A tie between classes counts half: right {2, 3}, wrong {2}: 1.5 / 2.
        QCOMPARE(app::auroc({2, 3, 2}, {true, true, false}), 0.75);
        QCOMPARE(app::auroc({1, 2}, {true, true}), 0.5);  // one class only
    }

    void signalsOfATrace() {
        // root -> a -> b (terminal, right); root -> c (terminal, wrong).
        ReasoningTree t;
        t.add(-1);
        const int a = t.add(0), b = t.add(a), c = t.add(0);
        const auto tok = [](float lp, float h, std::vector<float> top) {
            TokenRecord r;
            r.logprob = lp;
            r.entropy = h;
            r.varentropy = 2 * h;
            for (size_t i = 0; i < top.size(); ++i) r.top.emplace_back(static_cast<int>(i), top[i]);
            return r;
        };
        t.at(a).tokens = {tok(-0.5f, 1.f, {-0.5f, -1.5f}), tok(-0.1f, 0.5f, {-0.1f, -2.9f})};
        t.at(b).tokens = {tok(-1.f, 2.f, {-1.f, -1.f})};
        t.at(b).status = NodeStatus::Terminal;
        t.at(b).answer = "7";
        t.at(b).correct = 1;
        t.at(c).tokens = {tok(-2.f, 3.f, {-2.f, -4.f})};
        t.at(c).status = NodeStatus::Terminal;
        t.at(c).answer = "8";
        t.at(c).correct = 0;
        t.at(c).scores["prm"] = 0.25;
        const auto s = app::trace_signals(t, "p1", 2);
        QCOMPARE(s.size(), size_t{2});
        const app::TraceSignals& right = s[0].leaf == b ? s[0] : s[1];
        QVERIFY(right.correct);
        QVERIFY(std::abs(right.values.at("mean_logprob") - (-1.6 / 3)) < 1e-6);
        QCOMPARE(right.values.at("min_logprob"), -1.0);
        QVERIFY(std::abs(right.values.at("neg_mean_entropy") - (-3.5 / 3)) < 1e-6);
        // Token confidences 1.0, 1.5, 1.0; windows of 2: 1.25, 1.25.
        QVERIFY(std::abs(right.values.at("group_conf_lowest") - 1.25) < 1e-6);
        QVERIFY(std::abs(right.values.at("group_conf_tail") - 1.25) < 1e-6);
        QCOMPARE(right.values.at("length_neg"), -3.0);
        const app::TraceSignals& wrong = s[0].leaf == c ? s[0] : s[1];
        QCOMPARE(wrong.values.at("score:prm"), 0.25);
        // One trace shorter than the window: the window is the trace.
        QVERIFY(std::abs(wrong.values.at("group_conf_lowest") - 3.0) < 1e-6);
    }

    void bootstrapOverProblems() {
        // A signal that separates perfectly on every problem: 1, interval [1, 1].
        std::vector<app::TraceSignals> traces;
        for (int p = 0; p < 10; ++p)
            for (int k = 0; k < 4; ++k) {
                app::TraceSignals t;
                t.task = "p" + std::to_string(p);
                t.correct = k < 2;
                t.values["mean_logprob"] = t.correct ? -0.1 - 0.01 * p : -1.0 - 0.01 * p;
                t.values["length_neg"] = (p + k) % 3;  // noise
                traces.push_back(t);
            }
        const auto a = app::signal_aurocs(traces, 200, 7);
        QCOMPARE(a.front().signal, std::string("mean_logprob"));
        QCOMPARE(a.front().auroc, 1.0);
        QCOMPARE(a.front().lo, 1.0);
        QCOMPARE(a.front().positives, 20);
        QCOMPARE(a.front().within, 1.0);  // inside every problem too
        QCOMPARE(a.front().within_problems, 10);
        const auto noise = std::find_if(a.begin(), a.end(),
                                        [](const auto& x) { return x.signal == "length_neg"; });
        QVERIFY(noise != a.end());
        QVERIFY(noise->lo <= noise->auroc && noise->auroc <= noise->hi);
        QVERIFY(noise->lo < 0.5 && noise->hi > 0.5);
        // Seeded: the same intervals again.
        const auto b = app::signal_aurocs(traces, 200, 7);
        QCOMPARE(b.back().lo, a.back().lo);
    }

    void evalReportsSignals() {
        QTemporaryDir dir;
        const QString csv = dir.filePath("traces.csv");
        QProcess p;
        p.start(test::binary("reasonscope"),
                {"eval", "--suite", "hard", "--limit", "3", "--strategy", "self-consistency",
                 "--set", "n=4", "--threads", "1", "--signals", "--signals-csv", csv, "--json"});
        QVERIFY(p.waitForFinished(300000));
        QCOMPARE(p.exitCode(), 0);
        const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
        const auto& sig = j["signals"];
        QVERIFY(sig["traces"].get<int>() > 0);
        QCOMPARE(sig["auroc"][0]["signal"], "mean_logprob");
        const int right = sig["auroc"][0]["correct_traces"],
                  wrong = sig["auroc"][0]["wrong_traces"];
        QCOMPARE(right + wrong, sig["traces"].get<int>());
        std::ifstream f(csv.toStdString());
        std::string line;
        int lines = 0;
        while (std::getline(f, line)) ++lines;
        QCOMPARE(lines, sig["traces"].get<int>() + 1);
    }

    void sweepAcrossBudgets() {
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite");
        QProcess p;
        p.start(test::binary("reasonscope"),
                {"sweep", "--suite", "hard", "--limit", "2", "--strategies",
                 "self-consistency,best-of-n", "--budgets", "2,1", "--threads", "1", "--out",
                 dir.filePath("out"), "--db", db, "--json"});
        QVERIFY(p.waitForFinished(300000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
        QCOMPARE(j["cells"].size(), size_t{4});
        QCOMPARE(j["cells"][0]["strategy"], "self-consistency");
        QCOMPARE(j["cells"][0]["budget"], 1);  // budgets in order
        QCOMPARE(j["cells"][1]["budget"], 2);
        // More samples, more tokens; coverage@k up to the largest budget.
        QVERIFY(j["cells"][1]["mean_tokens"].get<double>() >
                j["cells"][0]["mean_tokens"].get<double>());
        QCOMPARE(j["coverage_at_k"]["best-of-n"].size(), size_t{2});
        QVERIFY(j["coverage_at_k"]["best-of-n"][1]["coverage"].get<double>() >=
                j["coverage_at_k"]["best-of-n"][0]["coverage"].get<double>());
        for (const char* f : {"sweep.html", "sweep.json", "accuracy_tokens.svg",
                              "coverage_tokens.svg", "accuracy_seconds.svg", "coverage_at_k.svg"})
            QVERIFY2(QFileInfo(dir.filePath(QString("out/") + f)).size() > 0, f);
        QFile svg(dir.filePath("out/accuracy_tokens.svg"));
        QVERIFY(svg.open(QIODevice::ReadOnly));
        QCOMPARE(svg.readAll().count("<polyline"), 2);  // one line per strategy
        // Every run stored, tagged with its strategy and budget.
        auto store = RunStore::open_read_only(db.toStdString());
        RunFilter f;
        f.tag = "budget:2";
        QCOMPARE(store->list(f).size(), size_t{4});
        f.tag.clear();
        QCOMPARE(store->list(f).size(), size_t{8});
    }
};

QTEST_GUILESS_MAIN(TestTraceSignals)
#include "tst_trace_signals.moc"
