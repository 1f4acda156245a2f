// Beam-style strategies from the literature on scripted distributions, where
// the right tree is known (tests/common/scripted_search.h): token-level beam
// search, CoT-decoding, self-evaluation guided beam search and DVTS, and the
// token-level growth they use (SearchContext::next_tokens / grow_tokens /
// expand_with_first).
#include <QtTest>
#include <set>

#include "scripted_search.h"

using namespace rs;
using namespace rs::test;

namespace {

// Tokens: 2 </s>, 3 "q", 4 "1", 5 "2", 6 "3", 7 "\n"; extra ones from 8.
constexpr TokenId kEnd = 2, kQ = 3, k1 = 4, k2 = 5, k3 = 6, kNl = 7;

// "3\n" (p .55, 2 tokens) or "21\n" (p .45, 3 tokens): the short one has
// the higher log-probability, the long one the higher per token.
Rules length_world() {
    return {{kQ, {{k3, 0.55}, {k2, 0.45}}},
            {k3, {{kNl, 1.0}}},
            {k2, {{k1, 1.0}}},
            {k1, {{kNl, 1.0}}},
            {kNl, {{kEnd, 1.0}}}};
}
// "1" then "2" or "3" (even odds), "2" (p .3) then "\n" .6 / "1" .4, "3" (p .2).
Rules split_world() {
    return {{kQ, {{k1, 0.5}, {k2, 0.3}, {k3, 0.2}}},
            {k1, {{k2, 0.5}, {k3, 0.5}}},
            {k2, {{kNl, 0.6}, {k1, 0.4}}},
            {k3, {{kNl, 1.0}}},
            {kNl, {{kEnd, 1.0}}}};
}
Task pattern_task(const std::string& pattern, const std::string& answer = "2") {
    Task t = q_task();
    t.answer_pattern = pattern;
    t.answer = answer;
    return t;
}

// A confidence that is not 0 or 1: 0.8 for a step that writes "2", else 0.3.
class LikesTwo final : public Scorer {
  public:
    std::string id() const override { return "likes-two"; }
    double score(SearchContext& ctx, int node) override {
        return ctx.node(node).text.find('2') != std::string::npos ? 0.8 : 0.3;
    }
};
// Always doubtful: C = 0.1, so every path score is below -1.
class Doubts final : public Scorer {
  public:
    std::string id() const override { return "doubts"; }
    double score(SearchContext&, int) override { return 0.1; }
};
void register_test_scorers() {
    register_test_scorer<Doubts>("doubts", "Doubts", "tst_strategies_beam");
    register_test_scorer<WritesTwo>("writes-two", "Writes two", "tst_strategies_beam");
    register_test_scorer<LikesTwo>("likes-two", "Likes two", "tst_strategies_beam");
}

bool near(double a, double b, double tol = 1e-6) {
    return std::fabs(a - b) < tol;
}

// A run through the plugin manager with a seed.
RunOutcome run_seeded(Fixture& f, const std::string& strategy,
                      std::vector<std::pair<std::string, std::string>> sets,
                      std::unique_ptr<SearchContext>& ctx, const Task& task, uint64_t seed) {
    app::RunRequest req;
    req.task = task;
    req.strategy = strategy;
    req.sets = std::move(sets);
    req.seed = seed;
    app::PreparedRun p = app::prepare_run(f.plugins, req);
    ctx = std::make_unique<SearchContext>(*f.gen, req.task, p.config);
    return run_strategy(*p.strategy, *ctx, p.params);
}

// The tree as text: every node's parent, text, status, answer and scores.
std::string dump(const SearchContext& ctx) {
    std::string out;
    for (const Node& n : ctx.tree().nodes()) {
        out += std::to_string(n.id) + "<" + std::to_string(n.parent) + " [" + n.text + "] " +
               status_name(n.status) + " " + n.answer;
        for (const auto& [k, v] : n.scores) out += " " + k + "=" + std::to_string(v);
        out += "\n";
    }
    return out;
}

// Misuses of the token-level growth: each must fail the run with a message.
class AppendsToThePrompt final : public Strategy {
  public:
    void run(SearchContext& ctx, const Params&) override {
        ctx.grow_tokens({{ctx.root(), k1, false}});
    }
};
class AsksNoCandidates final : public Strategy {
  public:
    void run(SearchContext& ctx, const Params&) override { ctx.next_tokens({ctx.root()}, 0); }
};
class AppendsToAParent final : public Strategy {
  public:
    void run(SearchContext& ctx, const Params&) override {
        const auto kids = ctx.grow_tokens({{ctx.root(), k1, true}});
        ctx.grow_tokens({{kids[0], k2, true}});
        ctx.grow_tokens({{kids[0], k2, false}});  // kids[0] has a child now
    }
};

}  // namespace

class TestStrategiesBeam : public QObject {
    Q_OBJECT
  private slots:
    void initTestCase() { register_test_scorers(); }

    void pluginsLoad() {
        Fixture f;
        for (const char* id : {"token-beam", "cot-decoding", "self-eval-beam", "dvts"}) {
            const auto* e = f.plugins.find(id);
            QVERIFY2(e, id);
            QVERIFY(!e->info.name.empty() && !e->info.paper.empty());
            QVERIFY(f.plugins.create(id) != nullptr);
        }
        for (const auto& err : f.plugins.errors())
            QVERIFY2(!err.path.contains("token_beam") && !err.path.contains("cot_decoding") &&
                         !err.path.contains("self_eval_beam") && !err.path.contains("dvts"),
                     qPrintable(err.message));
    }

    // next_tokens() reports the raw distribution without changing the tree;
    // growing by the most likely token reuses its pass, another token costs one.
    void nextTokensAndGrowth() {
        Fixture f;
        f.backend->rules = split_world();
        class Probe final : public Strategy {
          public:
            std::vector<std::vector<std::pair<TokenId, float>>> tops;
            int64_t passes_after_peek = 0, passes_after_top1 = 0, passes_after_other = 0;
            std::vector<int> kids, grown;
            void run(SearchContext& ctx, const Params&) override {
                tops = ctx.next_tokens({ctx.root()}, 3);
                passes_after_peek = ctx.metrics().forward_passes;
                kids = ctx.grow_tokens({{ctx.root(), k1, true}});
                passes_after_top1 = ctx.metrics().forward_passes;
                kids.push_back(ctx.grow_tokens({{ctx.root(), k3, true}})[0]);
                passes_after_other = ctx.metrics().forward_passes;
                grown = ctx.grow_tokens({{kids[0], k2, false}, {kids[1], kNl, false}});
            }
        } probe;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run(probe, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("ok"));
        QCOMPARE(probe.tops.size(), size_t(1));
        QCOMPARE(probe.tops[0].size(), size_t(3));
        const TokenId want[] = {k1, k2, k3};
        const double p[] = {0.5, 0.3, 0.2};
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(probe.tops[0][i].first, want[i]);
            QVERIFY(near(probe.tops[0][i].second, std::log(p[i]), 1e-5));
        }
        QCOMPARE(probe.passes_after_peek, int64_t(2));  // the prompt's, the peek's
        QCOMPARE(probe.passes_after_top1, int64_t(2));  // the peek's token: no pass
        QCOMPARE(probe.passes_after_other, int64_t(3));
        QCOMPARE(ctx->tree().size(), 3);
        // Appended in place: "1" grew to "12"; "3" to "3\n", which ends a
        // line and answers (the task's pattern: a digit).
        QCOMPARE(probe.grown, (std::vector<int>{probe.kids[0], probe.kids[1]}));
        QCOMPARE(ctx->node(probe.kids[0]).text, std::string("12"));
        QCOMPARE(ctx->node(probe.kids[0]).tokens.size(), size_t(2));
        QVERIFY(near(ctx->node(probe.kids[0]).tokens[1].logprob, std::log(0.5), 1e-5));
        QCOMPARE(ctx->node(probe.kids[0]).status, NodeStatus::Open);
        QCOMPARE(ctx->node(probe.kids[1]).text, std::string("3\n"));
        QCOMPARE(ctx->node(probe.kids[1]).answer, std::string("3"));
        QCOMPARE(ctx->node(probe.kids[1]).status, NodeStatus::Terminal);
        QCOMPARE(o.metrics.tokens_generated, int64_t(4));
    }

    void tokenGrowthMisuseFailsTheRun() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        AppendsToThePrompt a;
        RunOutcome o = f.run(a, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("not to the prompt") != std::string::npos, o.error.c_str());
        AsksNoCandidates b;
        o = f.run(b, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("k must be at least 1") != std::string::npos, o.error.c_str());
        AppendsToAParent c;
        o = f.run(c, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("a leaf only") != std::string::npos, o.error.c_str());
    }

    // Width 2 on the length world: both sequences finish. Unnormalised
    // (alpha 0) "3\n" wins, ln .55 > ln .45; normalised by length (alpha 1)
    // "21\n" wins, ln .45 / 3 > ln .55 / 2. One forward pass per token: the
    // most likely continuation reuses next_tokens()' pass.
    void tokenBeamLengthPenaltyChangesTheWinner() {
        Fixture f;
        f.backend->rules = length_world();
        const Task task = pattern_task("([0-9])", "1");
        for (const char* alpha : {"0", "1"}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o =
                f.run("token-beam", {{"width", "2"}, {"candidates", "2"}, {"alpha", alpha}}, ctx, 0,
                      task);
            QCOMPARE(o.status, std::string("ok"));
            QCOMPARE(ctx->tree().size(), 3);  // the prompt and one node per beam
            const Node& a = ctx->node(1);
            const Node& b = ctx->node(2);
            QCOMPARE(a.text, std::string("3\n"));
            QCOMPARE(b.text, std::string("21\n"));
            QCOMPARE(a.status, NodeStatus::Terminal);
            QCOMPARE(b.status, NodeStatus::Terminal);
            const double al = std::atof(alpha);
            QVERIFY(near(score_of(a, "beam_logprob"), std::log(0.55)));
            QVERIFY(near(score_of(b, "beam_logprob"), std::log(0.45)));
            QVERIFY(near(score_of(a, "beam_score"), std::log(0.55) / std::pow(2.0, al)));
            QVERIFY(near(score_of(b, "beam_score"), std::log(0.45) / std::pow(3.0, al)));
            QCOMPARE(o.answer, std::string(al == 0 ? "3" : "1"));
            QCOMPARE(ctx->chosen_node(), al == 0 ? 1 : 2);
            QCOMPARE(o.correct, al == 0 ? 0 : 1);
            QCOMPARE(o.metrics.tokens_generated, int64_t(5));
            // prompt 1; step 1: peek 1 + "2" forced 1; steps 2 and 3: a peek each.
            QCOMPARE(o.metrics.forward_passes, int64_t(5));
        }
        // A token budget is met exactly: 3 tokens are step 1's two and the
        // first of step 2's.
        {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o = f.run("token-beam", {{"width", "2"}, {"candidates", "2"}}, ctx, 3, task);
            QCOMPARE(o.status, std::string("budget"));
            QCOMPARE(o.metrics.tokens_generated, int64_t(3));
        }
        // Width 1 is greedy: "3\n" alone.
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("token-beam", {{"width", "1"}, {"alpha", "1"}}, ctx, 0, task);
        QCOMPARE(ctx->tree().size(), 2);
        QCOMPARE(o.answer, std::string("3"));
    }

    // Width 2 on the split world (alpha 0): "1" and "2" start (the third
    // first token, "3", never enters the tree); then both continuations of
    // "1" (ln .25) beat "2\n" (ln .18): "1" splits in two children and the
    // beam "2" is pruned. The answer is read from the whole line "13\n"
    // (the pattern "1([23])"), across the split.
    void tokenBeamKeepsTheWidthBest() {
        Fixture f;
        f.backend->rules = split_world();
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("token-beam", {{"width", "2"}, {"candidates", "2"}, {"alpha", "0"}},
                             ctx, 0, pattern_task("1([23])", "3"));
        QCOMPARE(o.status, std::string("ok"));
        QCOMPARE(ctx->tree().size(), 5);
        const Node& root = ctx->node(0);
        QCOMPARE(root.children.size(), size_t(2));
        const Node& one = ctx->node(root.children[0]);
        const Node& two = ctx->node(root.children[1]);
        QCOMPARE(one.text, std::string("1"));
        QCOMPARE(two.text, std::string("2"));
        QCOMPARE(two.status, NodeStatus::Pruned);
        QVERIFY(near(score_of(two, "beam_logprob"), std::log(0.3)));
        QVERIFY(near(score_of(one, "beam_logprob"), std::log(0.5)));  // at its split
        QCOMPARE(one.children.size(), size_t(2));
        std::map<std::string, const Node*> kids;
        for (int id : one.children) kids[ctx->node(id).text] = &ctx->node(id);
        QVERIFY(kids.count("2\n") && kids.count("3\n"));
        QCOMPARE(kids["3\n"]->answer, std::string("3"));
        QCOMPARE(kids["2\n"]->answer, std::string("2"));
        QCOMPARE(kids["3\n"]->status, NodeStatus::Terminal);
        QVERIFY(near(score_of(*kids["3\n"], "beam_logprob"), std::log(0.25)));
        QVERIFY(near(score_of(*kids["2\n"], "beam_logprob"), std::log(0.25 * 0.6)));
        QCOMPARE(o.answer, std::string("3"));
        QCOMPARE(ctx->chosen_node(), kids["3\n"]->id);
    }

    void badParametersAreRefused() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        auto refused = [&](const std::string& id, const std::string& k, const std::string& v,
                           const std::string& says) {
            try {
                f.run(id, {{k, v}}, ctx);
            } catch (const Error& e) {
                const std::string m = e.what();
                if (m.find(says) == std::string::npos) qWarning("%s", m.c_str());
                return m.find(says) != std::string::npos;
            }
            return false;
        };
        QVERIFY(refused("token-beam", "width", "0", "width"));
        QVERIFY(refused("token-beam", "alpha", "-1", "alpha"));
        QVERIFY(refused("cot-decoding", "k", "0", "k"));
        QVERIFY(refused("cot-decoding", "aggregate", "mean", "aggregate"));
        QVERIFY(refused("self-eval-beam", "lambda", "1.5", "lambda"));
        QVERIFY(refused("self-eval-beam", "scorer", "no-such-scorer", "no-such-scorer"));
        QVERIFY(refused("dvts", "width", "0", "width"));
        // DVTS's budget must split evenly into subtrees: a clear run error.
        RunOutcome o = f.run("dvts", {{"n", "6"}, {"width", "4"}, {"scorer", "writes-two"}}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("n (6) must be a multiple of width (4)") != std::string::npos,
                 o.error.c_str());
        QCOMPARE(ctx->tree().size(), 1);
    }

    // CoT-decoding on a world where the first token decides how sure the
    // answer is (the answer: the digit after x, y or z). Greedy takes "x"
    // (answer 1, margin .6 - .3); "z" also answers 1 (margin .3); "y"
    // answers 2 with the largest margin, .7 - .2; "1" gives no answer.
    void cotDecodingPicksTheLargestMargin() {
        Fixture f(1 << 14, {"x", "y", "z"});
        constexpr TokenId x = 8, y = 9, z = 10;
        f.backend->rules = {{kQ, {{x, 0.4}, {z, 0.3}, {y, 0.2}, {k1, 0.1}}},
                            {x, {{k1, 0.6}, {k2, 0.3}, {k3, 0.1}}},
                            {z, {{k1, 0.6}, {k3, 0.3}, {k2, 0.1}}},
                            {y, {{k2, 0.7}, {k1, 0.2}, {k3, 0.1}}},
                            {k1, {{kNl, 1.0}}},
                            {k2, {{kNl, 1.0}}},
                            {k3, {{kNl, 1.0}}},
                            {kNl, {{kEnd, 1.0}}}};
        const Task task = pattern_task("[xyz]([123])", "2");
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("cot-decoding", {{"k", "4"}}, ctx, 0, task);
        QCOMPARE(o.status, std::string("ok"));
        const Node& root = ctx->node(0);
        QCOMPARE(root.children.size(), size_t(4));
        std::map<std::string, const Node*> first;
        for (int id : root.children) first[ctx->node(id).text] = &ctx->node(id);
        QVERIFY(first.count("x1\n") && first.count("z1\n") && first.count("y2\n") &&
                first.count("1\n"));
        // The branch token is the model's choice, not a forced one; its
        // probability is the model's.
        QVERIFY(!first["y2\n"]->tokens[0].forced);
        QVERIFY(near(first["y2\n"]->tokens[0].logprob, std::log(0.2), 1e-5));
        QVERIFY(near(score_of(*first["x1\n"], "cot_margin"), 0.3));
        QVERIFY(near(score_of(*first["z1\n"], "cot_margin"), 0.3));
        QVERIFY(near(score_of(*first["y2\n"], "cot_margin"), 0.5));
        QVERIFY(std::isnan(score_of(*first["1\n"], "cot_margin")));  // no answer
        QCOMPARE(first["1\n"]->children.size(), size_t(1));          // then </s>
        QCOMPARE(o.answer, std::string("2"));
        QCOMPARE(ctx->chosen_node(), first["y2\n"]->id);
        // Summed by answer: 1 gets .3 + .3 > .5.
        o = f.run("cot-decoding", {{"k", "4"}, {"aggregate", "sum"}}, ctx, 0, task);
        QCOMPARE(o.answer, std::string("1"));
        QCOMPARE(ctx->node(ctx->chosen_node()).answer, std::string("1"));
        // k = 1 is greedy decoding.
        o = f.run("cot-decoding", {{"k", "1"}}, ctx, 0, task);
        QCOMPARE(ctx->node(0).children.size(), size_t(1));
        QCOMPARE(o.answer, std::string("1"));
    }

    // Self-evaluation guided beam search with a known confidence (likes-two:
    // C = .8 for a step writing "2", else .3): every candidate's step score
    // is lambda * mean log P + (1 - lambda) * log C, its path score the sum
    // along the path; with tau 0 the kept candidates are the best ones.
    void selfEvalBeamCombinesAndKeepsTheBest() {
        Fixture f;
        f.backend->rules = two_step_world();
        const Task task = pattern_task("3([12])", "2");
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = run_seeded(f, "self-eval-beam",
                                  {{"width", "2"},
                                   {"expansions", "3"},
                                   {"lambda", "0.3"},
                                   {"tau", "0"},
                                   {"scorer", "likes-two"},
                                   {"temperature", "1"}},
                                  ctx, task, 42);
        QCOMPARE(o.status, std::string("ok"));
        int scored = 0;
        for (const Node& n : ctx->tree().nodes()) {
            if (n.id == 0) continue;
            ++scored;
            // Every step has one even-odds token ("1"/"2", or the digit after
            // "3"), the others are certain: mean log P = ln .5 / tokens.
            const double c = n.text.find('2') != std::string::npos ? 0.8 : 0.3;
            const double lp = std::log(0.5) / static_cast<double>(n.text.size());
            const double step = 0.3 * lp + 0.7 * std::log(c);
            QVERIFY2(near(score_of(n, "seb_step"), step), dump(*ctx).c_str());
            const double parent = n.parent == 0 ? 0.0 : score_of(ctx->node(n.parent), "seb_score");
            QVERIFY(near(score_of(n, "seb_score"), parent + step));
            QVERIFY(near(score_of(n, "likes-two"), c));
        }
        QCOMPARE(scored, ctx->tree().size() - 1);
        // Depth 1: 3 candidates, the 2 best kept (unpruned), the other pruned.
        const Node& root = ctx->node(0);
        QCOMPARE(root.children.size(), size_t(3));
        double worst_kept = 1e9, best_pruned = -1e9;
        int kept = 0;
        for (int id : root.children) {
            const Node& n = ctx->node(id);
            if (n.status == NodeStatus::Pruned)
                best_pruned = std::max(best_pruned, score_of(n, "seb_score"));
            else {
                ++kept;
                worst_kept = std::min(worst_kept, score_of(n, "seb_score"));
                QCOMPARE(n.children.size(), size_t(3));
            }
        }
        QCOMPARE(kept, 2);
        QVERIFY(worst_kept >= best_pruned);
        // The chosen answer is the best finished path's.
        const int chosen = ctx->chosen_node();
        QVERIFY(chosen > 0);
        QCOMPARE(ctx->tree().size(), 1 + 3 + 6);  // 2 beams x 3, all terminal: done
        for (const Node& n : ctx->tree().nodes())
            if (n.status == NodeStatus::Terminal)
                QVERIFY(score_of(n, "seb_score") <= score_of(ctx->node(chosen), "seb_score"));
        QCOMPARE(o.answer, ctx->node(chosen).answer);
    }

    // Path scores are log-scores, below -1 here (C = 0.1 each step): the
    // best finished path is still chosen (choose_best_scored once ignored
    // scores below -1).
    void selfEvalBeamChoosesAmongNegativeScores() {
        Fixture f;
        f.backend->rules = two_step_world();
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = run_seeded(f, "self-eval-beam",
                                  {{"width", "2"},
                                   {"expansions", "2"},
                                   {"tau", "0"},
                                   {"scorer", "doubts"},
                                   {"temperature", "1"}},
                                  ctx, pattern_task("3([12])", "2"), 42);
        QCOMPARE(o.status, std::string("ok"));
        QVERIFY2(!o.answer.empty(), dump(*ctx).c_str());
        const double chosen = score_of(ctx->node(ctx->chosen_node()), "seb_score");
        QVERIFY(chosen < -1);
        for (const Node& n : ctx->tree().nodes())
            if (n.status == NodeStatus::Terminal) QVERIFY(score_of(n, "seb_score") <= chosen);
    }

    // The stochastic beam draws from the run's seed: the same seed gives the
    // same tree; seeds differ in what they draw.
    void selfEvalBeamIsDeterministicWithASeed() {
        Fixture f;
        f.backend->rules = two_step_world();
        const Task task = pattern_task("3([12])", "2");
        const std::vector<std::pair<std::string, std::string>> sets = {{"width", "2"},
                                                                       {"expansions", "3"},
                                                                       {"tau", "100"},
                                                                       {"scorer", "likes-two"},
                                                                       {"temperature", "1"}};
        std::unique_ptr<SearchContext> a, b;
        run_seeded(f, "self-eval-beam", sets, a, task, 7);
        run_seeded(f, "self-eval-beam", sets, b, task, 7);
        QCOMPARE(dump(*a), dump(*b));
        std::set<std::string> trees;
        for (uint64_t seed = 1; seed <= 8; ++seed) {
            std::unique_ptr<SearchContext> c;
            QCOMPARE(run_seeded(f, "self-eval-beam", sets, c, task, seed).status,
                     std::string("ok"));
            trees.insert(dump(*c));
        }
        QVERIFY(trees.size() > 1);
    }

    // DVTS, n 8 and width 2: 4 subtrees, each expanding its one live node
    // into 2 candidates and keeping the better (writes-two), so every
    // subtree is one chain from the root; subtrees never share a node.
    void dvtsRunsIndependentSubtrees() {
        Fixture f;
        f.backend->rules = two_step_world();
        const Task task = pattern_task("3([12])", "2");
        for (const char* aggregate : {"weighted-vote", "best"}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o = run_seeded(f, "dvts",
                                      {{"n", "8"},
                                       {"width", "2"},
                                       {"scorer", "writes-two"},
                                       {"aggregate", aggregate},
                                       {"temperature", "1"}},
                                      ctx, task, 42);
            QCOMPARE(o.status, std::string("ok"));
            const Node& root = ctx->node(0);
            QCOMPARE(root.children.size(), size_t(8));   // 4 subtrees x 2 candidates
            QCOMPARE(ctx->tree().size(), 1 + 8 + 8);     // then 2 more each: terminal
            std::map<int, std::vector<int>> by_subtree;  // candidates at depth 1
            for (int id : root.children)
                by_subtree[static_cast<int>(score_of(ctx->node(id), "dvts_subtree"))].push_back(id);
            QCOMPARE(by_subtree.size(), size_t(4));
            std::vector<int> finished;
            for (const auto& [s, ids] : by_subtree) {
                QCOMPARE(ids.size(), size_t(2));
                // The better candidate is kept (the first on a tie), the other pruned.
                const Node& a = ctx->node(ids[0]);
                const Node& b = ctx->node(ids[1]);
                const Node& keep = score_of(b, "writes-two") > score_of(a, "writes-two") ? b : a;
                const Node& drop = &keep == &a ? b : a;
                QCOMPARE(drop.status, NodeStatus::Pruned);
                QCOMPARE(drop.children.size(), size_t(0));
                QCOMPARE(keep.children.size(), size_t(2));
                int best = -1;
                for (int leaf : keep.children) {
                    const Node& l = ctx->node(leaf);
                    QCOMPARE(static_cast<int>(score_of(l, "dvts_subtree")), s);
                    QCOMPARE(l.status, NodeStatus::Terminal);
                    if (best < 0 ||
                        score_of(l, "writes-two") > score_of(ctx->node(best), "writes-two"))
                        best = leaf;
                }
                finished.push_back(best);
            }
            // Aggregation over the 4 finished traces, one per subtree: the
            // reward-weighted vote and the best reward both pick "2" when a
            // subtree found it.
            bool any_two = false;
            for (int leaf : finished) any_two |= ctx->node(leaf).answer == "2";
            QVERIFY(any_two);  // 4 subtrees with a 2-in-4 chance each... and seed 42
            QCOMPARE(o.answer, std::string("2"));
            QCOMPARE(ctx->node(ctx->chosen_node()).answer, std::string("2"));
        }
    }
};

QTEST_GUILESS_MAIN(TestStrategiesBeam)
#include "tst_strategies_beam.moc"
