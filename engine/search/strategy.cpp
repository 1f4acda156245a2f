#include "reasonscope/strategy.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "reasonscope/error.h"
#include "reasonscope/search.h"

namespace rs {

const ParamSpec* StrategyInfo::find(const std::string& n) const {
    for (const auto& p : params)
        if (p.name == n) return &p;
    return nullptr;
}

ParamSpec param_spec_from_json(const nlohmann::json& p) {
    ParamSpec ps;
    ps.name = p.at("name").get<std::string>();
    ps.type = p.at("type").get<std::string>();
    if (ps.type != "int" && ps.type != "float" && ps.type != "bool" && ps.type != "string" &&
        ps.type != "choice" && ps.type != "scorer")
        throw Error("parameter '" + ps.name + "' has unknown type '" + ps.type + "'");
    ps.help = p.value("help", "");
    ps.dflt = p.at("default");
    ps.min = p.value("min", nlohmann::json());
    ps.max = p.value("max", nlohmann::json());
    if (p.contains("choices")) ps.choices = p["choices"].get<std::vector<std::string>>();
    if (p.contains("applies_when")) {
        const nlohmann::json& w = p["applies_when"];
        if (!w.is_object())
            throw Error("parameter '" + ps.name +
                        "': \"applies_when\" must map parameter names to lists of values");
        for (const auto& [k, v] : w.items()) {
            if (!v.is_array())
                throw Error("parameter '" + ps.name + "': \"applies_when\"." + k +
                            " must be a list of values");
            for (const auto& x : v)
                ps.applies_when[k].push_back(x.is_string() ? x.get<std::string>() : x.dump());
        }
    }
    return ps;
}

std::vector<std::string> needs_from_json(const nlohmann::json& j, const std::string& what) {
    std::vector<std::string> out;
    if (!j.is_object() || !j.contains("needs")) return out;
    const nlohmann::json& n = j["needs"];
    if (!n.is_array()) throw Error(what + ": \"needs\" must be a list of capability names");
    for (const nlohmann::json& x : n) {
        const auto& known = capability_names();
        if (!x.is_string() ||
            std::find(known.begin(), known.end(), x.get<std::string>()) == known.end()) {
            std::string list;
            for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
            throw Error(what + ": \"needs\" has " + x.dump() + " (known: " + list + ")");
        }
        out.push_back(x.get<std::string>());
    }
    return out;
}

StrategyInfo strategy_info_from_json(const nlohmann::json& j) {
    StrategyInfo s;
    try {
        s.id = j.at("id").get<std::string>();
        s.name = j.at("name").get<std::string>();
        s.description = j.value("description", "");
        s.paper = j.value("paper", "");
        for (const auto& p : j.value("parameters", nlohmann::json::array()))
            s.params.push_back(param_spec_from_json(p));
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("strategy metadata: ") + e.what());
    }
    s.needs = needs_from_json(j, "strategy metadata");
    if (s.id.empty()) throw Error("strategy metadata: empty id");
    return s;
}

nlohmann::json strategy_info_to_json(const StrategyInfo& s) {
    nlohmann::json j = {
        {"id", s.id}, {"name", s.name}, {"description", s.description}, {"paper", s.paper}};
    j["parameters"] = nlohmann::json::array();
    for (const auto& p : s.params) {
        nlohmann::json q = {
            {"name", p.name}, {"type", p.type}, {"help", p.help}, {"default", p.dflt}};
        if (!p.min.is_null()) q["min"] = p.min;
        if (!p.max.is_null()) q["max"] = p.max;
        if (!p.choices.empty()) q["choices"] = p.choices;
        j["parameters"].push_back(q);
    }
    if (!s.needs.empty()) j["needs"] = s.needs;
    return j;
}

std::pair<std::string, std::string> split_setting(const std::string& kv) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error("setting '" + kv + "' is not of the form name=value");
    return {kv.substr(0, eq), kv.substr(eq + 1)};
}

Params resolve_params(const StrategyInfo& info,
                      const std::vector<std::pair<std::string, std::string>>& sets) {
    Params out = nlohmann::json::object();
    for (const auto& p : info.params) out[p.name] = p.dflt;
    for (const auto& kv : sets) {
        const std::string& k = kv.first;  // (not a structured binding: lambdas below capture it)
        const std::string& v = kv.second;
        const ParamSpec* p = info.find(k);
        if (!p) {
            std::string names;
            for (const auto& q : info.params) names += (names.empty() ? "" : ", ") + q.name;
            throw Error(info.id + ": unknown parameter '" + k + "' (parameters: " + names + ")");
        }
        auto bad = [&](const std::string& why) {
            throw Error(info.id + ": parameter " + k + " = '" + v + "' " + why);
        };
        char* end = nullptr;
        if (p->type == "int") {
            long long x = std::strtoll(v.c_str(), &end, 10);
            if (v.empty() || *end) bad("is not an integer");
            out[k] = x;
        } else if (p->type == "float") {
            double x = std::strtod(v.c_str(), &end);
            if (v.empty() || *end || !std::isfinite(x)) bad("is not a number");
            out[k] = x;
        } else if (p->type == "bool") {
            if (v == "true" || v == "1" || v == "yes")
                out[k] = true;
            else if (v == "false" || v == "0" || v == "no")
                out[k] = false;
            else
                bad("is not true/false");
        } else if (p->type == "scorer") {
            if (!find_scorer(v)) {
                std::string all;
                for (const auto& c : scorer_ids()) all += (all.empty() ? "" : ", ") + c;
                bad("is not a known scorer (available: " + all + ")");
            }
            out[k] = v;
        } else if (p->type == "choice") {
            if (std::find(p->choices.begin(), p->choices.end(), v) == p->choices.end()) {
                std::string all;
                for (const auto& c : p->choices) all += (all.empty() ? "" : ", ") + c;
                bad("is not one of: " + all);
            }
            out[k] = v;
        } else {
            out[k] = v;
        }
    }
    for (const auto& p : info.params) {
        const auto& val = out[p.name];
        if (!val.is_number()) continue;
        double x = val.get<double>();
        if ((!p.min.is_null() && x < p.min.get<double>()) ||
            (!p.max.is_null() && x > p.max.get<double>())) {
            std::ostringstream s;
            s << info.id << ": parameter " << p.name << " = " << val.dump() << " is outside ["
              << p.min.dump() << ", " << p.max.dump() << "]";
            throw Error(s.str());
        }
    }
    return out;
}

std::string describe_current_exception() {
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (const char* m) {
        return std::string("a thrown string (not a std::exception): ") + (m ? m : "null");
    } catch (const std::string& m) {
        return "a thrown std::string (not a std::exception): " + m;
    } catch (int v) {
        return "a thrown int " + std::to_string(v) + " (not a std::exception)";
    } catch (...) {
        return "an exception of an unknown type (not a std::exception)";
    }
}

RunOutcome run_strategy(Strategy& s, SearchContext& ctx, const Params& params) {
    RunOutcome out;
    try {
        s.run(ctx, params);
        out.status = ctx.budget_exhausted() ? "budget" : "ok";
    } catch (const SearchStopped&) {
        // The strategy kept expanding after the stop: the runtime ended it.
        out.status = ctx.budget_exhausted() ? "budget" : "ok";
    } catch (const std::exception& e) {
        out.status = "error";
        out.error = e.what();
    } catch (...) {
        // A plugin may throw anything; the run fails, the process goes on.
        out.status = "error";
        out.error = "the strategy failed with " + describe_current_exception();
    }
    if (out.status != "error" && ctx.should_stop() && !ctx.budget_exhausted())
        out.status = "cancelled";
    ctx.finish(out.status);
    out.answer = ctx.chosen_answer();
    out.correct = ctx.task().answer.empty() || out.answer.empty()
                      ? -1
                      : answers_equal(out.answer, ctx.task().answer);
    out.metrics = ctx.metrics();
    return out;
}

int choose_best_scored(SearchContext& ctx, const std::vector<int>& nodes,
                       const std::string& score_key) {
    int best = -1;
    double best_score = 0;
    for (int id : nodes) {
        const Node& n = ctx.node(id);
        if (n.answer.empty()) continue;
        auto it = n.scores.find(score_key);
        const double s = it == n.scores.end() ? 0.0 : it->second;
        if (best < 0 || s > best_score) {  // any score, negative ones (log-scores) too
            best_score = s;
            best = id;
        }
    }
    if (best >= 0) ctx.choose_answer(ctx.node(best).answer, best);
    return best;
}

std::vector<Vote> vote(const SearchContext& ctx, const std::vector<int>& leaves,
                       const std::string& weight_key) {
    // Mean token log-probability along a leaf's path: the representative of
    // an answer is its most confident trace.
    auto confidence = [&](int id) {
        double s = 0;
        size_t n = 0;
        for (int p : ctx.tree().path(id))
            for (const auto& t : ctx.node(p).tokens) {
                s += t.logprob;
                ++n;
            }
        return n ? s / static_cast<double>(n) : 0.0;
    };
    std::map<std::string, Vote> by;
    std::map<std::string, double> best_conf;
    for (int id : leaves) {
        const Node& n = ctx.node(id);
        if (n.answer.empty()) continue;
        const std::string key = normalize_answer(n.answer);
        Vote& v = by[key];
        v.answer = key;
        double w = 1.0;
        if (!weight_key.empty()) {
            auto it = n.scores.find(weight_key);
            w = it == n.scores.end() ? 0.0 : it->second;
        }
        v.weight += w;
        v.count += 1;
        const double c = confidence(id);
        if (v.best_node < 0 || c > best_conf[key]) {
            v.best_node = id;
            best_conf[key] = c;
        }
    }
    std::vector<Vote> out;
    for (auto& [k, v] : by) out.push_back(v);
    std::stable_sort(out.begin(), out.end(), [](const Vote& a, const Vote& b) {
        return a.weight > b.weight || (a.weight == b.weight && a.count > b.count);
    });
    return out;
}

}  // namespace rs
