// A llama-family model loaded from GGUF: hyperparameters, tokenizer and
// weights used in place from the memory map (never copied).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reasonscope/gguf.h"
#include "reasonscope/tokenizer.h"

namespace rs {

struct ModelConfig {
    std::string arch;  // general.architecture: llama, qwen2, qwen3
    int n_vocab = 0;
    int dim = 0;  // embedding length
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
    int ffn_dim = 0;
    int ctx = 0;  // trained context length
    int rope_dim = 0;
    bool rope_neox = false;  // rotate (i, i+d/2) pairs instead of (2i, 2i+1)
    float rope_base = 10000.f;
    float rope_freq_scale = 1.f;  // linear scaling
    float norm_eps = 1e-5f;
    bool qkv_bias = false;
    bool qk_norm = false;
    bool tied_output = false;
    int q_dim() const { return n_heads * head_dim; }
    int kv_dim() const { return n_kv_heads * head_dim; }
};

// A weight matrix: `rows` rows of `cols` elements of a GGUF type, row-major.
struct Weight {
    const GgufTensor* tensor = nullptr;
    const uint8_t* data = nullptr;
    uint32_t type = 0;
    int64_t cols = 0, rows = 0;
    size_t row_bytes = 0;
    // Q4_0 matrices: the same weights repacked into 16-row tiles for the
    // matrix product (kernels.h), or null when used in place.
    const uint8_t* packed = nullptr;
    explicit operator bool() const { return data != nullptr; }
    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

struct LayerWeights {
    Weight attn_norm, wq, wk, wv, wo, bq, bk, bv, q_norm, k_norm;
    Weight ffn_norm, ffn_gate, ffn_up, ffn_down;
};

class Model {
  public:
    // Throws rs::Error naming the file and the problem (unsupported
    // architecture, missing tensor, wrong shape, unsupported type).
    // Q4_0 matrices are repacked at load into the tile layout of the CPU
    // matrix product (same size; the file's pages for them are released), so
    // every product streams them without transposing; RS_REPACK=0 in the
    // environment keeps them in place.
    static std::unique_ptr<Model> load(const std::string& path);

    const ModelConfig& config() const { return cfg_; }
    const Tokenizer& tokenizer() const { return *tok_; }
    const GgufFile& gguf() const { return *file_; }
    const std::string& path() const { return file_->path(); }
    uint64_t weight_bytes() const;  // bytes of all tensors

    Weight tok_embd, output_norm, output, rope_freqs;
    std::vector<LayerWeights> layers;

  private:
    void repack();
    ModelConfig cfg_;
    std::unique_ptr<GgufFile> file_;
    std::vector<std::unique_ptr<uint8_t, void (*)(uint8_t*)>> packed_;
    std::unique_ptr<Tokenizer> tok_;
};

}  // namespace rs
