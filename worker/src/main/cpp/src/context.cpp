#include "context.h"

#include <algorithm>

#include "error.h"

namespace fl {

// A context on a CUDA model computes on the device: one host thread, KV blocks of BF16 whose pool
// lives in device memory (fl_context_create refuses any other kv_dtype there).
Context::Context(std::shared_ptr<Model> m, const fl_context_params& p)
    : model(std::move(m)), params(p), kern(kern::active()), pool(model->dev ? 1 : p.n_threads),
      kv(p.kv_block_size, model->cfg.n_layers, model->cfg.kv_dim(), p.kv_budget_bytes, p.max_sequences,
         model->cfg.max_position_embeddings, static_cast<DType>(p.kv_dtype), !model->dev) {
    const ModelConfig& c = model->cfg;
    max_positions = static_cast<int32_t>(std::min<int64_t>(c.max_position_embeddings, kv.max_tokens()));
    plan.reserve(p.max_batch_tokens);
    seq_seen.assign(p.max_sequences, 0);
    if (model->dev) {
        dev = cuda::create_context(*model, p, kv);
        cuda::DeviceContext* d = dev.get();
        const int64_t block_bytes = kv.bytes_per_block();
        kv.set_device_copy(
            [d, block_bytes](int32_t from, int32_t to) { cuda::copy_kv_block(*d, block_bytes, from, to); });
        return;
    }
    const size_t n = static_cast<size_t>(p.max_batch_tokens);
    x.allocate(n * c.hidden_size * 4);
    xn.allocate(n * c.hidden_size * 4);
    q.allocate(n * c.q_dim() * 4);
    k.allocate(n * c.kv_dim() * 4);
    v.allocate(n * c.kv_dim() * 4);
    att.allocate(n * c.q_dim() * 4);
    proj_out.allocate(n * c.hidden_size * 4);
    gate.allocate(n * c.intermediate_size * 4);
    up.allocate(n * c.intermediate_size * 4);
    int max_k = std::max({c.hidden_size, c.q_dim(), c.intermediate_size});
    size_t pack = 0;
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I8, DType::Q4})
        pack = std::max(pack, kern.pack_x_bytes(t, int(n), max_k));
    xpack.allocate(pack);
    lora_t.allocate(3 * n * size_t(p.max_lora_rank) * 4);
    // per thread: the larger scratch of attend (decode) and flash_attend (prefill), then the key and
    // value row pointers
    size_t scratch = kern::flash_scratch_floats(c.head_dim) * 4;
    if (kern.attend) scratch = std::max(scratch, kern::attend_scratch_floats(max_positions, c.head_dim) * 4);
    attend_ptrs_at = (scratch + 63) & ~size_t(63);
    attend_bytes = (attend_ptrs_at + 2 * size_t(max_positions) * sizeof(void*) + 63) & ~size_t(63);
    attend.allocate(size_t(pool.size()) * attend_bytes);
    rope.allocate(n * c.head_dim * 4);
}

} // namespace fl
