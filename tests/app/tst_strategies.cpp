// Strategies on a scripted distribution, where the right tree is known: a
// scripted backend stands in for the model (next-token probabilities fixed
// by the previous token), so tree shapes, votes, picks, batching and budgets
// can be checked exactly.
#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <cmath>
#include <map>

#include "core/run_service.h"
#include "reasonscope/gguf.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/search.h"
#include "reasonscope/thread_pool.h"

using namespace rs;

namespace {

// Vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3 "q", 4 "1", 5 "2", 6 "3", 7 "\n".
// After "q": "1" 0.5, "2" 0.3, "3" 0.2; after a digit: "\n"; after "\n": </s>.
class ScriptedBackend final : public Backend {
  public:
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
    void tap(int, Act) override {}
    void gather_logit_rows(Act, Act) override {}
    void output(const Weight&, Act) override {
        float* logits = pass_.logits;
        for (const BatchRow& r : pass_.rows) {
            if (!r.logits) continue;
            for (int i = 0; i < 8; ++i) logits[i] = -30.0f;
            auto it = rules.find(r.token);
            if (it != rules.end())
                for (auto [tok, p] : it->second) logits[tok] = static_cast<float>(std::log(p));
            if (r.token == nan_after) logits[3] = std::nanf("");
            logits += 8;
        }
    }
    TokenId nan_after = -1;  // this token's row of logits gets a NaN

  private:
    Pass pass_;
    ThreadPool pool_{2};
};

std::string tiny_model(const QString& dir) {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    const int d = 32;
    w.add_u32("llama.context_length", 64);
    w.add_u32("llama.embedding_length", d);
    w.add_u32("llama.block_count", 1);
    w.add_u32("llama.feed_forward_length", d);
    w.add_u32("llama.attention.head_count", 1);
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "q", "1", "2", "3", "\n"});
    w.add_f32_array("tokenizer.ggml.scores", std::vector<float>(8, 0.0f));
    w.add_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1});
    w.add_u32("tokenizer.ggml.bos_token_id", 1);
    w.add_u32("tokenizer.ggml.eos_token_id", 2);
    w.add_bool("tokenizer.ggml.add_space_prefix", false);
    auto t = [&](const std::string& name, std::vector<int64_t> dims) {
        int64_t n = 1;
        for (auto x : dims) n *= x;
        w.add_tensor(name, GgmlType::F32, dims,
                     std::vector<uint8_t>(static_cast<size_t>(n) * 4, 0));
    };
    t("token_embd.weight", {d, 8});
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
Task q_task() {
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
    // 64-token context: 4 blocks) of its own.
    explicit Fixture(int kv_tokens = 1 << 14) {
        model = Model::load(tiny_model(dir.path()));
        SessionOptions so;
        so.kv_tokens = kv_tokens;
        auto b = std::make_unique<ScriptedBackend>();
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
                   std::unique_ptr<SearchContext>& ctx, int64_t max_tokens = 0) {
        app::RunRequest req;
        req.task = q_task();
        req.strategy = strategy;
        req.sets = std::move(sets);
        req.config.max_tokens = max_tokens;
        app::PreparedRun p = app::prepare_run(plugins, req);
        ctx = std::make_unique<SearchContext>(*gen, req.task, p.config);
        return run_strategy(*p.strategy, *ctx, p.params);
    }
};

// Strategies that misbehave: throw something that is not an exception, or
// expand forever without asking should_stop().
class ThrowsInt final : public Strategy {
  public:
    void run(SearchContext& ctx, const Params&) override {
        ctx.expand(ctx.root(), 2);
        throw 7;
    }
};
class ScorerThrowsInt final : public Scorer {
  public:
    std::string id() const override { return "throws-int"; }
    double score(SearchContext&, int) override { throw 'x'; }
};
class ScoresWithAThrowingScorer final : public Strategy {
  public:
    void run(SearchContext& ctx, const Params&) override {
        ScorerThrowsInt sc;
        for (int k : ctx.expand(ctx.root(), 2)) ctx.score(k, sc);
    }
};
class ExpandsForever final : public Strategy {
  public:
    std::atomic<bool>* cancel_after_5 = nullptr;
    void run(SearchContext& ctx, const Params&) override {
        for (int i = 0;; ++i) {
            if (i == 5 && cancel_after_5) cancel_after_5->store(true);
            ctx.expand(ctx.root(), 1);
        }
    }
};
class ExpandsAtOnce final : public Strategy {
  public:
    int n = 0;
    void run(SearchContext& ctx, const Params&) override { ctx.complete(ctx.expand(0, n)); }
};

int64_t tree_tokens(const SearchContext& ctx) {
    int64_t n = 0;
    for (const Node& x : ctx.tree().nodes()) n += static_cast<int64_t>(x.tokens.size());
    return n;
}

std::map<std::string, int> answers(const SearchContext& ctx) {
    std::map<std::string, int> m;
    for (const Node& n : ctx.tree().nodes())
        if (!n.answer.empty()) m[n.answer]++;
    return m;
}

}  // namespace

class TestStrategies : public QObject {
    Q_OBJECT
  private slots:
    void greedyChainTakesTheMode() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("chain-of-thought", {}, ctx);
        QCOMPARE(o.status, std::string("ok"));
        QCOMPARE(ctx->tree().size(), 2);  // the prompt and one step "1\n"
        QCOMPARE(ctx->node(1).text, std::string("1\n"));
        QCOMPARE(o.answer, std::string("1"));
        QCOMPARE(o.correct, 0);
        // One pass for the prompt's first token, two for the step's two tokens.
        QCOMPARE(o.metrics.forward_passes, int64_t(3));
    }

    void selfConsistencyVotesAndBatches() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("self-consistency", {{"n", "250"}, {"temperature", "1"}}, ctx);
        QCOMPARE(o.status, std::string("ok"));
        QCOMPARE(ctx->tree().size(), 251);
        QCOMPARE(ctx->node(0).children.size(), size_t(250));
        // All 250 branches decode together: 1 prompt pass + 2 batched passes.
        QCOMPARE(o.metrics.forward_passes, int64_t(3));
        auto a = answers(*ctx);
        QCOMPARE(a["1"] + a["2"] + a["3"], 250);
        QVERIFY2(
            std::abs(a["1"] - 125) < 28 && std::abs(a["2"] - 75) < 25 && std::abs(a["3"] - 50) < 22,
            qPrintable(QString("%1 %2 %3").arg(a["1"]).arg(a["2"]).arg(a["3"])));
        QCOMPARE(o.answer, std::string("1"));    // the majority, wrong here
        QVERIFY(app::any_correct(ctx->tree()));  // but covered
    }

    void bestOfNWithTheAnswerOracleFindsCoverage() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o =
            f.run("best-of-n", {{"n", "8"}, {"scorer", "answer"}, {"temperature", "1"}}, ctx);
        QCOMPARE(o.answer == "2", app::any_correct(ctx->tree()));
    }

    void beamKeepsTheMostLikelySteps() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run(
            "beam-search",
            {{"width", "2"}, {"expansions", "6"}, {"scorer", "logprob"}, {"temperature", "1"}},
            ctx);
        QCOMPARE(ctx->tree().size(), 7);
        // Scores are the steps' geometric-mean probabilities: sqrt(p(digit)).
        for (int id : ctx->node(0).children) {
            const Node& n = ctx->node(id);
            double p = n.answer == "1" ? 0.5 : n.answer == "2" ? 0.3 : 0.2;
            QVERIFY(std::fabs(n.scores.at("logprob") - std::sqrt(p)) < 1e-4);
        }
        if (answers(*ctx).count("1")) QCOMPARE(o.answer, std::string("1"));
    }

    // MCTS bookkeeping on the scripted world, where every step is terminal:
    // the first iteration expands the root (one backup per child), each later
    // one selects a child and backs its value up again. With the answer
    // oracle and no exploration (c_puct 0) every later visit goes to the
    // best child; the most visited line gives the answer.
    void mctsBacksUpAndExploits() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("mcts",
                             {{"iterations", "20"},
                              {"expansions", "6"},
                              {"c_puct", "0"},
                              {"scorer", "answer"},
                              {"temperature", "1"}},
                             ctx);
        QCOMPARE(o.status, std::string("ok"));
        const Node& root = ctx->node(0);
        QCOMPARE(root.children.size(), size_t(6));
        QCOMPARE(root.visits, 6 + 19);  // 6 backups at the expansion, 1 per later iteration
        int correct = -1, visited = 0;
        for (int ch : root.children) {
            const Node& n = ctx->node(ch);
            QCOMPARE(n.value_sum, n.answer == "2" ? static_cast<double>(n.visits) : 0.0);
            if (n.answer == "2" && correct < 0) correct = ch;
            if (n.visits > 1) ++visited;
        }
        QCOMPARE(visited, 1);  // no exploration: one child takes all 19 later visits
        if (correct >= 0) {
            QCOMPARE(o.answer, std::string("2"));
            QCOMPARE(ctx->node(correct).visits, 20);
        } else {
            QCOMPARE(ctx->node(root.children[0]).visits, 20);  // all values 0: the first wins ties
        }
        // With exploration the visits spread over the children.
        std::unique_ptr<SearchContext> ctx2;
        f.run("mcts",
              {{"iterations", "40"},
               {"expansions", "6"},
               {"c_puct", "4"},
               {"scorer", "answer"},
               {"temperature", "1"}},
              ctx2);
        int spread = 0;
        for (int ch : ctx2->node(0).children) spread += ctx2->node(ch).visits > 1;
        QVERIFY(spread >= 3);
    }

    // Particle filtering: weights from the answer oracle make the effective
    // sample size exactly the number of correct particles; resampling (ESS
    // below threshold x particles) replaces the population by correct ones;
    // without resampling the weighted vote still picks the right answer.
    void particleFilterWeightsAndResamples() {
        Fixture f;
        for (const char* thr : {"1", "0"}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o = f.run("particle-filtering",
                                 {{"particles", "16"},
                                  {"ess_threshold", thr},
                                  {"scorer", "answer"},
                                  {"temperature", "1"}},
                                 ctx);
            QCOMPARE(o.status, std::string("ok"));
            int k = 0;
            for (int ch : ctx->node(0).children) k += ctx->node(ch).answer == "2";
            QCOMPARE(ctx->node(0).children.size(), size_t(16));
            QVERIFY2(
                std::fabs(ctx->node(0).scores.at("ess") - k) < 1e-6,
                qPrintable(
                    QString("ess %1 vs %2 correct").arg(ctx->node(0).scores.at("ess")).arg(k)));
            if (k == 0) continue;
            QCOMPARE(o.answer, std::string("2"));
            double wsum = 0;
            int weighted = 0;
            for (int ch : ctx->node(0).children) {
                const Node& n = ctx->node(ch);
                auto it = n.scores.find("particle_weight");
                if (it == n.scores.end()) continue;
                ++weighted;
                wsum += it->second;
                if (std::string(thr) == "1")
                    QCOMPARE(n.answer, std::string("2"));  // only correct particles survive
            }
            QVERIFY(weighted >= 1);
            if (std::string(thr) == "0") QVERIFY(std::fabs(wsum - 1.0) < 1e-6);
        }
    }

    void sameSeedSameTree() {
        Fixture f1, f2;
        std::unique_ptr<SearchContext> a, b;
        f1.run("self-consistency", {{"n", "20"}, {"temperature", "1"}}, a);
        f2.run("self-consistency", {{"n", "20"}, {"temperature", "1"}}, b);
        for (int i = 0; i < a->tree().size(); ++i) QCOMPARE(a->node(i).text, b->node(i).text);
    }

    // The budget is met exactly, also inside a batch of 250 branches: the
    // last batch extends only as many branches as tokens remain.
    void tokenBudgetStopsTheRun() {
        Fixture f;
        for (int64_t budget : {100, 37, 251}) {
            std::unique_ptr<SearchContext> ctx;
            RunOutcome o =
                f.run("self-consistency", {{"n", "250"}, {"temperature", "1"}}, ctx, budget);
            QCOMPARE(o.status, std::string("budget"));
            QCOMPARE(o.metrics.tokens_generated, budget);
            QCOMPARE(tree_tokens(*ctx), budget);
        }
    }

    // A strategy that loops without asking should_stop() is stopped by the
    // runtime at each budget and at cancel: expand() gives no children once
    // stopped, then ends the strategy.
    void runtimeEnforcesBudgetsOnALoopingStrategy() {
        Fixture f;
        ExpandsForever loop;
        std::unique_ptr<SearchContext> ctx;
        RunConfig tokens;
        tokens.max_tokens = 37;
        RunOutcome o = f.run(loop, tokens, ctx);
        QCOMPARE(o.status, std::string("budget"));
        QCOMPARE(o.metrics.tokens_generated, int64_t(37));
        QCOMPARE(ctx->tree().size(), 20);  // 18 steps "1\n" and one of 1 token (and the root)
        RunConfig passes;
        passes.max_passes = 9;
        o = f.run(loop, passes, ctx);
        QCOMPARE(o.status, std::string("budget"));
        QCOMPARE(o.metrics.forward_passes, int64_t(9));
        RunConfig seconds;
        seconds.max_seconds = 0.2;
        o = f.run(loop, seconds, ctx);
        QCOMPARE(o.status, std::string("budget"));
        QVERIFY(o.metrics.wall_seconds < 5);
        std::atomic<bool> cancel{false};
        loop.cancel_after_5 = &cancel;
        o = f.run(loop, RunConfig{}, ctx, &cancel);
        QCOMPARE(o.status, std::string("cancelled"));
        QCOMPARE(ctx->tree().size(), 6);
    }

    // A strategy or scorer that throws something that is not a
    // std::exception fails the run with a message; the process goes on.
    void nonExceptionThrowsFailTheRun() {
        Fixture f;
        std::unique_ptr<SearchContext> ctx;
        ThrowsInt s;
        RunOutcome o = f.run(s, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("int 7 (not a std::exception)") != std::string::npos,
                 o.error.c_str());
        QCOMPARE(ctx->tree().size(), 3);  // what it did before is kept
        ScoresWithAThrowingScorer s2;
        o = f.run(s2, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("unknown type") != std::string::npos, o.error.c_str());
    }

    // Branches that could not hold one step each even in the empty KV cache
    // are refused before any token, saying how much they need; before, such
    // a run filled the cache token after token and failed late.
    void branchesBeyondTheKvCacheAreRefusedAtOnce() {
        Fixture f(16 * 300);                                    // 300 blocks
        f.backend->rules = {{3, {{4, 1.0}}}, {4, {{4, 1.0}}}};  // "q111111...": long steps
        ExpandsAtOnce s;
        s.n = 100;  // 100 x 4 blocks (62 tokens of the 64-token context)
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run(s, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("expanding 100 branches at once needs up to") != std::string::npos &&
                     o.error.find("(400 blocks)") != std::string::npos &&
                     o.error.find("holds") != std::string::npos &&
                     o.error.find("(300 blocks of 16 tokens)") != std::string::npos,
                 o.error.c_str());
        QCOMPARE(o.metrics.tokens_generated, int64_t(0));
        s.n = 70;  // fits: runs to the context's end
        o = f.run(s, RunConfig{}, ctx);
        QCOMPARE(o.status, std::string("ok"));
    }

    // NaN in the model's output ends the run with an error naming the step.
    void nanLogitsEndTheRunNamingTheStep() {
        Fixture f;
        f.backend->nan_after = 4;  // the logits after "1"
        std::unique_ptr<SearchContext> ctx;
        RunOutcome o = f.run("chain-of-thought", {}, ctx);
        QCOMPARE(o.status, std::string("error"));
        QVERIFY2(o.error.find("step 1 (node 1, its token 2)") != std::string::npos &&
                     o.error.find("not numbers") != std::string::npos,
                 o.error.c_str());
        QCOMPARE(ctx->node(1).text, std::string("1"));
    }
};

QTEST_GUILESS_MAIN(TestStrategies)
#include "tst_strategies.moc"
