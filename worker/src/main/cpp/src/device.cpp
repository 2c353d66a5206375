#include "device.h"

#include <cstring>

#include "cuda/cuda.h"
#include "error.h"

namespace fl {

std::string Device::name() const { return is_cuda() ? "cuda:" + std::to_string(index) : "cpu"; }

Device parse_device(const char* text) {
    Device d;
    if (!text || !*text || std::strcmp(text, "cpu") == 0) return d;
    if (std::strncmp(text, "cuda:", 5) == 0) {
        const char* digits = text + 5;
        size_t n = std::strlen(digits);
        bool ok = n >= 1 && n <= 4 && (n == 1 || digits[0] != '0');
        int index = 0;
        for (size_t i = 0; ok && i < n; i++) {
            ok = digits[i] >= '0' && digits[i] <= '9';
            index = index * 10 + (digits[i] - '0');
        }
        if (ok && index < kMaxCudaDevices) {
            d.kind = Device::Cuda;
            d.index = index;
            return d;
        }
    }
    fail(FL_INVALID_ARGUMENT, "device '%.64s' is not 'cpu' or 'cuda:N' (N a device ordinal 0..%d)", text,
         kMaxCudaDevices - 1);
}

void require_device(const Device& device) {
    if (!device.is_cuda()) return;
    int n = cuda::device_count();
    if (n == 0)
        fail(FL_DEVICE_UNAVAILABLE, "device %s is not available: %s", device.name().c_str(),
             cuda::unavailable_reason());
    if (device.index >= n)
        fail(FL_DEVICE_UNAVAILABLE, "device %s is not available: %d CUDA device%s visible (cuda:0%s)",
             device.name().c_str(), n, n == 1 ? " is" : "s are", n == 1 ? "" : format("..cuda:%d", n - 1).c_str());
}

} // namespace fl
