// Where the CLI finds the bundled model and task suites when none is named.
#pragma once

#include <string>

namespace rs::cli {

// The bundled model: $REASONSCOPE_MODEL, else resources/models/reasoner.gguf
// beside the source tree or under the install prefix.
std::string default_model_path();
std::string model_path_or_default(const std::string& given);
std::string default_tasks_dir();

}  // namespace rs::cli
