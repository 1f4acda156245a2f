#include "cpu/fp16.h"

namespace rs::kernels {

float g_fp16_table[65536];

namespace {
struct TableInit {
    TableInit() { init_fp16_table(); }
} g_table_init;
}  // namespace

void init_fp16_table() {
    for (uint32_t i = 0; i < 65536; ++i) g_fp16_table[i] = fp16_to_fp32(static_cast<uint16_t>(i));
}

uint16_t fp32_to_fp16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7FFFFFFF;
    if (absx >= 0x7F800000)
        return static_cast<uint16_t>(sign | 0x7C00 | (absx > 0x7F800000 ? 0x200 : 0));
    if (absx >= 0x477FF000) return static_cast<uint16_t>(sign | 0x7C00);  // overflow to inf
    if (absx < 0x38800000) {  // subnormal or zero in half
        if (absx < 0x33000000) return static_cast<uint16_t>(sign);
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7FFFFF) | 0x800000;
        uint32_t shift = 126 - e;  // 113 - e + 13
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) ++half;
        return static_cast<uint16_t>(sign | half);
    }
    uint32_t e = (absx >> 23) - 112;
    uint32_t m = absx & 0x7FFFFF;
    uint32_t half = (e << 10) | (m >> 13);
    uint32_t rem = m & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
}

}  // namespace rs::kernels
