// An architecture family: how its hyperparameters and tensors are read from
// GGUF, and its forward pass written in the backend-neutral ops of
// backend.h. One file per family under engine/model/ registers itself; adding
// an architecture is adding such a file. It never knows a backend.
#pragma once

#include <string>
#include <vector>

#include "reasonscope/backend.h"
#include "reasonscope/model.h"

namespace rs {

class ModelLoader;

class Architecture {
  public:
    virtual ~Architecture() = default;
    virtual std::string name() const = 0;  // general.architecture
    // Reads hyperparameters and tensors into the loader's model; throws
    // rs::Error naming the file and the problem.
    virtual void load(ModelLoader& loader) const = 0;
    // One pass (begin_pass already called) through the backend's ops.
    virtual void forward(const Model& model, Backend& backend, const Pass& pass) const = 0;
};

// Registers an architecture for its name (a static object in its file).
struct ArchitectureRegistrar {
    explicit ArchitectureRegistrar(const Architecture& arch);
};
const Architecture* find_architecture(const std::string& name);  // null if unknown
std::vector<std::string> architecture_names();                   // sorted

}  // namespace rs
