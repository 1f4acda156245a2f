// "prm-model": a process reward model in a second GGUF file. Each step is
// scored by the PRM's probability of a label token after the question and
// the path up to that step (a yes/no pair: P(yes) / (P(yes) + P(no)));
// a path's value aggregates its steps (product, min or last). The PRM is
// loaded once per file and process, with its own session; step values are
// cached on the nodes as "prm-model_step".
#include <QObject>
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "reasonscope/error.h"
#include "reasonscope/generator.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/scorer_plugin.h"

namespace {

struct Prm {
    std::unique_ptr<rs::Generator> gen;
    std::mutex mu;  // one scoring pass at a time on this PRM
};

std::shared_ptr<Prm> prm_for(const std::string& path, int threads) {
    static std::mutex mu;
    static std::map<std::pair<std::string, int>, std::shared_ptr<Prm>> cache;
    std::lock_guard<std::mutex> lk(mu);
    auto& slot = cache[{path, threads}];
    if (!slot) {
        auto p = std::make_shared<Prm>();
        rs::SessionOptions so;
        so.threads = threads;
        p->gen = rs::open_local_generator(path, so);  // throws naming the file and the problem
        slot = p;
    }
    return slot;
}

std::string fill(std::string t, const std::string& key, const std::string& value) {
    for (size_t p = 0; (p = t.find(key, p)) != std::string::npos; p += value.size())
        t.replace(p, key.size(), value);
    return t;
}

class PrmModelScorer final : public rs::Scorer {
  public:
    std::string id() const override { return "prm-model"; }

    double score(rs::SearchContext& ctx, int node) override {
        const std::string agg = rs::scorer_option(ctx, "prm-model", "aggregate");
        if (agg != "product" && agg != "min" && agg != "last")
            throw rs::Error("prm-model: option aggregate = '" + agg +
                            "' is not one of: product, min, last");
        double v = agg == "min" ? 1.0 : 1.0;
        bool any = false;
        for (int id : ctx.tree().path(node)) {
            if (ctx.node(id).parent < 0) continue;
            const double s = step(ctx, id);
            if (agg == "product")
                v *= s;
            else if (agg == "min")
                v = any ? std::min(v, s) : s;
            else
                v = s;
            any = true;
        }
        return v;
    }

  private:
    double step(rs::SearchContext& ctx, int node) {
        const rs::Node& n = ctx.node(node);
        if (auto it = n.scores.find("prm-model_step"); it != n.scores.end()) return it->second;
        const std::string path = rs::scorer_option(ctx, "prm-model", "model");
        if (path.empty())
            throw rs::Error(
                "prm-model needs the PRM's GGUF file: choose it in the app's \"scorer model\" "
                "field (under the scorer), or give --scorer-opt model=FILE on the command line");
        const int threads = std::stoi(rs::scorer_option(ctx, "prm-model", "threads"));
        auto prm = prm_for(path, threads);
        std::string prompt = rs::scorer_option(ctx, "prm-model", "template");
        prompt = fill(prompt, "{question}", ctx.task().prompt);
        prompt = fill(prompt, "{path}", ctx.path_text(node));
        prompt = fill(prompt, "{step}", n.text);
        const rs::Tokenizer& tok = prm->gen->tokenizer();
        auto toks = tok.encode(prompt, true);
        auto y = tok.encode(rs::scorer_option(ctx, "prm-model", "yes"));
        auto no = tok.encode(rs::scorer_option(ctx, "prm-model", "no"));
        if (y.empty() || no.empty())
            throw rs::Error("prm-model: the yes/no labels must tokenize to at least one token");
        double value;
        {
            std::lock_guard<std::mutex> lk(prm->mu);
            // Log-probabilities: the ratio below is the same as of the logits.
            const std::vector<float> lp = prm->gen->next_token_logprobs(toks);
            const float ly = lp[static_cast<size_t>(y[0])], ln = lp[static_cast<size_t>(no[0])];
            const float mx = std::max(ly, ln);
            const double py = std::exp(static_cast<double>(ly - mx)),
                         pn = std::exp(static_cast<double>(ln - mx));
            value = py + pn > 0 ? py / (py + pn) : 0.5;
        }
        ctx.set_score(node, "prm-model_step", value);
        return value;
    }
};

}  // namespace

class PrmModelScorerPlugin : public QObject, public rs::ScorerPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_SCORER_PLUGIN_IID FILE "prm_model_scorer.json")
    Q_INTERFACES(rs::ScorerPlugin)
  public:
    std::unique_ptr<rs::Scorer> create() const override {
        return std::make_unique<PrmModelScorer>();
    }
};

#include "prm_model_scorer.moc"
