// cuda/check.h - CUDA runtime errors as fl::Error: out of device memory becomes FL_OUT_OF_MEMORY,
// anything else FL_INTERNAL, with the call, the error's name and its text.
#pragma once

#include <cuda_runtime_api.h>

#include "error.h"

namespace fl {
namespace cuda {

[[noreturn]] void fail_cuda(cudaError_t e, const char* call, const char* file, int line);

} // namespace cuda
} // namespace fl

#define FL_CUDA_CHECK(call)                                                                                            \
    do {                                                                                                               \
        cudaError_t fl_cuda_e_ = (call);                                                                               \
        if (fl_cuda_e_ != cudaSuccess) ::fl::cuda::fail_cuda(fl_cuda_e_, #call, __FILE__, __LINE__);                   \
    } while (0)
