// tensor.h - dtypes, half-precision conversion and aligned buffers shared by the engine.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "dtype.h"

namespace fl {

inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : t == DType::I8 ? 1 : 2; }
const char* dtype_name(DType t);

// --- half precision conversion (scalar, exact round-to-nearest-even) ---------------------------

inline float bf16_to_f32(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40); // NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

inline float f16_to_f32(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else { // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                exp--;
            }
            mant &= 0x3ffu;
            u = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (mant << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline uint16_t f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
    if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u); // overflow->inf
    if (abs < 0x38800000u) { // subnormal half: units of 2^-24, round half to even
        float a;
        std::memcpy(&a, &abs, 4);
        return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(a * 16777216.0f)));
    }
    uint32_t r = abs + 0xfffu + ((abs >> 13) & 1u) - 0x38000000u;
    return static_cast<uint16_t>(sign | (r >> 13));
}

// --- 64-byte aligned owning buffer ------------------------------------------------------------

class Buffer {
public:
    Buffer() = default;
    explicit Buffer(size_t bytes) { allocate(bytes); }
    ~Buffer() { std::free(data_); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& o) noexcept : data_(o.data_), size_(o.size_) {
        o.data_ = nullptr;
        o.size_ = 0;
    }
    Buffer& operator=(Buffer&& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        return *this;
    }

    // Zero-filled; throws std::bad_alloc.
    void allocate(size_t bytes) {
        allocate_uninitialized(bytes);
        std::memset(data_, 0, (size_ + 63) & ~size_t(63));
    }
    // Contents undefined, for a buffer the caller overwrites whole (packed weights, a staging
    // buffer for file reads): skips a pass over memory that was just faulted in. Throws
    // std::bad_alloc.
    void allocate_uninitialized(size_t bytes) {
        std::free(data_);
        data_ = nullptr;
        size_ = 0;
        size_t rounded = (bytes + 63) & ~size_t(63);
        if (rounded == 0) rounded = 64;
        data_ = std::aligned_alloc(64, rounded);
        if (!data_) throw std::bad_alloc();
        size_ = bytes;
    }
    template <typename T> T* as() { return static_cast<T*>(data_); }
    template <typename T> const T* as() const { return static_cast<const T*>(data_); }
    size_t size() const { return size_; }

private:
    void* data_ = nullptr;
    size_t size_ = 0;
};

} // namespace fl
