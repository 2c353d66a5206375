// activation.cu - SiLU-and-multiply of the MLP, rounding to the GEMM input dtype.
#include "cuda/common.cuh"

namespace fl {
namespace cuda {

namespace {

template <Half H>
__global__ void silu_mul_kernel(const float* gate, const float* up, int64_t count, typename HalfType<H>::T* h) {
    int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= count) return;
    float g = gate[i];
    h[i] = HalfType<H>::from_float(g / (1.0f + expf(-g)) * up[i]);
}

} // namespace

void silu_mul(Half ht, const float* gate, const float* up, int n, int inter, uint16_t* h, cudaStream_t stream) {
    const int64_t count = int64_t(n) * inter;
    if (count == 0) return;
    FL_DISPATCH_HALF(ht, H, {
        using T = typename HalfType<H>::T;
        silu_mul_kernel<H><<<blocks_for(count, 256), 256, 0, stream>>>(gate, up, count, reinterpret_cast<T*>(h));
    });
}

} // namespace cuda
} // namespace fl
