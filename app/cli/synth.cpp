// `models synth`: random-weight GGUF files with the exact tensor shapes of
// real models, quantized by the project's own quantizers, so speed can be
// measured at real sizes without downloading anything.
#include "cli/synth.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "cpu/fp16.h"
#include "cpu/kernels.h"
#include "reasonscope/error.h"
#include "reasonscope/gguf.h"

namespace rs::cli {
namespace {

struct Shape {
    const char* name;
    const char* arch;
    int dim, layers, heads, kv_heads, ffn, vocab, ctx;
    float rope_base, eps;
    bool tied, qkv_bias;
};

const Shape kShapes[] = {
    {"smollm2-135m", "llama", 576, 30, 9, 3, 1536, 49152, 8192, 100000.f, 1e-5f, true, false},
    {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, 1000000.f, 1e-6f, true, true},
    {"tinyllama-1.1b", "llama", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.f, 1e-5f, false, false},
};

struct Rng {  // xorshift64*: fast, reproducible weights
    uint64_t s;
    float next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return static_cast<float>((s * 2685821657736338717ULL) >> 40) /
                   static_cast<float>(1 << 24) * 2.0f -
               1.0f;
    }
};

std::vector<uint8_t> encode(GgmlType type, const std::vector<float>& x) {
    const auto n = static_cast<int64_t>(x.size());
    auto ti = type_info(static_cast<uint32_t>(type));
    std::vector<uint8_t> out(static_cast<size_t>(n / ti->block_elems * ti->block_bytes));
    switch (type) {
        case GgmlType::F32:
            std::memcpy(out.data(), x.data(), out.size());
            break;
        case GgmlType::F16: {
            auto* h = reinterpret_cast<uint16_t*>(out.data());
            for (int64_t i = 0; i < n; ++i) h[i] = kernels::fp32_to_fp16(x[static_cast<size_t>(i)]);
            break;
        }
        case GgmlType::Q8_0:
            kernels::quantize_row_q8_0_ref(x.data(), out.data(), n);
            break;
        case GgmlType::Q4_0:
            kernels::quantize_row_q4_0_ref(x.data(), out.data(), n);
            break;
        case GgmlType::Q5_0:
            kernels::quantize_row_q5_0_ref(x.data(), out.data(), n);
            break;
        case GgmlType::Q4_K:
            kernels::quantize_row_q4_k_ref(x.data(), out.data(), n);
            break;
        case GgmlType::Q6_K:
            kernels::quantize_row_q6_k_ref(x.data(), out.data(), n);
            break;
        default:
            throw Error("synth: type " + std::string(type_name(type)) +
                        " is not supported (F32, F16, Q8_0, Q5_0, Q4_0, Q4_K, Q6_K)");
    }
    return out;
}

}  // namespace

std::vector<std::string> synth_shapes() {
    std::vector<std::string> v;
    for (const auto& s : kShapes) v.emplace_back(s.name);
    return v;
}

void synth_model(const std::string& shape_name, const std::string& type_name_str,
                 const std::string& out_path, uint64_t seed) {
    const Shape* sh = nullptr;
    for (const auto& s : kShapes)
        if (shape_name == s.name) sh = &s;
    if (!sh) {
        std::string all;
        for (const auto& s : kShapes) all += std::string(all.empty() ? "" : ", ") + s.name;
        throw Error("synth: unknown shape '" + shape_name + "' (known: " + all + ")");
    }
    // "Q4_K_M" mixes types per tensor as llama.cpp's quantizer does: Q6_K for
    // the output and for attn_v / ffn_down in the layers that get more bits,
    // Q4_K elsewhere; rows that are not whole 256-blocks fall back to Q5_0
    // (for Q4_K) and Q8_0 (for Q6_K), as in real Q4_K_M files of these shapes.
    const bool q4km = type_name_str == "Q4_K_M";
    auto ti = type_info_by_name(q4km ? std::string("Q4_K") : type_name_str);
    if (!ti) throw Error("synth: unknown type '" + type_name_str + "'");
    const GgmlType wt = ti->type;
    auto type_for = [&](const std::string& name, int cols, int layer) {
        if (!q4km) return wt;
        const int n = sh->layers;
        const bool more =
            layer >= 0 && (layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2);
        const bool k6 =
            name == "output.weight" ||
            ((name.ends_with("attn_v.weight") || name.ends_with("ffn_down.weight")) && more);
        if (cols % 256 != 0) return k6 ? GgmlType::Q8_0 : GgmlType::Q5_0;
        return k6 ? GgmlType::Q6_K : GgmlType::Q4_K;
    };

    GgufWriter w;
    const std::string a = sh->arch;
    w.add_string("general.architecture", a);
    w.add_string("general.name", std::string("synthetic ") + sh->name + " (random weights)");
    w.add_u32(a + ".context_length", static_cast<uint32_t>(sh->ctx));
    w.add_u32(a + ".embedding_length", static_cast<uint32_t>(sh->dim));
    w.add_u32(a + ".block_count", static_cast<uint32_t>(sh->layers));
    w.add_u32(a + ".feed_forward_length", static_cast<uint32_t>(sh->ffn));
    w.add_u32(a + ".attention.head_count", static_cast<uint32_t>(sh->heads));
    w.add_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(sh->kv_heads));
    w.add_f32(a + ".rope.freq_base", sh->rope_base);
    w.add_f32(a + ".attention.layer_norm_rms_epsilon", sh->eps);
    // A SentencePiece-style vocabulary of the real size: specials, byte
    // tokens, printable characters, then numbered filler pieces.
    std::vector<std::string> toks = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {2, 3, 3};
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        toks.emplace_back(buf);
        types.push_back(6);
    }
    for (int c = 0x21; c < 0x7F; ++c) {
        toks.emplace_back(1, static_cast<char>(c));
        types.push_back(1);
    }
    toks.emplace_back("\xe2\x96\x81");
    types.push_back(1);
    while (static_cast<int>(toks.size()) < sh->vocab) {
        toks.push_back("\xe2\x96\x81w" + std::to_string(toks.size()));
        types.push_back(1);
    }
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_string_array("tokenizer.ggml.tokens", toks);
    w.add_f32_array("tokenizer.ggml.scores", std::vector<float>(toks.size(), 0.0f));
    w.add_i32_array("tokenizer.ggml.token_type", types);
    w.add_u32("tokenizer.ggml.bos_token_id", 1);
    w.add_u32("tokenizer.ggml.eos_token_id", 2);

    Rng rng{seed * 0x9E3779B97F4A7C15ULL + 1};
    int layer = -1;
    auto mat = [&](const std::string& name, int cols, int rows, GgmlType) {
        const GgmlType t = type_for(name, cols, layer);
        std::vector<float> x(static_cast<size_t>(cols) * rows);
        const float scale = 1.0f / std::sqrt(static_cast<float>(cols));
        for (auto& v : x) v = rng.next() * scale;
        w.add_tensor(name, t, {cols, rows}, encode(t, x));
    };
    auto vec = [&](const std::string& name, int n, float base, float jitter) {
        std::vector<float> x(static_cast<size_t>(n));
        for (auto& v : x) v = base + jitter * rng.next();
        w.add_tensor(name, GgmlType::F32, {n}, encode(GgmlType::F32, x));
    };
    const int hd = sh->dim / sh->heads, q = sh->heads * hd, kv = sh->kv_heads * hd;
    mat("token_embd.weight", sh->dim, sh->vocab, wt);
    for (int l = 0; l < sh->layers; ++l) {
        layer = l;
        std::string p = "blk." + std::to_string(l) + ".";
        vec(p + "attn_norm.weight", sh->dim, 1.0f, 0.1f);
        mat(p + "attn_q.weight", sh->dim, q, wt);
        mat(p + "attn_k.weight", sh->dim, kv, wt);
        mat(p + "attn_v.weight", sh->dim, kv, wt);
        if (sh->qkv_bias) {
            vec(p + "attn_q.bias", q, 0.0f, 0.1f);
            vec(p + "attn_k.bias", kv, 0.0f, 0.1f);
            vec(p + "attn_v.bias", kv, 0.0f, 0.1f);
        }
        mat(p + "attn_output.weight", q, sh->dim, wt);
        vec(p + "ffn_norm.weight", sh->dim, 1.0f, 0.1f);
        mat(p + "ffn_gate.weight", sh->dim, sh->ffn, wt);
        mat(p + "ffn_up.weight", sh->dim, sh->ffn, wt);
        mat(p + "ffn_down.weight", sh->ffn, sh->dim, wt);
    }
    layer = -1;
    vec("output_norm.weight", sh->dim, 1.0f, 0.1f);
    if (!sh->tied) mat("output.weight", sh->dim, sh->vocab, wt);
    w.write(out_path);
}

}  // namespace rs::cli
