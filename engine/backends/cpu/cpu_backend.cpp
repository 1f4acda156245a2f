// The CPU backend: the op set of backend.h on the kernel table (scalar,
// AVX2, AVX-512, chosen at run time), KV in host memory, Q4_0 weights
// repacked into 16-row tiles once per model. Activations are row-major
// [rows][features] in f32; matrix products go through the kernel table
// (quantized weights meet activations quantized per row to Q8_0 / Q8_K).
// Each row's result depends only on that row's inputs (per-row
// accumulators, fixed block order), so a branch's logits are the same
// whether it is decoded alone or in a batch, on any thread count. One
// exception follows llama.cpp: a prompt (several rows of one sequence) meets
// F32/F16 weights in its prompt-batch order (tinyBLAS), so prompt logits equal
// llama.cpp's; batches of branches never take it, and the deterministic
// session option turns it off.
#include "reasonscope/cpu_backend.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cpu/arch_ops.h"
#include "cpu/fp16.h"
#include "cpu/kernels.h"
#include "cuda/draw.h"
#include "reasonscope/backend.h"
#include "reasonscope/device_draw.h"
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
            for (int i = 0; i < 3; ++i) {
                std::fprintf(stderr, "  %-10s %9.1f ms  %5.1f%%\n", names[i], part[i] * 1e3,
                             total > 0 ? 100 * part[i] / total : 0.0);
                if (i == 0)  // the products by weight type
                    for (int t = 0; t < kTypes; ++t)
                        if (const double v = k.t[kCount + t]; v > 0)
                            std::fprintf(stderr, "    %-8s %9.1f ms  %5.1f%%\n",
                                         std::string(type_name(static_cast<GgmlType>(t))).c_str(),
                                         v * 1e3, total > 0 ? 100 * v / total : 0.0);
            }
        }
    }
    // Adds the scope's duration (when profiling) to a slot of the current
    // pass's bucket: an Op, or the matrix products of a weight type
    // (type_slot).
    class Scope {
      public:
        Scope(OpProfile& p, int slot) : p_(p), slot_(slot) {
            if (p_.on_) t0_ = std::chrono::steady_clock::now();
        }
        ~Scope() {
            if (p_.on_)
                p_.buckets_[p_.cur_].t[slot_] +=
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        }

      private:
        OpProfile& p_;
        int slot_;
        std::chrono::steady_clock::time_point t0_;
    };
    static int type_slot(uint32_t type) {  // (ggml numbering)
        return kCount + static_cast<int>(std::min<uint32_t>(type, kTypes - 1));
    }
    bool on() const { return on_; }
    // A pass begins (its rows set the bucket) and ends (after its logits).
    void pass(int rows) {
        cur_ = std::min(rows, kBuckets) - 1;
        ++buckets_[cur_].passes;
        if (on_) pass_t0_ = std::chrono::steady_clock::now();
    }
    void pass_end() {
        if (on_)
            buckets_[cur_].t[kTotal] +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - pass_t0_).count();
    }

  private:
    static constexpr int kBuckets = 17, kTypes = 64;
    struct Bucket {
        double t[kCount + kTypes] = {};  // the Ops, then the weight types
        int64_t passes = 0;
    };
    bool on_;
    Bucket buckets_[kBuckets];
    int cur_ = 0;
    std::chrono::steady_clock::time_point pass_t0_;
};

// The CPU's prepared weights: Q4_0 (and with SIMD kernels Q4_K, Q5_K, Q6_K) matrices repacked
// into 16-row tiles for
// the matrix product (same size as the file's data, whose mapped pages are
// then released), indexed by Weight::index; null where used in place.
struct CpuWeights final : PreparedWeights {
    std::vector<const uint8_t*> packed;
    std::vector<std::unique_ptr<uint8_t, void (*)(uint8_t*)>> buffers;
};

// The repacked layouts (16-row tiles, kernels.h): size, packing, one row's
// values, the product.
struct Packing {
    uint32_t type;
    bool avx512_only;  // (the other tables' product for it is the scalar reference)
    size_t (*bytes)(int64_t rows, int n);
    void (*pack)(const void* w, size_t w_stride, int64_t rows, int n, void* packed);
    void (*dequantize_row)(const void* packed, int n, int64_t row, float* out);
    K::GemmPackedFn (*gemm)(const K::KernelTable& k);
};
const Packing* packing_of(uint32_t type) {
    static const Packing kAll[] = {
        {K::W_Q5_0, true, K::q5_0_packed_bytes, K::pack_q5_0, K::dequantize_q5_0_packed_row,
         [](const K::KernelTable& k) { return k.gemm_q5_0_packed; }},
        {K::W_Q4_0, false, K::q4_0_packed_bytes, K::pack_q4_0, K::dequantize_q4_0_packed_row,
         [](const K::KernelTable& k) { return k.gemm_q4_0_packed; }},
        {K::W_Q4_K, false, K::q4_k_packed_bytes, K::pack_q4_k, K::dequantize_q4_k_packed_row,
         [](const K::KernelTable& k) { return k.gemm_q4_k_packed; }},
        {K::W_Q5_K, false, K::q5_k_packed_bytes, K::pack_q5_k, K::dequantize_q5_k_packed_row,
         [](const K::KernelTable& k) { return k.gemm_q5_k_packed; }},
        {K::W_Q6_K, false, K::q6_k_packed_bytes, K::pack_q6_k, K::dequantize_q6_k_packed_row,
         [](const K::KernelTable& k) { return k.gemm_q6_k_packed; }},
    };
    for (const Packing& p : kAll)
        if (p.type == type) return &p;
    return nullptr;
}

bool computable(uint32_t type) {
    K::ActFormat f;
    if (K::act_format_for(type, f)) return true;
    // Types without a direct kernel still work if rows can be dequantized.
    float probe[32];
    static const uint8_t zeros[64] = {};
    return type == 3 || type == 6 || type == 7 ? K::dequantize_row(type, zeros, probe, 32) : false;
}

// The first tensor whose type the backend cannot compute, and why; empty if none.
std::string unsupported_reason(const Model& m) {
    for (const Weight* w : m.weights())
        if (!computable(w->type))
            return "tensor '" + w->tensor->name + "' has type " +
                   std::string(type_name(w->tensor->type)) +
                   ", which the cpu backend does not support (supported: F32, F16, BF16, "
                   "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, "
                   "IQ4_XS, MXFP4)";
    return {};
}

std::shared_ptr<PreparedWeights> prepare_weights(const Model& m) {
    if (std::string why = unsupported_reason(m); !why.empty()) throw Error(m.path() + ": " + why);
    auto p = std::make_shared<CpuWeights>();
    p->packed.assign(m.weights().size(), nullptr);
    const char* env = std::getenv("RS_REPACK");
    if (env && std::string(env) == "0") return p;
    // Matrices (not norms or biases) of Q4_0; of the K-quants with tiles where
    // the SIMD tile products run (the scalar table's unpacks each row).
    const bool k_tiles = K::kernels().isa != K::Isa::Scalar;
    std::vector<const Weight*> ws;
    for (const Weight* w : m.weights())
        if (const Packing* pk = packing_of(w->type);
            pk && (w->type == K::W_Q4_0 || k_tiles) &&
            (!pk->avx512_only || K::kernels().isa == K::Isa::Avx512) && w->rows > 1 &&
            w->tensor->dims.size() <= 2)
            ws.push_back(w);
    if (ws.empty()) return p;
    std::vector<uint8_t*> bufs(ws.size());
    for (size_t i = 0; i < ws.size(); ++i) {
        const auto cols = static_cast<int>(ws[i]->cols);
        const int64_t rows = ws[i]->rows;
        const size_t bytes = packing_of(ws[i]->type)->bytes(rows, cols);
        bufs[i] = static_cast<uint8_t*>(::operator new (bytes, std::align_val_t{64}));
        p->buffers.emplace_back(bufs[i],
                                [](uint8_t* b) { ::operator delete (b, std::align_val_t{64}); });
    }
    // Pack on all cores; then release the file's pages of the packed tensors
    // (they stay readable: a later access faults them back in from the file).
    const unsigned nt = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 8u));
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < nt; ++t)
        pool.emplace_back([&] {
            for (size_t i; (i = next.fetch_add(1)) < ws.size();) {
                const Weight& w = *ws[i];
                packing_of(w.type)->pack(w.data, w.row_bytes, w.rows, static_cast<int>(w.cols),
                                         bufs[i]);
                const long page = sysconf(_SC_PAGESIZE);
                auto lo = (reinterpret_cast<uintptr_t>(w.data) + page - 1) &
                          ~static_cast<uintptr_t>(page - 1);
                auto hi = (reinterpret_cast<uintptr_t>(w.data) +
                           w.row_bytes * static_cast<size_t>(w.rows)) &
                          ~static_cast<uintptr_t>(page - 1);
                if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
            }
        });
    for (auto& th : pool) th.join();
    for (size_t i = 0; i < ws.size(); ++i) p->packed[static_cast<size_t>(ws[i]->index)] = bufs[i];
    return p;
}

class CpuBackend final : public Backend {
  public:
    CpuBackend(const Model& m, const BackendOptions& opt)
        : pool_(opt.threads),
          k_(K::kernels()),
          invariant_(opt.batch_invariant),
          draw_on_backend_(std::getenv("RS_DRAW_ON_BACKEND") &&
                           std::string(std::getenv("RS_DRAW_ON_BACKEND")) == "1"),
          model_bytes_(m.weight_bytes()),
          weights_(std::static_pointer_cast<CpuWeights>(
              m.prepared("cpu", [&] { return prepare_weights(m); }))) {}
    std::string name() const override { return std::string("cpu (") + K::isa_name(k_.isa) + ")"; }
    BackendCaps caps() const override {
        BackendCaps c;
        c.batch_invariant = true;  // batches of branches always; prompts unless deterministic
        c.device_draw = draw_on_backend_;
        return c;
    }
    int threads() const override { return pool_.size(); }
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
        pool_.run(n, [&](int64_t b, int64_t e, int) { fn(b, e); });
    }
    std::unique_ptr<KvStorage> make_kv_storage(const KvLayout& layout) override {
        return std::make_unique<HostKvStorage>(layout);
    }

    void begin_pass(const Pass& pass) override;
    void end_pass() override { prof_.pass_end(); }
    Act act(int slot, int rows, int cols) override;
    void embed(const Weight& table, Act out) override;
    void matmul(const Weight& w, Act in, Act out) override {
        matmul_to(w, ptr(in), in.rows, ptr(out));
    }
    void add_bias(Act x, const Weight& bias) override;
    void rmsnorm(Act in, const Weight& w, Act out, int width, float eps) override;
    void rope(Act x, int n_heads, int head_dim, const RopeSpec& spec) override;
    void store_kv(int layer, Act k, Act v) override;
    void attention(int layer, Act q, Act out, const AttnSpec& spec) override;
    void swiglu(Act gate, Act up, Act out) override;
    template <class Fn>
    void glu_rows(Act gate, Act up, Act out, Fn fn);
    void scale(Act x, float s) override;
    void geglu(Act gate, Act up, Act out) override;
    void moe(const MoeSpec& spec, Act logits, Act in, Act out) override;
    uint64_t weight_bytes_read() const override { return bytes_read_; }
    BackendMemory memory() const override;
    void add(Act x, Act y) override;
    void tap(int layer, Act x) override;
    void gather_logit_rows(Act x, Act out) override;
    void upload(const float* src, Act out) override {
        std::memcpy(ptr(out), src,
                    static_cast<size_t>(out.rows) * static_cast<size_t>(out.cols) * 4);
    }
    void output(const Weight& w, Act in) override {
        matmul_to(w, ptr(in), in.rows, pass_.logits);
        if (pass_.draw) draw_rows(static_cast<int>(w.rows), in.rows);
    }
    // The seam of a backend that samples where its logits are, on the host
    // (RS_DRAW_ON_BACKEND=1): what a GPU backend does, emulated, so that
    // searches through it are checked here (the logits stay in place).
    void draw_rows(int V, int rows) {
        pool_.run(rows, [&](int64_t b, int64_t e, int) {
            for (int64_t r = b; r < e; ++r) {
                const float* row = pass_.logits + static_cast<size_t>(r) * static_cast<size_t>(V);
                if (pass_.draw[r].active)
                    draw_on_host(row, V, pass_.draw[r], pass_.draw_out[r]);
                else
                    pass_.draw_out[r] = draw::Result{};  // kFallback
            }
        });
    }

  private:
    float* ptr(Act a) { return slots_[static_cast<size_t>(a.slot)].data(); }
    const uint8_t* packed(const Weight& w) const {
        return w.index >= 0 ? weights_->packed[static_cast<size_t>(w.index)] : nullptr;
    }
    // out (n_rows, w.rows) = in (n_rows, w.cols) times w's rows. prompt_order:
    // a prompt batch may take llama.cpp's prompt-batch order (its mul_mat;
    // its mul_mat_id, the experts' product, never does).
    void matmul_to(const Weight& w, const float* in, int n_rows, float* out,
                   bool prompt_order = true);
    void rope_tables(const RopeSpec& spec);

    ThreadPool pool_;
    const K::KernelTable& k_;
    OpProfile prof_;
    const bool invariant_;        // never the prompt-batch order
    const bool draw_on_backend_;  // emulate a backend's sampling (caps device_draw)
    const uint64_t model_bytes_;
    std::shared_ptr<CpuWeights> weights_;
    Pass pass_;
    int max_pos_ = 0;
    bool prompt_batch_ = false;              // this pass: two or more rows, all of one sequence
    std::vector<std::vector<float>> slots_;  // activations by slot, (rows, cols) each
    std::vector<uint8_t> act_;               // quantized (or rounded) activations of a matmul
    std::vector<float> tmp_;                 // (threads, rows) dot results
    std::vector<float> deq_;                 // (threads, cols) dequantized weight rows
    // RoPE: (rows, n_dims) per row: n_dims/2 cosines, then n_dims/2 sines of
    // its position's angles, for the spec they were made for (once per pass).
    std::vector<float> rope_cs_;
    RopeSpec rope_spec_;
    bool rope_ready_ = false;
    // Attention: one online-softmax state per (row, query head), value sums in the output.
    std::vector<K::AttnHead> heads_;
    std::vector<int> row_start_;  // per row: its first position not covered by its shared prefix
    uint64_t bytes_read_ = 0;     // weight bytes the matrix products read (weight_bytes_read)
    // MoE: per row its experts and weights, per expert its (row, slot) pairs,
    // and the gathered inputs and products of one expert.
    std::vector<int> moe_sel_;
    std::vector<float> moe_w_, moe_x_, moe_g_, moe_u_, moe_y_, moe_out_;
};

// The weights: the file's tensors (mapped; repacked ones are copies of about
// their size whose mapped pages were released). Scratch: every buffer's
// capacity.
BackendMemory CpuBackend::memory() const {
    BackendMemory m;
    m.weights = model_bytes_;
    auto cap = [](const auto& v) {
        return static_cast<uint64_t>(v.capacity() *
                                     sizeof(typename std::decay_t<decltype(v)>::value_type));
    };
    for (const auto& s : slots_) m.scratch += cap(s);
    m.scratch += cap(act_) + cap(tmp_) + cap(deq_) + cap(rope_cs_) + cap(heads_) + cap(row_start_) +
                 cap(moe_sel_) + cap(moe_w_) + cap(moe_x_) + cap(moe_g_) + cap(moe_u_) +
                 cap(moe_y_) + cap(moe_out_);
    return m;
}

void CpuBackend::begin_pass(const Pass& pass) {
    pass_ = pass;
    const int R = static_cast<int>(pass.rows.size());
    prof_.pass(R);
    max_pos_ = 0;
    for (const auto& r : pass.rows) max_pos_ = std::max(max_pos_, r.pos + 1);
    prompt_batch_ = !invariant_ && pass.one_sequence;
    rope_ready_ = false;
    row_start_.assign(static_cast<size_t>(R), 0);
    for (const SharedPrefix& sp : pass.shared)
        for (int r : sp.rows) row_start_[static_cast<size_t>(r)] = sp.positions;
}

Act CpuBackend::act(int slot, int rows, int cols) {
    if (slot >= static_cast<int>(slots_.size())) slots_.resize(static_cast<size_t>(slot) + 1);
    auto& s = slots_[static_cast<size_t>(slot)];
    const size_t need = static_cast<size_t>(rows) * static_cast<size_t>(cols);
    if (s.size() < need) s.resize(need);
    return {slot, rows, cols};
}

void CpuBackend::embed(const Weight& table, Act out) {
    const int D = out.cols;
    const uint8_t* pk = packed(table);
    for (int r = 0; r < out.rows; ++r) {
        const TokenId tok = pass_.rows[static_cast<size_t>(r)].token;
        float* xr = ptr(out) + static_cast<size_t>(r) * D;
        if (pk)
            packing_of(table.type)->dequantize_row(pk, D, tok, xr);
        else
            K::dequantize_row(table.type, table.row(tok), xr, D);
    }
}

// Activation rows from which Q8_0 and Q5_0 weights take the two-rows-a-vector
// product.
constexpr int kQ8GemmRows = 16;

void CpuBackend::matmul_to(const Weight& w, const float* in, int n_rows, float* out,
                           bool prompt_order) {
    OpProfile::Scope scope(prof_, OpProfile::kMatmul);
    OpProfile::Scope type_scope(prof_, OpProfile::type_slot(w.type));
    bytes_read_ += w.row_bytes * static_cast<uint64_t>(w.rows);
    const int cols = static_cast<int>(w.cols);
    const int64_t rows = w.rows;
    const int nt = pool_.size();
    if (tmp_.size() < static_cast<size_t>(nt) * n_rows)
        tmp_.resize(static_cast<size_t>(nt) * n_rows);
    if (deq_.size() < static_cast<size_t>(nt) * cols) deq_.resize(static_cast<size_t>(nt) * cols);
    const size_t act_need = static_cast<size_t>(n_rows) * cols * 4 + 1024;
    if (act_.size() < act_need) act_.resize(act_need);
    K::DotFn dot = K::dot_for(k_, w.type);
    K::ActFormat fmt = K::ActFormat::F32;
    const void* act = in;
    size_t stride = static_cast<size_t>(cols) * 4;
    if (prompt_batch_ && prompt_order && n_rows >= 2 && cols % 16 == 0 &&
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
            // Rows split over the threads when there are enough of them (a
            // prompt, a wide batch): a few branches' rows quantize in less
            // time than waking a thread takes.
            pool_.run(
                n_rows,
                [&](int64_t b, int64_t e, int) {
                    for (int64_t r = b; r < e; ++r) {
                        const float* src = in + static_cast<size_t>(r) * cols;
                        uint8_t* dst = act_.data() + static_cast<size_t>(r) * stride;
                        if (fmt == K::ActFormat::Q8_0)
                            k_.quantize_q8_0(src, dst, cols);
                        else
                            k_.quantize_q8_k(src, dst, cols);
                    }
                },
                std::max<int64_t>(1, (int64_t{1} << 14) / cols));
            act = act_.data();
        }
    }
    if (const uint8_t* pk = packed(w)) {
        // Repacked: whole 16-row tiles per thread.
        const int64_t tiles = (rows + K::kQ4Tile - 1) / K::kQ4Tile;
        const K::GemmPackedFn gemm = packing_of(w.type)->gemm(k_);
        pool_.run(
            tiles,
            [&](int64_t b, int64_t e, int) {
                const int64_t r0 = b * K::kQ4Tile, r1 = std::min(rows, e * K::kQ4Tile);
                gemm(cols, pk, b, static_cast<int>(r1 - r0), act, stride, n_rows, out + r0,
                     static_cast<size_t>(rows));
            },
            std::max<int64_t>(1, (int64_t{1} << 13) / (static_cast<int64_t>(cols) * n_rows)));
        return;
    }
    // Tiles of `tile` weight rows against all activation rows through a
    // GemmFn (see GemmFn), about 2^grain_log2 weights x rows per chunk.
    const auto gemm_tiles = [&](K::GemmFn gemm, int64_t tile, int grain_log2) {
        pool_.run((rows + tile - 1) / tile,
                  [&](int64_t b, int64_t e, int) {
                      const int64_t r0 = b * tile, r1 = std::min(rows, e * tile);
                      gemm(cols, w.row(r0), w.row_bytes, static_cast<int>(r1 - r0), act, stride,
                           n_rows, out + r0, static_cast<size_t>(rows));
                  },
                  std::max<int64_t>(
                      1, (int64_t{1} << grain_log2) / (static_cast<int64_t>(cols) * n_rows)));
    };
    if (w.type == K::W_Q4_0) {
        gemm_tiles(k_.gemm_q4_0, 8, 14);
        return;
    }
    if (w.type == K::W_Q8_0 && k_.gemm_q8_0 && n_rows >= kQ8GemmRows) {
        // Prompts (each element exactly dot_q8_0's). Fewer rows (decoding)
        // read the weights faster one row at a time (measured: B=1 twice as
        // fast that way).
        gemm_tiles(k_.gemm_q8_0, 16, 13);
        return;
    }
    if (w.type == K::W_Q5_0 && k_.gemm_q5_0 && n_rows >= kQ8GemmRows) {
        gemm_tiles(k_.gemm_q5_0, 16, 13);  // as Q8_0
        return;
    }
    const size_t per_thread = tmp_.size() / static_cast<size_t>(nt);
    pool_.run(
        rows,
        [&](int64_t b, int64_t e, int t) {
            float* res = tmp_.data() + static_cast<size_t>(t) * per_thread;
            float* deq =
                deq_.data() + static_cast<size_t>(t) * (deq_.size() / static_cast<size_t>(nt));
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

void CpuBackend::add_bias(Act x, const Weight& bias) {
    const auto* bb = reinterpret_cast<const float*>(bias.data);
    float* y = ptr(x);
    for (int r = 0; r < x.rows; ++r)
        for (int i = 0; i < x.cols; ++i) y[static_cast<size_t>(r) * x.cols + i] += bb[i];
}

void CpuBackend::rmsnorm(Act in, const Weight& w, Act out, int width, float eps) {
    // The weight (if any) has `width` values, applied to every group.
    const auto* wt = w ? reinterpret_cast<const float*>(w.data) : nullptr;
    if (w && w.cols != width)
        throw Error("rmsnorm: weight of " + std::to_string(w.cols) + " values for groups of " +
                    std::to_string(width));
    const float* x = ptr(in);
    float* o = ptr(out);
    const int64_t groups = static_cast<int64_t>(in.rows) * (in.cols / width);
    // Groups over the threads, thousands of values at least per thread (the
    // kernel takes eight groups side by side as fast as one).
    pool_.run(
        groups,
        [&](int64_t b, int64_t e, int) {
            const size_t off = static_cast<size_t>(b) * width;
            k_.rmsnorm(x + off, wt, o + off, static_cast<int>(e - b), width, eps);
        },
        std::max<int64_t>(1, 8192 / width));
}

// cos/sin of each row's position, once per pass for a spec (every layer's Q
// and K reuse them).
void CpuBackend::rope_tables(const RopeSpec& spec) {
    if (rope_ready_ && spec.n_dims == rope_spec_.n_dims && spec.base == rope_spec_.base &&
        spec.freq_scale == rope_spec_.freq_scale && spec.freq_factors == rope_spec_.freq_factors &&
        spec.ext_factor == rope_spec_.ext_factor && spec.attn_factor == rope_spec_.attn_factor &&
        spec.beta_fast == rope_spec_.beta_fast && spec.beta_slow == rope_spec_.beta_slow &&
        spec.n_ctx_orig == rope_spec_.n_ctx_orig)
        return;
    rope_spec_ = spec;
    rope_ready_ = true;
    rope_cs_.resize(pass_.rows.size() * static_cast<size_t>(spec.n_dims));
    rope_cos_sin(spec, pass_.rows, rope_cs_.data());
}

void CpuBackend::rope(Act x, int n_heads, int head_dim, const RopeSpec& spec) {
    rope_tables(spec);
    const int nd = spec.n_dims;
    float* base = ptr(x);
    pool_.run(
        x.rows,
        [&](int64_t b, int64_t e, int) {
            for (int64_t r = b; r < e; ++r) {
                const float* cs = rope_cs_.data() + static_cast<size_t>(r) * nd;
                k_.rope(base + static_cast<size_t>(r) * x.cols, n_heads, head_dim, nd, cs,
                        cs + nd / 2, spec.neox);
            }
        },
        std::max<int64_t>(1, 4096 / std::max(1, n_heads * head_dim)));
}

void CpuBackend::store_kv(int layer, Act k, Act v) {
    KvCache& kv = *pass_.kv;
    auto& st = static_cast<HostKvStorage&>(kv.storage());
    const int KVd = k.cols, bt = kv.block_tokens();
    const size_t eb = kv.elem_bytes(), pos_bytes = static_cast<size_t>(KVd) * eb;
    for (int r = 0; r < k.rows; ++r) {
        const BatchRow& row = pass_.rows[static_cast<size_t>(r)];
        const int blk = kv.block_of(row.seq, row.pos);
        const size_t off = static_cast<size_t>(row.pos % bt) * pos_bytes;
        const float* ks = ptr(k) + static_cast<size_t>(r) * KVd;
        const float* vs = ptr(v) + static_cast<size_t>(r) * KVd;
        uint8_t* kd = st.k_block(layer, blk) + off;
        uint8_t* vd = st.v_block(layer, blk) + off;
        if (kv.type() == KvType::F16) {
            k_.f32_to_f16(ks, reinterpret_cast<uint16_t*>(kd), KVd);
            k_.f32_to_f16(vs, reinterpret_cast<uint16_t*>(vd), KVd);
        } else {
            std::memcpy(kd, ks, pos_bytes);
            std::memcpy(vd, vs, pos_bytes);
        }
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
void CpuBackend::attention(int layer, Act q_act, Act out, const AttnSpec& spec) {
    OpProfile::Scope scope(prof_, OpProfile::kAttention);
    const std::span<const BatchRow> rows = pass_.rows;
    const KvCache& kv = *pass_.kv;
    const auto& st = static_cast<const HostKvStorage&>(kv.storage());
    const int hd = spec.head_dim, nh = spec.n_heads, nkv = spec.n_kv_heads, group = nh / nkv;
    const int Qd = nh * hd, kvd = nkv * hd, bt = kv.block_tokens();
    float* const qd = ptr(q_act);
    float* const od = ptr(out);
    const int R = static_cast<int>(rows.size());
    const bool f16 = kv.type() == KvType::F16;
    const size_t eb = kv.elem_bytes();
    const float scale = spec.scale;
    const auto* sinks = spec.sinks ? reinterpret_cast<const float*>(spec.sinks->data) : nullptr;
    if (f16)  // the queries rounded to F16, as llama.cpp's kernel takes them
        pool_.run(R, [&](int64_t b, int64_t e, int) {
            thread_local std::vector<uint16_t> q16;
            q16.resize(static_cast<size_t>(Qd));
            for (int64_t r = b; r < e; ++r) {
                float* q = qd + static_cast<size_t>(r) * Qd;
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
        K::attn_start(head(r, h), qd + off, od + off, hd);
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
                const uint8_t* kb = st.k_block(layer, blk) + head_off;
                const uint8_t* vb = st.v_block(layer, blk) + head_off;
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
    // A sliding window masks the start of long prefixes: each row alone then
    // (it reads at most `window` positions).
    const bool windowed = spec.window > 0;
    const int n_clusters = windowed ? 0 : static_cast<int>(pass_.shared.size());
    const int want =
        n_clusters ? (2 * pool_.size() + n_clusters * nkv - 1) / (n_clusters * nkv) : 0;
    for (int c = 0; c < n_clusters; ++c) {
        const int total =
            static_cast<int>(pass_.shared[static_cast<size_t>(c)].rows.size()) * group;
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
                const SharedPrefix& c = pass_.shared[static_cast<size_t>(un.cluster)];
                hs.resize(static_cast<size_t>(un.u1 - un.u0));
                for (int u = un.u0; u < un.u1; ++u) {
                    const int r = c.rows[static_cast<size_t>(u / group)],
                              h = un.g * group + u % group;
                    start(r, h);
                    hs[static_cast<size_t>(u - un.u0)] = head(r, h);
                }
                pointers(P, kv.block_table(rows[static_cast<size_t>(c.rows[0])].seq), un.g, 0,
                         c.positions);
                run(hs.data(), un.u1 - un.u0, P, c.positions);
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
                const int n_pos = row.pos + 1;
                const int p0 = windowed ? std::max(0, n_pos - spec.window)
                                        : row_start_[static_cast<size_t>(r)];
                if (windowed || p0 == 0)
                    for (int j = 0; j < group; ++j) start(r, g * group + j);
                if (n_pos > p0) {
                    pointers(P, kv.block_table(row.seq), g, p0, n_pos);
                    run(&head(r, g * group), group, P, n_pos - p0);
                }
                for (int j = 0; j < group; ++j) {
                    K::AttnHead& hh = head(r, g * group + j);
                    if (sinks) K::attn_sink(hh, sinks[g * group + j], hd);
                    K::attn_finish(hh, hh.acc, hd);
                }
            }
        },
        std::max<int64_t>(1, (int64_t{1} << 14) / (static_cast<int64_t>(max_pos_) * hd)));
}

// A gated unit row by row on the pool: fn(gate row, up row, out row, width).
template <class Fn>
void CpuBackend::glu_rows(Act gate, Act up, Act out, Fn fn) {
    const int F = gate.cols;
    pool_.run(
        gate.rows,
        [&](int64_t b, int64_t e, int) {
            for (int64_t r = b; r < e; ++r) {
                const size_t off = static_cast<size_t>(r) * F;
                fn(ptr(gate) + off, ptr(up) + off, ptr(out) + off, F);
            }
        },
        std::max<int64_t>(1, 8192 / F));
}

void CpuBackend::swiglu(Act gate, Act up, Act out) {
    glu_rows(gate, up, out,
             [&](const float* g, const float* u, float* o, int F) { k_.swiglu(g, u, o, F); });
}

void CpuBackend::scale(Act x, float s) {
    float* a = ptr(x);
    const size_t n = static_cast<size_t>(x.rows) * x.cols;
    for (size_t i = 0; i < n; ++i) a[i] *= s;
}

void CpuBackend::geglu(Act gate, Act up, Act out) {
    glu_rows(gate, up, out,
             [](const float* g, const float* u, float* o, int F) { K::geglu_f16(g, u, o, F); });
}

// Routing (moe_route, as llama.cpp's build_moe_ffn), then per chosen expert its rows together
// through its matrices (as its mul_mat_id: the experts' product in vec_dot order), each row's
// expert outputs times their weights summed in rank order.
void CpuBackend::moe(const MoeSpec& sp, Act logits, Act in, Act out) {
    const int R = in.rows, D = in.cols, E = sp.n_experts, k = sp.n_used;
    check_moe_shapes(sp, D, logits.cols);
    const int64_t F = sp.gate->rows / E;
    moe_sel_.resize(static_cast<size_t>(R) * k);
    moe_w_.resize(static_cast<size_t>(R) * k);
    moe_route(sp, ptr(logits), R, moe_sel_.data(), moe_w_.data());
    auto expert = [&](const Weight& w, int e) {
        const int64_t per = w.rows / E;
        Weight v = w;
        v.data = w.row(per * e);
        v.rows = per;
        v.index = -1;
        return v;
    };
    auto bias = [&](const Weight* b, int e, int64_t n) {
        return b ? reinterpret_cast<const float*>(b->data) + static_cast<size_t>(e) * n : nullptr;
    };
    moe_out_.resize(static_cast<size_t>(R) * k * D);
    std::vector<int> mine;  // (row * k + slot) of one expert
    for (int e = 0; e < E; ++e) {
        mine.clear();
        for (int i = 0; i < R * k; ++i)
            if (moe_sel_[static_cast<size_t>(i)] == e) mine.push_back(i);
        if (mine.empty()) continue;
        const int n = static_cast<int>(mine.size());
        moe_x_.resize(static_cast<size_t>(n) * D);
        moe_g_.resize(static_cast<size_t>(n) * F);
        moe_u_.resize(static_cast<size_t>(n) * F);
        moe_y_.resize(static_cast<size_t>(n) * D);
        for (int i = 0; i < n; ++i)
            std::memcpy(moe_x_.data() + static_cast<size_t>(i) * D,
                        ptr(in) + static_cast<size_t>(mine[static_cast<size_t>(i)] / k) * D,
                        static_cast<size_t>(D) * 4);
        matmul_to(expert(*sp.gate, e), moe_x_.data(), n, moe_g_.data(), false);
        matmul_to(expert(*sp.up, e), moe_x_.data(), n, moe_u_.data(), false);
        const float* bg = bias(sp.gate_b, e, F);
        const float* bu = bias(sp.up_b, e, F);
        for (int i = 0; i < n; ++i) {
            float* g = moe_g_.data() + static_cast<size_t>(i) * F;
            float* u = moe_u_.data() + static_cast<size_t>(i) * F;
            if (bu)
                for (int64_t f = 0; f < F; ++f) u[f] += bu[f];
            if (bg)
                for (int64_t f = 0; f < F; ++f) g[f] += bg[f];
            if (sp.glu == MoeSpec::Glu::SwiGluOai)
                K::swiglu_oai(g, u, g, static_cast<int>(F), sp.alpha, sp.limit);
            else
                k_.swiglu(g, u, g, static_cast<int>(F));
        }
        matmul_to(expert(*sp.down, e), moe_g_.data(), n, moe_y_.data(), false);
        const float* bd = bias(sp.down_b, e, D);
        for (int i = 0; i < n; ++i) {
            const int slot = mine[static_cast<size_t>(i)];
            const float* y = moe_y_.data() + static_cast<size_t>(i) * D;
            float* o = moe_out_.data() + static_cast<size_t>(slot) * D;
            const float wt = moe_w_[static_cast<size_t>(slot)];
            for (int d = 0; d < D; ++d) o[d] = (bd ? y[d] + bd[d] : y[d]) * wt;
        }
    }
    for (int r = 0; r < R; ++r) {
        float* o = ptr(out) + static_cast<size_t>(r) * D;
        const float* s0 = moe_out_.data() + static_cast<size_t>(r) * k * D;
        std::memcpy(o, s0, static_cast<size_t>(D) * 4);
        for (int j = 1; j < k; ++j)
            for (int d = 0; d < D; ++d) o[d] += s0[static_cast<size_t>(j) * D + d];
    }
}

void CpuBackend::add(Act x, Act y) {
    float* a = ptr(x);
    const float* b = ptr(y);
    const size_t n = static_cast<size_t>(x.rows) * x.cols;
    for (size_t i = 0; i < n; ++i) a[i] += b[i];
}

void CpuBackend::tap(int layer, Act x) {
    if (!pass_.taps) return;
    const TapRequest& taps = *pass_.taps;
    const int D = x.cols;
    const auto nl = taps.layers.size();
    for (size_t li = 0; li < nl; ++li) {
        if (taps.layers[li] != layer) continue;
        size_t k = 0;
        for (size_t r = 0; r < pass_.rows.size(); ++r) {
            if (!pass_.rows[r].tap) continue;
            std::memcpy(taps.out + (k * nl + li) * static_cast<size_t>(D),
                        ptr(x) + r * static_cast<size_t>(D), static_cast<size_t>(D) * 4);
            ++k;
        }
    }
}

void CpuBackend::gather_logit_rows(Act x, Act out) {
    const size_t D = static_cast<size_t>(x.cols);
    int n = 0;
    for (size_t r = 0; r < pass_.rows.size(); ++r)
        if (pass_.rows[r].logits)
            std::memcpy(ptr(out) + static_cast<size_t>(n++) * D, ptr(x) + r * D, D * 4);
}

}  // namespace

std::string cpu_unsupported_reason(const Model& model) {
    return unsupported_reason(model);
}

int cpu_repacked_matrices(const Model& model) {
    auto p = std::static_pointer_cast<CpuWeights>(
        model.prepared("cpu", [&] { return prepare_weights(model); }));
    return static_cast<int>(
        std::count_if(p->packed.begin(), p->packed.end(), [](const uint8_t* b) { return b; }));
}

namespace {
const bool kRegistered = [] {
    register_backend({"cpu",
                      "the host's cores (AVX-512, AVX2 or scalar kernels, chosen at run time)", 0,
                      [](std::string&) { return true; },
                      [](const Model& m, const BackendOptions& o) -> std::unique_ptr<Backend> {
                          return std::make_unique<CpuBackend>(m, o);
                      }});
    return true;
}();
}  // namespace

}  // namespace rs
