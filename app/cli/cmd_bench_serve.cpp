// reasonscope bench-serve: aggregate generation throughput of `serve` with
// 1, 8 and 32 concurrent clients whose prompts share a long prefix, against
// single-stream generation in process on the same model and threads. The
// server runs in this process on a free port of 127.0.0.1; clients are real
// HTTP clients. Repetitions alternate the two sides. The shared prefix is
// in the server's prefix cache before the timed rounds.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session_args.h"
#include "core/resources.h"
#include "core/run_service.h"
#include "core/session_options.h"
#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "serve/server.h"

namespace rs::cli {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// A prompt of exactly `n` tokens from repeated problem text.
std::vector<TokenId> prefix_tokens(const Tokenizer& tok, int n) {
    std::string text;
    std::vector<TokenId> ids;
    for (int i = 0; static_cast<int>(ids.size()) < n; ++i) {
        text += "Q: " + std::to_string(10 + i % 89) + "+" + std::to_string(3 + i % 7) + "\n" +
                std::to_string(10 + i % 89) + "+" + std::to_string(3 + i % 7) + "=" +
                std::to_string(13 + i % 89 + i % 7) +
                "\nAnswer: " + std::to_string(13 + i % 89 + i % 7) + "\n\n";
        ids = tok.encode(text, true, false);
    }
    ids.resize(static_cast<size_t>(n));
    return ids;
}

}  // namespace

int cmd_bench_serve(const Argv& argv) {
    Args a("bench-serve", "[--model FILE] [--clients 1,8,32] [--prefix N] [--tokens N] [--json]");
    a.option("model", "GGUF model (default: the bundled model)")
        .option("clients", "concurrent clients, comma-separated", "1,8,32")
        .option("prefix", "tokens of the prompt every client shares (capped by the context)", "512")
        .option("tokens", "tokens each client generates", "64")
        .option("reps", "repetitions (alternating in process and served)", "2")
        .option("threads", "compute threads (0 = all cores)", "0")
        .flag("json", "print JSON");
    add_session_options(a, "f32");
    if (!a.parse(argv)) return 0;
    const int gen_tokens = a.get_int("tokens", 1, 4096), reps = a.get_int("reps", 1, 50);
    const std::vector<int> clients = a.get_int_list("clients", 1, 256);
    SessionOptions so = app::search_session_options(a.get_threads());
    apply_session_options(a, so);
    auto model = Model::load(app::model_path_or_default(a.get("model")));
    LocalGenerator gen(*model, so);
    const Tokenizer& tok = model->tokenizer();
    // The shared prefix plus a short question of each client's own.
    const int room = gen.n_ctx() - gen_tokens - 16;
    const int prefix_len = std::min(a.get_int("prefix", 1, 1 << 20), room);
    if (prefix_len < 1)
        throw UsageError{"--tokens " + std::to_string(gen_tokens) + " leaves no room for a " +
                         "prompt in the context of " + std::to_string(gen.n_ctx())};
    const std::vector<TokenId> prefix = prefix_tokens(tok, prefix_len);
    const auto prompt_of = [&](int client) {
        std::vector<TokenId> p = prefix;
        for (TokenId t : tok.encode(
                 "Q: " + std::to_string(17 + client) + "*" + std::to_string(3 + client % 5) + "\n",
                 false, false))
            p.push_back(t);
        return p;
    };

    serve::ServeOptions opt;
    opt.port = 0;
    opt.max_choices = 8;
    opt.http_threads = 300;
    serve::Server server(gen, opt);
    const int port = server.bind();

    // Single stream in process: after the prompt, up to `gen_tokens` tokens
    // (the generation alone is timed; served requests pay their prompts).
    const auto in_process = [&] {
        SamplingParams sp;
        sp.temperature = 0.8f;
        sp.n_alternatives = 0;
        const int seq = gen.start(prompt_of(0));
        const auto t0 = Clock::now();
        const std::vector<ExtendRequest> req{{seq, 0}};
        int n = 0;
        for (; n < gen_tokens; ++n) {
            const auto ext = gen.extend(req, sp);
            if (tok.is_eog(ext[0].token.token)) break;
        }
        gen.release(seq);
        return (n + 0.0) / since(t0);
    };
    // C clients at once, each one request; aggregate completion tokens/s.
    const auto served = [&](int c) {
        std::vector<int64_t> got(static_cast<size_t>(c), 0);
        std::vector<std::string> errors(static_cast<size_t>(c));
        const auto t0 = Clock::now();
        std::vector<std::thread> threads;
        for (int i = 0; i < c; ++i)
            threads.emplace_back([&, i] {
                httplib::Client cl("127.0.0.1", port);
                cl.set_read_timeout(std::chrono::seconds(600));
                const nlohmann::json body = {{"prompt", prompt_of(i)},
                                             {"max_tokens", gen_tokens},
                                             {"temperature", 0.8},
                                             {"seed", i}};
                auto r = cl.Post("/v1/completions", body.dump(), "application/json");
                if (!r || r->status != 200) {
                    errors[static_cast<size_t>(i)] =
                        r ? r->body.substr(0, 200) : httplib::to_string(r.error());
                    return;
                }
                const auto j = nlohmann::json::parse(r->body);
                got[static_cast<size_t>(i)] = j["usage"]["completion_tokens"].get<int64_t>();
            });
        for (auto& t : threads) t.join();
        const double s = since(t0);
        for (const std::string& e : errors)
            if (!e.empty()) throw Error("bench-serve: a client failed: " + e);
        int64_t total = 0;
        for (int64_t g : got) total += g;
        return total / s;
    };

    std::thread engine([&] { server.run(); });
    std::vector<double> single;
    std::vector<std::vector<double>> per(clients.size());
    try {
        // Warm-up: the first pass touches the weights, and one request puts
        // the shared prefix in the server's cache, where it stays for every
        // timed round (as it does for a search's steps after the first).
        in_process();
        served(1);
        for (int r = 0; r < reps; ++r) {
            single.push_back(in_process());
            for (size_t k = 0; k < clients.size(); ++k) {
                per[k].push_back(served(clients[k]));
                single.push_back(in_process());
            }
        }
    } catch (...) {
        server.stop();
        engine.join();
        throw;
    }
    server.stop();
    engine.join();

    const auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double base = median(single);
    nlohmann::json out = {{"model", gen.model_name()},
                          {"backend", gen.backend_name()},
                          {"prefix_tokens", prefix_len},
                          {"tokens_per_client", gen_tokens},
                          {"single_stream_tokens_per_s", base}};
    out["served"] = nlohmann::json::array();
    if (!a.flag_set("json"))
        std::printf(
            "bench-serve: %s on %s; %d-token shared prefix, %d tokens per client\n"
            "single stream in process: %.1f tokens/s (median of %zu)\n\n"
            "%8s %14s %10s\n",
            gen.model_name().c_str(), gen.backend_name().c_str(), prefix_len, gen_tokens, base,
            single.size(), "clients", "tokens/s", "vs single");
    for (size_t k = 0; k < clients.size(); ++k) {
        const double m = median(per[k]);
        out["served"].push_back(
            {{"clients", clients[k]}, {"tokens_per_s", m}, {"vs_single_stream", m / base}});
        if (!a.flag_set("json")) std::printf("%8d %14.1f %9.2fx\n", clients[k], m, m / base);
    }
    if (a.flag_set("json")) print_json(out);
    return 0;
}

}  // namespace rs::cli
