// device.h - where a model's weights live and its contexts run: the CPU or one CUDA device.
#pragma once

#include <string>

namespace fl {

struct Device {
    enum Kind { Cpu, Cuda };
    Kind kind = Cpu;
    int index = 0; // CUDA device ordinal (Cuda only)

    bool is_cuda() const { return kind == Cuda; }
    std::string name() const; // "cpu", "cuda:0"
};

// The most CUDA device ordinals a device string may name.
constexpr int kMaxCudaDevices = 1024;

// Parses "cpu" or "cuda:N" (N decimal, 0 .. kMaxCudaDevices-1); NULL or "" is "cpu". Throws
// fl::Error(FL_INVALID_ARGUMENT) naming the text otherwise. Does not check that the device exists.
Device parse_device(const char* text);

// Throws fl::Error(FL_DEVICE_UNAVAILABLE) unless the device exists (always true of the CPU); the
// message names the device, the devices there are and, with none, why (no driver, no GPU, a build
// without CUDA).
void require_device(const Device& device);

} // namespace fl
