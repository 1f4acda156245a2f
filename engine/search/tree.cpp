#include "reasonscope/tree.h"

#include <algorithm>
#include <type_traits>

#include "reasonscope/events.h"

namespace rs {

const char* status_name(NodeStatus s) {
    switch (s) {
        case NodeStatus::Open:
            return "open";
        case NodeStatus::Expanded:
            return "expanded";
        case NodeStatus::Pruned:
            return "pruned";
        case NodeStatus::Terminal:
            return "terminal";
    }
    return "?";
}

double Node::mean_logprob() const {
    if (tokens.empty()) return 0;
    double s = 0;
    for (const auto& t : tokens) s += t.logprob;
    return s / static_cast<double>(tokens.size());
}

double Node::mean_entropy() const {
    if (tokens.empty()) return 0;
    double s = 0;
    for (const auto& t : tokens) s += t.entropy;
    return s / static_cast<double>(tokens.size());
}

int Node::thinking_tokens() const {
    int n = 0;
    for (const auto& t : tokens) n += t.thinking;
    return n;
}

std::string Node::answer_text() const {
    if (thinking_tokens() == 0) return text;
    std::string s;
    for (const auto& t : tokens)
        if (!t.thinking) s += t.piece;
    return s;
}

int ReasoningTree::add(int parent) {
    Node n;
    n.id = static_cast<int>(nodes_.size());
    n.parent = parent;
    if (parent >= 0) {
        n.depth = at(parent).depth + 1;
        at(parent).children.push_back(n.id);
    }
    nodes_.push_back(std::move(n));
    return nodes_.back().id;
}

std::vector<int> ReasoningTree::path(int id) const {
    std::vector<int> p;
    for (int n = id; n >= 0; n = at(n).parent) p.push_back(n);
    std::reverse(p.begin(), p.end());
    return p;
}

std::string ReasoningTree::path_text(int id) const {
    std::string s;
    for (int n : path(id))
        if (at(n).parent >= 0) s += at(n).text;
    return s;
}

std::vector<int> ReasoningTree::leaves() const {
    std::vector<int> v;
    for (const auto& n : nodes_)
        if (n.children.empty()) v.push_back(n.id);
    return v;
}

int ReasoningTree::max_depth() const {
    int d = 0;
    for (const auto& n : nodes_) d = std::max(d, n.depth);
    return d;
}

// Run events (events.h) live here, next to the tree they change: apply_event() is
// the only code that turns an event into a change of a tree.

const char* event_name(const RunEvent& e) {
    return std::visit([](const auto& x) { return event_name(x); }, e);
}

int event_node(const RunEvent& e) {
    return std::visit(
        [](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, RunStarted> || std::is_same_v<T, MetricsSampled> ||
                          std::is_same_v<T, RunFinished>)
                return -1;
            else
                return x.node;
        },
        e);
}

void apply_event(ReasoningTree& tree, const RunEvent& e) {
    if (const auto* a = std::get_if<NodeAdded>(&e)) {
        if (a->node != tree.size() || a->parent >= tree.size()) return;
        int id = tree.add(a->parent);
        Node& n = tree.at(id);
        n.text = a->text;
        n.started_at = n.ended_at = a->at;
        return;
    }
    const int id = event_node(e);
    if (id < 0 || id >= tree.size()) return;
    Node& n = tree.at(id);
    if (const auto* t = std::get_if<TokensAppended>(&e)) {
        for (const TokenRecord& r : t->tokens) {
            n.text += r.piece;
            n.tokens.push_back(r);
        }
        if (!t->tokens.empty()) n.ended_at = t->at;
    } else if (const auto* s = std::get_if<NodeStatusChanged>(&e)) {
        n.status = s->status;
    } else if (const auto* sc = std::get_if<NodeScored>(&e)) {
        n.scores[sc->scorer] = sc->value;
    } else if (const auto* st = std::get_if<NodeStats>(&e)) {
        n.visits = st->visits;
        n.value_sum = st->value_sum;
    } else if (std::holds_alternative<NodeEnded>(e)) {
        n.ended = true;
    } else if (const auto* af = std::get_if<AnswerFound>(&e)) {
        n.answer = af->answer;
        n.correct = af->correct;
    } else if (const auto* h = std::get_if<HiddenState>(&e)) {
        if (h->layers.empty()) return;
        const size_t dim = h->hidden.size() / h->layers.size();
        n.hidden.assign(h->hidden.begin(), h->hidden.begin() + static_cast<long>(dim));
    }
}

}  // namespace rs
