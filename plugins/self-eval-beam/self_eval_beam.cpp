// Self-evaluation guided stochastic beam search (Xie et al. 2023). A
// candidate step s gets E(s) = lambda * log P_gen(s) + (1 - lambda) * log C(s),
// C the model's confidence in the path (a scorer, `self-eval` by default); a
// path's score is the sum over its steps. The next beams are drawn from all
// candidates without replacement, with probability proportional to
// exp(score / tau_t), tau_t = tau * alpha^t. Draws use the run's seed
// (SearchContext::uniform), so a seed gives one tree.
#include <QObject>
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

constexpr uint64_t kStream = 0x5E1FE7A1ULL;  // this strategy's random stream
constexpr double kMinConfidence = 1e-6;      // log C stays finite

class SelfEvalBeam final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int width = p["width"].get<int>(), expansions = p["expansions"].get<int>();
        const double lambda = p["lambda"].get<double>(), tau0 = p["tau"].get<double>(),
                     alpha = p["alpha"].get<double>();
        const bool sum = p["gen_logprob"] == "sum";
        auto scorer = rs::make_scorer(p["scorer"].get<std::string>());
        std::map<int, double> path_score = {{ctx.root(), 0.0}};
        std::vector<int> beams = {ctx.root()}, finished;
        uint64_t draws = 0;
        for (int step = 0;
             !beams.empty() && !ctx.should_stop() && static_cast<int>(finished.size()) < width;
             ++step) {
            std::vector<std::pair<int, int>> req;
            for (int b : beams) req.push_back({b, expansions});
            const std::vector<int> kids = ctx.expand_many(req);
            if (kids.empty()) break;
            std::vector<int> cand;
            std::vector<double> score;
            for (int k : kids) {
                const rs::Node& n = ctx.node(k);
                const double lp = sum ? n.mean_logprob() * static_cast<double>(n.tokens.size())
                                      : n.mean_logprob();
                const double c = std::clamp(ctx.score(k, *scorer), kMinConfidence, 1.0);
                const double e = lambda * lp + (1.0 - lambda) * std::log(c);
                path_score[k] = path_score.at(n.parent) + e;
                ctx.set_score(k, "seb_step", e);
                ctx.set_score(k, "seb_score", path_score[k]);
                cand.push_back(k);
                score.push_back(path_score[k]);
            }
            // Draw the places left without replacement, p ~ exp(score / tau_t);
            // at tau_t = 0 the best (the first on ties).
            const double tau = tau0 * std::pow(alpha, step);
            const size_t room = std::min(cand.size(), static_cast<size_t>(width) - finished.size());
            std::vector<char> taken(cand.size(), 0);
            beams.clear();
            for (size_t d = 0; d < room; ++d) {
                double top = -INFINITY;
                size_t best = 0;
                for (size_t i = 0; i < cand.size(); ++i)
                    if (!taken[i] && score[i] > top) top = score[i], best = i;
                size_t pick = best;
                if (tau > 0) {
                    std::vector<double> w(cand.size(), 0.0);
                    double total = 0;
                    for (size_t i = 0; i < cand.size(); ++i)
                        if (!taken[i]) total += w[i] = std::exp((score[i] - top) / tau);
                    double u = ctx.uniform(kStream, draws++) * total, acc = 0;
                    for (size_t i = 0; i < cand.size(); ++i) {
                        if (taken[i]) continue;
                        pick = i;
                        acc += w[i];
                        if (u < acc) break;
                    }
                }
                taken[pick] = 1;
                const int k = cand[pick];
                if (ctx.is_terminal(k))
                    finished.push_back(k);
                else if (ctx.can_expand(k))
                    beams.push_back(k);
            }
            for (size_t i = 0; i < cand.size(); ++i)
                if (!taken[i] && !ctx.is_terminal(cand[i])) ctx.prune(cand[i]);
        }
        if (p["aggregate"] == "best") {
            rs::choose_best_scored(ctx, finished, "seb_score");
            return;
        }
        const auto votes = rs::vote(ctx, finished);
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }
};

}  // namespace

class SelfEvalBeamPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "self_eval_beam.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<SelfEvalBeam>();
    }
};

#include "self_eval_beam.moc"
