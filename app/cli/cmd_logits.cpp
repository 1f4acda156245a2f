// reasonscope logits: teacher-forces a reference's tokens through the engine
// and compares every row of logits with the reference's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/session_args.h"
#include "reasonscope/error.h"
#include "reasonscope/json_limits.h"
#include "reasonscope/model.h"
#include "reasonscope/regular_file.h"
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

// The bar a reference is held to (shared/reference/README.md), chosen by the
// type that holds most of the model's weights (a Q4_0 file's Q6_K output
// layer does not make it a K-quant file).
struct Bar {
    double max_diff;     // max |logit difference|, every row
    double lse;          // max logsumexp difference, every row
    double top1_margin;  // top-1 must agree where the reference's top1 - top2 exceeds this
    const char* name;
};

GgmlType dominant_type(const Model& m) {
    std::map<GgmlType, int64_t> elems;
    for (const auto& t : m.gguf().tensors()) elems[t.type] += t.n_elements();
    GgmlType best = GgmlType::F32;
    int64_t most = -1;
    for (const auto& [type, n] : elems)
        if (type != GgmlType::F32 && n > most) {
            best = type;
            most = n;
        }
    return best;
}

Bar default_bar(const Model& m) {
    switch (dominant_type(m)) {
        case GgmlType::F32:
            return {2e-3, 0.1, -1, "F32"};
        case GgmlType::F16:
        case GgmlType::BF16:
            return {2e-2, 0.1, -1, "F16"};
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q8_0:
            return {0.1, 0.1, -1, "Q8_0/Q4_0"};
        default:
            // K-quant, IQ and MXFP4 files: llama.cpp's own spread between
            // its two CPU paths (README): top-1 only where it is no near-tie.
            return {0.25, 0.02, 0.25, "K-quant/IQ/MXFP4"};
    }
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
    so.threads = a.get_threads();
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
                "max |logit difference| allowed (default by the type of most weights: 2e-3 F32, "
                "2e-2 F16, 0.1 Q8_0/Q4_0, 0.25 K-quant/IQ/MXFP4, whose bar also asks logsumexp "
                "within 0.02 and top-1 only where the reference margin is over 0.25)")
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
    const nlohmann::json ref = parse_json_bounded(
        read_regular_file(ref_path, uint64_t{1} << 30, "reference logits"), ref_path);
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
    so.threads = a.get_threads();
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
    Bar bar = default_bar(*model);
    if (a.has("tol")) {
        bar.max_diff = a.get_double("tol", 0, 1e9);
        if (bar.top1_margin < 0) bar.lse = std::max(bar.max_diff, 0.1);
    }
    // MoE references flag rows whose expert choice is a near-tie
    // (route_gap_rel < 0.02): two correct implementations may route them
    // differently, so they may exceed the bar; they are reported.
    const auto& ref_rows = ref.contains("rows") ? ref.at("rows") : nlohmann::json::array();
    auto near_tie = [&](size_t r) {
        if (r >= ref_rows.size() || !ref_rows[r].contains("route_gap_rel")) return false;
        return ref_rows[r].at("route_gap_rel").get<double>() < 0.02;
    };
    int agree = 0, checked_top1 = 0, top1_fail = 0;
    double max_diff = 0, lse_diff = 0;
    std::vector<size_t> ties, ties_over, failing;
    for (size_t r = 0; r < n_rows; ++r) {
        const float* g = got.data() + r * V;
        const float* w = want.data() + r * V;
        const int gw = argmax(w, V);
        float second = -INFINITY;
        for (int i = 0; i < V; ++i)
            if (i != gw) second = std::max(second, w[i]);
        const bool same = argmax(g, V) == gw;
        agree += same;
        double d = 0;
        for (int i = 0; i < V; ++i) d = std::max(d, static_cast<double>(std::fabs(g[i] - w[i])));
        const double l = std::fabs(logsumexp(g, V) - logsumexp(w, V));
        const bool top1_needed = bar.top1_margin < 0 || w[gw] - second > bar.top1_margin;
        const bool row_ok = (same || !top1_needed) && d <= bar.max_diff && l <= bar.lse;
        if (near_tie(r)) {
            ties.push_back(r);
            if (!row_ok) ties_over.push_back(r);
            continue;
        }
        if (top1_needed) {
            ++checked_top1;
            top1_fail += !same;
        }
        if (!row_ok) failing.push_back(r);
        max_diff = std::max(max_diff, d);
        lse_diff = std::max(lse_diff, l);
    }
    const bool ok = failing.empty();
    if (a.flag_set("json")) {
        nlohmann::json j = {{"rows", n_rows},
                            {"top1_agree", agree},
                            {"top1_checked", checked_top1},
                            {"top1_failed", top1_fail},
                            {"max_abs_diff", max_diff},
                            {"logsumexp_max_diff", lse_diff},
                            {"tolerance", bar.max_diff},
                            {"logsumexp_tolerance", bar.lse},
                            {"top1_margin", bar.top1_margin},
                            {"bar", bar.name},
                            {"failing_rows", failing},
                            {"route_near_tie_rows", ties},
                            {"route_near_tie_rows_over_bar", ties_over},
                            {"ok", ok},
                            {"backend", s.backend().name()},
                            {"backend_reason", s.backend_reason()}};
        std::puts(j.dump().c_str());
    } else {
        std::string top1 = std::to_string(agree) + "/" + std::to_string(n_rows);
        if (bar.top1_margin >= 0)
            top1 += " (" + std::to_string(checked_top1 - top1_fail) + "/" +
                    std::to_string(checked_top1) + " with margin > " +
                    std::to_string(bar.top1_margin).substr(0, 4) + ")";
        std::printf(
            "rows=%zu top1_agree=%s max_abs_diff=%.3g logsumexp_max_diff=%.3g (%s bar: tol %.3g, "
            "logsumexp %.3g; %s)\n",
            n_rows, top1.c_str(), max_diff, lse_diff, bar.name, bar.max_diff, bar.lse,
            ok ? "ok" : "FAIL");
        if (!failing.empty()) {
            std::string rows;
            for (size_t r : failing) rows += (rows.empty() ? "" : " ") + std::to_string(r);
            std::printf("rows over the bar: %s\n", rows.c_str());
        }
        if (!ties.empty()) {
            std::string rows;
            for (size_t r : ties)
                rows +=
                    (rows.empty() ? "" : " ") + std::to_string(r) +
                    (std::find(ties_over.begin(), ties_over.end(), r) != ties_over.end() ? "(over)"
                                                                                         : "");
            std::printf("route near-ties (route_gap_rel < 0.02, not held to the bar): %s\n",
                        rows.c_str());
        }
    }
    return ok ? 0 : 1;
}

}  // namespace rs::cli
