// CUDA_CHECK / CUBLAS_CHECK: a failed call becomes an rs::Error naming the
// call, the error and where.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "reasonscope/error.h"

namespace rs::cuda {

[[noreturn]] inline void cuda_fail(const std::string& what, const char* expr, const char* file,
                                   int line) {
    throw Error("CUDA error: " + what + " (" + expr + " at " + file + ":" + std::to_string(line) +
                ")");
}

inline void cuda_check(cudaError_t e, const char* expr, const char* file, int line) {
    if (e != cudaSuccess)
        cuda_fail(std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e), expr, file,
                  line);
}

inline void cublas_check(cublasStatus_t e, const char* expr, const char* file, int line) {
    if (e != CUBLAS_STATUS_SUCCESS)
        cuda_fail(std::string("cuBLAS ") + cublasGetStatusName(e) + ": " + cublasGetStatusString(e),
                  expr, file, line);
}

}  // namespace rs::cuda

#define CUDA_CHECK(expr) ::rs::cuda::cuda_check((expr), #expr, __FILE__, __LINE__)
#define CUBLAS_CHECK(expr) ::rs::cuda::cublas_check((expr), #expr, __FILE__, __LINE__)
