// Self-consistency: majority (or score-weighted) vote over sampled answers.
#include <QObject>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

class SelfConsistency final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        auto leaves = ctx.complete(ctx.expand(ctx.root(), p["n"].get<int>()));
        std::string key;
        if (p["weighting"] == "score") {
            auto scorer = rs::make_scorer(p["scorer"].get<std::string>());
            for (int leaf : leaves)
                if (!ctx.node(leaf).answer.empty()) ctx.score(leaf, *scorer);
            key = scorer->id();
        }
        auto votes = rs::vote(ctx, leaves, key);
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }
};

}  // namespace

class SelfConsistencyPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "self_consistency.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<SelfConsistency>();
    }
};

#include "self_consistency.moc"
