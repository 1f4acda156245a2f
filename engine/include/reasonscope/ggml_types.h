// Tensor element types as numbered in the GGUF format (ggml's enum), with
// their block geometry. Every type a GGUF file may carry is recognised here,
// whether or not a kernel computes with it yet.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rs {

enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
};

struct TypeInfo {
    GgmlType type;
    std::string_view name;
    int64_t block_elems;  // elements per block
    int64_t block_bytes;  // bytes per block
};

// nullopt for a number that is not a known type.
std::optional<TypeInfo> type_info(uint32_t type);
std::optional<TypeInfo> type_info_by_name(std::string_view name);
inline std::string_view type_name(GgmlType t) {
    auto ti = type_info(static_cast<uint32_t>(t));
    return ti ? ti->name : std::string_view("?");
}

}  // namespace rs
