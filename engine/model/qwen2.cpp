// Qwen2 (and Qwen2.5, DeepSeek-R1-Distill-Qwen): the llama graph with biases
// on Q, K and V, and RoPE over the two halves of each head (neox pairs).
#include "model/llama.h"
#include "model/model_loader.h"

namespace rs {
namespace {

class Qwen2 final : public Architecture {
  public:
    std::string name() const override { return "qwen2"; }
    void load(ModelLoader& ld) const override {
        read_llama_hparams(ld);
        ld.config().rope_neox = true;
        read_llama_tensors(ld, false);  // biases optional: llama_forward adds those present
    }
    void forward(const Model& m, Backend& be, const Pass& pass) const override {
        llama_forward(m, be, pass);
    }
};

const Qwen2 kQwen2;
const ArchitectureRegistrar kRegister(kQwen2);

}  // namespace
}  // namespace rs
