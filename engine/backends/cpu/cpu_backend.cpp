// CPU forward pass for llama-family models. Activations are row-major
// [rows][features] in f32; matrix products go through the kernel table
// (quantized weights meet activations quantized per row to Q8_0 / Q8_K).
// Each row's result depends only on that row's inputs (per-row
// accumulators, fixed block order), so a branch's logits are the same
// whether it is decoded alone or in a batch, on any thread count. One
// exception follows llama.cpp: a prompt (several rows of one sequence) meets
// F32/F16 weights in its prompt-batch order (tinyBLAS), so prompt logits equal
// llama.cpp's; batches of branches never take it, and the deterministic
// session option turns it off.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/fp16.h"
#include "cpu/kernels.h"
#include "reasonscope/backend.h"
#include "reasonscope/error.h"
#include "reasonscope/model.h"
#include "reasonscope/thread_pool.h"

namespace rs {
namespace {

namespace K = kernels;

// RS_PROFILE=1: time per kind of operation, printed when the backend is
// destroyed, per pass size (rows per pass, 17+ together): a breakdown for
// benchmarks, where prefill and decode steps of different batch sizes mix
// (off, it costs one branch per op).
class OpProfile {
  public:
    enum Op { kMatmul, kAttention, kTotal, kCount };
    OpProfile() : on_(std::getenv("RS_PROFILE") && std::string(std::getenv("RS_PROFILE")) == "1") {}
    ~OpProfile() {
        if (!on_) return;
        for (int b = 0; b < kBuckets; ++b) {
            const Bucket& k = buckets_[b];
            if (k.passes == 0) continue;
            const double total = k.t[kTotal];
            std::fprintf(stderr,
                         "cpu profile, %s%d rows a pass: %lld passes, %.1f ms (%.2f ms a pass)\n",
                         b == kBuckets - 1 ? ">= " : "", b + 1, static_cast<long long>(k.passes),
                         total * 1e3, total * 1e3 / static_cast<double>(k.passes));
            const double part[] = {k.t[kMatmul], k.t[kAttention],
                                   total - k.t[kMatmul] - k.t[kAttention]};
            const char* names[] = {"matmul", "attention", "other"};
            for (int i = 0; i < 3; ++i)
                std::fprintf(stderr, "  %-10s %9.1f ms  %5.1f%%\n", names[i], part[i] * 1e3,
                             total > 0 ? 100 * part[i] / total : 0.0);
        }
    }
    // Adds the scope's duration to op (when profiling), in the current pass's bucket.
    class Scope {
      public:
        Scope(OpProfile& p, Op op) : p_(p), op_(op) {
            if (p_.on_) t0_ = std::chrono::steady_clock::now();
        }
        ~Scope() {
            if (p_.on_)
                p_.buckets_[p_.cur_].t[op_] +=
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        }

      private:
        OpProfile& p_;
        Op op_;
        std::chrono::steady_clock::time_point t0_;
    };
    bool on() const { return on_; }
    void pass(int rows) {
        cur_ = std::min(rows, kBuckets) - 1;
        ++buckets_[cur_].passes;
    }

  private:
    static constexpr int kBuckets = 17;
    struct Bucket {
        double t[kCount] = {};
        int64_t passes = 0;
    };
    bool on_;
    Bucket buckets_[kBuckets];
    int cur_ = 0;
};

class CpuBackend final : public Backend {
  public:
    CpuBackend(const Model& m, int n_threads, bool invariant)
        : m_(m), cfg_(m.config()), pool_(n_threads), k_(K::kernels()), invariant_(invariant) {}
    std::string name() const override { return std::string("cpu (") + K::isa_name(k_.isa) + ")"; }
    int threads() const override { return pool_.size(); }
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
        pool_.run(n, [&](int64_t b, int64_t e, int) { fn(b, e); });
    }
    void forward(std::span<const BatchRow> rows, KvCache& kv, float* logits,
                 const TapRequest* taps) override;

  private:
    void matmul(const Weight& w, const float* in, int n_rows, float* out);
    void rmsnorm(const float* x, const Weight& w, float* out, int n_rows, int n);
    void rmsnorm_rows(const float* x, const float* wt, float* out, int64_t r0, int64_t r1, int n);
    void rope_tables(const BatchRow* rows, int n_rows);
    void rope(float* x, int n_heads, int n_rows);
    void plan_shared_prefixes(std::span<const BatchRow> rows, const KvCache& kv);
    void attention(int layer, std::span<const BatchRow> rows, KvCache& kv);
    void ensure(int n_rows, int max_pos);
    void copy_taps(const TapRequest& taps, int layer, std::span<const BatchRow> rows);

    const Model& m_;
    const ModelConfig& cfg_;
    ThreadPool pool_;
    const K::KernelTable& k_;
    OpProfile prof_;
    const bool invariant_;  // never the prompt-batch order
    int cap_rows_ = 0, cap_pos_ = 0;
    bool prompt_batch_ = false;  // this pass: two or more rows, all of one sequence
    // Scratch, shapes noted per buffer ([rows][features]).
    std::vector<float> x_;        // (rows, dim) residual stream
    std::vector<float> h_;        // (rows, dim) normed input
    std::vector<float> q_;        // (rows, n_heads * head_dim)
    std::vector<float> kk_;       // (rows, kv_dim)
    std::vector<float> vv_;       // (rows, kv_dim)
    std::vector<float> att_;      // (rows, n_heads * head_dim)
    std::vector<float> g_;        // (rows, ffn)
    std::vector<float> u_;        // (rows, ffn)
    std::vector<uint8_t> act_;    // quantized activations
    std::vector<float> tmp_;      // (threads, rows) dot results
    std::vector<float> deq_;      // (threads, max cols) dequantized weight rows
    std::vector<float> rope_cs_;  // (rows, rope_dim) cos, sin of each row's position
    // Attention: one online-softmax state per (row, query head), value sums in att_.
    std::vector<K::AttnHead> heads_;
    struct Cluster {
        std::vector<int> rows;  // rows of the pass ...
        int shared;             // ... that see positions [0, shared) in the same blocks
    };
    std::vector<Cluster> clusters_;
    std::vector<int> row_start_;  // per row: its first position not covered by its cluster
};

void CpuBackend::ensure(int n_rows, int max_pos) {
    if (n_rows <= cap_rows_ && max_pos <= cap_pos_) return;
    cap_rows_ = std::max(cap_rows_, n_rows);
    cap_pos_ = std::max(cap_pos_, max_pos);
    auto R = static_cast<size_t>(cap_rows_);
    x_.resize(R * cfg_.dim);
    h_.resize(R * cfg_.dim);
    q_.resize(R * cfg_.q_dim());
    kk_.resize(R * cfg_.kv_dim());
    vv_.resize(R * cfg_.kv_dim());
    att_.resize(R * cfg_.q_dim());
    g_.resize(R * cfg_.ffn_dim);
    u_.resize(R * cfg_.ffn_dim);
    size_t widest = static_cast<size_t>(std::max({cfg_.dim, cfg_.q_dim(), cfg_.ffn_dim}));
    act_.resize(R * widest * 4 + 1024);
    tmp_.resize(static_cast<size_t>(pool_.size()) * R);
    deq_.resize(static_cast<size_t>(pool_.size()) * widest);
}

void CpuBackend::matmul(const Weight& w, const float* in, int n_rows, float* out) {
    OpProfile::Scope scope(prof_, OpProfile::kMatmul);
    const int cols = static_cast<int>(w.cols);
    const int64_t rows = w.rows;
    K::DotFn dot = K::dot_for(k_, w.type);
    K::ActFormat fmt = K::ActFormat::F32;
    const void* act = in;
    size_t stride = static_cast<size_t>(cols) * 4;
    if (prompt_batch_ && n_rows >= 2 && cols % 16 == 0 &&
        (w.type == K::W_F32 || w.type == K::W_F16))
        dot = w.type == K::W_F32 ? k_.dot_f32_tiled : k_.dot_f16_tiled;
    if (w.type == K::W_F16 || w.type == K::W_BF16) {
        // The F16/BF16 dot products take activations rounded to the weight's
        // type (as llama.cpp does), so the products are exact in f32.
        auto* rounded = reinterpret_cast<float*>(act_.data());
        const size_t total = static_cast<size_t>(n_rows) * cols;
        for (size_t i = 0; i < total; ++i)
            rounded[i] = w.type == K::W_F16 ? K::fp16_lookup(K::fp32_to_fp16(in[i]))
                                            : K::bf16_to_fp32(K::fp32_to_bf16(in[i]));
        act = rounded;
    } else if (dot) {
        K::act_format_for(w.type, fmt);
        if (fmt != K::ActFormat::F32) {
            stride = K::act_row_bytes(fmt, cols);
            // Rows split over the threads when there are several (a batch of
            // branches); one row stays on the caller.
            pool_.run(n_rows, [&](int64_t b, int64_t e, int) {
                for (int64_t r = b; r < e; ++r) {
                    const float* src = in + static_cast<size_t>(r) * cols;
                    uint8_t* dst = act_.data() + static_cast<size_t>(r) * stride;
                    if (fmt == K::ActFormat::Q8_0)
                        k_.quantize_q8_0(src, dst, cols);
                    else
                        k_.quantize_q8_k(src, dst, cols);
                }
            });
            act = act_.data();
        }
    }
    if (w.packed) {
        // Repacked Q4_0: whole 16-row tiles per thread.
        const int64_t tiles = (rows + K::kQ4Tile - 1) / K::kQ4Tile;
        pool_.run(
            tiles,
            [&](int64_t b, int64_t e, int) {
                const int64_t r0 = b * K::kQ4Tile, r1 = std::min(rows, e * K::kQ4Tile);
                k_.gemm_q4_0_packed(cols, w.packed, b, static_cast<int>(r1 - r0), act, stride,
                                    n_rows, out + r0, static_cast<size_t>(rows));
            },
            std::max<int64_t>(1, (int64_t{1} << 13) / (static_cast<int64_t>(cols) * n_rows)));
        return;
    }
    if (w.type == K::W_Q4_0) {
        // Tiles of 8 weight rows against all activation rows (see GemmFn).
        const int64_t tiles = (rows + 7) / 8;
        pool_.run(
            tiles,
            [&](int64_t b, int64_t e, int) {
                const int64_t r0 = b * 8, r1 = std::min(rows, e * 8);
                k_.gemm_q4_0(cols, w.row(r0), w.row_bytes, static_cast<int>(r1 - r0), act, stride,
                             n_rows, out + r0, static_cast<size_t>(rows));
            },
            std::max<int64_t>(1, (int64_t{1} << 14) / (static_cast<int64_t>(cols) * n_rows)));
        return;
    }
    const size_t per_thread = tmp_.size() / static_cast<size_t>(pool_.size());
    pool_.run(
        rows,
        [&](int64_t b, int64_t e, int t) {
            float* res = tmp_.data() + static_cast<size_t>(t) * per_thread;
            float* deq = deq_.data() +
                         static_cast<size_t>(t) * (deq_.size() / static_cast<size_t>(pool_.size()));
            if (!dot) {
                for (int64_t r = b; r < e; ++r) {
                    K::dequantize_row(w.type, w.row(r), deq, cols);
                    k_.dot_f32(cols, deq, in, static_cast<size_t>(cols) * 4, n_rows, res);
                    for (int j = 0; j < n_rows; ++j)
                        out[static_cast<size_t>(j) * rows + r] = res[j];
                }
                return;
            }
            // Blocked over both operands: a tile of weight rows (stays in L2)
            // against a tile of activation rows (stays in L1), so neither is
            // streamed from further out once per row of the other.
            constexpr int64_t kRowTile = 32;
            constexpr int kActTile = 16;
            const auto* a8 = static_cast<const uint8_t*>(act);
            for (int64_t r0 = b; r0 < e; r0 += kRowTile) {
                const int64_t r1 = std::min(e, r0 + kRowTile);
                for (int j0 = 0; j0 < n_rows; j0 += kActTile) {
                    const int na = std::min(kActTile, n_rows - j0);
                    for (int64_t r = r0; r < r1; ++r) {
                        dot(cols, w.row(r), a8 + static_cast<size_t>(j0) * stride, stride, na, res);
                        for (int j = 0; j < na; ++j)
                            out[static_cast<size_t>(j0 + j) * rows + r] = res[j];
                    }
                }
            }
        },
        std::max<int64_t>(1, (int64_t{1} << 17) / (static_cast<int64_t>(cols) * n_rows)));
}

void CpuBackend::rmsnorm(const float* x, const Weight& w, float* out, int n_rows, int n) {
    const auto* wt = reinterpret_cast<const float*>(w.data);
    // Rows over the threads, a few hundred values at least per thread.
    pool_.run(
        n_rows, [&](int64_t b, int64_t e, int) { rmsnorm_rows(x, wt, out, b, e, n); },
        std::max<int64_t>(1, 256 / n));
}

void CpuBackend::rmsnorm_rows(const float* x, const float* wt, float* out, int64_t r0, int64_t r1,
                              int n) {
    for (int64_t r = r0; r < r1; ++r) {
        const float* xr = x + static_cast<size_t>(r) * n;
        float* o = out + static_cast<size_t>(r) * n;
        double ss = 0;
        for (int i = 0; i < n; ++i) ss += static_cast<double>(xr[i] * xr[i]);
        const float scale = 1.0f / std::sqrt(static_cast<float>(ss / n) + cfg_.norm_eps);
        for (int i = 0; i < n; ++i) o[i] = xr[i] * scale * wt[i];
    }
}

// cos/sin of each row's position, once per forward pass (every layer's Q and
// K reuse them): (rows, rope_dim) as cos, sin pairs.
void CpuBackend::rope_tables(const BatchRow* rows, int n_rows) {
    const int nd = cfg_.rope_dim;
    const float theta_scale = std::pow(cfg_.rope_base, -2.0f / static_cast<float>(nd));
    const auto* ff = m_.rope_freqs ? reinterpret_cast<const float*>(m_.rope_freqs.data) : nullptr;
    rope_cs_.resize(static_cast<size_t>(n_rows) * nd);
    for (int r = 0; r < n_rows; ++r) {
        float* cs = rope_cs_.data() + static_cast<size_t>(r) * nd;
        float theta = static_cast<float>(rows[r].pos);
        for (int i = 0; i < nd / 2; ++i) {
            float t = cfg_.rope_freq_scale * (ff ? theta / ff[i] : theta);
            cs[2 * i] = std::cos(t);
            cs[2 * i + 1] = std::sin(t);
            theta *= theta_scale;
        }
    }
}

void CpuBackend::rope(float* x, int n_heads, int n_rows) {
    const int hd = cfg_.head_dim, nd = cfg_.rope_dim;
    for (int r = 0; r < n_rows; ++r) {
        const float* cs = rope_cs_.data() + static_cast<size_t>(r) * nd;
        for (int h = 0; h < n_heads; ++h) {
            float* v = x + (static_cast<size_t>(r) * n_heads + h) * hd;
            for (int i = 0; i < nd / 2; ++i) {
                int a = cfg_.rope_neox ? i : 2 * i;
                int b = cfg_.rope_neox ? i + nd / 2 : 2 * i + 1;
                float c = cs[2 * i], s = cs[2 * i + 1];
                float x0 = v[a], x1 = v[b];
                v[a] = std::fma(x0, c, -(x1 * s));
                v[b] = std::fma(x0, s, x1 * c);
            }
        }
    }
}

// Rows of a pass whose sequences share their first KV blocks (branches
// forked from one prefix): the cluster's rows and the positions [0, shared)
// that all of them see in the same blocks. Block tables do not change during
// a pass (reserve() made room and copied shared blocks that get written), so
// this is worked out once per pass; a block that is still shared was written
// before the fork and holds the same K/V for every sequence that points to it.
void CpuBackend::plan_shared_prefixes(std::span<const BatchRow> rows, const KvCache& kv) {
    clusters_.clear();
    row_start_.assign(rows.size(), 0);
    const int R = static_cast<int>(rows.size()), bt = kv.block_tokens();
    if (R < 2) return;
    // Not worth a joint pass below this many positions.
    constexpr int kMinShared = 32;
    std::vector<int> order;
    for (int r = 0; r < R; ++r)
        if (rows[static_cast<size_t>(r)].pos + 1 >= kMinShared) order.push_back(r);
    auto first_block = [&](int r) { return kv.block_table(rows[static_cast<size_t>(r)].seq)[0]; };
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return first_block(a) < first_block(b); });
    for (size_t i = 0; i < order.size();) {
        size_t j = i + 1;
        while (j < order.size() && first_block(order[j]) == first_block(order[i])) ++j;
        if (j - i >= 2) {
            const BatchRow& lead = rows[static_cast<size_t>(order[i])];
            const int* lt = kv.block_table(lead.seq);
            int shared = lead.pos + 1;
            for (size_t m = i + 1; m < j; ++m) {
                const BatchRow& row = rows[static_cast<size_t>(order[m])];
                const int* t = kv.block_table(row.seq);
                const int n = std::min(shared, row.pos + 1);
                int blk = 0;
                while (blk * bt < n && t[blk] == lt[blk]) ++blk;
                shared = std::min(n, blk * bt);
            }
            if (shared >= kMinShared) {
                Cluster c{std::vector<int>(order.begin() + static_cast<std::ptrdiff_t>(i),
                                           order.begin() + static_cast<std::ptrdiff_t>(j)),
                          shared};
                for (int r : c.rows) row_start_[static_cast<size_t>(r)] = shared;
                clusters_.push_back(std::move(c));
            }
        }
        i = j;
    }
}

// Online softmax per (row, head), in the order llama.cpp's CPU flash
// attention uses: with an F16 cache the query is rounded to F16 and the value
// sum is kept in F16, rounded after every update, so results agree with
// llama.cpp's to within float rounding. The heads of a cluster's rows first go
// through the shared positions together, a KV head's K and V read once for all
// of them; then each row takes its own positions. The kernels give the same
// bits however positions and heads are split, so a row's result does not
// depend on its batch.
void CpuBackend::attention(int layer, std::span<const BatchRow> rows, KvCache& kv) {
    OpProfile::Scope scope(prof_, OpProfile::kAttention);
    const int hd = cfg_.head_dim, nh = cfg_.n_heads, nkv = cfg_.n_kv_heads, group = nh / nkv;
    const int Qd = cfg_.q_dim(), kvd = cfg_.kv_dim(), bt = kv.block_tokens();
    const int R = static_cast<int>(rows.size());
    const bool f16 = kv.type() == KvType::F16;
    const size_t eb = kv.elem_bytes();
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    if (f16)  // the queries rounded to F16, as llama.cpp's kernel takes them
        pool_.run(R, [&](int64_t b, int64_t e, int) {
            thread_local std::vector<uint16_t> q16;
            q16.resize(static_cast<size_t>(Qd));
            for (int64_t r = b; r < e; ++r) {
                float* q = q_.data() + static_cast<size_t>(r) * Qd;
                k_.f32_to_f16(q, q16.data(), Qd);
                for (int i = 0; i < Qd; ++i) q[i] = K::fp16_lookup(q16[static_cast<size_t>(i)]);
            }
        });
    heads_.resize(static_cast<size_t>(R) * nh);
    auto head = [&](int r, int h) -> K::AttnHead& {
        return heads_[static_cast<size_t>(r) * nh + static_cast<size_t>(h)];
    };
    auto start = [&](int r, int h) {
        const size_t off = (static_cast<size_t>(r) * nh + static_cast<size_t>(h)) * hd;
        K::attn_start(head(r, h), q_.data() + off, att_.data() + off, hd);
    };
    // The position pointers of KV head g over [p0, p1) of a block table.
    struct Ptrs {
        std::vector<const uint16_t*> kh, vh;  // F16 cache
        std::vector<const float*> kf, vf;     // F32 cache
    };
    auto pointers = [&](Ptrs& P, const int* table, int g, int p0, int p1) {
        const auto n = static_cast<size_t>(p1 - p0);
        if (f16) {
            P.kh.resize(n);
            P.vh.resize(n);
        } else {
            P.kf.resize(n);
            P.vf.resize(n);
        }
        const size_t head_off = static_cast<size_t>(g) * hd * eb, pos_step = kvd * eb;
        auto fill = [&]<typename T>(const T** kp, const T** vp) {
            for (int p = p0; p < p1;) {  // block by block
                const int blk = table[p / bt];
                const uint8_t* kb = kv.k_block(layer, blk) + head_off;
                const uint8_t* vb = kv.v_block(layer, blk) + head_off;
                for (int o = p % bt; o < bt && p < p1; ++o, ++p) {
                    const auto i = static_cast<size_t>(p - p0);
                    kp[i] = reinterpret_cast<const T*>(kb + static_cast<size_t>(o) * pos_step);
                    vp[i] = reinterpret_cast<const T*>(vb + static_cast<size_t>(o) * pos_step);
                }
            }
        };
        if (f16)
            fill(P.kh.data(), P.vh.data());
        else
            fill(P.kf.data(), P.vf.data());
    };
    auto run = [&](K::AttnHead* hs, int n_heads, const Ptrs& P, int n) {
        if (f16)
            k_.attn_f16(hs, n_heads, P.kh.data(), P.vh.data(), n, hd, scale);
        else
            k_.attn_f32(hs, n_heads, P.kf.data(), P.vf.data(), n, hd, scale);
    };

    // Shared prefixes: units of a cluster's rows x a KV head's query heads,
    // each over the cluster's shared positions. As few units as keep every
    // thread busy twice over: the more heads a unit holds, the more of them
    // each position's K (transposed once per span) and V serve.
    struct Unit {
        int cluster, g, u0,
            u1;  // heads u0..u1-1: row c.rows[u / group], head g * group + u % group
    };
    std::vector<Unit> units;
    const int n_clusters = static_cast<int>(clusters_.size());
    const int want =
        n_clusters ? (2 * pool_.size() + n_clusters * nkv - 1) / (n_clusters * nkv) : 0;
    for (int c = 0; c < n_clusters; ++c) {
        const int total = static_cast<int>(clusters_[static_cast<size_t>(c)].rows.size()) * group;
        const int pieces = std::clamp(want, 1, (total + 15) / 16);
        const int per = (total + pieces - 1) / pieces;
        for (int g = 0; g < nkv; ++g)
            for (int u = 0; u < total; u += per)
                units.push_back({c, g, u, std::min(total, u + per)});
    }
    if (!units.empty())
        pool_.run(static_cast<int64_t>(units.size()), [&](int64_t b, int64_t e, int) {
            thread_local Ptrs P;
            thread_local std::vector<K::AttnHead> hs;
            for (int64_t i = b; i < e; ++i) {
                const Unit& un = units[static_cast<size_t>(i)];
                const Cluster& c = clusters_[static_cast<size_t>(un.cluster)];
                hs.resize(static_cast<size_t>(un.u1 - un.u0));
                for (int u = un.u0; u < un.u1; ++u) {
                    const int r = c.rows[static_cast<size_t>(u / group)],
                              h = un.g * group + u % group;
                    start(r, h);
                    hs[static_cast<size_t>(u - un.u0)] = head(r, h);
                }
                pointers(P, kv.block_table(rows[static_cast<size_t>(c.rows[0])].seq), un.g, 0,
                         c.shared);
                run(hs.data(), un.u1 - un.u0, P, c.shared);
                for (int u = un.u0; u < un.u1; ++u)
                    head(c.rows[static_cast<size_t>(u / group)], un.g * group + u % group) =
                        hs[static_cast<size_t>(u - un.u0)];
            }
        });

    // Each row's own positions, per (row, KV head), then the results.
    pool_.run(
        static_cast<int64_t>(R) * nkv,
        [&](int64_t b, int64_t e, int) {
            thread_local Ptrs P;
            for (int64_t idx = b; idx < e; ++idx) {
                const int r = static_cast<int>(idx / nkv), g = static_cast<int>(idx % nkv);
                const BatchRow& row = rows[static_cast<size_t>(r)];
                const int p0 = row_start_[static_cast<size_t>(r)], n_pos = row.pos + 1;
                if (p0 == 0)
                    for (int j = 0; j < group; ++j) start(r, g * group + j);
                if (n_pos > p0) {
                    pointers(P, kv.block_table(row.seq), g, p0, n_pos);
                    run(&head(r, g * group), group, P, n_pos - p0);
                }
                for (int j = 0; j < group; ++j) {
                    const K::AttnHead& hh = head(r, g * group + j);
                    K::attn_finish(hh, hh.acc, hd);
                }
            }
        },
        std::max<int64_t>(1, (int64_t{1} << 14) / (static_cast<int64_t>(cap_pos_) * hd)));
}

void CpuBackend::forward(std::span<const BatchRow> rows, KvCache& kv, float* logits,
                         const TapRequest* taps) {
    const int R = static_cast<int>(rows.size());
    if (R == 0) return;
    OpProfile::Scope scope(prof_, OpProfile::kTotal);
    prof_.pass(R);
    int max_pos = 0;
    for (const auto& r : rows) max_pos = std::max(max_pos, r.pos + 1);
    ensure(R, max_pos);
    rope_tables(rows.data(), R);
    plan_shared_prefixes(rows, kv);
    prompt_batch_ = !invariant_ && R >= 2 &&
                    std::all_of(rows.begin(), rows.end(),
                                [&](const BatchRow& r) { return r.seq == rows[0].seq; });
    const int D = cfg_.dim, Qd = cfg_.q_dim(), KVd = cfg_.kv_dim(), F = cfg_.ffn_dim,
              hd = cfg_.head_dim;

    for (int r = 0; r < R; ++r) {
        TokenId tok = rows[static_cast<size_t>(r)].token;
        if (tok < 0 || tok >= cfg_.n_vocab)
            throw Error("token id " + std::to_string(tok) + " is outside the vocabulary (" +
                        std::to_string(cfg_.n_vocab) + ")");
        float* xr = x_.data() + static_cast<size_t>(r) * D;
        if (m_.tok_embd.packed)
            K::dequantize_q4_0_packed_row(m_.tok_embd.packed, D, tok, xr);
        else
            K::dequantize_row(m_.tok_embd.type, m_.tok_embd.row(tok), xr, D);
    }

    auto add_bias = [&](float* y, const Weight& b, int n) {
        if (!b) return;
        const auto* bb = reinterpret_cast<const float*>(b.data);
        for (int r = 0; r < R; ++r)
            for (int i = 0; i < n; ++i) y[static_cast<size_t>(r) * n + i] += bb[i];
    };

    for (int l = 0; l < cfg_.n_layers; ++l) {
        const LayerWeights& L = m_.layers[static_cast<size_t>(l)];
        rmsnorm(x_.data(), L.attn_norm, h_.data(), R, D);
        matmul(L.wq, h_.data(), R, q_.data());
        matmul(L.wk, h_.data(), R, kk_.data());
        matmul(L.wv, h_.data(), R, vv_.data());
        add_bias(q_.data(), L.bq, Qd);
        add_bias(kk_.data(), L.bk, KVd);
        add_bias(vv_.data(), L.bv, KVd);
        if (L.q_norm) {
            rmsnorm(q_.data(), L.q_norm, q_.data(), R * cfg_.n_heads, hd);
            rmsnorm(kk_.data(), L.k_norm, kk_.data(), R * cfg_.n_kv_heads, hd);
        }
        rope(q_.data(), cfg_.n_heads, R);
        rope(kk_.data(), cfg_.n_kv_heads, R);
        for (int r = 0; r < R; ++r) {
            const BatchRow& row = rows[static_cast<size_t>(r)];
            const float* ks = kk_.data() + static_cast<size_t>(r) * KVd;
            const float* vs = vv_.data() + static_cast<size_t>(r) * KVd;
            void* kd = kv.k_at(l, row.seq, row.pos);
            void* vd = kv.v_at(l, row.seq, row.pos);
            if (kv.type() == KvType::F16) {
                k_.f32_to_f16(ks, static_cast<uint16_t*>(kd), KVd);
                k_.f32_to_f16(vs, static_cast<uint16_t*>(vd), KVd);
            } else {
                std::memcpy(kd, ks, static_cast<size_t>(KVd) * 4);
                std::memcpy(vd, vs, static_cast<size_t>(KVd) * 4);
            }
        }
        attention(l, rows, kv);
        matmul(L.wo, att_.data(), R, h_.data());
        for (size_t i = 0; i < static_cast<size_t>(R) * D; ++i) x_[i] += h_[i];

        rmsnorm(x_.data(), L.ffn_norm, h_.data(), R, D);
        matmul(L.ffn_gate, h_.data(), R, g_.data());
        matmul(L.ffn_up, h_.data(), R, u_.data());
        pool_.run(
            R,
            [&](int64_t b, int64_t e, int) {
                for (int64_t r = b; r < e; ++r) {
                    float* gr = g_.data() + static_cast<size_t>(r) * F;
                    k_.swiglu(gr, u_.data() + static_cast<size_t>(r) * F, gr, F);
                }
            },
            std::max<int64_t>(1, 8192 / F));
        matmul(L.ffn_down, g_.data(), R, h_.data());
        for (size_t i = 0; i < static_cast<size_t>(R) * D; ++i) x_[i] += h_[i];
        if (taps) copy_taps(*taps, l, rows);
    }

    // Final norm and output projection only for rows that want logits.
    int n_out = 0;
    for (int r = 0; r < R; ++r) {
        if (!rows[static_cast<size_t>(r)].logits) continue;
        std::memcpy(h_.data() + static_cast<size_t>(n_out) * D,
                    x_.data() + static_cast<size_t>(r) * D, static_cast<size_t>(D) * 4);
        ++n_out;
    }
    if (n_out == 0) return;
    if (taps) {  // -1: the final norm's output, for rows that also want logits
        rmsnorm(x_.data(), m_.output_norm, g_.data(), R, D);
        std::swap(x_, g_);
        copy_taps(*taps, -1, rows);
        std::swap(x_, g_);
    }
    rmsnorm(h_.data(), m_.output_norm, x_.data(), n_out, D);
    matmul(m_.output, x_.data(), n_out, logits);
}

void CpuBackend::copy_taps(const TapRequest& taps, int layer, std::span<const BatchRow> rows) {
    const int D = cfg_.dim;
    const auto nl = taps.layers.size();
    for (size_t li = 0; li < nl; ++li) {
        if (taps.layers[li] != layer) continue;
        size_t k = 0;
        for (size_t r = 0; r < rows.size(); ++r) {
            if (!rows[r].tap) continue;
            std::memcpy(taps.out + (k * nl + li) * static_cast<size_t>(D),
                        x_.data() + r * static_cast<size_t>(D), static_cast<size_t>(D) * 4);
            ++k;
        }
    }
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const Model& model, int n_threads, bool batch_invariant) {
    return std::make_unique<CpuBackend>(model, n_threads, batch_invariant);
}

}  // namespace rs
