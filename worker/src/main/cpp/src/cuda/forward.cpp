// forward.cpp (cuda) - one engine step on the device, the same step as ../forward.cpp:
//
//   x = embed[token]                                            [n, hidden] f32
//   per layer:
//     xn = rmsnorm(x) * attn_norm                               (fused with the previous add)
//     q, k, v = xn @ Wq^T, Wk^T, Wv^T (+ bias) (+ LoRA)         gemm + lora_shrink/expand
//     rope(q, k) at each row's position; k, v -> paged KV cache
//     att = causal GQA attention over the sequence's positions
//     proj = att @ Wo^T (+ bias) (+ LoRA)
//     x += proj; xn = rmsnorm(x) * ffn_norm                     add_rmsnorm
//     gate, up = xn @ Wg^T, Wu^T (+ LoRA); h = silu(gate) * up
//     proj = h @ Wd^T (+ LoRA)
//   x += proj (fused with the next layer's norm); logits = rmsnorm(x[wanted]) * norm @ Wlm^T
//
// The batch plan (runs, LoRA rows, wanted rows) and the KV block bookkeeping are the host's, as on
// the CPU; StepMeta carries them to the device in one copy. Only the wanted logits rows come back.
#include <algorithm>
#include <cstring>

#include "adapter.h"
#include "context.h"
#include "cuda/backend.h"
#include "cuda/check.h"

namespace fl {
namespace cuda {

namespace {

size_t align16(size_t b) { return (b + 15) & ~size_t(15); }

// Bytes of the packed StepMeta for n rows, runs <= n, blocks <= total_blocks.
size_t meta_capacity(int n, int total_blocks) {
    return align16(size_t(n) * 4) * 5 + align16(size_t(total_blocks) * 4) + align16(size_t(n) * 8) +
           align16(size_t(n) * sizeof(LoraRow)) + align16(size_t(n) * 4);
}

struct DeviceMeta {
    const int32_t *token, *pos, *lo, *row_run, *block_off, *blocks, *out_rows;
    const int64_t* kv_row;
    const LoraRow* lora;
};

// Packs ctx.step into the pinned buffer and copies it to the device in one transfer.
DeviceMeta upload_meta(DeviceContext& d) {
    const StepMeta& s = d.step;
    char* host = d.meta_host.as<char>();
    char* dev = d.meta.as<char>();
    size_t off = 0;
    auto put = [&](const void* src, size_t bytes) {
        std::memcpy(host + off, src, bytes);
        const void* at = dev + off;
        off += align16(bytes);
        return at;
    };
    DeviceMeta m;
    const size_t n = s.token.size();
    m.token = static_cast<const int32_t*>(put(s.token.data(), n * 4));
    m.pos = static_cast<const int32_t*>(put(s.pos.data(), n * 4));
    m.lo = static_cast<const int32_t*>(put(s.lo.data(), n * 4));
    m.row_run = static_cast<const int32_t*>(put(s.row_run.data(), n * 4));
    m.block_off = static_cast<const int32_t*>(put(s.block_off.data(), s.block_off.size() * 4));
    m.blocks = static_cast<const int32_t*>(put(s.blocks.data(), s.blocks.size() * 4));
    m.kv_row = static_cast<const int64_t*>(put(s.kv_row.data(), n * 8));
    m.out_rows = static_cast<const int32_t*>(put(s.out_rows.data(), s.out_rows.size() * 4));
    std::vector<LoraRow> rows(n);
    for (size_t i = 0; i < n; i++) {
        const Adapter* a = s.adapter[i];
        rows[i] = a ? LoraRow{a->dev->table.as<LoraPtrs>(), a->rank, a->scale} : LoraRow{nullptr, 0, 0.0f};
    }
    m.lora = static_cast<const LoraRow*>(put(rows.data(), n * sizeof(LoraRow)));
    if (off > d.meta_bytes)
        fail(FL_INTERNAL, "step metadata of %zu bytes exceeds its buffer of %zu", off, d.meta_bytes);
    FL_CUDA_CHECK(cudaMemcpyAsync(dev, host, off, cudaMemcpyHostToDevice, d.stream.get()));
    return m;
}

struct DeviceStep {
    Context& c;
    const fl_batch& b;
    const ModelConfig& cfg;
    const DeviceModel& m;
    DeviceContext& d;
    cudaStream_t st;
    DeviceMeta meta{};
    bool lora = false;
    int n = 0;

    DeviceStep(Context& ctx, const fl_batch& batch)
        : c(ctx), b(batch), cfg(ctx.model->cfg), m(*ctx.model->dev), d(*ctx.dev), st(ctx.dev->stream.get()) {}

    // y [n, w.out] = x [n, w.in] @ w^T (+ bias) (+ LoRA of projection p in layer l)
    void linear(const DeviceLinear& w, const uint16_t* x, float* y, int l, int p) {
        gemm(m.ht, x, w.w.as<uint16_t>(), w.bias_or_null(), n, w.out, w.in, gemm_split(w.out, w.in, m.sms),
             d.work.as<float>(), y, st);
        if (lora && l >= 0) {
            const int slot = l * kNumProj + p;
            lora_shrink(m.ht, x, w.in, meta.lora, n, slot, d.lora_t.as<float>(), d.max_rank, st);
            lora_expand(d.lora_t.as<float>(), d.max_rank, meta.lora, n, slot, w.out, y, st);
        }
    }

    void run() {
        n = c.plan.n_rows;
        lora = !c.plan.segs.empty();
        build_step_meta(c.plan, b, c.kv, cfg, d.step);
        meta = upload_meta(d);
        const int H = cfg.hidden_size, I = cfg.intermediate_size;
        const int kv_dim = cfg.kv_dim(), bs = c.kv.block_size();
        const int64_t layer_stride = int64_t(2) * bs * kv_dim; // pool elements between layers of a block
        float* x = d.x.as<float>();
        uint16_t* xn = d.xn.as<uint16_t>();
        float* proj = d.proj.as<float>();
        embed(m.ht, m.embed.w.as<uint16_t>(), meta.token, n, H, x, st);
        for (int l = 0; l < cfg.n_layers; l++) {
            const DeviceLayer& L = m.layers[l];
            add_rmsnorm(m.ht, x, l == 0 ? nullptr : proj, L.attn_norm.as<float>(), n, H, cfg.rms_norm_eps, nullptr, n,
                        xn, st);
            linear(L.proj[kQ], xn, d.q.as<float>(), l, kQ);
            linear(L.proj[kK], xn, d.k.as<float>(), l, kK);
            linear(L.proj[kV], xn, d.v.as<float>(), l, kV);
            // rope_store addresses layer 0 of a block; later layers sit layer_stride further on
            rope_store(d.q.as<float>(), d.k.as<float>(), d.v.as<float>(), meta.pos, m.inv_freq.as<float>(), n,
                       cfg.n_heads, cfg.n_kv_heads, cfg.head_dim, d.kv_pool.as<uint16_t>() + l * layer_stride,
                       meta.kv_row, int64_t(bs) * kv_dim, st);
            attention(m.ht, d.q.as<float>(), meta.pos, meta.lo, meta.row_run, meta.block_off, meta.blocks,
                      d.kv_pool.as<uint16_t>(), KvLayout{bs, cfg.n_layers, kv_dim}, l, n, cfg.n_heads, cfg.n_kv_heads,
                      cfg.head_dim, d.att.as<uint16_t>(), st);
            linear(L.proj[kO], d.att.as<uint16_t>(), proj, l, kO);
            add_rmsnorm(m.ht, x, proj, L.ffn_norm.as<float>(), n, H, cfg.rms_norm_eps, nullptr, n, xn, st);
            linear(L.proj[kGate], xn, d.gate.as<float>(), l, kGate);
            linear(L.proj[kUp], xn, d.up.as<float>(), l, kUp);
            silu_mul(m.ht, d.gate.as<float>(), d.up.as<float>(), n, I, d.h.as<uint16_t>(), st);
            linear(L.proj[kDown], d.h.as<uint16_t>(), proj, l, kDown);
        }
        const int n_out = static_cast<int>(c.plan.out_rows.size());
        // the last residual add and the final norm, for the wanted rows only
        add_rmsnorm(m.ht, x, proj, m.final_norm.as<float>(), n, H, cfg.rms_norm_eps, meta.out_rows, n_out, xn, st);
        if (n_out > 0) {
            const DeviceLinear& head = m.output();
            const int saved = n;
            n = n_out;
            linear(head, xn, d.logits.as<float>(), -1, 0);
            n = saved;
            FL_CUDA_CHECK(cudaMemcpyAsync(b.logits, d.logits.as<float>(), size_t(n_out) * cfg.vocab_size * 4,
                                          cudaMemcpyDeviceToHost, st));
        }
        FL_CUDA_CHECK(cudaGetLastError());
        d.stream.synchronize();
    }
};

} // namespace

DeviceContextPtr create_context(const Model& model, const fl_context_params& p, const KvCache& kv) {
    const ModelConfig& c = model.cfg;
    const DeviceModel& m = *model.dev;
    check_shapes(c.hidden_size, c.q_dim(), c.kv_dim(), c.intermediate_size, c.head_dim, c.n_heads, c.n_kv_heads);
    DeviceScope scope(m.device);
    DeviceContextPtr d(new DeviceContext);
    d->device = m.device;
    d->ht = m.ht;
    d->n = p.max_batch_tokens;
    d->max_rank = p.max_lora_rank;
    const size_t n = size_t(p.max_batch_tokens), H = c.hidden_size, I = c.intermediate_size;
    const size_t qd = c.q_dim(), kvd = c.kv_dim();
    d->kv_pool = DeviceBuffer(m.device, size_t(kv.total_blocks()) * size_t(kv.bytes_per_block()), "the KV cache");
    d->x = DeviceBuffer(m.device, n * H * 4, "step buffers");
    d->xn = DeviceBuffer(m.device, n * H * 2, "step buffers");
    d->q = DeviceBuffer(m.device, n * qd * 4, "step buffers");
    d->k = DeviceBuffer(m.device, n * kvd * 4, "step buffers");
    d->v = DeviceBuffer(m.device, n * kvd * 4, "step buffers");
    d->att = DeviceBuffer(m.device, n * qd * 2, "step buffers");
    d->proj = DeviceBuffer(m.device, n * H * 4, "step buffers");
    d->gate = DeviceBuffer(m.device, n * I * 4, "step buffers");
    d->up = DeviceBuffer(m.device, n * I * 4, "step buffers");
    d->h = DeviceBuffer(m.device, n * I * 2, "step buffers");
    d->lora_t = DeviceBuffer(m.device, n * size_t(p.max_lora_rank) * 4, "step buffers");
    // split-K partials: the largest split * N over the projections and the lm_head
    size_t work = 0;
    auto need = [&](const DeviceLinear& w) {
        const int s = gemm_split(w.out, w.in, m.sms);
        if (s > 1) work = std::max(work, size_t(s) * w.out);
    };
    for (const DeviceLayer& L : m.layers)
        for (const DeviceLinear& w : L.proj) need(w);
    need(m.output());
    d->work = DeviceBuffer(m.device, std::max<size_t>(work * n * 4, 16), "split-K partial sums");
    d->logits = DeviceBuffer(m.device, n * size_t(c.vocab_size) * 4, "logits");
    d->meta_bytes = meta_capacity(p.max_batch_tokens, kv.total_blocks());
    d->meta = DeviceBuffer(m.device, d->meta_bytes, "step metadata");
    d->meta_host = PinnedBuffer(d->meta_bytes);
    return d;
}

void forward(Context& ctx, const fl_batch& batch) {
    DeviceScope scope(ctx.dev->device);
    DeviceStep step(ctx, batch);
    step.run();
}

// Queued on the context's stream, ahead of the step that reads the copy.
void copy_kv_block(DeviceContext& d, int64_t bytes_per_block, int32_t from, int32_t to) {
    DeviceScope scope(d.device);
    char* pool = d.kv_pool.as<char>();
    FL_CUDA_CHECK(cudaMemcpyAsync(pool + int64_t(to) * bytes_per_block, pool + int64_t(from) * bytes_per_block,
                                  size_t(bytes_per_block), cudaMemcpyDeviceToDevice, d.stream.get()));
}

void DeviceContextDeleter::operator()(DeviceContext* p) const noexcept { delete p; }

void check_shapes(int hidden, int q_dim, int kv_dim, int intermediate, int head_dim, int n_heads, int n_kv_heads) {
    auto req = [](bool ok, const char* what, int v) {
        if (!ok)
            fail(FL_UNSUPPORTED, "the CUDA kernels do not support %s = %d (kernels.h lists what they do)", what, v);
    };
    req(hidden % 8 == 0, "hidden_size (a multiple of 8)", hidden);
    req(q_dim % 8 == 0, "heads x head_dim (a multiple of 8)", q_dim);
    req(kv_dim % 8 == 0, "kv_heads x head_dim (a multiple of 8)", kv_dim);
    req(intermediate % 8 == 0, "intermediate_size (a multiple of 8)", intermediate);
    req(head_dim % 32 == 0 && head_dim <= kMaxHeadDim, "head_dim (a multiple of 32, at most 256)", head_dim);
    req(n_heads / n_kv_heads <= kMaxGroup, "heads per KV head (at most 8)", n_heads / n_kv_heads);
}

} // namespace cuda
} // namespace fl
