// no-cuda.cpp - the CUDA backend of a build without nvcc: no devices, and that is the reason.
#include "cuda/cuda.h"

#include "error.h"

namespace fl {
namespace cuda {

bool built_with_cuda() { return false; }
int device_count() { return 0; }
const char* unavailable_reason() {
    return "the engine was built without CUDA (no nvcc when it was compiled; FLOTILLA_CUDA=OFF or AUTO)";
}
void device_info(int index, fl_device_info&) { fail(FL_DEVICE_UNAVAILABLE, "%s", unavailable_reason()); }
void count_engine_bytes(int, int64_t) {}

} // namespace cuda
} // namespace fl
