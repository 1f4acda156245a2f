// The CUDA backend as the engine sees it. Its code is a module
// (reasonscope_cuda.so, built when nvcc was found) that the engine loads at
// run time, so the same binary runs where there is no NVIDIA driver or GPU:
// "auto" then takes the CPU and says why (cuda_status().why_not).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rs {

struct CudaDevice {
    int index = 0;
    std::string name;
    int cc_major = 0, cc_minor = 0;  // compute capability
    int64_t memory_total = 0;        // bytes
    int sm_count = 0;
    bool usable = false;  // this build has code for it
    std::string why_not;  // when not usable
};

struct CudaStatus {
    bool built = false;                           // the build had nvcc: the module exists
    std::string module;                           // the module's path
    bool driver = false;                          // libcuda.so.1 loads
    bool loaded = false;                          // the module and its CUDA libraries loaded
    int runtime_version = 0, driver_version = 0;  // e.g. 13000
    std::vector<CudaDevice> devices;
    int chosen = -1;      // the device the backend uses (RS_CUDA_DEVICE, else the largest usable)
    std::string why_not;  // empty when a usable device is there
    bool usable() const { return why_not.empty(); }
};

class Model;

// Why the CUDA backend cannot run the model (a weight type it does not
// compute, named with its tensor; a mixture of experts; heads over 256
// dimensions), or empty if it can. Known without a device or the module.
std::string cuda_unsupported_reason(const Model& model);

// Probed once per process (the driver, the module, the devices).
const CudaStatus& cuda_status();
// A fresh probe; require_driver = false loads the module even where the
// driver is missing (tests: the module and its CUDA libraries load on a
// machine without a GPU, and the runtime says why there is no device).
CudaStatus cuda_probe(bool require_driver = true);

}  // namespace rs
