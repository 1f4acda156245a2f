// A reasoning model's run end to end on a qwen3-shaped file (the reference
// mini-qwen3 with Qwen's chat tokens and Qwen3's real chat template added):
// the template is rendered into the prompt, thinking tokens are marked,
// steps are paragraphs, \boxed answers are found and judged, budget forcing
// closes thinking at the maximum and says "Wait" below the minimum, a
// GSM8K-style suite runs, and the store keeps all of it. Random weights say
// nothing useful, so a scripted generator picks the tokens (the real engine
// still evaluates every one of them and gives its signals); the CLI runs on
// the same file unscripted.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <map>
#include <sstream>

#include "core/run_service.h"
#include "core/session_options.h"
#include "gguf_copy.h"
#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "test_paths.h"

using namespace rs;

namespace {

std::string read_file(const QString& path) {
    std::ifstream in(path.toStdString(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The reference mini-qwen3 with four tokens appended (<|im_start|>,
// <|im_end|> as control tokens, <think> and </think> as user-defined ones,
// as Qwen3's vocabulary has them), <|im_end|> as EOS, and a chat template.
std::string make_chat_model(const QString& dir, const std::string& chat_template) {
    auto f = GgufFile::open(rs::test::reference("models/mini-qwen3-f16.gguf").toStdString());
    const std::vector<std::string> added = {"<|im_start|>", "<|im_end|>", "<think>", "</think>"};
    const std::vector<int32_t> added_type = {3, 3, 4, 4};
    const auto n_vocab = static_cast<int32_t>(f->get_array("tokenizer.ggml.tokens").items.size());
    GgufWriter w;
    rs::test::copy_gguf_metadata(*f, w,
                                 [&](const std::string& k, const GgufValue& v, GgufWriter& out) {
                                     if (k == "tokenizer.ggml.eos_token_id") {
                                         out.add_u32(k, static_cast<uint32_t>(n_vocab + 1));
                                     } else if (k == "tokenizer.ggml.tokens") {
                                         std::vector<std::string> a;
                                         for (const auto& e : v.items) a.emplace_back(e.str);
                                         a.insert(a.end(), added.begin(), added.end());
                                         out.add_string_array(k, a);
                                     } else if (k == "tokenizer.ggml.scores") {
                                         std::vector<float> a;
                                         for (const auto& e : v.items)
                                             a.push_back(static_cast<float>(e.as_double()));
                                         a.resize(a.size() + added.size(), 0.0f);
                                         out.add_f32_array(k, a);
                                     } else if (k == "tokenizer.ggml.token_type") {
                                         std::vector<int32_t> a;
                                         for (const auto& e : v.items)
                                             a.push_back(static_cast<int32_t>(e.as_int()));
                                         a.insert(a.end(), added_type.begin(), added_type.end());
                                         out.add_i32_array(k, a);
                                     } else
                                         return false;
                                     return true;
                                 });
    w.add_string("tokenizer.chat_template", chat_template);
    for (const GgufTensor& t : f->tensors()) {
        std::vector<uint8_t> data(t.data, t.data + t.n_bytes);
        std::vector<int64_t> dims = t.dims;
        if ((t.name == "token_embd.weight" || t.name == "output.weight") && dims.size() == 2 &&
            dims[1] == n_vocab) {
            // Rows for the new tokens: copies of the first rows.
            const size_t row = t.n_bytes / static_cast<size_t>(n_vocab);
            for (size_t r = 0; r < added.size(); ++r)
                data.insert(data.end(), t.data + r * row, t.data + (r + 1) * row);
            dims[1] += static_cast<int64_t>(added.size());
        }
        w.add_tensor(t.name, t.type, dims, std::move(data));
    }
    const std::string path = (dir + "/mini-qwen3-chat.gguf").toStdString();
    w.write(path);
    return path;
}

// The real engine with the token choice scripted: each sequence forked from
// the root follows the script of its task (round robin over `scripts`), and
// the run's own forcing (budget forcing) goes first. A scripted token the
// run vetoes is replaced as the engine would, and tried again afterwards: a
// model that keeps wanting to stop.
class ScriptedGenerator final : public Generator {
  public:
    ScriptedGenerator(Generator& inner, std::vector<std::string> scripts)
        : inner_(inner), texts_(std::move(scripts)) {
        const Tokenizer& tok = inner_.tokenizer();
        for (const auto& s : texts_) {
            auto ids = tok.encode(s, false, true);
            ids.push_back(tok.eos());
            scripts_.push_back(std::move(ids));
        }
    }
    const Tokenizer& tokenizer() const override { return inner_.tokenizer(); }
    std::string model_name() const override { return inner_.model_name(); }
    std::string backend_name() const override { return inner_.backend_name(); }
    GeneratorCaps caps() const override { return inner_.caps(); }
    int n_ctx() const override { return inner_.n_ctx(); }
    int hidden_dim() const override { return inner_.hidden_dim(); }
    int n_layers() const override { return inner_.n_layers(); }
    int start(std::span<const TokenId> prompt) override {
        const int s = inner_.start(prompt);
        pos_[s] = {-1, 0};
        return s;
    }
    int fork(int seq) override {
        const int c = inner_.fork(seq);
        Pos p = pos_.at(seq);
        if (p.script < 0) p = {next_++ % static_cast<int>(scripts_.size()), 0};
        pos_[c] = p;
        return c;
    }
    void release(int seq) override {
        inner_.release(seq);
        pos_.erase(seq);
    }
    bool alive(int seq) const override { return inner_.alive(seq); }
    int length(int seq) const override { return inner_.length(seq); }
    const std::vector<TokenId>& tokens(int seq) const override { return inner_.tokens(seq); }
    std::vector<Extension> extend(std::span<const ExtendRequest> requests,
                                  const SamplingParams& params,
                                  const std::vector<int>& tap_layers) override {
        std::vector<ExtendRequest> reqs(requests.begin(), requests.end());
        std::vector<int> kind(reqs.size());  // 0 run-forced, 1 scripted, 2 vetoed
        for (size_t k = 0; k < reqs.size(); ++k) {
            ExtendRequest& r = reqs[k];
            if (r.force >= 0) continue;
            Pos& p = pos_.at(r.seq);
            const auto& sc = scripts_.at(static_cast<size_t>(p.script));
            const TokenId want = sc[std::min(p.at, sc.size() - 1)];
            if (r.veto_with >= 0 && std::find(r.veto.begin(), r.veto.end(), want) != r.veto.end()) {
                r.force = r.veto_with;
                kind[k] = 2;
            } else {
                r.force = want;
                ++p.at;
                kind[k] = 1;
            }
            r.veto.clear();
            r.veto_with = -1;
        }
        std::vector<Extension> out = inner_.extend(reqs, params, tap_layers);
        for (size_t k = 0; k < out.size(); ++k) out[k].forced = kind[k] != 1;
        return out;
    }
    double continuation_logprob(std::span<const TokenId> a, std::span<const TokenId> b) override {
        return inner_.continuation_logprob(a, b);
    }
    std::vector<float> next_token_logprobs(std::span<const TokenId> t) override {
        return inner_.next_token_logprobs(t);
    }
    GeneratorStats stats() const override { return inner_.stats(); }

  private:
    struct Pos {
        int script = -1;
        size_t at = 0;
    };
    Generator& inner_;
    std::vector<std::string> texts_;
    std::vector<std::vector<TokenId>> scripts_;
    std::map<int, Pos> pos_;
    int next_ = 0;
};

// The generated tokens of the chosen path (or of the first leaf).
std::vector<TokenRecord> path_tokens(const ReasoningTree& t, int leaf) {
    std::vector<TokenRecord> out;
    for (int n : t.path(leaf))
        for (const auto& r : t.at(n).tokens) out.push_back(r);
    return out;
}
std::string text_of(const std::vector<TokenRecord>& v, int thinking = -1) {
    std::string s;
    for (const auto& r : v)
        if (thinking < 0 || r.thinking == (thinking == 1)) s += r.piece;
    return s;
}

}  // namespace

class TestRealModels : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string model_path_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<LocalGenerator> gen_;
    app::PluginManager plugins_;

    app::RunRequest request(const std::string& question, const std::string& answer) {
        app::RunRequest req;
        req.task = Task{"q1", question, answer};
        req.strategy = "chain-of-thought";
        req.sets = {{"temperature", "0"}, {"max_depth", "12"}};
        req.prompt.chat = 1;
        req.prompt.steps = "paragraph";
        req.config.max_tokens = 400;
        return req;
    }

  private slots:
    void initTestCase() {
        RS_REQUIRE_REFERENCE();
        const std::string tmpl =
            read_file(rs::test::reference("chat-templates/Qwen-Qwen3-0.6B.jinja"));
        QVERIFY(!tmpl.empty());
        model_path_ = make_chat_model(dir_.path(), tmpl);
        // For trying the app and CLI on it by hand (docs/user-guide.md).
        if (qEnvironmentVariableIsSet("RS_KEEP_CHAT_MODEL"))
            QFile::copy(QString::fromStdString(model_path_),
                        qEnvironmentVariable("RS_KEEP_CHAT_MODEL"));
        model_ = Model::load(model_path_);
        gen_ = std::make_unique<LocalGenerator>(*model_, app::search_session_options(1));
        plugins_.scan();
        QVERIFY(model_->tokenizer().find("<think>") >= 0);
    }

    // The text the model's tokenizer makes of `s` (SPM adds its space prefix).
    std::string as_pieces(const std::string& s) const {
        const Tokenizer& tok = model_->tokenizer();
        std::string out;
        for (TokenId id : tok.encode(s, false, true)) out += tok.token_to_piece(id, true);
        return out;
    }

    void chatRunMarksThinkingAndFindsTheBoxedAnswer() {
        const std::string script =
            "<think>\nI add 3 and 4.\n\n3 + 4 = 7.\n</think>\n\nThe sum is \\boxed{7}.";
        ScriptedGenerator gen(*gen_, {script});
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        app::RunOptions opt;
        opt.store = store.get();
        const app::RunResult res =
            app::run_and_record(*model_, gen, plugins_, request("What is 3 + 4?", "7"), opt);
        QCOMPARE(QString::fromStdString(res.outcome.status), QString("ok"));
        const std::string rendered =
            "<|im_start|>user\nWhat is 3 + 4?<|im_end|>\n<|im_start|>assistant\n";
        QCOMPARE(QString::fromStdString(res.prompt.rendered), QString::fromStdString(rendered));
        QCOMPARE(QString::fromStdString(res.tree().at(0).text), QString::fromStdString(rendered));
        QCOMPARE(QString::fromStdString(res.outcome.answer), QString("7"));
        QCOMPARE(res.outcome.correct, 1);
        // Steps are paragraphs; thinking ends with </think>, the answer follows.
        const ReasoningTree& t = res.tree();
        const int leaf = res.chosen_node();
        QVERIFY(leaf > 0);
        const std::string full = as_pieces(script);
        const size_t para = full.find("\n\n"), close = full.find("</think>") + 8;
        QCOMPARE(QString::fromStdString(t.at(1).text),
                 QString::fromStdString(full.substr(0, para + 2)));
        const auto toks = path_tokens(t, leaf);
        QCOMPARE(QString::fromStdString(text_of(toks, 1)),
                 QString::fromStdString(full.substr(0, close)));
        QCOMPARE(QString::fromStdString(text_of(toks, 0)),
                 QString::fromStdString(full.substr(close)));
        QVERIFY(full.substr(close).find("\\boxed{7}") != std::string::npos);
        for (const auto& r : toks) QVERIFY(!r.forced);
        QVERIFY(t.at(1).thinking_tokens() == static_cast<int>(t.at(1).tokens.size()));
        // The store keeps the rendered prompt, the settings and the marks.
        const StoredRun sr = store->load(res.run_id);
        QCOMPARE(QString::fromStdString(sr.run.prompt_rendered), QString::fromStdString(rendered));
        QCOMPARE(QString::fromStdString(sr.run.model_file_type), QString("F16"));
        const auto ps = nlohmann::json::parse(sr.run.prompt_settings);
        QCOMPARE(ps["chat"].get<bool>(), true);
        QCOMPARE(QString::fromStdString(ps["thinking"]["open"].get<std::string>()),
                 QString("<think>"));
        QCOMPARE(ps["template_sha256"].get<std::string>().size(), size_t(64));
        QVERIFY(nlohmann::json::parse(sr.run.tensor_types).contains("F16"));
        const auto stored = path_tokens(sr.tree, leaf);
        QCOMPARE(stored.size(), toks.size());
        for (size_t i = 0; i < toks.size(); ++i) QCOMPARE(stored[i].thinking, toks[i].thinking);
    }

    void noThinkRendersAClosedSpan() {
        ScriptedGenerator gen(*gen_, {"The sum is \\boxed{7}."});
        app::RunRequest req = request("What is 3 + 4?", "7");
        req.prompt.thinking = 0;
        const app::RunResult res = app::run_and_record(*model_, gen, plugins_, req);
        QVERIFY(QString::fromStdString(res.prompt.rendered).endsWith("<think>\n\n</think>\n\n"));
        QCOMPARE(res.outcome.correct, 1);
        for (const auto& r : path_tokens(res.tree(), res.chosen_node())) QVERIFY(!r.thinking);
    }

    void thinkingBudgetClosesAtTheMaximum() {
        ScriptedGenerator gen(*gen_, {"<think>\nfirst I think about it and then I think again "
                                      "and again about it\n</think>\n\n\\boxed{7}"});
        app::RunRequest req = request("What is 3 + 4?", "7");
        req.prompt.think_max = 12;
        const app::RunResult res = app::run_and_record(*model_, gen, plugins_, req);
        QCOMPARE(QString::fromStdString(res.outcome.status), QString("ok"));
        const auto toks = path_tokens(res.tree(), res.chosen_node());
        const std::vector<TokenId> close =
            model_->tokenizer().encode("\n</think>\n\n", false, true);
        int thinking = 0, forced = 0;
        size_t first_forced = toks.size();
        for (size_t i = 0; i < toks.size(); ++i) {
            thinking += toks[i].thinking;
            if (toks[i].forced) {
                ++forced;
                first_forced = std::min(first_forced, i);
            }
        }
        // 12 thinking tokens, then the forced close (its "\n</think>" is
        // still thinking), then the answer.
        QCOMPARE(forced, static_cast<int>(close.size()));
        QCOMPARE(first_forced, size_t(12));
        for (size_t k = 0; k < close.size(); ++k) QCOMPARE(toks[12 + k].id, close[k]);
        // The close's tokens up to "</think>" are still thinking.
        const auto end =
            std::find(close.begin(), close.end(), model_->tokenizer().find("</think>"));
        QVERIFY(end != close.end());
        QCOMPARE(thinking, 12 + static_cast<int>(end - close.begin()) + 1);
        QVERIFY(!toks.back().thinking);
        const auto prm = nlohmann::json::parse(
            app::describe_run(*model_, gen, req, app::prepare_run(plugins_, req), res.prompt)
                .prompt_settings);
        QCOMPARE(prm["thinking"]["max_tokens"].get<int>(), 12);
    }

    void thinkingBudgetSaysWaitBelowTheMinimum() {
        ScriptedGenerator gen(*gen_, {"<think>\nIt is 7.\n</think>\n\n\\boxed{7}"});
        app::RunRequest req = request("What is 3 + 4?", "7");
        req.prompt.think_min = 20;
        const app::RunResult res = app::run_and_record(*model_, gen, plugins_, req);
        QCOMPARE(res.outcome.correct, 1);
        const auto toks = path_tokens(res.tree(), res.chosen_node());
        int thinking = 0;
        bool waited = false;
        for (const auto& r : toks) {
            thinking += r.thinking;
            if (r.forced) {
                waited = true;
                QVERIFY(r.thinking);  // the "Wait" is part of thinking
            }
        }
        QVERIFY(waited);
        QVERIFY2(thinking >= 20, qPrintable(QString::number(thinking)));
        QVERIFY(text_of(toks, 1).find("Wait") != std::string::npos);
        QVERIFY(text_of(toks, 1).find("</think>") != std::string::npos);
    }

    void gsm8kStyleSuiteRunsEndToEnd() {
        auto tasks = load_suite(RS_SOURCE_DIR "/resources/tasks/gsm8k-sample.jsonl");
        tasks.resize(3);
        int correct = 0;
        for (const Task& task : tasks) {
            // The script states the task's answer after thinking; the second
            // branch of self-consistency a wrong one, outvoted by the third.
            ScriptedGenerator gen(
                *gen_, {"<think>\nLet me work it out.\n</think>\n\nSo the answer is \\boxed{" +
                            task.answer + "}.",
                        "<think>\nHmm.\n</think>\n\n\\boxed{999}",
                        "<think>\nAgain.\n</think>\n\nThe answer is " + task.answer + "."});
            app::RunRequest req;
            req.task = task;
            req.strategy = "self-consistency";
            req.sets = {{"n", "3"}, {"max_depth", "8"}};
            req.config.max_tokens = 600;
            const app::RunResult res = app::run_and_record(*model_, gen, plugins_, req);
            // The suite asks for the template and paragraphs, and adds its instruction.
            QVERIFY(res.prompt.chat);
            QVERIFY(QString::fromStdString(res.prompt.rendered)
                        .contains("put your final answer within \\boxed{}.<|im_end|>"));
            QCOMPARE(res.prompt.steps, std::vector<std::string>{"\n\n"});
            correct += res.outcome.correct == 1;
            int wrong = 0;
            for (const auto& n : res.tree().nodes()) wrong += n.correct == 0;
            QCOMPARE(wrong, 1);
        }
        QCOMPARE(correct, 3);
    }

    void cliRunsTheSuiteWithTheTemplate() {
        // Unscripted: random weights answer nonsense, but the command runs
        // the suite with the template applied and stops within its budget.
        QProcess p;
        p.start(rs::test::binary("reasonscope"),
                {"eval", "--model", QString::fromStdString(model_path_), "--suite", "gsm8k-sample",
                 "--limit", "2", "--strategy", "chain-of-thought", "--set", "max_depth=3",
                 "--max-tokens", "40", "--threads", "1", "--json"});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
        QCOMPARE(j["problems"].get<int>(), 2);
        // --chat on a model without a template is one clear error.
        QProcess q;
        q.start(rs::test::binary("reasonscope"),
                {"run", "--model", rs::test::reference("models/mini-qwen3-f16.gguf"), "--prompt",
                 "hi", "--chat", "--no-store"});
        QVERIFY(q.waitForFinished(60000));
        QCOMPARE(q.exitCode(), 2);
        QVERIFY2(q.readAllStandardError().contains("has no chat template"), "message");
    }
};

QTEST_GUILESS_MAIN(TestRealModels)
#include "tst_real_models.moc"
