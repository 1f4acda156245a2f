// Node-by-node comparison of two reasoning trees, for tests: every field a
// run keeps (structure, text, status, ended, answer, correct, scores, visits,
// value_sum, every token's signals and alternatives, the hidden state; the
// nodes' wall times when asked: two runs of one search differ in them).
// Returns "" when equal, else the first difference in words.
#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "cpu/fp16.h"
#include "reasonscope/tree.h"

namespace rs::test {

enum class Hidden {
    Exact,  // bit for bit
    Fp16,   // as the run store keeps it: each value rounded to float16
    Skip    // not kept (JSON exports)
};

enum class Times { Skip, Exact };

inline std::string tree_difference(const ReasoningTree& got, const ReasoningTree& want,
                                   Hidden hidden = Hidden::Exact, Times times = Times::Skip) {
    std::ostringstream d;
    if (got.size() != want.size()) {
        d << "tree has " << got.size() << " nodes, expected " << want.size();
        return d.str();
    }
    for (int i = 0; i < want.size(); ++i) {
        const Node &g = got.at(i), &w = want.at(i);
        auto differ = [&](const char* field, const auto& a, const auto& b) {
            d << "node " << i << ": " << field << " is " << a << ", expected " << b;
            return d.str();
        };
        if (g.id != w.id) return differ("id", g.id, w.id);
        if (g.parent != w.parent) return differ("parent", g.parent, w.parent);
        if (g.depth != w.depth) return differ("depth", g.depth, w.depth);
        if (g.children != w.children)
            return differ("child count", g.children.size(), w.children.size());
        if (g.text != w.text) return differ("text", "'" + g.text + "'", "'" + w.text + "'");
        if (g.status != w.status)
            return differ("status", status_name(g.status), status_name(w.status));
        if (g.ended != w.ended) return differ("ended", g.ended, w.ended);
        if (g.answer != w.answer) return differ("answer", g.answer, w.answer);
        if (g.correct != w.correct) return differ("correct", g.correct, w.correct);
        if (g.visits != w.visits) return differ("visits", g.visits, w.visits);
        if (g.value_sum != w.value_sum) return differ("value_sum", g.value_sum, w.value_sum);
        auto same = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
        if (times == Times::Exact && !same(g.started_at, w.started_at))
            return differ("started_at", g.started_at, w.started_at);
        if (times == Times::Exact && !same(g.ended_at, w.ended_at))
            return differ("ended_at", g.ended_at, w.ended_at);
        if (g.scores.size() != w.scores.size())
            return differ("score count", g.scores.size(), w.scores.size());
        for (const auto& [k, v] : w.scores) {
            auto it = g.scores.find(k);
            if (it == g.scores.end()) return differ("scores", "missing " + k, v);
            if (it->second != v) return differ(("score " + k).c_str(), it->second, v);
        }
        if (g.tokens.size() != w.tokens.size())
            return differ("token count", g.tokens.size(), w.tokens.size());
        for (size_t t = 0; t < w.tokens.size(); ++t) {
            const TokenRecord &a = g.tokens[t], &b = w.tokens[t];
            const std::string at = "token " + std::to_string(t) + " ";
            if (a.id != b.id) return differ((at + "id").c_str(), a.id, b.id);
            if (a.piece != b.piece) return differ((at + "piece").c_str(), a.piece, b.piece);
            if (a.logprob != b.logprob)
                return differ((at + "logprob").c_str(), a.logprob, b.logprob);
            if (a.entropy != b.entropy)
                return differ((at + "entropy").c_str(), a.entropy, b.entropy);
            if (a.varentropy != b.varentropy)
                return differ((at + "varentropy").c_str(), a.varentropy, b.varentropy);
            if (a.self_certainty != b.self_certainty &&
                !(std::isnan(a.self_certainty) && std::isnan(b.self_certainty)))
                return differ((at + "self-certainty").c_str(), a.self_certainty, b.self_certainty);
            if (a.top.size() != b.top.size())
                return differ((at + "alternatives").c_str(), a.top.size(), b.top.size());
            for (size_t k = 0; k < b.top.size(); ++k) {
                if (a.top[k].first != b.top[k].first)
                    return differ((at + "alternative id").c_str(), a.top[k].first, b.top[k].first);
                if (a.top[k].second != b.top[k].second)
                    return differ((at + "alternative logprob").c_str(), a.top[k].second,
                                  b.top[k].second);
            }
            if (a.top_pieces != b.top_pieces)
                return differ((at + "alternative pieces").c_str(), a.top_pieces.size(),
                              b.top_pieces.size());
        }
        if (hidden == Hidden::Skip) continue;
        if (g.hidden.size() != w.hidden.size())
            return differ("hidden size", g.hidden.size(), w.hidden.size());
        for (size_t k = 0; k < w.hidden.size(); ++k) {
            const float want_h = hidden == Hidden::Fp16
                                     ? kernels::fp16_to_fp32(kernels::fp32_to_fp16(w.hidden[k]))
                                     : w.hidden[k];
            if (g.hidden[k] != want_h)
                return differ(("hidden[" + std::to_string(k) + "]").c_str(), g.hidden[k], want_h);
        }
    }
    return "";
}

}  // namespace rs::test
