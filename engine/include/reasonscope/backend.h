// A compute backend: it implements the backend-neutral op set that the
// architecture files (engine/model/) write their forward passes in, owns the
// memory those ops use (its prepared weights, its KV storage, its scratch
// activations) and never knows an architecture. The CPU backend is always
// available and every other backend's reference.
//
// A pass: the session calls begin_pass(), the model's architecture calls ops
// in order, each op completes (or is queued in order, on a device) before the
// next reads its result; output() leaves the logits in host memory.
// Activations are named by slots (the architecture numbers them) and viewed as
// rows x cols floats, row-major; a slot's contents persist within a pass.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reasonscope/kv_cache.h"
#include "reasonscope/tokenizer.h"

namespace rs {

class Model;
struct Weight;
namespace draw {
struct Spec;
struct Result;
}  // namespace draw

struct BatchRow {
    int seq = 0;  // KV cache sequence
    int pos = 0;  // position of this token in its sequence
    TokenId token = 0;
    bool logits = false;  // produce next-token logits for this row
    bool tap = false;     // copy this row's residual stream at the tap layers
};

// Hidden-state taps: the residual stream after each listed layer (-1 = after
// the final norm) for rows with tap set, written row-major as
// (tapped rows, layers.size(), dim) floats.
struct TapRequest {
    std::vector<int> layers;
    float* out = nullptr;
};

// One forward pass: rows of any sequences at any positions (prefill of one
// sequence, or one token of each of many branches). K/V of each row are
// written at (seq, pos); the session has reserved room in kv. Rows of one
// sequence are in position order.
struct Pass {
    std::span<const BatchRow> rows;
    KvCache* kv = nullptr;
    const TapRequest* taps = nullptr;  // null: no taps
    float* logits = nullptr;           // n_vocab per row that asks, in row order (host memory)
    // Rows to sample on the backend (caps().device_draw; kernels/cuda/draw.h):
    // one spec per row that asks for logits, in that order, and its result.
    // Then only the rows whose result is draw::kFallback (an inactive spec,
    // or nothing to draw) have their logits in `logits`; null: every row's.
    const draw::Spec* draw = nullptr;
    draw::Result* draw_out = nullptr;
    std::vector<SharedPrefix> shared;  // rows that share prefix blocks (planned by the session)
    bool one_sequence = false;         // two or more rows, all of one sequence (a prompt)
};

// An activation: `rows` x `cols` floats in the backend's slot `slot`.
struct Act {
    int slot = -1, rows = 0, cols = 0;
};

struct RopeSpec {
    int n_dims = 0;     // rotated dimensions of each head (<= head size)
    bool neox = false;  // pairs (i, i + n_dims/2) instead of (2i, 2i+1)
    float base = 10000.f;
    float freq_scale = 1.f;                // linear scaling
    const Weight* freq_factors = nullptr;  // optional per-pair divisors (rope_freqs.weight)
    // YaRN (ext_factor != 0, as ggml's rope): pairs between the correction
    // dimensions of beta_fast / beta_slow (over n_ctx_orig) blend interpolated
    // and extrapolated angles, and cos/sin are scaled by attn_factor *
    // (1 + 0.1 ln(1 / freq_scale)).
    float ext_factor = 0.f;
    float attn_factor = 1.f;
    float beta_fast = 32.f, beta_slow = 1.f;
    int n_ctx_orig = 0;
};

// Per row of `rows`: spec.n_dims / 2 cosines, then as many sines, of the
// rotation angles at the row's position (ggml's order of operations, YaRN
// included): every backend's RoPE tables.
void rope_cos_sin(const RopeSpec& spec, std::span<const BatchRow> rows, float* out);

struct AttnSpec {
    int n_heads = 0, n_kv_heads = 0, head_dim = 0;
    float scale = 1.f;  // applied to each score
    // Sliding window: a row at position p sees positions p - window + 1 .. p
    // (0: all of 0 .. p). The cache keeps every position; the window only masks.
    int window = 0;
    // Attention sinks (gpt-oss): one F32 logit per query head that joins each
    // head's softmax denominator with no value; null: none.
    const Weight* sinks = nullptr;
};

// A mixture-of-experts FFN (stacked expert tensors: expert e's matrix is rows
// e * rows_per_expert .. of the Weight). Routing from each row's router
// logits: Softmax takes the top n_used of a softmax over all experts (then
// optionally divides by their sum); SoftmaxSelected takes the top n_used
// logits and a softmax over just those. The expert FFN is down(glu(gate x +
// gate_b, up x + up_b)) + down_b, with glu SiLU (silu(g) * u) or SwiGluOai
// (gpt-oss: g clamped above at limit, u to +-limit, g * sigmoid(alpha g) * (u + 1)).
struct MoeSpec {
    enum class Gating { Softmax, SoftmaxSelected };
    enum class Glu { SiLU, SwiGluOai };
    int n_experts = 0, n_used = 0;
    Gating gating = Gating::Softmax;
    bool norm_weights = false;
    Glu glu = Glu::SiLU;
    float alpha = 1.702f, limit = 7.0f;
    // Stacked experts: gate and up n_experts x (ffn x dim), down n_experts x
    // (dim x ffn); the optional biases F32, one row per expert.
    const Weight *gate = nullptr, *up = nullptr, *down = nullptr;
    const Weight *gate_b = nullptr, *up_b = nullptr, *down_b = nullptr;
};

// The memory a backend holds beyond its KV storage (whose size KvStats
// gives): the model's weights as it prepared them and its scratch
// (activations, staging buffers), in device memory or the host's.
struct BackendMemory {
    uint64_t weights = 0, scratch = 0;
    bool device = false;
};

// MoE routing of `rows` rows of router logits (rows x n_experts, host
// memory) as llama.cpp's build_moe_ffn does it (softmax, top n_used with
// ties to the lower id, optional renormalisation): per row its experts in
// rank order (sel) and their weights (w), rows x n_used each. Every
// backend routes with this, so the same experts are chosen everywhere.
void moe_route(const MoeSpec& spec, const float* logits, int rows, int* sel, float* w);
// Throws rs::Error unless the spec's stacked experts fit inputs of `dim`
// values and router logits of `logit_cols`.
void check_moe_shapes(const MoeSpec& spec, int dim, int logit_cols);

// What a backend (and so a session on it) can do; strategies and views ask,
// and grey out what is missing.
struct BackendCaps {
    bool full_logits = true;      // every vocabulary entry's logit, every pass
    bool hidden_taps = true;      // residual-stream taps (latent signals)
    bool batch_invariant = true;  // a branch's logits do not depend on its batch
    bool device_memory = false;   // weights and KV live in device memory
    bool device_draw = false;     // samples rows where its logits are (Pass::draw)
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;  // e.g. "cpu (avx512)"
    virtual BackendCaps caps() const = 0;
    virtual int threads() const { return 1; }
    // Host-side work split over the backend's threads: fn(begin, end) on
    // disjoint ranges covering [0, n), all done on return (the CPU backend
    // uses its pool; the default runs it on the caller). The search runtime
    // samples a step's branches this way. (optional)
    virtual void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
        if (n > 0) fn(0, n);
    }
    // KV storage in the backend's memory for a cache of this layout.
    virtual std::unique_ptr<KvStorage> make_kv_storage(const KvLayout& layout) = 0;

    // --- the op set (one line each; shapes as rows x cols) ---
    virtual void begin_pass(const Pass& pass) = 0;
    virtual void end_pass() {}  // after the architecture's forward of that pass
    virtual Act act(int slot, int rows, int cols) = 0;  // a slot viewed as rows x cols
    // out(r) = table row of pass row r's token (dequantized).
    virtual void embed(const Weight& table, Act out) = 0;
    // out(r) = W in(r): W has out.cols rows of in.cols values.
    virtual void matmul(const Weight& w, Act in, Act out) = 0;
    virtual void add_bias(Act x, const Weight& bias) = 0;  // x(r) += bias
    // RMSNorm of every `width` values of in (width = cols: per row; head size:
    // per head), times w (repeated per group; may be absent), into out (may be in).
    virtual void rmsnorm(Act in, const Weight& w, Act out, int width, float eps) = 0;
    // Rotary embedding of x's n_heads heads of head_dim at each row's position.
    virtual void rope(Act x, int n_heads, int head_dim, const RopeSpec& spec) = 0;
    // Row r's K and V into the pass's KV cache at (seq, pos), layer `layer`.
    virtual void store_kv(int layer, Act k, Act v) = 0;
    // Causal attention of each row's query heads over its sequence's positions
    // 0..pos in layer `layer` (grouped-query: n_heads / n_kv_heads per KV head).
    virtual void attention(int layer, Act q, Act out, const AttnSpec& spec) = 0;
    virtual void swiglu(Act gate, Act up, Act out) = 0;  // out = silu(gate) * up
    virtual void add(Act x, Act y) = 0;                  // x += y
    // The ops below are what some architectures add (gemma3, gpt-oss,
    // qwen3moe); a backend without them refuses those models when they run.
    virtual void scale(Act /*x*/, float /*s*/) { unsupported("scale"); }  // x *= s
    // out = gelu(gate) * up, GELU's tanh form looked up at F16 precision (as ggml's).
    virtual void geglu(Act /*gate*/, Act /*up*/, Act /*out*/) { unsupported("geglu"); }
    // out(r) = the experts' FFN of in(r) mixed by their routing weights, from
    // logits (rows x n_experts); only the chosen experts' matrices are read.
    virtual void moe(const MoeSpec& /*spec*/, Act /*logits*/, Act /*in*/, Act /*out*/) {
        unsupported("moe");
    }
    virtual BackendMemory memory() const { return {}; }
    // The memory the weights are read from, its read bandwidth in bytes/s
    // measured now (a device's; 0: host memory, which the caller measures).
    virtual double measure_bandwidth() { return 0; }
    // Bytes of weight matrices the ops have read so far (0: not counted).
    virtual uint64_t weight_bytes_read() const { return 0; }
    // x's rows that have tap set, to the pass's taps at layer `layer` (if asked for).
    virtual void tap(int layer, Act x) = 0;
    // Copies the rows that want logits into out (out.rows = their count).
    virtual void gather_logit_rows(Act x, Act out) = 0;
    // out = host floats (out.rows x out.cols, row-major): activations that do
    // not come from tokens (the logit lens feeds tapped residuals back to the
    // output head). (optional)
    virtual void upload(const float* /*src*/, Act /*out*/) { unsupported("upload"); }
    // logits = W in for in's rows, into the pass's host logits.
    virtual void output(const Weight& w, Act in) = 0;

  protected:
    [[noreturn]] void unsupported(const char* op) const;
};

// --- registry ---
struct BackendOptions {
    int threads = 0;               // compute threads of a host backend (0: all cores)
    bool batch_invariant = false;  // never the prompt-batch summation order (CPU)
};

struct BackendInfo {
    std::string name;         // cpu, cuda
    std::string description;  // one line
    int priority = 0;         // "auto" takes the available one with the highest
    // Whether it can run here now, and if not why (not built, no device, ...).
    std::function<bool(std::string& why_not)> available;
    std::function<std::unique_ptr<Backend>(const Model&, const BackendOptions&)> make;
};
void register_backend(BackendInfo info);
std::vector<BackendInfo> backends();  // in preference order for "auto"
// "cpu", "cuda", or "auto" (the first available in preference order).
// `reason` says why this one was chosen; an unknown or unavailable backend is
// an rs::Error naming it and the reason.
std::unique_ptr<Backend> make_backend(const std::string& name, const Model& model,
                                      const BackendOptions& opt, std::string* reason = nullptr);

}  // namespace rs
