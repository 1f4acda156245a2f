#include "reasonscope/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "model/model_loader.h"
#include "reasonscope/architecture.h"
#include "reasonscope/error.h"

namespace rs {
namespace {

std::vector<const Architecture*>& registry() {
    static std::vector<const Architecture*> r;
    return r;
}

}  // namespace

ArchitectureRegistrar::ArchitectureRegistrar(const Architecture& arch) {
    registry().push_back(&arch);
}

const Architecture* find_architecture(const std::string& name) {
    for (const Architecture* a : registry())
        if (a->name() == name) return a;
    return nullptr;
}

std::vector<std::string> architecture_names() {
    std::vector<std::string> n;
    for (const Architecture* a : registry()) n.push_back(a->name());
    std::sort(n.begin(), n.end());
    return n;
}

void ModelLoader::fail(const std::string& what) const {
    throw Error(path_ + ": " + what);
}

int ModelLoader::positive_int(const std::string& k) const {
    const int64_t v = file().get_int(key(k));
    if (v <= 0 || v > (1 << 24)) fail(key(k) + " = " + std::to_string(v) + " is invalid");
    return static_cast<int>(v);
}

int ModelLoader::positive_int(const std::string& k, int dflt) const {
    return has(k) ? positive_int(k) : dflt;
}

double ModelLoader::get_float(const std::string& k, double dflt) const {
    return file().get_float(key(k), dflt);
}

std::string ModelLoader::get_string(const std::string& k, const std::string& dflt) const {
    return file().get_string(key(k), dflt);
}

Weight ModelLoader::tensor(const std::string& name, std::vector<int64_t> shape,
                           bool required) const {
    const GgufTensor* t = file().find_tensor(name);
    if (!t) {
        if (required) fail("missing tensor '" + name + "'");
        return {};
    }
    std::vector<int64_t> dims = t->dims;
    while (dims.size() > shape.size() && dims.back() == 1) dims.pop_back();
    if (dims != shape) {
        std::string want, got;
        for (auto d : shape) want += (want.empty() ? "" : "x") + std::to_string(d);
        for (auto d : t->dims) got += (got.empty() ? "" : "x") + std::to_string(d);
        fail("tensor '" + name + "' has shape " + got + ", expected " + want);
    }
    Weight w;
    w.tensor = t;
    w.data = t->data;
    w.type = static_cast<uint32_t>(t->type);
    w.cols = t->dims[0];
    w.rows = t->n_elements() / w.cols;
    w.row_bytes = static_cast<size_t>(t->n_bytes / static_cast<uint64_t>(w.rows));
    return w;
}

Weight ModelLoader::vector(const std::string& name, int64_t n, bool required) const {
    Weight w = tensor(name, {n}, required);
    if (w && w.type != static_cast<uint32_t>(GgmlType::F32))
        fail("tensor '" + name + "' must be F32, it is " + std::string(type_name(w.tensor->type)));
    return w;
}

Weight ModelLoader::f32_tensor(const std::string& name, std::vector<int64_t> shape,
                               bool required) const {
    Weight w = tensor(name, std::move(shape), required);
    if (w && w.type != static_cast<uint32_t>(GgmlType::F32))
        fail("tensor '" + name + "' must be F32, it is " + std::string(type_name(w.tensor->type)));
    return w;
}

Weight weight_rows(const Weight& w, int64_t r0, int64_t n) {
    Weight v = w;
    v.data = w.row(r0);
    v.rows = n;
    v.index = -1;
    return v;
}

void read_moe_hparams(ModelLoader& ld) {
    ModelConfig& c = ld.config();
    c.n_experts = ld.positive_int("expert_count");
    c.n_experts_used = ld.positive_int("expert_used_count");
    c.expert_ffn_dim = ld.positive_int("expert_feed_forward_length");
    if (c.n_experts_used > c.n_experts)
        ld.fail("expert_used_count " + std::to_string(c.n_experts_used) + " exceeds expert_count " +
                std::to_string(c.n_experts));
}

namespace {
// A float the engine divides or exponentiates by must be a number in range
// (NaN or a non-positive RoPE base makes every logit NaN): else an error
// naming the key.
float positive_float(const ModelLoader& ld, const std::string& k, double dflt, bool zero_ok) {
    const double v = ld.get_float(k, dflt);
    if (!std::isfinite(static_cast<float>(v)) || v < 0 || (v == 0 && !zero_ok)) {
        char b[64];
        std::snprintf(b, sizeof b, "%g", v);
        ld.fail(ld.key(k) + " = " + b + " must be a " + (zero_ok ? "non-negative" : "positive") +
                " number");
    }
    return static_cast<float>(v);
}
}  // namespace

void read_llama_hparams(ModelLoader& ld) {
    ModelConfig& c = ld.config();
    c.dim = ld.positive_int("embedding_length");
    c.n_layers = ld.positive_int("block_count");
    c.n_heads = ld.positive_int("attention.head_count");
    c.n_kv_heads = ld.positive_int("attention.head_count_kv", c.n_heads);
    c.ffn_dim = ld.positive_int("feed_forward_length");
    c.ctx = ld.positive_int("context_length");
    // Without key_length a head is embedding_length / head_count wide.
    if (!ld.has("attention.key_length") && c.dim % c.n_heads != 0)
        ld.fail(ld.key("embedding_length") + " = " + std::to_string(c.dim) +
                " is not a multiple of " + ld.key("attention.head_count") + " = " +
                std::to_string(c.n_heads) + " (and " + ld.key("attention.key_length") +
                " is not given)");
    c.head_dim = ld.positive_int("attention.key_length", c.dim / c.n_heads);
    if (static_cast<int64_t>(c.n_heads) * c.head_dim > (1 << 24))
        ld.fail(ld.key("attention.head_count") + " x head width = " + std::to_string(c.n_heads) +
                " x " + std::to_string(c.head_dim) + " is too large (at most 2^24)");
    if (c.n_heads % c.n_kv_heads != 0)
        ld.fail("head count " + std::to_string(c.n_heads) +
                " is not a multiple of the KV head count " + std::to_string(c.n_kv_heads));
    c.rope_dim = ld.positive_int("rope.dimension_count", c.head_dim);
    if (c.rope_dim > c.head_dim || c.rope_dim % 2)
        ld.fail(ld.key("rope.dimension_count") + " = " + std::to_string(c.rope_dim) +
                " must be even and at most the head width " + std::to_string(c.head_dim));
    c.rope_base = positive_float(ld, "rope.freq_base", 10000.0, false);
    const std::string scaling = ld.get_string("rope.scaling.type", "none");
    if (scaling == "linear") {
        c.rope_freq_scale = 1.0f / positive_float(ld, "rope.scaling.factor", 1.0, false);
    } else if (scaling == "yarn") {
        // As llama.cpp sets it up (llama-context.cpp): ext_factor 1, and an
        // attention factor that cancels ggml's own YaRN magnitude scaling.
        const auto factor = static_cast<float>(ld.get_float("rope.scaling.factor", 1.0));
        if (!(factor >= 1.0f)) ld.fail("rope.scaling.factor must be at least 1 for YaRN");
        if (ld.get_float("rope.scaling.yarn_log_multiplier", 0.0) != 0.0)
            ld.fail("YaRN with rope.scaling.yarn_log_multiplier is not supported");
        c.rope_freq_scale = 1.0f / factor;
        c.rope_ext_factor = 1.0f;
        const float mscale = factor <= 1.0f ? 1.0f : 0.1f * std::log(factor) + 1.0f;
        c.rope_attn_factor = mscale * (1.0f / (1.0f + 0.1f * std::log(factor))) *
                             static_cast<float>(ld.get_float("rope.scaling.attn_factor", 1.0));
        c.rope_beta_fast = static_cast<float>(ld.get_float("rope.scaling.yarn_beta_fast", 32.0));
        c.rope_beta_slow = static_cast<float>(ld.get_float("rope.scaling.yarn_beta_slow", 1.0));
        c.rope_ctx_orig = ld.positive_int("rope.scaling.original_context_length", c.ctx);
    }
    c.norm_eps = positive_float(ld, "attention.layer_norm_rms_epsilon", 1e-5, true);
}

void read_io_tensors(ModelLoader& ld) {
    Model& m = ld.model();
    ModelConfig& c = ld.config();
    const int64_t D = c.dim, V = c.n_vocab;
    m.tok_embd = ld.tensor("token_embd.weight", {D, V}, true);
    m.output_norm = ld.vector("output_norm.weight", D, true);
    m.output = ld.tensor("output.weight", {D, V}, false);
    c.tied_output = !m.output;
}

void read_attention_tensors(ModelLoader& ld, int l, LayerWeights& L, bool qk_norm_required) {
    ModelConfig& c = ld.config();
    const int64_t D = c.dim, Q = c.q_dim(), KV = c.kv_dim();
    const std::string p = "blk." + std::to_string(l) + ".";
    L.attn_norm = ld.vector(p + "attn_norm.weight", D, true);
    L.wq = ld.tensor(p + "attn_q.weight", {D, Q}, true);
    L.wk = ld.tensor(p + "attn_k.weight", {D, KV}, true);
    L.wv = ld.tensor(p + "attn_v.weight", {D, KV}, true);
    L.wo = ld.tensor(p + "attn_output.weight", {Q, D}, true);
    L.bq = ld.vector(p + "attn_q.bias", Q, false);
    L.bk = ld.vector(p + "attn_k.bias", KV, false);
    L.bv = ld.vector(p + "attn_v.bias", KV, false);
    L.q_norm = ld.vector(p + "attn_q_norm.weight", c.head_dim, qk_norm_required);
    L.k_norm = ld.vector(p + "attn_k_norm.weight", c.head_dim, qk_norm_required);
    c.qkv_bias = c.qkv_bias || L.bq;
    c.qk_norm = c.qk_norm || L.q_norm;
}

void read_moe_tensors(ModelLoader& ld, int l, LayerWeights& L) {
    const ModelConfig& c = ld.config();
    const int64_t D = c.dim, E = c.n_experts, F = c.expert_ffn_dim;
    const std::string p = "blk." + std::to_string(l) + ".";
    L.ffn_gate_inp = ld.tensor(p + "ffn_gate_inp.weight", {D, E}, true);
    L.ffn_gate_inp_b = ld.vector(p + "ffn_gate_inp.bias", E, false);
    L.ffn_gate_exps = ld.tensor(p + "ffn_gate_exps.weight", {D, F, E}, true);
    L.ffn_up_exps = ld.tensor(p + "ffn_up_exps.weight", {D, F, E}, true);
    L.ffn_down_exps = ld.tensor(p + "ffn_down_exps.weight", {F, D, E}, true);
    L.ffn_gate_exps_b = ld.f32_tensor(p + "ffn_gate_exps.bias", {F, E}, false);
    L.ffn_up_exps_b = ld.f32_tensor(p + "ffn_up_exps.bias", {F, E}, false);
    L.ffn_down_exps_b = ld.f32_tensor(p + "ffn_down_exps.bias", {D, E}, false);
    if (ld.file().find_tensor(p + "ffn_gate_shexp.weight") ||
        ld.file().find_tensor(p + "ffn_up_shexp.weight"))
        ld.fail("shared experts (" + p + "ffn_*_shexp) are not supported");
}

void read_llama_tensors(ModelLoader& ld, bool qk_norm_required) {
    Model& m = ld.model();
    ModelConfig& c = ld.config();
    const int64_t D = c.dim, F = c.ffn_dim;
    read_io_tensors(ld);
    m.rope_freqs = ld.vector("rope_freqs.weight", c.rope_dim / 2, false);
    for (int l = 0; l < c.n_layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        LayerWeights L;
        read_attention_tensors(ld, l, L, qk_norm_required);
        L.ffn_norm = ld.vector(p + "ffn_norm.weight", D, true);
        L.ffn_gate = ld.tensor(p + "ffn_gate.weight", {D, F}, true);
        L.ffn_up = ld.tensor(p + "ffn_up.weight", {D, F}, true);
        L.ffn_down = ld.tensor(p + "ffn_down.weight", {F, D}, true);
        m.layers.push_back(L);
    }
}

std::unique_ptr<Model> Model::load(const std::string& path) {
    std::unique_ptr<Model> m(new Model());
    m->file_ = GgufFile::open(path);
    const GgufFile& f = *m->file_;
    m->cfg_.arch = f.get_string("general.architecture", "");
    m->arch_ = find_architecture(m->cfg_.arch);
    if (!m->arch_) {
        std::string known;
        for (const std::string& n : architecture_names()) known += (known.empty() ? "" : ", ") + n;
        throw Error(path + ": unsupported architecture '" + m->cfg_.arch +
                    "' (supported: " + known + ")");
    }
    m->tok_ = Tokenizer::from_gguf(f);
    m->cfg_.n_vocab = m->tok_->n_vocab();
    ModelLoader ld(*m, path);
    m->arch_->load(ld);
    m->index_weights();
    // Norm weights, biases and RoPE factors are small F32 vectors: one NaN or
    // infinity there makes every logit NaN, so they are checked here
    // (matrices are not: that would read the whole file).
    for (const Weight* w : m->weights_) {
        if (w->rows != 1 || w->type != static_cast<uint32_t>(GgmlType::F32)) continue;
        for (int64_t i = 0; i < w->cols; ++i) {
            float x;
            std::memcpy(&x, w->data + 4 * i, 4);
            if (!std::isfinite(x))
                throw Error(path + ": tensor '" + w->tensor->name + "' holds " +
                            (std::isnan(x) ? "NaN" : "an infinite value") + " at element " +
                            std::to_string(i));
        }
    }
    return m;
}

std::unique_ptr<Model> Model::load_vocab(const std::string& path) {
    std::unique_ptr<Model> m(new Model());
    m->file_ = GgufFile::open(path);
    const GgufFile& f = *m->file_;
    m->cfg_.arch = f.get_string("general.architecture", "");
    m->tok_ = Tokenizer::from_gguf(f);
    m->cfg_.n_vocab = m->tok_->n_vocab();
    const int64_t ctx = f.get_int(m->cfg_.arch + ".context_length", 0);
    m->cfg_.ctx = ctx > 0 && ctx <= (int64_t{1} << 24) ? static_cast<int>(ctx) : 0;
    return m;
}

void Model::index_weights() {
    std::vector<Weight*> all = {&tok_embd, &output_norm, &output, &rope_freqs};
    for (LayerWeights& L : layers)
        for (Weight* w : {&L.attn_norm,
                          &L.wq,
                          &L.wk,
                          &L.wv,
                          &L.wo,
                          &L.bq,
                          &L.bk,
                          &L.bv,
                          &L.q_norm,
                          &L.k_norm,
                          &L.ffn_norm,
                          &L.ffn_gate,
                          &L.ffn_up,
                          &L.ffn_down,
                          &L.bo,
                          &L.attn_sinks,
                          &L.post_attn_norm,
                          &L.post_ffn_norm,
                          &L.ffn_gate_inp,
                          &L.ffn_gate_inp_b,
                          &L.ffn_gate_exps,
                          &L.ffn_up_exps,
                          &L.ffn_down_exps,
                          &L.ffn_gate_exps_b,
                          &L.ffn_up_exps_b,
                          &L.ffn_down_exps_b})
            all.push_back(w);
    weights_.clear();
    for (Weight* w : all) {
        if (!*w) continue;
        w->index = static_cast<int>(weights_.size());
        weights_.push_back(w);
    }
    if (cfg_.tied_output) output = tok_embd;  // the same tensor, the same index
}

std::shared_ptr<PreparedWeights> Model::prepared(
    const std::string& key, const std::function<std::shared_ptr<PreparedWeights>()>& make) const {
    std::lock_guard<std::mutex> lk(prepared_mu_);
    auto& slot = prepared_[key];
    if (!slot) slot = make();
    return slot;
}

uint64_t Model::weight_bytes() const {
    uint64_t n = 0;
    for (const auto& t : file_->tensors()) n += t.n_bytes;
    return n;
}

}  // namespace rs
