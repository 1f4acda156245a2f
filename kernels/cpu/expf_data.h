// Constants of the C library's expf (glibc >= 2.28, from Arm's optimized
// routines): exp(x) = 2^(k/32) * 2^(r/32), k = round(x * 32/ln2), with
// tab[i] = bits(2^(i/32)) - (i << 52) / 32 and a cubic in r. The SIMD
// kernels evaluate the same operations in the same order (with the fused
// multiply-adds of glibc's FMA build, which it selects on every CPU our SIMD
// tables run on), so their exponentials equal std::exp to the bit: checked
// against every float in [-inf, 88.72] (3.26e9 inputs), and tst_kernels
// checks a sample of them on every run.
#pragma once

#include <cstdint>

namespace rs::kernels {

// (a macro too: CUDA's __constant__ copy in kernels/cuda/draw.cu)
#define RS_EXP2F_TABLE                                                                      \
    {                                                                                       \
        0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,     \
            0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1, \
            0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d, \
            0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585, \
            0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13, \
            0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d, \
            0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, \
            0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540, \
    }
constexpr uint64_t kExp2fTab[32] = RS_EXP2F_TABLE;
inline constexpr double kExpfInvLn2N = 0x1.71547652b82fep+0 * 32;
inline constexpr double kExpfShift = 0x1.8p+52;
inline constexpr double kExpfC0 = 0x1.c6af84b912394p-5 / 32 / 32 / 32;
inline constexpr double kExpfC1 = 0x1.ebfce50fac4f3p-3 / 32 / 32;
inline constexpr double kExpfC2 = 0x1.62e42ff0c52d6p-1 / 32;
inline constexpr float kExpfUnderflow = -0x1.9fe368p6f;  // below: exp rounds to +0
inline constexpr float kExpfOverflow = 0x1.62e42ep6f;    // above: +inf

}  // namespace rs::kernels
