#include "core/trace_signals.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "reasonscope/step_signals.h"

namespace rs::app {

const std::vector<std::pair<std::string, std::string>>& signal_names() {
    static const std::vector<std::pair<std::string, std::string>> names = {
        {"mean_logprob", "mean token log-probability"},
        {"min_logprob", "lowest token log-probability"},
        {"neg_mean_entropy", "minus the mean token entropy"},
        {"neg_mean_varentropy", "minus the mean token varentropy"},
        {"group_conf_lowest", "DeepConf: lowest sliding-window group confidence"},
        {"group_conf_tail", "DeepConf: confidence of the last window"},
        {"mean_token_conf", "DeepConf: mean token confidence"},
        {"self_certainty", "mean self-certainty, KL(uniform || p) (Kang et al. 2025)"},
        {"latent_aligned", "latent aligned change of the step states (with --taps)"},
        {"latent_straightness", "latent net / cumulative change of the step states (with --taps)"},
        {"neg_latent_cumulative", "minus the latent cumulative change (with --taps)"},
        {"answer_logprob", "mean log-probability of the answer's own step"},
        {"length_neg", "minus the trace length in tokens"},
    };
    return names;
}

std::vector<TraceSignals> trace_signals(const ReasoningTree& tree, const std::string& task,
                                        int window) {
    std::vector<TraceSignals> out;
    window = std::max(window, 1);
    for (int leaf : tree.leaves()) {
        const Node& n = tree.at(leaf);
        if (n.status != NodeStatus::Terminal || n.answer.empty() || n.correct < 0) continue;
        std::vector<const TokenRecord*> toks;
        for (int id : tree.path(leaf))
            for (const TokenRecord& t : tree.at(id).tokens) toks.push_back(&t);
        if (toks.empty()) continue;
        TraceSignals s;
        s.task = task;
        s.leaf = leaf;
        s.correct = n.correct == 1;
        double lp = 0, mn = std::numeric_limits<double>::infinity(), h = 0, v = 0, sc = 0;
        bool has_sc = true;
        std::vector<double> c;
        for (const TokenRecord* t : toks) {
            lp += t->logprob;
            mn = std::min(mn, static_cast<double>(t->logprob));
            h += t->entropy;
            v += t->varentropy;
            has_sc = has_sc && std::isfinite(t->self_certainty);
            sc += t->self_certainty;
            c.push_back(token_confidence(*t));
        }
        const double k = static_cast<double>(toks.size());
        // Group confidence: the mean over each window of `window` tokens
        // (the whole trace when shorter); the lowest and the last (the same
        // function as the per-step signals and the deepconf strategy).
        const GroupConfidence g = group_confidence(c, static_cast<size_t>(window));
        double answer_lp = 0;
        for (const TokenRecord& t : n.tokens) answer_lp += t.logprob;
        s.values = {{"mean_logprob", lp / k},
                    {"min_logprob", mn},
                    {"neg_mean_entropy", -h / k},
                    {"neg_mean_varentropy", -v / k},
                    {"group_conf_lowest", g.lowest},
                    {"group_conf_tail", g.tail},
                    {"mean_token_conf", g.mean},
                    {"answer_logprob",
                     n.tokens.empty() ? 0.0 : answer_lp / static_cast<double>(n.tokens.size())},
                    {"length_neg", -k}};
        if (has_sc) s.values["self_certainty"] = sc / k;  // absent on a server's run
        // The latent change of the whole trace's step states (the leaf's
        // per-step signals cover its path); absent without taps.
        const StepSignals ls = step_signals(tree, leaf);
        if (std::isfinite(ls.latent_aligned)) {
            s.values["latent_aligned"] = ls.latent_aligned;
            if (ls.latent_cumulative > 0)
                s.values["latent_straightness"] = ls.latent_net / ls.latent_cumulative;
            s.values["neg_latent_cumulative"] = -ls.latent_cumulative;
        }
        // The run's own scores of the leaf (prm, logprob, ...) too.
        for (const auto& [key, val] : n.scores)
            if (std::isfinite(val)) s.values["score:" + key] = val;
        out.push_back(std::move(s));
    }
    return out;
}

double auroc(const std::vector<double>& values, const std::vector<bool>& labels) {
    // Rank-sum with average ranks for ties.
    const size_t n = values.size();
    std::vector<size_t> idx(n);
    for (size_t i = 0; i < n; ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
    double rank_sum = 0;
    size_t pos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && values[idx[j + 1]] == values[idx[i]]) ++j;
        const double r = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
        for (size_t k = i; k <= j; ++k)
            if (labels[idx[k]]) rank_sum += r;
        i = j + 1;
    }
    for (bool l : labels) pos += l;
    const size_t neg = n - pos;
    if (pos == 0 || neg == 0) return 0.5;
    const double p = static_cast<double>(pos);
    return (rank_sum - p * (p + 1) / 2.0) / (p * static_cast<double>(neg));
}

std::vector<SignalAuroc> signal_aurocs(const std::vector<TraceSignals>& traces, int resamples,
                                       uint64_t seed) {
    std::vector<std::string> names;
    for (const auto& [k, what] : signal_names()) names.push_back(k);
    for (const TraceSignals& t : traces)
        for (const auto& [k, v] : t.values)
            if (k.rfind("score:", 0) == 0 &&
                std::find(names.begin(), names.end(), k) == names.end())
                names.push_back(k);
    // Problems, for the bootstrap: traces of one problem go together.
    std::map<std::string, std::vector<size_t>> by_task;
    for (size_t i = 0; i < traces.size(); ++i) by_task[traces[i].task].push_back(i);
    std::vector<const std::vector<size_t>*> groups;
    for (const auto& [task, ix] : by_task) groups.push_back(&ix);
    std::vector<SignalAuroc> out;
    std::mt19937_64 rng(seed);
    for (const std::string& name : names) {
        const auto collect = [&](const std::vector<size_t>& ix, std::vector<double>& v,
                                 std::vector<bool>& l) {
            v.clear();
            l.clear();
            for (size_t i : ix) {
                const auto it = traces[i].values.find(name);
                if (it == traces[i].values.end()) continue;
                v.push_back(it->second);
                l.push_back(traces[i].correct);
            }
        };
        std::vector<size_t> all(traces.size());
        for (size_t i = 0; i < all.size(); ++i) all[i] = i;
        std::vector<double> v;
        std::vector<bool> l;
        collect(all, v, l);
        if (v.empty()) continue;
        SignalAuroc a;
        a.signal = name;
        a.auroc = auroc(v, l);
        for (bool x : l) (x ? a.positives : a.negatives)++;
        double within = 0;
        for (const auto* grp : groups) {
            collect(*grp, v, l);
            const bool has_pos = std::find(l.begin(), l.end(), true) != l.end();
            const bool has_neg = std::find(l.begin(), l.end(), false) != l.end();
            if (!has_pos || !has_neg) continue;
            within += auroc(v, l);
            ++a.within_problems;
        }
        if (a.within_problems) a.within = within / a.within_problems;
        std::vector<double> boot;
        std::uniform_int_distribution<size_t> pick(0, groups.empty() ? 0 : groups.size() - 1);
        for (int r = 0; r < resamples && !groups.empty(); ++r) {
            std::vector<size_t> ix;
            for (size_t g = 0; g < groups.size(); ++g) {
                const auto& grp = *groups[pick(rng)];
                ix.insert(ix.end(), grp.begin(), grp.end());
            }
            collect(ix, v, l);
            boot.push_back(auroc(v, l));
        }
        if (!boot.empty()) {
            std::sort(boot.begin(), boot.end());
            const auto at = [&](double q) {
                return boot[std::min(boot.size() - 1,
                                     static_cast<size_t>(q * static_cast<double>(boot.size())))];
            };
            a.lo = at(0.025);
            a.hi = at(0.975);
        } else {
            a.lo = a.hi = a.auroc;
        }
        out.push_back(a);
    }
    return out;
}

nlohmann::json aurocs_to_json(const std::vector<SignalAuroc>& a) {
    nlohmann::json j = nlohmann::json::array();
    for (const SignalAuroc& s : a)
        j.push_back({{"signal", s.signal},
                     {"auroc", s.auroc},
                     {"ci95", {s.lo, s.hi}},
                     {"within_problem_auroc", s.within},
                     {"mixed_problems", s.within_problems},
                     {"correct_traces", s.positives},
                     {"wrong_traces", s.negatives}});
    return j;
}

}  // namespace rs::app
