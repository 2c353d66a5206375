// dtype.h - weight element types (kept free of inline code so SIMD files can include it).
#pragma once

#include <cstdint>

namespace fl {
enum class DType : int32_t { F32 = 0, F16 = 1, BF16 = 2 };
} // namespace fl
