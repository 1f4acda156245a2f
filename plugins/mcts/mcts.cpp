// MCTS with PUCT selection over reasoning steps.
#include <QObject>
#include <algorithm>
#include <cmath>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

class Mcts final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int iterations = p["iterations"].get<int>(), expansions = p["expansions"].get<int>();
        const double c = p["c_puct"].get<double>();
        const bool rollout = p["value"] == "rollout";
        auto scorer = rs::make_scorer(p["scorer"].get<std::string>());
        std::vector<int> terminals;
        for (int it = 0; it < iterations && !ctx.should_stop(); ++it) {
            // Selection: descend by PUCT; the prior is the step's mean token probability.
            int node = ctx.root();
            while (!ctx.node(node).children.empty()) {
                const auto& parent = ctx.node(node);
                double best = -1e300, prior_sum = 0;
                int pick = -1;
                for (int ch : parent.children)
                    if (ctx.node(ch).status != rs::NodeStatus::Pruned)
                        prior_sum += std::exp(ctx.node(ch).mean_logprob());
                for (int ch : parent.children) {
                    const auto& n = ctx.node(ch);
                    if (n.status == rs::NodeStatus::Pruned) continue;
                    double prior = prior_sum > 0 ? std::exp(n.mean_logprob()) / prior_sum : 1.0;
                    double u = n.value() + c * prior *
                                               std::sqrt(static_cast<double>(parent.visits) + 1) /
                                               (1 + n.visits);
                    if (u > best) {
                        best = u;
                        pick = ch;
                    }
                }
                if (pick < 0) break;
                node = pick;
                if (ctx.is_terminal(node)) break;
            }
            if (ctx.is_terminal(node) || !ctx.can_expand(node)) {
                double v = ctx.node(node).scores.count(scorer->id())
                               ? ctx.node(node).scores.at(scorer->id())
                               : 0.0;
                ctx.backpropagate(node, v);
                continue;
            }
            // Expansion and evaluation.
            for (int ch : ctx.expand(node, expansions)) {
                double v;
                if (rollout && !ctx.is_terminal(ch)) {
                    int leaf = ctx.complete({ch})[0];
                    v = ctx.score(leaf, *scorer);
                    if (ctx.is_terminal(leaf)) terminals.push_back(leaf);
                    ctx.set_score(ch, scorer->id(), v);
                } else {
                    v = ctx.score(ch, *scorer);
                }
                if (ctx.is_terminal(ch)) terminals.push_back(ch);
                ctx.backpropagate(ch, v);
            }
        }
        // Follow the most visited children from the root and finish that line,
        // so the search always yields an answer even when no terminal step
        // was reached within the iterations.
        int node = ctx.root();
        while (!ctx.node(node).children.empty()) {
            int best = -1;
            for (int ch : ctx.node(node).children)
                if (ctx.node(ch).status != rs::NodeStatus::Pruned &&
                    (best < 0 || ctx.node(ch).visits > ctx.node(best).visits ||
                     (ctx.node(ch).visits == ctx.node(best).visits &&
                      ctx.node(ch).value() > ctx.node(best).value())))
                    best = ch;
            if (best < 0) break;
            node = best;
        }
        if (!ctx.is_terminal(node)) {
            int leaf = ctx.complete({node})[0];
            if (ctx.is_terminal(leaf)) {
                ctx.backpropagate(leaf, ctx.score(leaf, *scorer));
                terminals.push_back(leaf);
            }
        } else if (std::find(terminals.begin(), terminals.end(), node) == terminals.end()) {
            terminals.push_back(node);
        }
        // The answer with the most value mass among terminal nodes.
        for (int t : terminals)
            ctx.set_score(t, "mcts_value", ctx.node(t).value() * std::max(1, ctx.node(t).visits));
        auto votes = rs::vote(ctx, terminals, "mcts_value");
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }
};

}  // namespace

class MctsPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "mcts.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override { return std::make_unique<Mcts>(); }
};

#include "mcts.moc"
