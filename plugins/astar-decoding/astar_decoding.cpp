// A*-decoding (Chatziveroglou 2025, "A*-Decoding: Token-Efficient Inference
// Scaling"): best-first search over partial traces. The open list holds
// partial traces by priority f = cost_weight * g + h, where g is the path's
// cost so far (its tokens' negative log-probability, or its step count) and
// h = 1 - r, the paper's heuristic from a process reward model. The best
// open trace is popped and expanded into k children in one batch; each child
// is scored and pushed. A popped finished trace is a solution: the search
// stops at the first `solutions` of them, or when the token budget is spent,
// and aggregates the solutions found.
//
// r is by default the reward of the newest step, as a PRM scores a partial
// trace by its last step. This project's `prm` scores a path as the product
// of its steps' checks, so the step's own is the path's value over its
// parent's. With r the whole path's product (heuristic=path), f can only
// rise along a path (each step multiplies by a value <= 1 and adds cost), so
// f of a partial trace bounds its completions' from below and the first
// solution popped is the best of the sampled tree, at the price of
// expanding every shallower trace of lower f first: on the bundled model
// that is mostly breadth-first and spends the token budget (measured in
// resources/models/README.md).
//
// A confident model samples the same step several times; such children are
// one partial trace (A*'s duplicate detection), merged into the first.
#include <QObject>
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

// An open trace. Ties in f go to the deeper trace (nearer a solution), then
// to the one pushed first.
struct Open {
    double f;
    int depth, id;
    bool operator<(const Open& o) const {
        return std::tie(f, o.depth, id) < std::tie(o.f, depth, o.id);
    }
};

class AstarDecoding final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int k = p["k"].get<int>(), wanted = p["solutions"].get<int>();
        const double w = p["cost_weight"].get<double>();
        const std::string cost = p["cost"].get<std::string>();
        const bool last_step = p["heuristic"] == "last-step",
                   merge = p["merge_duplicates"].get<bool>();
        const int64_t budget = p["token_budget"].get<int64_t>();
        auto scorer = rs::make_scorer(p["scorer"].get<std::string>());

        std::map<int, double> g = {{ctx.root(), 0.0}}, reward = {{ctx.root(), 1.0}};
        std::set<Open> open = {{0.0, 0, ctx.root()}};
        ctx.set_score(ctx.root(), "astar_f", 0.0);
        std::vector<int> solutions;
        int pops = 0;
        bool budget_spent = false;
        while (!open.empty() && !ctx.should_stop()) {
            if (budget > 0 && ctx.metrics().tokens_generated >= budget) {
                budget_spent = true;
                break;
            }
            const Open best = *open.begin();
            open.erase(open.begin());
            const int x = best.id;
            ctx.set_score(x, "astar_pop", ++pops);
            if (ctx.is_terminal(x)) {
                if (ctx.node(x).answer.empty()) {
                    ctx.set_score(x, "astar_dead_end", 1);  // ended without an answer
                    continue;
                }
                solutions.push_back(x);
                ctx.set_score(x, "astar_solution", static_cast<double>(solutions.size()));
                if (static_cast<int>(solutions.size()) >= wanted) break;
                continue;
            }
            if (!ctx.can_expand(x)) continue;
            std::map<std::string, int> seen;  // a step's text -> the first child that wrote it
            for (int c : ctx.expand(x, k)) {
                const rs::Node& n = ctx.node(c);
                // A child that repeats a sibling is the same partial trace:
                // merged into the first (marked and pruned, not scored).
                auto [first, fresh] = seen.emplace(n.text, c);
                if (merge && !fresh) {
                    ctx.set_score(c, "duplicate_of", first->second);
                    ctx.prune(c);
                    continue;
                }
                double step = 0;
                if (cost == "logprob")
                    for (const auto& t : n.tokens) step -= t.logprob;
                else if (cost == "steps")
                    step = 1;
                g[c] = g.at(x) + step;
                reward[c] = ctx.score(c, *scorer);
                double r = reward[c];
                if (last_step && reward.at(x) > 0) r = std::min(1.0, r / reward.at(x));
                const double h = 1.0 - r;
                const double f = w * g[c] + h;
                ctx.set_score(c, "astar_g", g[c]);
                ctx.set_score(c, "astar_h", h);
                ctx.set_score(c, "astar_f", f);
                open.insert({f, n.depth, c});
            }
        }
        if (budget_spent) ctx.set_score(ctx.root(), "token_budget_spent", 1);
        ctx.set_score(ctx.root(), "astar_pops", pops);
        ctx.set_score(ctx.root(), "open_left", static_cast<double>(open.size()));

        // No solution within the budget: the best open trace is finished
        // (beyond the strategy's budget, within the run's), so the search
        // still answers.
        if (solutions.empty() && !open.empty() && p["on_budget"] == "complete-best" &&
            !ctx.should_stop()) {
            const int x = open.begin()->id;
            const int leaf = ctx.complete({x})[0];
            if (!ctx.node(leaf).answer.empty()) {
                ctx.score(leaf, *scorer);
                ctx.set_score(leaf, "astar_completed", 1);
                solutions.push_back(leaf);
            }
        }
        if (solutions.empty()) return;
        const std::string agg = p["aggregate"].get<std::string>();
        if (agg == "first") {
            ctx.choose_answer(ctx.node(solutions[0]).answer, solutions[0]);
            return;
        }
        auto votes = rs::vote(ctx, solutions, agg == "weighted-vote" ? scorer->id() : "");
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }
};

}  // namespace

class AstarDecodingPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "astar_decoding.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<AstarDecoding>();
    }
};

#include "astar_decoding.moc"
