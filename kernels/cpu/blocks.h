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

struct BlockQ2_K {       // 256 weights in 16 groups of 16: x = d * (sc & 15) * q - dmin * (sc >> 4)
    uint8_t scales[16];  // per group: low nibble scale, high nibble min
    uint8_t qs[64];      // 2-bit quants: value 128n + 32j + l at bits 2j of qs[32n + l]
    uint16_t d, dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

struct BlockQ3_K {       // 16 groups of 16: x = d * (s - 32) * (q - 4 * !h), q 2 bits, h 1 bit
    uint8_t hmask[32];   // h of value 128n + 32j + l: bit 4n + j of hmask[l]
    uint8_t qs[64];      // q as in Q2_K
    uint8_t scales[12];  // 16 packed 6-bit scales (q3k_scale)
    uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

struct BlockQ5_K {  // Q4_K with a fifth bit: value 32s + l gets 16 * bit s of qh[l]
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176);

struct BlockIQ4_NL {  // 32 weights: x = d * kIq4Values[nibble] (nibbles as in Q4_0)
    uint16_t d;
    uint8_t qs[16];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

struct BlockIQ4_XS {  // 256 weights in 8 sub-blocks of 32: x = d * (ls - 32) * kIq4Values[nibble]
    uint16_t d;
    uint16_t scales_h;    // 2 high bits of sub-block ib's 6-bit ls at bits 2ib
    uint8_t scales_l[4];  // 4 low bits: nibble ib % 2 of scales_l[ib / 2]
    uint8_t qs[128];      // sub-block ib: 16 bytes, nibbles as in Q4_0
};
static_assert(sizeof(BlockIQ4_XS) == 136);

struct BlockMXFP4 {  // 32 weights: x = 2^(e - 127) * E2M1 value of the nibble
    uint8_t e;       // E8M0 shared exponent
    uint8_t qs[16];  // nibbles as in Q4_0
};
static_assert(sizeof(BlockMXFP4) == 17);

// The IQ4_NL / IQ4_XS non-linear grid.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};
// E2M1 (FP4) values doubled, so they are integers: 0, 0.5, 1, 1.5, 2, 3, 4,
// 6 and their negatives; the block scale is halved to match.
constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Half the value of an E8M0 exponent: 2^(e - 128), exact for every e (e of
// 0 and 1 give subnormals).
static inline float e8m0_half(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
    float f;
    __builtin_memcpy(&f, &bits, 4);
    return f;
}

// Q3_K's signed scale of group j (0..15): 4 low bits from scales[0..7]
// (low nibbles for j < 8, high nibbles for j >= 8), 2 high bits from
// scales[8 + j % 4] at bit 2 * (j / 4); minus 32.
static inline int q3k_scale(int j, const uint8_t* s) {
    const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

// IQ4_XS's signed scale of sub-block ib (0..7).
static inline int iq4xs_scale(int ib, const BlockIQ4_XS& x) {
    const int lo = (x.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF;
    const int hi = (x.scales_h >> (2 * ib)) & 3;
    return (lo | (hi << 4)) - 32;
}

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
