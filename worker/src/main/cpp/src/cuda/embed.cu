// embed.cu - token embedding rows to the F32 residual stream, and F32 -> 16-bit rounding.
#include "cuda/common.cuh"

namespace fl {
namespace cuda {

namespace {

// x[i, :] = float(table[token[i], :]); grid (n), block 256.
template <Half H>
__global__ void embed_kernel(const typename HalfType<H>::T* table, const int32_t* token, int hidden, float* x) {
    const int i = blockIdx.x;
    const typename HalfType<H>::T* src = table + int64_t(token[i]) * hidden;
    float* dst = x + int64_t(i) * hidden;
    for (int c = threadIdx.x; c < hidden; c += blockDim.x) dst[c] = HalfType<H>::to_float(src[c]);
}

template <Half H> __global__ void to_half_kernel(const float* in, typename HalfType<H>::T* out, int64_t count) {
    int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < count) out[i] = HalfType<H>::from_float(in[i]);
}

} // namespace

void embed(Half ht, const uint16_t* table, const int32_t* token, int n, int hidden, float* x, cudaStream_t stream) {
    if (n == 0) return;
    FL_DISPATCH_HALF(ht, H, {
        using T = typename HalfType<H>::T;
        embed_kernel<H><<<n, 256, 0, stream>>>(reinterpret_cast<const T*>(table), token, hidden, x);
    });
}

void to_half(Half ht, const float* in, uint16_t* out, int64_t count, cudaStream_t stream) {
    if (count == 0) return;
    FL_DISPATCH_HALF(ht, H, {
        using T = typename HalfType<H>::T;
        to_half_kernel<H><<<blocks_for(count, 256), 256, 0, stream>>>(in, reinterpret_cast<T*>(out), count);
    });
}

} // namespace cuda
} // namespace fl
