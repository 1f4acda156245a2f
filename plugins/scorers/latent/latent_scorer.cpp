// "latent": how directly the hidden states move across the path's steps,
// |h_last - h_first| / sum |h_i - h_{i-1}| (1 = a straight line), after
// "Tracing the Traces". Needs hidden-state taps.
#include <QObject>
#include <cmath>

#include "reasonscope/error.h"
#include "reasonscope/scorer_plugin.h"

namespace {

class LatentScorer final : public rs::Scorer {
  public:
    std::string id() const override { return "latent"; }
    double score(rs::SearchContext& ctx, int node) override {
        if (ctx.config().tap_layers.empty())
            throw rs::Error(
                "the latent scorer needs hidden-state taps (set tap_layers, e.g. --taps -1)");
        std::vector<const std::vector<float>*> hs;
        for (int id : ctx.tree().path(node))
            if (!ctx.node(id).hidden.empty()) hs.push_back(&ctx.node(id).hidden);
        if (hs.size() < 2) return 0.5;
        auto dist = [](const std::vector<float>& a, const std::vector<float>& b) {
            double s = 0;
            for (size_t i = 0; i < a.size() && i < b.size(); ++i)
                s += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]);
            return std::sqrt(s);
        };
        double cum = 0;
        for (size_t i = 1; i < hs.size(); ++i) cum += dist(*hs[i], *hs[i - 1]);
        return cum > 0 ? dist(*hs.back(), *hs.front()) / cum : 0.5;
    }
};

}  // namespace

class LatentScorerPlugin : public QObject, public rs::ScorerPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_SCORER_PLUGIN_IID FILE "latent_scorer.json")
    Q_INTERFACES(rs::ScorerPlugin)
  public:
    std::unique_ptr<rs::Scorer> create() const override { return std::make_unique<LatentScorer>(); }
};

#include "latent_scorer.moc"
