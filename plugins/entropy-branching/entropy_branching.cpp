// Entropy-adaptive branching: spend extra samples only where the model is unsure.
#include <QObject>
#include <algorithm>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

// The step's most uncertain token (entropix triggers on per-token entropy).
double max_entropy(const rs::Node& n) {
    double m = 0;
    for (const auto& t : n.tokens) m = std::max(m, static_cast<double>(t.entropy));
    return m;
}
double max_varentropy(const rs::Node& n) {
    double m = 0;
    for (const auto& t : n.tokens) m = std::max(m, static_cast<double>(t.varentropy));
    return m;
}

class EntropyBranching final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const double h_thr = p["entropy_threshold"].get<double>(),
                     v_thr = p["varentropy_threshold"].get<double>();
        const int branches = p["branches"].get<int>();
        const float bt = static_cast<float>(p["branch_temperature"].get<double>());
        auto scorer = rs::make_scorer(p["scorer"].get<std::string>());
        int node = ctx.root();
        while (ctx.can_expand(node) && !ctx.should_stop()) {
            auto kids = ctx.expand(node, 1);
            if (kids.empty()) break;
            int next = kids[0];
            const rs::Node& step = ctx.node(next);
            if (max_entropy(step) > h_thr || max_varentropy(step) > v_thr) {
                ctx.set_score(next, "branch_point", 1.0);
                auto alts = ctx.expand(node, branches - 1, bt);
                alts.push_back(next);
                double best = -1;
                for (int a : alts) {
                    double s = ctx.score(a, *scorer);
                    if (s > best) {
                        best = s;
                        next = a;
                    }
                }
                for (int a : alts)
                    if (a != next && !ctx.is_terminal(a)) ctx.prune(a);
            }
            node = next;
        }
        ctx.choose_answer(ctx.node(node).answer, node);
    }
};

}  // namespace

class EntropyBranchingPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "entropy_branching.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<EntropyBranching>();
    }
};

#include "entropy_branching.moc"
