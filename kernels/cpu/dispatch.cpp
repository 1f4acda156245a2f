#include <cpuid.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu/blocks.h"
#include "cpu/kernels.h"

namespace rs::kernels {

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar:
            return "scalar";
        case Isa::Avx2:
            return "avx2";
        case Isa::Avx512:
            return "avx512";
    }
    return "?";
}

// CPUID plus XGETBV: the CPU must have the instructions and the OS must
// save the wider registers.
static Isa detect() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::Scalar;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), f16c = c & (1u << 29),
               avx = c & (1u << 28);
    if (!osxsave || !avx) return Isa::Scalar;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    const bool ymm_state = (xlo & 0x6) == 0x6, zmm_state = (xlo & 0xE6) == 0xE6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return Isa::Scalar;
    const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512bw = b & (1u << 30),
               avx512vl = b & (1u << 31);
    const bool vnni = c & (1u << 11);
    if (ymm_state && zmm_state && avx2 && fma && f16c && avx512f && avx512bw && avx512vl && vnni)
        return Isa::Avx512;
    if (ymm_state && avx2 && fma && f16c) return Isa::Avx2;
    return Isa::Scalar;
}

Isa best_isa() {
    static const Isa isa = [] {
        Isa hw = detect();
        // RS_ISA=scalar|avx2 lowers the choice (for testing and comparison).
        if (const char* e = std::getenv("RS_ISA")) {
            if (!std::strcmp(e, "scalar")) return Isa::Scalar;
            if (!std::strcmp(e, "avx2") && hw != Isa::Scalar) return Isa::Avx2;
        }
        return hw;
    }();
    return isa;
}

const KernelTable* kernels_for(Isa isa) {
    Isa hw = detect();
    switch (isa) {
        case Isa::Scalar:
            return &kScalarTable;
        case Isa::Avx2:
            return hw != Isa::Scalar ? &kAvx2Table : nullptr;
        case Isa::Avx512:
            return hw == Isa::Avx512 ? &kAvx512Table : nullptr;
    }
    return nullptr;
}

const KernelTable& kernels() {
    static const KernelTable* t = kernels_for(best_isa());
    return *t;
}

DotFn dot_for(const KernelTable& k, uint32_t type) {
    switch (type) {
        case W_F32:
            return k.dot_f32;
        case W_F16:
            return k.dot_f16;
        case W_BF16:
            return k.dot_bf16;
        case W_Q4_0:
            return k.dot_q4_0;
        case W_Q5_0:
            return k.dot_q5_0;
        case W_Q5_1:
            return k.dot_q5_1;
        case W_Q8_0:
            return k.dot_q8_0;
        case W_Q4_K:
            return k.dot_q4_k;
        case W_Q6_K:
            return k.dot_q6_k;
        case W_Q2_K:
            return k.dot_q2_k;
        case W_Q3_K:
            return k.dot_q3_k;
        case W_Q5_K:
            return k.dot_q5_k;
        case W_IQ4_XS:
            return k.dot_iq4_xs;
        case W_IQ4_NL:
            return k.dot_iq4_nl;
        case W_MXFP4:
            return k.dot_mxfp4;
        default:
            return nullptr;
    }
}

bool act_format_for(uint32_t type, ActFormat& fmt) {
    switch (type) {
        case W_F32:
        case W_F16:
        case W_BF16:
            fmt = ActFormat::F32;
            return true;
        case W_Q4_0:
        case W_Q5_0:
        case W_Q5_1:
        case W_Q8_0:
        case W_IQ4_NL:
        case W_MXFP4:
            fmt = ActFormat::Q8_0;
            return true;
        case W_Q2_K:
        case W_Q3_K:
        case W_Q4_K:
        case W_Q5_K:
        case W_Q6_K:
        case W_IQ4_XS:
            fmt = ActFormat::Q8_K;
            return true;
        default:
            return false;
    }
}

namespace {

// Packed matrices are tiles of kQ4Tile rows; a tile's block b holds its rows'
// block b in `tile_block` bytes, rows past the last repeating it.
size_t tiled_bytes(int64_t rows, int nb, size_t tile_block) {
    return static_cast<size_t>((rows + kQ4Tile - 1) / kQ4Tile) * static_cast<size_t>(nb) *
           tile_block;
}

// A layout's fields<Pack>(o, r, x) moves row r's block x into the tile block
// at o (Pack) or back out of it: one description of where each field goes,
// for packing and unpacking alike. tile_move<Pack> copies n bytes between a
// place in the tile and one in the block.
template <bool Pack>
inline void tile_move(uint8_t* tile, void* block, size_t n) {
    if constexpr (Pack)
        std::memcpy(tile, block, n);
    else
        std::memcpy(block, tile, n);
}

template <class Block, class Fields>
void pack_tiles(const void* w, size_t w_stride, int64_t rows, int nb, size_t tile_block,
                void* packed, Fields fields) {
    auto* out = static_cast<uint8_t*>(packed);
    const int64_t tiles = (rows + kQ4Tile - 1) / kQ4Tile;
    for (int64_t t = 0; t < tiles; ++t)
        for (int b = 0; b < nb; ++b) {
            uint8_t* o = out + (static_cast<size_t>(t) * nb + b) * tile_block;
            for (int r = 0; r < kQ4Tile; ++r) {
                const int64_t row = std::min<int64_t>(t * kQ4Tile + r, rows - 1);
                Block x = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) +
                                                         static_cast<size_t>(row) * w_stride)[b];
                fields(o, r, x);
            }
        }
}

// Row `row`'s blocks back out of their tiles (fields<false>: the tile is
// only read).
template <class Block, class Fields>
void unpack_tile_row(const void* packed, int nb, int64_t row, size_t tile_block, void* blocks,
                     Fields fields) {
    const int64_t t = row / kQ4Tile;
    const int r = static_cast<int>(row % kQ4Tile);
    auto* xs = static_cast<Block*>(blocks);
    for (int b = 0; b < nb; ++b)
        fields(const_cast<uint8_t*>(static_cast<const uint8_t*>(packed)) +
                   (static_cast<size_t>(t) * nb + b) * tile_block,
               r, xs[b]);
}

constexpr size_t kQ4_0TileBlock = kQ4Tile * sizeof(BlockQ4_0);
constexpr size_t kQ5_0TileBlock = kQ4Tile * sizeof(BlockQ5_0);

template <bool Pack>
void q4_0_fields(uint8_t* o, int r, BlockQ4_0& x) {
    for (int c = 0; c < 4; ++c) tile_move<Pack>(o + 64 * c + 4 * r, x.qs + 4 * c, 4);
    tile_move<Pack>(o + 256 + 2 * r, &x.d, 2);
}

template <bool Pack>
void q5_0_fields(uint8_t* o, int r, BlockQ5_0& x) {
    for (int c = 0; c < 4; ++c) tile_move<Pack>(o + 64 * c + 4 * r, x.qs + 4 * c, 4);
    tile_move<Pack>(o + 256 + 4 * r, x.qh, 4);
    tile_move<Pack>(o + 320 + 2 * r, &x.d, 2);
}

}  // namespace

size_t q4_0_packed_bytes(int64_t rows, int n) {
    return tiled_bytes(rows, n / QK4_0, kQ4_0TileBlock);
}

void pack_q4_0(const void* w, size_t w_stride, int64_t rows, int n, void* packed) {
    pack_tiles<BlockQ4_0>(w, w_stride, rows, n / QK4_0, kQ4_0TileBlock, packed, q4_0_fields<true>);
}

void dequantize_q4_0_packed_row(const void* packed, int n, int64_t row, float* out) {
    std::vector<BlockQ4_0> x(static_cast<size_t>(n / QK4_0));
    unpack_tile_row<BlockQ4_0>(packed, n / QK4_0, row, kQ4_0TileBlock, x.data(),
                               q4_0_fields<false>);
    dequantize_row(W_Q4_0, x.data(), out, n);
}

size_t q5_0_packed_bytes(int64_t rows, int n) {
    return tiled_bytes(rows, n / QK8_0, kQ5_0TileBlock);
}

void pack_q5_0(const void* w, size_t w_stride, int64_t rows, int n, void* packed) {
    pack_tiles<BlockQ5_0>(w, w_stride, rows, n / QK8_0, kQ5_0TileBlock, packed, q5_0_fields<true>);
}

void unpack_q5_0_row(const void* packed, int n, int64_t row, void* blocks) {
    unpack_tile_row<BlockQ5_0>(packed, n / QK8_0, row, kQ5_0TileBlock, blocks, q5_0_fields<false>);
}

void dequantize_q5_0_packed_row(const void* packed, int n, int64_t row, float* out) {
    std::vector<BlockQ5_0> x(static_cast<size_t>(n / QK8_0));
    unpack_q5_0_row(packed, n, row, x.data());
    dequantize_row(W_Q5_0, x.data(), out, n);
}

namespace {

// Q4_K and Q5_K tiles (kernels.h): quants, Q5_K's high bits, scales, mins,
// d and dmin. The offsets of one tile's 256-block.
template <class Block>
struct K45Layout {
    static constexpr bool kFive = std::is_same_v<Block, BlockQ5_K>;
    static constexpr size_t kScales = kFive ? 2048 + 512 : 2048, kMins = kScales + 128,
                            kD = kScales + 256, kDmin = kD + 32, kBytes = kD + 64;
};

template <class Block>
size_t k45_packed_bytes(int64_t rows, int n) {
    return tiled_bytes(rows, n / QK_K, K45Layout<Block>::kBytes);
}

// The quants, Q5_K's high bits, d and dmin move; the packed 6-bit scales
// and mins are spread into bytes (q4k_scale_min) and gathered back.
template <bool Pack, class Block>
void k45_fields(uint8_t* o, int r, Block& x) {
    using L = K45Layout<Block>;
    for (int c = 0; c < 4; ++c)
        for (int g = 0; g < 8; ++g)
            tile_move<Pack>(o + 64 * (8 * c + g) + 4 * r, x.qs + 32 * c + 4 * g, 4);
    if constexpr (L::kFive)
        for (int g = 0; g < 8; ++g) tile_move<Pack>(o + 2048 + 64 * g + 4 * r, x.qh + 4 * g, 4);
    if constexpr (Pack) {
        for (int s = 0; s < 8; ++s)
            q4k_scale_min(s, x.scales, o[L::kScales + 16 * s + r], o[L::kMins + 16 * s + r]);
    } else {
        uint8_t sc[8], mn[8];
        for (int s = 0; s < 8; ++s) {
            sc[s] = o[L::kScales + 16 * s + r];
            mn[s] = o[L::kMins + 16 * s + r];
        }
        // The 6-bit scales and mins back in their 12 bytes (q4k_scale_min's inverse).
        for (int j = 0; j < 4; ++j) {
            x.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
            x.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
            x.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
        }
    }
    tile_move<Pack>(o + L::kD + 2 * r, &x.d, 2);
    tile_move<Pack>(o + L::kDmin + 2 * r, &x.dmin, 2);
}

template <class Block>
void pack_k45(const void* w, size_t w_stride, int64_t rows, int n, void* packed) {
    pack_tiles<Block>(w, w_stride, rows, n / QK_K, K45Layout<Block>::kBytes, packed,
                      k45_fields<true, Block>);
}

template <class Block>
void unpack_k45_row(const void* packed, int n, int64_t row, void* blocks) {
    unpack_tile_row<Block>(packed, n / QK_K, row, K45Layout<Block>::kBytes, blocks,
                           k45_fields<false, Block>);
}

}  // namespace

size_t q4_k_packed_bytes(int64_t rows, int n) {
    return k45_packed_bytes<BlockQ4_K>(rows, n);
}
void pack_q4_k(const void* w, size_t w_stride, int64_t rows, int n, void* packed) {
    pack_k45<BlockQ4_K>(w, w_stride, rows, n, packed);
}
void unpack_q4_k_row(const void* packed, int n, int64_t row, void* blocks) {
    unpack_k45_row<BlockQ4_K>(packed, n, row, blocks);
}
void dequantize_q4_k_packed_row(const void* packed, int n, int64_t row, float* out) {
    std::vector<BlockQ4_K> x(static_cast<size_t>(n / QK_K));
    unpack_q4_k_row(packed, n, row, x.data());
    dequantize_row(W_Q4_K, x.data(), out, n);
}
size_t q5_k_packed_bytes(int64_t rows, int n) {
    return k45_packed_bytes<BlockQ5_K>(rows, n);
}
void pack_q5_k(const void* w, size_t w_stride, int64_t rows, int n, void* packed) {
    pack_k45<BlockQ5_K>(w, w_stride, rows, n, packed);
}
void unpack_q5_k_row(const void* packed, int n, int64_t row, void* blocks) {
    unpack_k45_row<BlockQ5_K>(packed, n, row, blocks);
}
void dequantize_q5_k_packed_row(const void* packed, int n, int64_t row, float* out) {
    std::vector<BlockQ5_K> x(static_cast<size_t>(n / QK_K));
    unpack_q5_k_row(packed, n, row, x.data());
    dequantize_row(W_Q5_K, x.data(), out, n);
}

namespace {
constexpr size_t kQ6KTileBlock = 2048 + 1024 + 256 + 32;  // one tile's 256-block (kernels.h)

template <bool Pack>
void q6_k_fields(uint8_t* o, int r, BlockQ6_K& x) {
    for (int i = 0; i < 32; ++i) tile_move<Pack>(o + 64 * i + 4 * r, x.ql + 4 * i, 4);
    for (int i = 0; i < 16; ++i) tile_move<Pack>(o + 2048 + 64 * i + 4 * r, x.qh + 4 * i, 4);
    for (int g = 0; g < 16; ++g) tile_move<Pack>(o + 3072 + 16 * g + r, x.scales + g, 1);
    tile_move<Pack>(o + 3328 + 2 * r, &x.d, 2);
}
}  // namespace

size_t q6_k_packed_bytes(int64_t rows, int n) {
    return tiled_bytes(rows, n / QK_K, kQ6KTileBlock);
}

void pack_q6_k(const void* w, size_t w_stride, int64_t rows, int n, void* packed) {
    pack_tiles<BlockQ6_K>(w, w_stride, rows, n / QK_K, kQ6KTileBlock, packed, q6_k_fields<true>);
}

void unpack_q6_k_row(const void* packed, int n, int64_t row, void* blocks) {
    unpack_tile_row<BlockQ6_K>(packed, n / QK_K, row, kQ6KTileBlock, blocks, q6_k_fields<false>);
}

void dequantize_q6_k_packed_row(const void* packed, int n, int64_t row, float* out) {
    std::vector<BlockQ6_K> x(static_cast<size_t>(n / QK_K));
    unpack_q6_k_row(packed, n, row, x.data());
    dequantize_row(W_Q6_K, x.data(), out, n);
}

size_t act_row_bytes(ActFormat fmt, int n) {
    switch (fmt) {
        case ActFormat::F32:
            return static_cast<size_t>(n) * 4;
        case ActFormat::Q8_0:
            return q8_act_sums_offset(n / QK8_0) + static_cast<size_t>(n / QK8_0) * 8;
        case ActFormat::Q8_K:
            return static_cast<size_t>(n / QK_K) * sizeof(BlockQ8_K);
    }
    return 0;
}

void attn_start(AttnHead& h, const float* q, float* acc, int hd) {
    h.q = q;
    h.acc = acc;
    std::fill(acc, acc + hd, 0.0f);
    h.M = -INFINITY;
    h.S = 0.0f;
}

void attn_finish(const AttnHead& h, float* out, int hd) {
    const float inv = h.S == 0.0f ? 0.0f : 1.0f / h.S;
    for (int i = 0; i < hd; ++i) out[i] = h.acc[i] * inv;
}

}  // namespace rs::kernels
