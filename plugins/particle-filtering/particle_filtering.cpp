// Particle filtering over reasoning steps with ESS-triggered resampling.
#include <QObject>
#include <algorithm>
#include <map>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

class ParticleFiltering final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int n = p["particles"].get<int>();
        const double thr = p["ess_threshold"].get<double>();
        auto scorer = rs::make_scorer(p["scorer"].get<std::string>());
        std::vector<int> parts = ctx.expand(ctx.root(), n);
        std::vector<double> w(parts.size(), 1.0 / n);
        int resamples = 0;
        for (uint64_t round = 0; !ctx.should_stop(); ++round) {
            // Weight by the scorer, normalize, measure the effective sample size.
            double sum = 0;
            for (size_t i = 0; i < parts.size(); ++i)
                sum += w[i] = std::max(1e-9, ctx.score(parts[i], *scorer));
            double sq = 0;
            for (double& x : w) {
                x /= sum;
                sq += x * x;
            }
            const double ess = 1.0 / sq;
            // Per step on the population's nodes (the root keeps the last).
            ctx.set_score(ctx.root(), "ess", ess);
            for (int q : parts) ctx.set_score(q, "ess", ess);
            // Systematic resampling when the ESS is below the threshold; a
            // population of equal weights (ESS = N up to rounding) never is.
            if (ess < thr * static_cast<double>(parts.size()) * (1 - 1e-9)) {
                std::vector<int> next;
                const double u0 = ctx.uniform(round, 0) / static_cast<double>(parts.size());
                double cum = w[0];
                size_t j = 0;
                for (size_t i = 0; i < parts.size(); ++i) {
                    double u = u0 + static_cast<double>(i) / static_cast<double>(parts.size());
                    while (u > cum && j + 1 < parts.size()) cum += w[++j];
                    next.push_back(parts[j]);
                }
                // The event in the tree: each particle's copies (0: dropped,
                // pruned unless finished; 2 or more: duplicated).
                ++resamples;
                for (int q : parts) {
                    const auto copies = std::count(next.begin(), next.end(), q);
                    ctx.set_score(q, "resample_copies", static_cast<double>(copies));
                    if (copies == 0 && !ctx.is_terminal(q)) ctx.prune(q);
                }
                parts = next;
                std::fill(w.begin(), w.end(), 1.0 / static_cast<double>(parts.size()));
            }
            // Advance every unfinished particle one step (duplicates become siblings).
            std::map<int, int> count;
            for (int q : parts)
                if (ctx.can_expand(q)) count[q]++;
            if (count.empty()) break;
            std::vector<std::pair<int, int>> req(count.begin(), count.end());
            auto kids = ctx.expand_many(req);
            size_t k = 0;
            std::map<int, std::vector<int>> kids_of;
            for (auto& [node, c] : req)
                for (int i = 0; i < c && k < kids.size(); ++i) kids_of[node].push_back(kids[k++]);
            for (int& q : parts) {
                auto it = kids_of.find(q);
                if (it != kids_of.end() && !it->second.empty()) {
                    q = it->second.back();
                    it->second.pop_back();
                }
            }
        }
        ctx.set_score(ctx.root(), "resamples", resamples);
        for (size_t i = 0; i < parts.size(); ++i) ctx.set_score(parts[i], "particle_weight", w[i]);
        auto votes = rs::vote(ctx, parts, "particle_weight");
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }
};

}  // namespace

class ParticleFilteringPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "particle_filtering.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<ParticleFiltering>();
    }
};

#include "particle_filtering.moc"
