// What the CLI prints of stored or model text: JSON that is always valid
// (invalid UTF-8 replaced by U+FFFD, never a failed dump), and human-readable
// fields without control characters (a run name or model text holding an
// escape sequence must not drive the terminal).
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "reasonscope/text_safety.h"

namespace rs::cli {

inline std::string json_text(const nlohmann::json& j, int indent = 2) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}
inline void print_json(const nlohmann::json& j) {
    std::puts(json_text(j).c_str());
}
// One field of a line (a table cell): controls, \n and \t escaped.
inline std::string field(const std::string& s) {
    return text::printable(s, false);
}
// Multi-line text: controls escaped, \n and \t kept.
inline std::string lines(const std::string& s) {
    return text::printable(s, true);
}

}  // namespace rs::cli
