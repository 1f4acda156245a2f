#include "cpu/arch_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/fp16.h"

namespace rs::kernels {
namespace {

// ggml's gelu_f32 (tanh form), with the contractions its CPU build makes.
float gelu_tanh(float x) {
    constexpr float kA = 0.044715f, kSqrt2OverPi = 0.79788456080286535587989211986876f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * std::fma(kA * x, x, 1.0f)));
}

// gelu of every F16 value, as an F16 value (ggml_table_gelu_f16).
const std::vector<float>& gelu_table() {
    static const std::vector<float> t = [] {
        std::vector<float> v(65536);
        for (uint32_t i = 0; i < 65536; ++i)
            v[i] = fp16_to_fp32(fp32_to_fp16(gelu_tanh(fp16_to_fp32(static_cast<uint16_t>(i)))));
        return v;
    }();
    return t;
}

}  // namespace

void geglu_f16(const float* g, const float* u, float* out, int n) {
    const float* t = gelu_table().data();
    for (int i = 0; i < n; ++i) {
        const float x = g[i];
        if (x <= -10.0f)
            out[i] = 0.0f;
        else if (x >= 10.0f)
            out[i] = x * u[i];
        else
            out[i] = t[fp32_to_fp16(x)] * u[i];
    }
}

void swiglu_oai(const float* g, const float* u, float* out, int n, float alpha, float limit) {
    for (int i = 0; i < n; ++i) {
        const float x = std::min(g[i], limit);
        const float y = std::clamp(u[i], -limit, limit);
        const float glu = x / (1.0f + std::exp(alpha * (-x)));
        out[i] = glu * (y + 1.0f);
    }
}

void attn_sink(AttnHead& h, float s, int hd) {
    float ms = 1.0f, vs = 1.0f;
    if (s > h.M) {
        ms = std::exp(h.M - s);
        for (int i = 0; i < hd; ++i) h.acc[i] *= ms;
        h.M = s;
    } else {
        vs = std::exp(s - h.M);
    }
    h.S = std::fma(h.S, ms, vs);
}

void softmax(float* x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; ++i) mx = std::max(mx, x[i]);
    double sum = 0.0;
    for (int i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += static_cast<double>(x[i]);
    }
    const auto inv = static_cast<float>(1.0 / sum);
    for (int i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace rs::kernels
