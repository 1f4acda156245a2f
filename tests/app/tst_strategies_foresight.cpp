// φ-Decoding and A*-decoding on scripted distributions, where the right tree
// is known (tests/common/scripted_search.h: next-token probabilities fixed by
// the previous token): candidates, rollouts and pruning marks, which step
// foresight chooses, the A* expansion order, budgets, and the same tree for
// the same seed.
#include <QtTest>
#include <set>
#include <tuple>

#include "scripted_search.h"

using namespace rs;
using namespace rs::test;

namespace {

// The foresight world, with three extra tokens: 8 "a\n" (a second step
// end), 9 "=1" and 10 "=2" (answers, read by answer_task()).
const std::vector<std::string> kExtra = {"a\n", "=1", "=2"};
constexpr TokenId kA = 8, kEq1 = 9, kEq2 = 10;
// First step "1\n" (p1) or "2a\n" (1 - p1). After "1\n" the future is
// unsure: "=1\n" or "=2\n" at even odds; after "2a\n" it is sure: "=2\n".
// So a rollout from "1\n" has mean token log-probability ln(0.5) / 2 (its
// two tokens "=x" and "\n"), one from "2a\n" 0; answer steps are terminal.
Rules foresight_world(double p1 = 0.5) {
    Rules r = {
        {4, {{7, 1.0}}},     {5, {{kA, 1.0}}},   {6, {{7, 1.0}}},   {7, {{kEq1, 0.5}, {kEq2, 0.5}}},
        {kA, {{kEq2, 1.0}}}, {kEq1, {{7, 1.0}}}, {kEq2, {{7, 1.0}}}};
    if (p1 >= 1.0)
        r[3] = {{4, 1.0}};
    else if (p1 <= 0.0)
        r[3] = {{5, 1.0}};
    else
        r[3] = {{4, p1}, {5, 1 - p1}};
    return r;
}
// Three first steps of different likelihood, none of them an answer:
// "1\n" 0.6, "2a\n" 0.3, "3\n" 0.1 (then as the foresight world).
Rules three_likelihoods_world() {
    Rules r = foresight_world();
    r[3] = {{4, 0.6}, {5, 0.3}, {6, 0.1}};
    return r;
}
Task answer_task() {
    Task t = q_task();
    t.answer_pattern = "=([12])";
    return t;
}

// A path reward that is a product over steps, as `prm`'s: each step that
// writes "1" halves it.
class HalvesOnes final : public Scorer {
  public:
    std::string id() const override { return "halves-ones"; }
    double score(SearchContext& ctx, int node) override {
        double v = 1;
        for (int p : ctx.tree().path(node))
            if (p != 0 && ctx.node(p).text.find('1') != std::string::npos) v *= 0.5;
        return v;
    }
};
void register_scorers() {
    register_test_scorer<WritesTwo>("writes-two", "Writes two", "tst_strategies_foresight");
    register_test_scorer<HalvesOnes>("halves-ones", "Halves ones", "tst_strategies_foresight");
}

bool has(const Node& n, const std::string& key) {
    return n.scores.count(key) > 0;
}
// The children of `id` that carry (or lack) a score key.
std::vector<int> kids_with(const SearchContext& ctx, int id, const std::string& key,
                           bool with = true) {
    std::vector<int> out;
    for (int c : ctx.node(id).children)
        if (has(ctx.node(c), key) == with) out.push_back(c);
    return out;
}
int64_t tree_tokens(const SearchContext& ctx) {
    int64_t n = 0;
    for (const Node& x : ctx.tree().nodes()) n += static_cast<int64_t>(x.tokens.size());
    return n;
}
// Mean token log-probability of a node's own tokens.
double step_lp(const Node& n) {
    return n.mean_logprob();
}
std::string error_of(Fixture& f, const std::string& strategy,
                     std::vector<std::pair<std::string, std::string>> sets) {
    try {
        std::unique_ptr<SearchContext> ctx;
        f.run(strategy, std::move(sets), ctx);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no error)";
}
// Every node's text, status and scores, for comparing two runs.
std::string dump(const SearchContext& ctx) {
    std::string s;
    for (const Node& n : ctx.tree().nodes()) {
        s += std::to_string(n.id) + "<" + std::to_string(n.parent) + " " + n.text + " " +
             status_name(n.status);
        for (const auto& [k, v] : n.scores) s += " " + k + "=" + std::to_string(v);
        s += "\n";
    }
    return s;
}

}  // namespace

class TestStrategiesForesight : public QObject {
    Q_OBJECT
  private slots:
    void initTestCase() { register_scorers(); }

    // Both load through the plugin manager with their metadata.
    void pluginsLoadWithTheirParameters() {
        Fixture f;
        for (const char* id : {"phi-decoding", "astar-decoding"}) {
            const auto* e = f.plugins.find(id);
            QVERIFY2(e, id);
            QVERIFY(!e->info.name.empty() && !e->info.paper.empty());
            QVERIFY(f.plugins.create(id) != nullptr);
            for (const ParamSpec& ps : e->info.params) QVERIFY2(!ps.help.empty(), ps.name.c_str());
        }
        for (const app::PluginError& err : f.plugins.errors())
            QVERIFY2(!err.path.contains("phi_decoding") && !err.path.contains("astar_decoding"),
                     qPrintable(err.message));
        const StrategyInfo& phi = f.plugins.find("phi-decoding")->info;
        QCOMPARE(phi.find("beams")->dflt.get<int>(), 4);
        QCOMPARE(phi.find("candidates")->dflt.get<int>(), 4);
        QCOMPARE(phi.find("agreement")->dflt.get<double>(), 0.7);
        const StrategyInfo& astar = f.plugins.find("astar-decoding")->info;
        QCOMPARE(astar.find("scorer")->type, std::string("scorer"));
        QCOMPARE(astar.find("scorer")->dflt.get<std::string>(), std::string("prm"));
        QCOMPARE(astar.find("token_budget")->dflt.get<int>(), 2048);
    }

    void badParametersAreClearErrors() {
        Fixture f;
        std::string e = error_of(f, "phi-decoding", {{"beams", "0"}});
        QVERIFY2(
            e.find("phi-decoding: parameter beams = 0 is outside [1, 32]") != std::string::npos,
            e.c_str());
        e = error_of(f, "phi-decoding", {{"agreement", "1.5"}});
        QVERIFY2(e.find("agreement") != std::string::npos &&
                     e.find("outside [0, 1]") != std::string::npos,
                 e.c_str());
        e = error_of(f, "phi-decoding", {{"width_pruning", "maybe"}});
        QVERIFY2(e.find("width_pruning = 'maybe' is not true/false") != std::string::npos,
                 e.c_str());
        e = error_of(f, "phi-decoding", {{"rollout", "2"}});
        QVERIFY2(e.find("unknown parameter 'rollout'") != std::string::npos &&
                     e.find("rollouts") != std::string::npos,
                 e.c_str());
        e = error_of(f, "astar-decoding", {{"k", "0"}});
        QVERIFY2(e.find("astar-decoding: parameter k = 0 is outside [1, 32]") != std::string::npos,
                 e.c_str());
        e = error_of(f, "astar-decoding", {{"cost", "tokens"}});
        QVERIFY2(e.find("cost = 'tokens' is not one of: logprob, steps, none") != std::string::npos,
                 e.c_str());
        e = error_of(f, "astar-decoding", {{"scorer", "no-such-scorer"}});
        QVERIFY2(e.find("is not a known scorer") != std::string::npos &&
                     e.find("prm") != std::string::npos,
                 e.c_str());
        e = error_of(f, "astar-decoding", {{"token_budget", "-1"}});
        QVERIFY2(e.find("token_budget = -1 is outside [0, 10000000]") != std::string::npos,
                 e.c_str());
    }

    // The shape of a φ-Decoding tree: M x N candidates from the prompt,
    // R one-step rollouts (marked) under each, M chosen, the rest pruned
    // with their rollouts kept (answered, terminal); then N candidates
    // under each chosen step, which are answers themselves (no rollouts).
    void phiTreeShape() {
        Fixture f(1 << 14, kExtra);
        f.backend->rules = foresight_world();
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("phi-decoding",
                             {{"beams", "2"},
                              {"candidates", "3"},
                              {"rollouts", "2"},
                              {"width_pruning", "false"},
                              {"depth_pruning", "false"},
                              {"temperature", "1"},
                              {"rollout_temperature", "1"}},
                             ctx, 0, answer_task());
        QCOMPARE(o.status, std::string("ok"));
        const Node& root = ctx->node(0);
        QCOMPARE(root.children.size(), size_t(6));  // M x N from the prompt
        int chosen = 0;
        for (int c : root.children) {
            const Node& n = ctx->node(c);
            QCOMPARE(score_of(n, "phi_step"), 1.0);
            QVERIFY(n.text == "1\n" || n.text == "2a\n");
            const std::vector<int> rollouts = kids_with(*ctx, c, "rollout");
            QCOMPARE(rollouts.size(), size_t(2));
            for (int r : rollouts) {
                const Node& rn = ctx->node(r);
                QCOMPARE(rn.status, NodeStatus::Terminal);  // "=1\n" / "=2\n": answered
                QVERIFY(rn.children.empty());
                const double want = n.text == "1\n" ? std::log(0.5) / 2 : 0.0;
                QVERIFY(std::fabs(score_of(rn, "rollout_logprob") - want) < 1e-4);
                if (n.text == "2a\n") QCOMPARE(rn.answer, std::string("2"));
            }
            const std::vector<int> next = kids_with(*ctx, c, "rollout", false);
            if (score_of(n, "selected") == 1.0) {
                ++chosen;
                QCOMPARE(n.status, NodeStatus::Expanded);
                QCOMPARE(next.size(), size_t(3));  // N candidates at step 2
                for (int x : next) {
                    QCOMPARE(score_of(ctx->node(x), "phi_step"), 2.0);
                    QCOMPARE(ctx->node(x).status, NodeStatus::Terminal);
                    QVERIFY(kids_with(*ctx, x, "rollout").empty());
                }
            } else {
                QCOMPARE(score_of(n, "selected"), 0.0);
                QCOMPARE(n.status, NodeStatus::Pruned);
                QVERIFY(next.empty());
            }
        }
        QCOMPARE(chosen, 2);
        QCOMPARE(ctx->tree().size(), 1 + 6 + 12 + 6);
        int finals = 0, chosen2 = 0;
        for (const Node& n : ctx->tree().nodes()) {
            finals += has(n, "final_trace");
            chosen2 += score_of(n, "phi_step") == 2.0 && score_of(n, "selected") == 1.0;
        }
        QCOMPARE(chosen2, 2);
        QCOMPARE(finals, 2);  // the two chosen answer steps
        QCOMPARE(score_of(root, "foresight_steps_run"), 2.0);
        QVERIFY(!has(root, "stopped_at_agreement"));
    }

    // The step values, recomputed from the tree: advantage = the rollouts'
    // mean log-probability (minus 0 at the prompt), alignment = the mean
    // share of its rollouts' answer cluster, value = (1 - w) softmax(adv /
    // tau) + w alignment / sum; and with the advantage alone at a low tau
    // the sure step "2a\n" is chosen, with the agreement alone too.
    void phiValuesAndTheChosenStep() {
        Fixture f(1 << 14, kExtra);
        f.backend->rules = foresight_world();
        for (const char* w : {"0", "0.5", "1"}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o = f.run("phi-decoding",
                                 {{"beams", "1"},
                                  {"candidates", "8"},
                                  {"rollouts", "2"},
                                  {"alignment_weight", w},
                                  {"selection_temperature", "0.01"},
                                  {"width_pruning", "false"},
                                  {"depth_pruning", "false"},
                                  {"temperature", "1"},
                                  {"rollout_temperature", "1"}},
                                 ctx, 0, answer_task());
            QCOMPARE(o.status, std::string("ok"));
            const auto& cands = ctx->node(0).children;
            QCOMPARE(cands.size(), size_t(8));
            std::map<std::string, int> cluster;
            int pool = 0, sure = 0;
            for (int c : cands) {
                sure += ctx->node(c).text == "2a\n";
                for (int r : kids_with(*ctx, c, "rollout")) {
                    cluster[ctx->node(r).answer]++;
                    ++pool;
                }
            }
            QCOMPARE(pool, 16);
            QVERIFY2(sure >= 1 && sure < 8, "seed 42 draws both first steps");
            std::vector<double> adv, align;
            for (int c : cands) {
                double fsum = 0, asum = 0;
                for (int r : kids_with(*ctx, c, "rollout")) {
                    fsum += step_lp(ctx->node(r));
                    asum += static_cast<double>(cluster[ctx->node(r).answer]) / pool;
                }
                adv.push_back(fsum / 2);
                align.push_back(asum / 2);
                QVERIFY(std::fabs(score_of(ctx->node(c), "advantage") - adv.back()) < 1e-9);
                QVERIFY(std::fabs(score_of(ctx->node(c), "alignment") - align.back()) < 1e-9);
            }
            const double wt = std::stod(w), top = *std::max_element(adv.begin(), adv.end());
            double esum = 0, asum = 0;
            for (size_t i = 0; i < adv.size(); ++i) {
                esum += std::exp((adv[i] - top) / 0.01);
                asum += align[i];
            }
            int selected = 0;
            for (size_t i = 0; i < cands.size(); ++i) {
                const Node& n = ctx->node(cands[i]);
                const double v =
                    (1 - wt) * std::exp((adv[i] - top) / 0.01) / esum + wt * align[i] / asum;
                QVERIFY(std::fabs(score_of(n, "phi_value") - v) < 1e-9);
                if (score_of(n, "selected") == 1.0) {
                    ++selected;
                    // The advantage alone (tau 0.01: e^-35 against the sure
                    // step) and the agreement alone both favour "2a\n"; the
                    // agreement by its share, so only where it dominates.
                    if (wt == 0) QCOMPARE(n.text, std::string("2a\n"));
                }
            }
            QCOMPARE(selected, 1);
            if (wt == 0) QCOMPARE(o.answer, std::string("2"));
        }
    }

    // With the sure step unlikely to be sampled but certain to be chosen
    // when it is: foresight looks past the step's own probability.
    void phiForesightBeatsTheStepsOwnLikelihood() {
        Fixture f(1 << 14, kExtra);
        f.backend->rules = foresight_world(0.8);  // "1\n" is the likelier first step
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("phi-decoding",
                             {{"beams", "1"},
                              {"candidates", "12"},
                              {"alignment_weight", "0"},
                              {"selection_temperature", "0.01"},
                              {"width_pruning", "false"},
                              {"temperature", "1"}},
                             ctx, 0, answer_task());
        int sure = 0;
        int chosen = -1;
        for (int c : ctx->node(0).children) {
            sure += ctx->node(c).text == "2a\n";
            if (score_of(ctx->node(c), "selected") == 1.0) chosen = c;
        }
        QVERIFY2(sure >= 1, "seed 42 draws the sure step once in 12");
        QVERIFY(chosen >= 0);
        QCOMPARE(ctx->node(chosen).text, std::string("2a\n"));
        QVERIFY(step_lp(ctx->node(chosen)) < std::log(0.8) / 2);  // its own likelihood is lower
        QCOMPARE(o.answer, std::string("2"));
    }

    // In-width pruning: candidates below mean - sigma * std (of the step
    // likelihoods) get no rollout and are pruned; with beams as many as the
    // candidates every pruned one is drawn back (marked) instead.
    void phiWidthPruning() {
        Fixture f(1 << 14, kExtra);
        f.backend->rules = three_likelihoods_world();
        for (const char* beams : {"1", "12"}) {
            const bool all_back = std::string(beams) == "12";
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o = f.run("phi-decoding",
                                 {{"beams", beams},
                                  {"candidates", all_back ? "1" : "12"},
                                  {"rollouts", "1"},
                                  {"max_steps", "1"},
                                  {"temperature", "1"}},
                                 ctx, 0, answer_task());
            QCOMPARE(o.status, std::string("ok"));
            const auto& cands = ctx->node(0).children;
            QCOMPARE(cands.size(), size_t(12));
            double mean = 0, var = 0;
            for (int c : cands) mean += step_lp(ctx->node(c)) / 12;
            for (int c : cands) var += std::pow(step_lp(ctx->node(c)) - mean, 2) / 12;
            const double floor = mean - std::sqrt(var);
            int low = 0;
            for (int c : cands) {
                const Node& n = ctx->node(c);
                QVERIFY(std::fabs(score_of(n, "step_logprob") - step_lp(n)) < 1e-12);
                const bool below = step_lp(n) < floor - 1e-9;
                low += below;
                const size_t rollouts = kids_with(*ctx, c, "rollout").size();
                if (below && !all_back) {
                    QCOMPARE(score_of(n, "width_pruned"), 1.0);
                    QCOMPARE(n.status, NodeStatus::Pruned);
                    QCOMPARE(rollouts, size_t(0));
                    QVERIFY(!has(n, "phi_value"));
                } else {
                    QVERIFY(!has(n, "width_pruned"));
                    QCOMPARE(has(n, "width_readded"), below);
                    QCOMPARE(rollouts, size_t(1));
                    QVERIFY(has(n, "phi_value"));
                }
            }
            QVERIFY2(low >= 1, "seed 42 draws the unlikely \"3\\n\" step");
        }
    }

    // In-depth pruning: where every rollout agrees the search stops after
    // min_steps, and the chosen steps' rollouts are the solutions; it stops
    // exactly when the step's agreement exceeds the threshold.
    void phiDepthPruning() {
        Fixture f(1 << 14, kExtra);
        f.backend->rules = foresight_world(0.0);  // always "2a\n", then "=2\n"
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("phi-decoding", {{"min_steps", "1"}}, ctx, 0, answer_task());
        QCOMPARE(o.status, std::string("ok"));
        const Node& root = ctx->node(0);
        QCOMPARE(score_of(root, "agreement_step_1"), 1.0);
        QCOMPARE(score_of(root, "stopped_at_agreement"), 1.0);
        int finals = 0;
        for (const Node& n : ctx->tree().nodes()) {
            QVERIFY(score_of(n, "phi_step") != 2.0);  // no second step
            if (has(n, "final_trace")) {
                ++finals;
                QCOMPARE(score_of(n, "rollout"), 1.0);
                QCOMPARE(score_of(ctx->node(n.parent), "selected"), 1.0);
            }
        }
        QCOMPARE(finals, 4);  // one rollout of each of the 4 chosen steps
        QCOMPARE(o.answer, std::string("2"));

        // min_steps 2: the second step is chosen too (its candidates are answers).
        o = f.run("phi-decoding", {{"min_steps", "2"}}, ctx, 0, answer_task());
        QCOMPARE(score_of(ctx->node(0), "stopped_at_agreement"), 2.0);
        // Depth pruning off: no early stop is recorded.
        o = f.run("phi-decoding", {{"min_steps", "1"}, {"depth_pruning", "false"}}, ctx, 0,
                  answer_task());
        QVERIFY(!has(ctx->node(0), "stopped_at_agreement"));

        // Unsure rollouts: stopped at step 1 exactly when the largest answer
        // cluster holds more than the threshold.
        f.backend->rules = foresight_world(1.0);  // always "1\n", then "=1\n" or "=2\n"
        for (const char* thr : {"0.3", "0.7", "0.99"}) {
            o = f.run("phi-decoding",
                      {{"min_steps", "1"},
                       {"agreement", thr},
                       {"rollouts", "2"},
                       {"width_pruning", "false"},
                       {"rollout_temperature", "1"}},
                      ctx, 0, answer_task());
            std::map<std::string, int> cluster;
            int pool = 0;
            for (int c : ctx->node(0).children)
                for (int r : kids_with(*ctx, c, "rollout")) {
                    cluster[ctx->node(r).answer]++;
                    ++pool;
                }
            QCOMPARE(pool, 32);
            int largest = 0;
            for (auto& [a, k] : cluster) largest = std::max(largest, k);
            const double share = static_cast<double>(largest) / pool;
            QVERIFY(std::fabs(score_of(ctx->node(0), "agreement_step_1") - share) < 1e-12);
            QCOMPARE(has(ctx->node(0), "stopped_at_agreement"), share > std::stod(thr));
        }
    }

    // The run's budget ends φ-Decoding exactly; the same seed grows the
    // same tree.
    void phiBudgetAndSeed() {
        Fixture f(1 << 14, kExtra), g(1 << 14, kExtra);
        f.backend->rules = g.backend->rules = foresight_world();
        for (int64_t budget : {int64_t(5), int64_t(37)}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o = f.run("phi-decoding", {{"rollouts", "2"}}, ctx, budget, answer_task());
            QCOMPARE(o.status, std::string("budget"));
            QCOMPARE(o.metrics.tokens_generated, budget);
            QCOMPARE(tree_tokens(*ctx), budget);
        }
        std::unique_ptr<SearchContext> a, b;
        f.run("phi-decoding", {{"rollouts", "2"}, {"temperature", "1"}}, a, 0, answer_task());
        g.run("phi-decoding", {{"rollouts", "2"}, {"temperature", "1"}}, b, 0, answer_task());
        QVERIFY(a->tree().size() > 20);
        QCOMPARE(dump(*a), dump(*b));
    }

    // A* expansion order, replayed from the tree: each pop is the open
    // trace of least (f, -depth, id) among those pushed before it.
    void astarPopsInPriorityOrder() {
        Fixture f;
        for (const char* cost : {"logprob", "steps", "none"})
            for (const char* w : {"0.02", "1", "100"}) {
                f.backend->rules = two_step_world(0.7);
                std::unique_ptr<SearchContext> ctx;
                RunOutcome o = f.run("astar-decoding",
                                     {{"k", "3"},
                                      {"scorer", "writes-two"},
                                      {"heuristic", "path"},
                                      {"cost", cost},
                                      {"cost_weight", w},
                                      {"solutions", "3"},
                                      {"temperature", "1"}},
                                     ctx, 0, two_step_task());
                QCOMPARE(o.status, std::string("ok"));
                const ReasoningTree& t = ctx->tree();
                std::map<int, int> pop_of;  // pop order -> node
                for (const Node& n : t.nodes()) {
                    if (!has(n, "astar_pop")) continue;
                    pop_of[static_cast<int>(score_of(n, "astar_pop"))] = n.id;
                    if (n.id == 0) continue;
                    // g: the path's cost; h: 1 - the reward; f = w g + h.
                    const Node& parent = t.at(n.parent);
                    double step = 0;
                    if (std::string(cost) == "logprob")
                        for (const auto& tok : n.tokens) step -= tok.logprob;
                    if (std::string(cost) == "steps") step = 1;
                    const double g = (n.parent == 0 ? 0 : score_of(parent, "astar_g")) + step;
                    QVERIFY(std::fabs(score_of(n, "astar_g") - g) < 1e-9);
                    QCOMPARE(score_of(n, "astar_h"),
                             n.text.find('2') != std::string::npos ? 0.0 : 1.0);
                    QVERIFY(std::fabs(score_of(n, "astar_f") -
                                      (std::stod(w) * g + score_of(n, "astar_h"))) < 1e-9);
                }
                QCOMPARE(pop_of.begin()->second, 0);  // the prompt first
                for (auto [i, x] : pop_of) {
                    if (i == 1) continue;
                    const auto key = [&](int id) {
                        const Node& n = t.at(id);
                        return std::make_tuple(score_of(n, "astar_f"), -n.depth, id);
                    };
                    for (const Node& n : t.nodes()) {
                        if (!has(n, "astar_f") || n.id == 0) continue;
                        const int pushed = static_cast<int>(score_of(t.at(n.parent), "astar_pop"));
                        const double popped = score_of(n, "astar_pop");
                        const bool open_then = pushed < i && (std::isnan(popped) || popped >= i);
                        if (open_then)
                            QVERIFY2(key(x) <= key(n.id), qPrintable(QString("pop %1").arg(i)));
                    }
                    // Only popped traces have children.
                }
                for (const Node& n : t.nodes())
                    if (!n.children.empty()) QVERIFY(has(n, "astar_pop"));
                int solutions = 0;
                for (const Node& n : t.nodes()) solutions += has(n, "astar_solution");
                QCOMPARE(solutions, 3);
            }
    }

    // The priority decides: by the reward alone (cost none) the first pop
    // after the prompt is a "2\n" step, and with the deepest of equal f
    // first the first solution is a "32\n" below it; with a heavy
    // log-probability cost the likelier "1\n" steps go first.
    void astarFollowsTheReward() {
        Fixture f;
        f.backend->rules = two_step_world(0.7);
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o =
            f.run("astar-decoding",
                  {{"k", "4"}, {"scorer", "writes-two"}, {"cost", "none"}, {"temperature", "1"}},
                  ctx, 0, two_step_task());
        QCOMPARE(o.status, std::string("ok"));
        const auto& first = ctx->node(0).children;
        QCOMPARE(first.size(), size_t(4));
        int two = -1;
        for (int c : first)
            if (ctx->node(c).text == "2\n") {
                two = c;
                break;
            }
        QVERIFY2(two >= 0, "seed 42 draws a \"2\\n\" step among 4");
        QCOMPARE(score_of(ctx->node(two), "astar_pop"), 2.0);
        int sol = -1;
        for (int c : ctx->node(two).children)
            if (ctx->node(c).text == "32\n" && sol < 0) sol = c;
        QVERIFY2(sol >= 0, "seed 42 draws a \"32\\n\" step among 4");
        QCOMPARE(score_of(ctx->node(sol), "astar_pop"), 3.0);
        QCOMPARE(score_of(ctx->node(sol), "astar_solution"), 1.0);
        QCOMPARE(ctx->tree().size(), 1 + 4 + 4);  // stopped at the first solution
        QCOMPARE(o.answer, std::string("2"));
        QCOMPARE(score_of(ctx->node(0), "astar_pops"), 3.0);

        o = f.run("astar-decoding",
                  {{"k", "4"},
                   {"scorer", "writes-two"},
                   {"cost", "logprob"},
                   {"cost_weight", "100"},
                   {"temperature", "1"}},
                  ctx, 0, two_step_task());
        int second = -1;
        for (int c : ctx->node(0).children)
            if (score_of(ctx->node(c), "astar_pop") == 2.0) second = c;
        QVERIFY(second >= 0);
        QCOMPARE(ctx->node(second).text, std::string("1\n"));  // -ln 0.7 < -ln 0.3
    }

    // The strategy's token budget: no expansion starts once it is spent;
    // the run ends ok, with the best open trace finished (complete-best) or
    // no answer (stop). The run's own budget is exact.
    void astarTokenBudget() {
        Fixture f;
        f.backend->rules = two_step_world(0.7);
        std::unique_ptr<SearchContext> ctx;
        // 4 steps of 2 tokens from the prompt (8 < 10), then 4 of 3 ("3x\n"): 20.
        RunOutcome o = f.run("astar-decoding",
                             {{"k", "4"},
                              {"scorer", "writes-two"},
                              {"cost", "logprob"},
                              {"cost_weight", "100"},
                              {"token_budget", "10"},
                              {"on_budget", "stop"},
                              {"temperature", "1"}},
                             ctx, 0, two_step_task());
        QCOMPARE(o.status, std::string("ok"));
        QCOMPARE(o.metrics.tokens_generated, int64_t(8 + 12));
        QCOMPARE(score_of(ctx->node(0), "token_budget_spent"), 1.0);
        QCOMPARE(score_of(ctx->node(0), "astar_pops"), 2.0);
        QVERIFY(o.answer.empty());
        // By the reward alone, a budget of 8 stops after the prompt's 4
        // steps; the best of them (a "2\n" when one was drawn) is finished.
        o = f.run("astar-decoding",
                  {{"k", "4"},
                   {"scorer", "writes-two"},
                   {"cost", "none"},
                   {"token_budget", "8"},
                   {"temperature", "1"}},
                  ctx, 0, two_step_task());
        QCOMPARE(o.status, std::string("ok"));
        QCOMPARE(score_of(ctx->node(0), "astar_pops"), 1.0);
        QCOMPARE(o.metrics.tokens_generated, int64_t(8 + 3));
        QVERIFY(!o.answer.empty());
        const Node& done = ctx->node(ctx->chosen_node());
        QCOMPARE(score_of(done, "astar_completed"), 1.0);
        int first_two = -1;  // the first "2\n" of the prompt's steps: least f, then id
        for (int c : ctx->node(0).children)
            if (ctx->node(c).text == "2\n" && first_two < 0) first_two = c;
        QVERIFY2(first_two >= 0, "seed 42 draws a \"2\\n\" step among 4");
        QCOMPARE(done.parent, first_two);

        for (int64_t budget : {int64_t(5), int64_t(11)}) {
            o = f.run("astar-decoding", {{"k", "4"}, {"scorer", "writes-two"}}, ctx, budget,
                      two_step_task());
            QCOMPARE(o.status, std::string("budget"));
            QCOMPARE(o.metrics.tokens_generated, budget);
            QCOMPARE(tree_tokens(*ctx), budget);
        }
    }

    // h from a product reward: the newest step's own (the path's value over
    // its parent's: 1/2 for a step writing "1", else 1) or the whole
    // path's (halved by every "1" on it). Repeated children are merged into
    // the first sibling: pruned, marked, neither scored nor pushed.
    void astarHeuristicAndMergedRepeats() {
        Fixture f;
        f.backend->rules = two_step_world(0.7);
        for (const char* heuristic : {"last-step", "path"}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o = f.run("astar-decoding",
                                 {{"k", "4"},
                                  {"scorer", "halves-ones"},
                                  {"heuristic", heuristic},
                                  {"cost", "none"},
                                  {"solutions", "2"},
                                  {"temperature", "1"}},
                                 ctx, 0, two_step_task());
            QCOMPARE(o.status, std::string("ok"));
            int merged = 0;
            for (const Node& n : ctx->tree().nodes()) {
                if (n.id == 0) continue;
                int first = -1;
                for (int sib : ctx->node(n.parent).children)
                    if (ctx->node(sib).text == n.text) {
                        first = sib;
                        break;
                    }
                if (first != n.id) {
                    ++merged;
                    QCOMPARE(score_of(n, "duplicate_of"), static_cast<double>(first));
                    QCOMPARE(n.status, NodeStatus::Pruned);
                    QVERIFY(!has(n, "astar_f") && !has(n, "halves-ones"));
                    continue;
                }
                QVERIFY(!has(n, "duplicate_of"));
                int ones_on_path = 0;
                for (int p : ctx->tree().path(n.id))
                    ones_on_path += p != 0 && ctx->node(p).text.find('1') != std::string::npos;
                const bool one = n.text.find('1') != std::string::npos;
                const double want = std::string(heuristic) == "path"
                                        ? 1 - std::pow(0.5, ones_on_path)
                                        : (one ? 0.5 : 0.0);
                QVERIFY2(std::fabs(score_of(n, "astar_h") - want) < 1e-12, n.text.c_str());
            }
            QVERIFY2(merged >= 1, "seed 42 samples a step twice among 4");
        }
        // Merging off: every child is scored and pushed.
        std::unique_ptr<SearchContext> ctx;
        f.run("astar-decoding",
              {{"k", "4"},
               {"scorer", "halves-ones"},
               {"merge_duplicates", "false"},
               {"temperature", "1"}},
              ctx, 0, two_step_task());
        for (const Node& n : ctx->tree().nodes())
            if (n.id != 0) QVERIFY(has(n, "astar_f") && !has(n, "duplicate_of"));
    }

    void astarSameSeedSameTree() {
        Fixture f, g;
        f.backend->rules = g.backend->rules = two_step_world(0.7);
        std::unique_ptr<SearchContext> a, b;
        const std::vector<std::pair<std::string, std::string>> sets = {
            {"k", "3"}, {"scorer", "writes-two"}, {"solutions", "4"}, {"temperature", "1"}};
        f.run("astar-decoding", sets, a, 0, two_step_task());
        g.run("astar-decoding", sets, b, 0, two_step_task());
        QVERIFY(a->tree().size() > 6);
        QCOMPARE(dump(*a), dump(*b));
    }
};

QTEST_GUILESS_MAIN(TestStrategiesForesight)
#include "tst_strategies_foresight.moc"
