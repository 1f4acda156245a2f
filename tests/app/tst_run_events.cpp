// Run events end to end, for every strategy plugin on the bundled model: the
// recorded event stream applied to an empty tree rebuilds the search's tree
// exactly; the run stored through the real recorder into SQLite and loaded
// back keeps every node's fields (structure, text, status, ended, answer,
// scores, visits, value_sum, token signals; hidden states as float16, the
// store's format); so does its JSON export imported again.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/run_service.h"
#include "core/session_options.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_export.h"
#include "reasonscope/run_store.h"
#include "reasonscope/search.h"
#include "tree_compare.h"

using namespace rs;

namespace {

class Collect final : public RunObserver {
  public:
    std::vector<RunEvent> events;
    void on_event(const RunEvent& e) override { events.push_back(e); }
    template <typename T>
    int count() const {
        int n = 0;
        for (const auto& e : events) n += std::holds_alternative<T>(e);
        return n;
    }
};

const char* kModel = RS_SOURCE_DIR "/resources/models/reasoner.gguf";

}  // namespace

class TestRunEvents : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;
    app::PluginManager plugins_;

  private slots:
    void initTestCase() {
        if (!QFileInfo::exists(kModel)) QSKIP("the bundled model is missing");
        model_ = Model::load(kModel);
        plugins_.scan();
    }

    void storedRunEqualsTheSearchTree_data() {
        QTest::addColumn<QString>("strategy");
        QTest::addColumn<QStringList>("sets");
        QTest::addColumn<QString>("pattern");  // the task's answer pattern
        const QString suite = "Answer:\\s*(-?\\d+)";
        QTest::newRow("chain-of-thought") << "chain-of-thought" << QStringList{} << suite;
        // No answer ever matches: the chain runs on to the model's
        // end-of-sequence, so a node is `ended`.
        QTest::newRow("chain-of-thought to eos")
            << "chain-of-thought" << QStringList{"max_depth=12"} << "(NO ANSWER)";
        QTest::newRow("best-of-n") << "best-of-n" << QStringList{"n=3"} << suite;
        QTest::newRow("self-consistency")
            << "self-consistency" << QStringList{"n=3", "weighting=score"} << suite;
        QTest::newRow("beam-search")
            << "beam-search" << QStringList{"width=2", "expansions=2", "max_depth=8"} << suite;
        QTest::newRow("mcts") << "mcts" << QStringList{"iterations=6", "expansions=2"} << suite;
        QTest::newRow("particle-filtering")
            << "particle-filtering" << QStringList{"particles=3", "max_depth=8"} << suite;
        QTest::newRow("entropy-branching")
            << "entropy-branching"
            << QStringList{"branches=2", "entropy_threshold=0.05", "max_depth=8"} << suite;
        QTest::newRow("deepconf") << "deepconf" << QStringList{"n=6", "warmup=2", "batch=2"}
                                  << suite;
        QTest::newRow("adaptive-sc")
            << "adaptive-sc" << QStringList{"round_size=2", "max_samples=6"} << suite;
        QTest::newRow("power-sampling")
            << "power-sampling" << QStringList{"mcmc_steps=3", "block_steps=3"} << suite;
        QTest::newRow("rebase") << "rebase" << QStringList{"width=3", "max_depth=8"} << suite;
        QTest::newRow("phi-decoding")
            << "phi-decoding" << QStringList{"beams=2", "candidates=2", "max_depth=8"} << suite;
        QTest::newRow("astar-decoding")
            << "astar-decoding" << QStringList{"k=2", "solutions=2", "max_depth=8"} << suite;
        QTest::newRow("latent-select")
            << "latent-select" << QStringList{"n=4", "warmup=2", "max_depth=8"} << suite;
        QTest::newRow("token-beam")
            << "token-beam" << QStringList{"width=2", "candidates=2"} << suite;
        QTest::newRow("cot-decoding") << "cot-decoding" << QStringList{"k=3"} << suite;
        QTest::newRow("self-eval-beam")
            << "self-eval-beam" << QStringList{"width=2", "expansions=2", "max_depth=8"} << suite;
        QTest::newRow("dvts") << "dvts" << QStringList{"n=4", "width=2", "max_depth=8"} << suite;
    }

    // The self-eval scorer on the bundled model, whose " yes" and " no"
    // begin with the same token (" "): each score is the ratio at the
    // labels' first differing token, after that shared one, so scores
    // differ from step to step (comparing the shared token gave 0.5 always).
    void selfEvalComparesTheLabelsWhereTheyDiffer() {
        LocalGenerator gen(*model_, app::search_session_options(1));
        const Tokenizer& tok = model_->tokenizer();
        const auto y = tok.encode(" yes"), n = tok.encode(" no");
        QVERIFY(y.size() >= 2 && n.size() >= 2 && y[0] == n[0] && y[1] != n[1]);
        Task task{"easy-001", "Q: 13+7*4\n", "41", "Answer:\\s*(-?\\d+)"};
        RunConfig cfg;
        cfg.sampling.temperature = 0.8f;
        SearchContext ctx(gen, task, cfg);
        auto scorer = make_scorer("self-eval");
        const std::string question = "\nIs the reasoning above correct? Answer yes or no:";
        std::set<double> seen;
        for (int node : ctx.complete(ctx.expand(ctx.root(), 3))) {
            for (int id : ctx.tree().path(node)) {
                if (id == ctx.root()) continue;
                const double got = ctx.score(id, *scorer);
                const auto lp = ctx.next_token_logprobs(task.prompt + ctx.path_text(id) + question +
                                                        tok.token_to_piece(y[0]));
                const double py = std::exp(lp[static_cast<size_t>(y[1])]),
                             pn = std::exp(lp[static_cast<size_t>(n[1])]);
                QVERIFY(std::fabs(got - py / (py + pn)) < 1e-9);
                seen.insert(std::round(got * 1e6));
            }
        }
        QVERIFY2(seen.size() >= 3, "self-eval gives (nearly) the same score to every step");

        // A path too long for the context with the question loses its
        // beginning; a task too long even alone is refused, naming it.
        Task long_task = task;
        long_task.prompt = std::string(430, ' ') + task.prompt;
        SearchContext lctx(gen, long_task, cfg);
        const int leaf = lctx.complete(lctx.expand(lctx.root(), 1)).front();
        QVERIFY(static_cast<int>(
                    tok.encode(long_task.prompt + lctx.path_text(leaf) + question).size()) >=
                lctx.n_ctx());
        const double s = lctx.score(leaf, *scorer);
        QVERIFY(s > 0 && s < 1);
        Task too_long = task;
        too_long.prompt = std::string(470, ' ') + task.prompt;  // fits, not with the question
        SearchContext tctx(gen, too_long, cfg);
        try {
            tctx.score(tctx.root(), *scorer);
            QFAIL("a task longer than the context was scored");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("do not fit the context"), e.what());
        }
    }

    void storedRunEqualsTheSearchTree() {
        QFETCH(QString, strategy);
        QFETCH(QStringList, sets);
        QFETCH(QString, pattern);
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        app::RunRequest req;
        req.task = Task{"easy-001", "Q: 13+7*4\n", "41", pattern.toStdString()};
        req.strategy = strategy.toStdString();
        for (const QString& s : sets) req.sets.push_back(split_setting(s.toStdString()));
        req.config.tap_layers = {-1};  // hidden states too
        req.config.max_tokens = 1500;  // a small budget whatever the parameters
        app::PreparedRun p = app::prepare_run(plugins_, req);
        LocalGenerator gen(*model_, app::search_session_options(1));
        const app::PromptPlan plan = app::plan_prompt(*model_, req.task, req.prompt);
        app::apply_prompt_plan(plan, p.config);
        const int64_t id = store->begin_run(app::describe_run(*model_, gen, req, p, plan));
        auto recorder = store->recorder(id);
        Collect c;
        SearchContext ctx(gen, req.task, p.config, {&c, recorder.get()});
        RunOutcome out = run_strategy(*p.strategy, ctx, p.params);
        QVERIFY2(out.status == "ok" || out.status == "budget", out.error.c_str());
        recorder->flush();
        store->finish_run(id, app::finished_row(out, ctx));
        const ReasoningTree& want = ctx.tree();
        QVERIFY(want.size() >= 2);

        // (a) The event stream rebuilds the tree, to the bit.
        ReasoningTree rebuilt;
        for (const RunEvent& e : c.events) apply_event(rebuilt, e);
        std::string diff =
            test::tree_difference(rebuilt, want, test::Hidden::Exact, test::Times::Exact);
        QVERIFY2(diff.empty(), ("rebuilt from events: " + diff).c_str());

        // (b) Stored and loaded back: every field exact (REAL columns are
        // doubles, token signals floats, alternatives float32 blobs), hidden
        // states rounded to float16 as the latents table keeps them.
        StoredRun stored = store->load(id);
        diff = test::tree_difference(stored.tree, want, test::Hidden::Fp16, test::Times::Exact);
        QVERIFY2(diff.empty(), ("stored and loaded: " + diff).c_str());
        QCOMPARE(stored.tree.at(0).text, req.task.prompt);  // the root is the prompt
        QCOMPARE(stored.run.status, out.status);
        QCOMPARE(stored.run.answer, out.answer);
        QCOMPARE(stored.run.node_count, int64_t(want.size()));

        // The JSON export (no hidden states), imported into the store again.
        StoredRun back = run_from_json(nlohmann::json::parse(run_to_json(stored).dump()));
        diff = test::tree_difference(back.tree, want, test::Hidden::Skip, test::Times::Exact);
        QVERIFY2(diff.empty(), ("from JSON: " + diff).c_str());
        diff = test::tree_difference(store->load(store->import_run(back)).tree, want,
                                     test::Hidden::Skip, test::Times::Exact);
        QVERIFY2(diff.empty(), ("imported from JSON: " + diff).c_str());

        // What each run must have exercised, so the comparisons above compare something.
        QVERIFY(c.count<TokensAppended>() > 0);
        // Every node has its wall time: added at or after the run began, its
        // last token no earlier, within the run's wall time; a child starts
        // no earlier than its parent.
        for (const Node& n : want.nodes()) {
            QVERIFY2(n.started_at >= 0 && n.ended_at >= n.started_at &&
                         n.ended_at <= out.metrics.wall_seconds + 1e-9,
                     ("node " + std::to_string(n.id) + " times").c_str());
            if (n.parent >= 0) QVERIFY(n.started_at >= want.at(n.parent).started_at);
            if (!n.tokens.empty() && n.parent >= 0) QVERIFY(n.ended_at > n.started_at);
        }
        QVERIFY(c.count<HiddenState>() > 0);
        if (strategy == "mcts") {
            QVERIFY(c.count<NodeStats>() > 0);
            QVERIFY(want.at(0).visits > 0);
            QCOMPARE(stored.tree.at(0).visits, want.at(0).visits);
            QCOMPARE(stored.tree.at(0).value_sum, want.at(0).value_sum);
        } else {
            QCOMPARE(c.count<NodeStats>(), 0);  // only MCTS backs values up
        }
        if (strategy != "chain-of-thought") QVERIFY(c.count<NodeScored>() > 0);
        if (pattern == "(NO ANSWER)") {
            int ended = 0;
            for (const Node& n : stored.tree.nodes()) ended += n.ended;
            QVERIFY2(ended > 0, "the chain never reached end-of-sequence");
            QCOMPARE(c.count<NodeEnded>(), ended);
        }
    }
};

QTEST_GUILESS_MAIN(TestRunEvents)
#include "tst_run_events.moc"
