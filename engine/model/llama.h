// The llama family's forward pass, shared by the architectures that are
// llama with other tensors (qwen2: Q/K/V biases; qwen3: Q/K norms).
#pragma once

#include "reasonscope/architecture.h"

namespace rs {

// What the family's members change in the graph (tensors aside: absent
// biases and Q/K norms are skipped by the graph itself).
struct LlamaVariant {
    // Every n-th layer (n, 2n, ... counting from 1) attends without RoPE
    // (SmolLM3's NoPE layers); 0: RoPE everywhere.
    int no_rope_every = 0;
};

void llama_forward(const Model& m, Backend& be, const Pass& pass, const LlamaVariant& v = {});

}  // namespace rs
