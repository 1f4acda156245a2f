// Phi-3: the llama graph with Q, K and V in one fused matrix (attn_qkv: the
// rows of Q, then K, then V) and the FFN's gate and up in one (ffn_up: gate
// rows, then up rows); neox RoPE. The fused matrices are read as row ranges
// (weight_rows), so the graph is llama's, with the queries scaled by
// 1 / sqrt(head) before attention (as llama.cpp's phi3 graph does).
#include "model/llama.h"
#include "model/model_loader.h"

namespace rs {
namespace {

class Phi3 final : public Architecture {
  public:
    std::string name() const override { return "phi3"; }
    void load(ModelLoader& ld) const override {
        read_llama_hparams(ld);
        ModelConfig& c = ld.config();
        c.rope_neox = true;
        if (ld.file().find_tensor("rope_factors_long.weight") ||
            ld.file().find_tensor("rope_factors_short.weight"))
            ld.fail("phi3 with LongRoPE (rope_factors_long/short) is not supported");
        read_io_tensors(ld);
        Model& m = ld.model();
        const int64_t D = c.dim, Q = c.q_dim(), KV = c.kv_dim(), F = c.ffn_dim;
        for (int l = 0; l < c.n_layers; ++l) {
            const std::string p = "blk." + std::to_string(l) + ".";
            LayerWeights L;
            L.attn_norm = ld.vector(p + "attn_norm.weight", D, true);
            if (ld.file().find_tensor(p + "attn_qkv.weight")) {
                const Weight qkv = ld.tensor(p + "attn_qkv.weight", {D, Q + 2 * KV}, true);
                L.wq = weight_rows(qkv, 0, Q);
                L.wk = weight_rows(qkv, Q, KV);
                L.wv = weight_rows(qkv, Q + KV, KV);
            } else {
                L.wq = ld.tensor(p + "attn_q.weight", {D, Q}, true);
                L.wk = ld.tensor(p + "attn_k.weight", {D, KV}, true);
                L.wv = ld.tensor(p + "attn_v.weight", {D, KV}, true);
            }
            L.wo = ld.tensor(p + "attn_output.weight", {Q, D}, true);
            L.ffn_norm = ld.vector(p + "ffn_norm.weight", D, true);
            const Weight up = ld.tensor(p + "ffn_up.weight", {D, 2 * F}, true);
            L.ffn_gate = weight_rows(up, 0, F);
            L.ffn_up = weight_rows(up, F, F);
            L.ffn_down = ld.tensor(p + "ffn_down.weight", {F, D}, true);
            m.layers.push_back(L);
        }
    }
    void forward(const Model& m, Backend& be, const Pass& pass) const override {
        llama_forward(m, be, pass, LlamaVariant{.scale_query = true});
    }
};

const Phi3 kPhi3;
const ArchitectureRegistrar kRegister(kPhi3);

}  // namespace
}  // namespace rs
