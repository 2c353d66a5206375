// cuda/memory.h - owners of device memory, pinned host memory, streams and events: each frees what
// it holds, and device memory is counted in the engine's per-device total (fl_device_info).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace fl {
namespace cuda {

// Makes `device` current on this thread for the scope and restores the previous one.
class DeviceScope {
public:
    explicit DeviceScope(int device);
    ~DeviceScope();
    DeviceScope(const DeviceScope&) = delete;
    DeviceScope& operator=(const DeviceScope&) = delete;

private:
    int previous_ = 0;
};

// cudaMalloc'd bytes on one device (uninitialised). Throws FL_OUT_OF_MEMORY naming the size and
// what it was for when the device has no room.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    DeviceBuffer(int device, size_t bytes, const char* what);
    ~DeviceBuffer() { release(); }
    DeviceBuffer(DeviceBuffer&& o) noexcept;
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    template <typename T> T* as() const { return static_cast<T*>(data_); }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

private:
    void release() noexcept;
    int device_ = 0;
    void* data_ = nullptr;
    size_t size_ = 0;
};

// Page-locked host memory (cudaMallocHost): what cudaMemcpyAsync copies from without a bounce.
class PinnedBuffer {
public:
    PinnedBuffer() = default;
    explicit PinnedBuffer(size_t bytes);
    ~PinnedBuffer();
    PinnedBuffer(PinnedBuffer&& o) noexcept;
    PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;

    template <typename T> T* as() const { return static_cast<T*>(data_); }
    size_t size() const { return size_; }

private:
    void* data_ = nullptr;
    size_t size_ = 0;
};

class Stream {
public:
    Stream();
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    cudaStream_t get() const { return stream_; }
    void synchronize() const; // throws on an error of any work queued on it

private:
    cudaStream_t stream_ = nullptr;
};

class Event {
public:
    Event();
    ~Event();
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    void record(cudaStream_t stream);
    void synchronize() const;

private:
    cudaEvent_t event_ = nullptr;
    bool recorded_ = false;
};

} // namespace cuda
} // namespace fl
