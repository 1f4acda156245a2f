// Strategies on a scripted distribution, where the right tree is known: a
// scripted backend stands in for the model (next-token probabilities fixed
// by the previous token), so tree shapes, votes, picks, batching and budgets
// can be checked exactly.
#include <QtTest>

#include "scripted_search.h"

using namespace rs;
using namespace rs::test;

namespace {

// Strategies that misbehave: throw something that is not an exception, or
// expand forever without asking should_stop().
class ThrowsInt final : public Strategy {
  public:
    void run(SearchContext& ctx, const Params&) override {
        ctx.expand(ctx.root(), 2);
        throw 7;
    }
};
class ScorerThrowsInt final : public Scorer {
  public:
    std::string id() const override { return "throws-int"; }
    double score(SearchContext&, int) override { throw 'x'; }
};
class ScoresWithAThrowingScorer final : public Strategy {
  public:
    void run(SearchContext& ctx, const Params&) override {
        ScorerThrowsInt sc;
        for (int k : ctx.expand(ctx.root(), 2)) ctx.score(k, sc);
    }
};
class ExpandsForever final : public Strategy {
  public:
    std::atomic<bool>* cancel_after_5 = nullptr;
    void run(SearchContext& ctx, const Params&) override {
        for (int i = 0;; ++i) {
            if (i == 5 && cancel_after_5) cancel_after_5->store(true);
            ctx.expand(ctx.root(), 1);
        }
    }
};
class ExpandsAtOnce final : public Strategy {
  public:
    int n = 0;
    void run(SearchContext& ctx, const Params&) override { ctx.complete(ctx.expand(0, n)); }
};

int64_t tree_tokens(const SearchContext& ctx) {
    int64_t n = 0;
    for (const Node& x : ctx.tree().nodes()) n += static_cast<int64_t>(x.tokens.size());
    return n;
}

std::map<std::string, int> answers(const SearchContext& ctx) {
    std::map<std::string, int> m;
    for (const Node& n : ctx.tree().nodes())
        if (!n.answer.empty()) m[n.answer]++;
    return m;
}

// Scripted worlds for the strategies below (tokens: 3 "q", 4 "1", 5 "2",
// 6 "3", 7 "\n", 2 </s>; the next token's probabilities by the previous one).
// Always "2\n": every sample agrees.
Rules unanimous_world() {
    return {{3, {{5, 1.0}}}, {5, {{7, 1.0}}}, {7, {{2, 1.0}}}};
}
// As the default world, but after "3" the model hesitates between "\n" and
// "2": traces through "3" are the unsure ones ("3\n" or "32\n").
Rules unsure_three_world() {
    return {{3, {{4, 0.5}, {5, 0.3}, {6, 0.2}}},
            {4, {{7, 1.0}}},
            {5, {{7, 1.0}}},
            {6, {{7, 0.5}, {5, 0.5}}},
            {7, {{2, 1.0}}}};
}
// One step of two decisions: "13\n" 0.25, "1\n" 0.25, "2\n" 0.5.
Rules two_decision_world() {
    return {{3, {{4, 0.5}, {5, 0.5}}},
            {4, {{6, 0.5}, {7, 0.5}}},
            {5, {{7, 1.0}}},
            {6, {{7, 1.0}}},
            {7, {{2, 1.0}}}};
}
void register_writes_two() {
    register_test_scorer<WritesTwo>("writes-two", "Writes two", "tst_strategies");
}

}  // namespace

class TestStrategies : public QObject {
    Q_OBJECT
  private slots:
    void greedyChainTakesTheMode() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("chain-of-thought", {}, ctx);
        QCOMPARE(o.status, std::string("ok"));
        QCOMPARE(ctx->tree().size(), 2);  // the prompt and one step "1\n"
        QCOMPARE(ctx->node(1).text, std::string("1\n"));
        QCOMPARE(o.answer, std::string("1"));
        QCOMPARE(o.correct, 0);
        // One pass for the prompt's first token, two for the step's two tokens.
        QCOMPARE(o.metrics.forward_passes, int64_t(3));
    }

    void selfConsistencyVotesAndBatches() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("self-consistency", {{"n", "250"}, {"temperature", "1"}}, ctx);
        QCOMPARE(o.status, std::string("ok"));
        QCOMPARE(ctx->tree().size(), 251);
        QCOMPARE(ctx->node(0).children.size(), size_t(250));
        // All 250 branches decode together: 1 prompt pass + 2 batched passes.
        QCOMPARE(o.metrics.forward_passes, int64_t(3));
        auto a = answers(*ctx);
        QCOMPARE(a["1"] + a["2"] + a["3"], 250);
        QVERIFY2(
            std::abs(a["1"] - 125) < 28 && std::abs(a["2"] - 75) < 25 && std::abs(a["3"] - 50) < 22,
            qPrintable(QString("%1 %2 %3").arg(a["1"]).arg(a["2"]).arg(a["3"])));
        QCOMPARE(o.answer, std::string("1"));    // the majority, wrong here
        QVERIFY(app::any_correct(ctx->tree()));  // but covered
    }

    void bestOfNWithTheAnswerOracleFindsCoverage() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o =
            f.run("best-of-n", {{"n", "8"}, {"scorer", "answer"}, {"temperature", "1"}}, ctx);
        QCOMPARE(o.answer == "2", app::any_correct(ctx->tree()));
    }

    void beamKeepsTheMostLikelySteps() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run(
            "beam-search",
            {{"width", "2"}, {"expansions", "6"}, {"scorer", "logprob"}, {"temperature", "1"}},
            ctx);
        QCOMPARE(ctx->tree().size(), 7);
        // Scores are the steps' geometric-mean probabilities: sqrt(p(digit)).
        for (int id : ctx->node(0).children) {
            const Node& n = ctx->node(id);
            double p = n.answer == "1" ? 0.5 : n.answer == "2" ? 0.3 : 0.2;
            QVERIFY(std::fabs(n.scores.at("logprob") - std::sqrt(p)) < 1e-4);
        }
        if (answers(*ctx).count("1")) QCOMPARE(o.answer, std::string("1"));
    }

    // MCTS bookkeeping on the scripted world, where every step is terminal:
    // the first iteration expands the root (one backup per child), each later
    // one selects a child and backs its value up again. With the answer
    // oracle and no exploration (c_puct 0) every later visit goes to the
    // best child; the most visited line gives the answer.
    void mctsBacksUpAndExploits() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("mcts",
                             {{"iterations", "20"},
                              {"expansions", "6"},
                              {"c_puct", "0"},
                              {"scorer", "answer"},
                              {"temperature", "1"}},
                             ctx);
        QCOMPARE(o.status, std::string("ok"));
        const Node& root = ctx->node(0);
        QCOMPARE(root.children.size(), size_t(6));
        QCOMPARE(root.visits, 6 + 19);  // 6 backups at the expansion, 1 per later iteration
        int correct = -1, visited = 0;
        for (int ch : root.children) {
            const Node& n = ctx->node(ch);
            QCOMPARE(n.value_sum, n.answer == "2" ? static_cast<double>(n.visits) : 0.0);
            if (n.answer == "2" && correct < 0) correct = ch;
            if (n.visits > 1) ++visited;
        }
        QCOMPARE(visited, 1);  // no exploration: one child takes all 19 later visits
        if (correct >= 0) {
            QCOMPARE(o.answer, std::string("2"));
            QCOMPARE(ctx->node(correct).visits, 20);
        } else {
            QCOMPARE(ctx->node(root.children[0]).visits, 20);  // all values 0: the first wins ties
        }
        // With exploration the visits spread over the children.
        std::unique_ptr<SearchContext> ctx2;
        f.run("mcts",
              {{"iterations", "40"},
               {"expansions", "6"},
               {"c_puct", "4"},
               {"scorer", "answer"},
               {"temperature", "1"}},
              ctx2);
        int spread = 0;
        for (int ch : ctx2->node(0).children) spread += ctx2->node(ch).visits > 1;
        QVERIFY(spread >= 3);
    }

    // Particle filtering: weights from the answer oracle make the effective
    // sample size exactly the number of correct particles; resampling (ESS
    // below threshold x particles) replaces the population by correct ones;
    // without resampling the weighted vote still picks the right answer.
    void particleFilterWeightsAndResamples() {
        Fixture f;
        for (const char* thr : {"1", "0"}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o = f.run("particle-filtering",
                                 {{"particles", "16"},
                                  {"ess_threshold", thr},
                                  {"scorer", "answer"},
                                  {"temperature", "1"}},
                                 ctx);
            QCOMPARE(o.status, std::string("ok"));
            int k = 0;
            for (int ch : ctx->node(0).children) k += ctx->node(ch).answer == "2";
            QCOMPARE(ctx->node(0).children.size(), size_t(16));
            QVERIFY2(
                std::fabs(ctx->node(0).scores.at("ess") - k) < 1e-6,
                qPrintable(
                    QString("ess %1 vs %2 correct").arg(ctx->node(0).scores.at("ess")).arg(k)));
            if (k == 0) continue;
            QCOMPARE(o.answer, std::string("2"));
            double wsum = 0;
            int weighted = 0;
            for (int ch : ctx->node(0).children) {
                const Node& n = ctx->node(ch);
                auto it = n.scores.find("particle_weight");
                if (it == n.scores.end()) continue;
                ++weighted;
                wsum += it->second;
                if (std::string(thr) == "1")
                    QCOMPARE(n.answer, std::string("2"));  // only correct particles survive
            }
            QVERIFY(weighted >= 1);
            if (std::string(thr) == "0") QVERIFY(std::fabs(wsum - 1.0) < 1e-6);
        }
    }

    // By default a population whose weights differ is resampled: the event
    // shows in the tree (each particle's copies; dropped ones 0) and every
    // step's nodes carry the effective sample size.
    void particleFilterResamplesByDefault() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o =
            f.run("particle-filtering",
                  {{"particles", "16"}, {"scorer", "answer"}, {"temperature", "1"}}, ctx);
        QCOMPARE(o.status, std::string("ok"));
        int k = 0;
        for (int ch : ctx->node(0).children) k += ctx->node(ch).answer == "2";
        QVERIFY(k > 0 && k < 16);
        QCOMPARE(score_of(ctx->node(0), "resamples"), 1.0);
        double copies = 0;
        for (int ch : ctx->node(0).children) {
            const Node& n = ctx->node(ch);
            QVERIFY(std::fabs(score_of(n, "ess") - k) < 1e-6);
            if (n.answer != "2") QCOMPARE(score_of(n, "resample_copies"), 0.0);
            copies += score_of(n, "resample_copies");
        }
        QCOMPARE(copies, 16.0);
    }

    void sameSeedSameTree() {
        Fixture f1, f2;
        std::unique_ptr<SearchContext> a, b;
        f1.run("self-consistency", {{"n", "20"}, {"temperature", "1"}}, a);
        f2.run("self-consistency", {{"n", "20"}, {"temperature", "1"}}, b);
        for (int i = 0; i < a->tree().size(); ++i) QCOMPARE(a->node(i).text, b->node(i).text);
    }

    // The budget is met exactly, also inside a batch of 250 branches: the
    // last batch extends only as many branches as tokens remain.
    void tokenBudgetStopsTheRun() {
        Fixture f;
        for (int64_t budget : {100, 37, 251}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o =
                f.run("self-consistency", {{"n", "250"}, {"temperature", "1"}}, ctx, budget);
            QCOMPARE(o.status, std::string("budget"));
            QCOMPARE(o.metrics.tokens_generated, budget);
            QCOMPARE(tree_tokens(*ctx), budget);
        }
    }

    // A strategy that loops without asking should_stop() is stopped by the
    // runtime at each budget and at cancel: expand() gives no children once
    // stopped, then ends the strategy.
    void runtimeEnforcesBudgetsOnALoopingStrategy() {
        Fixture f;
        ExpandsForever loop;
        std::unique_ptr<SearchContext> ctx;
        RunConfig tokens;
        tokens.max_tokens = 37;
        RunOutcome o = f.run(loop, tokens, ctx);
        QCOMPARE(o.status, std::string("budget"));
        QCOMPARE(o.metrics.tokens_generated, int64_t(37));
        QCOMPARE(ctx->tree().size(), 20);  // 18 steps "1\n" and one of 1 token (and the root)
        RunConfig passes;
        passes.max_passes = 9;
        o = f.run(loop, passes, ctx);
        QCOMPARE(o.status, std::string("budget"));
        QCOMPARE(o.metrics.forward_passes, int64_t(9));
        RunConfig seconds;
        seconds.max_seconds = 0.2;
        o = f.run(loop, seconds, ctx);
        QCOMPARE(o.status, std::string("budget"));
        QVERIFY(o.metrics.wall_seconds < 5);
        std::atomic<bool> cancel{false};
        loop.cancel_after_5 = &cancel;
        o = f.run(loop, RunConfig{}, ctx, &cancel);
        QCOMPARE(o.status, std::string("cancelled"));
        QCOMPARE(ctx->tree().size(), 6);
    }

    // A strategy or scorer that throws something that is not a
    // std::exception fails the run with a message; the process goes on.
    void nonExceptionThrowsFailTheRun() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        ThrowsInt s;
        RunOutcome o = f.run(s, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("int 7 (not a std::exception)") != std::string::npos,
                 o.error.c_str());
        QCOMPARE(ctx->tree().size(), 3);  // what it did before is kept
        ScoresWithAThrowingScorer s2;
        o = f.run(s2, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("unknown type") != std::string::npos, o.error.c_str());
    }

    // Branches that could not hold one step each even in the empty KV cache
    // are refused before any token, saying how much they need; before, such
    // a run filled the cache token after token and failed late.
    void branchesBeyondTheKvCacheAreRefusedAtOnce() {
        Fixture f(16 * 300);                                    // 300 blocks
        f.backend->rules = {{3, {{4, 1.0}}}, {4, {{4, 1.0}}}};  // "q111111...": long steps
        ExpandsAtOnce s;
        s.n = 100;  // 100 x 4 blocks (62 tokens of the 64-token context)
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run(s, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("expanding 100 branches at once needs up to") != std::string::npos &&
                     o.error.find("(400 blocks)") != std::string::npos &&
                     o.error.find("holds") != std::string::npos &&
                     o.error.find("(300 blocks of 16 tokens)") != std::string::npos,
                 o.error.c_str());
        QCOMPARE(o.metrics.tokens_generated, int64_t(0));
        s.n = 70;  // fits: runs to the context's end
        o = f.run(s, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("ok"));
    }

    // NaN in the model's output ends the run with an error naming the step.
    void nanLogitsEndTheRunNamingTheStep() {
        Fixture f;
        f.backend->nan_after = 4;  // the logits after "1"
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("chain-of-thought", {}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("step 1 (node 1, its token 2)") != std::string::npos &&
                     o.error.find("not numbers") != std::string::npos,
                 o.error.c_str());
        QCOMPARE(ctx->node(1).text, std::string("1"));
    }
    // DeepConf on the unsure-three world with top_k 2 and windows of 2
    // tokens: the first token's confidence is cq = (-ln .5 - ln .3) / 2;
    // "1\n" and "2\n" then have a certain "\n" (its runner-up at logit -30:
    // confidence 15), "3" an even choice (ln 2). So a trace's lowest window
    // is (cq + 15) / 2 ("sure") or (cq + ln 2) / 2 ("unsure", through "3").
    void deepconfOfflineKeepsTheConfidentTraces() {
        Fixture f;
        f.backend->rules = unsure_three_world();
        const double cq = (-std::log(0.5) - std::log(0.3)) / 2, sure = (cq + 15) / 2,
                     unsure = (cq + std::log(2.0)) / 2;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("deepconf",
                             {{"mode", "offline"},
                              {"n", "16"},
                              {"eta", "50"},  // the threshold: the median
                              {"top_k", "2"},
                              {"window", "2"},
                              {"temperature", "1"}},
                             ctx);
        QCOMPARE(o.status, std::string("ok"));
        QCOMPARE(ctx->node(0).children.size(), size_t(16));
        int threes = 0;
        std::map<std::string, int> kept;
        for (int ch : ctx->node(0).children) {
            const Node& n = ctx->node(ch);  // one step is the whole trace
            const bool three = n.text[0] == '3';
            threes += three;
            QVERIFY2(std::fabs(score_of(n, "confidence") - (three ? unsure : sure)) < 1e-4,
                     n.text.c_str());
            QVERIFY(std::fabs(score_of(n, "conf_mean") - (three && n.text.size() == 3
                                                              ? (cq + std::log(2.0) + 15) / 3
                                                          : three ? unsure
                                                                  : sure)) < 1e-4);
            if (score_of(n, "kept") == 1.0) kept[n.answer]++;
        }
        QVERIFY(threes >= 1 && threes <= 8);  // the median then lies in (unsure, sure]
        const double thr = score_of(ctx->node(0), "conf_threshold");
        QVERIFY(thr > unsure + 1e-4 && thr < sure + 1e-4);
        QCOMPARE(kept["3"], 0);
        QCOMPARE(kept["1"] + kept["2"], 16 - threes);
        QCOMPARE(o.answer, std::string(kept["2"] > kept["1"] ? "2" : "1"));
    }

    // Online: 8 warm-up traces set the threshold (their median, between
    // unsure and sure); every later trace through "3" is cut at its second token, where
    // its first full window (unsure) falls below it, and pruned there.
    void deepconfOnlineCutsUnsureTracesAndStopsAtConsensus() {
        Fixture f;
        f.backend->rules = unsure_three_world();
        const double cq = (-std::log(0.5) - std::log(0.3)) / 2, sure = (cq + 15) / 2,
                     unsure = (cq + std::log(2.0)) / 2;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("deepconf",
                             {{"n", "32"},
                              {"warmup", "8"},
                              {"batch", "8"},
                              {"eta", "50"},
                              {"tau", "1"},
                              {"top_k", "2"},
                              {"window", "2"},
                              {"temperature", "1"}},
                             ctx);
        QCOMPARE(o.status, std::string("ok"));
        const auto& kids = ctx->node(0).children;
        QCOMPARE(kids.size(), size_t(32));
        const double thr = score_of(ctx->node(0), "conf_threshold");
        QVERIFY(thr > unsure + 1e-4 && thr < sure + 1e-4);
        int cut = 0, warm_threes = 0;
        int64_t tokens = 0;
        for (size_t i = 0; i < kids.size(); ++i) {
            const Node& n = ctx->node(kids[i]);
            tokens += static_cast<int64_t>(n.tokens.size());
            const bool three = n.text[0] == '3';
            if (i < 8) {
                warm_threes += three;
                QCOMPARE(score_of(n, "kept"), three ? 0.0 : 1.0);
                continue;
            }
            if (three) {
                ++cut;
                QCOMPARE(n.status, NodeStatus::Pruned);
                QCOMPARE(n.tokens.size(), size_t(2));  // "32\n" stops before its "\n"
                QCOMPARE(score_of(n, "cut_at_token"), 2.0);
                QVERIFY(std::fabs(score_of(n, "cut_confidence") - unsure) < 1e-4);
                QVERIFY(!n.scores.count("kept"));
            } else {
                QCOMPARE(n.status, NodeStatus::Terminal);
                QCOMPARE(score_of(n, "kept"), 1.0);
            }
        }
        QVERIFY(warm_threes <= 4);
        QVERIFY2(cut >= 1, "no trace after the warm-up went through 3");
        QCOMPARE(o.metrics.tokens_generated, tokens);
        QVERIFY(o.answer == "1" || o.answer == "2");

        // Where every trace agrees the warm-up already has consensus: no more traces.
        f.backend->rules = unanimous_world();
        o = f.run("deepconf", {{"n", "32"}, {"warmup", "8"}, {"tau", "0.9"}}, ctx);
        QCOMPARE(ctx->node(0).children.size(), size_t(8));
        QCOMPARE(score_of(ctx->node(0), "stopped_at_consensus"), 1.0);
        QCOMPARE(o.answer, std::string("2"));
    }

    // Adaptive self-consistency: exact termination rounds where all samples
    // agree, and on the default world the stop where the entropy first fell
    // below the threshold, recomputed from the traces' rounds.
    void adaptiveScStopsWhenTheAnswersAgree() {
        Fixture f;
        f.backend->rules = unanimous_world();
        std::unique_ptr<SearchContext> ctx;
        struct Case {
            const char* rule;
            const char* threshold;
            size_t traces;
            double rounds;
            const char* why;
            double value;
        };
        for (const Case& c : {Case{"entropy", "0.4", 4, 1, "stopped_entropy", 0.0},
                              // 4:0 with 12 left, 8:0 with 8 left (a tie is
                              // possible), 12:0 with 4 left: safe.
                              Case{"leader", "0.4", 12, 3, "stopped_leader", 12.0},
                              Case{"entropy", "0", 16, 4, "stopped_budget", 16.0}}) {
            RunOutcome o = f.run("adaptive-sc",
                                 {{"rule", c.rule},
                                  {"entropy_threshold", c.threshold},
                                  {"round_size", "4"},
                                  {"max_samples", "16"}},
                                 ctx);
            QCOMPARE(o.status, std::string("ok"));
            QCOMPARE(o.answer, std::string("2"));
            const Node& root = ctx->node(0);
            QCOMPARE(root.children.size(), c.traces);
            QCOMPARE(score_of(root, "rounds"), c.rounds);
            QCOMPARE(score_of(root, c.why), c.value);
            for (size_t i = 0; i < root.children.size(); ++i)
                QCOMPARE(score_of(ctx->node(root.children[i]), "round"),
                         static_cast<double>(i / 4 + 1));
        }

        f.backend->rules = ScriptedBackend().rules;
        RunOutcome o = f.run("adaptive-sc",
                             {{"entropy_threshold", "0.7"},
                              {"round_size", "4"},
                              {"max_samples", "64"},
                              {"temperature", "1"}},
                             ctx);
        const Node& root = ctx->node(0);
        const int rounds = static_cast<int>(score_of(root, "rounds"));
        for (int r = 1; r <= rounds; ++r) {
            std::map<std::string, double> count;
            double total = 0;
            for (int ch : root.children)
                if (score_of(ctx->node(ch), "round") <= r) {
                    count[ctx->node(ch).answer]++;
                    ++total;
                }
            double h = 0;
            for (auto& [a, k] : count) h -= k / total * std::log(k / total);
            const double stored = score_of(root, "entropy_round_" + std::to_string(r));
            QVERIFY(std::fabs(stored - h) < 1e-9);
            if (r < rounds) QVERIFY(h >= 0.7);
        }
        if (root.scores.count("stopped_entropy"))
            QVERIFY(score_of(root, "stopped_entropy") < 0.7);
        else
            QCOMPARE(score_of(root, "stopped_budget"), 64.0);
        QCOMPARE(o.answer, std::string("1"));
    }

    // REBASE on the two-step world with a reward of 1 for steps that write
    // "2": a cold balance gives the whole budget to the "2\n" steps (split
    // as evenly as the largest remainders allow), a hot one one child each.
    void rebaseBalancesTheBudgetByReward() {
        register_writes_two();
        Fixture f;
        f.backend->rules = two_step_world();
        for (const char* t : {"0.01", "100"}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o = f.run("rebase",
                                 {{"width", "4"},
                                  {"balance_temperature", t},
                                  {"scorer", "writes-two"},
                                  {"temperature", "1"}},
                                 ctx, 0, two_step_task());
            QCOMPARE(o.status, std::string("ok"));
            const Node& root = ctx->node(0);
            QCOMPARE(root.children.size(), size_t(4));
            QCOMPARE(ctx->tree().size(), 1 + 4 + 4);  // the budget: 4 finished traces
            int twos = 0;
            for (int ch : root.children) twos += ctx->node(ch).text == "2\n";
            bool any_right = false;
            for (int ch : root.children) {
                const Node& n = ctx->node(ch);
                const size_t kids = n.children.size();
                if (std::string(t) == "100" || twos == 0)
                    QCOMPARE(kids, size_t(1));
                else if (n.text == "2\n")
                    QVERIFY(kids == size_t(4 / twos) || kids == size_t(4 / twos + 1));
                else {
                    QCOMPARE(kids, size_t(0));
                    QCOMPARE(n.status, NodeStatus::Pruned);
                }
                for (int leaf : n.children) {
                    QCOMPARE(ctx->node(leaf).status, NodeStatus::Terminal);
                    any_right |= ctx->node(leaf).answer == "2";
                }
            }
            QCOMPARE(o.answer == "2", any_right);  // reward-weighted vote
        }
    }

    // Power sampling. Where one token decides the whole step, the proposal
    // (temperature 1/alpha) is exactly the target p^alpha: every proposal's
    // MH ratio is 1 and all are accepted. In the two-decision world the
    // proposal (even odds twice) equals p, so with alpha 2 the log ratio is
    // log p(new) - log p(old), and the chain should visit "2\n" 2/3 of the
    // time (p^2: 1/16, 1/16, 1/4) where the proposal gives it 1/2.
    void powerSamplingAcceptsByTheMetropolisRatio() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("power-sampling",
                             {{"alpha", "4"}, {"mcmc_steps", "20"}, {"block_steps", "1"}}, ctx);
        QCOMPARE(o.status, std::string("ok"));
        const Node& root = ctx->node(0);
        QCOMPARE(root.children.size(), size_t(21));  // the first sample and 20 proposals
        QCOMPARE(score_of(root, "mh_proposals"), 20.0);
        QCOMPARE(score_of(root, "acceptance_rate"), 1.0);
        for (size_t i = 1; i < root.children.size(); ++i)
            QVERIFY(std::fabs(score_of(ctx->node(root.children[i]), "mh_log_ratio")) < 1e-4);
        QCOMPARE(o.answer, ctx->node(root.children.back()).answer);

        f.backend->rules = two_decision_world();
        const int steps = 600;
        o = f.run("power-sampling",
                  {{"alpha", "2"}, {"mcmc_steps", std::to_string(steps)}, {"block_steps", "1"}},
                  ctx);
        const Node& r2 = ctx->node(0);
        QCOMPARE(r2.children.size(), size_t(steps + 1));
        auto p = [](const std::string& text) {
            return text == "2\n" ? 0.5 : 0.25;  // "13\n", "1\n": 0.25
        };
        std::string state = ctx->node(r2.children[0]).text;
        int accepted = 0, at_two = 0;
        for (int i = 1; i <= steps; ++i) {
            const Node& n = ctx->node(r2.children[static_cast<size_t>(i)]);
            const double want = std::log(p(n.text)) - std::log(p(state));
            QVERIFY2(std::fabs(score_of(n, "mh_log_ratio") - want) < 1e-4,
                     qPrintable(QString("step %1: %2 vs %3")
                                    .arg(i)
                                    .arg(score_of(n, "mh_log_ratio"))
                                    .arg(want)));
            if (want >= 0) QCOMPARE(score_of(n, "mh_accepted"), 1.0);
            if (score_of(n, "mh_accepted") == 1.0) {
                ++accepted;
                state = n.text;
            } else {
                QVERIFY(n.status == NodeStatus::Terminal);  // answered: kept, not pruned
            }
            at_two += state == "2\n";
        }
        QCOMPARE(score_of(r2, "mh_accepted"), static_cast<double>(accepted));
        QVERIFY(accepted < steps);
        const double share = static_cast<double>(at_two) / steps;
        QVERIFY2(std::fabs(share - 2.0 / 3.0) < 0.08, qPrintable(QString::number(share)));
    }

    // Entropy branching: the first token (entropy of 0.5/0.3/0.2 = 1.03
    // nats) triggers the branch and is marked; alternatives repeating an
    // earlier sibling's text are merged into it (marked, pruned, unscored).
    void entropyBranchingMarksTriggersAndDuplicates() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("entropy-branching", {{"branches", "8"}, {"scorer", "logprob"}}, ctx);
        QCOMPARE(o.status, std::string("ok"));
        const Node& root = ctx->node(0);
        QCOMPARE(root.children.size(), size_t(8));
        const Node& chain = ctx->node(root.children[0]);
        QCOMPARE(chain.text, std::string("1\n"));  // greedy
        QCOMPARE(score_of(chain, "branch_token"), 0.0);
        const double h = -(0.5 * std::log(0.5) + 0.3 * std::log(0.3) + 0.2 * std::log(0.2));
        QVERIFY(std::fabs(score_of(chain, "branch_entropy") - h) < 1e-3);
        std::map<std::string, int> first;
        int duplicates = 0;
        for (int ch : root.children) {
            const Node& n = ctx->node(ch);
            if (!first.count(n.text)) {
                first[n.text] = ch;
                QVERIFY(!n.scores.count("duplicate_of"));
                QVERIFY(n.scores.count("logprob"));
                continue;
            }
            ++duplicates;
            QCOMPARE(score_of(n, "duplicate_of"), static_cast<double>(first[n.text]));
            QCOMPARE(n.status, NodeStatus::Pruned);
            QVERIFY(!n.scores.count("logprob"));
        }
        QVERIFY(duplicates >= 1);  // 8 draws of 3 answers
        QCOMPARE(duplicates, 8 - static_cast<int>(first.size()));
    }
};

QTEST_GUILESS_MAIN(TestStrategies)
#include "tst_strategies.moc"
