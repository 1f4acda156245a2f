#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rs::cli {

std::vector<std::string> synth_shapes();
// Throws rs::Error for an unknown shape or unsupported type.
void synth_model(const std::string& shape, const std::string& type, const std::string& out_path,
                 uint64_t seed);

}  // namespace rs::cli
