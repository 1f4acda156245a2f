// A model loaded from GGUF: hyperparameters, tokenizer and weights used in
// place from the memory map, and the architecture file (engine/model/) that
// read them and writes its forward pass in backend ops. Backends prepare the
// weights their own way (prepared()), once per model.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "reasonscope/gguf.h"
#include "reasonscope/tokenizer.h"

namespace rs {

class Architecture;

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
    // Sliding-window attention (gemma3, gpt-oss): the window of the layers
    // that use one (which ones is the architecture's), and their RoPE base.
    int sliding_window = 0;
    float rope_base_swa = 10000.f;
    // YaRN RoPE (gpt-oss): ext_factor 0 = none (RopeSpec has the meaning).
    float rope_ext_factor = 0.f, rope_attn_factor = 1.f;
    float rope_beta_fast = 32.f, rope_beta_slow = 1.f;
    int rope_ctx_orig = 0;
    // Mixture of experts (qwen3moe, gpt-oss): experts, experts used per token,
    // each expert's FFN width.
    int n_experts = 0, n_experts_used = 0, expert_ffn_dim = 0;
    int q_dim() const { return n_heads * head_dim; }
    int kv_dim() const { return n_kv_heads * head_dim; }
};

// A weight tensor as the file holds it: `rows` rows of `cols` elements of a
// GGUF type, row-major. `index` numbers the model's weights (0..) so backends
// keep their prepared forms in arrays.
struct Weight {
    const GgufTensor* tensor = nullptr;
    const uint8_t* data = nullptr;
    uint32_t type = 0;
    int64_t cols = 0, rows = 0;
    size_t row_bytes = 0;
    int index = -1;
    explicit operator bool() const { return data != nullptr; }
    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

// A layer's tensors (the llama family's, and what other architectures add);
// absent ones (biases, Q/K norms, ...) are empty Weights. wq/wk/wv (and
// ffn_gate/ffn_up) may be row ranges of one fused tensor (phi3).
struct LayerWeights {
    Weight attn_norm, wq, wk, wv, wo, bq, bk, bv, q_norm, k_norm;
    Weight ffn_norm, ffn_gate, ffn_up, ffn_down;
    Weight bo;                             // attention output bias (gpt-oss)
    Weight attn_sinks;                     // per-head sink logits (gpt-oss)
    Weight post_attn_norm, post_ffn_norm;  // gemma3's norms after attention / FFN
    // Mixture of experts: router (and its bias), stacked experts and their biases.
    Weight ffn_gate_inp, ffn_gate_inp_b;
    Weight ffn_gate_exps, ffn_up_exps, ffn_down_exps;
    Weight ffn_gate_exps_b, ffn_up_exps_b, ffn_down_exps_b;
};

// A backend's prepared form of a model's weights (repacked tiles, device
// copies); made once per model and backend and shared by its sessions.
class PreparedWeights {
  public:
    virtual ~PreparedWeights() = default;
};

class Model {
  public:
    // Throws rs::Error naming the file and the problem (unsupported
    // architecture, missing tensor, wrong shape, unknown type).
    static std::unique_ptr<Model> load(const std::string& path);
    // The file's metadata and tokenizer only, for a model that runs on a
    // server (the remote generator): any architecture, no tensors read;
    // config() has arch, n_vocab and ctx. Not for a Session.
    static std::unique_ptr<Model> load_vocab(const std::string& path);
    bool has_weights() const { return arch_ != nullptr; }

    const ModelConfig& config() const { return cfg_; }
    const Architecture& architecture() const { return *arch_; }
    const Tokenizer& tokenizer() const { return *tok_; }
    const GgufFile& gguf() const { return *file_; }
    const std::string& path() const { return file_->path(); }
    uint64_t weight_bytes() const;  // bytes of all tensors

    Weight tok_embd, output_norm, output, rope_freqs;
    std::vector<LayerWeights> layers;
    // Every weight with data, by index (a tied output is tok_embd itself).
    const std::vector<const Weight*>& weights() const { return weights_; }

    // The prepared form under `key` (a backend's name), made by `make` the
    // first time; thread-safe.
    std::shared_ptr<PreparedWeights> prepared(
        const std::string& key,
        const std::function<std::shared_ptr<PreparedWeights>()>& make) const;

  private:
    friend class ModelLoader;
    void index_weights();
    ModelConfig cfg_;
    const Architecture* arch_ = nullptr;
    std::unique_ptr<GgufFile> file_;
    std::unique_ptr<Tokenizer> tok_;
    std::vector<const Weight*> weights_;
    mutable std::mutex prepared_mu_;
    mutable std::map<std::string, std::shared_ptr<PreparedWeights>> prepared_;
};

}  // namespace rs
