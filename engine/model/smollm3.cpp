// SmolLM3: the llama graph (no biases, no Q/K norms, adjacent RoPE pairs)
// whose every 4th layer attends without position encoding (NoPE: layers
// 3, 7, 11, ...). The step is not in the GGUF metadata; 4 is the
// architecture's (as llama.cpp has it).
#include "model/llama.h"
#include "model/model_loader.h"

namespace rs {
namespace {

class SmolLm3 final : public Architecture {
  public:
    std::string name() const override { return "smollm3"; }
    void load(ModelLoader& ld) const override {
        read_llama_hparams(ld);
        ld.config().rope_neox = false;
        read_llama_tensors(ld, false);
    }
    void forward(const Model& m, Backend& be, const Pass& pass) const override {
        llama_forward(m, be, pass, LlamaVariant{.no_rope_every = 4});
    }
};

const SmolLm3 kSmolLm3;
const ArchitectureRegistrar kRegister(kSmolLm3);

}  // namespace
}  // namespace rs
