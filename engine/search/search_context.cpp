#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include "reasonscope/error.h"
#include "reasonscope/search.h"

namespace rs {

namespace {
void refuse_thinking_budgets(const ThinkingConfig& th) {
    if (th.enabled() && (th.min_tokens > 0 || th.max_tokens > 0))
        throw Error(
            "token-level search does not support thinking budgets (min/max thinking "
            "tokens): the run would force tokens the strategy did not choose");
}
}  // namespace

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
    if (cfg_.step_delimiters.empty()) cfg_.step_delimiters = {"\n"};
    for (const auto& d : cfg_.step_delimiters)
        if (d.empty()) throw Error("an empty step delimiter");
    answer_rule_ = task_.answer_rule();  // an unknown answer format fails before the search
    const Tokenizer& tok = gen_.tokenizer();
    std::vector<TokenId> prompt;
    std::string shown = task_.prompt;
    if (!cfg_.rendered_prompt.empty()) {
        // A chat template's output: its special tokens are written as text,
        // and it may begin with BOS itself.
        shown = cfg_.rendered_prompt;
        prompt = tok.encode(shown, false, true);
        if (tok.add_bos() && tok.bos() >= 0 && (prompt.empty() || prompt.front() != tok.bos()))
            prompt.insert(prompt.begin(), tok.bos());
    } else
        prompt = tok.encode(task_.prompt, true, false);
    auto single_token = [&](const std::string& text) {
        const std::vector<TokenId> ids = tok.encode(text, false, true);
        return ids.size() == 1 ? ids[0] : TokenId{-1};
    };
    if (cfg_.thinking.enabled()) {
        const ThinkingConfig& th = cfg_.thinking;
        if (th.min_tokens < 0 || th.max_tokens < 0)
            throw Error("thinking token budgets must not be negative");
        if (th.max_tokens > 0 && th.min_tokens > th.max_tokens)
            throw Error("minimum thinking tokens (" + std::to_string(th.min_tokens) +
                        ") above the maximum (" + std::to_string(th.max_tokens) + ")");
        close_token_ = single_token(th.close);
        if (th.min_tokens > 0) {
            wait_tokens_ = tok.encode(th.wait_text, false, true);
            if (wait_tokens_.empty()) throw Error("the thinking 'wait' text is empty");
        }
        if (th.max_tokens > 0) close_tokens_ = tok.encode(th.forced_close(), false, true);
        for (TokenId id = 0; id < tok.n_vocab(); ++id)
            if (tok.is_eog(id)) eog_tokens_.push_back(id);
    }
    Branch b;
    b.seq = gen_.start(prompt);  // throws for an empty prompt or one past the context
    b.think.in = ends_in_thinking(shown, cfg_.thinking);
    publish(RunStarted{shown});
    const int r = tree_.size();
    publish(NodeAdded{r, -1, shown});
    branches_[r] = std::move(b);
}

SearchContext::~SearchContext() {
    for (auto& [id, p] : peeks_)
        if (p.seq >= 0 && gen_.alive(p.seq)) gen_.release(p.seq);
    for (auto& [id, b] : branches_)
        if (b.seq >= 0 && gen_.alive(b.seq)) gen_.release(b.seq);
}

// The tree changes only here: the search's own tree is the event stream
// applied, exactly as every observer that keeps a tree rebuilds it.
void SearchContext::publish(RunEvent e) {
    if (auto* a = std::get_if<NodeAdded>(&e))
        a->at = seconds_since_start();
    else if (auto* t = std::get_if<TokensAppended>(&e))
        t->at = seconds_since_start();
    apply_event(tree_, e);
    for (RunObserver* o : observers_) o->on_event(e);
}

double SearchContext::uniform(uint64_t stream, uint64_t counter) const {
    return counter_uniform(cfg_.sampling.seed ^ 0x5EA5C4ULL, stream, counter);
}

// Budgets and cancellation hold whether or not the strategy checks
// should_stop(): nothing grows once stopped, and a strategy that keeps
// asking is stopped itself.
bool SearchContext::refused_when_stopped() {
    if (!(cancel_ && cancel_->load()) && !budget_exhausted()) return false;
    if (++refusals_ > kStopRefusals) throw SearchStopped{};
    return true;
}

void SearchContext::wait_while_paused() const {
    if (!pause_) return;
    while (pause_->load() && !(cancel_ && cancel_->load()))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void SearchContext::after_pass() {
    kv_peak_ = std::max(kv_peak_, gen_.stats().kv_bytes);
    if (std::chrono::steady_clock::now() - last_metrics_ > std::chrono::milliseconds(100))
        publish_metrics();
}

// A generated token's record: its signals and its alternatives' text.
TokenRecord SearchContext::token_record(TokenSignals&& sig) const {
    const Tokenizer& tok = gen_.tokenizer();
    TokenRecord rec;
    rec.id = sig.token;
    rec.logprob = sig.logprob;
    rec.entropy = sig.entropy;
    rec.varentropy = sig.varentropy;
    rec.self_certainty = sig.self_certainty;
    rec.top = std::move(sig.top);
    for (const auto& [id, lp] : rec.top) rec.top_pieces.push_back(tok.token_to_piece(id, true));
    return rec;
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
    return expand_impl(requests, temperature, {});
}

std::vector<int> SearchContext::expand_with_first(
    const std::vector<std::pair<int, TokenId>>& requests, float temperature) {
    refuse_thinking_budgets(cfg_.thinking);
    std::vector<std::pair<int, int>> one_each;
    std::vector<TokenId> first;
    for (auto [node, token] : requests) {
        if (token < 0 || token >= gen_.tokenizer().n_vocab())
            throw Error("expand_with_first: token " + std::to_string(token) +
                        " is outside the vocabulary");
        one_each.push_back({node, 1});
        first.push_back(token);
    }
    return expand_impl(one_each, temperature, first);
}

std::vector<int> SearchContext::expand_impl(const std::vector<std::pair<int, int>>& requests,
                                            float temperature, const std::vector<TokenId>& first) {
    if (refused_when_stopped()) return {};
    check_kv_room(requests);
    SamplingParams sp = cfg_.sampling;
    if (temperature >= 0) sp.temperature = temperature;
    struct Active {
        int node;
        Branch br;
        int step_tokens = 0;
        bool done = false;
        TokenId first = -1;  // the step's first token, chosen by the strategy
    };
    std::vector<Active> act;
    std::vector<int> created;
    const Tokenizer& tok = gen_.tokenizer();
    for (size_t r = 0; r < requests.size(); ++r) {
        const auto [parent, n] = requests[r];
        if (!can_expand(parent)) continue;
        const Branch& pb = branches_.at(parent);
        for (int i = 0; i < n; ++i) {
            const int c = tree_.size();
            publish(NodeAdded{c, parent, ""});
            created.push_back(c);
            Active a;
            a.node = c;
            a.br.seq = gen_.fork(pb.seq);
            a.br.think = pb.think;
            if (r < first.size()) a.first = first[r];
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
            // A token budget is met exactly: the last batch extends only as
            // many branches (the first ones) as tokens remain.
            const bool tokens_spent =
                cfg_.max_tokens > 0 &&
                tokens_ + static_cast<int64_t>(reqs.size()) >= cfg_.max_tokens;
            if (tokens_spent || budget_exhausted() || (cancel_ && cancel_->load()) ||
                gen_.length(act[i].br.seq) >= gen_.n_ctx()) {
                act[i].done = true;
                continue;
            }
            ExtendRequest rq;
            rq.seq = act[i].br.seq;
            rq.stream = static_cast<uint64_t>(act[i].node);
            plan_thinking(act[i].br.think, rq);
            if (act[i].first >= 0) rq.force = act[i].first;  // (no thinking budgets here)
            reqs.push_back(std::move(rq));
            idx.push_back(i);
        }
        if (reqs.empty()) break;
        wait_while_paused();
        // One token for every active branch, in one batch; the tree is then
        // updated in branch order.
        std::vector<Extension> ext;
        try {
            ext = gen_.extend(reqs, sp, cfg_.tap_layers);
        } catch (const NonFiniteLogits& e) {
            const Active& a = act[idx[std::min(e.request, idx.size() - 1)]];
            throw Error("step " + std::to_string(tree_.at(a.node).depth) + " (node " +
                        std::to_string(a.node) + ", its token " +
                        std::to_string(a.step_tokens + 1) + "): " + e.what());
        }
        for (size_t k = 0; k < idx.size(); ++k) {
            Active& a = act[idx[k]];
            TokenSignals& sig = ext[k].token;
            ++tokens_;
            TokenRecord rec = token_record(std::move(sig));
            rec.forced = ext[k].forced && a.first < 0;  // a first token was chosen, not forced
            a.first = -1;
            auto record_hidden = [&] {
                if (ext[k].hidden.empty()) return;
                publish(HiddenState{a.node, cfg_.tap_layers, std::move(ext[k].hidden)});
            };
            track_thinking(a.br.think, rec, reqs[k], tok);
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
            // Control tokens other than the end (channel markers, <think>
            // when it is one) are shown as written.
            rec.piece =
                tok.token_to_piece(sig.token, tok.token_attr(sig.token) == TokenAttr::Control);
            ++a.step_tokens;
            const size_t piece_len = rec.piece.size();
            publish(TokensAppended{a.node, {std::move(rec)}});
            const bool cut = token_check_ && token_check_(a.node);  // sees every token
            const bool step_done = ends_step(tree_.at(a.node).text, piece_len) ||
                                   a.step_tokens >= cfg_.max_step_tokens || cut;
            if (step_done) {
                a.done = true;
                record_hidden();
            }
        }
        after_pass();
    }
    for (Active& a : act) {
        branches_[a.node] = std::move(a.br);
        mark_terminal_if_answered(a.node);
    }
    return created;
}

// Whether the step's text (its last piece `piece_len` bytes long) now ends
// at a delimiter that follows some non-blank text of the step.
bool SearchContext::ends_step(const std::string& text, size_t piece_len) const {
    const size_t piece_at = text.size() - std::min(piece_len, text.size());
    for (const std::string& d : cfg_.step_delimiters) {
        const size_t from = piece_at >= d.size() - 1 ? piece_at - (d.size() - 1) : 0;
        for (size_t p = text.find(d, from); p != std::string::npos; p = text.find(d, p + 1))
            if (text.find_first_not_of(" \t\r\n") < p) return true;
    }
    return false;
}

bool SearchContext::step_complete(const Node& n) const {
    return n.ended || ends_step(n.text, n.text.size());
}

// The run's thinking plan for one request: forced tokens first (the rest
// of a "Wait" or of the forced close), the close at the maximum, and below
// the minimum a veto on the end of thinking and of generation.
void SearchContext::plan_thinking(ThinkState& st, ExtendRequest& rq) const {
    const ThinkingConfig& th = cfg_.thinking;
    if (!th.enabled()) return;
    if (st.forced.empty() && st.in && th.max_tokens > 0 && st.tokens >= th.max_tokens &&
        !st.closing) {
        st.forced.assign(close_tokens_.begin(), close_tokens_.end());
        st.closing = true;
    }
    if (!st.forced.empty()) {
        rq.force = st.forced.front();
        return;
    }
    if (st.in && st.tokens < th.min_tokens && !wait_tokens_.empty()) {
        rq.veto = eog_tokens_;
        if (close_token_ >= 0) rq.veto.push_back(close_token_);
        rq.veto_with = wait_tokens_.front();
    }
}

// Marks the token thinking or answer and follows the markers; a forced
// token is taken off the plan, a vetoed end queues the rest of "Wait".
void SearchContext::track_thinking(ThinkState& st, TokenRecord& rec, const ExtendRequest& rq,
                                   const Tokenizer& tok) const {
    const ThinkingConfig& th = cfg_.thinking;
    if (!th.enabled()) return;
    if (rq.force >= 0 && !st.forced.empty()) st.forced.erase(st.forced.begin());
    if (rq.force < 0 && rec.forced && rq.veto_with >= 0)
        st.forced.assign(wait_tokens_.begin() + 1, wait_tokens_.end());
    st.tail += tok.token_to_piece(rec.id, true);
    if (!st.in) {
        const size_t o = st.tail.find(th.open);
        if (o != std::string::npos) {
            st.in = true;
            st.closing = false;
            st.tail.erase(0, o + th.open.size());
            rec.thinking = true;
            ++st.tokens;
        }
    } else {
        rec.thinking = true;
        ++st.tokens;
        const size_t c = st.tail.find(th.close);
        if (c != std::string::npos) {
            st.in = false;
            st.tail.erase(0, c + th.close.size());
        }
    }
    const size_t keep = std::max(th.open.size(), th.close.size());
    if (st.tail.size() > keep) st.tail.erase(0, st.tail.size() - keep);
}

void SearchContext::mark_terminal_if_answered(int id, const std::string* line) {
    const Node& n = tree_.at(id);
    // Answers count outside the thinking span only; a step cut short (by
    // its token limit) counts only for a \boxed{} that closed.
    const AnswerRule& rule = answer_rule_;
    const bool complete = line || step_complete(n);
    std::optional<std::string> ans;
    const std::string text = line ? *line : n.answer_text();
    if (complete)
        ans = find_answer(text, rule, false);
    else if (rule.format == AnswerFormat::Auto || rule.format == AnswerFormat::Boxed)
        ans = last_boxed(text);
    if (!ans && n.ended &&
        (rule.format == AnswerFormat::Auto || rule.format == AnswerFormat::LastNumber)) {
        // A finished trace without a stated answer: its last number (outside thinking).
        std::string path;
        for (int p : tree_.path(id))
            if (p != 0) path += tree_.at(p).answer_text();
        ans = find_answer(path, rule, true);
    }
    if (ans && !ans->empty()) {
        const int correct =
            task_.answer.empty() ? n.correct : (answers_equal(*ans, task_.answer) ? 1 : 0);
        publish(AnswerFound{id, *ans, correct});
    }
    if (!n.answer.empty() || n.ended || n.depth >= cfg_.max_depth) {
        publish(NodeStatusChanged{id, NodeStatus::Terminal});
        release_branch(id);
    }
}

void SearchContext::check_kv_room(const std::vector<std::pair<int, int>>& requests) const {
    const GeneratorStats st = gen_.stats();
    if (st.kv_capacity_bytes <= 0 || st.kv_block_bytes <= 0 || st.kv_block_tokens <= 0) return;
    const int64_t bt = st.kv_block_tokens, total = st.kv_capacity_bytes / st.kv_block_bytes;
    int64_t need = 0, branches = 0;
    for (auto [parent, n] : requests) {
        if (n <= 0 || !can_expand(parent)) continue;
        // A child writes from its parent's pending token on: a copy of the
        // shared partial block, then new blocks, for up to max_step_tokens.
        const int64_t first = gen_.length(branches_.at(parent).seq) - 1;
        const int64_t last = std::min<int64_t>(first + std::max(1, cfg_.max_step_tokens) - 1,
                                               std::max<int64_t>(first, gen_.n_ctx() - 1));
        need += static_cast<int64_t>(n) * (last / bt - first / bt + 1);
        branches += n;
    }
    if (need <= total) return;
    auto mib = [](int64_t blocks, int64_t bytes) {
        char b[32];
        std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(blocks) * bytes / (1 << 20));
        return std::string(b);
    };
    throw Error("expanding " + std::to_string(branches) + " branches at once needs up to " +
                mib(need, st.kv_block_bytes) + " of KV cache (" + std::to_string(need) +
                " blocks) for one step of up to " + std::to_string(cfg_.max_step_tokens) +
                " tokens each; the cache holds " + mib(total, st.kv_block_bytes) + " (" +
                std::to_string(total) + " blocks of " + std::to_string(bt) +
                " tokens): ask for fewer branches");
}

void SearchContext::release_branch(int node) {
    drop_peek(node);
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

// The path's text (outside thinking) from the end of its next-to-last step
// delimiter on: the line a token just completed, across nodes.
std::string SearchContext::last_line(int node) const {
    std::string t;
    for (int id : tree_.path(node))
        if (id != root()) t += tree_.at(id).answer_text();
    size_t body = t.size(), start = 0;
    for (const std::string& d : cfg_.step_delimiters)
        if (t.size() >= d.size() && t.compare(t.size() - d.size(), d.size(), d) == 0)
            body = std::min(body, t.size() - d.size());
    for (const std::string& d : cfg_.step_delimiters) {
        if (body < d.size()) continue;
        const size_t at = t.rfind(d, body - d.size());
        if (at != std::string::npos) start = std::max(start, at + d.size());
    }
    return t.substr(start);
}

void SearchContext::drop_peek(int node) {
    auto it = peeks_.find(node);
    if (it == peeks_.end()) return;
    if (it->second.seq >= 0 && gen_.alive(it->second.seq)) gen_.release(it->second.seq);
    peeks_.erase(it);
}

std::vector<std::vector<std::pair<TokenId, float>>> SearchContext::next_tokens(
    const std::vector<int>& nodes, int k) {
    if (k < 1) throw Error("next_tokens: k must be at least 1, not " + std::to_string(k));
    if (k > gen_.caps().max_alternatives)
        throw Error("next_tokens: " + std::to_string(k) + " candidates asked, but " +
                    gen_.backend_name() + " reports at most " +
                    std::to_string(gen_.caps().max_alternatives) + " alternatives");
    refuse_thinking_budgets(cfg_.thinking);
    for (int n : nodes)
        if (!can_expand(n))
            throw Error("next_tokens: node " + std::to_string(n) + " cannot be expanded (" +
                        status_name(tree_.at(n).status) + ")");
    if (refused_when_stopped()) return {};
    SamplingParams sp = cfg_.sampling;
    sp.temperature = 0;  // greedy: the signals are those of the raw distribution
    sp.repeat_penalty = 1.0f;
    sp.n_alternatives = k;
    std::vector<ExtendRequest> reqs;
    std::vector<int> which;  // the node of each request (each node once)
    for (int n : nodes) {
        if (std::find(which.begin(), which.end(), n) != which.end()) continue;
        const Branch& b = branches_.at(n);
        if (gen_.length(b.seq) >= gen_.n_ctx()) continue;  // no room: no candidates
        drop_peek(n);
        reqs.emplace_back(gen_.fork(b.seq), static_cast<uint64_t>(n));
        which.push_back(n);
    }
    std::vector<Extension> ext;
    try {
        ext = gen_.extend(reqs, sp, cfg_.tap_layers);
    } catch (const NonFiniteLogits& e) {
        for (const ExtendRequest& r : reqs) gen_.release(r.seq);
        throw Error("after node " + std::to_string(which[std::min(e.request, which.size() - 1)]) +
                    ": " + e.what());
    }
    for (size_t i = 0; i < which.size(); ++i)
        peeks_[which[i]] = Peek{reqs[i].seq, std::move(ext[i].token), std::move(ext[i].hidden)};
    kv_peak_ = std::max(kv_peak_, gen_.stats().kv_bytes);
    std::vector<std::vector<std::pair<TokenId, float>>> out;
    for (int n : nodes) {
        auto it = peeks_.find(n);
        out.push_back(it == peeks_.end() ? std::vector<std::pair<TokenId, float>>{}
                                         : it->second.sig.top);
    }
    return out;
}

std::vector<int> SearchContext::grow_tokens(const std::vector<TokenGrowth>& requests) {
    refuse_thinking_budgets(cfg_.thinking);
    const Tokenizer& tok = gen_.tokenizer();
    std::vector<int> appended;
    for (const TokenGrowth& r : requests) {
        const std::string at = "grow_tokens: node " + std::to_string(r.node);
        if (!can_expand(r.node))
            throw Error(at + " cannot be expanded (" + status_name(tree_.at(r.node).status) + ")");
        if (r.token < 0 || r.token >= tok.n_vocab())
            throw Error(at + ": token " + std::to_string(r.token) + " is outside the vocabulary");
        if (r.child) continue;
        if (r.node == root())
            throw Error(at +
                        ": tokens are appended to a step, not to the prompt (ask for a child)");
        if (!tree_.at(r.node).children.empty())
            throw Error(at + " has children: a token can be appended to a leaf only");
        if (std::find(appended.begin(), appended.end(), r.node) != appended.end())
            throw Error(at + ": two tokens appended to one node in one call");
        appended.push_back(r.node);
    }
    for (const TokenGrowth& r : requests)
        if (r.child && std::find(appended.begin(), appended.end(), r.node) != appended.end())
            throw Error("grow_tokens: node " + std::to_string(r.node) +
                        " gets both a child and an appended token in one call");
    if (refused_when_stopped()) return {};
    struct Item {
        int node = -1;  // where the token goes
        Branch br;
        TokenSignals sig;
        std::vector<float> hidden;  // taps at this token (when on)
        bool ready = false;         // sig known from next_tokens()' pass
    };
    std::vector<Item> items(requests.size());
    // A peek whose pending token is `token` becomes the branch (no pass).
    auto take_peek = [&](int node, TokenId token, Item& it) {
        auto pk = peeks_.find(node);
        if (pk == peeks_.end() || pk->second.sig.token != token) return false;
        it.br.seq = pk->second.seq;
        it.sig = std::move(pk->second.sig);
        it.hidden = std::move(pk->second.hidden);
        it.ready = true;
        peeks_.erase(pk);
        return true;
    };
    // A token budget is met exactly: only the first requests that fit get a token.
    const size_t fit = cfg_.max_tokens > 0
                           ? static_cast<size_t>(std::max<int64_t>(0, cfg_.max_tokens - tokens_))
                           : requests.size();
    // Children first: they fork their parent before an append moves it on.
    for (size_t i = 0; i < requests.size(); ++i) {
        const TokenGrowth& r = requests[i];
        if (!r.child || i >= fit) continue;
        const Branch& pb = branches_.at(r.node);
        if (gen_.length(pb.seq) >= gen_.n_ctx()) continue;
        Item& it = items[i];
        it.node = tree_.size();
        publish(NodeAdded{it.node, r.node, ""});
        it.br.think = pb.think;
        if (!take_peek(r.node, r.token, it)) it.br.seq = gen_.fork(pb.seq);
        if (tree_.at(r.node).status == NodeStatus::Open)
            publish(NodeStatusChanged{r.node, NodeStatus::Expanded});
    }
    for (size_t i = 0; i < requests.size(); ++i) {
        const TokenGrowth& r = requests[i];
        if (r.child || i >= fit) continue;
        Branch& b = branches_.at(r.node);
        if (gen_.length(b.seq) >= gen_.n_ctx()) continue;
        Item& it = items[i];
        it.node = r.node;
        it.br.think = b.think;
        if (take_peek(r.node, r.token, it)) {
            gen_.release(b.seq);
            b.seq = -1;
        } else {
            drop_peek(r.node);
            it.br.seq = b.seq;
        }
    }
    SamplingParams sp = cfg_.sampling;
    sp.temperature = 0;  // forced tokens' signals under the raw distribution
    sp.repeat_penalty = 1.0f;
    std::vector<ExtendRequest> reqs;
    std::vector<size_t> idx;
    for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].node < 0 || items[i].ready) continue;
        ExtendRequest rq(items[i].br.seq, static_cast<uint64_t>(items[i].node));
        rq.force = requests[i].token;
        reqs.push_back(rq);
        idx.push_back(i);
    }
    if (!reqs.empty()) {
        wait_while_paused();
        std::vector<Extension> ext;
        try {
            ext = gen_.extend(reqs, sp, cfg_.tap_layers);
        } catch (const NonFiniteLogits& e) {
            throw Error("node " +
                        std::to_string(items[idx[std::min(e.request, idx.size() - 1)]].node) +
                        ": " + e.what());
        }
        for (size_t k = 0; k < idx.size(); ++k) {
            items[idx[k]].sig = std::move(ext[k].token);
            items[idx[k]].hidden = std::move(ext[k].hidden);
            items[idx[k]].ready = true;
        }
    }
    std::vector<int> out(requests.size(), -1);
    const auto n_alt = static_cast<size_t>(std::max(0, cfg_.sampling.n_alternatives));
    for (size_t i = 0; i < items.size(); ++i) {
        Item& it = items[i];
        if (it.node < 0) continue;
        out[i] = it.node;
        ++tokens_;
        // (not forced: chosen by the strategy from the model's distribution;
        // next_tokens() may have asked for more alternatives than the run keeps)
        if (it.sig.top.size() > n_alt) it.sig.top.resize(n_alt);
        TokenRecord rec = token_record(std::move(it.sig));
        track_thinking(it.br.think, rec, ExtendRequest{}, tok);
        branches_[it.node] = it.br;
        bool boundary = false;
        if (tok.is_eog(rec.id)) {
            publish(TokensAppended{it.node, {std::move(rec)}});
            publish(NodeEnded{it.node});
            boundary = true;
        } else {
            rec.piece = tok.token_to_piece(rec.id, tok.token_attr(rec.id) == TokenAttr::Control);
            const size_t piece_len = rec.piece.size();
            publish(TokensAppended{it.node, {std::move(rec)}});
            boundary = ends_step(tree_.at(it.node).text, piece_len);
        }
        // A step's hidden state is the one at its last token, as expand()'s.
        if (boundary && !it.hidden.empty())
            publish(HiddenState{it.node, cfg_.tap_layers, std::move(it.hidden)});
        if (boundary) {
            // The line just completed, which may have begun in an ancestor.
            const std::string line = last_line(it.node);
            mark_terminal_if_answered(it.node, &line);
        } else if (tree_.at(it.node).depth >= cfg_.max_depth)
            mark_terminal_if_answered(it.node);
    }
    after_pass();
    return out;
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

double SearchContext::seconds_since_start() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

bool SearchContext::budget_exhausted() const {
    if (cfg_.max_tokens > 0 && tokens_ >= cfg_.max_tokens) return true;
    if (cfg_.max_passes > 0 && gen_.stats().forward_passes - passes0_ >= cfg_.max_passes)
        return true;
    if (cfg_.max_seconds > 0 && seconds_since_start() >= cfg_.max_seconds) return true;
    return false;
}

bool SearchContext::should_stop() {
    wait_while_paused();
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
    m.wall_seconds = seconds_since_start();
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
