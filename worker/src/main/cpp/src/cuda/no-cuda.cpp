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

// Unreachable: no model is ever on a CUDA device in this build (require_device fails first).
DeviceModelPtr upload_model(const Model&, const std::vector<LinearSource>&) {
    fail(FL_DEVICE_UNAVAILABLE, "%s", unavailable_reason());
}
DeviceAdapterPtr upload_adapter(const Model&, const Adapter&) {
    fail(FL_DEVICE_UNAVAILABLE, "%s", unavailable_reason());
}
DeviceContextPtr create_context(const Model&, const fl_context_params&, const KvCache&) {
    fail(FL_DEVICE_UNAVAILABLE, "%s", unavailable_reason());
}
int64_t device_model_bytes(const DeviceModel&) { return 0; }
void copy_kv_block(DeviceContext&, int64_t, int32_t, int32_t) {
    fail(FL_DEVICE_UNAVAILABLE, "%s", unavailable_reason());
}
void forward(Context&, const fl_batch&) { fail(FL_DEVICE_UNAVAILABLE, "%s", unavailable_reason()); }
void DeviceModelDeleter::operator()(DeviceModel*) const noexcept {}
void DeviceAdapterDeleter::operator()(DeviceAdapter*) const noexcept {}
void DeviceContextDeleter::operator()(DeviceContext*) const noexcept {}

} // namespace cuda
} // namespace fl
