#include <algorithm>
#include <cmath>
#include <thread>

#include "reasonscope/error.h"
#include "reasonscope/search.h"

namespace rs {

SearchContext::SearchContext(Generator& gen, Task task, RunConfig config,
                             std::vector<RunObserver*> observers)
    : gen_(gen), task_(std::move(task)), cfg_(std::move(config)), observers_(std::move(observers)) {
    cfg_.sampling.validate();
    for (int l : cfg_.tap_layers)
        if (l < -1 || l >= gen_.n_layers())
            throw Error("hidden-state tap layer " + std::to_string(l) + " is outside the model's " +
                        std::to_string(gen_.n_layers()) + " layers");
    if (!cfg_.tap_layers.empty() && !gen_.caps().hidden_taps)
        throw Error("hidden-state taps are not available on " + gen_.backend_name());
    t0_ = last_metrics_ = std::chrono::steady_clock::now();
    passes0_ = gen_.stats().forward_passes;
    const std::vector<TokenId> prompt = gen_.tokenizer().encode(task_.prompt, true, false);
    Branch b;
    b.seq = gen_.start(prompt);  // throws for an empty prompt or one past the context
    publish(RunStarted{task_.prompt});
    const int r = tree_.size();
    publish(NodeAdded{r, -1, task_.prompt});
    branches_[r] = std::move(b);
}

SearchContext::~SearchContext() {
    for (auto& [id, b] : branches_)
        if (b.seq >= 0 && gen_.alive(b.seq)) gen_.release(b.seq);
}

// The tree changes only here: the search's own tree is the event stream
// applied, exactly as every observer that keeps a tree rebuilds it.
void SearchContext::publish(RunEvent e) {
    apply_event(tree_, e);
    for (RunObserver* o : observers_) o->on_event(e);
}

double SearchContext::uniform(uint64_t stream, uint64_t counter) const {
    return counter_uniform(cfg_.sampling.seed ^ 0x5EA5C4ULL, stream, counter);
}

bool SearchContext::can_expand(int node) const {
    const Node& n = tree_.at(node);
    if (n.status == NodeStatus::Pruned || n.status == NodeStatus::Terminal) return false;
    if (n.depth >= cfg_.max_depth) return false;
    auto it = branches_.find(node);
    return it != branches_.end() && it->second.seq >= 0;
}

std::vector<int> SearchContext::expand(int node, int n, float temperature) {
    return expand_many({{node, n}}, temperature);
}

std::vector<int> SearchContext::expand_many(const std::vector<std::pair<int, int>>& requests,
                                            float temperature) {
    SamplingParams sp = cfg_.sampling;
    if (temperature >= 0) sp.temperature = temperature;
    struct Active {
        int node;
        Branch br;
        int step_tokens = 0;
        bool done = false;
    };
    std::vector<Active> act;
    std::vector<int> created;
    const Tokenizer& tok = gen_.tokenizer();
    for (auto [parent, n] : requests) {
        if (!can_expand(parent)) continue;
        const Branch& pb = branches_.at(parent);
        for (int i = 0; i < n; ++i) {
            const int c = tree_.size();
            publish(NodeAdded{c, parent, ""});
            created.push_back(c);
            Active a;
            a.node = c;
            a.br.seq = gen_.fork(pb.seq);
            act.push_back(std::move(a));
        }
        if (tree_.at(parent).status == NodeStatus::Open)
            publish(NodeStatusChanged{parent, NodeStatus::Expanded});
    }

    std::vector<ExtendRequest> reqs;
    std::vector<size_t> idx;
    while (true) {
        reqs.clear();
        idx.clear();
        for (size_t i = 0; i < act.size(); ++i) {
            if (act[i].done) continue;
            if (budget_exhausted() || (cancel_ && cancel_->load()) ||
                gen_.length(act[i].br.seq) >= gen_.n_ctx()) {
                act[i].done = true;
                continue;
            }
            reqs.push_back({act[i].br.seq, static_cast<uint64_t>(act[i].node)});
            idx.push_back(i);
        }
        if (reqs.empty()) break;
        if (pause_)
            while (pause_->load() && !(cancel_ && cancel_->load()))
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        // One token for every active branch, in one batch; the tree is then
        // updated in branch order.
        std::vector<Extension> ext = gen_.extend(reqs, sp, cfg_.tap_layers);
        for (size_t k = 0; k < idx.size(); ++k) {
            Active& a = act[idx[k]];
            TokenSignals& sig = ext[k].token;
            ++tokens_;
            TokenRecord rec;
            rec.id = sig.token;
            rec.logprob = sig.logprob;
            rec.entropy = sig.entropy;
            rec.varentropy = sig.varentropy;
            rec.top = std::move(sig.top);
            for (const auto& [id, lp] : rec.top)
                rec.top_pieces.push_back(tok.token_to_piece(id, true));
            auto record_hidden = [&] {
                if (ext[k].hidden.empty()) return;
                publish(HiddenState{a.node, cfg_.tap_layers, std::move(ext[k].hidden)});
            };
            if (tok.is_eog(sig.token)) {
                // The end-of-sequence token is a generated token like any
                // other (counted in tokens_, stored with its signals); its
                // piece stays empty so the step's text is unchanged.
                publish(TokensAppended{a.node, {std::move(rec)}});
                publish(NodeEnded{a.node});
                a.done = true;
                record_hidden();
                continue;
            }
            rec.piece = tok.token_to_piece(sig.token);
            ++a.step_tokens;
            const bool step_done = rec.piece.find(cfg_.step_delimiter) != std::string::npos ||
                                   a.step_tokens >= cfg_.max_step_tokens;
            publish(TokensAppended{a.node, {std::move(rec)}});
            if (step_done) {
                a.done = true;
                record_hidden();
            }
        }
        kv_peak_ = std::max(kv_peak_, gen_.stats().kv_bytes);
        if (std::chrono::steady_clock::now() - last_metrics_ > std::chrono::milliseconds(100))
            publish_metrics();
    }
    for (Active& a : act) {
        branches_[a.node] = std::move(a.br);
        mark_terminal_if_answered(a.node);
    }
    return created;
}

void SearchContext::mark_terminal_if_answered(int id) {
    const Node& n = tree_.at(id);
    std::string ans = extract_answer(n.text, task_.answer_pattern);
    bool line_done = !n.text.empty() && n.text.find(cfg_.step_delimiter) != std::string::npos;
    if (!ans.empty() && (line_done || n.ended)) {
        const int correct =
            task_.answer.empty() ? n.correct : (answers_equal(ans, task_.answer) ? 1 : 0);
        publish(AnswerFound{id, ans, correct});
    }
    if (!n.answer.empty() || n.ended || n.depth >= cfg_.max_depth) {
        publish(NodeStatusChanged{id, NodeStatus::Terminal});
        release_branch(id);
    }
}

void SearchContext::release_branch(int node) {
    auto it = branches_.find(node);
    if (it == branches_.end()) return;
    if (it->second.seq >= 0 && gen_.alive(it->second.seq)) gen_.release(it->second.seq);
    it->second.seq = -1;
}

std::vector<int> SearchContext::complete(const std::vector<int>& nodes) {
    std::vector<int> cur = nodes;
    while (!should_stop()) {
        std::vector<std::pair<int, int>> req;
        std::vector<size_t> which;
        for (size_t i = 0; i < cur.size(); ++i)
            if (can_expand(cur[i])) {
                req.push_back({cur[i], 1});
                which.push_back(i);
            }
        if (req.empty()) break;
        auto kids = expand_many(req);
        if (kids.size() != which.size()) break;
        for (size_t k = 0; k < kids.size(); ++k) cur[which[k]] = kids[k];
    }
    return cur;
}

double SearchContext::score(int node, Scorer& scorer) {
    double v = scorer.score(*this, node);
    set_score(node, scorer.id(), v);
    return v;
}

void SearchContext::set_score(int node, const std::string& key, double value) {
    (void)tree_.at(node);  // throws for an unknown node, as before
    publish(NodeScored{node, key, value});
}

void SearchContext::prune(int node) {
    if (tree_.at(node).status == NodeStatus::Pruned) return;
    release_branch(node);
    publish(NodeStatusChanged{node, NodeStatus::Pruned});
}

void SearchContext::backpropagate(int node, double value) {
    for (int n = node; n >= 0; n = tree_.at(n).parent) {
        const Node& nd = tree_.at(n);
        publish(NodeStats{n, nd.visits + 1, nd.value_sum + value});
    }
}

bool SearchContext::budget_exhausted() const {
    if (cfg_.max_tokens > 0 && tokens_ >= cfg_.max_tokens) return true;
    if (cfg_.max_passes > 0 && gen_.stats().forward_passes - passes0_ >= cfg_.max_passes)
        return true;
    if (cfg_.max_seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count() >=
            cfg_.max_seconds)
        return true;
    return false;
}

bool SearchContext::should_stop() {
    if (pause_)
        while (pause_->load() && !(cancel_ && cancel_->load()))
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return (cancel_ && cancel_->load()) || budget_exhausted();
}

void SearchContext::choose_answer(const std::string& answer, int node) {
    final_answer_ = answer;
    final_node_ = node;
}

RunMetrics SearchContext::metrics() const {
    RunMetrics m;
    const GeneratorStats st = gen_.stats();
    m.tokens_generated = tokens_;
    m.forward_passes = st.forward_passes - passes0_;
    m.nodes = tree_.size();
    m.kv_bytes = st.kv_bytes;
    m.kv_peak_bytes = std::max(kv_peak_, m.kv_bytes);
    int alive = 0;
    for (const auto& [id, b] : branches_) alive += b.seq >= 0;
    m.branches_alive = alive;
    m.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    m.tokens_per_second = m.wall_seconds > 0 ? static_cast<double>(tokens_) / m.wall_seconds : 0;
    return m;
}

void SearchContext::publish_metrics() {
    last_metrics_ = std::chrono::steady_clock::now();
    publish(MetricsSampled{metrics()});
}

void SearchContext::finish(const std::string& reason) {
    if (finished_) return;
    finished_ = true;
    const int correct = task_.answer.empty() || final_answer_.empty()
                            ? -1
                            : answers_equal(final_answer_, task_.answer);
    publish(RunFinished{reason, final_answer_, final_node_, correct, metrics()});
}

double SearchContext::continuation_logprob(const std::string& prefix,
                                           const std::string& continuation) {
    const Tokenizer& tok = gen_.tokenizer();
    if (!gen_.caps().continuation_logprob)
        throw Error("continuation log-probabilities are not available on " + gen_.backend_name());
    return gen_.continuation_logprob(tok.encode(prefix, true, false),
                                     tok.encode(continuation, false, false));
}

std::vector<float> SearchContext::next_token_logprobs(const std::string& text) {
    if (!gen_.caps().full_logits)
        throw Error("full next-token distributions are not available on " + gen_.backend_name());
    return gen_.next_token_logprobs(gen_.tokenizer().encode(text, true, false));
}

}  // namespace rs
