#include "remote/remote_generator.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "reasonscope/json_limits.h"
#include "reasonscope/search.h"

namespace rs::remote {

using json = nlohmann::json;

namespace {

struct Url {
    std::string scheme, host, prefix;
    int port = 0;
};

Url parse_url(const std::string& url) {
    Url u;
    const size_t sep = url.find("://");
    if (sep == std::string::npos)
        throw Error("server URL '" + url + "' lacks a scheme (e.g. http://127.0.0.1:8000)");
    u.scheme = url.substr(0, sep);
    if (u.scheme != "http" && u.scheme != "https")
        throw Error("server URL '" + redact_url(url) + "': only http and https are supported");
    std::string rest = url.substr(sep + 3);
    const size_t slash = rest.find('/');
    if (slash != std::string::npos) {
        u.prefix = rest.substr(slash);
        rest.resize(slash);
    }
    if (const size_t at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
    const size_t colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find(']', colon) == std::string::npos) {
        const std::string p = rest.substr(colon + 1);
        if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(p) > 65535 || std::stoi(p) == 0)
            throw Error("server URL '" + redact_url(url) + "': bad port '" + p + "'");
        u.port = std::stoi(p);
        rest.resize(colon);
    } else {
        u.port = u.scheme == "https" ? 443 : 80;
    }
    if (rest.empty()) throw Error("server URL '" + redact_url(url) + "' has no host");
    u.host = rest;
    // The endpoints are spelled from the server's root: a URL that ends in
    // /v1 (as OpenAI clients take it) means the root above it.
    while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
    if (u.prefix.size() >= 3 && u.prefix.compare(u.prefix.size() - 3, 3, "/v1") == 0)
        u.prefix.resize(u.prefix.size() - 3);
    return u;
}

// The cause of a transport failure, in words.
std::string transport_error(httplib::Error e, double timeout_s) {
    switch (e) {
        case httplib::Error::Connection:
            return "cannot connect (is the server running, and is the address right?)";
        case httplib::Error::Read:
            return "the connection was lost while reading the reply, or no reply came within " +
                   json(timeout_s).dump() + " s (--remote-timeout)";
        case httplib::Error::Write:
            return "the connection was lost while sending the request";
        case httplib::Error::ConnectionTimeout:
            return "the connection timed out";
        case httplib::Error::Canceled:
            return "cancelled";
        case httplib::Error::SSLConnection:
        case httplib::Error::SSLLoadingCerts:
        case httplib::Error::SSLServerVerification:
            return "the TLS connection failed (" + httplib::to_string(e) + ")";
        default:
            return httplib::to_string(e);
    }
}

// The message in an error reply's body (OpenAI {"error": {"message"}},
// llama-server's, SGLang's {"message"} / {"detail"}), else its start.
std::string error_text(const std::string& body) {
    try {
        const json j = json::parse(body);
        if (j.is_object()) {
            if (j.contains("error")) {
                const json& e = j["error"];
                if (e.is_object() && e.contains("message") && e["message"].is_string())
                    return e["message"].get<std::string>();
                if (e.is_string()) return e.get<std::string>();
            }
            for (const char* k : {"message", "detail"})
                if (j.contains(k) && j[k].is_string()) return j[k].get<std::string>();
        }
    } catch (const json::exception&) {
    }
    std::string s = body.substr(0, 200);
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return s.empty() ? "(empty body)" : s;
}

uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

bool greedy(const SamplingParams& sp) {
    return sp.temperature < kGreedyTemperature;
}

// Whether a server samples alike with both settings (a chunk fetched with
// other settings is not used, and only alike requests share one request).
bool same_sampling(const SamplingParams& a, const SamplingParams& b) {
    return greedy(a) == greedy(b) && (greedy(a) || a.temperature == b.temperature) &&
           a.top_k == b.top_k && a.top_p == b.top_p && a.min_p == b.min_p &&
           a.repeat_penalty == b.repeat_penalty && a.repeat_last_n == b.repeat_last_n &&
           a.seed == b.seed;
}

}  // namespace

std::string redact_url(const std::string& url) {
    const size_t sep = url.find("://");
    const size_t from = sep == std::string::npos ? 0 : sep + 3;
    const size_t end = url.find('/', from);
    const size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
    if (at == std::string::npos || at < from) return url;
    return url.substr(0, from) + url.substr(at + 1);
}

json ServerInfo::to_json() const {
    return {{"kind", kind_name(kind)},
            {"url", url},
            {"model", model},
            {"version", version},
            {"owned_by", owned_by},
            {"n_ctx", n_ctx},
            {"prompt_logprobs", prompt_logprobs},
            {"top_k", top_k},
            {"signals", "entropy and varentropy estimated from the top " + std::to_string(top_k)},
            {"tokenizer", tokenizer_check}};
}

RemoteUsage RemoteUsage::since(const RemoteUsage& b) const {
    RemoteUsage u = *this;
    u.requests -= b.requests;
    u.prompt_tokens -= b.prompt_tokens;
    u.completion_tokens -= b.completion_tokens;
    u.cached_tokens -= b.cached_tokens;
    u.tokens_used -= b.tokens_used;
    u.seconds -= b.seconds;
    return u;
}

json RemoteUsage::to_json() const {
    return {{"requests", requests},
            {"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"cached_tokens", cached_tokens},
            {"tokens_used", tokens_used},
            {"seconds", seconds}};
}

struct RemoteGenerator::Seq {
    bool live = false;
    std::vector<TokenId> tokens;
    std::deque<TokenOut> ahead;              // sampled by the server, not yet taken
    bool ahead_ends = false;                 // the model ended after `ahead`
    std::optional<SamplingParams> ahead_sp;  // the settings `ahead` was drawn with
};

struct RemoteGenerator::Impl {
    Url url;
    httplib::Headers headers;
    std::vector<std::unique_ptr<httplib::Client>> clients;  // one per request in flight
    mutable std::mutex mu;                                  // usage
    RemoteUsage usage;

    std::unique_ptr<httplib::Client> make_client(const RemoteOptions& o) const {
        auto c = std::make_unique<httplib::Client>(url.scheme + "://" + url.host + ":" +
                                                   std::to_string(url.port));
        const auto secs = [](double s) {
            return std::chrono::milliseconds(static_cast<int64_t>(std::max(s, 0.001) * 1000));
        };
        c->set_connection_timeout(secs(o.connect_timeout_s));
        c->set_read_timeout(secs(o.timeout_s));
        c->set_write_timeout(secs(o.timeout_s));
        c->set_keep_alive(true);
        c->set_default_headers(headers);
        return c;
    }

    // One request; the reply's JSON. Throws rs::Error naming the request.
    json call(httplib::Client& c, const std::string& method, const std::string& path,
              const json* body, const RemoteOptions& o) {
        const std::string full = url.prefix + path;
        const std::string what = method + " " + redact_url(o.url) + path;
        const auto t0 = std::chrono::steady_clock::now();
        httplib::Result res = body ? c.Post(full, body->dump(), "application/json") : c.Get(full);
        {
            const std::lock_guard lk(mu);
            ++usage.requests;
            usage.seconds +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
        if (!res) throw Error(what + ": " + transport_error(res.error(), o.timeout_s));
        if (res->status < 200 || res->status >= 300)
            throw Error(what + ": HTTP " + std::to_string(res->status) + ": " +
                        error_text(res->body));
        const json j = parse_json_or_discarded(res->body, what);
        if (j.is_discarded())
            throw Error(what + ": the reply is not valid JSON: " + error_text(res->body));
        return j;
    }
};

RemoteGenerator::RemoteGenerator(const Tokenizer& tok, int local_ctx, RemoteOptions opt)
    : tok_(tok), opt_(std::move(opt)), impl_(std::make_unique<Impl>()) {
    if (opt_.concurrency < 1 || opt_.concurrency > 1024)
        throw Error("--remote-concurrency must be in [1, 1024]");
    if (opt_.chunk < 1 || opt_.chunk > 4096) throw Error("--remote-chunk must be in [1, 4096]");
    if (opt_.max_n < 1) throw Error("the choices per request must be at least 1");
    if (opt_.top_k < 1 || opt_.top_k > 1000) throw Error("--remote-top-k must be in [1, 1000]");
    if (!(opt_.timeout_s > 0)) throw Error("--remote-timeout must be above 0");
    Impl& d = *impl_;
    d.url = parse_url(opt_.url);
    if (!opt_.api_key.empty()) d.headers.emplace("Authorization", "Bearer " + opt_.api_key);
    for (int i = 0; i < opt_.concurrency; ++i) d.clients.push_back(d.make_client(opt_));
    info_.kind = opt_.kind;
    info_.url = redact_url(opt_.url);
    info_.top_k = opt_.top_k;
    info_.prompt_logprobs = can_score(opt_.kind);

    // The model list: every kind serves GET /v1/models.
    httplib::Client& c = *d.clients.front();
    const json models = d.call(c, "GET", "/v1/models", nullptr, opt_);
    if (!models.is_object() || !models.contains("data") || !models["data"].is_array() ||
        models["data"].empty())
        throw Error("GET " + info_.url + "/v1/models: the reply lists no models");
    const json* card = nullptr;
    std::string listed;
    for (const json& m : models["data"]) {
        if (!m.is_object() || !m.contains("id") || !m["id"].is_string()) continue;
        const std::string id = m["id"].get<std::string>();
        listed += (listed.empty() ? "" : ", ") + id;
        if (!card && (opt_.model.empty() || opt_.model == id)) card = &m;
    }
    if (!card)
        throw Error(info_.url + " serves no model '" + opt_.model + "' (it serves: " + listed +
                    ")");
    info_.model = (*card)["id"].get<std::string>();
    info_.owned_by = card->value("owned_by", std::string());
    if (card->contains("max_model_len") && (*card)["max_model_len"].is_number_integer())
        info_.n_ctx = (*card)["max_model_len"].get<int>();  // vLLM
    if (card->contains("meta") && (*card)["meta"].is_object()) {
        const json& meta = (*card)["meta"];
        if (meta.contains("n_ctx") && meta["n_ctx"].is_number_integer())
            info_.n_ctx = meta["n_ctx"].get<int>();  // reasonscope serve
        if (meta.contains("version") && meta["version"].is_string())
            info_.version = meta["version"].get<std::string>();
    }
    // The server's version and its context where the list lacks it.
    const auto try_get = [&](const std::string& path) -> json {
        try {
            return d.call(c, "GET", path, nullptr, opt_);
        } catch (const Error&) {
            return json();
        }
    };
    if (opt_.kind == Kind::LlamaServer) {
        const json props = try_get("/props");
        if (props.is_object()) {
            info_.version = props.value("build_info", info_.version);
            if (props.contains("default_generation_settings") &&
                props["default_generation_settings"].is_object())
                info_.n_ctx = props["default_generation_settings"].value("n_ctx", info_.n_ctx);
        }
    } else if (opt_.kind == Kind::Sglang) {
        const json si = try_get("/get_server_info");
        if (si.is_object()) {
            info_.version = si.value("version", info_.version);
            if (si.contains("context_length") && si["context_length"].is_number_integer())
                info_.n_ctx = si["context_length"].get<int>();
        }
    } else if (info_.version.empty()) {
        const json v = try_get("/version");
        if (v.is_object()) info_.version = v.value("version", std::string());
    }
    n_ctx_ = info_.n_ctx > 0 && local_ctx > 0 ? std::min(info_.n_ctx, local_ctx)
             : info_.n_ctx > 0                ? info_.n_ctx
                                              : local_ctx;
    if (n_ctx_ <= 0) n_ctx_ = 4096;

    // The tokenizer: the server must split text as the local GGUF's does.
    const std::string probe = "Reasonscope checks 17 + 25 = 42.\nThen: done!";
    json body;
    if (opt_.kind == Kind::LlamaServer)
        body = {{"content", probe}, {"add_special", false}};
    else
        body = {{"model", info_.model}, {"prompt", probe}, {"add_special_tokens", false}};
    json tk;
    try {
        tk = d.call(c, "POST", "/tokenize", &body, opt_);
    } catch (const Error& e) {
        info_.tokenizer_check = std::string("not checked: ") + e.what();
    }
    if (tk.is_object() && tk.contains("tokens") && tk["tokens"].is_array()) {
        std::vector<TokenId> theirs;
        for (const json& t : tk["tokens"])
            if (t.is_number_integer())
                theirs.push_back(t.get<TokenId>());
            else if (t.is_object() && t.contains("id") && t["id"].is_number_integer())
                theirs.push_back(t["id"].get<TokenId>());
        const std::vector<TokenId> ours = tok_.encode(probe, false, false);
        if (theirs != ours) {
            const auto show = [](const std::vector<TokenId>& v) {
                std::string s;
                for (size_t i = 0; i < v.size() && i < 12; ++i)
                    s += (i ? " " : "") + std::to_string(v[i]);
                return s + (v.size() > 12 ? " ..." : "");
            };
            throw Error("the server at " + info_.url + " tokenizes differently from the local " +
                        "model file (\"" + probe.substr(0, 18) + "...\": server " + show(theirs) +
                        ", local " + show(ours) +
                        "); give --model the GGUF of the model the server runs");
        }
        info_.tokenizer_check = "matches";
    } else if (info_.tokenizer_check.empty()) {
        info_.tokenizer_check = "not checked: /tokenize gave no token list";
    }
}

RemoteGenerator::~RemoteGenerator() = default;

std::string RemoteGenerator::backend_name() const {
    return std::string(kind_name(info_.kind)) + " " + info_.url;
}

std::string RemoteGenerator::backend_reason() const {
    std::string s = "remote " + std::string(kind_name(info_.kind)) + " server";
    if (!info_.version.empty()) s += " " + info_.version;
    s += ", model " + info_.model + ", top-" + std::to_string(info_.top_k) +
         " log-probabilities (entropy approximate)";
    return s;
}

GeneratorCaps RemoteGenerator::caps() const {
    GeneratorCaps c;
    c.full_logits = false;
    c.hidden_taps = false;
    c.prefix_sharing = true;  // the server's prefix cache
    c.continuation_logprob = info_.prompt_logprobs;
    c.batch_invariant = false;
    c.max_alternatives = info_.top_k;
    return c;
}

RemoteGenerator::Seq& RemoteGenerator::seq_ref(int seq) {
    if (seq < 0 || seq >= static_cast<int>(seqs_.size()) || !seqs_[static_cast<size_t>(seq)].live)
        throw Error("remote generator: no sequence " + std::to_string(seq));
    return seqs_[static_cast<size_t>(seq)];
}

const RemoteGenerator::Seq& RemoteGenerator::seq_ref(int seq) const {
    return const_cast<RemoteGenerator*>(this)->seq_ref(seq);
}

int RemoteGenerator::add(Seq s) {
    s.live = true;
    if (!free_.empty()) {
        const int id = free_.back();
        free_.pop_back();
        seqs_[static_cast<size_t>(id)] = std::move(s);
        return id;
    }
    seqs_.push_back(std::move(s));
    return static_cast<int>(seqs_.size()) - 1;
}

int RemoteGenerator::start(std::span<const TokenId> prompt) {
    if (prompt.empty()) throw Error("empty prompt");
    if (static_cast<int>(prompt.size()) >= n_ctx_)
        throw Error("the prompt of " + std::to_string(prompt.size()) +
                    " tokens does not fit the context of " + std::to_string(n_ctx_) + " tokens");
    for (TokenId t : prompt)
        if (t < 0 || t >= tok_.n_vocab())
            throw Error("prompt token " + std::to_string(t) + " is not in the vocabulary");
    Seq s;
    s.tokens.assign(prompt.begin(), prompt.end());
    return add(std::move(s));
}

int RemoteGenerator::fork(int seq) {
    Seq& p = seq_ref(seq);
    Seq c;
    c.tokens = p.tokens;
    // The parent's unread tokens were sampled after this very prefix: the
    // first child takes them (used once, they are a fair sample), so a
    // branch that goes on after a step boundary does not ask again. Not for
    // greedy runs: there siblings are equal, strategies break their ties,
    // and the handed-down tokens' numbers come from another computation
    // than the siblings' (a server's prefill and decode differ in the last
    // bits).
    if (p.ahead_sp && !greedy(*p.ahead_sp)) {
        c.ahead.swap(p.ahead);
        c.ahead_ends = p.ahead_ends;
        c.ahead_sp = p.ahead_sp;
        p.ahead_ends = false;
    }
    return add(std::move(c));
}

void RemoteGenerator::release(int seq) {
    Seq& s = seq_ref(seq);
    s = Seq();
    free_.push_back(seq);
}

bool RemoteGenerator::alive(int seq) const {
    return seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[static_cast<size_t>(seq)].live;
}

int RemoteGenerator::length(int seq) const {
    return static_cast<int>(seq_ref(seq).tokens.size());
}

const std::vector<TokenId>& RemoteGenerator::tokens(int seq) const {
    return seq_ref(seq).tokens;
}

std::vector<json> RemoteGenerator::send_all(const std::vector<HttpCall>& calls) {
    Impl& d = *impl_;
    std::vector<json> replies(calls.size());
    std::vector<std::string> errors(calls.size());
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    const size_t workers = std::min(calls.size(), d.clients.size());
    std::vector<std::thread> pool;
    std::atomic<size_t> running{workers};
    for (size_t w = 0; w < workers; ++w)
        pool.emplace_back([&, w] {
            while (!failed) {
                const size_t i = next++;
                if (i >= calls.size()) break;
                try {
                    replies[i] = d.call(*d.clients[w], "POST", calls[i].path, &calls[i].body, opt_);
                } catch (const std::exception& e) {
                    errors[i] = e.what();
                    failed = true;
                }
            }
            --running;
        });
    // Cancel abandons what is in flight: each client's socket is shut; so
    // does a failed request (its error ends the run; the rest would only
    // make it wait).
    bool cancelled = false, stopped = false;
    while (running > 0) {
        if (!cancelled && cancel_ && cancel_->load()) {
            cancelled = true;
            failed = true;
        }
        if (failed && !stopped) {
            stopped = true;
            for (auto& c : d.clients) c->stop();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (std::thread& t : pool) t.join();
    if (cancelled) {
        // A stopped client reconnects on its next request.
        throw SearchStopped{};
    }
    for (const std::string& e : errors)
        if (!e.empty()) throw Error(e);
    return replies;
}

std::vector<Extension> RemoteGenerator::extend(std::span<const ExtendRequest> requests,
                                               const SamplingParams& params,
                                               const std::vector<int>& tap_layers) {
    if (!tap_layers.empty())
        throw Error("hidden-state taps are not available on " + backend_name());
    if (cancel_ && cancel_->load()) throw SearchStopped{};
    // Which sequences need tokens from the server, grouped: sequences with
    // the same tokens and settings (children just forked from one node) go
    // out as one request with n choices where the server takes n.
    struct Group {
        std::vector<size_t> reqs;
        const SamplingParams* sp = nullptr;
    };
    std::vector<Group> groups;
    std::vector<const SamplingParams*> settings;  // the distinct ones asked for
    std::map<std::pair<std::vector<TokenId>, size_t>, size_t> by_prefix;
    for (size_t i = 0; i < requests.size(); ++i) {
        const ExtendRequest& r = requests[i];
        Seq& s = seq_ref(r.seq);
        const SamplingParams& sp = r.params ? *r.params : params;
        if (s.ahead_sp && !same_sampling(*s.ahead_sp, sp)) {
            s.ahead.clear();
            s.ahead_ends = false;
        }
        if (static_cast<int>(s.tokens.size()) >= n_ctx_)
            throw Error("sequence " + std::to_string(r.seq) + " is at the context limit of " +
                        std::to_string(n_ctx_) + " tokens");
        if (!s.ahead.empty() || s.ahead_ends || r.force >= 0) continue;
        if (opt_.kind == Kind::LlamaServer) {  // one choice per request
            groups.push_back(Group{{i}, &sp});
            continue;
        }
        size_t setting = 0;
        while (setting < settings.size() && !same_sampling(*settings[setting], sp)) ++setting;
        if (setting == settings.size()) settings.push_back(&sp);
        // At most opt.max_n choices per request (servers cap n).
        const auto [it, fresh] = by_prefix.try_emplace({s.tokens, setting}, groups.size());
        if (!fresh && static_cast<int>(groups[it->second].reqs.size()) >= opt_.max_n)
            it->second = groups.size();
        if (it->second == groups.size()) groups.push_back(Group{{}, &sp});
        groups[it->second].reqs.push_back(i);
    }
    if (!groups.empty()) {
        std::vector<HttpCall> calls;
        std::vector<SampleAsk> asks;
        for (const Group& g : groups) {
            const Seq& s = seq_ref(requests[g.reqs.front()].seq);
            SampleAsk a;
            a.prompt = s.tokens;
            a.n = static_cast<int>(g.reqs.size());
            a.max_tokens =
                std::max(1, std::min(opt_.chunk, n_ctx_ - static_cast<int>(a.prompt.size())));
            a.top_logprobs = opt_.top_k;
            a.sp = *g.sp;
            // Reproducible where the server honours seeds: the run's seed,
            // the first branch's stream and the position.
            a.seed = mix64(g.sp->seed ^ mix64(requests[g.reqs.front()].stream) ^
                           mix64(static_cast<uint64_t>(a.prompt.size()))) &
                     0x7fffffffffffffffULL;
            a.model = info_.model;
            calls.push_back(sample_request(opt_.kind, a));
            asks.push_back(std::move(a));
        }
        const std::vector<json> replies = send_all(calls);
        for (size_t gi = 0; gi < groups.size(); ++gi) {
            SampleReply rep;
            try {
                rep = parse_sample_reply(opt_.kind, asks[gi], replies[gi]);
            } catch (const ProtocolError& e) {
                throw Error("POST " + info_.url + calls[gi].path + ": " + e.what());
            }
            {
                const std::lock_guard lk(impl_->mu);
                impl_->usage.prompt_tokens += rep.usage.prompt;
                impl_->usage.completion_tokens += rep.usage.completion;
                impl_->usage.cached_tokens += rep.usage.cached;
            }
            for (size_t k = 0; k < groups[gi].reqs.size(); ++k) {
                Seq& s = seq_ref(requests[groups[gi].reqs[k]].seq);
                ChoiceOut& c = rep.choices[k];
                for (const TokenOut& t : c.tokens)
                    if (t.id < 0 || t.id >= tok_.n_vocab())
                        throw Error("POST " + info_.url + calls[gi].path + ": token id " +
                                    std::to_string(t.id) + " is not in the vocabulary of " +
                                    std::to_string(tok_.n_vocab()));
                s.ahead.assign(c.tokens.begin(), c.tokens.end());
                s.ahead_sp = *groups[gi].sp;
                // The model ended, and the server kept its end token out of
                // the tokens: the search still sees one.
                s.ahead_ends =
                    c.finish == "stop" && (c.tokens.empty() || !tok_.is_eog(c.tokens.back().id));
                if (s.ahead.empty() && !s.ahead_ends)
                    throw Error("POST " + info_.url + calls[gi].path +
                                ": the server returned no tokens (finish reason '" + c.finish +
                                "') for a sequence of " + std::to_string(s.tokens.size()) +
                                " tokens");
            }
        }
    }

    std::vector<Extension> out(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
        const ExtendRequest& r = requests[i];
        const SamplingParams& sp = r.params ? *r.params : params;
        Seq& s = seq_ref(r.seq);
        TokenOut t;
        Extension& e = out[i];
        if (r.force >= 0) {
            // The run decides: what the server said of this token at this
            // position, when it is among the alternatives it gave.
            t.id = r.force;
            t.logprob = 0;
            if (!s.ahead.empty()) {
                t.top = s.ahead.front().top;
                for (const auto& [id, lp] : t.top)
                    if (id == r.force) t.logprob = lp;
            }
            e.forced = true;
            s.ahead.clear();
            s.ahead_ends = false;
        } else if (!s.ahead.empty()) {
            t = std::move(s.ahead.front());
            s.ahead.pop_front();
        } else {
            // The end the server reported without its token.
            t.id = tok_.eos() >= 0 ? tok_.eos() : 0;
            s.ahead_ends = false;
        }
        if (std::find(r.veto.begin(), r.veto.end(), t.id) != r.veto.end() && r.veto_with >= 0) {
            t.id = r.veto_with;
            t.logprob = 0;
            for (const auto& [id, lp] : t.top)
                if (id == r.veto_with) t.logprob = lp;
            e.forced = true;
            s.ahead.clear();
            s.ahead_ends = false;
        }
        TokenSignals& sig = e.token;
        sig.token = t.id;
        sig.logprob = t.logprob;
        // The alternatives come most likely first (protocol.h); the chosen
        // token joins them in its place when the server left it out.
        if (std::none_of(t.top.begin(), t.top.end(),
                         [&](const auto& p) { return p.first == t.id; }) &&
            t.logprob < 0) {
            const auto at = std::find_if(t.top.begin(), t.top.end(),
                                         [&](const auto& p) { return p.second < t.logprob; });
            t.top.insert(at, {t.id, t.logprob});
        }
        approximate_signals(t.top, tok_.n_vocab(), sig.entropy, sig.varentropy);
        sig.top.assign(t.top.begin(),
                       t.top.begin() + std::min<size_t>(t.top.size(), static_cast<size_t>(std::max(
                                                                          sp.n_alternatives, 0))));
        s.tokens.push_back(t.id);
        const std::lock_guard lk(impl_->mu);
        ++impl_->usage.tokens_used;
    }
    return out;
}

double RemoteGenerator::continuation_logprob(std::span<const TokenId> prefix,
                                             std::span<const TokenId> continuation) {
    if (continuation.empty()) return 0.0;
    if (!info_.prompt_logprobs)
        throw Error(std::string(kind_name(info_.kind)) +
                    " servers cannot score text (no prompt log-probabilities); use a local model "
                    "for the scorer");
    ScoreAsk a;
    a.tokens.assign(prefix.begin(), prefix.end());
    a.tokens.insert(a.tokens.end(), continuation.begin(), continuation.end());
    a.from = prefix.size();
    a.model = info_.model;
    if (a.from == 0) throw Error("scoring needs a prefix of at least one token");
    if (static_cast<int>(a.tokens.size()) >= n_ctx_)
        throw Error("scorer prompt does not fit the context");
    const HttpCall call = score_request(info_.kind, a);
    const std::vector<json> r = send_all({call});
    Usage u;
    std::vector<float> lps;
    try {
        lps = parse_score_reply(info_.kind, a, r.front(), &u);
    } catch (const ProtocolError& e) {
        throw Error("POST " + info_.url + call.path + " (scoring): " + e.what());
    }
    {
        const std::lock_guard lk(impl_->mu);
        impl_->usage.prompt_tokens += u.prompt;
        impl_->usage.cached_tokens += u.cached;
    }
    double total = 0;
    for (float x : lps) total += x;
    return total;
}

std::vector<float> RemoteGenerator::next_token_logprobs(std::span<const TokenId>) {
    throw Error("full next-token distributions are not available from " + backend_name() +
                " (a server returns the top " + std::to_string(info_.top_k) + ")");
}

GeneratorStats RemoteGenerator::stats() const {
    GeneratorStats st;
    const std::lock_guard lk(impl_->mu);
    st.forward_passes = impl_->usage.requests;
    return st;
}

RemoteUsage RemoteGenerator::usage() const {
    const std::lock_guard lk(impl_->mu);
    return impl_->usage;
}

}  // namespace rs::remote
