// attention.cu - causal GQA attention over the paged KV cache for every row of a step, decodes
// and prefill chunks alike (kernels.h has the math).
//
// grid (n rows, n_kv heads), block 4 warps. The rows' positions [lo, pos] are scored in chunks of
// 32 aligned to absolute positions (chunk c = positions 32c .. 32c+31), chunk c by warp c % 4:
// lane j scores position 32c + j against the group's query heads (held in shared memory), the
// warp updates its online softmax (running max m, sum l, and the weighted sum of V rows, whose
// dimensions d = lane + 32 dd it owns), and at the end the four warps' states merge in warp order.
// The order of every operation depends on the row's own positions only: batch invariant, and the
// same whether the row decodes or sits in a prefill chunk.
// Positions outside [lo, pos] are neither scored nor read (their blocks may not exist).
//
// Known limit: a prefill chunk's rows each read their keys and values again (no tile shares them),
// so long prefills are bound by L2 reads; a tiled kernel that stages K/V for a tile of rows
// replaces this for prefill.
#include <cfloat>

#include "cuda/common.cuh"

namespace fl {
namespace cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxDims = kMaxHeadDim / 32; // dimensions per lane

template <Half H>
__global__ void __launch_bounds__(kWarps * 32)
    attention_kernel(const float* __restrict__ q, const int32_t* __restrict__ pos, const int32_t* __restrict__ lo,
                     const int32_t* __restrict__ row_run, const int32_t* __restrict__ block_off,
                     const int32_t* __restrict__ blocks, const uint16_t* __restrict__ kv_pool, KvLayout kv, int layer,
                     int n_heads, int n_kv, int hd, typename HalfType<H>::T* __restrict__ out) {
    __shared__ float qs[kMaxGroup][kMaxHeadDim];
    __shared__ float ms[kWarps][kMaxGroup], ls[kWarps][kMaxGroup];
    __shared__ float accs[kWarps][kMaxGroup][kMaxHeadDim];

    const int i = blockIdx.x, g = blockIdx.y;
    const int group = n_heads / n_kv, q_dim = n_heads * hd;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int dims = hd / 32;
    const float scale = rsqrtf(float(hd));
    for (int e = threadIdx.x; e < group * hd; e += blockDim.x)
        qs[e / hd][e % hd] = q[int64_t(i) * q_dim + (g * group + e / hd) * hd + e % hd];
    __syncthreads();

    const int first = lo[i], last = pos[i];
    const int32_t* table = blocks + block_off[row_run[i]];
    const int64_t kv_off = int64_t(g) * hd;
    const int64_t v_step = int64_t(kv.block_size) * kv.kv_dim; // V rows follow the block's K rows

    float m[kMaxGroup], l[kMaxGroup], acc[kMaxGroup][kMaxDims];
    for (int h = 0; h < kMaxGroup; h++) {
        m[h] = -FLT_MAX;
        l[h] = 0.0f;
        for (int d = 0; d < kMaxDims; d++) acc[h][d] = 0.0f;
    }

    for (int c = first / 32 + ((warp - first / 32) % kWarps + kWarps) % kWarps; c <= last / 32; c += kWarps) {
        const int p = c * 32 + lane;
        const bool valid = p >= first && p <= last;
        const uint16_t* krow = nullptr;
        if (valid) {
            const int64_t blk = table[p / kv.block_size], slot = p % kv.block_size;
            krow = kv_pool + ((blk * kv.n_layers + layer) * 2 * kv.block_size + slot) * kv.kv_dim + kv_off;
        }
        float s[kMaxGroup];
        for (int h = 0; h < group; h++) s[h] = 0.0f;
        if (valid) {
            for (int d0 = 0; d0 < hd; d0 += 8) {
                const uint4 kvv = *reinterpret_cast<const uint4*>(krow + d0);
                const uint16_t* ke = reinterpret_cast<const uint16_t*>(&kvv);
                for (int e = 0; e < 8; e++) {
                    const float kf = bf16_bits_to_float(ke[e]);
                    for (int h = 0; h < group; h++) s[h] = fmaf(qs[h][d0 + e], kf, s[h]);
                }
            }
        }
        for (int h = 0; h < group; h++) {
            const float sc = valid ? s[h] * scale : -FLT_MAX;
            const float mx = fmaxf(m[h], warp_max(sc));
            const float corr = expf(m[h] - mx);
            const float pr = valid ? expf(sc - mx) : 0.0f;
            l[h] = l[h] * corr + warp_sum(pr);
            for (int d = 0; d < dims; d++) acc[h][d] *= corr;
            m[h] = mx;
            s[h] = pr; // this lane's weight for head h
        }
        // weighted V rows: lane owns dimensions lane + 32 d; position j's weight from lane j
        for (int j = 0; j < 32; j++) {
            const int pj = c * 32 + j;
            if (pj < first || pj > last) continue; // uniform across the warp
            const int64_t blk = table[pj / kv.block_size], slot = pj % kv.block_size;
            const uint16_t* vrow =
                kv_pool + ((blk * kv.n_layers + layer) * 2 * kv.block_size + slot) * kv.kv_dim + v_step + kv_off;
            float vd[kMaxDims];
            for (int d = 0; d < dims; d++) vd[d] = bf16_bits_to_float(vrow[lane + 32 * d]);
            for (int h = 0; h < group; h++) {
                const float w = __shfl_sync(0xffffffffu, s[h], j);
                for (int d = 0; d < dims; d++) acc[h][d] = fmaf(w, vd[d], acc[h][d]);
            }
        }
    }

    for (int h = 0; h < group; h++) {
        if (lane == 0) {
            ms[warp][h] = m[h];
            ls[warp][h] = l[h];
        }
        for (int d = 0; d < dims; d++) accs[warp][h][lane + 32 * d] = acc[h][d];
    }
    __syncthreads();
    for (int e = threadIdx.x; e < group * hd; e += blockDim.x) {
        const int h = e / hd, d = e % hd;
        float mx = -FLT_MAX;
        for (int w = 0; w < kWarps; w++) mx = fmaxf(mx, ms[w][h]);
        float num = 0.0f, den = 0.0f;
        for (int w = 0; w < kWarps; w++) {
            const float f = ls[w][h] > 0.0f ? expf(ms[w][h] - mx) : 0.0f;
            num = fmaf(f, accs[w][h][d], num);
            den = fmaf(f, ls[w][h], den);
        }
        out[int64_t(i) * q_dim + (g * group + h) * hd + d] = HalfType<H>::from_float(num / den);
    }
}

} // namespace

void attention(Half ht, const float* q, const int32_t* pos, const int32_t* lo, const int32_t* row_run,
               const int32_t* block_off, const int32_t* blocks, const uint16_t* kv_pool, KvLayout kv, int layer, int n,
               int n_heads, int n_kv, int hd, uint16_t* out, cudaStream_t stream) {
    if (n == 0) return;
    dim3 grid(n, n_kv);
    FL_DISPATCH_HALF(ht, H, {
        using T = typename HalfType<H>::T;
        attention_kernel<H><<<grid, kWarps * 32, 0, stream>>>(q, pos, lo, row_run, block_off, blocks, kv_pool, kv,
                                                              layer, n_heads, n_kv, hd, reinterpret_cast<T*>(out));
    });
}

} // namespace cuda
} // namespace fl
