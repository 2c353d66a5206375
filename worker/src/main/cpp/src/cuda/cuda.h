// cuda/cuda.h - what the device-neutral engine calls of the CUDA backend. Includes no CUDA header,
// so every engine file may include it; built without CUDA, no-cuda.cpp implements it (no devices,
// and the reason).
#pragma once

#include <cstdint>

#include "flotilla_engine.h"

namespace fl {
namespace cuda {

// Whether this build has the CUDA backend.
bool built_with_cuda();
// Devices the CUDA runtime sees: 0 when there is no driver, no GPU or no CUDA in the build; the
// probe runs once per process.
int device_count();
// Why device_count() is 0 ("" when it is not).
const char* unavailable_reason();
// Name, memory and compute capability of device index (0 .. device_count()-1); the caller
// checked index. Throws fl::Error on a CUDA failure.
void device_info(int index, fl_device_info& out);
// Adds delta to the device memory the engine holds on device index (the allocator's bookkeeping;
// fl_device_info.engine_bytes).
void count_engine_bytes(int index, int64_t delta);

} // namespace cuda
} // namespace fl
