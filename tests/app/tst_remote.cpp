// The remote generator: searches on a server. Against the real `reasonscope
// serve` binary on 127.0.0.1 (the bundled model): every strategy grows the
// in-process greedy tree; sampled runs repeat; scoring; cancel; the server
// killed mid-run. Against a small local fake: slow replies, broken JSON,
// wrong lengths, HTTP errors, another tokenizer. And the wire shapes of vLLM,
// SGLang and llama-server on replies written from their documentation.
#include <httplib.h>

#include <QProcess>
#include <QRegularExpression>
#include <QtTest>
#include <atomic>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/run_service.h"
#include "core/session_options.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "remote/remote_generator.h"
#include "serve_process.h"
#include "test_paths.h"

using namespace rs;
using json = nlohmann::json;

namespace {

const char* const kModel = RS_SOURCE_DIR "/resources/models/reasoner.gguf";

json load_json(const std::string& name) {
    std::ifstream f(std::string(RS_SOURCE_DIR) + "/tests/data/remote/" + name);
    return json::parse(f);
}

// A fake server in this process: GET /v1/models and POST /tokenize answer
// as a good server does (with `tok`), POST /v1/completions as `reply` says.
struct FakeServer {
    httplib::Server http;
    std::thread thread;
    int port = 0;
    std::function<void(const json&, httplib::Response&)> reply;
    std::vector<TokenId> tokenize_as;  // non-empty: /tokenize answers these
    explicit FakeServer(const Tokenizer& tok) {
        http.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})",
                            "application/json");
        });
        http.Post("/tokenize", [this, &tok](const httplib::Request& req, httplib::Response& res) {
            const json b = json::parse(req.body);
            const auto ids = tokenize_as.empty()
                                 ? tok.encode(b.value("prompt", std::string()), false, false)
                                 : tokenize_as;
            res.set_content(json{{"tokens", ids}}.dump(), "application/json");
        });
        http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
            reply(json::parse(req.body), res);
        });
        port = http.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { http.listen_after_bind(); });
        while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ~FakeServer() {
        http.stop();
        thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// A well-formed OpenAI-style reply of `ids` for every choice asked.
json completion_of(const json& req, const std::vector<TokenId>& ids, const char* finish) {
    json choices = json::array();
    for (int i = 0; i < req.value("n", 1); ++i) {
        json toks = json::array(), lps = json::array(), tops = json::array();
        for (TokenId id : ids) {
            toks.push_back("token_id:" + std::to_string(id));
            lps.push_back(-0.5);
            tops.push_back({{"token_id:" + std::to_string(id), -0.5}});
        }
        choices.push_back(
            {{"index", i},
             {"text", ""},
             {"finish_reason", finish},
             {"logprobs", {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}}}});
    }
    return {{"choices", choices}, {"usage", {{"prompt_tokens", 1}, {"completion_tokens", 1}}}};
}

app::RunRequest request(const std::string& strategy,
                        std::vector<std::pair<std::string, std::string>> sets) {
    app::RunRequest req;
    req.task = Task{"hard-007", "Q: (17+25)*3+3\n", "129", ""};
    req.suite = "hard";
    req.strategy = strategy;
    req.sets = std::move(sets);
    req.config.max_tokens = 3000;
    return req;
}

// Two trees grown by the same greedy search: the same nodes, text, answers,
// tokens and chosen-token log-probabilities; scores within float rounding.
// (Entropy is estimated from the top k on a server.)
QString greedy_difference(const ReasoningTree& got, const ReasoningTree& want) {
    if (got.size() != want.size())
        return QString("%1 nodes, expected %2").arg(got.size()).arg(want.size());
    for (int i = 0; i < want.size(); ++i) {
        const Node &g = got.at(i), &w = want.at(i);
        const QString at = QString("node %1: ").arg(i);
        if (g.parent != w.parent || g.children != w.children) return at + "structure differs";
        if (g.text != w.text)
            return at + "text '" + QString::fromStdString(g.text) + "' vs '" +
                   QString::fromStdString(w.text) + "'";
        if (g.status != w.status || g.answer != w.answer || g.correct != w.correct)
            return at + "status or answer differs";
        if (g.tokens.size() != w.tokens.size()) return at + "token count differs";
        for (size_t t = 0; t < w.tokens.size(); ++t) {
            if (g.tokens[t].id != w.tokens[t].id) return at + "token ids differ";
            if (std::abs(g.tokens[t].logprob - w.tokens[t].logprob) > 1e-4f)
                return at + QString("token %1 log-probability %2 vs %3")
                                .arg(t)
                                .arg(g.tokens[t].logprob)
                                .arg(w.tokens[t].logprob);
        }
        if (g.scores.size() != w.scores.size()) return at + "score count differs";
        for (const auto& [k, v] : w.scores)
            if (!g.scores.count(k) || std::abs(g.scores.at(k) - v) > 1e-3 * (1 + std::abs(v)))
                return at + "score " + QString::fromStdString(k) + " differs";
    }
    return {};
}

}  // namespace

class TestRemote : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;
    std::unique_ptr<LocalGenerator> local_;
    app::PluginManager plugins_;
    test::ServeProcess serve_;

    std::unique_ptr<remote::RemoteGenerator> connect(const std::string& url,
                                                     double timeout_s = 60) {
        remote::RemoteOptions o;
        o.url = url;
        o.timeout_s = timeout_s;
        o.concurrency = 4;
        return std::make_unique<remote::RemoteGenerator>(model_->tokenizer(), model_->config().ctx,
                                                         o);
    }

  private slots:
    void initTestCase() {
        if (!QFileInfo::exists(kModel)) QSKIP("the bundled model is missing");
        model_ = Model::load(kModel);
        local_ = std::make_unique<LocalGenerator>(*model_, app::search_session_options(1));
        plugins_.scan();
        QVERIFY2(serve_.start(kModel), "reasonscope serve did not start");
    }

    // --- wire shapes ------------------------------------------------------

    void vllmReplies() {
        remote::SampleAsk a;
        a.n = 2;
        a.max_tokens = 2;
        const auto r =
            remote::parse_sample_reply(remote::Kind::Vllm, a, load_json("vllm_completion.json"));
        QCOMPARE(r.choices.size(), size_t{2});
        QCOMPARE(r.choices[0].tokens.size(), size_t{2});
        QCOMPARE(r.choices[0].tokens[1].id, 717);
        QCOMPARE(r.choices[0].tokens[1].logprob, -1.25f);
        QCOMPARE(r.choices[0].tokens[1].top.front().first, 605);  // most likely first
        QCOMPARE(r.choices[0].finish, std::string("length"));
        QCOMPARE(r.choices[1].tokens[0].id, 151645);
        QCOMPARE(r.choices[1].finish, std::string("stop"));
        QCOMPARE(r.usage.prompt, int64_t{41});
        QCOMPARE(r.usage.cached, int64_t{32});

        remote::ScoreAsk s;
        s.tokens = {151643, 220, 4226, 374};
        s.from = 1;
        const auto lps = remote::parse_score_reply(remote::Kind::Vllm, s,
                                                   load_json("vllm_prompt_logprobs.json"));
        QCOMPARE(lps, (std::vector<float>{-1.5f, -0.25f, -0.0625f}));
        s.tokens[1] = 785;  // a prompt token the reply ranks 212th
        QCOMPARE(remote::parse_score_reply(remote::Kind::Vllm, s,
                                           load_json("vllm_prompt_logprobs.json"))[0],
                 -7.125f);
        s.tokens[2] = 999;  // not in the reply: named
        try {
            remote::parse_score_reply(remote::Kind::Vllm, s,
                                      load_json("vllm_prompt_logprobs.json"));
            QFAIL("a missing prompt token was accepted");
        } catch (const remote::ProtocolError& e) {
            QVERIFY2(QString(e.what()).contains("prompt_logprobs[2] lacks the prompt's token 999"),
                     e.what());
        }

        // The request: token-id prompt, vLLM's token-id and sampling fields.
        a.prompt = {1, 2, 3};
        a.top_logprobs = 5;
        a.sp.temperature = 0;
        a.sp.top_k = 7;
        a.seed = 11;
        const auto c = remote::sample_request(remote::Kind::Vllm, a);
        QCOMPARE(c.path, std::string("/v1/completions"));
        QCOMPARE(c.body["prompt"], json({1, 2, 3}));
        QCOMPARE(c.body["n"], 2);
        QCOMPARE(c.body["logprobs"], 5);
        QCOMPARE(c.body["temperature"], 0.0);
        QCOMPARE(c.body["top_k"], 7);
        QCOMPARE(c.body["seed"], 11);
        QCOMPARE(c.body["return_tokens_as_token_ids"], true);
        const auto sc = remote::score_request(remote::Kind::Vllm, s);
        QCOMPARE(sc.body["prompt_logprobs"], 0);
    }

    void sglangReplies() {
        remote::SampleAsk a;
        a.max_tokens = 2;
        const auto r =
            remote::parse_sample_reply(remote::Kind::Sglang, a, load_json("sglang_generate.json"));
        QCOMPARE(r.choices.size(), size_t{1});
        QCOMPARE(r.choices[0].tokens[0].id, 220);
        QCOMPARE(r.choices[0].tokens[1].logprob, -1.25f);
        QCOMPARE(r.choices[0].tokens[1].top.size(), size_t{3});
        QCOMPARE(r.choices[0].tokens[1].top.front().first, 605);
        QCOMPARE(r.usage.cached, int64_t{40});
        a.n = 2;
        a.max_tokens = 1;
        const auto r2 = remote::parse_sample_reply(remote::Kind::Sglang, a,
                                                   load_json("sglang_generate_n2.json"));
        QCOMPARE(r2.choices.size(), size_t{2});
        QCOMPARE(r2.choices[1].finish, std::string("stop"));
        QCOMPARE(r2.usage.cached, int64_t{19});
        remote::ScoreAsk s;
        s.tokens = {151643, 220, 4226, 374};
        s.from = 2;
        QCOMPARE(remote::parse_score_reply(remote::Kind::Sglang, s, load_json("sglang_score.json")),
                 (std::vector<float>{-0.25f, -0.0625f}));
        a.prompt = {5, 6};
        const auto c = remote::sample_request(remote::Kind::Sglang, a);
        QCOMPARE(c.path, std::string("/generate"));
        QCOMPARE(c.body["input_ids"], json({5, 6}));
        QCOMPARE(c.body["return_logprob"], true);
        QVERIFY(c.body["sampling_params"].contains("max_new_tokens"));
        QCOMPARE(remote::score_request(remote::Kind::Sglang, s).body["logprob_start_len"], 0);
    }

    void llamaServerReplies() {
        remote::SampleAsk a;
        a.max_tokens = 2;
        const auto r = remote::parse_sample_reply(remote::Kind::LlamaServer, a,
                                                  load_json("llama_server_completion.json"));
        QCOMPARE(r.choices[0].tokens.size(), size_t{2});
        QCOMPARE(r.choices[0].tokens[1].id, 717);
        QCOMPARE(r.choices[0].tokens[1].top.front().first, 605);
        QCOMPARE(r.choices[0].finish, std::string("length"));
        QCOMPARE(r.usage.cached, int64_t{40});
        a.prompt = {1, 2};
        const auto c = remote::sample_request(remote::Kind::LlamaServer, a);
        QCOMPARE(c.path, std::string("/completion"));
        QCOMPARE(c.body["n_predict"], 2);
        QCOMPARE(c.body["return_tokens"], true);
        QCOMPARE(c.body["cache_prompt"], true);
        QCOMPARE(c.body["min_p"], 0.0);  // not llama-server's default
        QCOMPARE(c.body["top_k"], 0);
        try {
            remote::score_request(remote::Kind::LlamaServer, remote::ScoreAsk{});
            QFAIL("llama-server was asked to score");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("use a local model for the scorer"));
        }
    }

    void approximateEntropy() {
        float h = 0, v = 0;
        // All the mass in the top k: exact.
        remote::approximate_signals({{1, std::log(0.5f)}, {2, std::log(0.5f)}}, 100, h, v);
        QVERIFY(std::abs(h - std::log(2.0f)) < 1e-5f);
        QVERIFY(v < 1e-5f);
        // Half the mass in the tail, none above 0.25: two tail tokens of 0.25.
        remote::approximate_signals({{1, std::log(0.25f)}, {2, std::log(0.25f)}}, 100, h, v);
        QVERIFY(std::abs(h - std::log(4.0f)) < 1e-5f);
        // A tail spread over at most the vocabulary left.
        remote::approximate_signals({{1, std::log(0.01f)}}, 3, h, v);
        QVERIFY(h < std::log(3.0f) + 1e-4f);
    }

    // --- against reasonscope serve ----------------------------------------

    void probe() {
        auto g = connect(serve_.url());
        QCOMPARE(g->server().model, std::string("reasonscope-arith-reasoner"));
        QCOMPARE(g->server().tokenizer_check, std::string("matches"));
        QCOMPARE(g->n_ctx(), 512);
        QVERIFY2(g->server().version.rfind("reasonscope", 0) == 0, g->server().version.c_str());
        QVERIFY(g->caps().continuation_logprob);
        QVERIFY(!g->caps().hidden_taps);
        remote::RemoteOptions o;
        o.url = serve_.url();
        o.model = "no-such-model";
        try {
            remote::RemoteGenerator bad(model_->tokenizer(), 0, o);
            QFAIL("an unknown model id was accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("serves no model 'no-such-model'") &&
                         QString(e.what()).contains("reasonscope-arith-reasoner"),
                     e.what());
        }
        // Credentials in a URL are never shown or stored.
        o.url = "http://user:secret@127.0.0.1:" + std::to_string(serve_.port);
        o.model.clear();
        remote::RemoteGenerator creds(model_->tokenizer(), 0, o);
        QVERIFY(creds.backend_name().find("secret") == std::string::npos);
        QVERIFY(creds.server().to_json().dump().find("secret") == std::string::npos);
    }

    void greedyTreeAsInProcess_data() {
        QTest::addColumn<QString>("strategy");
        QTest::addColumn<QStringList>("sets");
        QTest::newRow("chain-of-thought") << "chain-of-thought" << QStringList{};
        QTest::newRow("best-of-n") << "best-of-n" << QStringList{"n=3", "temperature=0"};
        QTest::newRow("self-consistency")
            << "self-consistency" << QStringList{"n=3", "temperature=0"};
        QTest::newRow("beam-search (prm scores by prompt logprobs)")
            << "beam-search" << QStringList{"width=2", "expansions=2", "temperature=0"};
        QTest::newRow("mcts") << "mcts" << QStringList{"iterations=6", "temperature=0"};
        QTest::newRow("particle-filtering")
            << "particle-filtering"
            << QStringList{"particles=3", "temperature=0", "ess_threshold=0.5"};
    }
    void greedyTreeAsInProcess() {
        QFETCH(QString, strategy);
        QFETCH(QStringList, sets);
        std::vector<std::pair<std::string, std::string>> kv;
        for (const QString& s : sets) kv.push_back(split_setting(s.toStdString()));
        const app::RunRequest req = request(strategy.toStdString(), kv);
        auto remote = connect(serve_.url());
        const app::RunResult want = app::run_and_record(*model_, *local_, plugins_, req);
        const app::RunResult got = app::run_and_record(*model_, *remote, plugins_, req);
        QCOMPARE(got.outcome.status, std::string("ok"));
        QCOMPARE(got.outcome.answer, want.outcome.answer);
        const QString diff = greedy_difference(got.tree(), want.tree());
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        QVERIFY(remote->usage().requests > 0);
        QVERIFY(remote->usage().completion_tokens >= got.outcome.metrics.tokens_generated);
    }

    void manyChildrenSplitAcrossRequests() {
        // 100 children of the root: more than a server takes in one request
        // (reasonscope serve: 64); they go out as several.
        auto remote = connect(serve_.url());
        app::RunRequest req = request("best-of-n", {{"n", "100"}, {"scorer", "logprob"}});
        req.config.max_tokens = 400;
        const app::RunResult r = app::run_and_record(*model_, *remote, plugins_, req);
        QCOMPARE(r.outcome.status, std::string("budget"));
        QCOMPARE(static_cast<int>(r.tree().at(0).children.size()), 100);
    }

    void entropyBranchingRuns() {
        auto remote = connect(serve_.url());
        const app::RunResult r =
            app::run_and_record(*model_, *remote, plugins_, request("entropy-branching", {}));
        QCOMPARE(r.outcome.status, std::string("ok"));
        QVERIFY(r.tree().size() > 1);
    }

    void sampledRunRepeats() {
        // The server honours the seeds the generator sends.
        const app::RunRequest req = request("self-consistency", {{"n", "4"}});
        auto a = connect(serve_.url());
        auto b = connect(serve_.url());
        const app::RunResult x = app::run_and_record(*model_, *a, plugins_, req);
        const app::RunResult y = app::run_and_record(*model_, *b, plugins_, req);
        const QString diff = greedy_difference(x.tree(), y.tree());
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        int distinct = 0;  // and the branches are samples, not copies
        for (int c : x.tree().at(0).children)
            distinct += x.tree().at(c).text != x.tree().at(x.tree().at(0).children[0]).text;
        QVERIFY(distinct > 0);
    }

    void scoresAsInProcess() {
        auto remote = connect(serve_.url());
        const Tokenizer& tok = model_->tokenizer();
        const auto prefix = tok.encode("Q: 2+3\n", true, false);
        const auto cont = tok.encode("2+3=5\nAnswer: 5", false, false);
        const double want = local_->continuation_logprob(prefix, cont);
        const double got = remote->continuation_logprob(prefix, cont);
        QVERIFY2(std::abs(got - want) < 1e-3, qPrintable(QString("%1 vs %2").arg(got).arg(want)));
        QVERIFY_THROWS_EXCEPTION(Error, remote->next_token_logprobs(prefix));
    }

    void storedRunRecordsTheServer() {
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        remote::RemoteOptions o;
        o.url = "http://someone:hunter2@127.0.0.1:" + std::to_string(serve_.port) + "/v1";
        remote::RemoteGenerator gen(model_->tokenizer(), model_->config().ctx, o);
        app::RunOptions opt;
        opt.store = store.get();
        const app::RunResult r = app::run_and_record(
            *model_, gen, plugins_, request("self-consistency", {{"n", "3"}}), opt);
        QCOMPARE(r.outcome.status, std::string("ok"));
        const auto row = store->get(r.run_id);
        QVERIFY(row);
        QVERIFY2(row->server.find("hunter2") == std::string::npos, row->server.c_str());
        QVERIFY2(row->backend.find("hunter2") == std::string::npos, row->backend.c_str());
        const json server = json::parse(row->server);
        QCOMPARE(server["kind"], "openai");
        QCOMPARE(server["url"], "http://127.0.0.1:" + std::to_string(serve_.port) + "/v1");
        QCOMPARE(server["model"], "reasonscope-arith-reasoner");
        QCOMPARE(server["top_k"], 20);
        QVERIFY(server["usage"]["requests"].get<int>() > 0);
        QCOMPARE(server["usage"]["tokens_used"].get<int64_t>(), row->tokens);
        QVERIFY(server["usage"]["completion_tokens"].get<int64_t>() >= row->tokens);
        QVERIFY(server["usage"]["prompt_tokens"].get<int64_t>() > 0);
    }

    void refusedWhatTheServerCannotGive() {
        // Before anything is stored: the reason, and no run row.
        auto remote = connect(serve_.url());
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        app::RunOptions opt;
        opt.store = store.get();
        try {
            app::run_and_record(*model_, *remote, plugins_,
                                request("best-of-n", {{"n", "2"}, {"scorer", "self-eval"}}), opt);
            QFAIL("a scorer needing full distributions ran on a server");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("the scorer 'self-eval' needs full next-token "
                                                "distributions"),
                     e.what());
        }
        app::RunRequest taps = request("chain-of-thought", {});
        taps.config.tap_layers = {-1};
        QVERIFY_THROWS_EXCEPTION(Error, app::run_and_record(*model_, *remote, plugins_, taps, opt));
        QVERIFY(store->list({}).empty());
        // The CLI says the same and exits 2, having stored nothing.
        QProcess p;
        p.start(
            test::binary("reasonscope"),
            {"run", "--model", kModel, "--remote", QString::fromStdString(serve_.url()), "--task",
             "hard:hard-007", "--strategy", "best-of-n", "--set", "scorer=latent", "--no-store"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 2);
        QVERIFY2(p.readAllStandardError().contains("hidden-state taps are not available"),
                 "no reason given");
    }

    void cancelEndsTheRun() {
        auto remote = connect(serve_.url());
        std::atomic<bool> cancel{false};
        app::RunOptions opt;
        opt.cancel = &cancel;
        std::thread t([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            cancel = true;
        });
        QElapsedTimer timer;
        timer.start();
        const app::RunResult r = app::run_and_record(
            *model_, *remote, plugins_, request("self-consistency", {{"n", "64"}}), opt);
        t.join();
        QCOMPARE(r.outcome.status, std::string("cancelled"));
        QVERIFY(r.tree().size() > 1);
        QVERIFY(timer.elapsed() < 20000);
    }

    void serverKilledMidRun() {
        test::ServeProcess doomed;
        QVERIFY(doomed.start(kModel));
        auto remote = connect(doomed.url());
        std::thread killer([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(400));
            ::kill(static_cast<pid_t>(doomed.proc.processId()), SIGKILL);
        });
        QElapsedTimer timer;
        timer.start();
        const app::RunResult r = app::run_and_record(*model_, *remote, plugins_,
                                                     request("self-consistency", {{"n", "64"}}));
        killer.join();
        QCOMPARE(r.outcome.status, std::string("error"));
        QVERIFY2(
            QString::fromStdString(r.outcome.error).contains(QString::fromStdString(doomed.url())),
            r.outcome.error.c_str());
        QVERIFY(r.tree().size() > 1);  // what came before is kept
        QVERIFY(timer.elapsed() < 30000);
        doomed.proc.waitForFinished(5000);
    }

    void evalRunsProblemsConcurrently() {
        const auto eval = [](const QStringList& extra, int* code = nullptr) {
            QProcess p;
            p.start(test::binary("reasonscope"),
                    QStringList{"eval", "--model", kModel, "--suite", "hard", "--limit", "4",
                                "--strategy", "chain-of-thought", "--threads", "1", "--json"} +
                        extra);
            p.waitForFinished(120000);
            if (code) *code = p.exitCode();
            return json::parse(p.readAllStandardOutput().toStdString(), nullptr, false);
        };
        const json local = eval({});
        const json remote =
            eval({"--remote", QString::fromStdString(serve_.url()), "--concurrency", "3"});
        QCOMPARE(remote["problems"], 4);
        QCOMPARE(remote["concurrency"], 3);
        QCOMPARE(remote["accuracy"], local["accuracy"]);
        for (size_t i = 0; i < 4; ++i) {  // rows in suite order, each with its cost
            QCOMPARE(remote["rows"][i]["task"], local["rows"][i]["task"]);
            QCOMPARE(remote["rows"][i]["answer"], local["rows"][i]["answer"]);
            QVERIFY(remote["rows"][i]["server"]["requests"].get<int>() > 0);
        }
        QVERIFY(remote["server"]["completion_tokens"].get<int64_t>() > 0);
        int code = 0;
        eval({"--concurrency", "2"}, &code);
        QCOMPARE(code, 2);  // a usage error: the local engine runs one search at a time
    }

    // --- against a fake server ----------------------------------------------

    void brokenReplies_data() {
        QTest::addColumn<QString>("mode");
        QTest::addColumn<QString>("message");
        QTest::newRow("not JSON") << "json"
                                  << "is not valid JSON";
        QTest::newRow("HTTP 500") << "500"
                                  << "HTTP 500: the GPU caught fire";
        QTest::newRow("lengths differ") << "lengths"
                                        << "differ in length";
        QTest::newRow("no choices") << "nochoices"
                                    << "lacks reply.choices";
        QTest::newRow("fewer choices than n") << "fewer"
                                              << "choices; 4 were asked for";
        QTest::newRow("token outside the vocabulary") << "vocab"
                                                      << "is not in the vocabulary";
        QTest::newRow("not token ids") << "text"
                                       << "return_tokens_as_token_ids";
        QTest::newRow("too slow") << "slow"
                                  << "no reply came within 0.5 s";
    }
    void brokenReplies() {
        QFETCH(QString, mode);
        QFETCH(QString, message);
        FakeServer fake(model_->tokenizer());
        const std::string m = mode.toStdString();
        fake.reply = [m](const json& req, httplib::Response& res) {
            json r = completion_of(req, {5, 6}, "length");
            if (m == "json") return res.set_content("{\"choices\": [", "application/json");
            if (m == "500") {
                res.status = 500;
                return res.set_content(R"({"error":{"message":"the GPU caught fire"}})",
                                       "application/json");
            }
            if (m == "lengths") r["choices"][0]["logprobs"]["token_logprobs"].erase(0);
            if (m == "nochoices") r.erase("choices");
            if (m == "fewer") r["choices"].erase(1);
            if (m == "vocab") r["choices"][0]["logprobs"]["tokens"][0] = "token_id:99999999";
            if (m == "text") r["choices"][0]["logprobs"]["tokens"][0] = " 5";
            if (m == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(2500));
            res.set_content(r.dump(), "application/json");
        };
        auto remote = connect(fake.url(), m == "slow" ? 0.5 : 30);
        QElapsedTimer timer;
        timer.start();
        const app::RunResult r = app::run_and_record(*model_, *remote, plugins_,
                                                     request("self-consistency", {{"n", "4"}}));
        QCOMPARE(r.outcome.status, std::string("error"));
        QVERIFY2(QString::fromStdString(r.outcome.error).contains(message),
                 r.outcome.error.c_str());
        QVERIFY(timer.elapsed() < 15000);
    }

    void otherTokenizerRefused() {
        FakeServer fake(model_->tokenizer());
        fake.tokenize_as = {1, 2, 3};
        try {
            connect(fake.url());
            QFAIL("a server with another tokenizer was accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("tokenizes differently"), e.what());
        }
    }

    void unreachableServer() {
        remote::RemoteOptions o;
        o.url = "http://127.0.0.1:1";
        try {
            remote::RemoteGenerator g(model_->tokenizer(), 0, o);
            QFAIL("no server, yet connected");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("cannot connect"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestRemote)
#include "tst_remote.moc"
