#include "remote/protocol.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rs::remote {

using json = nlohmann::json;

Kind parse_kind(const std::string& name) {
    if (name == "openai" || name == "reasonscope") return Kind::OpenAI;
    if (name == "vllm") return Kind::Vllm;
    if (name == "sglang") return Kind::Sglang;
    if (name == "llama-server" || name == "llama.cpp" || name == "llamacpp")
        return Kind::LlamaServer;
    throw Error("unknown server kind '" + name + "' (known: openai, vllm, sglang, llama-server)");
}

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::OpenAI:
            return "openai";
        case Kind::Vllm:
            return "vllm";
        case Kind::Sglang:
            return "sglang";
        case Kind::LlamaServer:
            return "llama-server";
    }
    return "?";
}

bool can_score(Kind k) {
    return k != Kind::LlamaServer;
}

namespace {

bool greedy(const SamplingParams& sp) {
    return sp.temperature < kGreedyTemperature;
}

// The field `key` of object `j` (at `where`); throws naming it.
const json& need(const json& j, const char* key, const std::string& where) {
    if (!j.is_object()) throw ProtocolError(where + " is not a JSON object");
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) throw ProtocolError("the reply lacks " + where + "." + key);
    return *it;
}

const json& need_array(const json& j, const char* key, const std::string& where) {
    const json& v = need(j, key, where);
    if (!v.is_array()) throw ProtocolError(where + "." + key + " is not an array");
    return v;
}

float to_logprob(const json& v, const std::string& where) {
    if (v.is_number()) {
        const double x = v.get<double>();
        if (std::isnan(x) || x > 1e-3)
            throw ProtocolError(where + " = " + v.dump() + " is not a log-probability");
        return static_cast<float>(std::min(x, 0.0));
    }
    // A token the server found impossible: -inf is sent as null or a string.
    if (v.is_null() || (v.is_string() && (v == "-inf" || v == "-Infinity")))
        return -std::numeric_limits<float>::infinity();
    throw ProtocolError(where + " is not a number");
}

TokenId to_id(const json& v, const std::string& where) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() > std::numeric_limits<int32_t>::max())
        throw ProtocolError(where + " = " + v.dump() + " is not a token id");
    return static_cast<TokenId>(v.get<int64_t>());
}

// vLLM's return_tokens_as_token_ids writes a token as "token_id:123".
TokenId id_from_text(const std::string& s, const std::string& where) {
    static const std::string prefix = "token_id:";
    if (s.compare(0, prefix.size(), prefix) != 0 || s.size() == prefix.size() ||
        s.size() > prefix.size() + 10 ||
        s.find_first_not_of("0123456789", prefix.size()) != std::string::npos)
        throw ProtocolError(where + " = \"" + s.substr(0, 40) +
                            "\" is not a token id (the server must return token ids: vLLM's "
                            "return_tokens_as_token_ids)");
    const long long v = std::stoll(s.substr(prefix.size()));
    if (v > std::numeric_limits<int32_t>::max())
        throw ProtocolError(where + " = \"" + s + "\" is not a token id");
    return static_cast<TokenId>(v);
}

void sort_top(std::vector<std::pair<TokenId, float>>& top) {
    std::stable_sort(top.begin(), top.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
}

void add_sampling(json& b, const SamplingParams& sp, bool llama) {
    b["temperature"] = greedy(sp) ? 0.0 : static_cast<double>(sp.temperature);
    b["top_p"] = static_cast<double>(sp.top_p);
    // llama-server's defaults (top_k 40, min_p 0.05, repeat_penalty 1.1 in
    // older builds) are not ours: every setting is sent.
    if (sp.top_k > 0 || llama) b["top_k"] = sp.top_k;
    b["min_p"] = static_cast<double>(sp.min_p);
    if (llama) {
        b["repeat_penalty"] = static_cast<double>(sp.repeat_penalty);
        b["repeat_last_n"] = sp.repeat_last_n;
    } else if (sp.repeat_penalty != 1.0f) {
        b["repetition_penalty"] = static_cast<double>(sp.repeat_penalty);
    }
}

Usage openai_usage(const json& r) {
    Usage u;
    const auto it = r.find("usage");
    if (it == r.end() || !it->is_object()) return u;
    u.prompt = it->value("prompt_tokens", int64_t{0});
    u.completion = it->value("completion_tokens", int64_t{0});
    if (const auto d = it->find("prompt_tokens_details"); d != it->end() && d->is_object())
        u.cached = d->value("cached_tokens", int64_t{0});
    return u;
}

ChoiceOut openai_choice(const json& c, const std::string& where) {
    ChoiceOut out;
    const json& fin = c.contains("finish_reason") ? c["finish_reason"] : json();
    out.finish = fin.is_string() ? fin.get<std::string>() : "length";
    const json& lp = need(c, "logprobs", where);
    const json& toks = need_array(lp, "tokens", where + ".logprobs");
    const json& lps = need_array(lp, "token_logprobs", where + ".logprobs");
    const json* tops = lp.contains("top_logprobs") && lp["top_logprobs"].is_array()
                           ? &lp["top_logprobs"]
                           : nullptr;
    const json* ids =
        c.contains("token_ids") && c["token_ids"].is_array() ? &c["token_ids"] : nullptr;
    if (lps.size() != toks.size() || (tops && tops->size() != toks.size()) ||
        (ids && ids->size() != toks.size()))
        throw ProtocolError(where +
                            ".logprobs: tokens, token_logprobs, top_logprobs and "
                            "token_ids differ in length");
    for (size_t i = 0; i < toks.size(); ++i) {
        const std::string at = where + ".logprobs.tokens[" + std::to_string(i) + "]";
        TokenOut t;
        if (ids)
            t.id = to_id((*ids)[i], where + ".token_ids[" + std::to_string(i) + "]");
        else if (toks[i].is_string())
            t.id = id_from_text(toks[i].get<std::string>(), at);
        else
            throw ProtocolError(at + " is not a string");
        t.logprob =
            to_logprob(lps[i], where + ".logprobs.token_logprobs[" + std::to_string(i) + "]");
        if (tops && (*tops)[i].is_object())
            for (const auto& [k, v] : (*tops)[i].items())
                t.top.emplace_back(id_from_text(k, where + ".logprobs.top_logprobs[" +
                                                       std::to_string(i) + "] key"),
                                   to_logprob(v, where + ".logprobs.top_logprobs[" +
                                                     std::to_string(i) + "]." + k));
        sort_top(t.top);
        out.tokens.push_back(std::move(t));
    }
    return out;
}

// SGLang's [logprob, token id, text] triples.
std::pair<TokenId, float> sglang_triple(const json& t, const std::string& where) {
    if (!t.is_array() || t.size() < 2) throw ProtocolError(where + " is not [logprob, id, text]");
    return {to_id(t[1], where + "[1]"), to_logprob(t[0], where + "[0]")};
}

}  // namespace

HttpCall sample_request(Kind k, const SampleAsk& a) {
    HttpCall c;
    json& b = c.body;
    switch (k) {
        case Kind::OpenAI:
        case Kind::Vllm:
            c.path = "/v1/completions";
            b["model"] = a.model;
            b["prompt"] = a.prompt;
            b["n"] = a.n;
            b["max_tokens"] = a.max_tokens;
            add_sampling(b, a.sp, false);
            b["seed"] = a.seed;
            b["logprobs"] = std::max(a.top_logprobs, 1);
            b["return_tokens_as_token_ids"] = true;  // vLLM; reasonscope serve
            b["skip_special_tokens"] = false;
            b["stream"] = false;
            break;
        case Kind::Sglang: {
            c.path = "/generate";
            b["input_ids"] = a.prompt;
            json sp;
            sp["max_new_tokens"] = a.max_tokens;
            sp["n"] = a.n;
            add_sampling(sp, a.sp, false);
            sp["sampling_seed"] = a.seed;
            sp["skip_special_tokens"] = false;
            b["sampling_params"] = sp;
            b["return_logprob"] = true;
            b["top_logprobs_num"] = std::max(a.top_logprobs, 1);
            b["logprob_start_len"] = -1;
            b["stream"] = false;
            break;
        }
        case Kind::LlamaServer:
            c.path = "/completion";
            b["prompt"] = a.prompt;
            b["n_predict"] = a.max_tokens;
            add_sampling(b, a.sp, true);
            b["seed"] = a.seed;
            b["n_probs"] = std::max(a.top_logprobs, 1);
            b["return_tokens"] = true;
            b["cache_prompt"] = true;
            b["stream"] = false;
            break;
    }
    return c;
}

SampleReply parse_sample_reply(Kind k, const SampleAsk& a, const json& r) {
    SampleReply out;
    if (!r.is_object() && !(k == Kind::Sglang && r.is_array()))
        throw ProtocolError("the reply is not a JSON object");
    switch (k) {
        case Kind::OpenAI:
        case Kind::Vllm: {
            const json& choices = need_array(r, "choices", "reply");
            for (size_t i = 0; i < choices.size(); ++i) {
                const json& c = choices[i];
                const size_t index =
                    c.is_object() && c.contains("index") && c["index"].is_number_unsigned()
                        ? c["index"].get<size_t>()
                        : i;
                if (index >= static_cast<size_t>(a.n))
                    throw ProtocolError("reply.choices[" + std::to_string(i) + "].index " +
                                        std::to_string(index) +
                                        " is not below n = " + std::to_string(a.n));
                if (out.choices.size() <= index) out.choices.resize(index + 1);
                if (!out.choices[index].finish.empty())
                    throw ProtocolError("reply.choices has index " + std::to_string(index) +
                                        " twice");
                out.choices[index] = openai_choice(c, "reply.choices[" + std::to_string(i) + "]");
                if (out.choices[index].finish.empty()) out.choices[index].finish = "length";
            }
            const auto answered =
                std::count_if(out.choices.begin(), out.choices.end(),
                              [](const ChoiceOut& c) { return !c.finish.empty(); });
            if (answered < a.n)
                throw ProtocolError("the reply has " + std::to_string(answered) + " choices; " +
                                    std::to_string(a.n) + " were asked for");
            out.usage = openai_usage(r);
            break;
        }
        case Kind::Sglang: {
            // n > 1 answers a list of replies, one per choice.
            const auto one = [&](const json& x, const std::string& where) {
                ChoiceOut c;
                const json& meta = need(x, "meta_info", where);
                const json& toks = need_array(meta, "output_token_logprobs", where + ".meta_info");
                const json* tops =
                    meta.contains("output_top_logprobs") && meta["output_top_logprobs"].is_array()
                        ? &meta["output_top_logprobs"]
                        : nullptr;
                if (tops && tops->size() != toks.size())
                    throw ProtocolError(where +
                                        ".meta_info: output_top_logprobs and "
                                        "output_token_logprobs differ in length");
                for (size_t i = 0; i < toks.size(); ++i) {
                    const std::string at =
                        where + ".meta_info.output_token_logprobs[" + std::to_string(i) + "]";
                    TokenOut t;
                    std::tie(t.id, t.logprob) = sglang_triple(toks[i], at);
                    if (tops && (*tops)[i].is_array())
                        for (size_t j = 0; j < (*tops)[i].size(); ++j)
                            t.top.push_back(sglang_triple(
                                (*tops)[i][j], where + ".meta_info.output_top_logprobs[" +
                                                   std::to_string(i) + "][" + std::to_string(j) +
                                                   "]"));
                    sort_top(t.top);
                    c.tokens.push_back(std::move(t));
                }
                const json& fin = meta.contains("finish_reason") ? meta["finish_reason"] : json();
                c.finish = fin.is_object() && fin.contains("type") && fin["type"].is_string()
                               ? fin["type"].get<std::string>()
                           : fin.is_string() ? fin.get<std::string>()
                                             : "length";
                out.usage.prompt += meta.value("prompt_tokens", int64_t{0});
                out.usage.completion += meta.value("completion_tokens", int64_t{0});
                out.usage.cached += meta.value("cached_tokens", int64_t{0});
                out.choices.push_back(std::move(c));
            };
            if (r.is_array())
                for (size_t i = 0; i < r.size(); ++i) one(r[i], "reply[" + std::to_string(i) + "]");
            else
                one(r, "reply");
            break;
        }
        case Kind::LlamaServer: {
            ChoiceOut c;
            const json& probs = need_array(r, "completion_probabilities", "reply");
            const json* ids =
                r.contains("tokens") && r["tokens"].is_array() ? &r["tokens"] : nullptr;
            if (ids && !ids->empty() && ids->size() != probs.size())
                throw ProtocolError("reply: tokens and completion_probabilities differ in length");
            for (size_t i = 0; i < probs.size(); ++i) {
                const std::string at = "reply.completion_probabilities[" + std::to_string(i) + "]";
                const json& p = probs[i];
                TokenOut t;
                t.id = to_id(need(p, "id", at), at + ".id");
                if (ids && !ids->empty() &&
                    to_id((*ids)[i], "reply.tokens[" + std::to_string(i) + "]") != t.id)
                    throw ProtocolError("reply.tokens[" + std::to_string(i) + "] differs from " +
                                        at + ".id");
                t.logprob = to_logprob(need(p, "logprob", at), at + ".logprob");
                if (p.contains("top_logprobs") && p["top_logprobs"].is_array())
                    for (size_t j = 0; j < p["top_logprobs"].size(); ++j) {
                        const json& e = p["top_logprobs"][j];
                        const std::string ej = at + ".top_logprobs[" + std::to_string(j) + "]";
                        t.top.emplace_back(to_id(need(e, "id", ej), ej + ".id"),
                                           to_logprob(need(e, "logprob", ej), ej + ".logprob"));
                    }
                sort_top(t.top);
                c.tokens.push_back(std::move(t));
            }
            const std::string stop = r.value("stop_type", std::string());
            c.finish = stop == "eos" ? "stop" : stop == "limit" ? "length" : stop;
            out.usage.prompt = r.value("tokens_evaluated", int64_t{0});
            out.usage.completion = static_cast<int64_t>(c.tokens.size());
            out.usage.cached = r.value("tokens_cached", int64_t{0});
            if (const auto t = r.find("timings"); t != r.end() && t->is_object())
                out.usage.cached = t->value("cache_n", out.usage.cached);
            out.choices.push_back(std::move(c));
            break;
        }
    }
    if (out.choices.size() < static_cast<size_t>(a.n))
        throw ProtocolError("the reply has " + std::to_string(out.choices.size()) + " choices; " +
                            std::to_string(a.n) + " were asked for");
    for (size_t i = 0; i < out.choices.size(); ++i)
        if (static_cast<int>(out.choices[i].tokens.size()) > a.max_tokens)
            throw ProtocolError("choice " + std::to_string(i) + " has " +
                                std::to_string(out.choices[i].tokens.size()) + " tokens; at most " +
                                std::to_string(a.max_tokens) + " were asked for");
    return out;
}

HttpCall score_request(Kind k, const ScoreAsk& a) {
    HttpCall c;
    json& b = c.body;
    switch (k) {
        case Kind::OpenAI:
            // The legacy completions API's way: echo the prompt with its
            // log-probabilities, generate nothing.
            c.path = "/v1/completions";
            b = {{"model", a.model},
                 {"prompt", a.tokens},
                 {"max_tokens", 0},
                 {"echo", true},
                 {"logprobs", 1},
                 {"temperature", 0.0},
                 {"return_tokens_as_token_ids", true}};
            break;
        case Kind::Vllm:
            c.path = "/v1/completions";
            b = {{"model", a.model},   {"prompt", a.tokens},
                 {"max_tokens", 1},    {"prompt_logprobs", 0},
                 {"temperature", 0.0}, {"return_tokens_as_token_ids", true}};
            break;
        case Kind::Sglang:
            c.path = "/generate";
            b = {{"input_ids", a.tokens},
                 {"sampling_params", {{"max_new_tokens", 0}, {"temperature", 0.0}}},
                 {"return_logprob", true},
                 {"logprob_start_len", 0}};
            break;
        case Kind::LlamaServer:
            throw Error(
                "llama-server cannot score text (it returns no prompt log-probabilities); use a "
                "local model for the scorer (e.g. --scorer-opt model=FILE with prm-model)");
    }
    return c;
}

std::vector<float> parse_score_reply(Kind k, const ScoreAsk& a, const json& r, Usage* usage) {
    std::vector<float> out;
    const size_t n = a.tokens.size();
    if (a.from == 0 || a.from > n) throw Error("score: nothing to score");
    if (!r.is_object()) throw ProtocolError("the reply is not a JSON object");
    switch (k) {
        case Kind::OpenAI: {
            const json& choices = need_array(r, "choices", "reply");
            if (choices.empty()) throw ProtocolError("reply.choices is empty");
            const json& lp = need(choices[0], "logprobs", "reply.choices[0]");
            const json& lps = need_array(lp, "token_logprobs", "reply.choices[0].logprobs");
            if (lps.size() < n)
                throw ProtocolError("reply.choices[0].logprobs.token_logprobs has " +
                                    std::to_string(lps.size()) + " entries for a prompt of " +
                                    std::to_string(n) + " tokens (does the server echo prompts?)");
            if (lp.contains("tokens") && lp["tokens"].is_array() && lp["tokens"].size() >= n)
                for (size_t i = a.from; i < n; ++i)
                    if (lp["tokens"][i].is_string() &&
                        id_from_text(lp["tokens"][i].get<std::string>(),
                                     "reply.choices[0].logprobs.tokens[" + std::to_string(i) +
                                         "]") != a.tokens[i])
                        throw ProtocolError(
                            "the echoed prompt differs from the one sent at "
                            "token " +
                            std::to_string(i));
            for (size_t i = a.from; i < n; ++i)
                out.push_back(to_logprob(
                    lps[i], "reply.choices[0].logprobs.token_logprobs[" + std::to_string(i) + "]"));
            if (usage) *usage = openai_usage(r);
            break;
        }
        case Kind::Vllm: {
            const json& choices = need_array(r, "choices", "reply");
            if (choices.empty()) throw ProtocolError("reply.choices is empty");
            const json& pl = need_array(choices[0], "prompt_logprobs", "reply.choices[0]");
            if (pl.size() < n)
                throw ProtocolError("reply.choices[0].prompt_logprobs has " +
                                    std::to_string(pl.size()) + " entries for a prompt of " +
                                    std::to_string(n) + " tokens");
            for (size_t i = a.from; i < n; ++i) {
                const std::string at =
                    "reply.choices[0].prompt_logprobs[" + std::to_string(i) + "]";
                const json& d = pl[i];
                if (!d.is_object()) throw ProtocolError(at + " is not an object");
                // Keys are token ids ("123"), or "token_id:123" with
                // return_tokens_as_token_ids in some versions.
                const std::string id = std::to_string(a.tokens[i]);
                auto it = d.find(id);
                if (it == d.end()) it = d.find("token_id:" + id);
                if (it == d.end()) throw ProtocolError(at + " lacks the prompt's token " + id);
                const json& v = *it;
                out.push_back(to_logprob(v.is_object() ? need(v, "logprob", at + "." + id) : v,
                                         at + "." + id + ".logprob"));
            }
            if (usage) *usage = openai_usage(r);
            break;
        }
        case Kind::Sglang: {
            const json& meta = need(r, "meta_info", "reply");
            const json& in = need_array(meta, "input_token_logprobs", "reply.meta_info");
            if (in.size() < n)
                throw ProtocolError("reply.meta_info.input_token_logprobs has " +
                                    std::to_string(in.size()) + " entries for a prompt of " +
                                    std::to_string(n) + " tokens");
            for (size_t i = a.from; i < n; ++i) {
                const std::string at =
                    "reply.meta_info.input_token_logprobs[" + std::to_string(i) + "]";
                const auto [id, lp] = sglang_triple(in[i], at);
                if (id != a.tokens[i])
                    throw ProtocolError(at + " is for token " + std::to_string(id) +
                                        ", not the prompt's " + std::to_string(a.tokens[i]));
                out.push_back(lp);
            }
            if (usage) {
                usage->prompt = meta.value("prompt_tokens", int64_t{0});
                usage->cached = meta.value("cached_tokens", int64_t{0});
            }
            break;
        }
        case Kind::LlamaServer:
            score_request(k, a);  // throws
    }
    return out;
}

void approximate_signals(const std::vector<std::pair<TokenId, float>>& top, int n_vocab,
                         float& entropy, float& varentropy) {
    entropy = varentropy = 0;
    double mass = 0, pmin = 1, h = 0;
    std::vector<double> p;
    for (const auto& [id, lp] : top) {
        if (!std::isfinite(lp)) continue;
        const double q = std::exp(static_cast<double>(lp));
        p.push_back(q);
        mass += q;
        pmin = std::min(pmin, q);
    }
    if (p.empty()) return;
    const double tail = std::max(0.0, 1.0 - mass);
    double m = 0, qt = 0;  // tail tokens and each one's probability
    if (tail > 1e-9 && n_vocab > static_cast<int>(p.size())) {
        // (less a hair: log-probabilities sent as text round)
        m = std::min(std::ceil(tail / pmin - 1e-6), static_cast<double>(n_vocab) - p.size());
        m = std::max(m, 1.0);
        qt = tail / m;
    }
    for (double q : p) h -= q * std::log(q);
    if (m > 0) h -= tail * std::log(qt);
    double v = 0;
    for (double q : p) v += q * (-std::log(q) - h) * (-std::log(q) - h);
    if (m > 0) v += tail * (-std::log(qt) - h) * (-std::log(qt) - h);
    entropy = static_cast<float>(std::max(h, 0.0));
    varentropy = static_cast<float>(std::max(v, 0.0));
}

}  // namespace rs::remote
