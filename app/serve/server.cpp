#include "serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "reasonscope/chat_template.h"
#include "reasonscope/error.h"

namespace rs::serve {

namespace {

// Connections waiting to be accepted (see Server::bind).
constexpr int kListenQueue = 1024;

using json = nlohmann::json;

using ojson = nlohmann::ordered_json;

struct Reply {
    int status = 200;
    std::string body;
};

// A request the server refuses: the field at fault (empty: the body) and why.
struct BadRequest {
    std::string param, message;
};

std::string dump(const ojson& j) {
    // Model text may end inside a UTF-8 character: replace, never throw.
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

Reply error_reply(int status, const std::string& message, const std::string& param = {},
                  const char* type = "invalid_request_error") {
    ojson e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
    if (!param.empty()) e["param"] = param;
    return {status, dump(ojson{{"error", e}})};
}

// Request fields: absent or null means the default.
const json* field(const json& body, const char* name) {
    const auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number_field(const json& body, const char* name, double dflt, double lo, double hi,
                    bool lo_open = false) {
    const json* v = field(body, name);
    if (!v) return dflt;
    if (!v->is_number()) throw BadRequest{name, std::string(name) + " must be a number"};
    const double x = v->get<double>();
    if (!(lo_open ? x > lo : x >= lo) || !(x <= hi))
        throw BadRequest{name, std::string(name) + " must be in " + (lo_open ? "(" : "[") +
                                   json(lo).dump() + ", " + json(hi).dump() + "], not " +
                                   json(x).dump()};
    return x;
}

int64_t int_field(const json& body, const char* name, int64_t dflt, int64_t lo, int64_t hi) {
    const json* v = field(body, name);
    if (!v) return dflt;
    if (!v->is_number_integer()) throw BadRequest{name, std::string(name) + " must be an integer"};
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi))
        throw BadRequest{name, std::string(name) + " must be at most " + std::to_string(hi)};
    const auto x = v->get<int64_t>();
    if (x < lo || x > hi)
        throw BadRequest{name, std::string(name) + " must be in [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "], not " + std::to_string(x)};
    return x;
}

bool bool_field(const json& body, const char* name, bool dflt) {
    const json* v = field(body, name);
    if (!v) return dflt;
    if (!v->is_boolean()) throw BadRequest{name, std::string(name) + " must be true or false"};
    return v->get<bool>();
}

std::string string_field(const json& body, const char* name) {
    const json* v = field(body, name);
    if (!v) throw BadRequest{name, std::string(name) + " is required"};
    if (!v->is_string()) throw BadRequest{name, std::string(name) + " must be a string"};
    return v->get<std::string>();
}

// Token ids: an array of integers in the vocabulary.
std::vector<TokenId> token_ids(const json& v, const char* name, const Tokenizer& tok) {
    if (!v.is_array()) throw BadRequest{name, std::string(name) + " must be an array of token ids"};
    std::vector<TokenId> ids;
    for (size_t i = 0; i < v.size(); ++i) {
        const json& t = v[i];
        const std::string at = std::string(name) + "[" + std::to_string(i) + "]";
        if (!t.is_number_integer()) throw BadRequest{name, at + " must be an integer token id"};
        if (t.is_number_unsigned() ? t.get<uint64_t>() >= static_cast<uint64_t>(tok.n_vocab())
                                   : (t.get<int64_t>() < 0 || t.get<int64_t>() >= tok.n_vocab()))
            throw BadRequest{name, at + " = " + t.dump() +
                                       " is not a token id (the vocabulary has " +
                                       std::to_string(tok.n_vocab()) + ")"};
        ids.push_back(static_cast<TokenId>(t.get<int64_t>()));
    }
    return ids;
}

json parse_body(const std::string& body) {
    json j;
    try {
        j = json::parse(body);
    } catch (const json::parse_error& e) {
        throw BadRequest{"", std::string("the request body is not valid JSON: ") + e.what()};
    }
    if (!j.is_object()) throw BadRequest{"", "the request body must be a JSON object"};
    return j;
}

struct Choice {
    int seq = -1;
    std::vector<TokenSignals> tokens;
    std::vector<size_t> offsets;  // where each token's text starts in `text`
    std::string text;
    const char* finish = nullptr;      // "stop" or "length" once finished
    size_t sent = 0, sent_tokens = 0;  // streamed so far: bytes of text, tokens
};

// What a streaming request's handler writes: server-sent events the engine
// thread queues, until done. `gone`: the client hung up.
struct Stream {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::string> events;
    bool done = false;
    std::atomic<bool> gone{false};
    void push(std::string e, bool last = false) {
        {
            const std::lock_guard lk(mu);
            events.push_back(std::move(e));
            done = done || last;
        }
        cv.notify_all();
    }
};

struct Job {
    std::vector<TokenId> prompt;
    int n = 1;
    int max_tokens = 16;
    int logprobs = -1;         // top alternatives per token; -1: no logprobs
    bool echo = false;         // the prompt is part of each choice (and of its logprobs)
    int prompt_logprobs = -1;  // vLLM's: top alternatives per prompt token
    bool ids_as_text = false;  // vLLM's return_tokens_as_token_ids: "token_id:N"
    std::vector<TokenSignals> prompt_sig;  // the prompt's tokens after the first
    bool chat = false;                     // /v1/chat/completions
    std::shared_ptr<Stream> stream;        // set: answer as server-sent events
    bool stream_usage = false;             // stream_options.include_usage
    std::string id;
    int64_t created = 0;
    SamplingParams sp;
    std::vector<std::string> stop;
    std::vector<Choice> choices;
    std::promise<Reply> done;
    bool answered = false;
};

// Finds the first stop string in `text` that ends within its last `added`
// bytes; npos if none.
size_t find_stop(const std::string& text, size_t added, const std::vector<std::string>& stop) {
    size_t best = std::string::npos;
    for (const std::string& s : stop) {
        const size_t start = text.size() - added;
        const size_t from = start >= s.size() - 1 ? start - (s.size() - 1) : 0;
        const size_t p = text.find(s, from);
        if (p != std::string::npos) best = std::min(best, p);
    }
    return best;
}

}  // namespace

struct Server::Impl {
    Impl(Generator& g, ServeOptions o) : gen(g), opt(std::move(o)) {}

    Generator& gen;
    ServeOptions opt;
    httplib::Server http;
    int listen_fd = -1;  // the listening socket (see Server::bind)
    // Alternatives a token may report: up to the whole vocabulary.
    int max_logprobs() const { return gen.tokenizer().n_vocab(); }
    std::optional<ChatTemplate> chat_template;  // the model's, parsed once

    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::unique_ptr<Job>> queue;
    bool stopping = false;
    std::atomic<uint64_t> next_id{1};
    std::thread engine;

    // --- handler side -----------------------------------------------------

    // A streaming job: queued, and the handler writes its events as the
    // engine produces them.
    void submit_stream(std::unique_ptr<Job> job, httplib::Response& res) {
        std::shared_ptr<Stream> st = job->stream;
        {
            const std::lock_guard lk(mu);
            if (stopping) {
                res.status = 503;
                res.set_content(
                    error_reply(503, "the server is shutting down", {}, "server_error").body,
                    "application/json");
                return;
            }
            queue.push_back(std::move(job));
        }
        cv.notify_one();
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider(
            "text/event-stream",
            [st](size_t, httplib::DataSink& sink) {
                std::unique_lock lk(st->mu);
                st->cv.wait(lk, [&] { return !st->events.empty() || st->done; });
                while (!st->events.empty()) {
                    const std::string e = std::move(st->events.front());
                    st->events.pop_front();
                    lk.unlock();
                    if (!sink.write(e.data(), e.size())) {
                        st->gone = true;
                        return false;
                    }
                    lk.lock();
                }
                if (st->done) sink.done();
                return true;
            },
            [st](bool ok) {
                if (!ok) st->gone = true;
            });
    }

    Reply submit(std::unique_ptr<Job> job) {
        std::future<Reply> f = job->done.get_future();
        {
            const std::lock_guard lk(mu);
            if (stopping)
                return error_reply(503, "the server is shutting down", {}, "server_error");
            queue.push_back(std::move(job));
        }
        cv.notify_one();
        return f.get();
    }

    std::unique_ptr<Job> parse_completion(const json& b) const {
        const Tokenizer& tok = gen.tokenizer();
        auto job = std::make_unique<Job>();
        const json* prompt = field(b, "prompt");
        if (!prompt) throw BadRequest{"prompt", "prompt is required"};
        if (prompt->is_string())
            job->prompt = tok.encode(prompt->get<std::string>(), true, true);
        else if (prompt->is_array())
            job->prompt = token_ids(*prompt, "prompt", tok);
        else
            throw BadRequest{"prompt", "prompt must be a string or an array of token ids"};
        if (job->prompt.empty()) throw BadRequest{"prompt", "the prompt is empty"};
        if (static_cast<int>(job->prompt.size()) >= gen.n_ctx())
            throw BadRequest{"prompt", "the prompt of " + std::to_string(job->prompt.size()) +
                                           " tokens does not fit the context of " +
                                           std::to_string(gen.n_ctx()) + " tokens"};
        if (const json* lp = field(b, "logprobs")) {
            if (lp->is_boolean()) throw BadRequest{"logprobs", "logprobs must be an integer"};
            job->logprobs = static_cast<int>(int_field(b, "logprobs", 0, 0, max_logprobs()));
        }
        if (field(b, "prompt_logprobs"))
            job->prompt_logprobs =
                static_cast<int>(int_field(b, "prompt_logprobs", 0, 0, max_logprobs()));
        job->echo = bool_field(b, "echo", false);
        job->ids_as_text = bool_field(b, "return_tokens_as_token_ids", false);
        bool_field(b, "return_tokens", true);        // token ids are always returned
        bool_field(b, "skip_special_tokens", true);  // text never shows the end token
        if (job->echo && bool_field(b, "stream", false))
            throw BadRequest{"echo", "echo is not available with stream"};
        parse_common(b, *job, 16);
        return job;
    }

    // A chat: the messages rendered by the model's chat template.
    std::unique_ptr<Job> parse_chat(const json& b) const {
        const Tokenizer& tok = gen.tokenizer();
        auto job = std::make_unique<Job>();
        job->chat = true;
        if (!chat_template)
            throw BadRequest{"messages",
                             "the model has no chat template "
                             "(tokenizer.chat_template); use /v1/completions"};
        const json* msgs = field(b, "messages");
        if (!msgs || !msgs->is_array() || msgs->empty())
            throw BadRequest{"messages", "messages must be a non-empty list"};
        ojson ctx;
        ctx["messages"] = ojson::array();
        for (size_t i = 0; i < msgs->size(); ++i) {
            const json& m = (*msgs)[i];
            const std::string at = "messages[" + std::to_string(i) + "]";
            if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
                throw BadRequest{"messages", at + " must be an object with a role"};
            const json& c = m.contains("content") ? m["content"] : json();
            std::string text;
            if (c.is_string()) {
                text = c.get<std::string>();
            } else if (c.is_array()) {  // [{"type": "text", "text": ...}]
                for (const json& part : c)
                    if (part.is_object() && part.value("type", "") == "text" &&
                        part.contains("text") && part["text"].is_string())
                        text += part["text"].get<std::string>();
                    else
                        throw BadRequest{"messages", at + ": only text content is supported"};
            } else if (!c.is_null()) {
                throw BadRequest{"messages", at + ".content must be a string"};
            }
            ctx["messages"].push_back({{"role", m["role"]}, {"content", text}});
        }
        ctx["add_generation_prompt"] = true;
        ctx["bos_token"] = opt.bos_text;
        ctx["eos_token"] = opt.eos_text;
        if (const json* kw = field(b, "chat_template_kwargs")) {  // vLLM's: enable_thinking, ...
            if (!kw->is_object())
                throw BadRequest{"chat_template_kwargs", "chat_template_kwargs must be an object"};
            for (const auto& [k, v] : kw->items()) ctx[k] = ojson::parse(v.dump());
        }
        std::string rendered;
        try {
            rendered = chat_template->render(ctx);
        } catch (const ChatTemplateError& e) {
            throw BadRequest{"messages", std::string("chat template: ") + e.what()};
        }
        job->prompt = tok.encode(rendered, false, true);
        if (tok.add_bos() && tok.bos() >= 0 && (job->prompt.empty() || job->prompt[0] != tok.bos()))
            job->prompt.insert(job->prompt.begin(), tok.bos());
        if (static_cast<int>(job->prompt.size()) >= gen.n_ctx())
            throw BadRequest{"messages", "the conversation of " +
                                             std::to_string(job->prompt.size()) +
                                             " tokens does not fit the context of " +
                                             std::to_string(gen.n_ctx()) + " tokens"};
        if (bool_field(b, "logprobs", false))
            job->logprobs = static_cast<int>(int_field(b, "top_logprobs", 0, 0, max_logprobs()));
        else if (field(b, "top_logprobs"))
            throw BadRequest{"top_logprobs", "top_logprobs needs logprobs: true"};
        const int dflt = gen.n_ctx() - static_cast<int>(job->prompt.size());
        parse_common(b, *job, field(b, "max_completion_tokens") ? 0 : dflt);
        if (field(b, "max_completion_tokens"))
            job->max_tokens =
                static_cast<int>(int_field(b, "max_completion_tokens", dflt, 0, gen.n_ctx()));
        return job;
    }

    // What completions and chats share: n, max_tokens, sampling, stop, stream.
    void parse_common(const json& b, Job& j, int max_tokens_default) const {
        Job* job = &j;
        job->n = static_cast<int>(int_field(b, "n", 1, 1, opt.max_choices));
        job->max_tokens =
            static_cast<int>(int_field(b, "max_tokens", max_tokens_default, 0, gen.n_ctx()));
        SamplingParams& sp = job->sp;
        sp.temperature = static_cast<float>(number_field(b, "temperature", 1.0, 0, 100));
        sp.top_p = static_cast<float>(number_field(b, "top_p", 1.0, 0, 1, true));
        const int64_t top_k = int_field(b, "top_k", 0, -1, std::numeric_limits<int32_t>::max());
        sp.top_k = top_k < 0 ? 0 : static_cast<int>(top_k);
        sp.min_p = static_cast<float>(number_field(b, "min_p", 0, 0, 0.999));
        sp.repeat_penalty = static_cast<float>(number_field(b, "repeat_penalty", 1, 0, 10, true));
        if (field(b, "seed"))
            sp.seed = static_cast<uint64_t>(
                int_field(b, "seed", 0, 0, std::numeric_limits<int64_t>::max()));
        else
            sp.seed = std::random_device{}();
        sp.n_alternatives = std::max(job->logprobs, 0);
        if (const json* s = field(b, "stop")) {
            if (s->is_string())
                job->stop.push_back(s->get<std::string>());
            else if (s->is_array())
                for (const json& x : *s) {
                    if (!x.is_string())
                        throw BadRequest{"stop", "stop must be a string or a list of strings"};
                    job->stop.push_back(x.get<std::string>());
                }
            else
                throw BadRequest{"stop", "stop must be a string or a list of strings"};
            if (job->stop.size() > 16) throw BadRequest{"stop", "stop has more than 16 strings"};
            for (const std::string& x : job->stop)
                if (x.empty()) throw BadRequest{"stop", "stop strings must not be empty"};
        }
        if (bool_field(b, "stream", false)) {
            job->stream = std::make_shared<Stream>();
            if (const json* so = field(b, "stream_options")) {
                if (!so->is_object())
                    throw BadRequest{"stream_options", "stream_options must be an object"};
                job->stream_usage = bool_field(*so, "include_usage", false);
            }
        }
        try {
            sp.validate();
        } catch (const Error& e) {
            throw BadRequest{"", e.what()};
        }
    }

    ojson models() const {
        ojson model = {
            {"id", opt.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "reasonscope"}};
        model["meta"] = {{"n_ctx", gen.n_ctx()},
                         {"n_vocab", gen.tokenizer().n_vocab()},
                         {"backend", gen.backend_name()},
                         {"version", opt.version},
                         {"max_logprobs", max_logprobs()}};
        ojson list = {{"object", "list"}};
        list["data"] = ojson::array();
        list["data"].push_back(std::move(model));
        return list;
    }

    void route() {
        const auto reply = [](httplib::Response& res, const Reply& r) {
            res.status = r.status;
            res.set_content(r.body, "application/json");
        };
        const auto guarded = [reply](auto fn) {
            return [reply, fn](const httplib::Request& req, httplib::Response& res) {
                try {
                    reply(res, fn(req));
                } catch (const BadRequest& e) {
                    reply(res, error_reply(400, e.message, e.param));
                } catch (const std::exception& e) {
                    reply(res, error_reply(500, e.what(), {}, "server_error"));
                }
            };
        };
        http.Get("/health", guarded([](const httplib::Request&) {
                     return Reply{200, dump(ojson{{"status", "ok"}})};
                 }));
        http.Get("/v1/models", guarded([this](const httplib::Request&) {
                     return Reply{200, dump(models())};
                 }));
        http.Get("/version", guarded([this](const httplib::Request&) {
                     return Reply{200, dump(ojson{{"version", opt.version}})};
                 }));
        http.Post("/tokenize", guarded([this](const httplib::Request& req) {
                      const json b = parse_body(req.body);
                      // llama-server's {"content", "add_special"} or vLLM's
                      // {"prompt", "add_special_tokens"}.
                      const bool vllm = !field(b, "content") && field(b, "prompt");
                      const std::string text = string_field(b, vllm ? "prompt" : "content");
                      const bool add_special =
                          bool_field(b, vllm ? "add_special_tokens" : "add_special", vllm);
                      const bool parse_special = bool_field(b, "parse_special", true);
                      const auto ids = gen.tokenizer().encode(text, add_special, parse_special);
                      return Reply{200, dump(ojson{{"tokens", ids}})};
                  }));
        http.Post("/detokenize", guarded([this](const httplib::Request& req) {
                      const json b = parse_body(req.body);
                      const json* t = field(b, "tokens");
                      if (!t) throw BadRequest{"tokens", "tokens is required"};
                      const auto ids = token_ids(*t, "tokens", gen.tokenizer());
                      return Reply{200, dump(ojson{{"content", gen.tokenizer().decode(ids)}})};
                  }));
        // Streaming requests answer server-sent events (errors found before
        // the stream starts are plain JSON replies).
        const auto endpoint = [this, reply](bool chat) {
            return [this, reply, chat](const httplib::Request& req, httplib::Response& res) {
                try {
                    const json b = parse_body(req.body);
                    auto job = chat ? parse_chat(b) : parse_completion(b);
                    if (job->stream)
                        submit_stream(std::move(job), res);
                    else
                        reply(res, submit(std::move(job)));
                } catch (const BadRequest& e) {
                    reply(res, error_reply(400, e.message, e.param));
                } catch (const std::exception& e) {
                    reply(res, error_reply(500, e.what(), {}, "server_error"));
                }
            };
        };
        http.Post("/v1/completions", endpoint(false));
        http.Post("/completions", endpoint(false));
        http.Post("/v1/chat/completions", endpoint(true));
        http.Post("/chat/completions", endpoint(true));
        http.set_error_handler([reply](const httplib::Request& req, httplib::Response& res) {
            if (res.status == 404)
                reply(res, error_reply(404, "no such endpoint: " + req.method + " " + req.path));
            else if (res.body.empty())
                reply(res, error_reply(res.status, "HTTP " + std::to_string(res.status)));
        });
    }

    // --- engine side ------------------------------------------------------

    void answer(Job& j, Reply r) {
        if (j.answered) return;
        j.answered = true;
        if (j.stream) {
            if (r.status == 200) {
                emit(j);
                if (j.stream_usage) {
                    size_t completion = 0;
                    for (const Choice& c : j.choices) completion += c.tokens.size();
                    const ojson u = {
                        {"id", j.id},
                        {"object", j.chat ? "chat.completion.chunk" : "text_completion"},
                        {"created", j.created},
                        {"model", opt.model_id},
                        {"choices", ojson::array()},
                        {"usage",
                         {{"prompt_tokens", j.prompt.size()},
                          {"completion_tokens", completion},
                          {"total_tokens", j.prompt.size() + completion}}}};
                    j.stream->push("data: " + dump(u) + "\n\n");
                }
            } else if (!r.body.empty()) {
                j.stream->push("data: " + r.body + "\n\n");
            }
            j.stream->push("data: [DONE]\n\n", true);
        }
        for (Choice& c : j.choices)
            if (c.seq >= 0 && gen.alive(c.seq)) {
                // The last choice (the prompt's own sequence) stays a while:
                // a later request with the same prefix starts from its KV.
                if (&c == &j.choices.back() && r.status == 200)
                    keep(c.seq);
                else
                    gen.release(c.seq);
                c.seq = -1;
            }
        j.done.set_value(std::move(r));
    }

    // Finished sequences kept for their prefix (most recent last).
    std::deque<int> kept;
    static constexpr size_t kKeep = 8;
    void keep(int seq) {
        kept.push_back(seq);
        while (kept.size() > kKeep) {
            gen.release(kept.front());
            kept.pop_front();
        }
    }
    void drop_kept() {
        for (int s : kept) gen.release(s);
        kept.clear();
    }
    // A sequence for the prompt; when the KV cache is full, the kept
    // prefixes make room.
    int start(const std::vector<TokenId>& prompt) {
        try {
            return gen.start(prompt);
        } catch (const Error&) {
            if (kept.empty()) throw;
            drop_kept();
            return gen.start(prompt);
        }
    }

    static int64_t now_seconds() {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    // A chat's logprobs entry for one token (OpenAI's shape).
    ojson chat_logprob(const TokenSignals& t) const {
        const Tokenizer& tok = gen.tokenizer();
        const auto bytes = [](const std::string& p) {
            ojson b = ojson::array();
            for (unsigned char c : p) b.push_back(c);
            return b;
        };
        const std::string piece = tok.token_to_piece(t.token);
        ojson top = ojson::array();
        for (const auto& [id, l] : t.top) {
            const std::string p = tok.token_to_piece(id);
            top.push_back({{"token", p}, {"logprob", l}, {"bytes", bytes(p)}});
        }
        return {{"token", piece},
                {"logprob", t.logprob},
                {"bytes", bytes(piece)},
                {"top_logprobs", top}};
    }

    // Logprobs of tokens [from, to) of a choice, in the reply's shape.
    ojson logprobs_of(const Job& j, const Choice& c, size_t from, size_t to, size_t base) const {
        const Tokenizer& tok = gen.tokenizer();
        if (j.chat) {
            ojson content = ojson::array();
            for (size_t k = from; k < to; ++k)
                if (!tok.is_eog(c.tokens[k].token)) content.push_back(chat_logprob(c.tokens[k]));
            return {{"content", content}};
        }
        ojson lp = {{"tokens", ojson::array()},
                    {"token_logprobs", ojson::array()},
                    {"top_logprobs", ojson::array()},
                    {"text_offset", ojson::array()},
                    {"top_token_ids", ojson::array()}};
        for (size_t k = from; k < to; ++k)
            add_logprob(j, lp, c.tokens[k].token, &c.tokens[k], base + c.offsets[k]);
        return lp;
    }

    // One token's entry in a completion's logprobs; `t` null: a token with
    // none (an echoed prompt's first).
    void add_logprob(const Job& j, ojson& lp, TokenId id, const TokenSignals* t,
                     size_t offset) const {
        lp["tokens"].push_back(gen.tokenizer().is_eog(id) && !j.ids_as_text ? std::string()
                                                                            : token_name(j, id));
        lp["text_offset"].push_back(offset);
        if (!t) {
            lp["token_logprobs"].push_back(nullptr);
            lp["top_logprobs"].push_back(nullptr);
            lp["top_token_ids"].push_back(nullptr);
            return;
        }
        lp["token_logprobs"].push_back(t->logprob);
        ojson top = ojson::object(), ids = ojson::array();
        for (const auto& [alt, l] : t->top) {
            const std::string p = token_name(j, alt);
            if (!top.contains(p)) top[p] = l;
            ids.push_back(alt);
        }
        lp["top_logprobs"].push_back(std::move(top));
        lp["top_token_ids"].push_back(std::move(ids));
    }

    // Streams what each choice has that was not sent: text up to where a
    // stop string could still begin (all of it once the choice finished),
    // its tokens, and the finish reason.
    void emit(Job& j) {
        size_t hold = 0;
        for (const std::string& x : j.stop) hold = std::max(hold, x.size() - 1);
        for (size_t i = 0; i < j.choices.size(); ++i) {
            Choice& c = j.choices[i];
            if (c.sent == std::string::npos) continue;  // finish already sent
            const size_t end =
                c.finish ? c.text.size() : c.text.size() - std::min(hold, c.text.size());
            size_t tokens_end = c.sent_tokens;
            while (tokens_end < c.tokens.size() && (c.finish || c.offsets[tokens_end] < end))
                ++tokens_end;
            if (end <= c.sent && tokens_end == c.sent_tokens && !c.finish) continue;
            ojson ch = {{"index", i}};
            const std::string delta = c.text.substr(c.sent, end > c.sent ? end - c.sent : 0);
            ojson ids = ojson::array();
            for (size_t k = c.sent_tokens; k < tokens_end; ++k) ids.push_back(c.tokens[k].token);
            ojson lp = j.logprobs >= 0 ? logprobs_of(j, c, c.sent_tokens, tokens_end, 0) : ojson();
            if (j.chat) {
                ojson d = {{"content", delta}};
                if (c.sent == 0 && c.sent_tokens == 0)
                    d = {{"role", "assistant"}, {"content", delta}};
                ch["delta"] = d;
            } else {
                ch["text"] = delta;
            }
            ch["token_ids"] = ids;
            ch["logprobs"] = lp;
            ch["finish_reason"] = c.finish ? ojson(c.finish) : ojson();
            c.sent = c.finish ? std::string::npos : std::max(c.sent, end);
            c.sent_tokens = tokens_end;
            ojson chunk = {{"id", j.id},
                           {"object", j.chat ? "chat.completion.chunk" : "text_completion"},
                           {"created", j.created},
                           {"model", opt.model_id},
                           {"choices", ojson::array({ch})}};
            j.stream->push("data: " + dump(chunk) + "\n\n");
        }
    }

    void begin(Job& j) {
        j.id = (j.chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id++);
        j.created = now_seconds();
        // The prompt's own log-probabilities (echo with logprobs, vLLM's
        // prompt_logprobs): teacher forcing before sampling.
        const int k = std::max(j.prompt_logprobs, j.echo ? j.logprobs : -1);
        if (k >= 0 && j.prompt.size() > 1)
            j.prompt_sig = gen.continuation_signals(std::span(j.prompt).first(1),
                                                    std::span(j.prompt).subspan(1), k);
        const int root = start(j.prompt);
        j.choices.resize(static_cast<size_t>(j.n));
        j.choices.back().seq = root;
        for (int i = 0; i + 1 < j.n; ++i) j.choices[static_cast<size_t>(i)].seq = gen.fork(root);
        if (j.max_tokens == 0)
            for (Choice& c : j.choices) c.finish = "length";
    }

    void take(Job& j, Choice& c, const TokenSignals& t) {
        const Tokenizer& tok = gen.tokenizer();
        if (tok.is_eog(t.token)) {
            // Its id and log-probability are reported (as vLLM and
            // llama-server do); its text is empty.
            c.offsets.push_back(c.text.size());
            c.tokens.push_back(t);
            c.finish = "stop";
            return;
        }
        const std::string piece = tok.token_to_piece(t.token);
        c.offsets.push_back(c.text.size());
        c.tokens.push_back(t);
        c.text += piece;
        const size_t cut =
            j.stop.empty() ? std::string::npos : find_stop(c.text, piece.size(), j.stop);
        if (cut != std::string::npos) {
            // The text ends before the stop string; tokens starting in it go.
            c.text.resize(cut);
            while (!c.offsets.empty() && c.offsets.back() >= cut) {
                c.offsets.pop_back();
                c.tokens.pop_back();
            }
            c.finish = "stop";
        } else if (static_cast<int>(c.tokens.size()) >= j.max_tokens) {
            c.finish = "length";
        }
    }

    // A token as the reply names it: its text, or "token_id:N".
    std::string token_name(const Job& j, TokenId id) const {
        return j.ids_as_text ? "token_id:" + std::to_string(id)
                             : gen.tokenizer().token_to_piece(id);
    }

    Reply result(const Job& j) {
        const Tokenizer& tok = gen.tokenizer();
        ojson choices = ojson::array();
        size_t completion = 0;
        // The echoed prompt: its text, and its tokens with log-probabilities
        // (the first has none).
        std::string prompt_text;
        std::vector<size_t> prompt_offsets;
        if (j.echo)
            for (TokenId id : j.prompt) {
                prompt_offsets.push_back(prompt_text.size());
                prompt_text += tok.token_to_piece(id);
            }
        for (size_t i = 0; i < j.choices.size(); ++i) {
            const Choice& c = j.choices[i];
            completion += c.tokens.size();
            ojson ids = ojson::array();
            for (const TokenSignals& t : c.tokens) ids.push_back(t.token);
            ojson lp = nullptr;
            if (j.logprobs >= 0 && !j.chat) {
                lp = logprobs_of(j, c, 0, 0, 0);  // the empty shape
                for (size_t p = 0; j.echo && p < j.prompt.size(); ++p)
                    add_logprob(j, lp, j.prompt[p],
                                p == 0 || j.prompt_sig.size() < p ? nullptr : &j.prompt_sig[p - 1],
                                prompt_offsets[p]);
                for (size_t k = 0; k < c.tokens.size(); ++k)
                    add_logprob(j, lp, c.tokens[k].token, &c.tokens[k],
                                prompt_text.size() + c.offsets[k]);
            }
            ojson choice = {{"index", i},
                            {"text", j.echo ? prompt_text + c.text : c.text},
                            {"token_ids", ids},
                            {"logprobs", lp},
                            {"finish_reason", c.finish ? c.finish : "length"}};
            if (j.prompt_logprobs >= 0) {
                // vLLM's shape: null for the first token, then an object of
                // the prompt's token and the top alternatives by id.
                ojson pl = ojson::array();
                pl.push_back(nullptr);
                for (size_t p = 1; p < j.prompt.size() && p - 1 < j.prompt_sig.size(); ++p) {
                    const TokenSignals& t = j.prompt_sig[p - 1];
                    ojson d = ojson::object();
                    const auto put = [&](TokenId id, float l, const ojson& rank) {
                        d[std::to_string(id)] = {{"logprob", l},
                                                 {"rank", rank},
                                                 {"decoded_token", tok.token_to_piece(id)}};
                    };
                    for (size_t r = 0; r < t.top.size(); ++r)
                        put(t.top[r].first, t.top[r].second, r + 1);
                    // The prompt's token below the top k: its rank is not known.
                    if (!d.contains(std::to_string(t.token))) put(t.token, t.logprob, nullptr);
                    pl.push_back(std::move(d));
                }
                choice["prompt_logprobs"] = std::move(pl);
            }
            choices.push_back(std::move(choice));
        }
        if (j.chat) {
            // The chat shape: a message per choice, OpenAI's logprobs.
            for (size_t i = 0; i < j.choices.size(); ++i) {
                ojson& ch = choices[i];
                ch["message"] = {{"role", "assistant"}, {"content", ch["text"]}};
                ch["logprobs"] =
                    j.logprobs >= 0 ? logprobs_of(j, j.choices[i], 0, j.choices[i].tokens.size(), 0)
                                    : ojson();
                ch.erase("text");
            }
        }
        ojson body = {{"id", j.id},
                      {"object", j.chat ? "chat.completion" : "text_completion"},
                      {"created", j.created},
                      {"model", opt.model_id},
                      {"choices", choices},
                      {"usage",
                       {{"prompt_tokens", j.prompt.size()},
                        {"completion_tokens", completion},
                        {"total_tokens", j.prompt.size() + completion}}}};
        return {200, dump(body)};
    }

    void loop() {
        std::vector<std::unique_ptr<Job>> active;
        for (;;) {
            std::deque<std::unique_ptr<Job>> incoming;
            bool quit = false;
            {
                std::unique_lock lk(mu);
                cv.wait(lk, [&] { return stopping || !queue.empty() || !active.empty(); });
                incoming.swap(queue);
                quit = stopping;
            }
            if (quit) {
                for (auto& j : incoming)
                    answer(*j, error_reply(503, "the server is shutting down", {}, "server_error"));
                for (auto& j : active)
                    answer(*j, error_reply(503, "the server is shutting down", {}, "server_error"));
                return;
            }
            for (auto& j : incoming) {
                try {
                    begin(*j);
                    active.push_back(std::move(j));
                } catch (const std::exception& e) {
                    answer(*j, error_reply(503, e.what(), {}, "server_error"));
                }
            }
            // A streaming client that hung up: its sequences go.
            for (auto& j : active)
                if (j->stream && j->stream->gone) answer(*j, Reply{499, ""});
            std::erase_if(active, [](const std::unique_ptr<Job>& j) { return j->answered; });
            step(active);
            for (auto& j : active) {
                if (j->answered) continue;
                if (std::all_of(j->choices.begin(), j->choices.end(),
                                [](const Choice& c) { return c.finish != nullptr; }))
                    answer(*j, j->stream ? Reply{200, ""} : result(*j));
                else if (j->stream)
                    emit(*j);
            }
            std::erase_if(active, [](const std::unique_ptr<Job>& j) { return j->answered; });
        }
    }

    // One token for every live choice of every request, in one extend() call.
    void step(std::vector<std::unique_ptr<Job>>& active) {
        std::vector<ExtendRequest> reqs;
        std::vector<std::pair<Job*, Choice*>> owners;
        for (auto& j : active)
            for (size_t i = 0; i < j->choices.size(); ++i) {
                Choice& c = j->choices[i];
                if (c.finish) continue;
                if (gen.length(c.seq) >= gen.n_ctx()) {
                    c.finish = "length";
                    continue;
                }
                ExtendRequest r(c.seq, i);
                r.params = &j->sp;
                reqs.push_back(std::move(r));
                owners.emplace_back(j.get(), &c);
            }
        if (reqs.empty()) return;
        try {
            std::vector<Extension> ext;
            try {
                ext = gen.extend(reqs, *reqs.front().params);
            } catch (const NonFiniteLogits&) {
                throw;
            } catch (const Error&) {
                if (kept.empty()) throw;
                drop_kept();  // the KV cache was full: the kept prefixes go first
                ext = gen.extend(reqs, *reqs.front().params);
            }
            for (size_t k = 0; k < ext.size(); ++k)
                take(*owners[k].first, *owners[k].second, ext[k].token);
        } catch (const NonFiniteLogits& e) {
            answer(*owners.at(e.request).first, error_reply(500, e.what(), {}, "server_error"));
        } catch (const std::exception& e) {
            for (auto& [j, c] : owners) answer(*j, error_reply(500, e.what(), {}, "server_error"));
        }
    }
};

Server::Server(Generator& gen, ServeOptions opt)
    : impl_(std::make_unique<Impl>(gen, std::move(opt))) {
    if (impl_->opt.model_id.empty()) impl_->opt.model_id = gen.model_name();
    if (!impl_->opt.chat_template.empty()) {
        try {
            impl_->chat_template = ChatTemplate::parse(impl_->opt.chat_template);
        } catch (const ChatTemplateError& e) {
            throw Error("the model's chat template does not parse (line " +
                        std::to_string(e.line()) + "): " + e.what());
        }
    }
    const int threads = std::max(impl_->opt.http_threads, 1);
    impl_->http.new_task_queue = [threads] {
        return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    impl_->http.set_payload_max_length(size_t{16} << 20);
    impl_->http.set_socket_options([d = impl_.get()](socket_t sock) {
        httplib::default_socket_options(sock);
        d->listen_fd = sock;
    });
    impl_->route();
}

Server::~Server() {
    stop();
    if (impl_->engine.joinable()) impl_->engine.join();
}

int Server::bind() {
    Impl& d = *impl_;
    int port = d.opt.port;
    if (port == 0)
        port = d.http.bind_to_any_port(d.opt.host);
    else if (!d.http.bind_to_port(d.opt.host, port))
        port = -1;
    if (port <= 0)
        throw Error("cannot listen on " + d.opt.host + ":" + std::to_string(d.opt.port) +
                    " (in use, or not an address of this machine)");
    // cpp-httplib listens with a queue of 5 connections: clients that
    // connect together while the engine keeps both cores busy (a search's
    // branches, an eval's problems) had their handshakes dropped and saw
    // their connections closed. Listening again on the socket sets a queue
    // for them all (Linux keeps the socket and takes the new length).
    if (d.listen_fd >= 0) ::listen(d.listen_fd, kListenQueue);
    return port;
}

void Server::run() {
    Impl& d = *impl_;
    d.engine = std::thread([&d] { d.loop(); });
    d.http.listen_after_bind();
    stop();
    d.engine.join();
}

void Server::stop() {
    Impl& d = *impl_;
    {
        const std::lock_guard lk(d.mu);
        d.stopping = true;
    }
    d.cv.notify_all();
    d.http.stop();
}

}  // namespace rs::serve
