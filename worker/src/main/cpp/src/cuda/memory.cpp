#include "cuda/memory.h"

#include <utility>

#include "cuda/check.h"
#include "cuda/cuda.h"

namespace fl {
namespace cuda {

DeviceScope::DeviceScope(int device) {
    FL_CUDA_CHECK(cudaGetDevice(&previous_));
    FL_CUDA_CHECK(cudaSetDevice(device));
}
DeviceScope::~DeviceScope() { (void)cudaSetDevice(previous_); }

DeviceBuffer::DeviceBuffer(int device, size_t bytes, const char* what) : device_(device) {
    if (bytes == 0) return;
    DeviceScope scope(device);
    cudaError_t e = cudaMalloc(&data_, bytes);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        (void)cudaMemGetInfo(&free_b, &total_b);
        fail(FL_OUT_OF_MEMORY, "cuda:%d: cannot allocate %.1f MiB for %s (%.1f MiB of %.1f MiB free)", device,
             bytes / 1048576.0, what, free_b / 1048576.0, total_b / 1048576.0);
    }
    if (e != cudaSuccess) fail_cuda(e, "cudaMalloc", __FILE__, __LINE__);
    size_ = bytes;
    count_engine_bytes(device, int64_t(bytes));
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : device_(o.device_), data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
        release();
        device_ = o.device_;
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

void DeviceBuffer::release() noexcept {
    if (!data_) return;
    (void)cudaFree(data_); // cudaFree synchronises the device; frees happen at model/context teardown
    count_engine_bytes(device_, -int64_t(size_));
    data_ = nullptr;
    size_ = 0;
}

PinnedBuffer::PinnedBuffer(size_t bytes) {
    FL_CUDA_CHECK(cudaMallocHost(&data_, bytes));
    size_ = bytes;
}
PinnedBuffer::~PinnedBuffer() {
    if (data_) (void)cudaFreeHost(data_);
}
PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
}

Stream::Stream() { FL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
Stream::~Stream() {
    if (stream_) (void)cudaStreamDestroy(stream_);
}
void Stream::synchronize() const { FL_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

Event::Event() { FL_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
Event::~Event() {
    if (event_) (void)cudaEventDestroy(event_);
}
void Event::record(cudaStream_t stream) {
    FL_CUDA_CHECK(cudaEventRecord(event_, stream));
    recorded_ = true;
}
void Event::synchronize() const {
    if (recorded_) FL_CUDA_CHECK(cudaEventSynchronize(event_));
}

} // namespace cuda
} // namespace fl
