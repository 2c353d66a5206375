// cuda/kernels.h - the device kernels of one step, as host-callable launchers (one .cu per concern).
//
// Each launcher enqueues its kernel on `stream` and returns; a launch error surfaces at the next
// FL_CUDA_CHECK of the stream (forward.cpp checks after every step). Element types:
//   f32          float
//   h16          16-bit floats of the model's compute dtype `ht` (BF16, or F16 for an F16 model),
//                passed as uint16_t so that this header needs no CUDA type
//   kv           BF16 (the KV cache)
// Row-major everywhere; `n` rows of a step. Batch invariance: every kernel computes a row from
// that row's inputs only, with a reduction order fixed by the shapes (never by n), so a row's
// result does not depend on what else is in the batch.
//
// Supported dimensions, checked by check_shapes() when a context is created:
//   hidden, q_dim, kv_dim, intermediate: multiples of 8 (16-byte vector loads of h16)
//   head_dim: even, <= 256; heads per KV head (GQA group) <= 8
//   LoRA rank <= 256
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fl {
namespace cuda {

enum class Half { BF16 = 0, F16 = 1 };

constexpr int kMaxHeadDim = 256;
constexpr int kMaxGroup = 8;
constexpr int kAttnChunk = 32; // positions a warp scores at once (absolute-aligned)

// Throws fl::Error(FL_UNSUPPORTED) naming the first dimension no kernel supports.
void check_shapes(int hidden, int q_dim, int kv_dim, int intermediate, int head_dim, int n_heads, int n_kv_heads);

// --- embed.cu -------------------------------------------------------------------------------
// x[i, :] = float(embed[token[i], :])                       embed [vocab, hidden] h16, x [n, hidden] f32
void embed(Half ht, const uint16_t* table, const int32_t* token, int n, int hidden, float* x, cudaStream_t stream);
// Rounds f32 to h16 (RNE), for tests and the logits rows: out[i] = h16(in[i]), i < count.
void to_half(Half ht, const float* in, uint16_t* out, int64_t count, cudaStream_t stream);

// --- norm.cu --------------------------------------------------------------------------------
// Residual add fused with the next RMSNorm (y may be null: no add), for output row i < n_out and
// its row r = rows ? rows[i] : i (rows: the logits rows, whose x alone matters after the last layer):
//   x[r, :] += y[r, :]                                           x, y [n, hidden] f32
//   xn[i, :] = h16(x[r, :] * rsqrt(mean(x[r, :]^2) + eps) * w)   w [hidden] f32, xn [n_out, hidden] h16
void add_rmsnorm(Half ht, float* x, const float* y, const float* w, int n, int hidden, float eps, const int32_t* rows,
                 int n_out, uint16_t* xn, cudaStream_t stream);

// --- activation.cu --------------------------------------------------------------------------
// h[i, j] = h16(silu(gate[i, j]) * up[i, j]),  silu(g) = g / (1 + exp(-g))   gate, up [n, inter] f32
void silu_mul(Half ht, const float* gate, const float* up, int n, int inter, uint16_t* h, cudaStream_t stream);

// --- rope.cu --------------------------------------------------------------------------------
// RoPE (neox rotate_half, as HF Llama) at each row's position, then the KV-cache write:
//   for head h, j < hd/2:  a = pos[i] * inv_freq[j]   (inv_freq [hd/2] f32, llama3/linear scaling
//                                                       already applied by ModelConfig)
//     (x[j], x[j + hd/2]) = (x[j] cos a - x[j + hd/2] sin a, x[j + hd/2] cos a + x[j] sin a)
//   applied to q [n, n_heads * hd] and k [n, n_kv * hd] (f32, in place), then
//   kv_k[kv_row[i]] = bf16(k[i]), kv_v[kv_row[i]] = bf16(v[i])     [kv_dim] each
// kv_row[i]: the element offset of row i's K slot in the pool (KvLayout); V follows block_size
// rows later.
void rope_store(float* q, float* k, const float* v, const int32_t* pos, const float* inv_freq, int n, int n_heads,
                int n_kv, int hd, uint16_t* kv_pool, const int64_t* kv_row, int64_t v_offset, cudaStream_t stream);

// --- gemm.cu --------------------------------------------------------------------------------
// y[m, c] = sum_k x[m, k] * w[c, k] (+ bias[c])   x [M, K] h16, w [N, K] h16 (HF layout), y [M, N] f32
// on tensor cores (WMMA 16x16x16, f32 accumulators), K in ascending 32-wide steps. split > 1 cuts K
// into `split` fixed ranges whose partial sums go to work [split, M, N] f32 and are added in order
// 0..split-1; split is a function of (N, K, SMs) only (gemm_split), never of M.
// K must be a multiple of 8.
int gemm_split(int N, int K, int sms);
void gemm(Half ht, const uint16_t* x, const uint16_t* w, const float* bias, int M, int N, int K, int split, float* work,
          float* y, cudaStream_t stream);

// --- lora.cu (Punica BGMV: every row gathers its own adapter) ---------------------------------
// For projection p of layer l, each row i with an adapter (lora[i] != null):
//   y[i, :] += (x[i, :] @ A[i]^T) @ B[i]^T * scale[i]
//     x [n, in] h16, A[i] [r_i, in] bf16 (lora_A), Bt[i] [r_i, out] bf16 (lora_B transposed),
//     y [n, out] f32, r_i <= max_rank
// split as Punica's shrink / expand:
//   shrink: t[i, j] = scale[i] * sum_k x[i, k] * A[i][j, k]        t [n, max_rank] f32
//   expand: y[i, c] += sum_j t[i, j] * Bt[i][j, c], j ascending
// A row's table lora[i] holds the adapter's {A, Bt} per (layer, projection) (DeviceAdapter), null
// where the adapter does not apply.
struct LoraPtrs {
    const uint16_t* a;  // [rank, in] bf16, or null: not applied
    const uint16_t* bt; // [rank, out] bf16
};
struct LoraRow {
    const LoraPtrs* table; // [n_layers * 7] device, or null: the base model
    int32_t rank;
    float scale;
};
void lora_shrink(Half ht, const uint16_t* x, int in, const LoraRow* rows, int n, int slot, float* t, int max_rank,
                 cudaStream_t stream);
void lora_expand(const float* t, int max_rank, const LoraRow* rows, int n, int slot, int out, float* y,
                 cudaStream_t stream);

// --- attention.cu ---------------------------------------------------------------------------
// Causal GQA attention through the block tables, one launch for every row of the step (decodes
// and prefill chunks of different lengths):
//   for row i (sequence s = row_seq[i]) and head h (KV head g = h / group):
//     out[i, h] = softmax_t(q[i, h] . K[s, t, g] / sqrt(hd)) @ V[s, t, g],  t in [lo[i], pos[i]]
//   q [n, n_heads * hd] f32, out [n, n_heads * hd] h16; K and V bf16 in the pool, found through
//   blocks[block_off[s'] + t / block_size] (s' = row_run[i]) and KvLayout.
// Positions are scored in absolute-aligned chunks of kAttnChunk, chunk c by warp c % 4, with an
// online softmax; the four warps' states merge in order. Row-local: batch invariant.
struct KvLayout {
    int32_t block_size;
    int32_t n_layers;
    int32_t kv_dim;
    // element offset of (block, layer, kv, slot): ((block * n_layers + layer) * 2 + kv) * block_size + slot) * kv_dim
};
void attention(Half ht, const float* q, const int32_t* pos, const int32_t* lo, const int32_t* row_run,
               const int32_t* block_off, const int32_t* blocks, const uint16_t* kv_pool, KvLayout kv, int layer, int n,
               int n_heads, int n_kv, int hd, uint16_t* out, cudaStream_t stream);

} // namespace cuda
} // namespace fl
