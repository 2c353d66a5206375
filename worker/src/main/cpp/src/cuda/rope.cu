// rope.cu - rotary position embedding of q and k, and the K/V write into the paged cache.
#include "cuda/common.cuh"

namespace fl {
namespace cuda {

namespace {

// grid (n), block 128. cos/sin from sincosf (full precision, as the CPU's std::cos/std::sin) of
// pos * inv_freq[j] in F32, as forward.cpp computes them.
__global__ void rope_store_kernel(float* q, float* k, const float* v, const int32_t* pos, const float* inv_freq,
                                  int n_heads, int n_kv, int hd, uint16_t* kv_pool, const int64_t* kv_row,
                                  int64_t v_offset) {
    const int i = blockIdx.x, half = hd / 2;
    const float p = float(pos[i]);
    const int q_dim = n_heads * hd, kv_dim = n_kv * hd;
    float* qi = q + int64_t(i) * q_dim;
    float* ki = k + int64_t(i) * kv_dim;
    for (int e = threadIdx.x; e < (n_heads + n_kv) * half; e += blockDim.x) {
        const int h = e / half, j = e % half;
        float s, c;
        sincosf(p * inv_freq[j], &s, &c);
        float* x = h < n_heads ? qi + h * hd : ki + (h - n_heads) * hd;
        const float x1 = x[j], x2 = x[j + half];
        x[j] = x1 * c - x2 * s;
        x[j + half] = x2 * c + x1 * s;
    }
    __syncthreads(); // k is rotated before it is stored
    uint16_t* kdst = kv_pool + kv_row[i];
    uint16_t* vdst = kdst + v_offset;
    const float* vi = v + int64_t(i) * kv_dim;
    for (int c = threadIdx.x; c < kv_dim; c += blockDim.x) {
        kdst[c] = float_to_bf16_bits(ki[c]);
        vdst[c] = float_to_bf16_bits(vi[c]);
    }
}

} // namespace

void rope_store(float* q, float* k, const float* v, const int32_t* pos, const float* inv_freq, int n, int n_heads,
                int n_kv, int hd, uint16_t* kv_pool, const int64_t* kv_row, int64_t v_offset, cudaStream_t stream) {
    if (n == 0) return;
    rope_store_kernel<<<n, 128, 0, stream>>>(q, k, v, pos, inv_freq, n_heads, n_kv, hd, kv_pool, kv_row, v_offset);
}

} // namespace cuda
} // namespace fl
