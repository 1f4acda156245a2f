// rs-cuda-check: the CUDA backend's checks and benchmarks without Qt, for a
// lent GPU machine whose image has CUDA but not the app's libraries
// (tools/device-check.sh carries this binary, librs_engine and the module).
//
//   rs-cuda-check devices [--json]          the backends and CUDA devices
//   rs-cuda-check checks MODEL...           tests/backends/cuda_checks.h on each
//                                           model (the first: also batching,
//                                           memory error, a search)
//   rs-cuda-check check NAME MODEL         one of them: forward, forward-f16,
//                                           batched, memory, search, draw
//   rs-cuda-check bench ARGS...             reasonscope bench (--backend cuda ...)
//   rs-cuda-check synth SHAPE TYPE OUT      reasonscope models synth
//   rs-cuda-check sc MODEL N TOKENS [BACKEND]
//                                           wall time of self-consistency@N:
//                                           N samples of TOKENS tokens each
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "../../tests/backends/cuda_checks.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/synth.h"
#include "reasonscope/error.h"

namespace {

// One named check of cuda_checks.h on a model: PASS/FAIL and its figures.
int check(const std::string& name, const std::string& model) {
    std::string log, err;
    try {
        namespace K = rs::cuda_checks;
        if (name == "forward")
            err = K::forward_matches_cpu(model, rs::KvType::F32, log);
        else if (name == "forward-f16")
            err = K::forward_matches_cpu(model, rs::KvType::F16, log);
        else if (name == "batched")
            err = K::batched_equals_single(model);
        else if (name == "memory")
            err = K::memory_error_is_clear(model);
        else if (name == "search")
            err = K::search_same_answers(model, log);
        else if (name == "draw")
            err = K::device_draw_matches_host(model, log);
        else
            throw rs::cli::UsageError{"unknown check '" + name + "'"};
    } catch (const std::exception& e) {
        err = std::string("error: ") + e.what();
    }
    std::printf("%s %s %s%s%s\n%s", err.empty() ? "PASS" : "FAIL", name.c_str(), model.c_str(),
                err.empty() ? "" : ": ", err.c_str(), log.c_str());
    std::fflush(stdout);
    return err.empty() ? 0 : 1;
}

// Every check in this process: forward on each model (the first also with
// an F16 cache), then batching, the memory error and a search on the first.
int checks(const std::vector<std::string>& models) {
    int failed = 0;
    for (size_t i = 0; i < models.size(); ++i) {
        failed += check("forward", models[i]);
        if (i == 0) failed += check("forward-f16", models[i]);
    }
    if (!models.empty()) {
        failed += check("batched", models[0]);
        if (rs::cuda_checks::device_backend() == "cuda")  // (the host's KV is not bounded so)
            failed += check("memory", models[0]);
        failed += check("search", models[0]);
        failed += check("draw", models[0]);
    }
    std::printf("%d failed\n", failed);
    return failed ? 1 : 0;
}

// Self-consistency's sampling on its own: N children of the root, each one
// step of exactly TOKENS tokens (no delimiter matches), through the search
// runtime as a strategy runs it (batched decode, sampling, signals, tree).
int sc(const std::string& path, int n, int tokens, const std::string& backend) {
    auto model = rs::Model::load(path);
    rs::SessionOptions so;
    so.backend = backend;
    so.kv_tokens = (n + 1) * (tokens + 64) + 1024;
    so.n_ctx = tokens + 256;
    rs::LocalGenerator gen(*model, so);
    rs::RunConfig cfg;
    cfg.step_delimiters = {"\x01\x02\x03"};
    cfg.max_step_tokens = tokens;
    cfg.max_depth = 1;
    const auto t0 = std::chrono::steady_clock::now();
    rs::SearchContext ctx(gen, rs::Task("sc", "Q: 17*3-5\nA:"), cfg);
    const std::vector<int> kids = ctx.expand(ctx.root(), n);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int64_t made = 0;
    for (int k : kids) made += static_cast<int64_t>(ctx.node(k).tokens.size());
    std::printf(
        "self-consistency@%d, %d tokens a sample, %s on %s: %.2f s (%lld tokens, %.0f tok/s)\n", n,
        tokens, path.c_str(), gen.backend_name().c_str(), s, static_cast<long long>(made),
        static_cast<double>(made) / s);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + std::min(argc, 2), argv + argc);
    const std::string cmd = argc >= 2 ? argv[1] : "";
    try {
        if (cmd == "devices") return rs::cli::cmd_devices(args);
        if (cmd == "bench") return rs::cli::cmd_bench(args);
        if (cmd == "checks") return checks(args);
        if (cmd == "check" && args.size() == 2) return check(args[0], args[1]);
        if (cmd == "sc" && args.size() >= 3)
            return sc(args[0], std::stoi(args[1]), std::stoi(args[2]),
                      args.size() > 3 ? args[3] : "cuda");
        if (cmd == "synth" && args.size() == 3) {
            rs::cli::synth_model(args[0], args[1], args[2], 1);
            return 0;
        }
    } catch (const rs::cli::UsageError& e) {
        std::fprintf(stderr, "rs-cuda-check %s\n", e.message.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rs-cuda-check %s: error: %s\n", cmd.c_str(), e.what());
        return 2;
    }
    std::fputs(
        "usage: rs-cuda-check devices|checks MODEL...|check NAME MODEL|bench ARGS...|synth SHAPE "
        "TYPE OUT|sc MODEL "
        "N "
        "TOKENS [BACKEND]\n",
        stderr);
    return 2;
}
