// Token-level beam search with the length penalty of Wu et al. 2016
// (score = logp / length^alpha). The tree stays readable: a node is one
// beam's run of tokens between splits. A beam that keeps one continuation
// grows in place (SearchContext::grow_tokens appends to it); one that keeps
// several ends there, with a child node for each; a beam that keeps none is
// pruned. Each node's final `beam_score` (normalised) and `beam_logprob`
// (sum over the beam's tokens) are stored when it stops growing.
#include <QObject>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

struct Beam {
    int node = -1;
    double logp = 0;  // sum of the generated tokens' log-probabilities
    int length = 0;   // generated tokens
};

double normalised(double logp, int length, double alpha) {
    return length > 0 ? logp / std::pow(static_cast<double>(length), alpha) : logp;
}

class TokenBeam final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int width = p["width"].get<int>(), k = p["candidates"].get<int>(),
                  max_length = p["max_length"].get<int>();
        const double alpha = p["alpha"].get<double>();
        auto record = [&](const Beam& b) {
            if (b.node == ctx.root()) return;
            ctx.set_score(b.node, "beam_score", normalised(b.logp, b.length, alpha));
            ctx.set_score(b.node, "beam_logprob", b.logp);
        };
        std::vector<Beam> beams = {{ctx.root(), 0.0, 0}}, finished;
        while (!beams.empty() && static_cast<int>(finished.size()) < width && !ctx.should_stop()) {
            std::vector<int> nodes;
            for (const Beam& b : beams) nodes.push_back(b.node);
            const auto tops = ctx.next_tokens(nodes, k);
            if (tops.size() != beams.size()) break;  // stopped
            struct Candidate {
                size_t beam;
                rs::TokenId token;
                double logp, score;
            };
            std::vector<Candidate> cands;
            for (size_t i = 0; i < beams.size(); ++i)
                for (const auto& [tok, lp] : tops[i]) {
                    const double logp = beams[i].logp + lp;
                    cands.push_back({i, tok, logp, normalised(logp, beams[i].length + 1, alpha)});
                }
            // Best first; ties keep beam order, then the model's ranking.
            std::stable_sort(
                cands.begin(), cands.end(),
                [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
            const size_t room = static_cast<size_t>(width) - finished.size();
            if (cands.size() > room) cands.resize(room);
            std::vector<int> kept(beams.size(), 0);
            for (const Candidate& c : cands) kept[c.beam]++;
            for (size_t i = 0; i < beams.size(); ++i) {
                if (kept[i] == 1 && beams[i].node != ctx.root()) continue;  // grows in place
                record(beams[i]);  // its last token: it splits here or ends
                if (kept[i] == 0 && beams[i].node != ctx.root()) ctx.prune(beams[i].node);
            }
            std::vector<rs::SearchContext::TokenGrowth> req;
            for (const Candidate& c : cands) {
                const Beam& b = beams[c.beam];
                req.push_back({b.node, c.token, b.node == ctx.root() || kept[c.beam] > 1});
            }
            const std::vector<int> grown = ctx.grow_tokens(req);
            if (grown.size() != req.size()) break;  // stopped
            std::vector<Beam> next;
            for (size_t j = 0; j < grown.size(); ++j) {
                if (grown[j] < 0) continue;  // the context is full: the beam ends
                const Beam b{grown[j], cands[j].logp, beams[cands[j].beam].length + 1};
                if (ctx.is_terminal(b.node)) {
                    finished.push_back(b);
                    record(b);
                } else if (b.length >= max_length || !ctx.can_expand(b.node)) {
                    record(b);
                    ctx.prune(b.node);
                } else
                    next.push_back(b);
            }
            beams = std::move(next);
        }
        for (const Beam& b : beams) record(b);
        const Beam* best = nullptr;
        for (const Beam& b : finished)
            if (!ctx.node(b.node).answer.empty() &&
                (!best ||
                 normalised(b.logp, b.length, alpha) > normalised(best->logp, best->length, alpha)))
                best = &b;
        if (best) ctx.choose_answer(ctx.node(best->node).answer, best->node);
    }
};

}  // namespace

class TokenBeamPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "token_beam.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override { return std::make_unique<TokenBeam>(); }
};

#include "token_beam.moc"
