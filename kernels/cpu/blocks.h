// Quantized block layouts, bit-compatible with GGUF/ggml.
#pragma once

#include <cstdint>

namespace rs::kernels {

constexpr int QK4_0 = 32;
constexpr int QK8_0 = 32;
constexpr int QK_K = 256;

struct BlockQ4_0 {   // 32 weights: x = (nibble - 8) * d
    uint16_t d;      // fp16
    uint8_t qs[16];  // low nibbles: weights 0..15, high nibbles: 16..31
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_1 {  // x = nibble * d + m
    uint16_t d, m;
    uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_1) == 20);

struct BlockQ5_0 {  // x = (5-bit - 16) * d
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_1) == 24);

struct BlockQ8_0 {  // 32 values: x = q * d
    uint16_t d;
    int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ4_K {     // 256 weights in 8 sub-blocks of 32 with 6-bit scales and mins
    uint16_t d, dmin;  // fp16 super-block scales
    uint8_t scales[12];
    uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ6_K {    // 256 weights in 16 groups of 16 with int8 scales
    uint8_t ql[128];  // low 4 bits
    uint8_t qh[64];   // high 2 bits
    int8_t scales[16];
    uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

struct BlockQ8_K {  // activations for K-quant dot products
    float d;
    int8_t qs[256];
    int16_t bsums[16];  // sums of each 16 values
};
static_assert(sizeof(BlockQ8_K) == 292);

// Q4_K's packed 6-bit scale and min of sub-block j (0..7).
static inline void q4k_scale_min(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

}  // namespace rs::kernels
