// Qwen3-MoE: qwen3's attention (per-head Q/K RMS norms, neox RoPE) and a
// mixture of experts in place of the FFN: a router (ffn_gate_inp), a softmax
// over all experts, the top expert_used_count of them with their weights
// renormalised to sum 1, each a SiLU-gated FFN from the stacked
// ffn_{gate,up,down}_exps tensors. The graph is llama's (llama_forward takes
// the MoE branch for layers with a router); the backend reads only the
// chosen experts' matrices.
#include "model/llama.h"
#include "model/model_loader.h"

namespace rs {
namespace {

class Qwen3Moe final : public Architecture {
  public:
    std::string name() const override { return "qwen3moe"; }
    void load(ModelLoader& ld) const override {
        read_llama_hparams(ld);
        read_moe_hparams(ld);
        ModelConfig& c = ld.config();
        c.rope_neox = true;
        read_io_tensors(ld);
        Model& m = ld.model();
        for (int l = 0; l < c.n_layers; ++l) {
            LayerWeights L;
            read_attention_tensors(ld, l, L, true);
            L.ffn_norm = ld.vector("blk." + std::to_string(l) + ".ffn_norm.weight", c.dim, true);
            read_moe_tensors(ld, l, L);
            m.layers.push_back(L);
        }
    }
    void forward(const Model& m, Backend& be, const Pass& pass) const override {
        llama_forward(m, be, pass);
    }
};

const Qwen3Moe kQwen3Moe;
const ArchitectureRegistrar kRegister(kQwen3Moe);

}  // namespace
}  // namespace rs
