// Step-level beam search guided by a scorer.
#include <QObject>
#include <algorithm>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

class BeamSearch final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int width = p["width"].get<int>(), expansions = p["expansions"].get<int>();
        auto scorer = rs::make_scorer(p["scorer"].get<std::string>());
        std::vector<int> beams = {ctx.root()}, finished;
        while (!beams.empty() && !ctx.should_stop() && static_cast<int>(finished.size()) < width) {
            std::vector<std::pair<int, int>> req;
            for (int b : beams) req.push_back({b, expansions});
            auto kids = ctx.expand_many(req);
            std::vector<std::pair<double, int>> ranked;
            for (int k : kids) ranked.push_back({ctx.score(k, *scorer), k});
            std::stable_sort(ranked.begin(), ranked.end(),
                             [](auto& a, auto& b) { return a.first > b.first; });
            beams.clear();
            for (auto& [s, k] : ranked) {
                bool keep = static_cast<int>(beams.size() + finished.size()) < width;
                if (keep && ctx.is_terminal(k))
                    finished.push_back(k);
                else if (keep && ctx.can_expand(k))
                    beams.push_back(k);
                else if (!ctx.is_terminal(k))
                    ctx.prune(k);
            }
        }
        rs::choose_best_scored(ctx, finished, scorer->id());
    }
};

}  // namespace

class BeamSearchPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "beam_search.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override { return std::make_unique<BeamSearch>(); }
};

#include "beam_search.moc"
