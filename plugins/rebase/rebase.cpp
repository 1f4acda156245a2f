// REBASE (Wu et al. 2024): step-level tree search whose expansion budget is
// balanced by reward, softmax(reward / T) per node at each depth.
#include <QObject>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

// `budget` children split by `weights` (summing to 1): floors, then the
// largest remainders (ties to the earlier node), so the counts sum to the
// budget exactly where the paper rounds each.
std::vector<int> allocate(const std::vector<double>& weights, int budget) {
    std::vector<int> a(weights.size());
    std::vector<std::pair<double, size_t>> rest;
    int given = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
        const double x = weights[i] * budget;
        a[i] = static_cast<int>(std::floor(x));
        given += a[i];
        rest.push_back({x - a[i], i});
    }
    std::stable_sort(rest.begin(), rest.end(),
                     [](const auto& l, const auto& r) { return l.first > r.first; });
    for (size_t k = 0; given < budget && k < rest.size(); ++k, ++given) a[rest[k].second]++;
    return a;
}

class Rebase final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int width = p["width"].get<int>();
        const double t = p["balance_temperature"].get<double>();
        auto scorer = rs::make_scorer(p["scorer"].get<std::string>());
        std::vector<int> frontier = ctx.expand(ctx.root(), width), finished;
        while (!frontier.empty() && !ctx.should_stop()) {
            std::vector<int> open;
            std::vector<double> reward;
            for (int id : frontier) {
                const double r = ctx.score(id, *scorer);
                if (ctx.is_terminal(id))
                    finished.push_back(id);
                else if (ctx.can_expand(id)) {
                    open.push_back(id);
                    reward.push_back(r);
                }
            }
            const int budget = width - static_cast<int>(finished.size());
            if (budget <= 0 || open.empty()) {
                for (int id : open) ctx.prune(id);
                break;
            }
            // softmax(reward / T), shifted by the largest reward for range.
            const double top = *std::max_element(reward.begin(), reward.end());
            std::vector<double> w(reward.size());
            for (size_t i = 0; i < w.size(); ++i) w[i] = std::exp((reward[i] - top) / t);
            const double sum = std::accumulate(w.begin(), w.end(), 0.0);
            for (double& x : w) x /= sum;
            const std::vector<int> a = allocate(w, budget);
            std::vector<std::pair<int, int>> req;
            for (size_t i = 0; i < open.size(); ++i) {
                ctx.set_score(open[i], "rebase_weight", w[i]);
                if (a[i] > 0)
                    req.push_back({open[i], a[i]});
                else
                    ctx.prune(open[i]);
            }
            frontier = ctx.expand_many(req);
        }
        if (p["aggregate"] == "best") {
            rs::choose_best_scored(ctx, finished, scorer->id());
            return;
        }
        auto votes = rs::vote(ctx, finished, scorer->id());
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }
};

}  // namespace

class RebasePlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "rebase.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override { return std::make_unique<Rebase>(); }
};

#include "rebase.moc"
