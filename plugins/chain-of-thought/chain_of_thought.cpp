// Chain of thought: a single chain extended one step at a time to an answer.
#include <QObject>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

class ChainOfThought final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params&) override {
        int leaf = ctx.complete({ctx.root()})[0];
        ctx.choose_answer(ctx.node(leaf).answer, leaf);
    }
};

}  // namespace

class ChainOfThoughtPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "chain_of_thought.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<ChainOfThought>();
    }
};

#include "chain_of_thought.moc"
