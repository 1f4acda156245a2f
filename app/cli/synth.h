#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rs::cli {

std::vector<std::string> synth_shapes();
// Throws rs::Error for an unknown shape or unsupported type.
// llama.cpp's LLAMA_FTYPE number for a synth type or mix (general.file_type).
uint32_t synth_file_type(const std::string& type);
void synth_model(const std::string& shape, const std::string& type, const std::string& out_path,
                 uint64_t seed);

}  // namespace rs::cli
