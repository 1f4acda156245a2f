// The CUDA backend's checks against the CPU backend, as plain functions (no
// Qt): tst_cuda_backend runs them under QtTest, and rs-cuda-check runs them
// on a lent GPU machine, whose image has no Qt (tools/device-check.sh). Each
// returns an empty string when the check holds, else what failed; `log`
// gets a line per comparison with its figures.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/search.h"
#include "reasonscope/session.h"
#include "reasonscope/strategy.h"

namespace rs::cuda_checks {

// The backend under test: "cuda"; RS_CHECK_BACKEND=cpu runs the checks'
// own code against the CPU itself where there is no GPU (a dry run of the
// harness: every comparison must then be exact).
inline std::string device_backend() {
    const char* b = std::getenv("RS_CHECK_BACKEND");
    return b && *b ? b : "cuda";
}

// Normalised mean squared error of a against the reference b (ggml's
// test-backend-ops measure).
inline double nmse(const float* a, const float* b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(a[i]) - b[i];
        num += d * d;
        den += static_cast<double>(b[i]) * b[i];
    }
    return den > 0 ? num / den : num;
}

inline size_t argmax(const float* x, size_t n) {
    return static_cast<size_t>(std::max_element(x, x + n) - x);
}

// The top logit's lead over the second.
inline float margin(const float* x, size_t n) {
    float a = -INFINITY, b = -INFINITY;
    for (size_t i = 0; i < n; ++i) {
        if (x[i] > a) {
            b = a;
            a = x[i];
        } else if (x[i] > b) {
            b = x[i];
        }
    }
    return a - b;
}

// Rows of V logits: each finite and within NMSE 5e-4 of the CPU's (ggml's
// bar for matrix products), the same top token where the CPU's lead is over
// 0.05. Returns the first failure; *worst gets the largest NMSE.
inline std::string compare_rows(const std::vector<float>& got, const std::vector<float>& want,
                                size_t V, const std::string& what, double* worst) {
    if (got.size() != want.size())
        return what + ": " + std::to_string(got.size()) + " logits, want " +
               std::to_string(want.size());
    for (size_t r = 0; r < want.size() / V; ++r) {
        const float* g = got.data() + r * V;
        const float* w = want.data() + r * V;
        for (size_t i = 0; i < V; ++i)
            if (!std::isfinite(g[i]))
                return what + ", row " + std::to_string(r) + ": logit " + std::to_string(i) +
                       " is " + std::to_string(g[i]);
        const double e = nmse(g, w, V);
        *worst = std::max(*worst, e);
        if (e >= 5e-4) return what + ", row " + std::to_string(r) + ": NMSE " + std::to_string(e);
        if (margin(w, V) > 0.05f && argmax(g, V) != argmax(w, V))
            return what + ", row " + std::to_string(r) + ": top token " +
                   std::to_string(argmax(g, V)) + ", the CPU's " + std::to_string(argmax(w, V));
    }
    return {};
}

// The prompt every comparison feeds: text in the model's own vocabulary,
// padded to n tokens.
inline std::vector<TokenId> prompt_tokens(const Model& m, int n) {
    std::vector<TokenId> t = m.tokenizer().encode(
        "Q: (8+4*6)*6\nA: 8+4*6 is 32, and 32*6 is 192. Answer: 192\nQ: 17*3-5\nA: ", true);
    if (t.empty()) t.push_back(0);
    const size_t n0 = t.size();
    while (static_cast<int>(t.size()) < n) t.push_back(t[t.size() % n0]);
    t.resize(static_cast<size_t>(n));
    for (TokenId& x : t) x = std::min(x, m.config().n_vocab - 1);
    return t;
}

// A 40-token prompt and a 300-token one (every row's logits), then two
// decode steps each of 1, 8 and 64 branches forked from the first, on both
// backends: each product path (matrix-vector, tensor cores, cuBLAS).
inline std::string forward_matches_cpu(const std::string& path, KvType kv, std::string& log) {
    auto model = Model::load(path);
    const size_t V = static_cast<size_t>(model->config().n_vocab);
    SessionOptions so;
    so.kv_type = kv;
    so.n_ctx = 512;
    so.kv_tokens = 8192;
    so.backend = "cpu";
    Session cpu(*model, so);
    so.backend = device_backend();
    Session gpu(*model, so);
    if (!gpu.backend().name().starts_with(device_backend() + " ("))
        return "the session runs on " + gpu.backend().name();
    const std::vector<TokenId> prompt = prompt_tokens(*model, 40);
    const int s0 = cpu.create(), g0 = gpu.create();
    double worst = 0;
    std::string err =
        compare_rows(gpu.eval(g0, prompt, true), cpu.eval(s0, prompt, true), V, "prompt", &worst);
    if (!err.empty()) return err;
    {  // a prompt of 300 rows: cuBLAS's path (40 rows took the tensor-core kernel)
        const int c1 = cpu.create(), g1 = gpu.create();
        const std::vector<TokenId> longer = prompt_tokens(*model, 300);
        err = compare_rows(gpu.eval(g1, longer, true), cpu.eval(c1, longer, true), V,
                           "300-token prompt", &worst);
        if (!err.empty()) return err;
        cpu.release(c1);
        gpu.release(g1);
    }
    for (int n : {1, 8, 64}) {
        std::vector<int> cs, gs;
        std::vector<TokenId> toks;
        for (int i = 0; i < n; ++i) {
            cs.push_back(cpu.fork(s0));
            gs.push_back(gpu.fork(g0));
            toks.push_back(prompt[static_cast<size_t>(i * 5 % 40)]);
        }
        for (int step = 0; step < 2; ++step) {
            const std::vector<float> want = cpu.decode(cs, toks);
            err =
                compare_rows(gpu.decode(gs, toks), want, V,
                             std::to_string(n) + " branches, step " + std::to_string(step), &worst);
            if (!err.empty()) return err;
            for (int i = 0; i < n; ++i)
                toks[static_cast<size_t>(i)] =
                    static_cast<TokenId>(argmax(want.data() + static_cast<size_t>(i) * V, V));
        }
        for (int i = 0; i < n; ++i) {
            cpu.release(cs[static_cast<size_t>(i)]);
            gpu.release(gs[static_cast<size_t>(i)]);
        }
    }
    log += path + " (" + kv_type_name(kv) + " KV): worst NMSE " + std::to_string(worst) + " on " +
           gpu.backend().name() + "\n";
    return {};
}

// With the deterministic setting, eight branches decoded in one pass equal
// each decoded alone, logits and hidden-state taps, to the bit.
inline std::string batched_equals_single(const std::string& path) {
    auto model = Model::load(path);
    const size_t V = static_cast<size_t>(model->config().n_vocab);
    SessionOptions so;
    so.backend = device_backend();
    so.deterministic = true;
    so.n_ctx = 256;
    so.kv_tokens = 4096;
    Session s(*model, so);
    if (!s.backend().caps().batch_invariant)
        return "the deterministic session is not batch invariant";
    // (40 tokens: the branches share two blocks, as plan_shared_prefixes groups them)
    const std::vector<TokenId> prompt = prompt_tokens(*model, 40);
    const int root = s.create();
    s.eval(root, prompt);
    std::vector<int> batch, alone;
    std::vector<TokenId> toks;
    for (int i = 0; i < 8; ++i) {
        batch.push_back(s.fork(root));
        alone.push_back(s.fork(root));
        toks.push_back(prompt[static_cast<size_t>(i + 3)]);
    }
    std::vector<float> hb, ha;
    const std::vector<float> together = s.decode(batch, toks, {0, -1}, hb);
    for (int i = 0; i < 8; ++i) {
        const int seq = alone[static_cast<size_t>(i)];
        const TokenId t = toks[static_cast<size_t>(i)];
        const std::vector<float> one = s.decode({&seq, 1}, {&t, 1}, {0, -1}, ha);
        if (std::memcmp(one.data(), together.data() + static_cast<size_t>(i) * V, V * 4) != 0)
            return "branch " + std::to_string(i) + "'s logits differ alone and in a batch";
        if (std::memcmp(ha.data(), hb.data() + static_cast<size_t>(i) * ha.size(), ha.size() * 4) !=
            0)
            return "branch " + std::to_string(i) + "'s taps differ alone and in a batch";
    }
    return {};
}

// A KV cache larger than the device: one error naming the sizes.
inline std::string memory_error_is_clear(const std::string& path) {
    auto model = Model::load(path);
    SessionOptions so;
    so.backend = device_backend();
    so.n_ctx = 256;
    so.kv_tokens = 1 << 30;
    try {
        Session s(*model, so);
    } catch (const Error& e) {
        const std::string m = e.what();
        if (m.find("KV cache") == std::string::npos || m.find("GiB") == std::string::npos ||
            m.find("free of") == std::string::npos)
            return "unclear error: " + m;
        return {};
    }
    return "a KV cache of a billion tokens was accepted";
}

// Self-consistency (16 samples, seed 42, deterministic) on an arithmetic
// problem: the same answers and votes on both backends.
inline std::string search_same_answers(const std::string& path, std::string& log) {
    auto model = Model::load(path);
    auto run = [&](const std::string& backend) {
        SessionOptions so;
        so.backend = backend;
        so.deterministic = true;
        so.kv_tokens = 1 << 16;
        LocalGenerator gen(*model, so);
        RunConfig cfg;
        cfg.sampling.seed = 42;
        cfg.max_depth = 12;
        SearchContext ctx(
            gen, Task("medium-001", "Q: (19-(11-8))*(16+24)\n", "640", "Answer:\\s*(-?\\d+)"), cfg);
        std::vector<Vote> votes = vote(ctx, ctx.complete(ctx.expand(ctx.root(), 16)));
        std::string out;
        for (const Vote& v : votes) out += v.answer + ":" + std::to_string(v.count) + " ";
        return out;
    };
    const std::string cpu = run("cpu"), gpu = run(device_backend());
    log += "self-consistency@16 votes: cpu " + cpu + "| " + device_backend() + " " + gpu + "\n";
    if (cpu != gpu) return "answers differ: cpu " + cpu + ", cuda " + gpu;
    if (cpu.empty()) return "no answers";
    return {};
}

// Sampling on the device (Pass::draw, kernels/cuda/draw.cu) against the
// host's sampler on the same logits (RS_DRAW_ON_BACKEND=0 brings them to
// the host): 64 branches of mixed requests (top-p, greedy, top-k with
// min-p; 5 alternatives each) for 6 steps, deterministic logits: the same
// tokens and alternatives, signals within 1e-5.
inline std::string device_draw_matches_host(const std::string& path, std::string& log) {
    auto model = Model::load(path);
    SamplingParams sp;
    sp.temperature = 1.0f;
    sp.top_p = 0.95f;
    sp.seed = 9;
    sp.n_alternatives = 5;
    SamplingParams greedy = sp, topk = sp;
    greedy.temperature = 0;
    topk.top_k = 20;
    topk.min_p = 0.01f;
    auto run = [&](bool on_device) {
        setenv("RS_DRAW_ON_BACKEND", on_device ? "1" : "0", 1);
        SessionOptions so;
        so.backend = device_backend();
        so.deterministic = true;
        so.kv_tokens = 1 << 15;
        LocalGenerator gen(*model, so);
        unsetenv("RS_DRAW_ON_BACKEND");
        const int root = gen.start(prompt_tokens(*model, 24));
        std::vector<int> seqs;
        for (int i = 0; i < 64; ++i) seqs.push_back(gen.fork(root));
        std::vector<TokenSignals> out;
        for (int step = 0; step < 6; ++step) {
            std::vector<ExtendRequest> reqs;
            for (size_t i = 0; i < seqs.size(); ++i) {
                reqs.push_back({seqs[i], 1000 + i});
                if (i % 4 == 1) reqs.back().params = &greedy;
                if (i % 4 == 2) reqs.back().params = &topk;
            }
            for (Extension& e : gen.extend(reqs, sp)) out.push_back(std::move(e.token));
        }
        return out;
    };
    const std::vector<TokenSignals> host = run(false), dev = run(true);
    if (host.size() != dev.size()) return "different numbers of tokens";
    float worst = 0;
    size_t alts = 0;
    for (size_t k = 0; k < host.size(); ++k) {
        const TokenSignals &a = host[k], &b = dev[k];
        const std::string at = "token " + std::to_string(k);
        if (a.token != b.token)
            return at + ": " + std::to_string(b.token) + " on the device, " +
                   std::to_string(a.token) + " on the host";
        for (float d : {a.logprob - b.logprob, a.entropy - b.entropy})
            worst = std::max(worst, std::abs(d));
        if (a.top.size() != b.top.size()) return at + ": a different number of alternatives";
        for (size_t j = 0; j < a.top.size(); ++j)
            if (a.top[j].first != b.top[j].first)
                return at + ": alternative " + std::to_string(j) + " differs";
        alts += a.top.size();
    }
    log += "device draw: " + std::to_string(host.size()) + " tokens and " + std::to_string(alts) +
           " alternatives as the host's; largest logprob/entropy difference " +
           std::to_string(worst) + "\n";
    if (worst > 1e-5f) return "signals differ by " + std::to_string(worst);
    return {};
}

}  // namespace rs::cuda_checks
