// Diverse verifier tree search (DVTS; Beeching et al. 2024): n/width
// independent subtrees, each a greedy beam of one: its live node gets `width`
// candidate next steps, a process reward model scores them, and only the best
// is kept. Subtrees share nothing but the batch (all expand in one pass), so
// one good early step cannot take the whole budget as it can in beam search.
// Each candidate's subtree is stored as its `dvts_subtree` score.
#include <QObject>
#include <string>
#include <vector>

#include "reasonscope/error.h"
#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

class Dvts final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int n = p["n"].get<int>(), width = p["width"].get<int>();
        if (n % width != 0)
            throw rs::Error("dvts: n (" + std::to_string(n) + ") must be a multiple of width (" +
                            std::to_string(width) +
                            "): the budget splits into n/width subtrees "
                            "of width candidates each");
        auto scorer = rs::make_scorer(p["scorer"].get<std::string>());
        const int subtrees = n / width;
        std::vector<int> live(static_cast<size_t>(subtrees), ctx.root());  // -1: done
        std::vector<int> finished;
        while (!ctx.should_stop()) {
            std::vector<std::pair<int, int>> req;
            std::vector<int> which;  // the subtree of each request
            for (int s = 0; s < subtrees; ++s)
                if (live[s] >= 0 && ctx.can_expand(live[s])) {
                    req.push_back({live[s], width});
                    which.push_back(s);
                } else
                    live[s] = -1;
            if (req.empty()) break;
            const std::vector<int> kids = ctx.expand_many(req);
            if (kids.size() != req.size() * static_cast<size_t>(width)) break;  // stopped
            for (size_t r = 0; r < which.size(); ++r) {
                const int s = which[r];
                int best = -1;
                double best_score = 0;
                for (int i = 0; i < width; ++i) {
                    const int k = kids[r * static_cast<size_t>(width) + static_cast<size_t>(i)];
                    ctx.set_score(k, "dvts_subtree", s);
                    const double v = ctx.score(k, *scorer);
                    if (best < 0 || v > best_score) best = k, best_score = v;
                }
                for (int i = 0; i < width; ++i) {
                    const int k = kids[r * static_cast<size_t>(width) + static_cast<size_t>(i)];
                    if (k != best && !ctx.is_terminal(k)) ctx.prune(k);
                }
                if (ctx.is_terminal(best)) {
                    finished.push_back(best);
                    live[s] = -1;
                } else
                    live[s] = best;
            }
        }
        if (p["aggregate"] == "best") {
            rs::choose_best_scored(ctx, finished, scorer->id());
            return;
        }
        const auto votes = rs::vote(ctx, finished, scorer->id());
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }
};

}  // namespace

class DvtsPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "dvts.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override { return std::make_unique<Dvts>(); }
};

#include "dvts.moc"
