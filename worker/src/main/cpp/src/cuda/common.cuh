// cuda/common.cuh - device helpers shared by the kernels: the 16-bit compute types, conversions and
// fixed-order reductions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/kernels.h"

namespace fl {
namespace cuda {

// The CUDA type of a Half and its conversions (round to nearest even).
template <Half H> struct HalfType;
template <> struct HalfType<Half::BF16> {
    using T = __nv_bfloat16;
    static __device__ __forceinline__ float to_float(T v) { return __bfloat162float(v); }
    static __device__ __forceinline__ T from_float(float v) { return __float2bfloat16_rn(v); }
};
template <> struct HalfType<Half::F16> {
    using T = __half;
    static __device__ __forceinline__ float to_float(T v) { return __half2float(v); }
    static __device__ __forceinline__ T from_float(float v) { return __float2half_rn(v); }
};

__device__ __forceinline__ float bf16_bits_to_float(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }
__device__ __forceinline__ uint16_t float_to_bf16_bits(float f) {
    __nv_bfloat16 h = __float2bfloat16_rn(f);
    return *reinterpret_cast<uint16_t*>(&h);
}

// Sum over a warp, the same butterfly for every call: deterministic.
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over a block of kThreads (a multiple of 32, <= 1024): warps reduce, then warp 0 adds the
// warp sums in order. Every thread gets the total. `shared` holds kThreads / 32 floats.
template <int kThreads> __device__ __forceinline__ float block_sum(float v, float* shared) {
    constexpr int kWarps = kThreads / 32;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads(); // shared may hold a previous call's sums
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < kWarps; w++) total += shared[w];
    return total;
}

// Dispatches a template on the runtime Half.
#define FL_DISPATCH_HALF(ht, H, ...)                                                                                   \
    do {                                                                                                               \
        if ((ht) == Half::BF16) {                                                                                      \
            constexpr Half H = Half::BF16;                                                                             \
            __VA_ARGS__;                                                                                               \
        } else {                                                                                                       \
            constexpr Half H = Half::F16;                                                                              \
            __VA_ARGS__;                                                                                               \
        }                                                                                                              \
    } while (0)

inline unsigned blocks_for(int64_t n, int per_block) { return unsigned((n + per_block - 1) / per_block); }

} // namespace cuda
} // namespace fl
