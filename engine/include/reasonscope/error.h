// Errors a user can cause (bad file, bad parameter, ...) are reported as one
// rs::Error whose message says what went wrong and where. Callers at the edge
// (CLI, UI) print it; nothing below them aborts.
#pragma once

#include <stdexcept>
#include <string>

namespace rs {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace rs
