#include "reasonscope/model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "cpu/kernels.h"
#include "reasonscope/error.h"

namespace rs {
namespace {

bool computable(uint32_t type) {
    kernels::ActFormat f;
    if (kernels::act_format_for(type, f)) return true;
    float probe[32];
    // Types without a direct kernel still work if rows can be dequantized.
    static const uint8_t zeros[64] = {};
    return type == 3 || type == 6 || type == 7 ? kernels::dequantize_row(type, zeros, probe, 32)
                                               : false;
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path) {
    std::unique_ptr<Model> m(new Model());
    m->file_ = GgufFile::open(path);
    const GgufFile& f = *m->file_;
    ModelConfig& c = m->cfg_;
    c.arch = f.get_string("general.architecture", "");
    if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "qwen3")
        throw Error(path + ": unsupported architecture '" + c.arch +
                    "' (supported: llama, qwen2, qwen3)");
    auto key = [&](const char* k) { return c.arch + "." + k; };
    auto pos_int = [&](const char* k) {
        int64_t v = f.get_int(key(k));
        if (v <= 0 || v > (1 << 24))
            throw Error(path + ": " + key(k) + " = " + std::to_string(v) + " is invalid");
        return static_cast<int>(v);
    };
    c.dim = pos_int("embedding_length");
    c.n_layers = pos_int("block_count");
    c.n_heads = pos_int("attention.head_count");
    c.n_kv_heads =
        f.has(key("attention.head_count_kv")) ? pos_int("attention.head_count_kv") : c.n_heads;
    c.ffn_dim = pos_int("feed_forward_length");
    c.ctx = pos_int("context_length");
    c.head_dim =
        f.has(key("attention.key_length")) ? pos_int("attention.key_length") : c.dim / c.n_heads;
    if (c.n_heads % c.n_kv_heads != 0)
        throw Error(path + ": head count " + std::to_string(c.n_heads) +
                    " is not a multiple of the KV head count " + std::to_string(c.n_kv_heads));
    c.rope_dim = f.has(key("rope.dimension_count")) ? pos_int("rope.dimension_count") : c.head_dim;
    if (c.rope_dim > c.head_dim || c.rope_dim % 2)
        throw Error(path + ": invalid rope.dimension_count");
    c.rope_neox = c.arch != "llama";
    c.rope_base = static_cast<float>(f.get_float(key("rope.freq_base"), 10000.0));
    if (f.get_string(key("rope.scaling.type"), "none") == "linear") {
        double factor = f.get_float(key("rope.scaling.factor"), 1.0);
        if (factor > 0) c.rope_freq_scale = static_cast<float>(1.0 / factor);
    }
    c.norm_eps = static_cast<float>(f.get_float(key("attention.layer_norm_rms_epsilon"), 1e-5));

    m->tok_ = Tokenizer::from_gguf(f);
    c.n_vocab = m->tok_->n_vocab();

    auto get = [&](const std::string& name, std::vector<int64_t> shape, bool required) -> Weight {
        const GgufTensor* t = f.find_tensor(name);
        if (!t) {
            if (required) throw Error(path + ": missing tensor '" + name + "'");
            return {};
        }
        std::vector<int64_t> dims = t->dims;
        while (dims.size() > shape.size() && dims.back() == 1) dims.pop_back();
        if (dims != shape) {
            std::string want, got;
            for (auto d : shape) want += (want.empty() ? "" : "x") + std::to_string(d);
            for (auto d : t->dims) got += (got.empty() ? "" : "x") + std::to_string(d);
            throw Error(path + ": tensor '" + name + "' has shape " + got + ", expected " + want);
        }
        auto type = static_cast<uint32_t>(t->type);
        if (!computable(type))
            throw Error(path + ": tensor '" + name + "' has type " +
                        std::string(type_name(t->type)) +
                        ", which the CPU backend does not support (supported: F32, F16, BF16, "
                        "Q4_0, Q4_1, Q5_0, "
                        "Q5_1, Q8_0, Q4_K, Q6_K)");
        Weight w;
        w.tensor = t;
        w.data = t->data;
        w.type = type;
        w.cols = t->dims[0];
        w.rows = t->n_elements() / w.cols;
        w.row_bytes = static_cast<size_t>(t->n_bytes / static_cast<uint64_t>(w.rows));
        return w;
    };
    auto norm_type_ok = [&](const Weight& w) {
        if (w && w.type != 0)
            throw Error(path + ": norm/bias tensor '" + w.tensor->name + "' must be F32, it is " +
                        std::string(type_name(w.tensor->type)));
    };

    const int64_t D = c.dim, V = c.n_vocab, Q = c.q_dim(), KV = c.kv_dim(), F = c.ffn_dim;
    m->tok_embd = get("token_embd.weight", {D, V}, true);
    m->output_norm = get("output_norm.weight", {D}, true);
    norm_type_ok(m->output_norm);
    m->output = get("output.weight", {D, V}, false);
    if (!m->output) {
        m->output = m->tok_embd;
        c.tied_output = true;
    }
    m->rope_freqs = get("rope_freqs.weight", {c.rope_dim / 2}, false);
    norm_type_ok(m->rope_freqs);
    for (int l = 0; l < c.n_layers; ++l) {
        std::string p = "blk." + std::to_string(l) + ".";
        LayerWeights L;
        L.attn_norm = get(p + "attn_norm.weight", {D}, true);
        L.wq = get(p + "attn_q.weight", {D, Q}, true);
        L.wk = get(p + "attn_k.weight", {D, KV}, true);
        L.wv = get(p + "attn_v.weight", {D, KV}, true);
        L.wo = get(p + "attn_output.weight", {Q, D}, true);
        L.bq = get(p + "attn_q.bias", {Q}, false);
        L.bk = get(p + "attn_k.bias", {KV}, false);
        L.bv = get(p + "attn_v.bias", {KV}, false);
        L.q_norm = get(p + "attn_q_norm.weight", {c.head_dim}, c.arch == "qwen3");
        L.k_norm = get(p + "attn_k_norm.weight", {c.head_dim}, c.arch == "qwen3");
        L.ffn_norm = get(p + "ffn_norm.weight", {D}, true);
        L.ffn_gate = get(p + "ffn_gate.weight", {D, F}, true);
        L.ffn_up = get(p + "ffn_up.weight", {D, F}, true);
        L.ffn_down = get(p + "ffn_down.weight", {F, D}, true);
        for (const Weight* w :
             {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv, &L.q_norm, &L.k_norm})
            norm_type_ok(*w);
        c.qkv_bias = c.qkv_bias || L.bq;
        c.qk_norm = c.qk_norm || L.q_norm;
        m->layers.push_back(L);
    }
    const char* repack = std::getenv("RS_REPACK");
    if (!repack || std::string(repack) != "0") m->repack();
    return m;
}

void Model::repack() {
    std::vector<Weight*> ws;
    auto add = [&](Weight& w) {
        if (w && w.type == kernels::W_Q4_0 && w.rows > 1) ws.push_back(&w);
    };
    add(tok_embd);
    if (!cfg_.tied_output) add(output);
    for (auto& L : layers)
        for (Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) add(*w);
    if (ws.empty()) return;
    std::vector<uint8_t*> bufs(ws.size());
    for (size_t i = 0; i < ws.size(); ++i) {
        const size_t bytes = kernels::q4_0_packed_bytes(ws[i]->rows, static_cast<int>(ws[i]->cols));
        bufs[i] = static_cast<uint8_t*>(::operator new (bytes, std::align_val_t{64}));
        packed_.emplace_back(bufs[i],
                             [](uint8_t* p) { ::operator delete (p, std::align_val_t{64}); });
    }
    // Pack on all cores; then release the file's pages of the packed tensors
    // (they stay readable: a later access faults them back in from the file).
    const unsigned nt = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 8u));
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < nt; ++t)
        pool.emplace_back([&] {
            for (size_t i; (i = next.fetch_add(1)) < ws.size();) {
                const Weight& w = *ws[i];
                kernels::pack_q4_0(w.data, w.row_bytes, w.rows, static_cast<int>(w.cols), bufs[i]);
                const long page = sysconf(_SC_PAGESIZE);
                auto lo = (reinterpret_cast<uintptr_t>(w.data) + page - 1) &
                          ~static_cast<uintptr_t>(page - 1);
                auto hi = (reinterpret_cast<uintptr_t>(w.data) +
                           w.row_bytes * static_cast<size_t>(w.rows)) &
                          ~static_cast<uintptr_t>(page - 1);
                if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
            }
        });
    for (auto& th : pool) th.join();
    for (size_t i = 0; i < ws.size(); ++i) ws[i]->packed = bufs[i];
    if (cfg_.tied_output) output.packed = tok_embd.packed;
}

uint64_t Model::weight_bytes() const {
    uint64_t n = 0;
    for (const auto& t : file_->tensors()) n += t.n_bytes;
    return n;
}

}  // namespace rs
