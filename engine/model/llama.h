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
    // Queries times 1/sqrt(head) before attention (score scale 1) instead of
    // scaling the scores: the same up to rounding, as phi3's graph has it.
    bool scale_query = false;
};

void llama_forward(const Model& m, Backend& be, const Pass& pass, const LlamaVariant& v = {});

// A layer's mixture of experts as the llama family routes it (softmax over
// all experts, the top k renormalised, SiLU-gated experts).
MoeSpec moe_spec(const ModelConfig& c, const LayerWeights& L);

// A layer's query, key and value projections of h, with their biases where
// the layer has them.
void qkv_projections(Backend& be, const LayerWeights& L, Act h, Act q, Act k, Act v);

// The model's RoPE as its config has it (base, scaling, YaRN, frequency factors).
RopeSpec rope_spec(const Model& m);

// The last step of every graph: the final norm and the output projection for
// the rows that want logits (and the -1 tap); x is the residual stream, kH and
// kOut two free slots.
void output_rows(const Model& m, Backend& be, const Pass& pass, Act x, int slot_a, int slot_b);

}  // namespace rs
