// Latent-trajectory selection (after Vilas et al. 2025, "Tracing the Traces"):
// N traces grow in parallel one step at a time; after each step, each live
// trace's latent signal (reasonscope/step_signals.h: the change of its
// step-end hidden states so far) ranks it, and from the warm-up on the
// worst-ranked fraction stops there (pruned), so only promising traces spend
// tokens. The answer is the survivors' vote or the best-signal trace's.
#include <QObject>
#include <algorithm>
#include <cmath>
#include <limits>

#include "reasonscope/error.h"
#include "reasonscope/search.h"
#include "reasonscope/step_signals.h"
#include "reasonscope/strategy_plugin.h"

namespace {

// The ranking value of a trace whose latest step is `node` (higher is
// better); NaN when its signal is absent (fewer than two step states).
double latent_signal(const rs::SearchContext& ctx, int node, const std::string& signal) {
    const rs::StepSignals s = rs::step_signals(ctx.tree(), node);
    if (signal == "aligned") return s.latent_aligned;
    if (signal == "net") return s.latent_net;
    if (signal == "neg_cumulative") return -s.latent_cumulative;
    // straightness: net / cumulative (1 = a straight line)
    return s.latent_cumulative > 0 ? s.latent_net / s.latent_cumulative
                                   : std::numeric_limits<double>::quiet_NaN();
}

class LatentSelect final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        if (ctx.config().tap_layers.empty())
            throw rs::Error(
                "latent-select needs hidden-state taps (set tap_layers, e.g. --taps -1)");
        const int n = p["n"].get<int>();
        const std::string signal = p["signal"].get<std::string>();
        const int warmup = p["warmup"].get<int>();
        const double fraction = p["prune_fraction"].get<double>();
        const size_t keep = static_cast<size_t>(p["keep"].get<int>());

        std::vector<int> cur = ctx.expand(ctx.root(), n);  // each trace's latest step
        std::vector<int> finished;
        int step = 1;
        while (!cur.empty()) {
            // Every new step shows its trace's signal; finished traces leave
            // the race, the others are ranked (an absent signal last).
            std::vector<std::pair<double, int>> ranked;  // (signal, node), best first
            for (int c : cur) {
                if (ctx.node(c).status == rs::NodeStatus::Pruned) continue;
                const double v = latent_signal(ctx, c, signal);
                if (std::isfinite(v)) ctx.set_score(c, "latent_" + signal, v);
                if (ctx.is_terminal(c))
                    finished.push_back(c);
                else
                    ranked.push_back(
                        {std::isfinite(v) ? v : -std::numeric_limits<double>::infinity(), c});
            }
            std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
                return a.first > b.first || (a.first == b.first && a.second < b.second);
            });
            if (step >= warmup && fraction > 0 && ranked.size() > keep) {
                size_t k =
                    static_cast<size_t>(std::floor(fraction * static_cast<double>(ranked.size())));
                k = std::clamp<size_t>(k, 1, ranked.size() - keep);
                for (size_t r = ranked.size() - k; r < ranked.size(); ++r) {
                    const int node = ranked[r].second;
                    ctx.set_score(node, "pruned_at_step", step);
                    ctx.set_score(node, "pruned_rank", static_cast<double>(r + 1));
                    if (std::isfinite(ranked[r].first))
                        ctx.set_score(node, "pruned_signal", ranked[r].first);
                    ctx.prune(node);
                }
                ranked.resize(ranked.size() - k);
            }
            if (ranked.empty() || ctx.should_stop()) break;
            std::vector<std::pair<int, int>> req;
            for (const auto& [v, c] : ranked)
                if (ctx.can_expand(c)) req.push_back({c, 1});
            if (req.empty()) break;
            cur = ctx.expand_many(req);
            ++step;
        }
        ctx.set_score(ctx.root(), "steps", step);
        ctx.set_score(ctx.root(), "finished_traces", static_cast<double>(finished.size()));
        choose(ctx, finished, signal, p["select"].get<std::string>());
    }

  private:
    static void choose(rs::SearchContext& ctx, const std::vector<int>& finished,
                       const std::string& signal, const std::string& select) {
        if (select == "vote") {
            auto votes = rs::vote(ctx, finished);
            if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
            return;
        }
        int best = -1;
        double best_v = -std::numeric_limits<double>::infinity();
        for (int leaf : finished) {
            if (ctx.node(leaf).answer.empty()) continue;
            const double v = latent_signal(ctx, leaf, signal);
            const double key = std::isfinite(v) ? v : -std::numeric_limits<double>::infinity();
            if (best < 0 || key > best_v) {
                best = leaf;
                best_v = key;
            }
        }
        if (best >= 0) ctx.choose_answer(ctx.node(best).answer, best);
    }
};

}  // namespace

class LatentSelectPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "latent_select.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<LatentSelect>();
    }
};

#include "latent_select.moc"
