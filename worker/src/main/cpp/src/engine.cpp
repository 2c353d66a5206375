// engine.cpp - the C API: argument checks, handle lifetimes, and the exception boundary.
#include <algorithm>
#include <atomic>
#include <new>

#include "adapter.h"
#include "context.h"
#include "cuda/cuda.h"
#include "device.h"
#include "error.h"
#include "flotilla_engine.h"
#include "forward.h"
#include "logit-mask.h"
#include "sampling.h"

using namespace fl;

namespace {

// Runs body; maps every exception to a status and the thread-local message.
template <class F> fl_status guarded(F&& body) noexcept {
    try {
        body();
        return FL_OK;
    } catch (const Error& e) {
        set_last_error(e.what());
        return e.status();
    } catch (const std::bad_alloc&) {
        set_last_error("out of memory");
        return FL_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(std::string("internal error: ") + e.what());
        return FL_INTERNAL;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return FL_INTERNAL;
    }
}

void require(bool ok, const char* what) {
    if (!ok) fail(FL_INVALID_ARGUMENT, "%s", what);
}

std::atomic<uint64_t> next_adapter_id{1};

// The prefix cache's id of a batch row's adapter: 0 for the base model.
uint64_t adapter_id(const fl_adapter* a) { return a ? a->adapter->id : 0; }

// The prefix cache's id of an adapter a caller names; throws unless it is live on ctx's model.
uint64_t checked_adapter_id(const Context& ctx, const fl_adapter* a, const char* fn) {
    if (!a) return 0;
    std::lock_guard<std::mutex> lock(ctx.model->adapters_mutex);
    if (!ctx.model->live_adapters.count(a))
        fail(FL_INVALID_ARGUMENT, "%s: adapter handle %p is not loaded for this model", fn, (const void*)a);
    return a->adapter->id;
}

void check_prefix_tokens(const Context& ctx, const int32_t* tokens, int32_t n, const char* fn) {
    if (n < 0) fail(FL_INVALID_ARGUMENT, "%s: n_tokens %d is negative", fn, int(n));
    if (n > 0 && !tokens) fail(FL_INVALID_ARGUMENT, "%s: tokens must not be NULL", fn);
    const int vocab = ctx.model->cfg.vocab_size;
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            fail(FL_INVALID_ARGUMENT, "%s: token %d (id %d) is outside 0..%d", fn, int(i), int(tokens[i]), vocab - 1);
}

} // namespace

extern "C" {

const char* fl_last_error(void) { return last_error(); }

const char* fl_status_name(fl_status s) {
    switch (s) {
    case FL_OK:
        return "FL_OK";
    case FL_IO:
        return "FL_IO";
    case FL_FORMAT:
        return "FL_FORMAT";
    case FL_UNSUPPORTED:
        return "FL_UNSUPPORTED";
    case FL_SHAPE_MISMATCH:
        return "FL_SHAPE_MISMATCH";
    case FL_INVALID_ARGUMENT:
        return "FL_INVALID_ARGUMENT";
    case FL_KV_CACHE_FULL:
        return "FL_KV_CACHE_FULL";
    case FL_OUT_OF_MEMORY:
        return "FL_OUT_OF_MEMORY";
    case FL_INTERNAL:
        return "FL_INTERNAL";
    case FL_DEVICE_UNAVAILABLE:
        return "FL_DEVICE_UNAVAILABLE";
    }
    return "FL_UNKNOWN";
}

const char* fl_engine_isa(void) { return kern::active().name; }

int32_t fl_device_count(void) { return cuda::device_count(); }

const char* fl_device_unavailable_reason(void) { return cuda::unavailable_reason(); }

fl_status fl_device_get_info(int32_t index, fl_device_info* out) {
    return guarded([&] {
        require(out != nullptr, "fl_device_get_info: out_info must not be NULL");
        Device d{Device::Cuda, index};
        if (index < 0) fail(FL_INVALID_ARGUMENT, "fl_device_get_info: device index %d is negative", int(index));
        require_device(d);
        cuda::device_info(index, *out);
    });
}

fl_model_params fl_model_default_params(void) {
    fl_model_params p;
    p.device = "cpu";
    p.weight_dtype = FL_DTYPE_AS_STORED;
    return p;
}

fl_status fl_model_load(const char* dir, const fl_model_params* params, fl_model** out) {
    return guarded([&] {
        require(dir && out, "fl_model_load: dir and out_model must not be NULL");
        *out = nullptr;
        const fl_model_params p = params ? *params : fl_model_default_params();
        Device device = parse_device(p.device);
        require_device(device);
        if (p.weight_dtype != FL_DTYPE_AS_STORED && p.weight_dtype != FL_DTYPE_I8)
            fail(FL_INVALID_ARGUMENT,
                 "fl_model_load: weight_dtype %d is not supported (FL_DTYPE_AS_STORED or FL_DTYPE_I8)",
                 int(p.weight_dtype));
        LoadOptions options;
        options.quantize_int8 = p.weight_dtype == FL_DTYPE_I8;
        auto h = std::make_unique<fl_model>();
        h->model = load_model(dir, device, options);
        *out = h.release();
    });
}

fl_status fl_model_free(fl_model* model) {
    delete model; // contexts and adapters hold their own reference
    return FL_OK;
}

fl_status fl_model_get_info(const fl_model* model, fl_model_info* out) {
    return guarded([&] {
        require(model && out, "fl_model_get_info: model and out_info must not be NULL");
        const Model& m = *model->model;
        const ModelConfig& c = m.cfg;
        *out = fl_model_info{c.vocab_size,
                             c.hidden_size,
                             c.intermediate_size,
                             c.n_layers,
                             c.n_heads,
                             c.n_kv_heads,
                             c.head_dim,
                             c.max_position_embeddings,
                             static_cast<int32_t>(m.layer_dtype),
                             m.weight_bytes,
                             m.device.is_cuda() ? m.device.index : -1};
    });
}

fl_context_params fl_context_default_params(void) {
    fl_context_params p;
    p.kv_block_size = 16;
    p.kv_budget_bytes = int64_t(1) << 30;
    p.max_batch_tokens = 512;
    p.max_sequences = 256;
    p.max_lora_rank = 64;
    p.n_threads = 0;
    p.kv_dtype = FL_DTYPE_BF16;
    return p;
}

fl_status fl_context_create(fl_model* model, const fl_context_params* params, fl_context** out) {
    return guarded([&] {
        require(model && params && out, "fl_context_create: model, params and out_ctx must not be NULL");
        *out = nullptr;
        const fl_context_params& p = *params;
        if (p.kv_block_size < 1 || p.kv_block_size > 4096)
            fail(FL_INVALID_ARGUMENT, "kv_block_size %d is outside 1..4096", p.kv_block_size);
        if (p.kv_budget_bytes < 1)
            fail(FL_INVALID_ARGUMENT, "kv_budget_bytes %lld must be > 0", (long long)p.kv_budget_bytes);
        if (p.max_batch_tokens < 1 || p.max_batch_tokens > 65536)
            fail(FL_INVALID_ARGUMENT, "max_batch_tokens %d is outside 1..65536", p.max_batch_tokens);
        if (p.max_sequences < 1 || p.max_sequences > (1 << 20))
            fail(FL_INVALID_ARGUMENT, "max_sequences %d is outside 1..%d", p.max_sequences, 1 << 20);
        if (p.max_lora_rank < 1 || p.max_lora_rank > kMaxLoraRank)
            fail(FL_INVALID_ARGUMENT, "max_lora_rank %d is outside 1..%d", p.max_lora_rank, kMaxLoraRank);
        if (p.n_threads < 0 || p.n_threads > 256)
            fail(FL_INVALID_ARGUMENT, "n_threads %d is outside 0..256", p.n_threads);
        if (p.kv_dtype != FL_DTYPE_BF16 && p.kv_dtype != FL_DTYPE_F32)
            fail(FL_INVALID_ARGUMENT, "kv_dtype %d is not FL_DTYPE_BF16 (%d) or FL_DTYPE_F32 (%d)", p.kv_dtype,
                 FL_DTYPE_BF16, FL_DTYPE_F32);
        if (model->model->dev && p.kv_dtype != FL_DTYPE_BF16)
            fail(FL_UNSUPPORTED, "kv_dtype F32 is not supported on %s: the CUDA backend keeps its KV cache in BF16",
                 model->model->device.name().c_str());
        auto h = std::make_unique<fl_context>();
        h->ctx = std::make_unique<Context>(model->model, p);
        *out = h.release();
    });
}

fl_status fl_context_free(fl_context* ctx) {
    delete ctx;
    return FL_OK;
}

fl_status fl_context_kv_stats(const fl_context* ctx, fl_kv_stats* out) {
    return guarded([&] {
        require(ctx && out, "fl_context_kv_stats: ctx and out_stats must not be NULL");
        const KvCache& kv = ctx->ctx->kv;
        const KvCache::PrefixStats& ps = kv.prefix_stats();
        *out = fl_kv_stats{kv.block_size(),
                           kv.total_blocks(),
                           kv.free_blocks(),
                           kv.bytes_per_block(),
                           kv.reclaimable_blocks(),
                           kv.cached_blocks(),
                           ps.lookups,
                           ps.lookup_tokens,
                           ps.hit_tokens,
                           ps.evictions,
                           static_cast<int64_t>(kv.clock()),
                           static_cast<int64_t>(kv.oldest_reclaimable_stamp())};
    });
}

fl_status fl_kv_reclaim(fl_context* ctx, int64_t not_after, int32_t max_blocks, int32_t* out_reclaimed) {
    return guarded([&] {
        require(ctx != nullptr, "fl_kv_reclaim: ctx must not be NULL");
        if (max_blocks < 0) fail(FL_INVALID_ARGUMENT, "fl_kv_reclaim: max_blocks %d is negative", max_blocks);
        int n = not_after < 0 ? 0 : ctx->ctx->kv.reclaim(static_cast<uint64_t>(not_after), max_blocks);
        if (out_reclaimed) *out_reclaimed = n;
    });
}

static void check_seq(const fl_context* ctx, int32_t seq) {
    require(ctx != nullptr, "ctx must not be NULL");
    int max = ctx->ctx->params.max_sequences;
    if (seq < 0 || seq >= max) fail(FL_INVALID_ARGUMENT, "seq_id %d is outside 0..%d", seq, max - 1);
}

fl_status fl_seq_free(fl_context* ctx, int32_t seq) {
    return guarded([&] {
        check_seq(ctx, seq);
        ctx->ctx->kv.free_seq(seq);
    });
}

fl_status fl_seq_fork(fl_context* ctx, int32_t src, int32_t dst) {
    return guarded([&] {
        check_seq(ctx, src);
        check_seq(ctx, dst);
        KvCache& kv = ctx->ctx->kv;
        if (src == dst) fail(FL_INVALID_ARGUMENT, "fl_seq_fork: source and destination are both sequence %d", src);
        if (kv.length(dst) != 0)
            fail(FL_INVALID_ARGUMENT, "fl_seq_fork: destination sequence %d is not empty (%d positions cached)", dst,
                 kv.length(dst));
        if (kv.fork_blocks_needed(src) > kv.free_blocks())
            fail(FL_KV_CACHE_FULL, "KV cache full: forking sequence %d needs 1 block, none of %d is free", src,
                 kv.total_blocks());
        kv.fork(src, dst);
    });
}

fl_status fl_prefix_lookup(const fl_context* ctx, const int32_t* tokens, int32_t n_tokens, const fl_adapter* adapter,
                           int32_t* out_positions, int32_t* out_shared_blocks) {
    return guarded([&] {
        require(ctx && out_positions, "fl_prefix_lookup: ctx and out_positions must not be NULL");
        const Context& c = *ctx->ctx;
        check_prefix_tokens(c, tokens, n_tokens, "fl_prefix_lookup");
        uint64_t id = checked_adapter_id(c, adapter, "fl_prefix_lookup");
        int shared = 0;
        *out_positions = c.kv.lookup(tokens, n_tokens, id, &shared);
        if (out_shared_blocks) *out_shared_blocks = shared;
    });
}

fl_status fl_seq_adopt_prefix(fl_context* ctx, int32_t seq, const int32_t* tokens, int32_t n_tokens,
                              const fl_adapter* adapter, int32_t* out_positions) {
    return guarded([&] {
        check_seq(ctx, seq);
        require(out_positions != nullptr, "fl_seq_adopt_prefix: out_positions must not be NULL");
        Context& c = *ctx->ctx;
        check_prefix_tokens(c, tokens, n_tokens, "fl_seq_adopt_prefix");
        uint64_t id = checked_adapter_id(c, adapter, "fl_seq_adopt_prefix");
        if (c.kv.length(seq) != 0)
            fail(FL_INVALID_ARGUMENT, "fl_seq_adopt_prefix: sequence %d is not empty (%d positions cached)", seq,
                 c.kv.length(seq));
        *out_positions = c.kv.adopt(seq, tokens, n_tokens, id);
    });
}

fl_status fl_seq_length(const fl_context* ctx, int32_t seq, int32_t* out) {
    return guarded([&] {
        check_seq(ctx, seq);
        require(out != nullptr, "fl_seq_length: out_length must not be NULL");
        *out = ctx->ctx->kv.length(seq);
    });
}

fl_adapter_params fl_adapter_default_params(void) {
    fl_adapter_params p;
    p.storage = FL_ADAPTER_STORAGE_AUTO;
    return p;
}

fl_status fl_adapter_load(fl_model* model, const char* dir, const fl_adapter_params* params, fl_adapter** out) {
    return guarded([&] {
        require(model && dir && out, "fl_adapter_load: model, dir and out_adapter must not be NULL");
        *out = nullptr;
        const fl_adapter_params p = params ? *params : fl_adapter_default_params();
        if (p.storage != FL_ADAPTER_STORAGE_AUTO && p.storage != FL_ADAPTER_STORAGE_F32)
            fail(FL_INVALID_ARGUMENT, "fl_adapter_load: storage = %d is not an fl_adapter_storage (0 = auto, 1 = f32)",
                 int(p.storage));
        auto h = std::make_unique<fl_adapter>();
        h->adapter = load_adapter(model->model, dir,
                                  p.storage == FL_ADAPTER_STORAGE_F32 ? AdapterStorage::F32 : AdapterStorage::Auto);
        h->adapter->id = next_adapter_id.fetch_add(1);
        Model& m = *model->model;
        if (m.dev) h->adapter->dev = cuda::upload_adapter(m, *h->adapter);
        std::lock_guard<std::mutex> lock(m.adapters_mutex);
        m.live_adapters.insert(h.get());
        *out = h.release();
    });
}

fl_status fl_adapter_free(fl_adapter* adapter) {
    return guarded([&] {
        if (!adapter) return;
        {
            Model& m = *adapter->adapter->model;
            std::lock_guard<std::mutex> lock(m.adapters_mutex);
            m.live_adapters.erase(adapter);
        }
        delete adapter;
    });
}

fl_status fl_adapter_get_info(const fl_adapter* adapter, int32_t* rank, float* scale) {
    return guarded([&] {
        require(adapter != nullptr, "fl_adapter_get_info: adapter must not be NULL");
        if (rank) *rank = adapter->adapter->rank;
        if (scale) *scale = adapter->adapter->scale;
    });
}

fl_status fl_adapter_get_storage(const fl_adapter* adapter, int32_t* dtype, int64_t* bytes) {
    return guarded([&] {
        require(adapter != nullptr, "fl_adapter_get_storage: adapter must not be NULL");
        if (dtype) *dtype = static_cast<int32_t>(adapter->adapter->dtype);
        if (bytes) *bytes = adapter->adapter->bytes;
    });
}

fl_status fl_decode(fl_context* handle, const fl_batch* batch) {
    return guarded([&] {
        require(handle && batch, "fl_decode: ctx and batch must not be NULL");
        Context& ctx = *handle->ctx;
        plan_batch(ctx, *batch, ctx.plan);
        if (ctx.dev && !ctx.plan.hidden_rows.empty())
            fail(FL_UNSUPPORTED,
                 "the CUDA backend does not output hidden states (fl_batch.want_hidden, used for embeddings); "
                 "serve embedding models on the cpu device");
        // Reserve KV blocks for every run before changing anything.
        int need = 0;
        for (const SeqRun& r : ctx.plan.runs) need += ctx.kv.blocks_needed(r.seq, r.pos0, r.pos0 + r.n);
        if (need > ctx.kv.free_blocks())
            fail(FL_KV_CACHE_FULL, "KV cache full: the batch needs %d more blocks, %d of %d are free", need,
                 ctx.kv.free_blocks(), ctx.kv.total_blocks());
        for (const SeqRun& r : ctx.plan.runs) {
            // Positions at or after pos0 are (re)written; later cached positions are dropped.
            ctx.kv.prepare_write(r.seq, r.pos0, r.pos0 + r.n);
        }
        if (ctx.dev)
            cuda::forward(ctx, *batch);
        else
            forward(ctx, *batch);
        // The runs' K and V are written: record their tokens, registering the blocks they fill.
        for (const SeqRun& r : ctx.plan.runs) {
            uint64_t id = 0;
            if (batch->adapter) {
                id = adapter_id(batch->adapter[r.row0]);
                for (int i = 1; i < r.n && id != KvCache::kMixedAdapters; i++)
                    if (adapter_id(batch->adapter[r.row0 + i]) != id) id = KvCache::kMixedAdapters;
            }
            ctx.kv.commit(r.seq, r.pos0, batch->token + r.row0, r.n, id);
        }
    });
}

fl_status fl_sample(const float* logits, int32_t vocab, const fl_sampling_params* params, uint64_t step,
                    int32_t* out_token, float* out_logprob) {
    return guarded([&] {
        require(params != nullptr, "fl_sample: params must not be NULL");
        sample(logits, vocab, *params, step, out_token, out_logprob);
    });
}

fl_status fl_mask_logits(float* logits, int32_t vocab, const uint32_t* allowed_bits) {
    return guarded([&] { mask_logits(logits, vocab, allowed_bits); });
}

fl_sampling_params fl_sampling_default_params(void) {
    fl_sampling_params p{};
    p.top_p = 1.0f;
    p.repetition_penalty = 1.0f;
    return p;
}

fl_status fl_top_logprobs(const float* logits, int32_t vocab, int32_t k, int32_t* out_tokens, float* out_logprobs) {
    return guarded([&] { top_logprobs(logits, vocab, k, out_tokens, out_logprobs); });
}

} // extern "C"
