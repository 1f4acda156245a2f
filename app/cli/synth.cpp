// `models synth`: random-weight GGUF files with the exact tensor shapes of
// real models, quantized by the project's own quantizers, so speed can be
// measured at real sizes without downloading anything.
#include "cli/synth.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>

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
    {"qwen2.5-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151936, 32768, 1000000.f, 1e-6f, true, true},
    {"llama3-8b", "llama", 4096, 32, 32, 8, 14336, 128256, 8192, 500000.f, 1e-5f, false, false},
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
        case GgmlType::Q5_K:
            kernels::quantize_row_q5_k_ref(x.data(), out.data(), n);
            break;
        case GgmlType::Q5_1:
            kernels::quantize_row_q5_1_ref(x.data(), out.data(), n);
            break;
        case GgmlType::IQ4_XS:
            kernels::quantize_row_iq4_xs_ref(x.data(), out.data(), n);
            break;
        case GgmlType::IQ4_NL:
            kernels::quantize_row_iq4_nl_ref(x.data(), out.data(), n);
            break;
        default:
            throw Error("synth: type " + std::string(type_name(type)) +
                        " is not supported (F32, F16, Q8_0, Q5_0, Q5_1, Q4_0, Q4_K, Q5_K, Q6_K, "
                        "IQ4_NL, IQ4_XS)");
    }
    return out;
}

}  // namespace

uint32_t synth_file_type(const std::string& type) {
    // llama.cpp's LLAMA_FTYPE numbering ("mostly X"); a pure K type is
    // labelled as its _S mix, the closest llama.cpp has.
    static const std::pair<const char*, uint32_t> kFtypes[] = {
        {"F32", 0},   {"F16", 1},     {"Q4_0", 2},    {"Q8_0", 7},  {"Q5_0", 8},
        {"Q5_1", 9},  {"Q4_K", 14},   {"Q4_K_M", 15}, {"Q5_K", 16}, {"Q5_K_M", 17},
        {"Q6_K", 18}, {"IQ4_NL", 25}, {"IQ4_XS", 30},
    };
    for (const auto& [name, ft] : kFtypes)
        if (type == name) return ft;
    throw Error("synth: type '" + type + "' has no llama.cpp file type");
}

namespace {

// encode() of a matrix, its rows split over the cores (rows are whole
// blocks, so the parts concatenate to the same bytes): an 8B-shape file is
// minutes of quantizing on one core.
std::vector<uint8_t> encode_rows(GgmlType type, const std::vector<float>& x, int cols) {
    const size_t rows = x.size() / static_cast<size_t>(cols);
    const size_t nt =
        std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), rows / 64);
    if (nt <= 1) return encode(type, x);
    std::vector<std::vector<uint8_t>> parts(nt);
    std::vector<std::thread> pool;
    for (size_t i = 0; i < nt; ++i)
        pool.emplace_back([&, i] {
            const size_t r0 = rows * i / nt, r1 = rows * (i + 1) / nt;
            const std::vector<float> sub(x.begin() + static_cast<std::ptrdiff_t>(r0 * cols),
                                         x.begin() + static_cast<std::ptrdiff_t>(r1 * cols));
            parts[i] = encode(type, sub);
        });
    for (auto& t : pool) t.join();
    std::vector<uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
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
    // The mixes ("Q4_K_M", "Q5_K_M", "IQ4_XS") choose types per tensor as
    // llama.cpp's quantizer does. K_M: Q6_K for the output and for attn_v /
    // ffn_down in the layers that get more bits, the base type elsewhere.
    // IQ4_XS: Q6_K for the output, Q5_K for attn_v where 4+ query heads share
    // a KV head. Rows that are not whole 256-blocks fall back as llama.cpp's
    // do (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS -> IQ4_NL), as in
    // real files of these shapes. Other types are used for every matrix.
    const bool km = type_name_str == "Q4_K_M" || type_name_str == "Q5_K_M";
    const bool iq4xs = type_name_str == "IQ4_XS";
    auto ti = type_info_by_name(km ? type_name_str.substr(0, 4) : type_name_str);
    if (!ti) throw Error("synth: unknown type '" + type_name_str + "'");
    const GgmlType wt = ti->type;
    auto fallback = [](GgmlType t) {
        switch (t) {
            case GgmlType::Q4_K:
                return GgmlType::Q5_0;
            case GgmlType::Q5_K:
                return GgmlType::Q5_1;
            case GgmlType::Q6_K:
                return GgmlType::Q8_0;
            case GgmlType::IQ4_XS:
                return GgmlType::IQ4_NL;
            default:
                return t;
        }
    };
    auto type_for = [&](const std::string& name, int cols, int layer) {
        GgmlType t = wt;
        if (km) {
            const int n = sh->layers;
            const bool more =
                layer >= 0 && (layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2);
            if (name == "output.weight" ||
                ((name.ends_with("attn_v.weight") || name.ends_with("ffn_down.weight")) && more))
                t = GgmlType::Q6_K;
        } else if (iq4xs) {
            if (name == "output.weight")
                t = GgmlType::Q6_K;
            else if (name.ends_with("attn_v.weight") && sh->heads / sh->kv_heads >= 4)
                t = GgmlType::Q5_K;
        }
        return cols % type_info(static_cast<uint32_t>(t))->block_elems != 0 ? fallback(t) : t;
    };

    GgufWriter w;
    const std::string a = sh->arch;
    w.add_string("general.architecture", a);
    w.add_string("general.name", std::string("synthetic ") + sh->name + " (random weights)");
    w.add_u32("general.file_type", synth_file_type(type_name_str));
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
        w.add_tensor(name, t, {cols, rows}, encode_rows(t, x, cols));
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
