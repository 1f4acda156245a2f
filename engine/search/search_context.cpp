#include <algorithm>
#include <cmath>
#include <thread>

#include "reasonscope/error.h"
#include "reasonscope/search.h"

namespace rs {

SearchContext::SearchContext(Session& session, Task task, RunConfig config,
                             std::vector<RunObserver*> observers)
    : session_(session),
      task_(std::move(task)),
      cfg_(std::move(config)),
      observers_(std::move(observers)),
      sampler_(cfg_.sampling) {
    t0_ = last_metrics_ = std::chrono::steady_clock::now();
    passes0_ = session_.forward_passes();
    const Tokenizer& tok = session_.model().tokenizer();
    std::vector<TokenId> prompt = tok.encode(task_.prompt, true, false);
    if (prompt.empty()) throw Error("the prompt is empty");
    if (static_cast<int>(prompt.size()) >= session_.n_ctx())
        throw Error("prompt of " + std::to_string(prompt.size()) +
                    " tokens does not fit the context of " + std::to_string(session_.n_ctx()));
    Branch b;
    b.seq = session_.create();
    if (prompt.size() > 1) session_.eval(b.seq, std::span(prompt.data(), prompt.size() - 1));
    b.pending = prompt.back();
    b.position = static_cast<int>(prompt.size()) - 1;
    b.history = prompt;
    publish(RunStarted{task_.prompt});
    const int r = tree_.size();
    publish(NodeAdded{r, -1, task_.prompt});
    branches_[r] = std::move(b);
}

SearchContext::~SearchContext() {
    for (auto& [id, b] : branches_)
        if (b.seq >= 0 && session_.kv().alive(b.seq)) session_.release(b.seq);
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
    std::unique_ptr<Sampler> override_sampler;
    if (temperature >= 0) {
        SamplingParams sp = cfg_.sampling;
        sp.temperature = temperature;
        override_sampler = std::make_unique<Sampler>(sp);
    }
    const Sampler& sampler = override_sampler ? *override_sampler : sampler_;
    struct Active {
        int node;
        Branch br;
        int step_tokens = 0;
        bool done = false;
    };
    std::vector<Active> act;
    std::vector<int> created;
    const Tokenizer& tok = session_.model().tokenizer();
    for (auto [parent, n] : requests) {
        if (!can_expand(parent)) continue;
        const Branch& pb = branches_.at(parent);
        for (int i = 0; i < n; ++i) {
            const int c = tree_.size();
            publish(NodeAdded{c, parent, ""});
            created.push_back(c);
            Active a;
            a.node = c;
            a.br.seq = session_.fork(pb.seq);
            a.br.pending = pb.pending;
            a.br.position = pb.position;
            a.br.history = pb.history;
            act.push_back(std::move(a));
        }
        if (tree_.at(parent).status == NodeStatus::Open)
            publish(NodeStatusChanged{parent, NodeStatus::Expanded});
    }

    std::vector<int> seqs;
    std::vector<TokenId> toks;
    std::vector<size_t> idx;
    std::vector<TokenSignals> sigs;
    while (true) {
        seqs.clear();
        toks.clear();
        idx.clear();
        for (size_t i = 0; i < act.size(); ++i) {
            if (act[i].done) continue;
            if (budget_exhausted() || (cancel_ && cancel_->load()) ||
                act[i].br.position + 1 >= session_.n_ctx()) {
                act[i].done = true;
                continue;
            }
            seqs.push_back(act[i].br.seq);
            toks.push_back(act[i].br.pending);
            idx.push_back(i);
        }
        if (seqs.empty()) break;
        if (pause_)
            while (pause_->load() && !(cancel_ && cancel_->load()))
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::vector<float> hidden;
        std::vector<float> logits = session_.decode(seqs, toks, cfg_.tap_layers, hidden);
        const int V = session_.n_vocab();
        const size_t hid_row =
            cfg_.tap_layers.size() * static_cast<size_t>(session_.model().config().dim);
        // The branches sample on the backend's threads (each draw depends only
        // on its own logits, history and counter, so the tree does not depend on
        // the split); the tree is then updated in order.
        sigs.resize(idx.size());
        session_.backend().parallel_for(
            static_cast<int64_t>(idx.size()), [&](int64_t b, int64_t e) {
                for (auto k = static_cast<size_t>(b); k < static_cast<size_t>(e); ++k) {
                    const Active& a = act[idx[k]];
                    sigs[k] = sampler.sample(logits.data() + k * static_cast<size_t>(V), V,
                                             a.br.history, static_cast<uint64_t>(a.node),
                                             static_cast<uint64_t>(a.br.position + 1));
                }
            });
        for (size_t k = 0; k < idx.size(); ++k) {
            Active& a = act[idx[k]];
            a.br.position += 1;
            TokenSignals sig = std::move(sigs[k]);
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
                if (hid_row == 0) return;
                const float* h = hidden.data() + k * hid_row;
                publish(HiddenState{a.node, cfg_.tap_layers, std::vector<float>(h, h + hid_row)});
            };
            if (tok.is_eog(sig.token)) {
                publish(NodeEnded{a.node});
                a.done = true;
                a.br.pending = sig.token;
                record_hidden();
                continue;
            }
            rec.piece = tok.token_to_piece(sig.token);
            a.br.history.push_back(sig.token);
            a.br.pending = sig.token;
            ++a.step_tokens;
            const bool step_done = rec.piece.find(cfg_.step_delimiter) != std::string::npos ||
                                   a.step_tokens >= cfg_.max_step_tokens;
            publish(TokensAppended{a.node, {std::move(rec)}});
            if (step_done) {
                a.done = true;
                record_hidden();
            }
        }
        kv_peak_ = std::max(kv_peak_, session_.kv().stats().bytes_used());
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
    if (it->second.seq >= 0 && session_.kv().alive(it->second.seq))
        session_.release(it->second.seq);
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
    if (cfg_.max_passes > 0 && session_.forward_passes() - passes0_ >= cfg_.max_passes) return true;
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
    m.tokens_generated = tokens_;
    m.forward_passes = session_.forward_passes() - passes0_;
    m.nodes = tree_.size();
    KvStats st = session_.kv().stats();
    m.kv_bytes = st.bytes_used();
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
    const Tokenizer& tok = session_.model().tokenizer();
    std::vector<TokenId> p = tok.encode(prefix, true, false),
                         c = tok.encode(continuation, false, false);
    if (c.empty()) return 0.0;
    std::vector<TokenId> all = p;
    all.insert(all.end(), c.begin(), c.end());
    if (static_cast<int>(all.size()) >= session_.n_ctx())
        throw Error("scorer prompt does not fit the context");
    int seq = session_.create();
    std::vector<float> logits;
    try {
        logits = session_.eval(seq, std::span(all.data(), all.size() - 1), true);
    } catch (...) {
        session_.release(seq);
        throw;
    }
    session_.release(seq);
    const size_t V = static_cast<size_t>(session_.n_vocab());
    double total = 0;
    for (size_t i = 0; i < c.size(); ++i) {
        const float* row = logits.data() + (p.size() - 1 + i) * V;
        double mx = *std::max_element(row, row + V), s = 0;
        for (size_t k = 0; k < V; ++k) s += std::exp(row[k] - mx);
        total += row[static_cast<size_t>(c[i])] - mx - std::log(s);
    }
    return total;
}

std::vector<float> SearchContext::next_token_logprobs(const std::string& text) {
    const Tokenizer& tok = session_.model().tokenizer();
    std::vector<TokenId> ids = tok.encode(text, true, false);
    if (static_cast<int>(ids.size()) >= session_.n_ctx())
        throw Error("scorer prompt does not fit the context");
    int seq = session_.create();
    std::vector<float> logits;
    try {
        logits = session_.eval(seq, ids);
    } catch (...) {
        session_.release(seq);
        throw;
    }
    session_.release(seq);
    double mx = *std::max_element(logits.begin(), logits.end()), s = 0;
    for (float v : logits) s += std::exp(v - mx);
    const float lse = static_cast<float>(mx + std::log(s));
    for (float& v : logits) v -= lse;
    return logits;
}

}  // namespace rs
