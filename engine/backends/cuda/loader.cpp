// Registers the "cuda" backend and loads its module (reasonscope_cuda.so,
// beside librs_engine) on first use. The engine itself links no CUDA
// library: without a driver, without the CUDA libraries or without a GPU,
// "cuda" is unavailable and says why, and "auto" takes the CPU.
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "cuda/quant.h"
#include "reasonscope/backend.h"
#include "reasonscope/cuda_backend.h"
#include "reasonscope/error.h"
#include "reasonscope/ggml_types.h"
#include "reasonscope/model.h"

#ifndef RS_CUDA_ABSENT  // (why this build has no module; engine/CMakeLists.txt says)
#define RS_CUDA_ABSENT "nvcc was not found when it was built"
#endif

namespace rs {
namespace {

using ProbeFn = void (*)(CudaStatus*);
using MakeFn = Backend* (*)(const Model*, const BackendOptions*);

std::string module_path() {
    if (const char* p = std::getenv("RS_CUDA_MODULE"); p && *p) return p;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&module_path), &info) && info.dli_fname) {
        std::string self = info.dli_fname;
        const auto slash = self.rfind('/');
        return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) +
               "/reasonscope_cuda.so";
    }
    return "reasonscope_cuda.so";
}

struct Module {
    void* handle = nullptr;
    ProbeFn probe = nullptr;
    MakeFn make = nullptr;
    std::string error;
};

// The module, loaded once (never unloaded: the CUDA runtime keeps threads).
Module& module() {
    static Module m;
    static std::once_flag once;
    std::call_once(once, [] {
        const std::string path = module_path();
        m.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!m.handle) {
            const char* e = dlerror();
            m.error = "cannot load " + path + ": " + (e ? e : "unknown error");
            return;
        }
        m.probe = reinterpret_cast<ProbeFn>(dlsym(m.handle, "rs_cuda_module_probe"));
        m.make = reinterpret_cast<MakeFn>(dlsym(m.handle, "rs_cuda_module_make"));
        if (!m.probe || !m.make) m.error = path + " is not a Reasonscope CUDA module";
    });
    return m;
}

bool driver_present(std::string& why) {
    void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        why = "no NVIDIA driver (libcuda.so.1 is not installed)";
        return false;
    }
    dlclose(h);
    return true;
}

}  // namespace

std::string cuda_unsupported_reason(const Model& m) {
    for (const Weight* w : m.weights()) {
        if (!cuda::supported_type(w->type)) {
            std::string types;
            for (uint32_t t = 0; t < 64; ++t)
                if (cuda::supported_type(t))
                    types += (types.empty() ? "" : ", ") +
                             std::string(type_name(static_cast<GgmlType>(t)));
            return "tensor " + w->tensor->name + " is " +
                   std::string(type_name(static_cast<GgmlType>(w->type))) +
                   ", which the CUDA backend does not compute (it computes " + types + ")";
        }
    }
    if (m.config().head_dim > 256)
        return "heads of " + std::to_string(m.config().head_dim) +
               " dimensions; the CUDA backend's attention takes at most 256";
    return {};
}

CudaStatus cuda_probe(bool require_driver) {
    CudaStatus st;
#ifdef RS_CUDA_BUILT
    st.built = true;
#endif
    st.module = module_path();
    if (!st.built) {
        st.why_not = std::string("this build has no CUDA backend (") + RS_CUDA_ABSENT + ")";
        return st;
    }
    std::string why;
    st.driver = driver_present(why);
    if (!st.driver && require_driver) {
        st.why_not = why;
        return st;
    }
    Module& m = module();
    if (!m.error.empty()) {
        st.why_not = m.error;
        return st;
    }
    st.loaded = true;
    m.probe(&st);  // devices, versions, chosen, why_not
    if (!st.driver && st.why_not.empty()) st.why_not = why;
    return st;
}

const CudaStatus& cuda_status() {
    static const CudaStatus st = cuda_probe(true);
    return st;
}

namespace {
const bool kRegistered = [] {
    register_backend(
        {"cuda", "an NVIDIA GPU (CUDA kernels and cuBLAS; weights and KV in device memory)", 10,
         [](std::string& why_not) {
             const CudaStatus& st = cuda_status();
             if (!st.usable()) why_not = "no CUDA device: " + st.why_not;
             return st.usable();
         },
         [](const Model& m, const BackendOptions& o) -> std::unique_ptr<Backend> {
             const CudaStatus& st = cuda_status();
             if (!st.usable()) throw Error("no CUDA device: " + st.why_not);
             return std::unique_ptr<Backend>(module().make(&m, &o));
         }});
    return true;
}();
}  // namespace

}  // namespace rs
