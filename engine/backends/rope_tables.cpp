// RoPE angles as ggml computes them (the CPU backend's and every device
// backend's tables, so rotations agree wherever they run).
#include <algorithm>
#include <cmath>

#include "reasonscope/backend.h"
#include "reasonscope/model.h"

namespace rs {

void rope_cos_sin(const RopeSpec& spec, std::span<const BatchRow> rows, float* out) {
    const int nd = spec.n_dims, half = nd / 2;
    const float theta_scale = std::pow(spec.base, -2.0f / static_cast<float>(nd));
    const auto* ff =
        spec.freq_factors ? reinterpret_cast<const float*>(spec.freq_factors->data) : nullptr;
    // YaRN (ggml's rope_yarn): the correction dimensions of beta_fast and
    // beta_slow, the ramp between them mixing interpolated and extrapolated
    // angles, and the magnitude factor on cos and sin.
    const bool yarn = spec.ext_factor != 0.0f;
    float corr0 = 0, corr1 = 0, mscale = spec.attn_factor;
    if (yarn) {
        const auto corr_dim = [&](float n_rot) {
            return static_cast<float>(nd) *
                   std::log(static_cast<float>(spec.n_ctx_orig) /
                            (n_rot * 2 * static_cast<float>(M_PI))) /
                   (2 * std::log(spec.base));
        };
        corr0 = std::max(0.0f, std::floor(corr_dim(spec.beta_fast)));
        corr1 = std::min(static_cast<float>(nd - 1), std::ceil(corr_dim(spec.beta_slow)));
        mscale *= std::fma(0.1f, std::log(1.0f / spec.freq_scale), 1.0f);
    }
    for (size_t r = 0; r < rows.size(); ++r) {
        float* cs = out + r * static_cast<size_t>(nd);
        float theta = static_cast<float>(rows[r].pos);
        for (int i = 0; i < half; ++i) {
            const float extrap = ff ? theta / ff[i] : theta;
            float t = spec.freq_scale * extrap;
            if (yarn) {
                const float y = (static_cast<float>(i) - corr0) / std::max(0.001f, corr1 - corr0);
                const float mix = (1 - std::min(1.0f, std::max(0.0f, y))) * spec.ext_factor;
                t = std::fma(t, 1 - mix, extrap * mix);
                cs[i] = std::cos(t) * mscale;
                cs[half + i] = std::sin(t) * mscale;
            } else {
                cs[i] = std::cos(t);
                cs[half + i] = std::sin(t);
            }
            theta *= theta_scale;
        }
    }
}

}  // namespace rs
