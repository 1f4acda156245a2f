// Gemma 3 (text): the llama family's tensors plus a norm after attention
// and after the FFN (post_attention_norm, post_ffw_norm), in a graph of its
// own:
//
//   x = embed(tokens) * sqrt(dim)
//   per layer (5 of every 6 attend within a sliding window, RoPE base
//   rope.freq_base_swa; every 6th globally, rope.freq_base):
//     h = rmsnorm(x) * attn_norm
//     q, k = rmsnorm per head * q_norm, k_norm; rope; K/V cache <- k, v
//     q *= 1 / sqrt(head)                         (scores then unscaled)
//     x += rmsnorm(attention(q) Wo) * post_attention_norm
//     h = rmsnorm(x) * ffn_norm
//     x += rmsnorm((gelu(h Wgate) * h Wup) Wdown) * post_ffw_norm
//   logits = rmsnorm(x) * output_norm, Wout (tied to the embeddings)
//
// The converter stores every norm weight as 1 + w (Gemma's convention), so
// the weights multiply as they are. GELU is the tanh form, looked up at F16
// precision as ggml does (Backend::geglu).
#include <cmath>

#include "model/llama.h"
#include "model/model_loader.h"

namespace rs {
namespace {

enum Slot { kX, kH, kQ, kK, kV, kAtt, kG, kU, kA, kB };

// Every 6th layer is global, the others slide (llama.cpp's swa pattern 6).
bool sliding(const ModelConfig& c, int l) {
    return c.sliding_window > 0 && l % 6 < 5;
}

class Gemma3 final : public Architecture {
  public:
    std::string name() const override { return "gemma3"; }
    void load(ModelLoader& ld) const override {
        read_llama_hparams(ld);
        ModelConfig& c = ld.config();
        c.rope_neox = true;
        c.sliding_window =
            ld.has("attention.sliding_window") ? ld.positive_int("attention.sliding_window") : 0;
        c.rope_base_swa = static_cast<float>(ld.get_float("rope.freq_base_swa", 10000.0));
        if (ld.get_float("final_logit_softcapping", 0.0) != 0.0 ||
            ld.get_float("attn_logit_softcapping", 0.0) != 0.0)
            ld.fail("gemma3 with logit soft-capping is not supported");
        read_llama_tensors(ld, true);
        Model& m = ld.model();
        for (int l = 0; l < c.n_layers; ++l) {
            const std::string p = "blk." + std::to_string(l) + ".";
            LayerWeights& L = m.layers[static_cast<size_t>(l)];
            L.post_attn_norm = ld.vector(p + "post_attention_norm.weight", c.dim, true);
            L.post_ffn_norm = ld.vector(p + "post_ffw_norm.weight", c.dim, true);
        }
    }

    void forward(const Model& m, Backend& be, const Pass& pass) const override {
        const ModelConfig& c = m.config();
        const int R = static_cast<int>(pass.rows.size());
        const int D = c.dim, Qd = c.q_dim(), KVd = c.kv_dim(), F = c.ffn_dim, hd = c.head_dim;
        const RopeSpec global = rope_spec(m);
        RopeSpec local = global;  // sliding layers: their own base, no scaling
        local.base = c.rope_base_swa;
        local.freq_scale = 1.0f;
        // llama.cpp's f_attention_scale (the 27B model's is over dim / heads).
        const float q_scale =
            1.0f / std::sqrt(static_cast<float>(c.n_layers == 62 ? D / c.n_heads : hd));

        const Act x = be.act(kX, R, D), h = be.act(kH, R, D);
        const Act q = be.act(kQ, R, Qd), k = be.act(kK, R, KVd), v = be.act(kV, R, KVd);
        const Act att = be.act(kAtt, R, Qd), g = be.act(kG, R, F), u = be.act(kU, R, F);
        be.embed(m.tok_embd, x);
        be.scale(x, std::sqrt(static_cast<float>(D)));
        for (int l = 0; l < c.n_layers; ++l) {
            const LayerWeights& L = m.layers[static_cast<size_t>(l)];
            const bool swa = sliding(c, l);
            be.rmsnorm(x, L.attn_norm, h, D, c.norm_eps);
            qkv_projections(be, L, h, q, k, v);
            be.rmsnorm(q, L.q_norm, q, hd, c.norm_eps);
            be.rope(q, c.n_heads, hd, swa ? local : global);
            be.rmsnorm(k, L.k_norm, k, hd, c.norm_eps);
            be.rope(k, c.n_kv_heads, hd, swa ? local : global);
            be.store_kv(l, k, v);
            be.scale(q, q_scale);
            AttnSpec attn{c.n_heads, c.n_kv_heads, hd, 1.0f};
            if (swa) attn.window = c.sliding_window;
            be.attention(l, q, att, attn);
            be.matmul(L.wo, att, h);
            be.rmsnorm(h, L.post_attn_norm, h, D, c.norm_eps);
            be.add(x, h);

            be.rmsnorm(x, L.ffn_norm, h, D, c.norm_eps);
            be.matmul(L.ffn_gate, h, g);
            be.matmul(L.ffn_up, h, u);
            be.geglu(g, u, g);
            be.matmul(L.ffn_down, g, h);
            be.rmsnorm(h, L.post_ffn_norm, h, D, c.norm_eps);
            be.add(x, h);
            be.tap(l, x);
        }
        output_rows(m, be, pass, x, kA, kB);
    }
};

const Gemma3 kGemma3;
const ArchitectureRegistrar kRegister(kGemma3);

}  // namespace
}  // namespace rs
