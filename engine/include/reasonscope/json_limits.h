// JSON from files and stores, with its nesting bounded: nlohmann's parser
// is iterative, but copying, dumping and comparing a value recurse, so a
// document nested 100,000 deep (`[[[[...`) would overflow the stack later,
// in code that trusted it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "reasonscope/error.h"

namespace rs {

inline constexpr int kMaxJsonDepth = 512;

// Parses `text` (a string or stream) as Json; nesting deeper than
// max_depth, or invalid JSON, throws rs::Error starting with `what`.
template <class Json = nlohmann::json, class Input>
Json parse_json_bounded(Input&& text, const std::string& what, int max_depth = kMaxJsonDepth,
                        bool allow_exceptions = true) {
    const typename Json::parser_callback_t check = [&](int depth,
                                                       typename Json::parse_event_t event, Json&) {
        if ((event == Json::parse_event_t::object_start ||
             event == Json::parse_event_t::array_start) &&
            depth >= max_depth)
            throw Error(what + ": JSON nested deeper than " + std::to_string(max_depth) +
                        " levels");
        return true;
    };
    try {
        return Json::parse(std::forward<Input>(text), check, allow_exceptions);
    } catch (const typename Json::exception& e) {
        throw Error(what + ": not valid JSON: " + e.what());
    }
}

// The same, but text that is not JSON gives a discarded value
// (is_discarded()) instead of an error; too deep is still an error.
template <class Json = nlohmann::json, class Input>
Json parse_json_or_discarded(Input&& text, const std::string& what) {
    return parse_json_bounded<Json>(std::forward<Input>(text), what, kMaxJsonDepth, false);
}

}  // namespace rs
