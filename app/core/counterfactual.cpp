#include "core/counterfactual.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "reasonscope/error.h"

namespace rs::app {

BranchRequest counterfactual_request(const RunRow& run, const ReasoningTree& tree,
                                     const BranchChoice& c) {
    if (c.node <= 0 || c.node >= tree.size())
        throw Error("no node " + std::to_string(c.node) +
                    " to branch from (the run has nodes 1 to " + std::to_string(tree.size() - 1) +
                    ")");
    const Node& from = tree.at(c.node);
    if (c.index < 0 || static_cast<size_t>(c.index) >= from.tokens.size())
        throw Error("node " + std::to_string(c.node) + " has no token " + std::to_string(c.index) +
                    " (it has " + std::to_string(from.tokens.size()) + ")");
    const TokenRecord& tok = from.tokens[static_cast<size_t>(c.index)];
    BranchRequest out;
    bool found = false;
    for (size_t k = 0; k < tok.top.size(); ++k)
        if (tok.top[k].first == c.alternative && tok.top[k].first != tok.id) {
            found = true;
            if (k < tok.top_pieces.size()) out.forced_piece = tok.top_pieces[k];
        }
    if (!found) {
        std::string alts;
        for (size_t k = 0; k < tok.top.size(); ++k)
            if (tok.top[k].first != tok.id)
                alts +=
                    (alts.empty() ? "" : ", ") + std::to_string(tok.top[k].first) +
                    (k < tok.top_pieces.size()
                         ? " " + nlohmann::json(tok.top_pieces[k])
                                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                         : std::string());
        const std::string where =
            "token " + std::to_string(c.index) + " of node " + std::to_string(c.node);
        throw Error((c.alternative < 0 ? "choose the token to put at " + where
                                       : "token " + std::to_string(c.alternative) +
                                             " is not a recorded alternative of " + where) +
                    (alts.empty() ? " (it has none recorded)" : "; its alternatives: " + alts));
    }
    out.replaced_piece = tok.piece;
    // The trace up to the departure, then the alternative.
    std::string prefix;
    for (int id : tree.path(c.node)) {
        const Node& n = tree.at(id);
        if (n.parent < 0) continue;
        const size_t upto = id == c.node ? static_cast<size_t>(c.index) : n.tokens.size();
        for (size_t k = 0; k < upto && k < n.tokens.size(); ++k) prefix += n.tokens[k].piece;
    }
    RunRequest& req = out.request;
    req.strategy = "chain-of-thought";
    req.seed = c.seed;
    out.sampling = "greedy";
    if (c.sample_like_run) {  // chain of thought's one sampling knob, and the run's seed
        const auto params = nlohmann::json::parse(run.params, nullptr, false);
        const double temp = params.is_object() && params.contains("temperature") &&
                                    params["temperature"].is_number()
                                ? params["temperature"].get<double>()
                                : 0.0;
        std::ostringstream t;
        t.precision(17);
        t << temp;
        req.sets.push_back({"temperature", t.str()});
        req.seed = static_cast<uint64_t>(run.seed);
        out.sampling =
            "temperature " + nlohmann::json(temp).dump() + ", seed " + std::to_string(run.seed);
    }
    out.linked = run.id > 0 && !from.scores.count(kCounterfactualRunScore);
    if (out.linked) req.counterfactual_of = {run.id, c.node, c.index, c.alternative};
    const std::string id = run.task_id.empty() ? "prompt" : run.task_id + "-counterfactual";
    if (!run.prompt_rendered.empty()) {
        // A chat run: the same rendered prompt, the trace continued after it.
        req.task = Task{id, run.prompt, run.expected, ""};
        req.prompt.rendered = run.prompt_rendered;
        req.prompt.continuation = prefix + out.forced_piece;
    } else {
        req.task = Task{id, run.prompt + prefix + out.forced_piece, run.expected, ""};
    }
    req.suite = run.suite;
    return out;
}

GraftedRun graft_counterfactual(const StoredRun& parent, const StoredRun& branch) {
    const RunRow& b = branch.run;
    const std::string what = "run " + std::to_string(b.id) + " (a counterfactual branch of run " +
                             std::to_string(b.parent_run) + ")";
    if (b.parent_run <= 0 || b.parent_run != parent.run.id)
        throw Error("run " + std::to_string(b.id) + " is not a counterfactual branch of run " +
                    std::to_string(parent.run.id));
    const ReasoningTree& pt = parent.tree;
    if (b.parent_node <= 0 || b.parent_node >= pt.size())
        throw Error(what + " departs from node " + std::to_string(b.parent_node) + ", which run " +
                    std::to_string(parent.run.id) + " does not have");
    const Node& dep = pt.at(b.parent_node);
    if (b.parent_token < 0 || static_cast<size_t>(b.parent_token) >= dep.tokens.size())
        throw Error(what + " departs at token " + std::to_string(b.parent_token) + " of node " +
                    std::to_string(b.parent_node) + ", which has " +
                    std::to_string(dep.tokens.size()) + " tokens");

    GraftedRun g;
    g.run.run = parent.run;
    g.run.metrics = parent.metrics;
    g.run.tree = pt;
    ReasoningTree& t = g.run.tree;
    const double branch_id = static_cast<double>(b.id);

    // A sibling of the departure node: the shared tokens, then the forced one.
    const TokenRecord& replaced = dep.tokens[static_cast<size_t>(b.parent_token)];
    TokenRecord forced = replaced;  // the same distribution, another token
    forced.id = b.forced_token;
    forced.forced = true;
    forced.piece.clear();
    forced.logprob = -std::numeric_limits<float>::infinity();  // not among the alternatives
    for (size_t k = 0; k < replaced.top.size(); ++k)
        if (replaced.top[k].first == b.forced_token) {
            forced.logprob = replaced.top[k].second;
            if (k < replaced.top_pieces.size()) forced.piece = replaced.top_pieces[k];
        }
    const int dep_parent = dep.parent;
    const std::vector<TokenRecord> shared(dep.tokens.begin(), dep.tokens.begin() + b.parent_token);
    auto departure_sibling = [&] {
        const int id = t.add(dep_parent);
        Node& n = t.at(id);
        for (const TokenRecord& r : shared) {
            n.tokens.push_back(r);
            n.text += r.piece;
        }
        n.tokens.push_back(forced);
        n.text += forced.piece;
        n.scores[kCounterfactualRunScore] = branch_id;
        return id;
    };

    // The branch's steps: each first step (a child of its root, the prompt)
    // continues a departure sibling; the rest keep their shape below.
    const ReasoningTree& bt = branch.tree;
    std::vector<int> map(static_cast<size_t>(bt.size()), -1);
    for (const Node& src : bt.nodes()) {
        if (src.parent < 0) continue;
        const int id = src.parent == 0 ? departure_sibling()
                       : map[static_cast<size_t>(src.parent)] >= 0
                           ? t.add(map[static_cast<size_t>(src.parent)])
                           : -1;
        if (id < 0) continue;  // below a node lost before it was stored
        if (g.first < 0) g.first = id;
        map[static_cast<size_t>(src.id)] = id;
        Node& n = t.at(id);
        for (const TokenRecord& r : src.tokens) n.tokens.push_back(r);
        n.text += src.text;
        n.status = src.status;
        n.ended = src.ended;
        n.answer = src.answer;
        n.correct = src.correct;
        for (const auto& [k, v] : src.scores) n.scores[k] = v;
        n.scores[kCounterfactualRunScore] = branch_id;
        n.visits = src.visits;
        n.value_sum = src.value_sum;
        n.hidden = src.hidden;
        n.started_at = src.started_at;  // on the branch's own clock
        n.ended_at = src.ended_at;
    }
    if (g.first < 0) g.first = departure_sibling();  // the branch grew nothing
    // The branch's chosen trace ends at its chosen node; without one, at its
    // deepest last-added leaf.
    int chosen = b.chosen_node > 0 && b.chosen_node < bt.size()
                     ? map[static_cast<size_t>(b.chosen_node)]
                     : -1;
    if (chosen < 0)
        for (int k = bt.size() - 1; k > 0 && chosen < 0; --k)
            if (bt.at(k).children.empty()) chosen = map[static_cast<size_t>(k)];
    g.chosen = chosen >= 0 ? chosen : g.first;
    return g;
}

}  // namespace rs::app
