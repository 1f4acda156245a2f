// Qwen3 (dense): the llama graph with an RMSNorm on each query and key head
// before RoPE (attn_q_norm / attn_k_norm, required), neox RoPE pairs, no biases.
#include "model/llama.h"
#include "model/model_loader.h"

namespace rs {
namespace {

class Qwen3 final : public Architecture {
  public:
    std::string name() const override { return "qwen3"; }
    void load(ModelLoader& ld) const override {
        read_llama_hparams(ld);
        ld.config().rope_neox = true;
        read_llama_tensors(ld, true);
    }
    void forward(const Model& m, Backend& be, const Pass& pass) const override {
        llama_forward(m, be, pass);
    }
};

const Qwen3 kQwen3;
const ArchitectureRegistrar kRegister(kQwen3);

}  // namespace
}  // namespace rs
