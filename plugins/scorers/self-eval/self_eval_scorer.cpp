// "self-eval": the model asked whether the whole path is correct; the score
// is P(yes) / (P(yes) + P(no)) at the labels' first differing token. Labels
// that begin alike (" yes" and " no" both start with " " in many
// vocabularies) share that beginning, so it is put after the question and
// cancels out of the ratio.
#include <QObject>
#include <cmath>

#include "reasonscope/error.h"
#include "reasonscope/scorer_plugin.h"

namespace {

// The task, the path and the question; a path too long for the context
// with them loses its beginning ("..." in its place), as a reader of the
// last lines would judge them.
std::string fitting_prompt(rs::SearchContext& ctx, const std::string& path,
                           const std::string& question) {
    const rs::Tokenizer& tok = ctx.tokenizer();
    const auto text = [&](size_t drop) {
        return ctx.task().prompt + (drop > 0 ? "..." : "") + path.substr(drop) + question;
    };
    const auto fits = [&](size_t drop) {
        return static_cast<int>(tok.encode(text(drop), true, false).size()) < ctx.n_ctx();
    };
    if (fits(0)) return text(0);
    if (!fits(path.size()))
        throw rs::Error("self-eval: the task and the question alone do not fit the context of " +
                        std::to_string(ctx.n_ctx()) + " tokens");
    size_t lo = 0, hi = path.size();  // !fits(lo), fits(hi)
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        (fits(mid) ? hi : lo) = mid;
    }
    while (hi < path.size() && (static_cast<unsigned char>(path[hi]) & 0xC0) == 0x80) ++hi;
    return text(hi);
}

class SelfEvalScorer final : public rs::Scorer {
  public:
    std::string id() const override { return "self-eval"; }
    double score(rs::SearchContext& ctx, int node) override {
        const rs::Tokenizer& tok = ctx.tokenizer();
        auto y = tok.encode(rs::scorer_option(ctx, "self-eval", "yes"));
        auto n = tok.encode(rs::scorer_option(ctx, "self-eval", "no"));
        if (y.empty() || n.empty())
            throw rs::Error("self-eval: the yes/no labels must tokenize to at least one token");
        size_t c = 0;
        while (c < y.size() && c < n.size() && y[c] == n[c]) ++c;
        if (c == y.size() || c == n.size())
            throw rs::Error(
                "self-eval: the yes and no labels tokenize alike up to the end of "
                "one of them; give labels that differ in a token");
        std::string shared;
        for (size_t i = 0; i < c; ++i) shared += tok.token_to_piece(y[i]);
        auto lp = ctx.next_token_logprobs(fitting_prompt(
            ctx, ctx.path_text(node), rs::scorer_option(ctx, "self-eval", "question") + shared));
        const double py = std::exp(lp[static_cast<size_t>(y[c])]),
                     pn = std::exp(lp[static_cast<size_t>(n[c])]);
        return py + pn > 0 ? py / (py + pn) : 0.5;
    }
};

}  // namespace

class SelfEvalScorerPlugin : public QObject, public rs::ScorerPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_SCORER_PLUGIN_IID FILE "self_eval_scorer.json")
    Q_INTERFACES(rs::ScorerPlugin)
  public:
    std::unique_ptr<rs::Scorer> create() const override {
        return std::make_unique<SelfEvalScorer>();
    }
};

#include "self_eval_scorer.moc"
