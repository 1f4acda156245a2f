// reasonscope serve as a client sees it: the real binary on a free port of
// 127.0.0.1 with the bundled model, its OpenAI-compatible replies against
// the engine in process, many clients at once, bad requests, and SIGTERM.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QProcess>
#include <QRegularExpression>
#include <QtTest>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/session_options.h"
#include "gguf_copy.h"
#include "reasonscope/gguf.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "test_paths.h"

namespace {

// Ordered: top_logprobs keep the server's order (most likely first).
using json = nlohmann::ordered_json;

const char* const kModel = RS_SOURCE_DIR "/resources/models/reasoner.gguf";

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

struct Http {
    int status = 0;  // 0: no reply (error says why)
    json body;
    std::string error;
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
        if (!r) return {0, json(), httplib::to_string(r.error())};
        return {r->status, json::parse(r->body, nullptr, false), {}};
    }
    Http post(const std::string& path, const json& body) const { return post(path, body.dump()); }
    Http get(const std::string& path) const {
        httplib::Client c("127.0.0.1", port_);
        auto r = c.Get(path);
        if (!r) return {0, json(), httplib::to_string(r.error())};
        return {r->status, json::parse(r->body, nullptr, false), {}};
    }

    // The choices of a reply without what differs between equal requests.
    static json choices(const Http& h) {
        return h.body.is_object() ? h.body.value("choices", json()) : json();
    }

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
    void logprobsOfTheWholeVocabulary() {
        // Every token's log-probability at every position: they sum to one.
        const Http models = get("/v1/models");
        const int n_vocab = models.body["data"][0]["meta"]["n_vocab"].get<int>();
        QCOMPARE(models.body["data"][0]["meta"]["max_logprobs"].get<int>(), n_vocab);
        const Http h = post("/v1/completions", json{{"prompt", "Q: 2+3\n"},
                                                    {"max_tokens", 3},
                                                    {"temperature", 0},
                                                    {"logprobs", n_vocab},
                                                    {"return_tokens_as_token_ids", true}});
        QCOMPARE(h.status, 200);
        for (const json& top : h.body["choices"][0]["logprobs"]["top_logprobs"]) {
            QCOMPARE(static_cast<int>(top.size()), n_vocab);
            double p = 0;
            for (const auto& [k, lp] : top.items()) p += std::exp(lp.get<double>());
            QVERIFY2(std::abs(p - 1.0) < 1e-3, qPrintable(QString::number(p)));
        }
        QCOMPARE(post("/v1/completions", json{{"prompt", "Q"}, {"logprobs", n_vocab + 1}}).status,
                 400);
    }

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

    void streamEqualsTheReply_data() {
        QTest::addColumn<QString>("stop");
        QTest::newRow("no stop strings") << "";
        QTest::newRow("a stop string held back until it is decided") << "Answer";
    }
    void streamEqualsTheReply() {
        // The events of a streamed request add up to the plain reply.
        QFETCH(QString, stop);
        json body = {{"prompt", "Q: 46+11*10+7\n"},
                     {"max_tokens", 60},
                     {"temperature", 0},
                     {"logprobs", 2},
                     {"n", 2}};
        if (!stop.isEmpty()) body["stop"] = stop.toStdString();
        const Http plain = post("/v1/completions", body);
        QCOMPARE(plain.status, 200);
        body["stream"] = true;
        body["stream_options"] = {{"include_usage", true}};
        httplib::Client c("127.0.0.1", port_);
        c.set_read_timeout(60);
        const auto r = c.Post("/v1/completions", body.dump(), "application/json");
        QVERIFY(r);
        QCOMPARE(r->status, 200);
        QVERIFY(r->get_header_value("Content-Type").find("text/event-stream") == 0);
        std::vector<std::string> text(2);
        std::vector<std::vector<int>> ids(2);
        std::vector<std::string> finish(2);
        int usage = 0;
        bool done = false;
        size_t at = 0;
        const std::string& sse = r->body;
        while ((at = sse.find("data: ", at)) != std::string::npos) {
            const size_t end = sse.find("\n\n", at);
            QVERIFY(end != std::string::npos);
            const std::string data = sse.substr(at + 6, end - at - 6);
            at = end + 2;
            if (data == "[DONE]") {
                done = true;
                continue;
            }
            const json e = json::parse(data);
            if (e.contains("usage")) {
                usage = e["usage"]["completion_tokens"].get<int>();
                continue;
            }
            for (const json& ch : e["choices"]) {
                const size_t i = ch["index"].get<size_t>();
                text[i] += ch["text"].get<std::string>();
                for (const json& t : ch["token_ids"]) ids[i].push_back(t.get<int>());
                QCOMPARE(ch["logprobs"]["tokens"].size(), ch["token_ids"].size());
                if (!ch["finish_reason"].is_null()) finish[i] = ch["finish_reason"];
            }
        }
        QVERIFY(done);
        int total = 0;
        for (size_t i = 0; i < 2; ++i) {
            const json& want = plain.body["choices"][i];
            QCOMPARE(text[i], want["text"].get<std::string>());
            QCOMPARE(ids[i], want["token_ids"].get<std::vector<int>>());
            QCOMPARE(finish[i], want["finish_reason"].get<std::string>());
            total += static_cast<int>(ids[i].size());
        }
        QCOMPARE(usage, total);
    }

    void chatCompletions() {
        // The bundled model with a chat template added: messages are
        // rendered by it, and the reply is the completion of that text.
        QTemporaryDir dir;
        const std::string tmpl =
            "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}Q: {% endif %}";
        const std::string path = dir.filePath("chat.gguf").toStdString();
        {
            auto f = rs::GgufFile::open(kModel);
            rs::GgufWriter w;
            rs::test::copy_gguf_metadata(*f, w);
            w.add_string("tokenizer.chat_template", tmpl);
            for (const rs::GgufTensor& t : f->tensors())
                w.add_tensor(t.name, t.type, t.dims,
                             std::vector<uint8_t>(t.data, t.data + t.n_bytes));
            w.write(path);
        }
        QProcess chat;
        chat.start(
            rs::test::binary("reasonscope"),
            {"serve", "--model", QString::fromStdString(path), "--port", "0", "--threads", "1"});
        QVERIFY(chat.waitForStarted(10000));
        int port = 0;
        QByteArray out;
        for (int i = 0; i < 150 && !port; ++i) {
            chat.waitForReadyRead(100);
            out += chat.readAllStandardOutput();
            const auto m = QRegularExpression("listening on http://127\\.0\\.0\\.1:(\\d+)")
                               .match(QString::fromUtf8(out));
            if (m.hasMatch()) port = m.captured(1).toInt();
        }
        QVERIFY2(port > 0, out.constData());
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(60);
        const json messages = json::array({{{"role", "user"}, {"content", "12+7*3"}}});
        auto r = c.Post("/v1/chat/completions",
                        json{{"messages", messages},
                             {"temperature", 0},
                             {"max_tokens", 40},
                             {"logprobs", true},
                             {"top_logprobs", 2}}
                            .dump(),
                        "application/json");
        QVERIFY(r);
        QCOMPARE(r->status, 200);
        const json reply = json::parse(r->body);
        QCOMPARE(reply["object"], "chat.completion");
        const json& msg = reply["choices"][0]["message"];
        QCOMPARE(msg["role"], "assistant");
        // The same as completing the rendered text.
        auto plain = c.Post(
            "/v1/completions",
            json{{"prompt", "user: 12+7*3\nQ: "}, {"temperature", 0}, {"max_tokens", 40}}.dump(),
            "application/json");
        QVERIFY(plain);
        QCOMPARE(msg["content"], json::parse(plain->body)["choices"][0]["text"]);
        QVERIFY(msg["content"].get<std::string>().find("Answer:") != std::string::npos);
        const json& lp = reply["choices"][0]["logprobs"]["content"];
        QVERIFY(lp.is_array() && !lp.empty());
        QCOMPARE(lp[0]["top_logprobs"].size(), size_t{2});
        QVERIFY(lp[0]["bytes"].is_array());
        // Streamed: role first, deltas that add up to the content.
        r = c.Post(
            "/v1/chat/completions",
            json{{"messages", messages}, {"temperature", 0}, {"max_tokens", 40}, {"stream", true}}
                .dump(),
            "application/json");
        QVERIFY(r);
        std::string content;
        bool role = false;
        for (size_t at = 0; (at = r->body.find("data: {", at)) != std::string::npos;) {
            const size_t end = r->body.find("\n\n", at);
            const json e = json::parse(r->body.substr(at + 6, end - at - 6));
            at = end;
            QCOMPARE(e["object"], "chat.completion.chunk");
            const json& d = e["choices"][0]["delta"];
            role = role || d.value("role", "") == "assistant";
            content += d.value("content", "");
        }
        QVERIFY(role);
        QCOMPARE(content, msg["content"].get<std::string>());
        // A model without a template refuses chats with the reason.
        const Http none = post("/v1/chat/completions", json{{"messages", messages}});
        QCOMPARE(none.status, 400);
        QVERIFY(none.body["error"]["message"].get<std::string>().find("no chat template") !=
                std::string::npos);
        chat.terminate();
        QVERIFY(chat.waitForFinished(10000));
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

    // Many clients at once: every reply complete and equal to its reply alone.
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
        std::vector<json> alone(8);
        for (int i = 0; i < 8; ++i) {
            const Http h = post("/v1/completions", reqs[static_cast<size_t>(i)]);
            QCOMPARE(h.status, 200);
            alone[static_cast<size_t>(i)] = choices(h);
        }
        // 64 clients at once (each request 8 times), twice: every reply equal
        // to its request's reply alone, and the server's memory flat.
        const auto rss_kb = [this] {
            QFile f(QString("/proc/%1/status").arg(server_.processId()));
            if (!f.open(QIODevice::ReadOnly)) return -1LL;
            for (const QByteArray& line : f.readAll().split('\n'))
                if (line.startsWith("VmRSS:"))
                    return line.mid(6).trimmed().split(' ').front().toLongLong();
            return -1LL;
        };
        std::vector<long long> rss;
        for (int round = 0; round < 2; ++round) {
            std::vector<int> status(64);
            std::vector<json> got(64);
            std::vector<std::string> transport(64);
            std::vector<std::thread> threads;
            for (size_t i = 0; i < 64; ++i)
                threads.emplace_back([&, i] {
                    // A connection the loaded machine dropped before the
                    // server saw it is tried again, as a client would.
                    Http h;
                    for (int attempt = 0; attempt < 3 && h.status == 0; ++attempt) {
                        h = post("/v1/completions", reqs[i % 8]);
                        if (h.status == 0) transport[i] += h.error + "; ";
                    }
                    status[i] = h.status;
                    got[i] = choices(h);
                });
            for (auto& t : threads) t.join();
            for (size_t i = 0; i < 64; ++i) {
                if (!transport[i].empty())
                    qWarning("client %zu retried after: %s", i, transport[i].c_str());
                QCOMPARE(status[i], 200);
                QCOMPARE(got[i].size(), i % 2 ? size_t{1} : size_t{2});
                QVERIFY2(got[i] == alone[i % 8], qPrintable(QString("client %1: %2 vs %3")
                                                                .arg(i)
                                                                .arg(got[i].dump().c_str())
                                                                .arg(alone[i % 8].dump().c_str())));
            }
            rss.push_back(rss_kb());
        }
        QVERIFY(rss[0] > 0);
        if (kSanitized) return;  // quarantined frees: RSS says nothing under ASan
        QVERIFY2(
            rss[1] <= rss[0] + rss[0] / 10 + 2048,
            qPrintable(
                QString("RSS %1 kB after one round, %2 kB after two").arg(rss[0]).arg(rss[1])));
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
        QTest::newRow("echo while streaming")
            << "/v1/completions"
            << "{\"prompt\": \"Q\", \"stream\": true, \"echo\": true}"
            << "echo";
        QTest::newRow("stream_options") << "/v1/completions"
                                        << "{\"prompt\": \"Q\", \"stream\": true, "
                                           "\"stream_options\": 1}"
                                        << "stream_options";
        QTest::newRow("chat without messages") << "/v1/chat/completions"
                                               << "{\"messages\": []}"
                                               << "messages";
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

    // Clients that connect all at once while the server cannot accept (here
    // stopped; under load, busy) wait in its listen queue: every connection
    // completes at once and is answered when the server goes on. (A queue of
    // 5, cpp-httplib's default, dropped the others' handshakes: a client
    // then saw its connection closed.)
    void connectionsQueueWhileTheServerIsBusy() {
        const auto pid = static_cast<pid_t>(server_.processId());
        constexpr int kClients = 64;
        std::vector<int> fds;
        struct Resume {  // the server goes on whatever happens here
            pid_t pid;
            std::vector<int>& fds;
            ~Resume() {
                ::kill(pid, SIGCONT);
                for (int fd : fds) ::close(fd);
            }
        } resume{pid, fds};
        QVERIFY(::kill(pid, SIGSTOP) == 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port_));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < kClients; ++i) {
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            QVERIFY(fd >= 0);
            fds.push_back(fd);
            const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
            QVERIFY(rc == 0 || errno == EINPROGRESS);
        }
        // Handshakes complete in the kernel, the server stopped: wait for all
        // (a dropped one would be retried only after a second).
        int connected = 0;
        QElapsedTimer t;
        t.start();
        std::vector<char> done(kClients, 0);
        while (connected < kClients && t.elapsed() < 500) {
            for (int i = 0; i < kClients; ++i) {
                if (done[static_cast<size_t>(i)]) continue;
                pollfd p{fds[static_cast<size_t>(i)], POLLOUT, 0};
                int err = 0;
                socklen_t len = sizeof err;
                if (::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) &&
                    ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
                    done[static_cast<size_t>(i)] = 1;
                    ++connected;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        QCOMPARE(connected, kClients);
        const std::string req =
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        for (int fd : fds)
            QCOMPARE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL),
                     static_cast<ssize_t>(req.size()));
        QVERIFY(::kill(pid, SIGCONT) == 0);
        // Every client answered.
        for (int fd : fds) {
            std::string got;
            char buf[512];
            QElapsedTimer w;
            w.start();
            while (got.find("\r\n") == std::string::npos && w.elapsed() < 30000) {
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, 100) == 1) {
                    const ssize_t k = ::recv(fd, buf, sizeof buf, 0);
                    if (k <= 0) break;
                    got.append(buf, static_cast<size_t>(k));
                }
            }
            QVERIFY2(got.rfind("HTTP/1.1 200", 0) == 0, got.c_str());
        }
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
