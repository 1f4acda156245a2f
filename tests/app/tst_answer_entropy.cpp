// Conditional answer entropy per step (app/core/answer_entropy.h) on the
// bundled model: a greedy chain of thought on arith-easy easy-001
// ("Q: 13+7*4", answer 41, which the model solves in three steps: 7*4=28,
// 13+28=41, the answer line), then the entropy of 8 sampled answers after
// each step. After the first step the model's forced answers still scatter
// (mostly the partial result 13); after the answer line they all say 41.
// Also the CLI commands (answer-entropy, lens) against the same run.
#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

#include "core/answer_entropy.h"
#include "core/run_service.h"
#include "core/session_options.h"
#include "core/trace_tokens.h"
#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/logit_lens.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "reasonscope/task.h"
#include "test_paths.h"
#include "widgets/probe_view.h"

using namespace rs;

namespace {
const char* kModel = RS_SOURCE_DIR "/resources/models/reasoner.gguf";
constexpr int kSamples = 8;
}  // namespace

class TestAnswerEntropy : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;
    std::unique_ptr<LocalGenerator> gen_;
    app::PluginManager plugins_;
    QTemporaryDir dir_;
    QString db_;
    StoredRun run_;

    std::vector<app::StepAnswerEntropy> compute(uint64_t seed, int leaf = -1) {
        app::AnswerEntropyOptions opt;
        opt.samples = kSamples;
        opt.seed = seed;
        return app::answer_entropy(gen_->session(), run_.run, run_.tree,
                                   leaf < 0 ? app::default_trace_leaf(run_.run, run_.tree) : leaf,
                                   opt);
    }

  private slots:
    void initTestCase() {
        model_ = Model::load(kModel);
        gen_ = std::make_unique<LocalGenerator>(*model_, app::search_session_options(2));
        plugins_.scan();
        db_ = dir_.filePath("runs.sqlite");
        auto store = RunStore::open(db_.toStdString());
        app::RunRequest req;
        req.task = find_task(load_suite(RS_SOURCE_DIR "/resources/tasks/arith-easy.jsonl"),
                             "easy-001", "arith-easy");
        req.suite = "arith-easy";
        req.strategy = "chain-of-thought";  // greedy
        app::RunOptions opt;
        opt.store = store.get();
        const app::RunResult res = app::run_and_record(*model_, *gen_, plugins_, req, opt);
        QCOMPARE(res.outcome.answer, std::string("41"));
        QCOMPARE(res.outcome.correct, 1);
        run_ = store->load(res.run_id);
    }

    void oneValuePerStepInRange() {
        const int leaf = app::default_trace_leaf(run_.run, run_.tree);
        const size_t n_steps = run_.tree.path(leaf).size() - 1;
        QCOMPARE(n_steps, size_t(3));
        const auto steps = compute(1);
        QCOMPARE(steps.size(), n_steps);
        const double max_h = std::log(double(kSamples));
        int prefix = 0;
        for (size_t i = 0; i < steps.size(); ++i) {
            const auto& s = steps[i];
            QCOMPARE(s.step, static_cast<int>(i) + 1);
            QCOMPARE(s.node, run_.tree.path(leaf)[i + 1]);
            QVERIFY(s.prefix_tokens > prefix);  // the prefix grows step by step
            prefix = s.prefix_tokens;
            QVERIFY2(s.entropy >= 0 && s.entropy <= max_h + 1e-12,
                     qPrintable(QString::number(s.entropy)));
            QVERIFY(s.first_token_entropy >= 0);
            int total = 0;
            double h = 0;
            for (const auto& [a, c] : s.answers) {
                total += c;
                h -= double(c) / kSamples * std::log(double(c) / kSamples);
            }
            QCOMPARE(total, kSamples);
            QVERIFY(std::fabs(h - s.entropy) < 1e-12);  // the entropy of the groups
            QCOMPARE(s.top_answer, s.answers.front().first);
            QCOMPARE(s.top_prob, double(s.answers.front().second) / kSamples);
        }
        // The prefix of the last step is the whole trace.
        const auto all = app::trace_tokens(model_->tokenizer(), run_.run, run_.tree, leaf);
        QCOMPARE(steps.back().prefix_tokens, static_cast<int>(all.size()));
        // Unsure after the first step, sure of 41 after the answer line.
        QVERIFY2(
            steps.back().entropy < steps.front().entropy,
            qPrintable(
                QString("first %1, last %2").arg(steps.front().entropy).arg(steps.back().entropy)));
        QCOMPARE(steps.back().top_answer, std::string("41"));
        QCOMPARE(steps.back().top_prob, 1.0);
        // Nothing is left in the cache: every fork was released.
        QCOMPARE(gen_->session().kv().stats().sequences, 0);

        // The curve as the node pane's Probes dock draws it.
        views::AnswerEntropyCurve c;
        c.title = QString("Answer entropy per step, run %1 (easy-001)").arg(run_.run.id);
        c.max_entropy = max_h;
        for (const auto& s : steps) {
            c.entropy.push_back(s.entropy);
            c.first_token.push_back(s.first_token_entropy);
            c.top_answer.push_back(QString::fromStdString(s.top_answer));
            c.top_prob.push_back(s.top_prob);
        }
        views::ProbeView view;
        view.resize(560, 420);
        view.show_answer_entropy(c);
        const QString shots = QStringLiteral(RS_BINARY_DIR) + "/screenshots";
        QDir().mkpath(shots);
        QVERIFY(view.entropy_plot()->grab().save(shots + "/answer-entropy-curve.png"));
    }

    void deterministicForASeed() {
        const auto a = compute(7), b = compute(7);
        QCOMPARE(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) {
            QCOMPARE(a[i].entropy, b[i].entropy);
            QCOMPARE(a[i].first_token_entropy, b[i].first_token_entropy);
            QCOMPARE(a[i].answers, b[i].answers);
        }
    }

    void cueFollowsTheAnswerFormat() {
        QCOMPARE(app::answer_cue(run_.run, false), std::string("Answer:"));
        RunRow boxed;
        boxed.prompt_settings =
            R"({"answer_format":"boxed","thinking":{"open":"<think>","close":"</think>"}})";
        QCOMPARE(app::answer_cue(boxed, true),
                 std::string("</think>\n\nThe final answer is $\\boxed{"));
        QCOMPARE(app::answer_cue(boxed, false), std::string("The final answer is $\\boxed{"));
        RunRow is;
        is.prompt_settings = R"({"answer_format":"answer-is"})";
        QCOMPARE(app::answer_cue(is, false), std::string("The answer is "));
        RunRow broken;  // an unreadable setting falls back to the answer line
        broken.prompt_settings = "{not json";
        QCOMPARE(app::answer_cue(broken, false), std::string("Answer:"));
    }

    void badRequestsAreRefused() {
        auto refused = [&](int leaf, int samples, const char* what) {
            app::AnswerEntropyOptions opt;
            opt.samples = samples;
            try {
                app::answer_entropy(gen_->session(), run_.run, run_.tree, leaf, opt);
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains(what), e.what());
                return;
            }
            QFAIL("accepted");
        };
        refused(0, kSamples, "is the prompt");
        refused(run_.tree.size(), kSamples, "is not in run");
        refused(1, 0, "samples must be 1..1024");
        QCOMPARE(gen_->session().kv().stats().sequences, 0);
    }

    void cliPrintsTheSameValues() {
        const auto steps = compute(1);
        QProcess p;
        p.start(rs::test::binary("reasonscope"),
                {"answer-entropy", "--db", db_, "--run", QString::number(run_.run.id), "--samples",
                 QString::number(kSamples), "--threads", "2", "--json"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        const QJsonObject j = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        const QJsonArray js = j["steps"].toArray();
        QCOMPARE(js.size(), static_cast<qsizetype>(steps.size()));
        for (qsizetype i = 0; i < js.size(); ++i) {
            const QJsonObject s = js[i].toObject();
            QVERIFY(std::fabs(s["entropy"].toDouble() - steps[size_t(i)].entropy) < 1e-9);
            QCOMPARE(s["top_answer"].toString().toStdString(), steps[size_t(i)].top_answer);
        }
        // A bad trace node: one line, exit code 2.
        p.start(rs::test::binary("reasonscope"), {"answer-entropy", "--db", db_, "--run",
                                                  QString::number(run_.run.id), "--trace", "999"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 2);
        const QString err = QString::fromUtf8(p.readAllStandardError()).trimmed();
        QVERIFY2(err.contains("node 999 is not in run") && !err.contains('\n'), qPrintable(err));

        // The logit lens of the answer's digit "4" in the last step, from the
        // store: its last layer is the run's own token distribution there.
        const int leaf = app::default_trace_leaf(run_.run, run_.tree);
        const Node& last = run_.tree.at(leaf);
        int digit = -1;
        for (size_t i = 0; i < last.tokens.size() && digit < 0; ++i)
            if (last.tokens[i].piece == "4") digit = static_cast<int>(i);
        QVERIFY(digit >= 0);
        p.start(rs::test::binary("reasonscope"),
                {"lens", "--db", db_, "--run", QString::number(run_.run.id), "--node",
                 QString::number(leaf), "--token", QString::number(digit), "--top", "3",
                 "--threads", "2", "--json"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        const QJsonObject lens = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        const QJsonArray layers = lens["layers"].toArray();
        QCOMPARE(layers.size(), static_cast<qsizetype>(model_->config().n_layers));
        QCOMPARE(lens["target"].toObject()["piece"].toString(), QString("4"));
        const QJsonObject top = layers.last().toObject()["top"].toArray()[0].toObject();
        // Greedy: the chosen token is the last layer's most likely one, with
        // the probability the run stored for it.
        QCOMPARE(top["piece"].toString(), QString("4"));
        QVERIFY(std::fabs(std::log(top["p"].toDouble()) -
                          last.tokens[static_cast<size_t>(digit)].logprob) < 1e-3);
    }
};

QTEST_MAIN(TestAnswerEntropy)
#include "tst_answer_entropy.moc"
