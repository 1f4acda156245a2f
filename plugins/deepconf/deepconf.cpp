// DeepConf (Fu et al. 2025, "Deep Think with Confidence"): votes only the
// traces the model was confident in, weighted by that confidence; online, it
// stops a trace as soon as its confidence drops and stops sampling at
// consensus.
#include <QObject>
#include <algorithm>
#include <cmath>
#include <map>

#include "reasonscope/search.h"
#include "reasonscope/step_signals.h"
#include "reasonscope/strategy_plugin.h"

namespace {

// Token and group confidence: rs::token_confidence and rs::group_confidence
// (reasonscope/step_signals.h), shared with the per-step signals and
// `eval --signals`.
using rs::token_confidence;

std::vector<double> path_confidences(const rs::SearchContext& ctx, int node, int k) {
    std::vector<double> c;
    for (int p : ctx.tree().path(node))
        for (const rs::TokenRecord& t : ctx.node(p).tokens) c.push_back(token_confidence(t, k));
    return c;
}

double mean_of(const std::vector<double>& v, size_t from, size_t to) {
    double s = 0;
    for (size_t i = from; i < to; ++i) s += v[i];
    return to > from ? s / static_cast<double>(to - from) : 0.0;
}

// Groups are the windows of `w` consecutive tokens (one group of all the
// tokens when the trace is shorter). Each window is summed afresh, as the
// online check sums it (mean_of above), so a trace equal to the one that set
// the threshold meets it exactly.
rs::GroupConfidence trace_confidence(const std::vector<double>& c, size_t w) {
    return rs::group_confidence(c, w);
}

class DeepConf final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int n = p["n"].get<int>();
        k_ = p["top_k"].get<int>();
        w_ = static_cast<size_t>(p["window"].get<int>());
        eta_ = p["eta"].get<double>();
        measure_ = p["measure"].get<std::string>();
        if (p["mode"] == "offline") {
            auto leaves = ctx.complete(ctx.expand(ctx.root(), n));
            const double s = threshold(ctx, leaves);
            decide(ctx, admit(ctx, leaves, s));
            return;
        }
        const int warm = std::min(p["warmup"].get<int>(), n);
        const int batch = p["batch"].get<int>();
        const double tau = p["tau"].get<double>();
        auto warmup = ctx.complete(ctx.expand(ctx.root(), warm));
        const double s = threshold(ctx, warmup);
        std::vector<int> voters = admit(ctx, warmup, s);
        double share = consensus(ctx, voters);
        const bool stop_at_consensus = tau < 1.0;
        // From here on every token is checked: a full window below the
        // threshold ends its trace there.
        std::map<int, std::vector<double>> confs;  // by a trace's current node
        std::map<int, std::pair<double, size_t>> cut;
        ctx.set_token_check([&](int id) {
            const rs::Node& nd = ctx.node(id);
            auto it = confs.find(id);
            if (it == confs.end()) {
                it = confs.emplace(id, path_confidences(ctx, nd.parent, k_)).first;
                confs.erase(nd.parent);
            }
            std::vector<double>& c = it->second;
            c.push_back(token_confidence(nd.tokens.back(), k_));
            if (c.size() < w_) return false;
            const double g = mean_of(c, c.size() - w_, c.size());
            if (g >= s) return false;
            cut[id] = {g, c.size()};
            return true;
        });
        struct Reset {
            rs::SearchContext& ctx;
            ~Reset() { ctx.set_token_check({}); }
        } reset{ctx};
        int made = warm;
        while (made < n && !(stop_at_consensus && share >= tau) && !ctx.should_stop()) {
            std::vector<int> cur = ctx.expand(ctx.root(), std::min(batch, n - made));
            if (cur.empty()) break;
            made += static_cast<int>(cur.size());
            while (true) {
                std::vector<std::pair<int, int>> req;
                std::vector<size_t> which;
                for (size_t i = 0; i < cur.size(); ++i) {
                    if (cut.count(cur[i]) && ctx.node(cur[i]).status != rs::NodeStatus::Pruned) {
                        ctx.set_score(cur[i], "cut_confidence", cut[cur[i]].first);
                        ctx.set_score(cur[i], "cut_at_token",
                                      static_cast<double>(cut[cur[i]].second));
                        ctx.prune(cur[i]);
                    }
                    if (ctx.can_expand(cur[i])) {
                        req.push_back({cur[i], 1});
                        which.push_back(i);
                    }
                }
                if (req.empty() || ctx.should_stop()) break;
                auto kids = ctx.expand_many(req);
                if (kids.size() != which.size()) break;
                for (size_t k = 0; k < kids.size(); ++k) cur[which[k]] = kids[k];
            }
            std::vector<int> done;
            for (int leaf : cur)
                if (ctx.is_terminal(leaf)) done.push_back(leaf);
            for (int v : admit(ctx, done, s)) voters.push_back(v);
            share = consensus(ctx, voters);
        }
        ctx.set_score(ctx.root(), "traces", static_cast<double>(made));
        if (stop_at_consensus && share >= tau)
            ctx.set_score(ctx.root(), "stopped_at_consensus", share);
        decide(ctx, voters);
    }

  private:
    // Scores each finished trace's leaf with its confidences; returns the
    // one this run's measure picks.
    double score_trace(rs::SearchContext& ctx, int leaf) {
        const rs::GroupConfidence t = trace_confidence(path_confidences(ctx, leaf, k_), w_);
        ctx.set_score(leaf, "conf_lowest", t.lowest);
        ctx.set_score(leaf, "conf_tail", t.tail);
        ctx.set_score(leaf, "conf_mean", t.mean);
        const double c = measure_ == "tail" ? t.tail : measure_ == "mean" ? t.mean : t.lowest;
        ctx.set_score(leaf, "confidence", c);
        return c;
    }
    // The (100 - eta)th percentile of these traces' confidences, linearly
    // interpolated as numpy's (the paper's): about eta% are at or above it.
    double threshold(rs::SearchContext& ctx, const std::vector<int>& leaves) {
        std::vector<double> c;
        for (int leaf : leaves) c.push_back(score_trace(ctx, leaf));
        if (c.empty()) return 0;
        std::sort(c.begin(), c.end());
        const double at = (100.0 - eta_) / 100.0 * static_cast<double>(c.size() - 1);
        const auto lo = static_cast<size_t>(std::floor(at));
        const size_t hi = std::min(lo + 1, c.size() - 1);
        const double s = c[lo] + (at - static_cast<double>(lo)) * (c[hi] - c[lo]);
        ctx.set_score(ctx.root(), "conf_threshold", s);
        return s;
    }
    // Scores the traces; those at or above the threshold vote ("kept" 1).
    std::vector<int> admit(rs::SearchContext& ctx, const std::vector<int>& leaves, double s) {
        std::vector<int> kept;
        for (int leaf : leaves) {
            auto it = ctx.node(leaf).scores.find("confidence");
            const double c =
                it == ctx.node(leaf).scores.end() ? score_trace(ctx, leaf) : it->second;
            ctx.set_score(leaf, "kept", c >= s ? 1.0 : 0.0);
            if (c >= s) kept.push_back(leaf);
        }
        return kept;
    }
    // The leading answer's share of the confidence-weighted vote.
    double consensus(rs::SearchContext& ctx, const std::vector<int>& voters) {
        auto votes = rs::vote(ctx, voters, "confidence");
        double total = 0;
        for (const rs::Vote& v : votes) total += v.weight;
        const double share = votes.empty() || total <= 0 ? 0.0 : votes[0].weight / total;
        ctx.set_score(ctx.root(), "consensus", share);
        return share;
    }
    void decide(rs::SearchContext& ctx, const std::vector<int>& voters) {
        auto votes = rs::vote(ctx, voters, "confidence");
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }

    int k_ = 5;
    size_t w_ = 16;
    double eta_ = 90;
    std::string measure_;
};

}  // namespace

class DeepConfPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "deepconf.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override { return std::make_unique<DeepConf>(); }
};

#include "deepconf.moc"
