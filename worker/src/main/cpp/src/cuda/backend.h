// cuda/backend.h - the CUDA backend's state: a model's weights, an adapter's LoRA pairs and a
// context's KV cache and step buffers, all in device memory. Included by the backend's host files
// only (it needs the CUDA runtime headers); the engine sees the opaque types of cuda.h.
#pragma once

#include <vector>

#include "cuda/cuda.h"
#include "cuda/kernels.h"
#include "cuda/memory.h"
#include "cuda/step-meta.h"

namespace fl {
namespace cuda {

struct DeviceLinear {
    int32_t out = 0, in = 0;
    DeviceBuffer w;    // [out, in] h16 (HF layout)
    DeviceBuffer bias; // [out] f32, or empty
    const float* bias_or_null() const { return bias.empty() ? nullptr : bias.as<float>(); }
};

struct DeviceLayer {
    DeviceBuffer attn_norm, ffn_norm; // [hidden] f32
    DeviceLinear proj[7];             // q k v o gate up down
};

struct DeviceModel {
    int device = 0;
    Half ht = Half::BF16;    // compute dtype of weights and GEMM inputs
    int sms = 0;             // streaming multiprocessors (gemm_split)
    DeviceLinear embed;      // [vocab, hidden]; the lm_head too when tied
    DeviceLinear lm_head;    // [vocab, hidden]; empty when tied
    DeviceBuffer final_norm; // [hidden] f32
    DeviceBuffer inv_freq;   // [head_dim / 2] f32, scaling applied
    std::vector<DeviceLayer> layers;
    int64_t bytes = 0;         // device memory of all of the above
    double upload_seconds = 0; // reading the files and copying, overlapped

    const DeviceLinear& output() const { return lm_head.w.empty() ? embed : lm_head; }
};

struct DeviceAdapter {
    std::vector<DeviceBuffer> pairs; // A [r, in] and Bt [r, out] bf16 per applied (layer, projection)
    DeviceBuffer table;              // [n_layers * 7] LoraPtrs, null where not applied
};

struct DeviceContext {
    int device = 0;
    Half ht = Half::BF16;
    int n = 0;        // max_batch_tokens
    int max_rank = 0; // max_lora_rank
    Stream stream;
    DeviceBuffer kv_pool; // [n_blocks][n_layers][2][block_size][kv_dim] bf16

    // --- step buffers, n = max_batch_tokens ----------------------------------------------------
    DeviceBuffer x;      // [n, hidden] f32 residual stream
    DeviceBuffer xn;     // [n, hidden] h16 normalised input of q/k/v, gate/up, lm_head
    DeviceBuffer q;      // [n, q_dim] f32
    DeviceBuffer k;      // [n, kv_dim] f32
    DeviceBuffer v;      // [n, kv_dim] f32
    DeviceBuffer att;    // [n, q_dim] h16 attention output, o_proj input
    DeviceBuffer proj;   // [n, hidden] f32 o_proj / down_proj output before the residual add
    DeviceBuffer gate;   // [n, intermediate] f32
    DeviceBuffer up;     // [n, intermediate] f32
    DeviceBuffer h;      // [n, intermediate] h16 silu(gate) * up, down_proj input
    DeviceBuffer lora_t; // [n, max_rank] f32 LoRA shrink output
    DeviceBuffer work;   // [split, n, N] f32 split-K partial sums, the largest any projection needs
    DeviceBuffer logits; // [n, vocab] f32
    DeviceBuffer meta;   // the step's StepMeta, packed (meta_bytes)
    PinnedBuffer meta_host;
    size_t meta_bytes = 0;
    StepMeta step; // host copy, reused
};

} // namespace cuda
} // namespace fl
