// IEEE half and bfloat16 conversions (scalar; exact, round-to-nearest-even).
// Helpers here are static: the ISA-specific files include them, and each
// must keep its own copy (no cross-ISA sharing through the linker).
#pragma once

#include <cstdint>
#include <cstring>

namespace rs::kernels {

static inline float fp16_to_fp32(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3FF;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000 | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t fp32_to_fp16(float f);

static inline float bf16_to_fp32(uint16_t h) {
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t fp32_to_bf16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if ((bits & 0x7FFFFFFF) > 0x7F800000)
        return static_cast<uint16_t>((bits >> 16) | 64);  // quiet NaN
    bits += 0x7FFF + ((bits >> 16) & 1);
    return static_cast<uint16_t>(bits >> 16);
}

// A 64K-entry table for the hot paths (dequantization scales, F16 weights).
extern float g_fp16_table[65536];
void init_fp16_table();
static inline float fp16_lookup(uint16_t h) {
    return g_fp16_table[h];
}

}  // namespace rs::kernels
