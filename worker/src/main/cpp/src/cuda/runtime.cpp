// runtime.cpp - the CUDA devices the engine can use, probed once, and CUDA errors as fl::Error.
//
// The CUDA runtime is linked statically and opens the driver (libcuda.so.1) on its first call, so a
// machine without a driver reaches the probe and gets a reason instead of a failed library load.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#include "cuda/check.h"
#include "cuda/cuda.h"
#include "device.h"

namespace fl {
namespace cuda {

namespace {

struct Probe {
    int count = 0;
    std::string reason;
};

std::string describe(cudaError_t e) {
    switch (e) {
    case cudaErrorInsufficientDriver:
        return "no usable NVIDIA driver (libcuda.so.1 is missing or older than the CUDA " +
               std::to_string(CUDART_VERSION / 1000) + "." + std::to_string(CUDART_VERSION % 1000 / 10) +
               " runtime the engine is built with; cudaErrorInsufficientDriver)";
    case cudaErrorNoDevice:
        return "the NVIDIA driver reports no CUDA device (cudaErrorNoDevice; check CUDA_VISIBLE_DEVICES and the "
               "pod's nvidia.com/gpu request)";
    default:
        return format("CUDA initialisation failed: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
    }
}

// Device memory the engine holds, per ordinal (device.h bounds the ordinals).
std::atomic<int64_t> g_engine_bytes[kMaxCudaDevices];

const Probe& probe() {
    static const Probe p = [] {
        Probe r;
        int n = 0;
        cudaError_t e = cudaGetDeviceCount(&n);
        if (e == cudaSuccess && n > 0) {
            r.count = n;
        } else {
            (void)cudaGetLastError(); // clear the sticky-free error so later calls start clean
            r.reason = e == cudaSuccess ? describe(cudaErrorNoDevice) : describe(e);
        }
        return r;
    }();
    return p;
}

} // namespace

void fail_cuda(cudaError_t e, const char* call, const char* file, int line) {
    (void)cudaGetLastError();
    const char* base = std::strrchr(file, '/');
    fail(e == cudaErrorMemoryAllocation ? FL_OUT_OF_MEMORY : FL_INTERNAL, "CUDA error %s (%s) in %s at %s:%d",
         cudaGetErrorName(e), cudaGetErrorString(e), call, base ? base + 1 : file, line);
}

bool built_with_cuda() { return true; }
int device_count() { return probe().count; }
const char* unavailable_reason() { return probe().reason.c_str(); }

void device_info(int index, fl_device_info& out) {
    cudaDeviceProp prop;
    FL_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
    std::memset(&out, 0, sizeof out);
    std::memcpy(out.name, prop.name, std::min(sizeof out.name, sizeof prop.name) - 1);
    out.compute_major = prop.major;
    out.compute_minor = prop.minor;
    out.multiprocessors = prop.multiProcessorCount;
    // Free memory needs a context on the device: the one the engine uses anyway (primary).
    int current = 0;
    FL_CUDA_CHECK(cudaGetDevice(&current));
    FL_CUDA_CHECK(cudaSetDevice(index));
    size_t free_b = 0, total_b = 0;
    cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
    (void)cudaSetDevice(current);
    if (e != cudaSuccess) fail_cuda(e, "cudaMemGetInfo", __FILE__, __LINE__);
    out.total_bytes = static_cast<int64_t>(total_b);
    out.free_bytes = static_cast<int64_t>(free_b);
    out.engine_bytes = g_engine_bytes[index].load(std::memory_order_relaxed);
}

void count_engine_bytes(int index, int64_t delta) { g_engine_bytes[index].fetch_add(delta, std::memory_order_relaxed); }

} // namespace cuda
} // namespace fl
