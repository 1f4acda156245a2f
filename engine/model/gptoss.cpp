// gpt-oss: attention with Q/K/V/O biases, a learned sink logit per head
// (attn_sinks), a 16..128-token sliding window on every even layer (global
// on the odd ones), YaRN RoPE (neox pairs); a mixture of experts with router
// and expert biases: the top expert_used_count router logits, a softmax over
// just those, each expert's clamped SwiGLU (alpha 1.702, limit 7:
// g * sigmoid(1.702 g) * (u + 1)). Its "post_attention_norm" is the norm
// before the experts.
//
//   x = embed(tokens)
//   per layer:
//     h = rmsnorm(x) * attn_norm
//     q, k, v = h Wq + bq, h Wk + bk, h Wv + bv; rope(q), rope(k); K/V cache <- k, v
//     x += attention(q; window on even layers, sinks) Wo + bo
//     h = rmsnorm(x) * post_attention_norm
//     x += moe(h Wrouter + brouter, h)
//   logits = rmsnorm(x) * output_norm, Wout
//
// Expert matrices may be MXFP4 (as released); the backend computes them
// as it computes any weight type it supports.
#include <cmath>

#include "model/llama.h"
#include "model/model_loader.h"

namespace rs {
namespace {

enum Slot { kX, kH, kQ, kK, kV, kAtt, kRouter, kMoe, kA, kB };

class GptOss final : public Architecture {
  public:
    std::string name() const override { return "gpt-oss"; }
    void load(ModelLoader& ld) const override {
        read_llama_hparams(ld);
        read_moe_hparams(ld);
        ModelConfig& c = ld.config();
        c.rope_neox = true;
        c.sliding_window = ld.positive_int("attention.sliding_window");
        read_io_tensors(ld);
        Model& m = ld.model();
        for (int l = 0; l < c.n_layers; ++l) {
            const std::string p = "blk." + std::to_string(l) + ".";
            LayerWeights L;
            read_attention_tensors(ld, l, L, false);
            L.bo = ld.vector(p + "attn_output.bias", c.dim, false);
            L.attn_sinks = ld.vector(p + "attn_sinks.weight", c.n_heads, true);
            L.post_attn_norm = ld.vector(p + "post_attention_norm.weight", c.dim, true);
            read_moe_tensors(ld, l, L);
            m.layers.push_back(L);
        }
    }

    void forward(const Model& m, Backend& be, const Pass& pass) const override {
        const ModelConfig& c = m.config();
        const int R = static_cast<int>(pass.rows.size());
        const int D = c.dim, Qd = c.q_dim(), KVd = c.kv_dim(), hd = c.head_dim;
        const RopeSpec rope = rope_spec(m);
        const Act x = be.act(kX, R, D), h = be.act(kH, R, D);
        const Act q = be.act(kQ, R, Qd), k = be.act(kK, R, KVd), v = be.act(kV, R, KVd);
        const Act att = be.act(kAtt, R, Qd), logits = be.act(kRouter, R, c.n_experts);
        const Act moe_out = be.act(kMoe, R, D);
        be.embed(m.tok_embd, x);
        for (int l = 0; l < c.n_layers; ++l) {
            const LayerWeights& L = m.layers[static_cast<size_t>(l)];
            be.rmsnorm(x, L.attn_norm, h, D, c.norm_eps);
            qkv_projections(be, L, h, q, k, v);
            be.rope(q, c.n_heads, hd, rope);
            be.rope(k, c.n_kv_heads, hd, rope);
            be.store_kv(l, k, v);
            AttnSpec attn{c.n_heads, c.n_kv_heads, hd,
                          1.0f / std::sqrt(static_cast<float>(rope.n_dims))};
            if (l % 2 == 0) attn.window = c.sliding_window;
            attn.sinks = &L.attn_sinks;
            be.attention(l, q, att, attn);
            be.matmul(L.wo, att, h);
            if (L.bo) be.add_bias(h, L.bo);
            be.add(x, h);

            be.rmsnorm(x, L.post_attn_norm, h, D, c.norm_eps);
            be.matmul(L.ffn_gate_inp, h, logits);
            if (L.ffn_gate_inp_b) be.add_bias(logits, L.ffn_gate_inp_b);
            MoeSpec s;
            s.n_experts = c.n_experts;
            s.n_used = c.n_experts_used;
            s.gating = MoeSpec::Gating::SoftmaxSelected;
            s.glu = MoeSpec::Glu::SwiGluOai;
            s.gate = &L.ffn_gate_exps;
            s.up = &L.ffn_up_exps;
            s.down = &L.ffn_down_exps;
            s.gate_b = L.ffn_gate_exps_b ? &L.ffn_gate_exps_b : nullptr;
            s.up_b = L.ffn_up_exps_b ? &L.ffn_up_exps_b : nullptr;
            s.down_b = L.ffn_down_exps_b ? &L.ffn_down_exps_b : nullptr;
            be.moe(s, logits, h, moe_out);
            be.add(x, moe_out);
            be.tap(l, x);
        }
        output_rows(m, be, pass, x, kA, kB);
    }
};

const GptOss kGptOss;
const ArchitectureRegistrar kRegister(kGptOss);

}  // namespace
}  // namespace rs
