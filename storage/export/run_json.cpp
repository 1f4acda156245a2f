// JSON form of a whole run (documented in docs/schema.md), and comparison.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "reasonscope/error.h"
#include "reasonscope/json_limits.h"
#include "reasonscope/run_export.h"
#include "reasonscope/step_signals.h"
#include "reasonscope/text_safety.h"
#include "reasonscope/trace_diff.h"

namespace rs {

namespace {
using nlohmann::json;

NodeStatus status_from(const std::string& s) {
    if (s == "expanded") return NodeStatus::Expanded;
    if (s == "pruned") return NodeStatus::Pruned;
    if (s == "terminal") return NodeStatus::Terminal;
    if (s == "open") return NodeStatus::Open;
    throw Error("unknown node status '" + s + "'");
}

// JSON has no NaN or infinity (the writer puts null for them): null reads as NaN.
double number_or_nan(const json& v) {
    return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}

// A float field: beyond float's range is infinity (a plain conversion of
// 1e300 would be undefined behaviour).
float float_or_nan(const json& v) {
    const double d = number_or_nan(v);
    if (std::fabs(d) > std::numeric_limits<float>::max())
        return d > 0 ? std::numeric_limits<float>::infinity()
                     : -std::numeric_limits<float>::infinity();
    return static_cast<float>(d);
}

// An integer in [lo, hi]: a JSON number may be a float (1e20) or out of
// range, which converting would wrap or make undefined. Throws rs::Error
// naming the field.
int64_t int_in(const json& v, const std::string& what, int64_t lo, int64_t hi) {
    auto bad = [&] {
        throw Error("run import: " + what + " = " + v.dump() + " is not an integer in [" +
                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
    };
    if (v.is_number_unsigned()) {
        if (v.get<uint64_t>() > static_cast<uint64_t>(hi)) bad();
        return static_cast<int64_t>(v.get<uint64_t>());
    }
    if (v.is_number_integer()) {
        const auto i = v.get<int64_t>();
        if (i < lo || i > hi) bad();
        return i;
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        // (hi + 1.0 rounds to 2^63 for INT64_MAX: below it every double converts.)
        if (!(d >= static_cast<double>(lo) && d < static_cast<double>(hi) + 1.0) ||
            d != std::floor(d))
            bad();
        return static_cast<int64_t>(d);
    }
    bad();
    return 0;
}
constexpr int64_t kInt = std::numeric_limits<int>::max();
constexpr int64_t kI64 = std::numeric_limits<int64_t>::max();
// obj[key] in [lo, hi], or dflt when absent or null.
int64_t int_field(const json& obj, const char* key, int64_t dflt, int64_t lo, int64_t hi,
                  const std::string& where = "run.") {
    if (!obj.contains(key) || obj[key].is_null()) return dflt;
    return int_in(obj[key], where + key, lo, hi);
}
}  // namespace

json run_to_json(const StoredRun& r) {
    const RunRow& x = r.run;
    json run = {{"id", x.id},
                {"name", x.name},
                {"created_at", x.created_at},
                {"finished_at", x.finished_at},
                {"status", x.status},
                {"model_path", x.model_path},
                {"model_name", x.model_name},
                {"model_bytes", x.model_bytes},
                {"model_hash", x.model_hash},
                {"backend", x.backend},
                {"backend_reason", x.backend_reason},
                {"strategy", x.strategy},
                {"params", parse_json_bounded(x.params.empty() ? "{}" : x.params, "run params")},
                {"suite", x.suite},
                {"task_id", x.task_id},
                {"prompt", x.prompt},
                {"expected", x.expected},
                {"seed", x.seed},
                {"answer", x.answer},
                {"chosen_node", x.chosen_node},
                {"correct", x.correct < 0 ? json() : json(x.correct == 1)},
                {"tokens", x.tokens},
                {"forward_passes", x.forward_passes},
                {"wall_seconds", x.wall_seconds},
                {"kv_peak_bytes", x.kv_peak_bytes},
                {"node_count", x.node_count},
                {"app_version", x.app_version},
                {"error", x.error},
                {"status_reason", x.status_reason},
                {"tags", x.tags}};
    // A counterfactual branch names where it departs (ids of the store it
    // came from: an import does not keep the link).
    if (x.parent_run > 0)
        run["counterfactual_of"] = {{"run", x.parent_run},
                                    {"node", x.parent_node},
                                    {"token", x.parent_token},
                                    {"forced_token", x.forced_token}};
    json nodes = json::array();
    for (const Node& n : r.tree.nodes()) {
        json toks = json::array();
        for (const auto& t : n.tokens) {
            json top = json::array();
            for (size_t i = 0; i < t.top.size(); ++i)
                top.push_back({t.top[i].first, t.top[i].second,
                               i < t.top_pieces.size() ? t.top_pieces[i] : ""});
            toks.push_back({{"id", t.id},
                            {"piece", t.piece},
                            {"logprob", t.logprob},
                            {"entropy", t.entropy},
                            {"varentropy", t.varentropy},
                            {"self_certainty", t.self_certainty},  // NaN (unknown): null
                            {"top", top}});
        }
        // The step's signals (reasonscope/step_signals.h), for readers that
        // do not recompute them; null where absent.
        json signals = json::object();
        const StepSignals sig = step_signals(r.tree, n.id);
        for (const auto& [name, what] : step_signal_names()) {
            const double v = step_signal_value(sig, name);
            signals[name] = std::isfinite(v) ? json(v) : json();
        }
        nodes.push_back({{"id", n.id},
                         {"parent", n.parent},
                         {"depth", n.depth},
                         {"status", status_name(n.status)},
                         {"text", n.text},
                         {"answer", n.answer},
                         {"correct", n.correct < 0 ? json() : json(n.correct == 1)},
                         {"ended", n.ended},
                         {"visits", n.visits},
                         {"value_sum", n.value_sum},
                         {"started_at", n.started_at},  // NaN (unknown): null
                         {"ended_at", n.ended_at},
                         {"scores", n.scores},
                         {"signals", signals},
                         {"tokens", toks}});
    }
    json metrics = json::array();
    for (const auto& m : r.metrics)
        metrics.push_back({{"t", m.wall_seconds},
                           {"tokens", m.tokens_generated},
                           {"forward_passes", m.forward_passes},
                           {"branches", m.branches_alive},
                           {"kv_bytes", m.kv_bytes},
                           {"tokens_per_s", m.tokens_per_second}});
    return {{"format", "reasonscope-run"},
            {"version", 1},
            {"run", run},
            {"nodes", nodes},
            {"metrics", metrics}};
}

StoredRun run_from_json(const json& j) {
    StoredRun out;
    try {
        if (j.value("format", "") != "reasonscope-run")
            throw Error("not a Reasonscope run export (format field)");
        const json& x = j.at("run");
        RunRow& r = out.run;
        r.name = x.value("name", "");
        r.created_at = x.value("created_at", "");
        r.finished_at = x.value("finished_at", "");
        r.status = x.value("status", "ok");
        r.model_path = x.value("model_path", "");
        r.model_name = x.value("model_name", "");
        r.model_bytes = int_field(x, "model_bytes", 0, 0, kI64);
        r.model_hash = x.value("model_hash", "");
        r.backend = x.value("backend", "");
        r.backend_reason = x.value("backend_reason", "");
        r.strategy = x.at("strategy").get<std::string>();
        r.params = x.value("params", json::object()).dump();
        r.suite = x.value("suite", "");
        r.task_id = x.value("task_id", "");
        r.prompt = x.at("prompt").get<std::string>();
        r.expected = x.value("expected", "");
        r.seed = int_field(x, "seed", 0, std::numeric_limits<int64_t>::min(), kI64);
        r.answer = x.value("answer", "");
        r.chosen_node = static_cast<int>(int_field(x, "chosen_node", -1, -1, kInt));
        r.correct = x.contains("correct") && x["correct"].is_boolean()
                        ? (x["correct"].get<bool>() ? 1 : 0)
                        : -1;
        r.tokens = int_field(x, "tokens", 0, 0, kI64);
        r.forward_passes = int_field(x, "forward_passes", 0, 0, kI64);
        r.wall_seconds = x.value("wall_seconds", 0.0);
        r.kv_peak_bytes = int_field(x, "kv_peak_bytes", 0, 0, kI64);
        r.node_count = int_field(x, "node_count", 0, 0, kI64);
        r.app_version = x.value("app_version", "");
        r.error = x.value("error", "");
        r.status_reason = x.value("status_reason", "");
        r.tags = x.value("tags", std::vector<std::string>{});
        for (const json& n : j.at("nodes")) {
            const std::string at = "node " + std::to_string(out.tree.size()) + " ";
            const int id = static_cast<int>(int_in(n.at("id"), at + "id", 0, kInt));
            const int parent = static_cast<int>(int_in(n.at("parent"), at + "parent", -1, kInt));
            if (id != out.tree.size())
                throw Error("node ids must be 0, 1, 2, ... in order (found " + std::to_string(id) +
                            ")");
            if (parent >= id) throw Error("node " + std::to_string(id) + " has a later parent");
            if ((id == 0) != (parent < 0))
                throw Error("node " + std::to_string(id) +
                            (id == 0 ? " (the root) has a parent" : " has no parent"));
            int k = out.tree.add(parent);
            Node& nd = out.tree.at(k);
            nd.status = status_from(n.at("status").get<std::string>());
            nd.text = n.value("text", "");
            nd.answer = n.value("answer", "");
            nd.correct = n.contains("correct") && n["correct"].is_boolean()
                             ? (n["correct"].get<bool>() ? 1 : 0)
                             : -1;
            nd.ended = n.value("ended", false);
            nd.visits = static_cast<int>(int_field(n, "visits", 0, 0, kInt, at));
            nd.value_sum = n.contains("value_sum") ? number_or_nan(n["value_sum"]) : 0.0;
            if (n.contains("started_at")) nd.started_at = number_or_nan(n["started_at"]);
            if (n.contains("ended_at")) nd.ended_at = number_or_nan(n["ended_at"]);
            if (n.contains("scores"))
                for (const auto& [k, v] : n["scores"].items()) nd.scores[k] = number_or_nan(v);
            for (const json& t : n.value("tokens", json::array())) {
                TokenRecord tr;
                tr.id = static_cast<TokenId>(int_in(t.at("id"), at + "token id", 0, kInt));
                tr.piece = t.at("piece").get<std::string>();
                tr.logprob = float_or_nan(t.at("logprob"));
                tr.entropy = float_or_nan(t.at("entropy"));
                tr.varentropy = float_or_nan(t.at("varentropy"));
                if (t.contains("self_certainty"))
                    tr.self_certainty = float_or_nan(t["self_certainty"]);
                for (const json& a : t.value("top", json::array())) {
                    tr.top.push_back(
                        {static_cast<TokenId>(int_in(a.at(0), at + "alternative id", 0, kInt)),
                         float_or_nan(a.at(1))});
                    tr.top_pieces.push_back(a.size() > 2 ? a.at(2).get<std::string>() : "");
                }
                nd.tokens.push_back(std::move(tr));
            }
        }
        for (const json& m : j.value("metrics", json::array())) {
            RunMetrics x2;
            x2.wall_seconds = m.value("t", 0.0);
            x2.tokens_generated = int_field(m, "tokens", 0, 0, kI64, "metrics.");
            x2.forward_passes = int_field(m, "forward_passes", 0, 0, kI64, "metrics.");
            x2.branches_alive = static_cast<int>(int_field(m, "branches", 0, 0, kInt, "metrics."));
            x2.kv_bytes = int_field(m, "kv_bytes", 0, 0, kI64, "metrics.");
            x2.tokens_per_second = m.value("tokens_per_s", 0.0);
            out.metrics.push_back(x2);
        }
    } catch (const json::exception& e) {
        throw Error(std::string("run import: ") + e.what());
    }
    if (out.tree.size() == 0) throw Error("run import: no nodes");
    return out;
}

std::vector<int> chosen_path(const StoredRun& r) {
    const ReasoningTree& t = r.tree;
    if (t.size() == 0) return {};
    int pick = r.run.chosen_node >= 0 && r.run.chosen_node < t.size() ? r.run.chosen_node : -1;
    if (pick < 0) {
        int best_depth = -1;
        for (const Node& n : t.nodes()) {
            int rank = (n.correct == 1 ? 2000 : 0) + (!n.answer.empty() ? 1000 : 0) + n.depth;
            if (rank > best_depth) {
                best_depth = rank;
                pick = n.id;
            }
        }
    }
    return t.path(pick);
}

namespace {

struct Shape {
    int nodes = 0, depth = 0, leaves = 0, terminal = 0, pruned = 0;
    double branching = 0, mean_entropy = 0, max_entropy = 0;
    std::map<std::string, int> answers;
};

Shape shape_of(const StoredRun& r) {
    Shape s;
    const auto& ns = r.tree.nodes();
    s.nodes = static_cast<int>(ns.size());
    int internal = 0, children = 0;
    double hs = 0;
    size_t nt = 0;
    for (const Node& n : ns) {
        s.depth = std::max(s.depth, n.depth);
        if (n.children.empty())
            ++s.leaves;
        else {
            ++internal;
            children += static_cast<int>(n.children.size());
        }
        s.terminal += n.status == NodeStatus::Terminal;
        s.pruned += n.status == NodeStatus::Pruned;
        if (!n.answer.empty()) s.answers[n.answer]++;
        for (const auto& t : n.tokens) {
            hs += t.entropy;
            s.max_entropy = std::max(s.max_entropy, static_cast<double>(t.entropy));
            ++nt;
        }
    }
    s.branching = internal ? static_cast<double>(children) / internal : 0;
    s.mean_entropy = nt ? hs / static_cast<double>(nt) : 0;
    return s;
}

}  // namespace

json compare_runs(const StoredRun& a, const StoredRun& b) {
    // Stored text may be any bytes: the comparison holds valid UTF-8 only.
    const auto u = [](const std::string& v) { return text::valid_utf8(v); };
    auto side = [&u](const StoredRun& r) {
        Shape s = shape_of(r);
        std::map<std::string, int> answers;
        for (const auto& [a, n] : s.answers) answers[u(a)] += n;
        return json{{"id", r.run.id},
                    {"name", u(r.run.name)},
                    {"strategy", u(r.run.strategy)},
                    {"params",
                     parse_json_bounded(r.run.params.empty() ? "{}" : r.run.params, "run params")},
                    {"model", u(r.run.model_name)},
                    {"task", u(r.run.task_id)},
                    {"seed", r.run.seed},
                    {"answer", u(r.run.answer)},
                    {"correct", r.run.correct < 0 ? json() : json(r.run.correct == 1)},
                    {"tokens", r.run.tokens},
                    {"forward_passes", r.run.forward_passes},
                    {"wall_seconds", r.run.wall_seconds},
                    {"nodes", s.nodes},
                    {"depth", s.depth},
                    {"leaves", s.leaves},
                    {"terminal", s.terminal},
                    {"pruned", s.pruned},
                    {"branching", s.branching},
                    {"mean_entropy", s.mean_entropy},
                    {"max_entropy", s.max_entropy},
                    {"answers", answers}};
    };
    // Where the chosen traces share a prefix and where they diverge.
    auto pa = chosen_path(a), pb = chosen_path(b);
    std::string ta, tb;
    for (int id : pa)
        if (a.tree.at(id).parent >= 0) ta += a.tree.at(id).text;
    for (int id : pb)
        if (b.tree.at(id).parent >= 0) tb += b.tree.at(id).text;
    size_t common = 0;
    while (common < ta.size() && common < tb.size() && ta[common] == tb[common]) ++common;
    // Traces that diverge inside a multibyte character share its first bytes:
    // the excerpts start at the character, and end on a character boundary,
    // so they stay whole characters (and the JSON valid).
    common = text::utf8_floor(ta, common);
    const auto excerpt = [&](const std::string& t) {
        return text::valid_utf8(t.substr(common, text::utf8_floor(t, common + 80) - common));
    };
    size_t line =
        static_cast<size_t>(std::count(ta.begin(), ta.begin() + static_cast<long>(common), '\n'));
    const bool identical = ta == tb;
    json div = {{"identical", identical},
                {"shared_prefix_chars", common},
                // Identical traces do not diverge: no step, nothing continues.
                {"diverge_at_step", identical ? json() : json(line)},
                {"same_prompt", a.run.prompt == b.run.prompt},
                {"a_continues", excerpt(ta)},
                {"b_continues", excerpt(tb)}};
    // Token by token, as the app's compare view aligns them: the first
    // token that differs (the same index in both; null where a trace ended).
    const auto ka = chosen_trace(a), kb = chosen_trace(b);
    const TraceDiff td = diff_traces(ka, kb);
    const auto token = [&](const std::vector<TraceToken>& t) {
        return td.identical || td.common_prefix >= t.size() ? json()
                                                            : json(u(t[td.common_prefix].piece));
    };
    div["shared_prefix_tokens"] = td.common_prefix;
    div["diverge_at_token"] = td.identical ? json() : json(td.common_prefix);
    div["a_token"] = token(ka);
    div["b_token"] = token(kb);
    div["aligned_tokens"] = td.same;
    return {{"a", side(a)}, {"b", side(b)}, {"divergence", div}};
}

std::string compare_to_text(const json& c) {
    std::ostringstream s;
    // A value as JSON text (invalid UTF-8 replaced), cut to whole characters.
    const auto cell = [](const json& v, size_t max) {
        const std::string d = v.dump(-1, ' ', false, json::error_handler_t::replace);
        return d.substr(0, text::utf8_floor(d, max));
    };
    auto row = [&](const char* label, const std::string& key) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "%-16s %-30s %-30s\n", label, cell(c["a"][key], 30).c_str(),
                      cell(c["b"][key], 30).c_str());
        s << buf;
    };
    char head[256];
    std::snprintf(head, sizeof head, "%-16s %-30s %-30s\n", "",
                  ("run " + c["a"]["id"].dump()).c_str(), ("run " + c["b"]["id"].dump()).c_str());
    s << head;
    for (auto [l, k] :
         std::vector<std::pair<const char*, const char*>>{{"strategy", "strategy"},
                                                          {"model", "model"},
                                                          {"task", "task"},
                                                          {"seed", "seed"},
                                                          {"answer", "answer"},
                                                          {"correct", "correct"},
                                                          {"tokens", "tokens"},
                                                          {"forward passes", "forward_passes"},
                                                          {"wall seconds", "wall_seconds"},
                                                          {"nodes", "nodes"},
                                                          {"depth", "depth"},
                                                          {"leaves", "leaves"},
                                                          {"pruned", "pruned"},
                                                          {"branching", "branching"},
                                                          {"mean entropy", "mean_entropy"},
                                                          {"max entropy", "max_entropy"},
                                                          {"answers", "answers"}})
        row(l, k);
    s << "params a: " << cell(c["a"]["params"], std::string::npos)
      << "\nparams b: " << cell(c["b"]["params"], std::string::npos) << "\n";
    const json& d = c["divergence"];
    const char* prompts = d["same_prompt"].get<bool>() ? "" : " (different prompts)";
    if (d.value("identical", false)) {
        // Byte-identical traces have no divergence to report.
        s << "chosen traces are identical (" << d["shared_prefix_chars"].get<size_t>()
          << " characters)" << prompts << "\n";
    } else {
        s << "chosen traces share " << d["shared_prefix_chars"].get<size_t>()
          << " characters and diverge at step " << d["diverge_at_step"].get<size_t>() << prompts
          << "\n";
        if (d.contains("diverge_at_token") && !d["diverge_at_token"].is_null()) {
            const auto tok = [&](const char* key) {
                return d[key].is_null() ? std::string("(ends)") : cell(d[key], 60);
            };
            s << "first differing token: " << d["diverge_at_token"].get<size_t>() << ", a "
              << tok("a_token") << ", b " << tok("b_token") << "\n";
        }
        s << "  a: " << d["a_continues"].get<std::string>()
          << "\n  b: " << d["b_continues"].get<std::string>() << "\n";
    }
    // For a terminal: no escape sequences from model text or names.
    return text::printable(s.str(), true);
}

}  // namespace rs
