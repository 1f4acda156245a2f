// The llama family's forward pass (llama; qwen2, qwen3, qwen3moe, phi3 and
// smollm3 reuse it with their own tensors and LlamaVariant, see their
// files), in backend ops:
//
//   x = embed(tokens)                                   (rows, dim)
//   per layer:
//     h = rmsnorm(x) * attn_norm
//     q, k, v = h Wq (+bq), h Wk (+bk), h Wv (+bv)      (rows, heads * head_dim)
//     q, k = rmsnorm per head * q_norm, k_norm          (qwen3)
//     q, k = rope(q), rope(k) (not on NoPE layers); K/V cache <- k, v
//     x += attention(q over the cache) Wo
//     h = rmsnorm(x) * ffn_norm
//     x += (silu(h Wgate) * h Wup) Wdown
//       or, with a router (qwen3moe), x += moe(h): softmax over the experts,
//       the top k renormalised, each one's silu-gated FFN
//     tap(layer, x)
//   logits = rmsnorm(x) * output_norm, Wout             (rows that ask)
#include "model/llama.h"

#include <algorithm>
#include <cmath>

#include "model/model_loader.h"

namespace rs {
namespace {

// Activation slots of this graph.
enum Slot { kX, kH, kQ, kK, kV, kAtt, kG, kU, kOut, kRouter };

}  // namespace

void qkv_projections(Backend& be, const LayerWeights& L, Act h, Act q, Act k, Act v) {
    be.matmul(L.wq, h, q);
    be.matmul(L.wk, h, k);
    be.matmul(L.wv, h, v);
    if (L.bq) be.add_bias(q, L.bq);
    if (L.bk) be.add_bias(k, L.bk);
    if (L.bv) be.add_bias(v, L.bv);
}

RopeSpec rope_spec(const Model& m) {
    const ModelConfig& c = m.config();
    RopeSpec r{c.rope_dim, c.rope_neox, c.rope_base, c.rope_freq_scale,
               m.rope_freqs ? &m.rope_freqs : nullptr};
    r.ext_factor = c.rope_ext_factor;
    r.attn_factor = c.rope_attn_factor;
    r.beta_fast = c.rope_beta_fast;
    r.beta_slow = c.rope_beta_slow;
    r.n_ctx_orig = c.rope_ctx_orig > 0 ? c.rope_ctx_orig : c.ctx;
    return r;
}

void output_rows(const Model& m, Backend& be, const Pass& pass, Act x, int slot_a, int slot_b) {
    const ModelConfig& c = m.config();
    const int R = static_cast<int>(pass.rows.size()), D = c.dim;
    const int n_out = static_cast<int>(std::count_if(pass.rows.begin(), pass.rows.end(),
                                                     [](const BatchRow& r) { return r.logits; }));
    if (n_out == 0) return;
    if (pass.taps) {  // -1: the final norm's output
        const Act t = be.act(slot_b, R, D);
        be.rmsnorm(x, m.output_norm, t, D, c.norm_eps);
        be.tap(-1, t);
    }
    // Final norm and output projection only for rows that want logits.
    const Act sel = be.act(slot_a, n_out, D), normed = be.act(slot_b, n_out, D);
    be.gather_logit_rows(x, sel);
    be.rmsnorm(sel, m.output_norm, normed, D, c.norm_eps);
    be.output(m.output, normed);
}

MoeSpec moe_spec(const ModelConfig& c, const LayerWeights& L) {
    MoeSpec s;
    s.n_experts = c.n_experts;
    s.n_used = c.n_experts_used;
    s.gating = MoeSpec::Gating::Softmax;
    s.norm_weights = true;
    s.glu = MoeSpec::Glu::SiLU;
    s.gate = &L.ffn_gate_exps;
    s.up = &L.ffn_up_exps;
    s.down = &L.ffn_down_exps;
    return s;
}

void llama_forward(const Model& m, Backend& be, const Pass& pass, const LlamaVariant& variant) {
    const ModelConfig& c = m.config();
    const int R = static_cast<int>(pass.rows.size());
    const int D = c.dim, Qd = c.q_dim(), KVd = c.kv_dim(), F = c.ffn_dim, hd = c.head_dim;
    const RopeSpec rope = rope_spec(m);
    const float kq_scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const AttnSpec attn{c.n_heads, c.n_kv_heads, hd, variant.scale_query ? 1.0f : kq_scale};

    const Act x = be.act(kX, R, D), h = be.act(kH, R, D);
    const Act q = be.act(kQ, R, Qd), k = be.act(kK, R, KVd), v = be.act(kV, R, KVd);
    const Act att = be.act(kAtt, R, Qd), g = be.act(kG, R, F), u = be.act(kU, R, F);
    be.embed(m.tok_embd, x);
    for (int l = 0; l < c.n_layers; ++l) {
        const LayerWeights& L = m.layers[static_cast<size_t>(l)];
        be.rmsnorm(x, L.attn_norm, h, D, c.norm_eps);
        qkv_projections(be, L, h, q, k, v);
        if (L.q_norm) {
            be.rmsnorm(q, L.q_norm, q, hd, c.norm_eps);
            be.rmsnorm(k, L.k_norm, k, hd, c.norm_eps);
        }
        if (variant.no_rope_every == 0 || (l + 1) % variant.no_rope_every != 0) {
            be.rope(q, c.n_heads, hd, rope);
            be.rope(k, c.n_kv_heads, hd, rope);
        }
        be.store_kv(l, k, v);
        if (variant.scale_query) be.scale(q, kq_scale);
        be.attention(l, q, att, attn);
        be.matmul(L.wo, att, h);
        be.add(x, h);

        be.rmsnorm(x, L.ffn_norm, h, D, c.norm_eps);
        if (L.ffn_gate_inp) {  // mixture of experts (qwen3moe)
            const Act logits = be.act(kRouter, R, c.n_experts), moe_out = be.act(kAtt, R, D);
            be.matmul(L.ffn_gate_inp, h, logits);
            be.moe(moe_spec(c, L), logits, h, moe_out);
            be.add(x, moe_out);
        } else {
            be.matmul(L.ffn_gate, h, g);
            be.matmul(L.ffn_up, h, u);
            be.swiglu(g, u, g);
            be.matmul(L.ffn_down, g, h);
            be.add(x, h);
        }
        be.tap(l, x);
    }
    output_rows(m, be, pass, x, kH, kOut);
}

namespace {

class Llama final : public Architecture {
  public:
    std::string name() const override { return "llama"; }
    void load(ModelLoader& ld) const override {
        read_llama_hparams(ld);
        ld.config().rope_neox = false;
        read_llama_tensors(ld, false);
    }
    void forward(const Model& m, Backend& be, const Pass& pass) const override {
        llama_forward(m, be, pass);
    }
};

const Llama kLlama;
const ArchitectureRegistrar kRegister(kLlama);

}  // namespace
}  // namespace rs
