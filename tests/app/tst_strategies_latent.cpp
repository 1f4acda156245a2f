// latent-select on a scripted world with scripted hidden states: which
// traces are pruned at which step (the worst-ranked by their latent change
// so far), that pruned traces stop growing and say why, the final choice,
// and the clear error without taps.
#include <QtTest>
#include <algorithm>
#include <cmath>

#include "reasonscope/step_signals.h"
#include "scripted_search.h"

using namespace rs;

namespace {

// Extra tokens 8 "a" and 9 "b": every step is "a\n" or "b\n" (even odds),
// so no step states an answer and traces run to max_depth.
void letters_world(test::Fixture& f) {
    f.backend->rules = {
        {3, {{8, 0.5}, {9, 0.5}}}, {8, {{7, 1.0}}}, {9, {{7, 1.0}}}, {7, {{8, 0.5}, {9, 0.5}}}};
}

// A step's state is that of its last evaluated row: its letter at position
// 2 * depth. Scripted: (position, +1 for "a" / -2 for "b", 0, ...).
void scripted_state(float* out, int dim, int pos, TokenId token) {
    for (int i = 0; i < dim; ++i) out[i] = 0;
    out[0] = static_cast<float>(pos);
    out[1] = token == 8 ? 1.0f : -2.0f;
}

Task no_answer_task() {
    Task t = test::q_task();
    t.answer_pattern = "(x)";  // never matches
    return t;
}

}  // namespace

class TestStrategiesLatent : public QObject {
    Q_OBJECT
  private slots:
    void prunesTheWorstRankedTracesEachStep() {
        test::Fixture f(1 << 14, {"a", "b"});
        letters_world(f);
        f.backend->tap_state = [](const BatchRow& r, int, float* out, int dim) {
            scripted_state(out, dim, r.pos, r.token);
        };
        std::unique_ptr<SearchContext> ctx;
        // n = 6, pruning from step 2: floor(0.34 * live) per step, never
        // below 2 live: 6 -> 4 (step 2) -> 3 (step 3) -> 2 (step 4); the two
        // left reach max_depth 5.
        RunOutcome out = f.run("latent-select",
                               {{"n", "6"},
                                {"warmup", "2"},
                                {"prune_fraction", "0.34"},
                                {"keep", "2"},
                                {"signal", "aligned"},
                                {"max_depth", "5"}},
                               ctx, 0, no_answer_task());
        QVERIFY2(out.status == "ok", out.error.c_str());
        QCOMPARE(ctx->config().tap_layers, std::vector<int>{-1});  // switched on by "needs"
        const ReasoningTree& t = ctx->tree();

        // The expected ranking, recomputed from each path's letters and the
        // scripted states (not from the stored hidden states).
        auto expected_signal = [&](int node) {
            std::vector<std::vector<float>> hs;
            for (int id : t.path(node)) {
                if (id == 0) continue;
                std::vector<float> h(32);
                scripted_state(h.data(), 32, 2 * t.at(id).depth, t.at(id).tokens.front().id);
                hs.push_back(h);
            }
            std::vector<const std::vector<float>*> ps;
            for (const auto& h : hs) ps.push_back(&h);
            return latent_change(ps).aligned;
        };
        const int expected_pruned[] = {0, 0, 2, 1, 1, 0};  // by step (depth)
        for (int depth = 1; depth <= 5; ++depth) {
            std::vector<int> at;  // the traces alive at this step
            for (const Node& n : t.nodes())
                if (n.depth == depth) at.push_back(n.id);
            std::vector<std::pair<double, int>> ranked;
            for (int id : at) ranked.push_back({expected_signal(id), id});
            std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
                return a.first > b.first || (a.first == b.first && a.second < b.second);
            });
            const int k = depth < 5 ? expected_pruned[depth] : 0;
            QCOMPARE(static_cast<int>(ranked.size()), depth == 1   ? 6
                                                      : depth == 2 ? 6
                                                      : depth == 3 ? 4
                                                      : depth == 4 ? 3
                                                                   : 2);
            for (size_t r = 0; r < ranked.size(); ++r) {
                const Node& n = t.at(ranked[r].second);
                const bool pruned = r >= ranked.size() - static_cast<size_t>(k);
                const std::string what = "step " + std::to_string(depth) + " node " +
                                         std::to_string(n.id) + " rank " + std::to_string(r + 1);
                if (pruned) {
                    QVERIFY2(n.status == NodeStatus::Pruned, what.c_str());
                    QVERIFY2(n.children.empty(), what.c_str());  // it stopped growing
                    QCOMPARE(n.scores.at("pruned_at_step"), static_cast<double>(depth));
                    QCOMPARE(n.scores.at("pruned_rank"), static_cast<double>(r + 1));
                    QVERIFY(std::abs(n.scores.at("pruned_signal") - ranked[r].first) < 1e-9);
                } else if (depth < 5) {
                    QVERIFY2(n.status == NodeStatus::Expanded, what.c_str());
                    QCOMPARE(static_cast<int>(n.children.size()), 1);
                } else {
                    QVERIFY2(n.status == NodeStatus::Terminal, what.c_str());
                }
                // Every live trace's signal is on its step (from step 2: two states).
                if (depth >= 2)
                    QVERIFY(std::abs(n.scores.at("latent_aligned") - ranked[r].first) < 1e-9);
            }
        }
        // Tokens: 6 traces x 2 steps, 4 x 1, 3 x 1, 2 x 1, all two tokens a step.
        QCOMPARE(out.metrics.tokens_generated, int64_t{2 * (6 * 2 + 4 + 3 + 2)});
        QCOMPARE(t.at(0).scores.at("finished_traces"), 2.0);
        QVERIFY(out.answer.empty());  // no trace stated an answer
    }

    // With answers ("1\n" and "2\n" end a trace), the survivors vote.
    void survivorsVote() {
        test::Fixture f(1 << 14, {"a", "b"});
        f.backend->rules = {
            {3, {{8, 0.5}, {9, 0.5}}}, {8, {{7, 1.0}}},
            {9, {{7, 1.0}}},           {4, {{7, 1.0}}},
            {5, {{7, 1.0}}},           {7, {{8, 0.3}, {9, 0.3}, {4, 0.2}, {5, 0.2}}}};
        f.backend->tap_state = [](const BatchRow& r, int, float* out, int dim) {
            scripted_state(out, dim, r.pos, r.token);
        };
        std::unique_ptr<SearchContext> ctx;
        RunOutcome out = f.run("latent-select",
                               {{"n", "8"},
                                {"warmup", "2"},
                                {"prune_fraction", "0.25"},
                                {"max_depth", "8"},
                                {"select", "vote"}},
                               ctx);
        QVERIFY2(out.status == "ok", out.error.c_str());
        const ReasoningTree& t = ctx->tree();
        std::vector<int> finished;
        int pruned = 0;
        for (const Node& n : t.nodes()) {
            if (n.status == NodeStatus::Pruned) {
                ++pruned;
                QVERIFY(n.children.empty());
                QVERIFY(n.answer.empty());  // pruned before it could answer
            }
            if (n.status == NodeStatus::Terminal) finished.push_back(n.id);
        }
        QVERIFY(pruned >= 1);
        const auto votes = vote(*ctx, finished);
        if (votes.empty()) {
            QVERIFY(out.answer.empty());
        } else {
            QCOMPARE(out.answer, votes[0].answer);
            QCOMPARE(ctx->chosen_node(), votes[0].best_node);
        }
    }

    void needsTaps() {
        test::Fixture f;
        app::PreparedRun p = [&] {
            app::RunRequest req;
            req.task = test::q_task();
            req.strategy = "latent-select";
            return app::prepare_run(f.plugins, req);
        }();
        QCOMPARE(p.config.tap_layers, std::vector<int>{-1});
        p.config.tap_layers.clear();  // a caller that turned them off
        SearchContext ctx(*f.gen, test::q_task(), p.config);
        const RunOutcome out = run_strategy(*p.strategy, ctx, p.params);
        QCOMPARE(out.status, std::string("error"));
        QVERIFY2(out.error.find("hidden-state taps") != std::string::npos, out.error.c_str());
        QCOMPARE(ctx.tree().size(), 1);  // nothing was sampled
    }
};

QTEST_GUILESS_MAIN(TestStrategiesLatent)
#include "tst_strategies_latent.moc"
