#include "reasonscope/ggml_types.h"

#include <array>

namespace rs {
namespace {

constexpr std::array kTypes = {
    TypeInfo{GgmlType::F32, "F32", 1, 4},
    TypeInfo{GgmlType::F16, "F16", 1, 2},
    TypeInfo{GgmlType::Q4_0, "Q4_0", 32, 18},
    TypeInfo{GgmlType::Q4_1, "Q4_1", 32, 20},
    TypeInfo{GgmlType::Q5_0, "Q5_0", 32, 22},
    TypeInfo{GgmlType::Q5_1, "Q5_1", 32, 24},
    TypeInfo{GgmlType::Q8_0, "Q8_0", 32, 34},
    TypeInfo{GgmlType::Q8_1, "Q8_1", 32, 36},
    TypeInfo{GgmlType::Q2_K, "Q2_K", 256, 84},
    TypeInfo{GgmlType::Q3_K, "Q3_K", 256, 110},
    TypeInfo{GgmlType::Q4_K, "Q4_K", 256, 144},
    TypeInfo{GgmlType::Q5_K, "Q5_K", 256, 176},
    TypeInfo{GgmlType::Q6_K, "Q6_K", 256, 210},
    TypeInfo{GgmlType::Q8_K, "Q8_K", 256, 292},
    TypeInfo{GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66},
    TypeInfo{GgmlType::IQ2_XS, "IQ2_XS", 256, 74},
    TypeInfo{GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98},
    TypeInfo{GgmlType::IQ1_S, "IQ1_S", 256, 50},
    TypeInfo{GgmlType::IQ4_NL, "IQ4_NL", 32, 18},
    TypeInfo{GgmlType::IQ3_S, "IQ3_S", 256, 110},
    TypeInfo{GgmlType::IQ2_S, "IQ2_S", 256, 82},
    TypeInfo{GgmlType::IQ4_XS, "IQ4_XS", 256, 136},
    TypeInfo{GgmlType::I8, "I8", 1, 1},
    TypeInfo{GgmlType::I16, "I16", 1, 2},
    TypeInfo{GgmlType::I32, "I32", 1, 4},
    TypeInfo{GgmlType::I64, "I64", 1, 8},
    TypeInfo{GgmlType::F64, "F64", 1, 8},
    TypeInfo{GgmlType::IQ1_M, "IQ1_M", 256, 56},
    TypeInfo{GgmlType::BF16, "BF16", 1, 2},
    TypeInfo{GgmlType::TQ1_0, "TQ1_0", 256, 54},
    TypeInfo{GgmlType::TQ2_0, "TQ2_0", 256, 66},
    TypeInfo{GgmlType::MXFP4, "MXFP4", 32, 17},  // E8M0 scale + 32 FP4 (E2M1) values
};

}  // namespace

std::optional<TypeInfo> type_info(uint32_t type) {
    for (const auto& t : kTypes)
        if (static_cast<uint32_t>(t.type) == type) return t;
    return std::nullopt;
}

std::optional<TypeInfo> type_info_by_name(std::string_view name) {
    for (const auto& t : kTypes) {
        if (t.name.size() != name.size()) continue;
        bool eq = true;
        for (size_t i = 0; i < name.size(); ++i) {
            char a = name[i], b = t.name[i];
            if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 32);
            if (a != b) eq = false;
        }
        if (eq) return t;
    }
    return std::nullopt;
}

}  // namespace rs
