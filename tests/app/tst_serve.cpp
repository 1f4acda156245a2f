// reasonscope serve as a client sees it: the real binary on a free port of
// 127.0.0.1 with the bundled model, its OpenAI-compatible replies against
// the engine in process, many clients at once, bad requests, and SIGTERM.
#include <httplib.h>
#include <signal.h>

#include <QProcess>
#include <QRegularExpression>
#include <QtTest>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/session_options.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "test_paths.h"

namespace {

// Ordered: top_logprobs keep the server's order (most likely first).
using json = nlohmann::ordered_json;

const char* const kModel = RS_SOURCE_DIR "/resources/models/reasoner.gguf";

struct Http {
    int status = 0;
    json body;
};

}  // namespace

class TestServe : public QObject {
    Q_OBJECT
    QProcess server_;
    int port_ = 0;

    Http post(const std::string& path, const std::string& body) const {
        httplib::Client c("127.0.0.1", port_);
        c.set_read_timeout(60);
        auto r = c.Post(path, body, "application/json");
        if (!r) return {};
        return {r->status, json::parse(r->body, nullptr, false)};
    }
    Http post(const std::string& path, const json& body) const { return post(path, body.dump()); }
    Http get(const std::string& path) const {
        httplib::Client c("127.0.0.1", port_);
        auto r = c.Get(path);
        if (!r) return {};
        return {r->status, json::parse(r->body, nullptr, false)};
    }

    // The choices of a reply without what differs between equal requests.
    static json choices(const Http& h) { return h.body.value("choices", json()); }

  private slots:
    void initTestCase() {
        server_.setProcessChannelMode(QProcess::SeparateChannels);
        server_.start(rs::test::binary("reasonscope"),
                      {"serve", "--model", kModel, "--port", "0", "--threads", "1"});
        QVERIFY(server_.waitForStarted(10000));
        QByteArray out;
        const QRegularExpression re("listening on http://127\\.0\\.0\\.1:(\\d+)");
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 15000) {
            server_.waitForReadyRead(200);
            out += server_.readAllStandardOutput();
            const auto m = re.match(QString::fromUtf8(out));
            if (m.hasMatch()) {
                port_ = m.captured(1).toInt();
                break;
            }
            QVERIFY2(server_.state() == QProcess::Running, server_.readAllStandardError());
        }
        QVERIFY2(port_ > 0, out.constData());
        Http h;
        for (int i = 0; i < 100 && h.status != 200; ++i) {
            h = get("/health");
            if (h.status != 200) QTest::qWait(50);
        }
        QCOMPARE(h.status, 200);
        QCOMPARE(h.body["status"], "ok");
    }

    void models() {
        const Http h = get("/v1/models");
        QCOMPARE(h.status, 200);
        QCOMPARE(h.body["object"], "list");
        QCOMPARE(h.body["data"].size(), size_t{1});
        QVERIFY(h.body["data"][0]["id"].is_string());
        QCOMPARE(h.body["data"][0]["meta"]["n_ctx"], 512);
    }

    void tokenizeRoundTrip() {
        const Http t = post("/tokenize", json{{"content", "Q: 12+7*3\n"}});
        QCOMPARE(t.status, 200);
        QVERIFY(t.body["tokens"].size() > 5);
        const Http d = post("/detokenize", json{{"tokens", t.body["tokens"]}});
        QCOMPARE(d.status, 200);
        QCOMPARE(d.body["content"], "Q: 12+7*3\n");
    }

    // A greedy completion equals the engine's greedy generation in process,
    // from a text prompt and from its token ids.
    void sharedPrefixReusedExactly() {
        // A request whose prompt shares a long prefix with an earlier one
        // starts from that one's KV; its tokens and log-probabilities are
        // those of the engine in process from scratch.
        std::string prefix;
        for (int i = 0; i < 12; ++i) prefix += "Q: " + std::to_string(10 + i) + "+7\n";
        const auto ask = [&](const std::string& q) {
            return post("/v1/completions", json{{"prompt", prefix + q},
                                                {"max_tokens", 24},
                                                {"temperature", 0},
                                                {"logprobs", 1}});
        };
        QCOMPARE(ask("Q: 3*4\n").status, 200);
        const Http h = ask("Q: 5*6+1\n");
        QCOMPARE(h.status, 200);
        auto model = rs::Model::load(kModel);
        rs::LocalGenerator gen(*model, rs::app::search_session_options(1));
        const int seq = gen.start(model->tokenizer().encode(prefix + "Q: 5*6+1\n", true, true));
        rs::SamplingParams sp;
        sp.temperature = 0;
        const std::vector<rs::ExtendRequest> req{{seq, 0}};
        const json& c = h.body["choices"][0];
        for (size_t i = 0; i < c["token_ids"].size(); ++i) {
            const auto ext = gen.extend(req, sp);
            QCOMPARE(c["token_ids"][i].get<int>(), ext[0].token.token);
            QCOMPARE(c["logprobs"]["token_logprobs"][i].get<float>(), ext[0].token.logprob);
        }
    }

    void greedyEqualsInProcess() {
        const std::string prompt = "Q: 46+11*10+7-(17+37)\n";
        const Http h = post(
            "/v1/completions",
            json{{"prompt", prompt}, {"max_tokens", 200}, {"temperature", 0}, {"logprobs", 2}});
        QCOMPARE(h.status, 200);
        const json& c = h.body["choices"][0];

        auto model = rs::Model::load(kModel);
        rs::LocalGenerator gen(*model, rs::app::search_session_options(2));
        const auto ids = model->tokenizer().encode(prompt, true, true);
        const int seq = gen.start(ids);
        rs::SamplingParams sp;
        sp.temperature = 0;
        std::vector<int> want;
        std::string text;
        const std::vector<rs::ExtendRequest> req{{seq, 0}};
        std::string finish = "length";
        for (int i = 0; i < 200; ++i) {
            const auto ext = gen.extend(req, sp);
            if (model->tokenizer().is_eog(ext[0].token.token)) {
                // The end token is reported (its id and log-probability),
                // without text, as vLLM and llama-server do.
                want.push_back(ext[0].token.token);
                finish = "stop";
                break;
            }
            want.push_back(ext[0].token.token);
            text += model->tokenizer().token_to_piece(ext[0].token.token);
        }
        QCOMPARE(c["token_ids"].get<std::vector<int>>(), want);
        QCOMPARE(c["text"].get<std::string>(), text);
        QCOMPARE(c["finish_reason"].get<std::string>(), finish);
        QVERIFY(text.find("Answer:") != std::string::npos);
        QCOMPARE(h.body["usage"]["prompt_tokens"].get<size_t>(), ids.size());
        QCOMPARE(h.body["usage"]["completion_tokens"].get<size_t>(), want.size());
        // Greedy: the chosen token is the most likely one.
        for (size_t i = 0; i < want.size(); ++i)
            QCOMPARE(c["logprobs"]["top_token_ids"][i][0].get<int>(), want[i]);

        const Http by_ids =
            post("/v1/completions",
                 json{{"prompt", ids}, {"max_tokens", 200}, {"temperature", 0}, {"logprobs", 2}});
        QCOMPARE(by_ids.status, 200);
        QCOMPARE(choices(by_ids), choices(h));

        // A stop string ends the text before it.
        const Http stopped = post("/v1/completions", json{{"prompt", prompt},
                                                          {"max_tokens", 200},
                                                          {"temperature", 0},
                                                          {"stop", {"Answer", "zzz"}}});
        QCOMPARE(stopped.status, 200);
        const json& s = stopped.body["choices"][0];
        QCOMPARE(s["finish_reason"], "stop");
        QCOMPARE(s["text"].get<std::string>(), text.substr(0, text.find("Answer")));
    }

    // n choices are forks of one prompt: each with token ids and logprobs
    // that agree; a seed makes the reply repeatable.
    void seededChoicesWithLogprobs() {
        const json req = {{"prompt", "Q: 46+11*10+7-(17+37)\n"},
                          {"n", 4},
                          {"seed", 7},
                          {"temperature", 1.0},
                          {"max_tokens", 40},
                          {"logprobs", 3}};
        const Http h = post("/v1/completions", req);
        QCOMPARE(h.status, 200);
        const json& cs = h.body["choices"];
        QCOMPARE(cs.size(), size_t{4});
        size_t total = 0;
        std::set<std::vector<int>> distinct;
        for (size_t i = 0; i < cs.size(); ++i) {
            const json& c = cs[i];
            QCOMPARE(c["index"].get<size_t>(), i);
            const auto ids = c["token_ids"].get<std::vector<int>>();
            distinct.insert(ids);
            total += ids.size();
            const json& lp = c["logprobs"];
            QCOMPARE(lp["tokens"].size(), ids.size());
            QCOMPARE(lp["token_logprobs"].size(), ids.size());
            QCOMPARE(lp["top_logprobs"].size(), ids.size());
            QCOMPARE(lp["text_offset"].size(), ids.size());
            std::string joined;
            for (size_t k = 0; k < ids.size(); ++k) {
                QCOMPARE(lp["text_offset"][k].get<size_t>(), joined.size());
                joined += lp["tokens"][k].get<std::string>();
                const double l = lp["token_logprobs"][k].get<double>();
                QVERIFY(l <= 0);
                double prev = 0;
                const json& top = lp["top_logprobs"][k];
                QCOMPARE(top.size(), size_t{3});
                bool first = true;
                for (const auto& [piece, v] : top.items()) {
                    QVERIFY(v.get<double>() <= 0);
                    if (!first) QVERIFY(v.get<double>() <= prev);
                    prev = v.get<double>();
                    first = false;
                }
                const json& top_ids = lp["top_token_ids"][k];
                for (size_t a = 0; a < top_ids.size(); ++a)
                    if (top_ids[a].get<int>() == ids[k])
                        QVERIFY(std::abs(top[lp["tokens"][k].get<std::string>()].get<double>() -
                                         l) < 1e-6);
                // The chosen token is at most as likely as the top one.
                QVERIFY(l <= top.begin()->get<double>() + 1e-6);
            }
            QCOMPARE(joined, c["text"].get<std::string>());
        }
        QCOMPARE(h.body["usage"]["completion_tokens"].get<size_t>(), total);
        QVERIFY2(distinct.size() > 1, "four samples at temperature 1 were all the same");
        const Http again = post("/v1/completions", req);
        QCOMPARE(choices(again), choices(h));
    }

    // 8 clients at once: every reply complete and equal to its reply alone.
    void concurrentClients() {
        std::vector<json> reqs;
        const char* problems[] = {"Q: 12+7*3\n",  "Q: 46+11*10+7-(17+37)\n",
                                  "Q: 9*8-5\n",   "Q: 33+44-11\n",
                                  "Q: 5*6+7*8\n", "Q: 100-37\n",
                                  "Q: 2*3*4\n",   "Q: 48-12+5*3\n"};
        for (int i = 0; i < 8; ++i) {
            json r = {{"prompt", problems[i]}, {"max_tokens", 48}, {"logprobs", 1}};
            if (i % 2) {
                r["temperature"] = 0;
            } else {
                r["temperature"] = 0.9;
                r["top_p"] = 0.95;
                r["seed"] = 100 + i;
                r["n"] = 2;
            }
            reqs.push_back(r);
        }
        std::vector<json> alone(8), together(8);
        for (int i = 0; i < 8; ++i) {
            const Http h = post("/v1/completions", reqs[static_cast<size_t>(i)]);
            QCOMPARE(h.status, 200);
            alone[static_cast<size_t>(i)] = choices(h);
        }
        std::vector<int> status(8);
        std::vector<std::thread> threads;
        for (size_t i = 0; i < 8; ++i)
            threads.emplace_back([&, i] {
                const Http h = post("/v1/completions", reqs[i]);
                status[i] = h.status;
                together[i] = choices(h);
            });
        for (auto& t : threads) t.join();
        for (size_t i = 0; i < 8; ++i) {
            QCOMPARE(status[i], 200);
            QCOMPARE(together[i].size(), i % 2 ? size_t{1} : size_t{2});
            QVERIFY2(together[i] == alone[i], qPrintable(QString("client %1: %2 vs %3")
                                                             .arg(i)
                                                             .arg(together[i].dump().c_str())
                                                             .arg(alone[i].dump().c_str())));
        }
    }

    // Bad requests: 400 with a JSON error naming the field; the server lives on.
    void badRequests_data() {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("body");
        QTest::addColumn<QString>("param");  // "" : no field (the body)
        QTest::newRow("malformed") << "/v1/completions"
                                   << "{\"prompt\": \"Q: 1+1"
                                   << "";
        QTest::newRow("not an object") << "/v1/completions"
                                       << "[1, 2]"
                                       << "";
        QTest::newRow("no prompt") << "/v1/completions"
                                   << "{\"max_tokens\": 3}"
                                   << "prompt";
        QTest::newRow("prompt type") << "/v1/completions"
                                     << "{\"prompt\": 5}"
                                     << "prompt";
        QTest::newRow("unknown token") << "/v1/completions"
                                       << "{\"prompt\": [1, 99999]}"
                                       << "prompt";
        QTest::newRow("negative token") << "/v1/completions"
                                        << "{\"prompt\": [1, -4]}"
                                        << "prompt";
        QTest::newRow("temperature type") << "/v1/completions"
                                          << "{\"prompt\": \"Q\", \"temperature\": \"hot\"}"
                                          << "temperature";
        QTest::newRow("n zero") << "/v1/completions"
                                << "{\"prompt\": \"Q\", \"n\": 0}"
                                << "n";
        QTest::newRow("n float") << "/v1/completions"
                                 << "{\"prompt\": \"Q\", \"n\": 1.5}"
                                 << "n";
        QTest::newRow("top_p") << "/v1/completions"
                               << "{\"prompt\": \"Q\", \"top_p\": 0}"
                               << "top_p";
        QTest::newRow("max_tokens") << "/v1/completions"
                                    << "{\"prompt\": \"Q\", \"max_tokens\": -1}"
                                    << "max_tokens";
        QTest::newRow("logprobs") << "/v1/completions"
                                  << "{\"prompt\": \"Q\", \"logprobs\": true}"
                                  << "logprobs";
        QTest::newRow("stop") << "/v1/completions"
                              << "{\"prompt\": \"Q\", \"stop\": [3]}"
                              << "stop";
        QTest::newRow("seed") << "/v1/completions"
                              << "{\"prompt\": \"Q\", \"seed\": -2}"
                              << "seed";
        QTest::newRow("stream") << "/v1/completions"
                                << "{\"prompt\": \"Q\", \"stream\": true}"
                                << "stream";
        QTest::newRow("tokenize") << "/tokenize"
                                  << "{\"content\": 3}"
                                  << "content";
        QTest::newRow("detokenize") << "/detokenize"
                                    << "{\"tokens\": [1, 100000]}"
                                    << "tokens";
        QTest::newRow("detokenize type") << "/detokenize"
                                         << "{\"tokens\": \"abc\"}"
                                         << "tokens";
    }
    void badRequests() {
        QFETCH(QString, path);
        QFETCH(QString, body);
        QFETCH(QString, param);
        const Http h = post(path.toStdString(), body.toStdString());
        QCOMPARE(h.status, 400);
        QVERIFY2(h.body.contains("error"), h.body.dump().c_str());
        const json& e = h.body["error"];
        QVERIFY(e["message"].is_string() && !e["message"].get<std::string>().empty());
        if (param.isEmpty())
            QVERIFY(e["param"].is_null());
        else
            QCOMPARE(e["param"].get<std::string>(), param.toStdString());
        QCOMPARE(get("/health").status, 200);
    }

    void promptTooLong() {
        const std::vector<int> ids(512, 5);
        const Http h = post("/v1/completions", json{{"prompt", ids}});
        QCOMPARE(h.status, 400);
        QCOMPARE(h.body["error"]["param"], "prompt");
        QVERIFY2(h.body["error"]["message"].get<std::string>().find("does not fit the context") !=
                     std::string::npos,
                 h.body.dump().c_str());
        // Up to the end of the context: finish_reason "length", no error.
        const std::vector<int> most(500, 40);
        const Http ok = post("/v1/completions",
                             json{{"prompt", most}, {"max_tokens", 100}, {"temperature", 0}});
        QCOMPARE(ok.status, 200);
        QVERIFY(ok.body["choices"][0]["token_ids"].size() <= 12);
        QCOMPARE(get("/v1/nothing").status, 404);
    }

    // Last: SIGTERM stops the server cleanly (exit code 0).
    void exitsOnSigterm() {
        QVERIFY(::kill(static_cast<pid_t>(server_.processId()), SIGTERM) == 0);
        QVERIFY(server_.waitForFinished(10000));
        QCOMPARE(server_.exitStatus(), QProcess::NormalExit);
        QCOMPARE(server_.exitCode(), 0);
        QVERIFY(server_.readAllStandardOutput().contains("stopped"));
    }

    void cleanupTestCase() {
        if (server_.state() != QProcess::NotRunning) {
            server_.kill();
            server_.waitForFinished(5000);
        }
    }
};

QTEST_GUILESS_MAIN(TestServe)
#include "tst_serve.moc"
