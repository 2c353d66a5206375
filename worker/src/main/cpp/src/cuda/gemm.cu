// gemm.cu - y = x @ w^T on tensor cores (WMMA), the projections of a step (kernels.h has the
// contract).
//
// Tiling: a block of 4 warps computes a BM x BN = 32 x 64 tile of y; warp (wm, wn) the 16 x 32 at
// rows 16 wm, columns 32 wn (two 16x16 accumulators). Each step stages a BK = 32 slice of x's and
// w's tile rows in shared memory (16-byte loads; rows past M or N and columns past K as zeros) and
// runs two 16x16x16 mma per accumulator. Every y element is the sum of its own K slices in
// ascending order within its split range, whatever the tile it sits in, so a row's result does
// not depend on M. A decode step (M <= 32) is bound by reading w; split-K (a fixed function of N,
// K and the SM count) gives each SM blocks enough to keep the reads in flight.
#include <mma.h>

#include <algorithm>

#include "cuda/common.cuh"

namespace fl {
namespace cuda {

namespace {

constexpr int BM = 32, BN = 64, BK = 32;
constexpr int LDS = BK + 8; // shared row stride in elements: 80 bytes, breaks bank conflicts
constexpr int LDC = BN + 4; // float staging stride
constexpr int kThreads = 128;

template <Half H>
__global__ void __launch_bounds__(kThreads)
    gemm_kernel(const typename HalfType<H>::T* __restrict__ x, const typename HalfType<H>::T* __restrict__ w,
                const float* __restrict__ bias, int M, int N, int K, int split, float* __restrict__ out) {
    using T = typename HalfType<H>::T;
    using namespace nvcuda;
    __shared__ __align__(128) T xs[BM][LDS];
    __shared__ __align__(128) T ws[BN][LDS];
    __shared__ __align__(128) float cs[BM][LDC];

    const int tid = threadIdx.x, warp = tid >> 5;
    const int wm = warp & 1, wn = warp >> 1;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, s = blockIdx.z;
    const int ktiles = (K + BK - 1) / BK;
    const int kt0 = int(int64_t(s) * ktiles / split), kt1 = int(int64_t(s + 1) * ktiles / split);

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2];
    wmma::fill_fragment(acc[0], 0.0f);
    wmma::fill_fragment(acc[1], 0.0f);

    const uint4 zero = make_uint4(0, 0, 0, 0);
    for (int kt = kt0; kt < kt1; kt++) {
        const int k0 = kt * BK;
        { // x tile: 32 rows x 4 vectors of 8
            const int r = tid >> 2, c = (tid & 3) * 8;
            const int m = m0 + r, k = k0 + c;
            *reinterpret_cast<uint4*>(&xs[r][c]) =
                m < M && k < K ? *reinterpret_cast<const uint4*>(x + int64_t(m) * K + k) : zero;
        }
        for (int j = 0; j < 2; j++) { // w tile: 64 rows x 4 vectors of 8
            const int e = tid + j * kThreads;
            const int r = e >> 2, c = (e & 3) * 8;
            const int n = n0 + r, k = k0 + c;
            *reinterpret_cast<uint4*>(&ws[r][c]) =
                n < N && k < K ? *reinterpret_cast<const uint4*>(w + int64_t(n) * K + k) : zero;
        }
        __syncthreads();
        for (int kk = 0; kk < BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
            wmma::load_matrix_sync(a, &xs[wm * 16][kk], LDS);
            for (int f = 0; f < 2; f++) {
                // w's rows are y's columns: a 16 (k) x 16 (n) block of w^T is column-major in ws
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                wmma::load_matrix_sync(b, &ws[wn * 32 + f * 16][kk], LDS);
                wmma::mma_sync(acc[f], a, b, acc[f]);
            }
        }
        __syncthreads();
    }
    for (int f = 0; f < 2; f++)
        wmma::store_matrix_sync(&cs[wm * 16][wn * 32 + f * 16], acc[f], LDC, wmma::mem_row_major);
    __syncthreads();
    float* o = out + int64_t(s) * M * N;
    for (int e = tid; e < BM * BN; e += kThreads) {
        const int r = e / BN, c = e % BN, m = m0 + r, n = n0 + c;
        if (m >= M || n >= N) continue;
        float v = cs[r][c];
        if (split == 1 && bias) v += bias[n];
        o[int64_t(m) * N + n] = v;
    }
}

// y[m, n] = sum_{s < split} work[s, m, n] (+ bias[n]), s ascending.
__global__ void split_sum_kernel(const float* __restrict__ work, const float* __restrict__ bias, int64_t MN, int N,
                                 int split, float* __restrict__ y) {
    const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (e >= MN) return;
    float v = 0.0f;
    for (int s = 0; s < split; s++) v += work[s * MN + e];
    if (bias) v += bias[e % N];
    y[e] = v;
}

} // namespace

int gemm_split(int N, int K, int sms) {
    const int tiles = (N + BN - 1) / BN;
    const int ktiles = (K + BK - 1) / BK;
    int split = (2 * sms + tiles - 1) / tiles;        // ~2 blocks per SM at M <= 32
    split = std::min(split, std::max(1, ktiles / 8)); // each split keeps >= 8 K steps
    return std::max(1, std::min(split, 8));
}

void gemm(Half ht, const uint16_t* x, const uint16_t* w, const float* bias, int M, int N, int K, int split, float* work,
          float* y, cudaStream_t stream) {
    if (M == 0) return;
    dim3 grid((N + BN - 1) / BN, (M + BM - 1) / BM, split);
    float* out = split == 1 ? y : work;
    FL_DISPATCH_HALF(ht, H, {
        using T = typename HalfType<H>::T;
        gemm_kernel<H><<<grid, kThreads, 0, stream>>>(reinterpret_cast<const T*>(x), reinterpret_cast<const T*>(w),
                                                      bias, M, N, K, split, out);
    });
    if (split > 1) {
        const int64_t MN = int64_t(M) * N;
        split_sum_kernel<<<blocks_for(MN, 256), 256, 0, stream>>>(work, bias, MN, N, split, y);
    }
}

} // namespace cuda
} // namespace fl
