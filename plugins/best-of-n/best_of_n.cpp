// Best-of-N: N independent samples, ranked by a scorer.
#include <QObject>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

class BestOfN final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        auto scorer = rs::make_scorer(p["scorer"].get<std::string>());
        auto first = ctx.expand(ctx.root(), p["n"].get<int>());
        auto leaves = ctx.complete(first);
        for (int leaf : leaves)
            if (!ctx.node(leaf).answer.empty()) ctx.score(leaf, *scorer);
        rs::choose_best_scored(ctx, leaves, scorer->id());
    }
};

}  // namespace

class BestOfNPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "best_of_n.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override { return std::make_unique<BestOfN>(); }
};

#include "best_of_n.moc"
