// Entropy-adaptive branching: spend extra samples only where the model is unsure.
#include <QObject>
#include <algorithm>

#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

// The first token of the step whose entropy or varentropy crosses its
// threshold (entropix triggers on per-token signals), or -1.
int trigger_token(const rs::Node& n, double h_thr, double v_thr) {
    for (size_t i = 0; i < n.tokens.size(); ++i)
        if (n.tokens[i].entropy > h_thr || n.tokens[i].varentropy > v_thr)
            return static_cast<int>(i);
    return -1;
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
            const int trigger = trigger_token(ctx.node(next), h_thr, v_thr);
            if (trigger >= 0) {
                // The token that made this a branch point, and its signals.
                const rs::TokenRecord& t = ctx.node(next).tokens[static_cast<size_t>(trigger)];
                ctx.set_score(next, "branch_point", 1.0);
                ctx.set_score(next, "branch_token", trigger);
                ctx.set_score(next, "branch_entropy", t.entropy);
                ctx.set_score(next, "branch_varentropy", t.varentropy);
                auto alts = ctx.expand(node, branches - 1, bt);
                alts.insert(alts.begin(), next);
                // An alternative that repeats an earlier sibling's text is
                // merged into it: marked with the sibling's id, pruned, not scored.
                std::vector<int> distinct;
                for (int a : alts) {
                    auto same = std::find_if(distinct.begin(), distinct.end(), [&](int d) {
                        return ctx.node(d).text == ctx.node(a).text;
                    });
                    if (same == distinct.end()) {
                        distinct.push_back(a);
                        continue;
                    }
                    ctx.set_score(a, "duplicate_of", *same);
                    ctx.prune(a);
                }
                double best = -1;
                for (int a : distinct) {
                    double s = ctx.score(a, *scorer);
                    if (s > best) {
                        best = s;
                        next = a;
                    }
                }
                for (int a : distinct)
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
