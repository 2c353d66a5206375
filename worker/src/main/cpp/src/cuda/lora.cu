// lora.cu - batched multi-LoRA, Punica BGMV style: every row gathers its own adapter's A and B
// (kernels.h has the math and the shapes). Rows without an adapter, or whose adapter does not
// apply to this (layer, projection), return at once.
//
// Both kernels are row-local with a fixed reduction order, so a row gets the same t and the same
// update whether its neighbours share its adapter, use another one or none (batch invariance).
// Rows of one adapter read the same A and Bt, which L2 then serves (the SGMV case).
#include "cuda/common.cuh"

namespace fl {
namespace cuda {

namespace {

constexpr int kShrinkThreads = 256;
constexpr int kExpandThreads = 256;

// grid (n), block kShrinkThreads: warp w computes t[i, j] for j = w, w + 8, ...; lane l reads the
// 8-element vectors k = 8 l + 256 t of x[i] and A[j] (in % 8 == 0), FMAs in k order, then the
// warp butterfly adds the lanes.
template <Half H>
__global__ void lora_shrink_kernel(const typename HalfType<H>::T* __restrict__ x, int in, const LoraRow* rows, int slot,
                                   float* __restrict__ t, int max_rank) {
    const int i = blockIdx.x;
    const LoraRow row = rows[i];
    if (!row.table) return;
    const LoraPtrs p = row.table[slot];
    if (!p.a) return;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const typename HalfType<H>::T* xi = x + int64_t(i) * in;
    for (int j = warp; j < row.rank; j += kShrinkThreads / 32) {
        const uint16_t* a = p.a + int64_t(j) * in;
        float acc = 0.0f;
        for (int k = lane * 8; k < in; k += 256) {
            const uint4 xv = *reinterpret_cast<const uint4*>(xi + k);
            const uint4 av = *reinterpret_cast<const uint4*>(a + k);
            const typename HalfType<H>::T* xe = reinterpret_cast<const typename HalfType<H>::T*>(&xv);
            const uint16_t* ae = reinterpret_cast<const uint16_t*>(&av);
            for (int e = 0; e < 8; e++) acc = fmaf(HalfType<H>::to_float(xe[e]), bf16_bits_to_float(ae[e]), acc);
        }
        acc = warp_sum(acc);
        if (lane == 0) t[int64_t(i) * max_rank + j] = row.scale * acc;
    }
}

// grid (ceil(out / kExpandThreads), n): thread c adds sum_j t[i, j] Bt[j, c], j ascending.
__global__ void lora_expand_kernel(const float* __restrict__ t, int max_rank, const LoraRow* rows, int slot, int out,
                                   float* __restrict__ y) {
    const int i = blockIdx.y;
    const int c = blockIdx.x * kExpandThreads + threadIdx.x;
    const LoraRow row = rows[i];
    if (!row.table || c >= out) return;
    const LoraPtrs p = row.table[slot];
    if (!p.a) return;
    const float* ti = t + int64_t(i) * max_rank;
    float acc = 0.0f;
    for (int j = 0; j < row.rank; j++) acc = fmaf(ti[j], bf16_bits_to_float(p.bt[int64_t(j) * out + c]), acc);
    y[int64_t(i) * out + c] += acc;
}

} // namespace

void lora_shrink(Half ht, const uint16_t* x, int in, const LoraRow* rows, int n, int slot, float* t, int max_rank,
                 cudaStream_t stream) {
    if (n == 0) return;
    FL_DISPATCH_HALF(ht, H, {
        using T = typename HalfType<H>::T;
        lora_shrink_kernel<H>
            <<<n, kShrinkThreads, 0, stream>>>(reinterpret_cast<const T*>(x), in, rows, slot, t, max_rank);
    });
}

void lora_expand(const float* t, int max_rank, const LoraRow* rows, int n, int slot, int out, float* y,
                 cudaStream_t stream) {
    if (n == 0) return;
    dim3 grid(blocks_for(out, kExpandThreads), n);
    lora_expand_kernel<<<grid, kExpandThreads, 0, stream>>>(t, max_rank, rows, slot, out, y);
}

} // namespace cuda
} // namespace fl
