#include "reasonscope/step_signals.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace rs {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean_of(const std::vector<double>& v, size_t from, size_t to) {
    double s = 0;
    for (size_t i = from; i < to; ++i) s += v[i];
    return to > from ? s / static_cast<double>(to - from) : 0.0;
}

double distance(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    const size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(a[i]) - b[i];
        s += d * d;
    }
    return std::sqrt(s);
}

}  // namespace

double token_confidence(const TokenRecord& t, int k) {
    const size_t n = k > 0 ? std::min(t.top.size(), static_cast<size_t>(k)) : t.top.size();
    double s = 0;
    int used = 0;
    for (size_t i = 0; i < n; ++i)
        if (std::isfinite(t.top[i].second)) {
            s += t.top[i].second;
            ++used;
        }
    if (used == 0) return -static_cast<double>(t.logprob);
    return -s / used;
}

GroupConfidence group_confidence(const std::vector<double>& c, size_t window) {
    GroupConfidence g;
    if (c.empty()) return g;
    const size_t w = std::clamp<size_t>(window, 1, c.size());
    g.mean = mean_of(c, 0, c.size());
    g.tail = mean_of(c, c.size() - w, c.size());
    g.lowest = g.tail;
    for (size_t end = w; end < c.size(); ++end)
        g.lowest = std::min(g.lowest, mean_of(c, end - w, end));
    return g;
}

LatentChange latent_change(const std::vector<const std::vector<float>*>& states) {
    LatentChange out{kNaN, kNaN, kNaN};
    if (states.size() < 2) return out;
    const std::vector<float>& last = *states.back();
    out.net = distance(last, *states.front());
    double cum = 0, cos_sum = 0;
    for (size_t t = 0; t + 1 < states.size(); ++t) {
        const std::vector<float>& a = *states[t];
        const std::vector<float>& b = *states[t + 1];
        cum += distance(b, a);
        // cos(b - a, last - a); a move of length 0 (or one already at the
        // end) neither heads for nor away from it: 0.
        double dot = 0, nm = 0, ne = 0;
        const size_t n = std::min({a.size(), b.size(), last.size()});
        for (size_t i = 0; i < n; ++i) {
            const double m = static_cast<double>(b[i]) - a[i];
            const double e = static_cast<double>(last[i]) - a[i];
            dot += m * e;
            nm += m * m;
            ne += e * e;
        }
        cos_sum += nm > 0 && ne > 0 ? dot / std::sqrt(nm * ne) : 0.0;
    }
    out.cumulative = cum;
    out.aligned = cos_sum / static_cast<double>(states.size() - 1);
    return out;
}

StepSignals step_signals(const ReasoningTree& tree, int node, int window, int top_k) {
    StepSignals s;
    const Node& n = tree.at(node);
    s.tokens = static_cast<int>(n.tokens.size());
    if (n.tokens.empty()) {
        s.mean_logprob = s.min_logprob = s.mean_entropy = s.mean_varentropy = kNaN;
        s.group_confidence = s.self_certainty = kNaN;
    } else {
        double lp = 0, mn = std::numeric_limits<double>::infinity(), h = 0, v = 0, sc = 0;
        bool has_sc = true;
        std::vector<double> conf;
        conf.reserve(n.tokens.size());
        for (const TokenRecord& t : n.tokens) {
            lp += t.logprob;
            mn = std::min(mn, static_cast<double>(t.logprob));
            h += t.entropy;
            v += t.varentropy;
            has_sc = has_sc && std::isfinite(t.self_certainty);
            sc += t.self_certainty;
            conf.push_back(token_confidence(t, top_k));
        }
        const double k = static_cast<double>(n.tokens.size());
        s.mean_logprob = lp / k;
        s.min_logprob = mn;
        s.mean_entropy = h / k;
        s.mean_varentropy = v / k;
        s.group_confidence =
            group_confidence(conf, static_cast<size_t>(std::max(window, 1))).lowest;
        s.self_certainty = has_sc ? sc / k : kNaN;
    }
    std::vector<const std::vector<float>*> states;
    for (int id : tree.path(node))
        if (!tree.at(id).hidden.empty()) states.push_back(&tree.at(id).hidden);
    // Only a trajectory that reaches this step: a step without its own state
    // (taps off, or its step cut before the tap) has no latent signals.
    if (n.hidden.empty()) states.clear();
    const LatentChange lc = latent_change(states);
    s.latent_net = lc.net;
    s.latent_cumulative = lc.cumulative;
    s.latent_aligned = lc.aligned;
    return s;
}

const std::vector<std::pair<const char*, const char*>>& step_signal_names() {
    static const std::vector<std::pair<const char*, const char*>> names = {
        {"mean_logprob", "mean token log-probability"},
        {"min_logprob", "lowest token log-probability"},
        {"mean_entropy", "mean entropy of the next-token distribution"},
        {"mean_varentropy", "mean varentropy of the next-token distribution"},
        {"group_confidence", "DeepConf: lowest sliding-window mean token confidence"},
        {"self_certainty", "self-certainty: mean KL(uniform || next-token distribution)"},
        {"latent_net", "latent net change ||h_last - h_first|| of the step-end states so far"},
        {"latent_cumulative", "latent cumulative change: the summed moves between step-end states"},
        {"latent_aligned",
         "latent aligned change: mean cosine of each move with the way to the end"},
    };
    return names;
}

double step_signal_value(const StepSignals& s, const char* name) {
    const std::pair<const char*, double> values[] = {
        {"mean_logprob", s.mean_logprob},
        {"min_logprob", s.min_logprob},
        {"mean_entropy", s.mean_entropy},
        {"mean_varentropy", s.mean_varentropy},
        {"group_confidence", s.group_confidence},
        {"self_certainty", s.self_certainty},
        {"latent_net", s.latent_net},
        {"latent_cumulative", s.latent_cumulative},
        {"latent_aligned", s.latent_aligned},
    };
    for (const auto& [k, v] : values)
        if (std::strcmp(k, name) == 0) return v;
    return kNaN;
}

}  // namespace rs
