// reasonscope logits: teacher-forces a reference's tokens through the engine
// and compares every row of logits with the reference's.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/session_args.h"
#include "reasonscope/error.h"
#include "reasonscope/model.h"
#include "reasonscope/session.h"

namespace rs::cli {
namespace {

double logsumexp(const float* x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; ++i) mx = std::max(mx, x[i]);
    double s = 0;
    for (int i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - mx);
    return mx + std::log(s);
}

int argmax(const float* x, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;  // ties keep the lowest id
    return best;
}

// Default tolerance from the model's weight types (reference README).
double default_tolerance(const Model& m) {
    bool quant = false, half = false;
    for (const auto& t : m.gguf().tensors()) {
        if (t.type == GgmlType::F16 || t.type == GgmlType::BF16)
            half = true;
        else if (t.type != GgmlType::F32)
            quant = true;
    }
    return quant ? 0.1 : half ? 2e-2 : 2e-3;
}

void write_dump(const std::string& path, const std::vector<float>& logits) {
    std::ofstream d(path, std::ios::binary);
    d.write(reinterpret_cast<const char*>(logits.data()),
            static_cast<std::streamsize>(logits.size() * 4));
    if (!d) throw Error(path + ": write failed");
}

// --prompt: the prompt in one pass (all rows' logits), then greedy tokens one
// at a time; prints the tokens and the backend, dumps the logits.
int logits_of_prompt(Args& a) {
    auto model = Model::load(a.get("model"));
    const int V = model->config().n_vocab;
    const int n_gen = a.get_int("generate", 0, 4096);
    std::vector<TokenId> tokens = model->tokenizer().encode(a.get("prompt"), true, false);
    if (tokens.empty()) throw Error("logits: --prompt gives no tokens");
    SessionOptions so;
    so.threads = a.get_int("threads", 0, 1024);
    apply_session_options(a, so);
    so.n_ctx = static_cast<int>(tokens.size()) + n_gen + 1;
    Session s(*model, so);
    const int seq = s.create();
    std::vector<float> got = s.eval(seq, tokens, true);
    for (int i = 0; i < n_gen; ++i) {
        const TokenId next = argmax(got.data() + got.size() - V, V);
        tokens.push_back(next);
        auto row = s.eval(seq, std::span(&tokens.back(), 1));
        got.insert(got.end(), row.begin(), row.end());
    }
    if (a.has("dump")) write_dump(a.get("dump"), got);
    if (a.flag_set("json")) {
        nlohmann::json j = {{"rows", got.size() / static_cast<size_t>(V)},
                            {"tokens", tokens},
                            {"backend", s.backend().name()},
                            {"backend_reason", s.backend_reason()}};
        std::puts(j.dump().c_str());
    } else {
        std::printf("rows=%zu backend=%s\n", got.size() / static_cast<size_t>(V),
                    s.backend().name().c_str());
    }
    return 0;
}

}  // namespace

int cmd_logits(const Argv& argv) {
    Args a("logits",
           "--model FILE (--reference REF.json [--tol X] | --prompt TEXT [--generate N]) "
           "[--dump FILE] [--threads T] [--json]");
    a.option("model", "GGUF model")
        .option("reference", "reference JSON (with REF.logits.f32 beside it)")
        .option("prompt",
                "without a reference: the logits of this text's tokens (one pass), then of N "
                "greedy tokens decoded one at a time; use with --dump")
        .option("generate", "greedy tokens after --prompt", "8")
        .option("tol",
                "max |logit difference| allowed (default by weight type: 2e-3 F32, 2e-2 F16, 0.1 "
                "quantized)")
        .option("threads", "compute threads", "0")
        .option("dump", "write the engine's logits (float32, rows x n_vocab) to this file")
        .flag("json", "print JSON");
    // F16 by default: llama.cpp's default cache, which its references use.
    add_session_options(a, "f16");
    if (!a.parse(argv)) return 0;
    if (!a.has("model") || a.has("reference") == a.has("prompt"))
        throw UsageError{"logits: --model and one of --reference or --prompt are required"};
    if (a.has("prompt")) return logits_of_prompt(a);
    std::string ref_path = a.get("reference");
    std::ifstream in(ref_path);
    if (!in) throw Error(ref_path + ": cannot open");
    nlohmann::json ref;
    try {
        ref = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
        throw Error(ref_path + ": not valid JSON: " + e.what());
    }
    std::vector<TokenId> tokens = ref.at("prompt_tokens").get<std::vector<TokenId>>();
    const size_t n_prompt = tokens.size();
    for (TokenId t : ref.at("generated_tokens").get<std::vector<TokenId>>()) tokens.push_back(t);

    auto model = Model::load(a.get("model"));
    const int V = model->config().n_vocab;
    std::string bin =
        ref_path.substr(0, ref_path.size() - (ref_path.ends_with(".json") ? 5 : 0)) + ".logits.f32";
    std::ifstream lf(bin, std::ios::binary);
    if (!lf) throw Error(bin + ": cannot open");
    lf.seekg(0, std::ios::end);
    size_t bytes = static_cast<size_t>(lf.tellg());
    lf.seekg(0);
    std::vector<float> want(bytes / 4);
    lf.read(reinterpret_cast<char*>(want.data()), static_cast<std::streamsize>(bytes));
    size_t n_rows = want.size() / static_cast<size_t>(V);
    if (n_rows * V != want.size() || n_rows > tokens.size())
        throw Error(bin + ": size does not match " + std::to_string(V) + " logits per row");

    SessionOptions so;
    so.threads = a.get_int("threads", 0, 1024);
    apply_session_options(a, so);
    so.n_ctx = static_cast<int>(tokens.size()) + 1;
    Session s(*model, so);
    int seq = s.create();
    std::vector<float> got = s.eval(seq, std::span(tokens.data(), n_prompt), true);
    for (size_t i = n_prompt; i < n_rows; ++i) {
        auto row = s.eval(seq, std::span(tokens.data() + i, 1));
        got.insert(got.end(), row.begin(), row.end());
    }

    got.resize(n_rows * V);
    if (a.has("dump")) write_dump(a.get("dump"), got);
    double tol = a.has("tol") ? a.get_double("tol", 0, 1e9) : default_tolerance(*model);
    int agree = 0;
    double max_diff = 0, lse_diff = 0;
    for (size_t r = 0; r < n_rows; ++r) {
        const float* g = got.data() + r * V;
        const float* w = want.data() + r * V;
        agree += argmax(g, V) == argmax(w, V);
        for (int i = 0; i < V; ++i)
            max_diff = std::max(max_diff, static_cast<double>(std::fabs(g[i] - w[i])));
        lse_diff = std::max(lse_diff, std::fabs(logsumexp(g, V) - logsumexp(w, V)));
    }
    bool ok =
        agree == static_cast<int>(n_rows) && max_diff <= tol && lse_diff <= std::max(tol, 0.1);
    if (a.flag_set("json")) {
        nlohmann::json j = {{"rows", n_rows},
                            {"top1_agree", agree},
                            {"max_abs_diff", max_diff},
                            {"logsumexp_max_diff", lse_diff},
                            {"tolerance", tol},
                            {"ok", ok},
                            {"backend", s.backend().name()},
                            {"backend_reason", s.backend_reason()}};
        std::puts(j.dump().c_str());
    } else {
        std::printf(
            "rows=%zu top1_agree=%d/%zu max_abs_diff=%.3g logsumexp_max_diff=%.3g (tol %.3g, %s)\n",
            n_rows, agree, n_rows, max_diff, lse_diff, tol, ok ? "ok" : "FAIL");
    }
    return ok ? 0 : 1;
}

}  // namespace rs::cli
