// An example strategy plugin built outside the project, against an installed
// Reasonscope (find_package(Reasonscope); see CMakeLists.txt beside it and
// docs/plugin-guide.md). Lowest entropy of N: sample N solutions in one
// batch and keep the one the model was surest of along the way (the lowest
// mean token entropy over its whole trace), a confidence-selection baseline
// that needs no verifier.
#include <QObject>
#include <string>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

class LowestEntropyOfN final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const std::vector<int> leaves = ctx.complete(ctx.expand(ctx.root(), p["n"].get<int>()));
        for (int leaf : leaves) {
            double sum = 0;
            size_t count = 0;
            for (int id : ctx.tree().path(leaf))
                for (const rs::TokenRecord& t : ctx.node(id).tokens) {
                    sum += t.entropy;
                    ++count;
                }
            // Higher is better for choose_best_scored: the negated mean.
            if (count > 0)
                ctx.set_score(leaf, "neg_mean_entropy", -sum / static_cast<double>(count));
        }
        rs::choose_best_scored(ctx, leaves, "neg_mean_entropy");
    }
};

}  // namespace

RS_STRATEGY_PLUGIN(LowestEntropyPlugin, LowestEntropyOfN, "lowest_entropy.json")

#include "lowest_entropy.moc"
