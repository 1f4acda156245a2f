// φ-Decoding (Xu et al. 2025): step-level search in which each candidate
// next step is valued by foresight, rollouts that simulate the rest of the
// solution from it. A candidate's value joins two distributions: the
// advantage of its rollouts' likelihood over the beam's previous foresight
// (softmax(advantage / tau)) and the agreement of its rollouts with all the
// others (the size of their answer cluster). The next beams are sampled from
// the joint value. In-width pruning skips the foresight of candidates far
// below the mean step likelihood; in-depth pruning stops stepping once the
// rollouts agree, and the chosen steps' rollouts are then the solutions.
//
// Following the authors' code (github.com/xufangzhi/phi-Decoding): M beams
// start at the prompt; every step each beam samples N candidates (all in one
// batch) and M are kept without replacement; the advantage is the rollout's
// mean token log-probability minus that of the rollout that chose the beam's
// last step (0 at the prompt). Where it differs: the rollouts are clustered
// by their answers (the tasks state one) where the paper clusters the texts
// by TF-IDF and k-means; the alignment is the cluster's share itself (the
// code softmaxes the shares, which flattens them); the last steps' rollouts
// are the finished traces (the code samples a completion of each beam
// again); and no candidate is excluded for a non-positive advantage (at the
// first step every advantage is <= 0, which switches the clustering off).
#include <QObject>
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "reasonscope/answer.h"
#include "reasonscope/search.h"
#include "reasonscope/strategy_plugin.h"

namespace {

// Random streams (ctx.uniform): one per decision and step.
constexpr uint64_t kWidthStream = 0x9d1000, kSelectStream = 0x9d2000;

// Mean token log-probability over the steps `from` .. `to` of one path
// (`to` a descendant of `from`, both included).
double mean_logprob(const rs::SearchContext& ctx, int from, int to) {
    double s = 0;
    size_t n = 0;
    for (int id = to;; id = ctx.node(id).parent) {
        for (const auto& t : ctx.node(id).tokens) s += t.logprob;
        n += ctx.node(id).tokens.size();
        if (id == from || ctx.node(id).parent < 0) break;
    }
    return n ? s / static_cast<double>(n) : 0.0;
}

// Draws `k` distinct indices with probabilities proportional to `w`
// (renormalized after each draw), reproducibly from the run's seed.
std::vector<size_t> sample_without_replacement(const rs::SearchContext& ctx, std::vector<double> w,
                                               size_t k, uint64_t stream) {
    std::vector<size_t> out;
    for (uint64_t draw = 0; out.size() < k && out.size() < w.size(); ++draw) {
        const double total = std::accumulate(w.begin(), w.end(), 0.0);
        size_t pick = 0;
        if (total > 0) {
            const double u = ctx.uniform(stream, draw) * total;
            double cum = 0;
            pick = w.size();
            for (size_t i = 0; i < w.size(); ++i) {
                if (w[i] <= 0) continue;
                cum += w[i];
                pick = i;  // the last with weight, should rounding leave u above cum
                if (u < cum) break;
            }
        } else {  // only zero weights left: the first unchosen, in order
            while (pick < w.size() && std::find(out.begin(), out.end(), pick) != out.end()) ++pick;
        }
        if (pick >= w.size()) break;
        out.push_back(pick);
        w[pick] = 0;
    }
    return out;
}

// softmax(x / t), shifted by the largest value for range.
std::vector<double> softmax(const std::vector<double>& x, double t) {
    std::vector<double> w(x.size());
    if (x.empty()) return w;
    const double top = *std::max_element(x.begin(), x.end());
    for (size_t i = 0; i < x.size(); ++i) w[i] = std::exp((x[i] - top) / t);
    const double sum = std::accumulate(w.begin(), w.end(), 0.0);
    for (double& v : w) v /= sum;
    return w;
}

class PhiDecoding final : public rs::Strategy {
  public:
    void run(rs::SearchContext& ctx, const rs::Params& p) override {
        const int beams_n = p["beams"].get<int>(), cands_n = p["candidates"].get<int>(),
                  rollouts_n = p["rollouts"].get<int>(), depth = p["foresight_steps"].get<int>(),
                  max_steps = p["max_steps"].get<int>(), min_steps = p["min_steps"].get<int>();
        const double tau = p["selection_temperature"].get<double>(),
                     beta = p["alignment_weight"].get<double>(), sigma = p["sigma"].get<double>(),
                     agree = p["agreement"].get<double>();
        const bool width_pruning = p["width_pruning"].get<bool>(),
                   depth_pruning = p["depth_pruning"].get<bool>();
        rollout_t_ = p["rollout_temperature"].get<float>();

        // The beams: nodes whose next step is chosen with foresight, each
        // with the foresight value that chose it (its q; 0 at the prompt).
        std::vector<int> beams(static_cast<size_t>(beams_n), ctx.root());
        std::map<int, double> q = {{ctx.root(), 0.0}};
        std::map<int, std::vector<int>> rollouts_of;  // candidate -> its rollouts' last steps
        std::vector<int> finished;                    // chosen steps that end a solution
        int steps = 0;
        bool agreed = false;
        for (; steps < max_steps && !beams.empty() && !ctx.should_stop(); ++steps) {
            const auto step = static_cast<uint64_t>(steps);
            // 1. Candidates: N next steps of every beam, one batch.
            std::map<int, int> per_node;
            for (int b : beams)
                if (ctx.can_expand(b)) per_node[b] += cands_n;
            if (per_node.empty()) break;
            const std::vector<int> cands =
                ctx.expand_many(std::vector<std::pair<int, int>>(per_node.begin(), per_node.end()));
            if (cands.empty()) break;
            std::vector<double> step_lp;
            for (int c : cands) {
                step_lp.push_back(ctx.node(c).mean_logprob());
                ctx.set_score(c, "phi_step", steps + 1);
                ctx.set_score(c, "step_logprob", step_lp.back());
            }

            // 2. In-width pruning: no foresight for candidates whose step
            // likelihood is below mean - sigma * std; at least M go on (the
            // pruned ones drawn back by softmax(likelihood / tau)).
            std::vector<size_t> kept;
            if (width_pruning) {
                const double n = static_cast<double>(step_lp.size());
                const double mean = std::accumulate(step_lp.begin(), step_lp.end(), 0.0) / n;
                double var = 0;
                for (double x : step_lp) var += (x - mean) * (x - mean);
                const double floor = mean - sigma * std::sqrt(var / n);
                std::vector<size_t> low;
                for (size_t i = 0; i < cands.size(); ++i)
                    (step_lp[i] >= floor - 1e-9 ? kept : low).push_back(i);
                if (kept.size() < static_cast<size_t>(beams_n) && !low.empty()) {
                    std::vector<double> lw;
                    for (size_t i : low) lw.push_back(step_lp[i]);
                    for (size_t j : sample_without_replacement(
                             ctx, softmax(lw, tau), beams_n - kept.size(), kWidthStream + step)) {
                        ctx.set_score(cands[low[j]], "width_readded", 1);
                        kept.push_back(low[j]);
                    }
                    std::sort(kept.begin(), kept.end());
                }
                for (size_t i = 0; i < cands.size(); ++i)
                    if (!std::binary_search(kept.begin(), kept.end(), i)) {
                        ctx.set_score(cands[i], "width_pruned", 1);
                        if (!ctx.is_terminal(cands[i])) ctx.prune(cands[i]);
                    }
            } else {
                kept.resize(cands.size());
                std::iota(kept.begin(), kept.end(), size_t{0});
            }

            // 3. Foresight: R rollouts from every kept candidate that goes on,
            // all advanced together, each step marked `rollout`.
            std::vector<std::pair<int, int>> fr;
            for (size_t i : kept)
                if (ctx.can_expand(cands[i])) fr.push_back({cands[i], rollouts_n});
            const std::vector<int> starts =
                fr.empty() ? std::vector<int>{} : ctx.expand_many(fr, rollout_t_);
            for (int s : starts) {
                ctx.set_score(s, "rollout", 1);
                rollouts_of[ctx.node(s).parent].push_back(s);
            }
            advance(ctx, rollouts_of, cands, depth == 0 ? -1 : depth - 1, "rollout");

            // 4. Cluster every rollout (a finished candidate is its own) by
            // answer; one without an answer agrees with none.
            std::map<std::string, int> cluster;
            auto key = [&](int leaf) {
                const std::string& a = ctx.node(leaf).answer;
                return a.empty() ? "#" + std::to_string(leaf) : rs::normalize_answer(a);
            };
            std::vector<std::vector<int>> foresight(cands.size());
            int pool = 0;
            for (size_t i : kept) {
                auto it = rollouts_of.find(cands[i]);
                if (it != rollouts_of.end() && !it->second.empty())
                    foresight[i] = it->second;
                else if (ctx.is_terminal(cands[i]))
                    foresight[i] = {cands[i]};
                for (int leaf : foresight[i]) {
                    cluster[key(leaf)]++;
                    ++pool;
                }
            }
            int largest = 0;
            for (const auto& [k, size] : cluster) largest = std::max(largest, size);
            const double top_share = pool ? static_cast<double>(largest) / pool : 0.0;
            ctx.set_score(ctx.root(), "agreement_step_" + std::to_string(steps + 1), top_share);

            // 5. Step values: advantage and alignment, joined.
            std::vector<size_t> pool_idx;
            std::vector<double> adv, align;
            for (size_t i : kept) {
                if (foresight[i].empty()) continue;  // no rollout (the run's budget)
                const int c = cands[i];
                double f = 0, a = 0;
                for (int leaf : foresight[i]) {
                    const double lp =
                        leaf == c ? step_lp[i] : mean_logprob(ctx, rollout_start(ctx, leaf), leaf);
                    if (leaf != c) ctx.set_score(leaf, "rollout_logprob", lp);
                    f += lp;
                    a += static_cast<double>(cluster[key(leaf)]) / pool;
                }
                f /= static_cast<double>(foresight[i].size());
                a /= static_cast<double>(foresight[i].size());
                foresight_value_[c] = f;
                pool_idx.push_back(i);
                adv.push_back(f - q.at(ctx.node(c).parent));
                align.push_back(a);
                ctx.set_score(c, "foresight_logprob", f);
                ctx.set_score(c, "advantage", adv.back());
                ctx.set_score(c, "alignment", a);
            }
            if (pool_idx.empty()) break;
            const std::vector<double> pa = softmax(adv, tau);
            const double align_sum = std::accumulate(align.begin(), align.end(), 0.0);
            std::vector<double> value(pool_idx.size());
            for (size_t j = 0; j < value.size(); ++j) {
                value[j] = (1 - beta) * pa[j] + beta * (align_sum > 0 ? align[j] / align_sum : 0.0);
                ctx.set_score(cands[pool_idx[j]], "phi_value", value[j]);
            }

            // 6. The next beams: M drawn from the joint value.
            const std::vector<size_t> picks = sample_without_replacement(
                ctx, value, static_cast<size_t>(beams_n), kSelectStream + step);
            std::vector<char> chosen(pool_idx.size(), 0);
            for (size_t j : picks) chosen[j] = 1;
            std::vector<int> next;
            for (size_t j = 0; j < pool_idx.size(); ++j) {
                const int c = cands[pool_idx[j]];
                ctx.set_score(c, "selected", chosen[j]);
                if (chosen[j]) {
                    q[c] = foresight_value_[c];
                    (ctx.is_terminal(c) ? finished : next).push_back(c);
                    continue;
                }
                // A candidate not taken: its branch and its unfinished
                // rollouts are done with (finished ones stay terminal).
                if (!ctx.is_terminal(c)) ctx.prune(c);
                for (int leaf : rollouts_of[c])
                    if (!ctx.is_terminal(leaf)) ctx.prune(leaf);
            }
            beams = next;

            // 7. In-depth pruning: once the rollouts agree, stop stepping.
            if (depth_pruning && steps + 1 >= min_steps && top_share > agree) {
                agreed = true;
                ++steps;
                break;
            }
        }
        ctx.set_score(ctx.root(), "foresight_steps_run", steps);
        if (agreed) ctx.set_score(ctx.root(), "stopped_at_agreement", steps);

        // The solutions: the finished chosen steps, and the rollouts of the
        // beams' last chosen steps (completed where the foresight stopped
        // short of the end).
        std::vector<int> finals = finished;
        std::vector<int> partial;
        for (int b : beams) {
            auto it = rollouts_of.find(b);
            if (it == rollouts_of.end() || it->second.empty()) {
                if (ctx.can_expand(b)) partial.push_back(b);  // no foresight (the budget)
                continue;
            }
            for (int leaf : it->second) (ctx.is_terminal(leaf) ? finals : partial).push_back(leaf);
        }
        std::sort(partial.begin(), partial.end());
        partial.erase(std::unique(partial.begin(), partial.end()), partial.end());
        if (!partial.empty() && !ctx.should_stop()) {
            std::map<int, std::vector<int>> ends;
            for (int x : partial) ends[x] = {x};
            advance(ctx, ends, partial, -1, "completion");
            for (auto& [x, leaves] : ends)
                finals.insert(finals.end(), leaves.begin(), leaves.end());
        }
        for (int f : finals) ctx.set_score(f, "final_trace", 1);
        auto votes = rs::vote(ctx, finals);
        if (!votes.empty()) ctx.choose_answer(votes[0].answer, votes[0].best_node);
    }

  private:
    // Extends the paths of `cands` (the last step of each, in `rollouts`)
    // by `steps` more steps (-1: to their ends), all of them together one
    // step per batch; new steps are marked with the score `mark` = 1.
    void advance(rs::SearchContext& ctx, std::map<int, std::vector<int>>& rollouts,
                 const std::vector<int>& cands, int steps, const char* mark) {
        for (int s = 0; (steps < 0 || s < steps) && !ctx.should_stop(); ++s) {
            std::vector<std::pair<int, int>> req;
            std::vector<int*> slot;
            for (int c : cands) {
                auto it = rollouts.find(c);
                if (it == rollouts.end()) continue;
                for (int& leaf : it->second)
                    if (ctx.can_expand(leaf)) {
                        req.push_back({leaf, 1});
                        slot.push_back(&leaf);
                    }
            }
            if (req.empty()) return;
            const std::vector<int> kids = ctx.expand_many(req, rollout_t_);
            if (kids.size() != req.size()) return;  // the run's budget
            for (size_t k = 0; k < kids.size(); ++k) {
                ctx.set_score(kids[k], mark, 1);
                *slot[k] = kids[k];
            }
        }
    }
    // The first step of the rollout that ends at `leaf`.
    static int rollout_start(const rs::SearchContext& ctx, int leaf) {
        int s = leaf;
        while (ctx.node(s).parent >= 0 && ctx.node(ctx.node(s).parent).scores.count("rollout"))
            s = ctx.node(s).parent;
        return s;
    }

    float rollout_t_ = 0.6f;
    std::map<int, double> foresight_value_;  // candidate -> mean of its rollouts' log-probabilities
};

}  // namespace

class PhiDecodingPlugin : public QObject, public rs::StrategyPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "phi_decoding.json")
    Q_INTERFACES(rs::StrategyPlugin)
  public:
    std::unique_ptr<rs::Strategy> create() const override {
        return std::make_unique<PhiDecoding>();
    }
};

#include "phi_decoding.moc"
