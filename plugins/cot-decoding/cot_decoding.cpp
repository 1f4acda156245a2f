// CoT-decoding (Wang & Zhou 2024): branch on the top-k first tokens,
// continue each path greedily, and trust the path whose answer the model
// states most confidently: the mean probability margin p(top1) - p(top2)
// over the answer's tokens. Margins are stored as `cot_margin` scores on each
// branch's first step and answer step.
#include <QObject>
#include <cmath>
#include <string>
#include <vector>

#include "reasonscope/answer.h"
#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

// The mean margin p(top1) - p(top2) over the tokens of the answer on the
// path to `leaf`: those overlapping the answer's last occurrence in the
// path's text (the answer step's tokens where it does not occur verbatim,
// e.g. a normalised form). A token reporting one alternative has margin p(top1).
double answer_margin(const rs::SearchContext& ctx, int leaf) {
    struct Span {
        const rs::TokenRecord* tok;
        size_t from, to;
    };
    std::vector<Span> spans;
    std::string text;
    for (int id : ctx.tree().path(leaf)) {
        if (id == ctx.root()) continue;
        for (const rs::TokenRecord& t : ctx.node(id).tokens) {
            spans.push_back({&t, text.size(), text.size() + t.piece.size()});
            text += t.piece;
        }
    }
    const std::string& answer = ctx.node(leaf).answer;
    const size_t at = answer.empty() ? std::string::npos : text.rfind(answer);
    auto margin = [](const rs::TokenRecord& t) {
        if (t.top.empty()) return 0.0;
        const double p1 = std::exp(static_cast<double>(t.top[0].second));
        return t.top.size() > 1 ? p1 - std::exp(static_cast<double>(t.top[1].second)) : p1;
    };
    double sum = 0;
    int n = 0;
    if (at != std::string::npos) {
        for (const Span& s : spans)
            if (s.to > s.from && s.from < at + answer.size() && s.to > at) {
                sum += margin(*s.tok);
                ++n;
            }
    } else
        for (const rs::TokenRecord& t : ctx.node(leaf).tokens)
            if (!t.piece.empty()) {
                sum += margin(t);
                ++n;
            }
    return n ? sum / n : 0.0;
}

class CotDecoding final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int k = p["k"].get<int>();
        const auto tops = ctx.next_tokens({ctx.root()}, k);
        if (tops.empty()) return;  // stopped before the first pass
        std::vector<std::pair<int, rs::TokenId>> req;
        for (const auto& [tok, lp] : tops[0]) req.push_back({ctx.root(), tok});
        const std::vector<int> first = ctx.expand_with_first(req);
        const std::vector<int> leaves = ctx.complete(first);
        std::vector<int> answered;
        for (size_t i = 0; i < leaves.size(); ++i) {
            const int leaf = leaves[i];
            if (ctx.node(leaf).answer.empty()) continue;
            const double m = answer_margin(ctx, leaf);
            ctx.set_score(first[i], "cot_margin", m);
            if (leaf != first[i]) ctx.set_score(leaf, "cot_margin", m);
            answered.push_back(leaf);
        }
        if (p["aggregate"] == "max") {
            rs::choose_best_scored(ctx, answered, "cot_margin");
            return;
        }
        // Sum of margins per answer; its most confident path is the node.
        const auto votes = rs::vote(ctx, answered, "cot_margin");
        if (votes.empty()) return;
        int best = -1;
        for (int leaf : answered)
            if (rs::answers_equal(ctx.node(leaf).answer, votes[0].answer) &&
                (best < 0 ||
                 ctx.node(leaf).scores.at("cot_margin") > ctx.node(best).scores.at("cot_margin")))
                best = leaf;
        ctx.choose_answer(votes[0].answer, best);
    }
};

}  // namespace

class CotDecodingPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "cot_decoding.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<CotDecoding>();
    }
};

#include "cot_decoding.moc"
