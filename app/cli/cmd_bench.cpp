// reasonscope bench: prompt processing and generation speed, bytes read per
// generated token, this machine's read bandwidth (measured here), and
// generation as a share of that memory roofline. With --branches B: one
// decode step for B branches sharing a 512-token prefix against B = 1.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/session_args.h"
#include "core/resources.h"
#include "reasonscope/error.h"
#include "reasonscope/model.h"
#include "reasonscope/session.h"
#include "reasonscope/thread_pool.h"

namespace rs::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Streams [b, e) of buf with 256-bit loads (four independent sums) where the
// CPU has AVX2; only these two functions are compiled for it, the rest of
// the program for any x86-64.
__attribute__((target("avx2"))) void fill_avx2(long long* buf, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
        _mm256_store_si256(reinterpret_cast<__m256i*>(buf) + i, _mm256_set1_epi64x(i));
}
__attribute__((target("avx2"))) long long sum_avx2(const long long* buf, int64_t b, int64_t e) {
    const auto* v = reinterpret_cast<const __m256i*>(buf);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = b;
    for (; i + 4 <= e; i += 4) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256(v + i));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256(v + i + 1));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256(v + i + 2));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256(v + i + 3));
    }
    const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    return _mm256_extract_epi64(s, 0);
}
// The same with 64-bit loads, for CPUs without AVX2.
void fill_plain(long long* buf, int64_t b, int64_t e) {
    for (int64_t i = 4 * b; i < 4 * e; ++i) buf[i] = i;
}
long long sum_plain(const long long* buf, int64_t b, int64_t e) {
    long long a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int64_t i = 4 * b; i < 4 * e; i += 4) {
        a0 += buf[i];
        a1 += buf[i + 1];
        a2 += buf[i + 2];
        a3 += buf[i + 3];
    }
    return a0 + a1 + a2 + a3;
}

// Read bandwidth with the engine's own thread pool: every thread streams its
// slice of a buffer much larger than the caches.
double read_bandwidth(int threads) {
    const size_t bytes = size_t{1} << 30;
    const bool avx2 = __builtin_cpu_supports("avx2");
    auto* fill = avx2 ? fill_avx2 : fill_plain;
    auto* sum = avx2 ? sum_avx2 : sum_plain;
    // 32-byte aligned storage, in units of 32 bytes (four long longs).
    std::vector<long long> store(bytes / sizeof(long long) + 4);
    auto* buf = reinterpret_cast<long long*>((reinterpret_cast<uintptr_t>(store.data()) + 31) &
                                             ~uintptr_t{31});
    const size_t n_vec = bytes / 32;
    ThreadPool pool(threads);
    pool.run(static_cast<int64_t>(n_vec), [&](int64_t b, int64_t e, int) { fill(buf, b, e); });
    std::vector<double> rates;
    std::vector<long long> sinks(static_cast<size_t>(pool.size()));
    for (int rep = 0; rep < 7; ++rep) {
        auto t0 = Clock::now();
        pool.run(static_cast<int64_t>(n_vec), [&](int64_t b, int64_t e, int t) {
            sinks[static_cast<size_t>(t)] += sum(buf, b, e);
        });
        rates.push_back(static_cast<double>(bytes) / seconds_since(t0));
    }
    return median(rates);  // this machine's bandwidth varies between reads; the median is steadier
                           // than the best
}

}  // namespace

int cmd_bench(const Argv& argv) {
    Args a("bench",
           "[--model FILE] [--threads T] [--reps R] [--pp N] [--tg N] [--branches B] [--json]");
    a.option("model", "GGUF model (default: the bundled model)")
        .option("threads", "compute threads (0 = all cores)", "0")
        .option("reps", "repetitions (the median is reported)", "3")
        .option("pp", "prompt tokens", "128")
        .option("tg", "generated tokens", "64")
        .option("branches", "also time one decode step of B branches sharing a 512-token prefix",
                "0")
        .option("prefix", "shared prefix length for --branches", "512")
        .flag("json", "print JSON");
    add_session_options(a, "f32");
    if (!a.parse(argv)) return 0;
    auto model = Model::load(app::model_path_or_default(a.get("model")));
    const int threads = a.get_threads(), reps = a.get_int("reps", 1, 100);
    const int pp = a.get_int("pp", 1, 1 << 16), tg = a.get_int("tg", 1, 1 << 16);
    const int branches = a.get_int("branches", 0, 256), prefix = a.get_int("prefix", 1, 1 << 16);
    const ModelConfig& c = model->config();

    SessionOptions so;
    so.threads = threads;
    apply_session_options(a, so);
    so.n_ctx = std::max({pp + tg + 1, prefix + 64});
    so.kv_tokens = std::max(so.n_ctx * 2, prefix + (branches + 1) * 80);
    so.max_batch = std::max(pp, 256);
    Session s(*model, so);
    std::vector<TokenId> prompt(static_cast<size_t>(pp));
    for (int i = 0; i < pp; ++i) prompt[static_cast<size_t>(i)] = (i * 7919 + 13) % c.n_vocab;

    std::vector<double> pp_rate, tg_rate;
    uint64_t tg_read = 0;  // weight bytes the backend read while generating (last round)
    for (int r = 0; r < reps + 1; ++r) {  // the first round warms caches and pages
        int seq = s.create();
        auto t0 = Clock::now();
        auto logits = s.eval(seq, prompt);
        double t_pp = seconds_since(t0);
        t0 = Clock::now();
        const uint64_t read0 = s.backend().weight_bytes_read();
        for (int i = 0; i < tg; ++i) {
            TokenId next = static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) -
                                                logits.begin());
            logits = s.eval(seq, std::span(&next, 1));
        }
        double t_tg = seconds_since(t0);
        tg_read = s.backend().weight_bytes_read() - read0;
        s.release(seq);
        if (r == 0) continue;
        pp_rate.push_back(pp / t_pp);
        tg_rate.push_back(tg / t_tg);
    }
    // Bytes read per generated token: every matrix once (embedding: one row);
    // of a mixture of experts only the routed experts' matrices, as the
    // backend counted them (when it counts).
    uint64_t per_token = 0;
    for (const auto& t : model->gguf().tensors())
        if (t.name != "token_embd.weight" || c.tied_output) per_token += t.n_bytes;
    const uint64_t read_per_token = tg_read / static_cast<uint64_t>(tg);
    const bool routed = c.n_experts > 0 && read_per_token > 0;
    if (routed) per_token = read_per_token;
    const double device_bw = s.backend().measure_bandwidth();
    const double bw = device_bw > 0 ? device_bw : read_bandwidth(s.backend().threads());
    const double roofline = bw / static_cast<double>(per_token);

    nlohmann::json j = {{"model", model->path()},
                        {"backend", s.backend().name()},
                        {"threads", s.backend().threads()},
                        {"pp_tokens", pp},
                        {"tg_tokens", tg},
                        {"reps", reps},
                        {"pp_tok_s", median(pp_rate)},
                        {"tg_tok_s", median(tg_rate)},
                        {"bytes_per_token", per_token},
                        {"weight_bytes_read_per_token", read_per_token},
                        {"read_bandwidth_gb_s", bw / 1e9},
                        {"bandwidth_of", device_bw > 0 ? "device" : "host"},
                        {"tg_roofline_tok_s", roofline},
                        {"tg_roofline_pct", 100.0 * median(tg_rate) / roofline}};
    const BackendMemory mem = s.backend().memory();
    const KvStats kvs = s.kv().stats();
    j["memory"] = {{"weights_bytes", mem.weights},
                   {"scratch_bytes", mem.scratch},
                   {"kv_bytes_reserved", kvs.bytes_total()},
                   {"on_device", mem.device}};

    if (branches > 0) {
        // One shared prefix, forked into B branches; a decode step feeds one token to each.
        int root = s.create();
        std::vector<TokenId> pre(static_cast<size_t>(prefix));
        for (int i = 0; i < prefix; ++i) pre[static_cast<size_t>(i)] = (i * 104729 + 7) % c.n_vocab;
        s.eval(root, pre);
        // B=1 and B=B steps alternate, so a change in the machine's pace
        // (these are shared machines) moves both medians alike.
        std::vector<int> one{s.fork(root)}, many;
        for (int i = 0; i < branches; ++i) many.push_back(s.fork(root));
        std::vector<double> t1s, tbs;
        KvStats stb;
        for (int step = 0; step < 42; ++step) {
            for (int which = 0; which < 2; ++which) {
                const std::vector<int>& seqs = which == 0 ? one : many;
                std::vector<TokenId> toks;
                for (size_t i = 0; i < seqs.size(); ++i)
                    toks.push_back(static_cast<TokenId>((step * 31 + static_cast<int>(i) * 17 + 5) %
                                                        c.n_vocab));
                auto t0 = Clock::now();
                s.decode(seqs, toks);
                if (step > 1) (which == 0 ? t1s : tbs).push_back(seconds_since(t0));
            }
        }
        s.release(one[0]);
        stb = s.kv().stats();
        for (int q : many) s.release(q);
        const double t1 = median(t1s), tb = median(tbs);
        KvStats base = s.kv().stats();
        j["branches"] = {{"b", branches},
                         {"prefix", prefix},
                         {"step_ms_b1", t1 * 1e3},
                         {"step_ms_b", tb * 1e3},
                         {"ratio", tb / t1},
                         {"kv_bytes_prefix", base.bytes_used()},
                         {"kv_bytes_with_branches", stb.bytes_used()},
                         {"kv_bytes_if_copied", base.bytes_used() * (branches + 1)}};
        s.release(root);
    }

    if (a.flag_set("json")) {
        std::puts(j.dump(2).c_str());
        return 0;
    }
    std::printf("model      %s\nbackend    %s, %d threads\n", model->path().c_str(),
                s.backend().name().c_str(), s.backend().threads());
    std::printf("memory     weights %.1f MB, scratch %.1f MB, KV %.1f MB reserved (%s)\n",
                static_cast<double>(mem.weights) / 1e6, static_cast<double>(mem.scratch) / 1e6,
                static_cast<double>(kvs.bytes_total()) / 1e6,
                mem.device ? "device memory" : "host memory");
    std::printf("pp%-4d     %8.1f tok/s\n", pp, median(pp_rate));
    std::printf("tg%-4d     %8.1f tok/s\n", tg, median(tg_rate));
    if (routed)
        std::printf("experts    %d of %d a token: bytes/tok below is what the backend read\n",
                    c.n_experts_used, c.n_experts);
    std::printf(
        "bytes/tok  %8.1f MB\nbandwidth  %8.1f GB/s (%s, measured)\nroofline   %8.1f tok/s  -> "
        "tg at %.0f%%\n",
        per_token / 1e6, bw / 1e9,
        device_bw > 0 ? "device memory, copies read and written" : "read", roofline,
        100.0 * median(tg_rate) / roofline);
    if (branches > 0)
        std::printf(
            "branches   B=%d step %.2f ms vs B=1 %.2f ms: ratio %.2f; KV %.1f MB shared prefix, "
            "%.1f MB with branches (%.1f MB if copied)\n",
            branches, j["branches"]["step_ms_b"].get<double>(),
            j["branches"]["step_ms_b1"].get<double>(), j["branches"]["ratio"].get<double>(),
            j["branches"]["kv_bytes_prefix"].get<double>() / 1e6,
            j["branches"]["kv_bytes_with_branches"].get<double>() / 1e6,
            j["branches"]["kv_bytes_if_copied"].get<double>() / 1e6);
    return 0;
}

}  // namespace rs::cli
