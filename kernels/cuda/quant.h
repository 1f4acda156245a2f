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
    kQ4_1 = 3,
    kQ5_0 = 6,
    kQ5_1 = 7,
    kQ8_0 = 8,
    kQ2_K = 10,
    kQ3_K = 11,
    kQ4_K = 12,
    kQ5_K = 13,
    kQ6_K = 14,
    kIQ4_NL = 20,
    kIQ4_XS = 23,
    kBF16 = 30,
    kMXFP4 = 39,
};

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

// Every type above, for the switches that pick a kernel: X(type) each.
#define RS_CUDA_WEIGHT_TYPES(X)                                                               \
    X(kF32)                                                                                   \
    X(kF16)                                                                                   \
    X(kBF16)                                                                                  \
    X(kQ4_0) X(kQ4_1) X(kQ5_0) X(kQ5_1) X(kQ8_0) X(kQ2_K) X(kQ3_K) X(kQ4_K) X(kQ5_K) X(kQ6_K) \
        X(kIQ4_NL) X(kIQ4_XS) X(kMXFP4)

// A block's elements and bytes (0 bytes: a type the backend does not compute).
RS_HD int block_elems(uint32_t t) {
    switch (t) {
        case kQ2_K:
        case kQ3_K:
        case kQ4_K:
        case kQ5_K:
        case kQ6_K:
        case kIQ4_XS:
            return 256;
        case kF32:
        case kF16:
        case kBF16:
            return 1;
        default:
            return 32;
    }
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
        case kQ4_1:
            return 20;
        case kQ5_0:
            return 22;
        case kQ5_1:
            return 24;
        case kQ8_0:
            return 34;
        case kQ2_K:
            return 84;
        case kQ3_K:
            return 110;
        case kQ4_K:
            return 144;
        case kQ5_K:
            return 176;
        case kQ6_K:
            return 210;
        case kIQ4_NL:
            return 18;
        case kIQ4_XS:
            return 136;
        case kMXFP4:
            return 17;
        default:
            return 0;
    }
}
RS_HD bool supported_type(uint32_t t) {
    return block_bytes(t) > 0;
}

// The IQ4_NL / IQ4_XS grid, and E2M1 (FP4) values doubled (the MXFP4 scale
// is halved to match), as the CPU kernels hold them.
RS_HD int iq4_value(int nibble) {
    constexpr int8_t v[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                              1,    13,   25,  38,  53,  69,  89,  113};
    return v[nibble];
}
RS_HD int mxfp4_value(int nibble) {
    constexpr int8_t v[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    return v[nibble];
}
// Half the value of an E8M0 exponent: 2^(e - 128), exact (subnormal for e < 2).
RS_HD float e8m0_half(uint8_t e) {
    union {
        uint32_t u;
        float f;
    } v{e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23};
    return v.f;
}

// The eight nibbles of a 32-value block's 16 bytes holding elements 8s ..
// 8s+7 (element j < 16: low nibble of byte j; j + 16: its high nibble).
RS_HD void nibbles8(const uint8_t* qs, int s, int* q) {
    const uint8_t* b = qs + (s & 1) * 8;
    const int shift = (s >> 1) * 4;
    for (int i = 0; i < 8; ++i) q[i] = (b[i] >> shift) & 0xF;
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

// Q4_1: d, m, 16 bytes of nibbles: nibble * d + m.
template <>
RS_HD void decode8<kQ4_1>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 2) * 20;
    const float d = rd_half(b), m = rd_half(b + 2);
    int q[8];
    nibbles8(b + 4, c & 3, q);
    for (int i = 0; i < 8; ++i) y[i] = static_cast<float>(q[i]) * d + m;
}
// Q5_1: d, m, 32 high bits, nibbles: 5-bit * d + m.
template <>
RS_HD void decode8<kQ5_1>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 2) * 24;
    const int s = c & 3;
    const float d = rd_half(b), m = rd_half(b + 2);
    const uint32_t qh = static_cast<uint32_t>(b[4]) | (static_cast<uint32_t>(b[5]) << 8) |
                        (static_cast<uint32_t>(b[6]) << 16) | (static_cast<uint32_t>(b[7]) << 24);
    const int j0 = (s & 1) * 8;
    const uint8_t* qs = b + 8 + j0;
    for (int i = 0; i < 8; ++i) {
        const int j = j0 + i;
        const int x = s < 2 ? ((qs[i] & 0xF) | static_cast<int>(((qh >> j) << 4) & 0x10))
                            : ((qs[i] >> 4) | static_cast<int>((qh >> (j + 12)) & 0x10));
        y[i] = static_cast<float>(x) * d + m;
    }
}
// Q2_K: 16 scale bytes (low nibble scale, high nibble min per 16 values),
// 64 bytes of 2-bit quants (value 128n + 32j + l at bits 2j of byte 32n + l),
// d, dmin: d * sc * q - dmin * m.
template <>
RS_HD void decode8<kQ2_K>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 5) * 84;
    const int v = (c & 31) * 8, n = v >> 7, j = (v & 127) >> 5, l = v & 31;
    const uint8_t sc = b[v >> 4];
    const float d = rd_half(b + 80), dmin = rd_half(b + 82);
    const uint8_t* q = b + 16 + 32 * n + l;
    for (int i = 0; i < 8; ++i)
        y[i] = d * static_cast<float>(sc & 0xF) * static_cast<float>((q[i] >> (2 * j)) & 3) -
               dmin * static_cast<float>(sc >> 4);
}
// Q3_K: 32 bytes of high bits (value 128n + 32j + l: bit 4n + j of byte l),
// 64 bytes of 2-bit quants as Q2_K, 12 bytes of 6-bit scales, d:
// d * (scale - 32) * (q + 4h - 4).
template <>
RS_HD void decode8<kQ3_K>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 5) * 110;
    const int v = (c & 31) * 8, n = v >> 7, j = (v & 127) >> 5, l = v & 31, g = v >> 4;
    const uint8_t* s = b + 96;
    const int lo = g < 8 ? s[g] & 0xF : s[g - 8] >> 4;
    const int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
    const float ds = rd_half(b + 108) * static_cast<float>((lo | (hi << 4)) - 32);
    const uint8_t* q = b + 32 + 32 * n + l;
    const uint8_t* hm = b + l;
    for (int i = 0; i < 8; ++i) {
        const int x = ((q[i] >> (2 * j)) & 3) + 4 * ((hm[i] >> (4 * n + j)) & 1) - 4;
        y[i] = ds * static_cast<float>(x);
    }
}
// IQ4_NL: d, 16 bytes of nibbles indexing the non-linear grid.
template <>
RS_HD void decode8<kIQ4_NL>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 2) * 18;
    const float d = rd_half(b);
    int q[8];
    nibbles8(b + 2, c & 3, q);
    for (int i = 0; i < 8; ++i) y[i] = d * static_cast<float>(iq4_value(q[i]));
}
// IQ4_XS: d, 6-bit scales of 8 sub-blocks of 32 (2 high bits in a u16, 4
// low in 4 bytes), IQ4_NL nibbles: d * (scale - 32) * grid.
template <>
RS_HD void decode8<kIQ4_XS>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 5) * 136;
    const int e = (c & 31) * 8, ib = e >> 5;
    const int lo = (b[4 + ib / 2] >> (4 * (ib % 2))) & 0xF;
    const int hi = (rd16(b + 2) >> (2 * ib)) & 3;
    const float dl = rd_half(b) * static_cast<float>((lo | (hi << 4)) - 32);
    int q[8];
    nibbles8(b + 8 + 16 * ib, (e & 31) >> 3, q);
    for (int i = 0; i < 8; ++i) y[i] = dl * static_cast<float>(iq4_value(q[i]));
}
// MXFP4: an E8M0 exponent, 16 bytes of E2M1 nibbles.
template <>
RS_HD void decode8<kMXFP4>(const uint8_t* row, int c, float* y) {
    const uint8_t* b = row + (c >> 2) * 17;
    const float d = e8m0_half(b[0]);
    int q[8];
    nibbles8(b + 1, c & 3, q);
    for (int i = 0; i < 8; ++i) y[i] = d * static_cast<float>(mxfp4_value(q[i]));
}

// One element k of a row of a float type (F32, F16, BF16: rows of any
// length; quantized rows are whole blocks of 32 or 256, eight at a time).
RS_HD float decode1_float(uint32_t t, const uint8_t* row, int k) {
    if (t == kF32) return reinterpret_cast<const float*>(row)[k];
    const uint16_t h = reinterpret_cast<const uint16_t*>(row)[k];
    return t == kBF16 ? bf16_bits_to_float(h) : half_bits_to_float(h);
}
RS_HD bool is_float_type(uint32_t t) {
    return t == kF32 || t == kF16 || t == kBF16;
}

// The same, the type chosen at run time (host tests, the embedding lookup).
RS_HD void decode8_any(uint32_t t, const uint8_t* row, int c, float* y) {
    switch (t) {
#define RS_DECODE_CASE(T)      \
    case T:                    \
        decode8<T>(row, c, y); \
        break;
        RS_CUDA_WEIGHT_TYPES(RS_DECODE_CASE)
#undef RS_DECODE_CASE
        default:
            for (int i = 0; i < 8; ++i) y[i] = 0.0f;
    }
}

}  // namespace rs::cuda
