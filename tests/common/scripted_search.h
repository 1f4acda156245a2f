// A scripted distribution for strategy tests, where the right tree is known:
// a scripted backend stands in for the model (next-token probabilities fixed
// by the previous token), so tree shapes, votes, picks, batching and budgets
// can be checked exactly. Shared by the strategy test suites.
#pragma once

#include <QTemporaryDir>
#include <atomic>
#include <cmath>
#include <map>

#include "core/run_service.h"
#include "reasonscope/gguf.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/search.h"
#include "reasonscope/thread_pool.h"

namespace rs::test {

// Vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3 "q", 4 "1", 5 "2", 6 "3", 7 "\n",
// then a test's extra tokens from 8 on (see tiny_model()).
// After "q": "1" 0.5, "2" 0.3, "3" 0.2; after a digit: "\n"; after "\n": </s>.
class ScriptedBackend final : public Backend {
  public:
    explicit ScriptedBackend(int n_vocab = 8) : vocab(n_vocab) {}
    std::map<TokenId, std::vector<std::pair<TokenId, double>>> rules = {
        {3, {{4, 0.5}, {5, 0.3}, {6, 0.2}}},
        {4, {{7, 1.0}}},
        {5, {{7, 1.0}}},
        {6, {{7, 1.0}}},
        {7, {{2, 1.0}}}};
    std::string name() const override { return "scripted"; }
    BackendCaps caps() const override { return {}; }
    // Two real threads, so the tests below (same seed, same tree; exact
    // shapes) also cover branches sampled concurrently.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
        pool_.run(n, [&](int64_t b, int64_t e, int) { fn(b, e); });
    }
    std::unique_ptr<KvStorage> make_kv_storage(const KvLayout& layout) override {
        return std::make_unique<HostKvStorage>(layout);
    }
    // The model's graph runs, but only the output op computes: each row's
    // logits follow the rules for its token.
    void begin_pass(const Pass& pass) override { pass_ = pass; }
    Act act(int slot, int rows, int cols) override { return {slot, rows, cols}; }
    void embed(const Weight&, Act) override {}
    void matmul(const Weight&, Act, Act) override {}
    void add_bias(Act, const Weight&) override {}
    void rmsnorm(Act, const Weight&, Act, int, float) override {}
    void rope(Act, int, int, const RopeSpec&) override {}
    void store_kv(int, Act, Act) override {
        for (const BatchRow& r : pass_.rows)  // the caller reserved this slot
            (void)pass_.kv->block_of(r.seq, r.pos);
    }
    void attention(int, Act, Act, const AttnSpec&) override {}
    void swiglu(Act, Act, Act) override {}
    void add(Act, Act) override {}
    // Taps are zeros unless a test scripts them: tap_state(row, layer, out,
    // dim) writes the hidden state of a tapped row (the evaluated token
    // row.token at row.pos) at `layer`.
    void tap(int layer, Act x) override {
        if (!pass_.taps || !tap_state) return;
        const std::vector<int>& layers = pass_.taps->layers;
        size_t k = 0;
        for (const BatchRow& r : pass_.rows) {
            if (!r.tap) continue;
            for (size_t li = 0; li < layers.size(); ++li)
                if (layers[li] == layer)
                    tap_state(r, layer, pass_.taps->out + (k * layers.size() + li) * x.cols,
                              x.cols);
            ++k;
        }
    }
    std::function<void(const BatchRow&, int layer, float* out, int dim)> tap_state;
    void gather_logit_rows(Act, Act) override {}
    void output(const Weight&, Act) override {
        float* logits = pass_.logits;
        for (const BatchRow& r : pass_.rows) {
            if (!r.logits) continue;
            for (int i = 0; i < vocab; ++i) logits[i] = -30.0f;
            auto it = rules.find(r.token);
            if (it != rules.end())
                for (auto [tok, p] : it->second) logits[tok] = static_cast<float>(std::log(p));
            if (r.token == nan_after) logits[3] = std::nanf("");
            logits += vocab;
        }
    }
    TokenId nan_after = -1;  // this token's row of logits gets a NaN
    int vocab = 8;           // the model's vocabulary: 8 and the extra tokens

  private:
    Pass pass_;
    ThreadPool pool_{2};
};

// The scripted model's file. `extra` tokens (ids 8, 9, ...) widen the
// vocabulary for worlds the eight tokens cannot script, e.g. a second step
// end ("a\n") whose continuation differs from the one after "\n".
inline std::string tiny_model(const QString& dir, const std::vector<std::string>& extra = {}) {
    GgufWriter w;
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "q", "1", "2", "3", "\n"};
    std::vector<int32_t> types = {2, 3, 3, 1, 1, 1, 1, 1};
    for (const std::string& e : extra) {
        tokens.push_back(e);
        types.push_back(1);
    }
    const auto nv = static_cast<int64_t>(tokens.size());
    w.add_string("general.architecture", "llama");
    const int d = 32;
    w.add_u32("llama.context_length", 64);
    w.add_u32("llama.embedding_length", d);
    w.add_u32("llama.block_count", 1);
    w.add_u32("llama.feed_forward_length", d);
    w.add_u32("llama.attention.head_count", 1);
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_string_array("tokenizer.ggml.tokens", tokens);
    w.add_f32_array("tokenizer.ggml.scores", std::vector<float>(tokens.size(), 0.0f));
    w.add_i32_array("tokenizer.ggml.token_type", types);
    w.add_u32("tokenizer.ggml.bos_token_id", 1);
    w.add_u32("tokenizer.ggml.eos_token_id", 2);
    w.add_bool("tokenizer.ggml.add_space_prefix", false);
    auto t = [&](const std::string& name, std::vector<int64_t> dims) {
        int64_t n = 1;
        for (auto x : dims) n *= x;
        w.add_tensor(name, GgmlType::F32, dims,
                     std::vector<uint8_t>(static_cast<size_t>(n) * 4, 0));
    };
    t("token_embd.weight", {d, nv});
    t("output_norm.weight", {d});
    for (const char* n : {"attn_norm", "ffn_norm"}) t(std::string("blk.0.") + n + ".weight", {d});
    for (const char* n :
         {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
        t(std::string("blk.0.") + n + ".weight", {d, d});
    std::string path = (dir + "/scripted.gguf").toStdString();
    w.write(path);
    return path;
}

// "q", whose right answer is "2", read as the first digit.
inline Task q_task() {
    Task t;
    t.id = t.prompt = "q";
    t.answer = "2";
    t.answer_pattern = "([0-9])";
    return t;
}

struct Fixture {
    QTemporaryDir dir;
    std::unique_ptr<Model> model;
    std::unique_ptr<LocalGenerator> gen;
    app::PluginManager plugins;
    ScriptedBackend* backend = nullptr;  // owned by gen's session
    // 1 << 14 tokens: 256 branches, each with room for one step (up to the
    // 64-token context: 4 blocks) of its own. `extra`: tokens after the
    // eight (tiny_model()).
    explicit Fixture(int kv_tokens = 1 << 14, const std::vector<std::string>& extra = {}) {
        model = Model::load(tiny_model(dir.path(), extra));
        SessionOptions so;
        so.kv_tokens = kv_tokens;
        auto b = std::make_unique<ScriptedBackend>(8 + static_cast<int>(extra.size()));
        backend = b.get();
        gen = std::make_unique<LocalGenerator>(std::make_unique<Session>(*model, std::move(b), so));
        plugins.scan();
    }
    // Runs a strategy object (not a plugin) on "q" with these budgets.
    RunOutcome run(Strategy& s, const RunConfig& cfg, std::unique_ptr<SearchContext>& ctx,
                   std::atomic<bool>* cancel = nullptr) {
        ctx = std::make_unique<SearchContext>(*gen, q_task(), cfg);
        ctx->set_control(cancel, nullptr);
        return run_strategy(s, *ctx, Params::object());
    }
    // Runs a strategy on "q" (the right answer is "2") and returns the outcome.
    RunOutcome run(const std::string& strategy,
                   std::vector<std::pair<std::string, std::string>> sets,
                   std::unique_ptr<SearchContext>& ctx, int64_t max_tokens = 0,
                   const Task& task = q_task()) {
        app::RunRequest req;
        req.task = task;
        req.strategy = strategy;
        req.sets = std::move(sets);
        req.config.max_tokens = max_tokens;
        app::PreparedRun p = app::prepare_run(plugins, req);
        ctx = std::make_unique<SearchContext>(*gen, req.task, p.config);
        return run_strategy(*p.strategy, *ctx, p.params);
    }
};

// Scripted worlds (tokens: 2 </s>, 3 "q", 4 "1", 5 "2", 6 "3", 7 "\n"; the
// next token's probabilities by the previous one).
using Rules = std::map<TokenId, std::vector<std::pair<TokenId, double>>>;

// Two steps: "1\n" (p1) or "2\n", then "31\n" or "32\n" at even odds,
// whose digit after the 3 is the answer (two_step_task()).
inline Rules two_step_world(double p1 = 0.5) {
    return {{3, {{4, p1}, {5, 1 - p1}}},
            {4, {{7, 1.0}}},
            {5, {{7, 1.0}}},
            {7, {{6, 1.0}}},
            {6, {{4, 0.5}, {5, 0.5}}}};
}
inline Task two_step_task() {
    Task t = q_task();
    t.answer_pattern = "3([12])";
    return t;
}

// A step reward for the two-step world: 1 for a step that writes "2".
class WritesTwo final : public Scorer {
  public:
    std::string id() const override { return "writes-two"; }
    double score(SearchContext& ctx, int node) override {
        return ctx.node(node).text.find('2') != std::string::npos ? 1.0 : 0.0;
    }
};
// Registers scorer class S (default-constructible) under `id` in the
// engine's registry, as a plugin would.
template <class S>
void register_test_scorer(const std::string& id, const std::string& name,
                          const std::string& source) {
    ScorerInfo info;
    info.id = id;
    info.name = name;
    info.source = source;
    register_scorer(info, [] { return std::make_unique<S>(); });
}

// A node's score under `key`, NaN when it has none.
inline double score_of(const Node& n, const std::string& key) {
    auto it = n.scores.find(key);
    return it == n.scores.end() ? std::nan("") : it->second;
}

}  // namespace rs::test
