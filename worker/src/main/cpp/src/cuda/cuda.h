// cuda/cuda.h - what the device-neutral engine calls of the CUDA backend. Includes no CUDA header,
// so every engine file may include it; built without CUDA, no-cuda.cpp implements it (no devices,
// and the reason).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "flotilla_engine.h"

namespace fl {

struct Adapter;
struct Context;
struct LinearSource;
struct Model;
class KvCache;

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

// --- the backend: a model's weights, an adapter's LoRA pairs, a context's KV cache and buffers ---
// Opaque here (backend.h); freed through these deleters so that engine files need no CUDA header.
struct DeviceModel;
struct DeviceAdapter;
struct DeviceContext;
struct DeviceModelDeleter {
    void operator()(DeviceModel* p) const noexcept;
};
struct DeviceAdapterDeleter {
    void operator()(DeviceAdapter* p) const noexcept;
};
struct DeviceContextDeleter {
    void operator()(DeviceContext* p) const noexcept;
};
using DeviceModelPtr = std::unique_ptr<DeviceModel, DeviceModelDeleter>;
using DeviceAdapterPtr = std::unique_ptr<DeviceAdapter, DeviceAdapterDeleter>;
using DeviceContextPtr = std::unique_ptr<DeviceContext, DeviceContextDeleter>;

// Copies the model's weights to its device: the linears streamed from their files (converted to
// the compute dtype), norms, biases and RoPE frequencies from the host. Logs the rate on stderr.
DeviceModelPtr upload_model(const Model& model, const std::vector<LinearSource>& linears);
// Device memory the model's weights hold.
int64_t device_model_bytes(const DeviceModel& model);
// Copies an adapter's LoRA pairs (BF16) to its model's device.
DeviceAdapterPtr upload_adapter(const Model& model, const Adapter& adapter);
// The KV pool for kv's blocks and the step buffers for params, on the model's device. Throws
// FL_UNSUPPORTED when a model dimension has no kernel, FL_OUT_OF_MEMORY naming what did not fit.
DeviceContextPtr create_context(const Model& model, const fl_context_params& params, const KvCache& kv);
// Copies KV block from to block to in ctx's device pool (a fork or a copy on write).
void copy_kv_block(DeviceContext& ctx, int64_t bytes_per_block, int32_t from, int32_t to);
// One step of ctx (a context on a CUDA model) over its planned batch: forward.cpp's step on the
// device; the wanted logits rows are copied to batch.logits.
void forward(Context& ctx, const fl_batch& batch);

} // namespace cuda
} // namespace fl
