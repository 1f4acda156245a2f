// What an architecture file reads a GGUF with: its hyperparameters (keys
// prefixed with the architecture's name) and its tensors, each checked for
// shape, with errors that name the file and the key or tensor.
#pragma once

#include <string>
#include <vector>

#include "reasonscope/model.h"

namespace rs {

class ModelLoader {
  public:
    ModelLoader(Model& model, const std::string& path) : m_(model), path_(path) {}
    Model& model() { return m_; }
    ModelConfig& config() { return m_.cfg_; }
    const GgufFile& file() const { return *m_.file_; }
    const std::string& path() const { return path_; }

    // "<arch>.<key>"
    std::string key(const std::string& k) const { return m_.cfg_.arch + "." + k; }
    bool has(const std::string& k) const { return file().has(key(k)); }
    int positive_int(const std::string& k) const;  // required, 1 .. 2^24
    int positive_int(const std::string& k, int dflt) const;
    double get_float(const std::string& k, double dflt) const;
    std::string get_string(const std::string& k, const std::string& dflt) const;

    // A tensor of this shape (ggml order: innermost first); absent and not
    // required: an empty Weight.
    Weight tensor(const std::string& name, std::vector<int64_t> shape, bool required) const;
    // A vector of n F32 values (norm weights, biases, frequency factors).
    Weight vector(const std::string& name, int64_t n, bool required) const;
    // An F32 tensor of this shape (per-expert biases).
    Weight f32_tensor(const std::string& name, std::vector<int64_t> shape, bool required) const;
    [[noreturn]] void fail(const std::string& what) const;

  private:
    Model& m_;
    std::string path_;
};

// The llama family's hyperparameters (llama, qwen2, qwen3, ...): sizes,
// RoPE, norm epsilon; rope_neox is left to the caller.
void read_llama_hparams(ModelLoader& ld);
// Its tensors: embeddings, output (tied when absent), and per layer the
// attention (optional Q/K/V biases and Q/K norms) and the gated FFN.
void read_llama_tensors(ModelLoader& ld, bool qk_norm_required);
// One layer's attention tensors as the llama family has them (Q/K/V/O,
// optional Q/K/V biases, Q/K norms).
void read_attention_tensors(ModelLoader& ld, int layer, LayerWeights& L, bool qk_norm_required);
// One layer's mixture of experts: router (optional bias), stacked gate/up/down
// experts (optional per-expert biases); read_moe_hparams first.
void read_moe_tensors(ModelLoader& ld, int layer, LayerWeights& L);
// Embeddings, output norm and output (tied when absent): what every
// architecture reads besides its layers.
void read_io_tensors(ModelLoader& ld);
// Rows r0 .. r0 + n of a matrix, as a Weight of its own (a fused tensor's part).
Weight weight_rows(const Weight& w, int64_t r0, int64_t n);
// Mixture-of-experts hyperparameters (expert_count, expert_used_count,
// expert_feed_forward_length), checked.
void read_moe_hparams(ModelLoader& ld);

}  // namespace rs
