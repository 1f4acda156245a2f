// Weight rows as GGUF stores them, decoded eight values at a time: the one
// description of each block layout that the CUDA kernels use (the matrix-
// vector products, the dequantization for cuBLAS, the embedding lookup). It
// compiles as host code too, so tests check it against the CPU kernels'
// dequantization on machines without a GPU (tests/backends/tst_cuda_backend).
//
// decode8<T>(row, c, y): y[0..7] = elements 8c .. 8c+7 of a row of type T.
// The arithmetic is ggml's dequantization (d * q, or (d * sc) * q - (dmin * m)
// for K-quants), so values equal the CPU's to the bit.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define RS_HD __host__ __device__ __forceinline__
#else
#define RS_HD inline
#endif

namespace rs::cuda {

// GGUF type numbers (ggml's) of the weight types the CUDA backend computes.
enum WeightType : uint32_t {
    kF32 = 0,
    kF16 = 1,
    kQ4_0 = 2,
    kQ5_0 = 6,
    kQ8_0 = 8,
    kQ4_K = 12,
    kQ5_K = 13,
    kQ6_K = 14,
    kBF16 = 30,
};

RS_HD bool supported_type(uint32_t t) {
    return t == kF32 || t == kF16 || t == kQ4_0 || t == kQ5_0 || t == kQ8_0 || t == kQ4_K ||
           t == kQ5_K || t == kQ6_K || t == kBF16;
}

// IEEE half to float, bit by bit (subnormals, infinities and NaN included).
RS_HD float half_bits_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        exp = 113;
        while ((man & 0x400u) == 0) {
            man <<= 1;
            --exp;
        }
        bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
    union {
        uint32_t u;
        float f;
    } v{bits};
    return v.f;
}

RS_HD float bf16_bits_to_float(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v{static_cast<uint32_t>(h) << 16};
    return v.f;
}

RS_HD uint16_t rd16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
RS_HD float rd_half(const uint8_t* p) {
    return half_bits_to_float(rd16(p));
}

// A block's elements and bytes.
RS_HD int block_elems(uint32_t t) {
    return t == kQ4_K || t == kQ5_K || t == kQ6_K     ? 256
           : (t == kQ4_0 || t == kQ5_0 || t == kQ8_0) ? 32
                                                      : 1;
}
RS_HD int block_bytes(uint32_t t) {
    switch (t) {
        case kF32:
            return 4;
        case kF16:
        case kBF16:
            return 2;
        case kQ4_0:
            return 18;
        case kQ5_0:
            return 22;
        case kQ8_0:
            return 34;
        case kQ4_K:
            return 144;
        case kQ5_K:
            return 176;
        case kQ6_K:
            return 210;
        default:
            return 0;
    }
}

// K-quant 6-bit scale and min of sub-block j (ggml's get_scale_min_k4).
RS_HD void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

template <uint32_t T>
RS_HD void decode8(const uint8_t* row, int c, float* y);

template <>
RS_HD void decode8<kF32>(const uint8_t* row, int c, float* y) {
    const float* p = reinterpret_cast<const float*>(row) + 8 * c;
    for (int i = 0; i < 8; ++i) y[i] = p[i];
}
template <>
RS_HD void decode8<kF16>(const uint8_t* row, int c, float* y) {
    const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + 8 * c;
    for (int i = 0; i < 8; ++i) y[i] = half_bits_to_float(p[i]);
}
template <>
RS_HD void decode8<kBF16>(const uint8_t* row, int c, float* y) {
    const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + 8 * c;
    for (int i = 0; i < 8; ++i) y[i] = bf16_bits_to_float(p[i]);
}
// Q4_0: d, 16 bytes; element j < 16 is the low nibble of byte j, j + 16 its
// high nibble, minus 8.
template <>
RS_HD void decode8<kQ4_0>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 2) * 18;
    const int s = c & 3;
    const float d = rd_half(b);
    const uint8_t* qs = b + 2 + (s & 1) * 8;
    const int shift = (s >> 1) * 4;
    for (int i = 0; i < 8; ++i) y[i] = static_cast<float>(((qs[i] >> shift) & 0xF) - 8) * d;
}
// Q5_0: d, 32 high bits, 16 bytes of nibbles as Q4_0; minus 16.
template <>
RS_HD void decode8<kQ5_0>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 2) * 22;
    const int s = c & 3;
    const float d = rd_half(b);
    const uint32_t qh = static_cast<uint32_t>(b[2]) | (static_cast<uint32_t>(b[3]) << 8) |
                        (static_cast<uint32_t>(b[4]) << 16) | (static_cast<uint32_t>(b[5]) << 24);
    const int j0 = (s & 1) * 8;
    const uint8_t* qs = b + 6 + j0;
    for (int i = 0; i < 8; ++i) {
        const int j = j0 + i;
        const int x = s < 2 ? ((qs[i] & 0xF) | static_cast<int>(((qh >> j) << 4) & 0x10))
                            : ((qs[i] >> 4) | static_cast<int>((qh >> (j + 12)) & 0x10));
        y[i] = static_cast<float>(x - 16) * d;
    }
}
// Q8_0: d, 32 signed bytes.
template <>
RS_HD void decode8<kQ8_0>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 2) * 34;
    const float d = rd_half(b);
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2) + (c & 3) * 8;
    for (int i = 0; i < 8; ++i) y[i] = static_cast<float>(qs[i]) * d;
}
// Q4_K: d, dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles; each
// 64 elements are 32 low nibbles (sub-block 2j) then 32 high (2j + 1).
template <>
RS_HD void decode8<kQ4_K>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 5) * 144;
    const int e = (c & 31) * 8, j64 = e >> 6, within = e & 63, l = within & 31;
    const float d = rd_half(b), dmin = rd_half(b + 2);
    int sc, m;
    scale_min_k4(2 * j64 + (within >= 32), b + 4, sc, m);
    const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
    const uint8_t* q = b + 16 + 32 * j64 + l;
    const int shift = within >= 32 ? 4 : 0;
    for (int i = 0; i < 8; ++i) y[i] = d1 * static_cast<float>((q[i] >> shift) & 0xF) - m1;
}
// Q5_K: as Q4_K with a fifth bit per element in 32 bytes of high bits.
template <>
RS_HD void decode8<kQ5_K>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 5) * 176;
    const int e = (c & 31) * 8, j64 = e >> 6, within = e & 63, l = within & 31;
    const float d = rd_half(b), dmin = rd_half(b + 2);
    const bool hi = within >= 32;
    int sc, m;
    scale_min_k4(2 * j64 + hi, b + 4, sc, m);
    const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
    const uint8_t* qh = b + 16 + l;
    const uint8_t* ql = b + 48 + 32 * j64 + l;
    const int ubit = (hi ? 2 : 1) << (2 * j64);
    for (int i = 0; i < 8; ++i) {
        const int x = (hi ? ql[i] >> 4 : ql[i] & 0xF) + ((qh[i] & ubit) ? 16 : 0);
        y[i] = d1 * static_cast<float>(x) - m1;
    }
}
// Q6_K: 128 bytes of low nibbles, 64 of 2-bit highs, 16 signed scales, d;
// each half of 128 elements is four quarters of 32, minus 32.
template <>
RS_HD void decode8<kQ6_K>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 5) * 210;
    const int e = (c & 31) * 8, n = e >> 7, w = e & 127, quarter = w >> 5, l = w & 31;
    const uint8_t* ql = b + 64 * n + (quarter & 1) * 32 + l;
    const uint8_t* qh = b + 128 + 32 * n + l;
    const int8_t sc = reinterpret_cast<const int8_t*>(b + 192)[8 * n + l / 16 + 2 * quarter];
    const float ds = rd_half(b + 208) * static_cast<float>(sc);
    const int lshift = (quarter >> 1) * 4, hshift = 2 * quarter;
    for (int i = 0; i < 8; ++i) {
        const int q = ((ql[i] >> lshift) & 0xF) | (((qh[i] >> hshift) & 3) << 4);
        y[i] = ds * static_cast<float>(q - 32);
    }
}

// The same, the type chosen at run time (host tests, rare paths).
RS_HD void decode8_any(uint32_t t, const uint8_t* row, int c, float* y) {
    switch (t) {
        case kF32:
            decode8<kF32>(row, c, y);
            break;
        case kF16:
            decode8<kF16>(row, c, y);
            break;
        case kBF16:
            decode8<kBF16>(row, c, y);
            break;
        case kQ4_0:
            decode8<kQ4_0>(row, c, y);
            break;
        case kQ5_0:
            decode8<kQ5_0>(row, c, y);
            break;
        case kQ8_0:
            decode8<kQ8_0>(row, c, y);
            break;
        case kQ4_K:
            decode8<kQ4_K>(row, c, y);
            break;
        case kQ5_K:
            decode8<kQ5_K>(row, c, y);
            break;
        case kQ6_K:
            decode8<kQ6_K>(row, c, y);
            break;
        default:
            for (int i = 0; i < 8; ++i) y[i] = 0.0f;
    }
}

}  // namespace rs::cuda
