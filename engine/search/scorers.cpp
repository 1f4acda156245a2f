// The scorer registry and the two built-in scorers; the others are plugins.
#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>

#include "reasonscope/error.h"
#include "reasonscope/search.h"
#include "reasonscope/strategy.h"

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

struct Entry {
    ScorerInfo info;
    ScorerFactory factory;
};

struct Registry {
    std::mutex mu;
    std::deque<Entry> entries;  // stable addresses: find_scorer hands out pointers
    Registry() {
        entries.push_back({{"answer",
                            "Answer check",
                            "1 if the path's final answer matches the task's answer (exact, "
                            "numeric or the task's pattern), else 0: an oracle for studying "
                            "strategies",
                            "",
                            {},
                            "built-in",
                            {}},
                           [] { return std::make_unique<AnswerScorer>(); }});
        entries.push_back({{"logprob",
                            "Mean token probability",
                            "geometric mean of the path's token probabilities",
                            "",
                            {},
                            "built-in",
                            {}},
                           [] { return std::make_unique<LogprobScorer>(); }});
    }
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

void register_scorer(const ScorerInfo& info, ScorerFactory factory) {
    if (info.id.empty()) throw Error("scorer metadata: empty id");
    Registry& r = registry();
    std::lock_guard<std::mutex> lk(r.mu);
    for (Entry& e : r.entries)
        if (e.info.id == info.id) {
            if (e.info.source != info.source)
                throw Error("scorer id '" + info.id + "' from " + info.source +
                            " is already provided by " + e.info.source);
            e = {info, std::move(factory)};
            return;
        }
    r.entries.push_back({info, std::move(factory)});
}

std::vector<ScorerInfo> scorers() {
    Registry& r = registry();
    std::lock_guard<std::mutex> lk(r.mu);
    std::vector<ScorerInfo> out;
    for (const Entry& e : r.entries) out.push_back(e.info);
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.id < b.id; });
    return out;
}

const ScorerInfo* find_scorer(const std::string& id) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lk(r.mu);
    for (const Entry& e : r.entries)
        if (e.info.id == id) return &e.info;  // entries are never removed
    return nullptr;
}

std::vector<std::string> scorer_ids() {
    std::vector<std::string> ids;
    for (const auto& s : scorers()) ids.push_back(s.id);
    return ids;
}

std::unique_ptr<Scorer> make_scorer(const std::string& id) {
    ScorerFactory f;
    {
        Registry& r = registry();
        std::lock_guard<std::mutex> lk(r.mu);
        for (const Entry& e : r.entries)
            if (e.info.id == id) f = e.factory;
    }
    if (!f) {
        std::string all;
        for (const auto& s : scorer_ids()) all += (all.empty() ? "" : ", ") + s;
        throw Error("unknown scorer '" + id + "' (available: " + all +
                    "; the others are plugins: is the plugin folder found?)");
    }
    auto s = f();
    if (!s) throw Error("scorer '" + id + "': its plugin returned no scorer");
    return s;
}

std::string scorer_option(const SearchContext& ctx, const std::string& scorer,
                          const std::string& name) {
    const ScorerInfo* info = find_scorer(scorer);
    const ParamSpec* spec = nullptr;
    if (info)
        for (const auto& o : info->options)
            if (o.name == name) spec = &o;
    if (!spec) throw Error("scorer '" + scorer + "' has no option '" + name + "'");
    auto it = ctx.config().scorer_options.find(name);
    if (it != ctx.config().scorer_options.end()) return it->second;
    return spec->dflt.is_string() ? spec->dflt.get<std::string>() : spec->dflt.dump();
}

ScorerInfo scorer_info_from_json(const nlohmann::json& j) {
    ScorerInfo s;
    try {
        s.id = j.at("id").get<std::string>();
        s.name = j.at("name").get<std::string>();
        s.description = j.value("description", "");
        s.reference = j.value("reference", "");
        for (const auto& p : j.value("options", nlohmann::json::array()))
            s.options.push_back(param_spec_from_json(p));
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("scorer metadata: ") + e.what());
    }
    s.needs = needs_from_json(j, "scorer metadata");
    if (s.id.empty()) throw Error("scorer metadata: empty id");
    return s;
}

}  // namespace rs
