#include "reasonscope/tree.h"

#include <algorithm>

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

}  // namespace rs
