// "prm": process reward from the model itself, by recomputation. A step
// "LHS=RHS: ..." is worth P(RHS | the model asked LHS afresh, with the
// `template` option); a path's value is the product over its steps (steps
// without "LHS=RHS" count as 1). Per-step values are cached as "prm_step".
#include <QObject>
#include <cmath>

#include "reasonscope/scorer_plugin.h"

namespace {

class PrmScorer final : public rs::Scorer {
  public:
    std::string id() const override { return "prm"; }
    double score(rs::SearchContext& ctx, int node) override {
        const rs::Node& n = ctx.node(node);
        if (n.parent < 0) return 1.0;
        auto cached = n.scores.find("prm_step");
        double step;
        if (cached != n.scores.end()) {
            step = cached->second;
        } else {
            std::string head = n.text.substr(0, n.text.find(':'));
            while (!head.empty() && (head.back() == '\n' || head.back() == ' ')) head.pop_back();
            const size_t eq = head.rfind('=');
            if (n.text.rfind("Answer", 0) == 0 || eq == std::string::npos || eq == 0 ||
                eq + 1 >= head.size()) {
                step = 1.0;
            } else {
                const std::string lhs = head.substr(0, eq), rhs = head.substr(eq + 1);
                std::string prompt = rs::scorer_option(ctx, "prm", "template");
                for (size_t p; (p = prompt.find("{lhs}")) != std::string::npos;)
                    prompt.replace(p, 5, lhs);
                step = std::exp(ctx.continuation_logprob(prompt, rhs + ":"));
            }
            ctx.set_score(node, "prm_step", step);
        }
        const rs::Node& parent = ctx.node(n.parent);
        auto pv = parent.scores.find("prm");
        const double up = pv != parent.scores.end()
                              ? pv->second
                              : (parent.parent < 0 ? 1.0 : score(ctx, n.parent));
        return up * step;
    }
};

}  // namespace

class PrmScorerPlugin : public QObject, public rs::ScorerPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_SCORER_PLUGIN_IID FILE "prm_scorer.json")
    Q_INTERFACES(rs::ScorerPlugin)
  public:
    std::unique_ptr<rs::Scorer> create() const override { return std::make_unique<PrmScorer>(); }
};

#include "prm_scorer.moc"
