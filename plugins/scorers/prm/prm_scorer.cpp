// "prm": process reward from the model itself, by recomputation. A step
// "LHS=RHS: REST" is checked twice (option `check`): its arithmetic,
// P(RHS | the model asked LHS afresh, with the `template` option), and its
// rewriting, P(REST | the model asked the previous expression afresh and
// given "LHS=RHS:"), which catches copying slips (a dropped term, a changed
// number) that the arithmetic check cannot see. A path's value is the product
// over its steps (steps without "LHS=RHS" count as 1). Per-step values are
// cached as "prm_step".
#include <QObject>
#include <cmath>

#include "reasonscope/scorer_plugin.h"

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
        s.replace(p, from.size(), to);
}

std::string trimmed(std::string s) {  // without leading spaces, trailing spaces and newlines
    s.erase(0, s.find_first_not_of(' '));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

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
            const size_t colon = n.text.find(':');
            const std::string head = trimmed(n.text.substr(0, colon));
            const size_t eq = head.rfind('=');
            if (n.text.rfind("Answer", 0) == 0 || eq == std::string::npos || eq == 0 ||
                eq + 1 >= head.size()) {
                step = 1.0;
            } else {
                const std::string lhs = head.substr(0, eq), rhs = head.substr(eq + 1);
                const std::string check = rs::scorer_option(ctx, "prm", "check");
                double lp = 0.0;
                if (check != "rewrite") {
                    std::string prompt = rs::scorer_option(ctx, "prm", "template");
                    replace_all(prompt, "{lhs}", lhs);
                    lp += ctx.continuation_logprob(prompt, rhs + ":");
                }
                if (check != "arithmetic" && colon != std::string::npos &&
                    colon + 1 < n.text.size()) {
                    // The previous expression: the task's prompt for a first
                    // step, else the parent step's text after its colon.
                    const rs::Node& parent = ctx.node(n.parent);
                    std::string prompt;
                    if (parent.parent < 0) {
                        prompt = parent.text;
                    } else {
                        const size_t pc = parent.text.find(':');
                        const std::string prev = trimmed(
                            pc == std::string::npos ? parent.text : parent.text.substr(pc + 1));
                        prompt = rs::scorer_option(ctx, "prm", "rewrite_template");
                        replace_all(prompt, "{expr}", prev);
                    }
                    lp += ctx.continuation_logprob(prompt + n.text.substr(0, colon + 1),
                                                   n.text.substr(colon + 1));
                }
                step = std::exp(lp);
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
