// Power sampling (Karan & Du 2025, "Reasoning with Sampling"): Metropolis-
// Hastings over traces with target p^alpha, a suffix resampled per step.
//
// Positions are step boundaries (a child forks its parent's sequence, so a
// suffix is resampled from the end of a step); with suffixes of different
// lengths the ratio also carries the position proposal's 1/|trace| (zero when
// both traces reach the block's end, the paper's fixed-length case).
#include <QObject>
#include <cmath>
#include <map>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

class PowerSampling final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const double alpha = p["alpha"].get<double>();
        const int mcmc = p["mcmc_steps"].get<int>(), block = p["block_steps"].get<int>();
        const float temp = p["proposal"] == "power" ? static_cast<float>(1.0 / alpha)
                                                    : p["temperature"].get<float>();
        std::vector<int> trace;  // the chain's state: its steps below the root
        uint64_t draws = 0;
        int proposals = 0, accepted = 0;
        for (int end = block; !ctx.should_stop(); end += block) {
            if (!extend(ctx, ctx.root(), trace, end, temp) || trace.empty()) break;
            for (int m = 0; m < mcmc && !ctx.should_stop(); ++m) {
                const auto len = static_cast<int>(trace.size());
                const int j = std::min(len - 1, static_cast<int>(ctx.uniform(1, draws) * len));
                const double u = ctx.uniform(2, draws++);
                const int parent = j == 0 ? ctx.root() : trace[static_cast<size_t>(j - 1)];
                std::vector<int> prop(trace.begin(), trace.begin() + j);
                if (!extend(ctx, parent, prop, end, temp) || static_cast<int>(prop.size()) == j)
                    break;  // the run's budget
                std::vector<int> old_suffix(trace.begin() + j, trace.end()),
                    new_suffix(prop.begin() + j, prop.end());
                const double log_ratio = alpha * (log_p(ctx, new_suffix) - log_p(ctx, old_suffix)) +
                                         log_q(ctx, old_suffix) - log_q(ctx, new_suffix) +
                                         std::log(len) - std::log(static_cast<double>(prop.size()));
                const bool accept = std::log(std::max(u, 1e-300)) < log_ratio;
                ++proposals;
                ctx.set_score(new_suffix[0], "mh_log_ratio", log_ratio);
                ctx.set_score(new_suffix[0], "mh_accepted", accept ? 1.0 : 0.0);
                if (accept) {
                    ++accepted;
                    trace = prop;
                }
                // The losing suffix is done with: free its branches (an
                // answered trace stays terminal, so coverage still counts it).
                for (int id : accept ? old_suffix : new_suffix)
                    if (!ctx.is_terminal(id)) ctx.prune(id);
            }
            if (trace.empty() || !ctx.can_expand(trace.back())) break;
        }
        ctx.set_score(ctx.root(), "mh_proposals", proposals);
        ctx.set_score(ctx.root(), "mh_accepted", accepted);
        if (proposals > 0)
            ctx.set_score(ctx.root(), "acceptance_rate", double(accepted) / proposals);
        if (!trace.empty()) {
            ctx.set_score(trace.back(), "chain_final", 1.0);
            ctx.choose_answer(ctx.node(trace.back()).answer, trace.back());
        }
    }

  private:
    // Extends `path` (whose last node, or `from` when empty, is expandable)
    // one step at a time to `end` steps or a terminal step. False when the
    // run stopped before the first new step.
    static bool extend(rs::SearchContext& ctx, int from, std::vector<int>& path, int end,
                       float temp) {
        const size_t before = path.size();
        while (static_cast<int>(path.size()) < end) {
            const int last = path.empty() ? from : path.back();
            if (!ctx.can_expand(last)) break;
            auto kids = ctx.expand(last, 1, temp);
            if (kids.empty()) break;
            path.push_back(kids[0]);
        }
        return path.size() > before || (!path.empty() && !ctx.can_expand(path.back()));
    }
    // log p(step | its path) under the base model (temperature 1, by teacher
    // forcing), with the end of sequence when the step has one and the
    // generator gives full distributions. Once per node.
    double log_p(rs::SearchContext& ctx, const std::vector<int>& nodes) {
        double s = 0;
        for (int id : nodes) {
            auto it = lp_.find(id);
            if (it == lp_.end()) {
                const rs::Node& n = ctx.node(id);
                const std::string prefix = ctx.node(ctx.root()).text + ctx.path_text(n.parent);
                double v = ctx.continuation_logprob(prefix, n.text);
                if (eos_counted(ctx, n))
                    v += ctx.next_token_logprobs(prefix +
                                                 n.text)[static_cast<size_t>(n.tokens.back().id)];
                it = lp_.emplace(id, v).first;
            }
            s += it->second;
        }
        return s;
    }
    // log q: the proposal's log-probabilities of the sampled tokens.
    static double log_q(const rs::SearchContext& ctx, const std::vector<int>& nodes) {
        double s = 0;
        for (int id : nodes) {
            const rs::Node& n = ctx.node(id);
            size_t k = n.tokens.size();
            if (n.ended && !eos_counted(ctx, n) && k > 0) --k;  // as log_p leaves it out
            for (size_t i = 0; i < k; ++i) s += n.tokens[i].logprob;
        }
        return s;
    }
    static bool eos_counted(const rs::SearchContext& ctx, const rs::Node& n) {
        return n.ended && !n.tokens.empty() && ctx.caps().full_logits;
    }

    std::map<int, double> lp_;
};

}  // namespace

class PowerSamplingPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "power_sampling.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<PowerSampling>();
    }
};

#include "power_sampling.moc"
