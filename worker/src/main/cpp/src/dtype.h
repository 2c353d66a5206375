// dtype.h - weight element types (kept free of inline code so SIMD files can include it).
#pragma once

#include <cstdint>

namespace fl {
// I8: symmetric per-output-channel int8 with an F32 scale per row (kernels/kernels.h).
// Q4: 4-bit with an F16 scale and a zero point per row and group of 128 columns (kernels/q4.h).
enum class DType : int32_t { F32 = 0, F16 = 1, BF16 = 2, I8 = 3, Q4 = 4 };
} // namespace fl
