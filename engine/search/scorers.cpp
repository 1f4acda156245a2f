// Built-in scorers.
#include <cmath>

#include "reasonscope/error.h"
#include "reasonscope/search.h"

namespace rs {
namespace {

// 1 for a correct final answer, 0 for a wrong one or none.
class AnswerScorer final : public Scorer {
  public:
    std::string id() const override { return "answer"; }
    double score(SearchContext& ctx, int node) override {
        return ctx.node(node).correct == 1 ? 1.0 : 0.0;
    }
};

// Geometric-mean token probability along the path.
class LogprobScorer final : public Scorer {
  public:
    std::string id() const override { return "logprob"; }
    double score(SearchContext& ctx, int node) override {
        double s = 0;
        size_t n = 0;
        for (int id : ctx.tree().path(node))
            for (const auto& t : ctx.node(id).tokens) {
                s += t.logprob;
                ++n;
            }
        return n ? std::exp(s / static_cast<double>(n)) : 0.0;
    }
};

// P(yes) between two labels, from the first token of each.
double binary_prob(SearchContext& ctx, const std::string& prompt, const std::string& yes,
                   const std::string& no) {
    const Tokenizer& tok = ctx.session().model().tokenizer();
    auto y = tok.encode(yes), n = tok.encode(no);
    if (y.empty() || n.empty()) throw Error("scorer labels must tokenize to at least one token");
    auto lp = ctx.next_token_logprobs(prompt);
    double py = std::exp(lp[static_cast<size_t>(y[0])]),
           pn = std::exp(lp[static_cast<size_t>(n[0])]);
    return py + pn > 0 ? py / (py + pn) : 0.5;
}

// Process reward from the model itself, by recomputation: a step
// "LHS=RHS: ..." is worth P(RHS | the model asked LHS afresh). A path's value
// is the product over its steps; steps without "LHS=RHS" count as 1.
class PrmScorer final : public Scorer {
  public:
    std::string id() const override { return "prm"; }
    double score(SearchContext& ctx, int node) override {
        const Node& n = ctx.node(node);
        if (n.parent < 0) return 1.0;
        auto cached = n.scores.find("prm_step");
        double step;
        if (cached != n.scores.end()) {
            step = cached->second;
        } else {
            std::string head = n.text.substr(0, n.text.find(':'));
            while (!head.empty() && (head.back() == '\n' || head.back() == ' ')) head.pop_back();
            size_t eq = head.rfind('=');
            if (n.text.rfind("Answer", 0) == 0 || eq == std::string::npos || eq == 0 ||
                eq + 1 >= head.size()) {
                step = 1.0;
            } else {
                std::string lhs = head.substr(0, eq), rhs = head.substr(eq + 1);
                std::string prompt = ctx.config().prm_template;
                for (size_t p; (p = prompt.find("{lhs}")) != std::string::npos;)
                    prompt.replace(p, 5, lhs);
                step = std::exp(ctx.continuation_logprob(prompt, rhs + ":"));
            }
            ctx.set_score(node, "prm_step", step);
        }
        const Node& parent = ctx.node(n.parent);
        auto pv = parent.scores.find("prm");
        double up = pv != parent.scores.end() ? pv->second
                                              : (parent.parent < 0 ? 1.0 : score(ctx, n.parent));
        return up * step;
    }
};

// The model asked whether the whole path is correct: P(" yes").
class SelfEvalScorer final : public Scorer {
  public:
    std::string id() const override { return "self-eval"; }
    double score(SearchContext& ctx, int node) override {
        std::string prompt = ctx.task().prompt + ctx.path_text(node) +
                             "\nIs the reasoning above correct? Answer yes or no:";
        return binary_prob(ctx, prompt, " yes", " no");
    }
};

// Latent trajectory: how directly the hidden states move across the path's
// steps: |h_last - h_first| / sum |h_i - h_{i-1}| (1 = a straight line).
class LatentScorer final : public Scorer {
  public:
    std::string id() const override { return "latent"; }
    double score(SearchContext& ctx, int node) override {
        if (ctx.config().tap_layers.empty())
            throw Error(
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

std::vector<std::string> scorer_ids() {
    return {"answer", "logprob", "prm", "self-eval", "latent"};
}

std::unique_ptr<Scorer> make_scorer(const std::string& id) {
    if (id == "answer") return std::make_unique<AnswerScorer>();
    if (id == "logprob") return std::make_unique<LogprobScorer>();
    if (id == "prm") return std::make_unique<PrmScorer>();
    if (id == "self-eval") return std::make_unique<SelfEvalScorer>();
    if (id == "latent") return std::make_unique<LatentScorer>();
    std::string all;
    for (const auto& s : scorer_ids()) all += (all.empty() ? "" : ", ") + s;
    throw Error("unknown scorer '" + id + "' (available: " + all + ")");
}

}  // namespace rs
