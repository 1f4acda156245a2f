// Copying a GGUF file's metadata into a writer, for tests that make
// variants of real model files (another weight type, added tokens).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "reasonscope/gguf.h"

namespace rs::test {

// Adds every key of `f` to `w` in order; `edit(key, value, w)` may write a
// key itself and return true (then the copy skips it).
inline void copy_gguf_metadata(
    const GgufFile& f, GgufWriter& w,
    const std::function<bool(const std::string&, const GgufValue&, GgufWriter&)>& edit = {}) {
    for (const std::string& k : f.keys()) {
        const GgufValue& v = *f.find(k);
        if (edit && edit(k, v, w)) continue;
        switch (v.type) {
            case GgufType::String:
                w.add_string(k, std::string(v.str));
                break;
            case GgufType::F32:
            case GgufType::F64:
                w.add_f32(k, static_cast<float>(v.as_double()));
                break;
            case GgufType::Bool:
                w.add_bool(k, v.as_int() != 0);
                break;
            case GgufType::Array:
                if (v.elem_type == GgufType::String) {
                    std::vector<std::string> a;
                    for (const auto& e : v.items) a.emplace_back(e.str);
                    w.add_string_array(k, a);
                } else if (v.elem_type == GgufType::F32 || v.elem_type == GgufType::F64) {
                    std::vector<float> a;
                    for (const auto& e : v.items) a.push_back(static_cast<float>(e.as_double()));
                    w.add_f32_array(k, a);
                } else {
                    std::vector<int32_t> a;
                    for (const auto& e : v.items) a.push_back(static_cast<int32_t>(e.as_int()));
                    w.add_i32_array(k, a);
                }
                break;
            default:
                w.add_u32(k, static_cast<uint32_t>(v.as_int()));
        }
    }
}

}  // namespace rs::test
