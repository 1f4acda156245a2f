// What the CPU backend tells about itself beyond the Backend interface.
#pragma once

#include <string>

namespace rs {

class Model;

// Q4_0 matrices of the model that the CPU backend keeps in its 16-row tile
// layout (0 with RS_REPACK=0 in the environment, which keeps them in place:
// the kernels then transpose tiles per call, with the same results to the bit).
int cpu_repacked_matrices(const Model& model);

// Why the CPU backend cannot run the model (the first tensor of a type it
// does not compute, named), or empty if it can.
std::string cpu_unsupported_reason(const Model& model);

}  // namespace rs
