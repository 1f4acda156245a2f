// Scalar reference kernels: the definition every SIMD version is tested
// against. Plain loops, no intrinsics.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/blocks.h"
#include "cpu/fp16.h"
#include "cpu/kernels.h"

namespace rs::kernels {
namespace {

inline float h2f(uint16_t h) {
    return fp16_lookup(h);
}

float dot_f32_1(const float* w, const float* a, int n) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += w[i] * a[i];
    return s;
}

template <typename RowDot>
void for_each_act(const void* act, size_t stride, int n_act, float* out, RowDot f) {
    for (int j = 0; j < n_act; ++j) out[j] = f(static_cast<const uint8_t*>(act) + j * stride);
}

void dot_f32(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        return dot_f32_1(static_cast<const float*>(w), reinterpret_cast<const float*>(a), n);
    });
}

void dot_f16(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* wh = static_cast<const uint16_t*>(w);
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* af = reinterpret_cast<const float*>(a);
        float s = 0;
        for (int i = 0; i < n; ++i) s += h2f(wh[i]) * af[i];
        return s;
    });
}

void dot_bf16(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* wh = static_cast<const uint16_t*>(w);
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* af = reinterpret_cast<const float*>(a);
        float s = 0;
        for (int i = 0; i < n; ++i) s += bf16_to_fp32(wh[i]) * af[i];
        return s;
    });
}

void dot_q4_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ4_0*>(w);
    int nb = n / QK4_0;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
        float s = 0;
        for (int b = 0; b < nb; ++b) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) {
                sum += ((x[b].qs[j] & 0xF) - 8) * y[b].qs[j];
                sum += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + 16];
            }
            s += static_cast<float>(sum) * h2f(x[b].d) * h2f(y[b].d);
        }
        return s;
    });
}

void dot_q8_0(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    int nb = n / QK8_0;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
        float s = 0;
        for (int b = 0; b < nb; ++b) {
            int sum = 0;
            for (int j = 0; j < 32; ++j) sum += x[b].qs[j] * y[b].qs[j];
            s += static_cast<float>(sum) * h2f(x[b].d) * h2f(y[b].d);
        }
        return s;
    });
}

void dot_q4_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    int nb = n / QK_K;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
        float s = 0;
        for (int b = 0; b < nb; ++b) {
            const uint8_t* q = x[b].qs;
            const int8_t* q8 = y[b].qs;
            int sumi = 0, summ = 0;
            for (int j = 0; j < 4; ++j) {  // 64 weights: low nibbles then high nibbles
                uint8_t sc1, m1, sc2, m2;
                q4k_scale_min(2 * j, x[b].scales, sc1, m1);
                q4k_scale_min(2 * j + 1, x[b].scales, sc2, m2);
                int s1 = 0, s2 = 0;
                for (int l = 0; l < 32; ++l) {
                    s1 += (q[l] & 0xF) * q8[l];
                    s2 += (q[l] >> 4) * q8[l + 32];
                }
                sumi += sc1 * s1 + sc2 * s2;
                summ += m1 * (y[b].bsums[4 * j] + y[b].bsums[4 * j + 1]) +
                        m2 * (y[b].bsums[4 * j + 2] + y[b].bsums[4 * j + 3]);
                q += 32;
                q8 += 64;
            }
            s += y[b].d * (h2f(x[b].d) * static_cast<float>(sumi) -
                           h2f(x[b].dmin) * static_cast<float>(summ));
        }
        return s;
    });
}

void dot_q6_k(int n, const void* w, const void* act, size_t stride, int n_act, float* out) {
    const auto* x = static_cast<const BlockQ6_K*>(w);
    int nb = n / QK_K;
    for_each_act(act, stride, n_act, out, [&](const uint8_t* a) {
        const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
        float s = 0;
        for (int b = 0; b < nb; ++b) {
            int8_t q6[256];
            const uint8_t* ql = x[b].ql;
            const uint8_t* qh = x[b].qh;
            for (int h = 0; h < 256; h += 128) {
                for (int l = 0; l < 32; ++l) {
                    q6[h + l] =
                        static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                    q6[h + l + 32] =
                        static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                    q6[h + l + 64] =
                        static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                    q6[h + l + 96] =
                        static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
                }
                ql += 64;
                qh += 32;
            }
            int sumi = 0;
            for (int g = 0; g < 16; ++g) {
                int sg = 0;
                for (int l = 0; l < 16; ++l) sg += q6[g * 16 + l] * y[b].qs[g * 16 + l];
                sumi += x[b].scales[g] * sg;
            }
            s += h2f(x[b].d) * y[b].d * static_cast<float>(sumi);
        }
        return s;
    });
}

// Activation rows for Q4_0/Q8_0 weights: Q8_0 blocks, then d * sum(q) per
// block and d per block as floats (nb each), which the SIMD kernels use to
// fold constant offsets and to skip half-to-float conversions.
void quantize_q8_0(const float* x, void* vy, int n) {
    quantize_row_q8_0_ref(x, vy, n);
    const int nb = n / QK8_0;
    const auto* y = static_cast<const BlockQ8_0*>(vy);
    auto* sums = reinterpret_cast<float*>(static_cast<BlockQ8_0*>(vy) + nb);
    float* ds = sums + nb;
    for (int b = 0; b < nb; ++b) {
        int s = 0;
        for (int j = 0; j < QK8_0; ++j) s += y[b].qs[j];
        ds[b] = h2f(y[b].d);
        sums[b] = ds[b] * static_cast<float>(s);
    }
}

void quantize_q8_k(const float* x, void* vy, int n) {
    auto* y = static_cast<BlockQ8_K*>(vy);
    for (int b = 0; b < n / QK_K; ++b, x += QK_K) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK_K; ++j) {
            float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0) {
            y[b].d = 0;
            std::memset(y[b].qs, 0, sizeof y[b].qs);
            std::memset(y[b].bsums, 0, sizeof y[b].bsums);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; ++j) {
            int v = static_cast<int>(std::nearbyint(iscale * x[j]));
            y[b].qs[j] = static_cast<int8_t>(std::min(127, v));
        }
        for (int g = 0; g < 16; ++g) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += y[b].qs[g * 16 + l];
            y[b].bsums[g] = static_cast<int16_t>(sum);
        }
        y[b].d = 1 / iscale;
    }
}

void axpy(float a, const float* x, float* y, int n) {
    for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

void f16_mad(uint16_t* acc, const uint16_t* v, float s, int n) {
    for (int i = 0; i < n; ++i) acc[i] = fp32_to_fp16(std::fma(h2f(v[i]), s, h2f(acc[i])));
}

void f16_scale(uint16_t* acc, float s, int n) {
    for (int i = 0; i < n; ++i) acc[i] = fp32_to_fp16(h2f(acc[i]) * s);
}

}  // namespace

void quantize_row_q8_0_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_0*>(vy);
    for (int64_t b = 0; b < n / QK8_0; ++b, x += QK8_0) {
        float amax = 0;
        for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.f;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y[b].qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
    }
}

void quantize_row_q4_0_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ4_0*>(vy);
    for (int64_t b = 0; b < n / QK4_0; ++b, x += QK4_0) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK4_0; ++j) {
            if (std::fabs(x[j]) > amax) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < 16; ++j) {
            auto q0 = static_cast<uint8_t>(std::min(15, static_cast<int>(x[j] * id + 8.5f)));
            auto q1 = static_cast<uint8_t>(std::min(15, static_cast<int>(x[j + 16] * id + 8.5f)));
            y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

bool dequantize_row(uint32_t type, const void* src, float* y, int64_t n) {
    switch (type) {
        case 0:
            std::memcpy(y, src, static_cast<size_t>(n) * 4);
            return true;
        case 1: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) y[i] = h2f(h[i]);
            return true;
        }
        case 30: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(h[i]);
            return true;
        }
        case 2: {
            const auto* x = static_cast<const BlockQ4_0*>(src);
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                float d = h2f(x[b].d);
                for (int j = 0; j < 16; ++j) {
                    y[j] = static_cast<float>((x[b].qs[j] & 0xF) - 8) * d;
                    y[j + 16] = static_cast<float>((x[b].qs[j] >> 4) - 8) * d;
                }
            }
            return true;
        }
        case 3: {
            const auto* x = static_cast<const BlockQ4_1*>(src);
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                float d = h2f(x[b].d), m = h2f(x[b].m);
                for (int j = 0; j < 16; ++j) {
                    y[j] = static_cast<float>(x[b].qs[j] & 0xF) * d + m;
                    y[j + 16] = static_cast<float>(x[b].qs[j] >> 4) * d + m;
                }
            }
            return true;
        }
        case 6:
        case 7: {
            bool has_min = type == 7;
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                float d, m = 0;
                const uint8_t *qh, *qs;
                if (has_min) {
                    const auto* x = static_cast<const BlockQ5_1*>(src) + b;
                    d = h2f(x->d);
                    m = h2f(x->m);
                    qh = x->qh;
                    qs = x->qs;
                } else {
                    const auto* x = static_cast<const BlockQ5_0*>(src) + b;
                    d = h2f(x->d);
                    qh = x->qh;
                    qs = x->qs;
                }
                uint32_t h;
                std::memcpy(&h, qh, 4);
                int off = has_min ? 0 : 16;
                for (int j = 0; j < 16; ++j) {
                    int x0 = (qs[j] & 0xF) | static_cast<int>(((h >> j) << 4) & 0x10);
                    int x1 = (qs[j] >> 4) | static_cast<int>((h >> (j + 12)) & 0x10);
                    y[j] = static_cast<float>(x0 - off) * d + m;
                    y[j + 16] = static_cast<float>(x1 - off) * d + m;
                }
            }
            return true;
        }
        case 8: {
            const auto* x = static_cast<const BlockQ8_0*>(src);
            for (int64_t b = 0; b < n / 32; ++b, y += 32) {
                float d = h2f(x[b].d);
                for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
            }
            return true;
        }
        case 12: {
            const auto* x = static_cast<const BlockQ4_K*>(src);
            for (int64_t b = 0; b < n / QK_K; ++b) {
                const uint8_t* q = x[b].qs;
                float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
                for (int j = 0; j < 4; ++j) {
                    uint8_t sc1, m1, sc2, m2;
                    q4k_scale_min(2 * j, x[b].scales, sc1, m1);
                    q4k_scale_min(2 * j + 1, x[b].scales, sc2, m2);
                    for (int l = 0; l < 32; ++l) *y++ = d * sc1 * (q[l] & 0xF) - dmin * m1;
                    for (int l = 0; l < 32; ++l) *y++ = d * sc2 * (q[l] >> 4) - dmin * m2;
                    q += 32;
                }
            }
            return true;
        }
        case 14: {
            const auto* x = static_cast<const BlockQ6_K*>(src);
            for (int64_t b = 0; b < n / QK_K; ++b) {
                float d = h2f(x[b].d);
                const uint8_t* ql = x[b].ql;
                const uint8_t* qh = x[b].qh;
                const int8_t* sc = x[b].scales;
                for (int h = 0; h < 256; h += 128) {
                    for (int l = 0; l < 32; ++l) {
                        int is = l / 16;
                        int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                        int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                        y[l] = d * sc[is] * q1;
                        y[l + 32] = d * sc[is + 2] * q2;
                        y[l + 64] = d * sc[is + 4] * q3;
                        y[l + 96] = d * sc[is + 6] * q4;
                    }
                    y += 128;
                    ql += 64;
                    qh += 32;
                    sc += 8;
                }
            }
            return true;
        }
        default:
            return false;
    }
}

const KernelTable kScalarTable = {
    Isa::Scalar, dot_f32,       dot_f16,       dot_bf16,  dot_q4_0, dot_q8_0, dot_q4_k,
    dot_q6_k,    quantize_q8_0, quantize_q8_k, dot_f32_1, axpy,     f16_mad,  f16_scale,
};

}  // namespace rs::kernels
