// context.h - the state fl_decode runs in: KV cache, thread pool and step scratch, all sized at
// creation so a step does not allocate.
#pragma once

#include <memory>
#include <vector>

#include "batch.h"
#include "flotilla_engine.h"
#include "kernels/kernels.h"
#include "kv-cache.h"
#include "model.h"
#include "threadpool.h"

namespace fl {

struct Context {
    Context(std::shared_ptr<Model> model, const fl_context_params& params);

    std::shared_ptr<Model> model;
    fl_context_params params;
    const kern::Kernels& kern;
    ThreadPool pool;
    KvCache kv;
    int32_t max_positions; // positions a sequence may reach (model limit and pool size)

    // --- step scratch; n = max_batch_tokens -------------------------------------------------
    Buffer x;        // [n, hidden] residual stream
    Buffer xn;       // [n, hidden] normalised input of a projection
    Buffer q;        // [n, q_dim]
    Buffer k;        // [n, kv_dim]
    Buffer v;        // [n, kv_dim]
    Buffer att;      // [n, q_dim] attention output
    Buffer proj_out; // [n, hidden] o_proj / down_proj output before the residual add
    Buffer gate;     // [n, intermediate]
    Buffer up;       // [n, intermediate]
    Buffer xpack;    // packed GEMM input, pack_x_bytes(n, max(hidden, q_dim, intermediate))
    Buffer lora_t;   // [3][n][max_lora_rank] LoRA shrink outputs (scale applied)
    // [n_threads][attend_bytes] per thread: attend's or flash_attend's scratch (64-byte aligned),
    // then at byte attend_ptrs_at the key and value row pointers [max_positions] each
    Buffer attend;
    size_t attend_bytes = 0, attend_ptrs_at = 0;
    Buffer rope; // [n][head_dim] cos | sin per row

    BatchPlan plan;
    std::vector<uint32_t> seq_seen; // [max_sequences] step stamp: a sequence appears in one run
    uint32_t step = 0;

    // On a CUDA model: the KV pool and step buffers there (the host scratch above stays empty).
    cuda::DeviceContextPtr dev;
};

} // namespace fl

struct fl_context {
    std::unique_ptr<fl::Context> ctx;
};

struct fl_model {
    std::shared_ptr<fl::Model> model;
};
