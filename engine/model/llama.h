// The llama family's forward pass, shared by the architectures that are
// llama with other tensors (qwen2: Q/K/V biases; qwen3: Q/K norms).
#pragma once

#include "reasonscope/architecture.h"

namespace rs {

void llama_forward(const Model& m, Backend& be, const Pass& pass);

}  // namespace rs
