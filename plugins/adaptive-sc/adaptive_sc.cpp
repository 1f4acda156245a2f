// Adaptive self-consistency: sample in rounds, stop when the answers agree
// (low entropy over equivalence clusters) or the leader is safe.
#include <QObject>
#include <cmath>

#include "reasonscope/answer.h"
#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

struct Cluster {
    std::string answer;  // the first member's
    int count = 0;
};

class AdaptiveSc final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int round_size = p["round_size"].get<int>(), budget = p["max_samples"].get<int>();
        const std::string rule = p["rule"].get<std::string>();
        const double h_max = p["entropy_threshold"].get<double>();
        const bool by_entropy = rule != "leader", by_leader = rule != "entropy";
        std::vector<Cluster> clusters;  // by equivalence, in order of first appearance
        std::vector<int> leaves;
        int sampled = 0, round = 0;
        std::string why = "budget";
        double stop_value = 0;
        while (sampled < budget) {
            if (ctx.should_stop()) {
                why = "run_budget";
                break;
            }
            ++round;
            auto first = ctx.expand(ctx.root(), std::min(round_size, budget - sampled));
            if (first.empty()) break;
            sampled += static_cast<int>(first.size());
            for (int f : first) ctx.set_score(f, "round", round);
            for (int leaf : ctx.complete(first)) {
                leaves.push_back(leaf);
                const std::string& a = ctx.node(leaf).answer;
                if (a.empty()) continue;  // no answer: outside the distribution
                auto it = std::find_if(clusters.begin(), clusters.end(), [&](const Cluster& c) {
                    return rs::answers_equal(c.answer, a);
                });
                if (it == clusters.end()) it = clusters.insert(clusters.end(), {a, 0});
                it->count++;
            }
            const double h = entropy(clusters);
            ctx.set_score(ctx.root(), "entropy_round_" + std::to_string(round), h);
            int first_count = 0, second_count = 0;
            for (const Cluster& c : clusters) {
                if (c.count > first_count) {
                    second_count = first_count;
                    first_count = c.count;
                } else if (c.count > second_count) {
                    second_count = c.count;
                }
            }
            const int margin = first_count - second_count, left = budget - sampled;
            if (by_entropy && !clusters.empty() && h < h_max) {
                why = "entropy";
                stop_value = h;
                break;
            }
            if (by_leader && first_count > 0 && margin > left) {
                why = "leader";
                stop_value = margin;
                break;
            }
        }
        ctx.set_score(ctx.root(), "rounds", round);
        ctx.set_score(ctx.root(), "samples", sampled);
        ctx.set_score(ctx.root(), "answer_entropy", entropy(clusters));
        // Why sampling stopped: entropy (value: the entropy), leader (value:
        // its margin), budget (value: the samples drawn), run_budget (the
        // run's token/pass/time budget).
        ctx.set_score(
            ctx.root(), "stopped_" + why,
            why == "entropy" || why == "leader" ? stop_value : static_cast<double>(sampled));
        auto votes = rs::vote(ctx, leaves);
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }

  private:
    static double entropy(const std::vector<Cluster>& clusters) {
        double total = 0, h = 0;
        for (const Cluster& c : clusters) total += c.count;
        for (const Cluster& c : clusters)
            if (c.count > 0) h -= c.count / total * std::log(c.count / total);
        return h;
    }
};

}  // namespace

class AdaptiveScPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "adaptive_sc.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override { return std::make_unique<AdaptiveSc>(); }
};

#include "adaptive_sc.moc"
