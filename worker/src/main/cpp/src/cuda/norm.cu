// norm.cu - RMSNorm with the residual add fused in front of it (kernels.h has the math).
#include "cuda/common.cuh"

namespace fl {
namespace cuda {

namespace {

constexpr int kNormThreads = 256;

// grid (n_out), block kNormThreads. The sum of squares is a fixed-order block reduction over the
// columns c = threadIdx.x + k * kNormThreads: the same for every row and batch.
template <Half H>
__global__ void add_rmsnorm_kernel(float* x, const float* y, const float* w, int hidden, float eps, const int32_t* rows,
                                   typename HalfType<H>::T* xn) {
    __shared__ float sums[kNormThreads / 32];
    const int i = blockIdx.x;
    const int r = rows ? rows[i] : i;
    float* xr = x + int64_t(r) * hidden;
    float ss = 0.0f;
    if (y) {
        const float* yr = y + int64_t(r) * hidden;
        for (int c = threadIdx.x; c < hidden; c += kNormThreads) {
            float v = xr[c] + yr[c];
            xr[c] = v;
            ss += v * v;
        }
    } else {
        for (int c = threadIdx.x; c < hidden; c += kNormThreads) ss += xr[c] * xr[c];
    }
    const float inv = rsqrtf(block_sum<kNormThreads>(ss, sums) / float(hidden) + eps);
    typename HalfType<H>::T* out = xn + int64_t(i) * hidden;
    for (int c = threadIdx.x; c < hidden; c += kNormThreads) out[c] = HalfType<H>::from_float(xr[c] * inv * w[c]);
}

} // namespace

void add_rmsnorm(Half ht, float* x, const float* y, const float* w, int n, int hidden, float eps, const int32_t* rows,
                 int n_out, uint16_t* xn, cudaStream_t stream) {
    if (n_out == 0) return;
    FL_DISPATCH_HALF(ht, H, {
        using T = typename HalfType<H>::T;
        add_rmsnorm_kernel<H><<<n_out, kNormThreads, 0, stream>>>(x, y, w, hidden, eps, rows, reinterpret_cast<T*>(xn));
    });
}

} // namespace cuda
} // namespace fl
