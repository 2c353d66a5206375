// flotilla_engine.h - C API of the Flotilla native inference engine.
//
// Llama-family decoder-only models (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)
// loaded from Hugging Face safetensors (F32/F16/BF16), PEFT LoRA adapters applied per batch row,
// a paged KV cache, and sampling. CPU backend with SIMD kernels chosen at run time; a CUDA backend
// when the library is built with nvcc, chosen per model by fl_model_params.device.
//
// Conventions
//   - Every function that can fail returns an fl_status. On failure a human-readable message
//     naming the problem (file, tensor, expected vs got) is available from fl_last_error() on
//     the same thread until the next failing call on that thread.
//   - Handles are opaque. Each *_load / *_create has a paired *_free; freeing NULL is OK.
//   - A model may be shared by several contexts and adapters (each keeps the model alive until
//     it is freed). A context must be used by one thread at a time. fl_sample is reentrant.
//   - No C++ exception escapes this API; invalid input returns an error instead of crashing.
#ifndef FLOTILLA_ENGINE_H
#define FLOTILLA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FL_API __attribute__((visibility("default")))
#else
#define FL_API
#endif

// ---------------------------------------------------------------------------------------------
// Status

typedef enum fl_status {
    FL_OK = 0,
    FL_IO = 1,               // a file could not be opened or read
    FL_FORMAT = 2,           // a file is malformed (JSON, safetensors header, missing tensor)
    FL_UNSUPPORTED = 3,      // well-formed but not supported (architecture, dtype, rope type)
    FL_SHAPE_MISMATCH = 4,   // a tensor or adapter does not fit the model
    FL_INVALID_ARGUMENT = 5, // a bad argument (NULL, token id, position, sequence id, batch)
    FL_KV_CACHE_FULL = 6,    // no free KV block; nothing was changed, the caller may preempt
    FL_OUT_OF_MEMORY = 7,
    FL_INTERNAL = 8,
    FL_DEVICE_UNAVAILABLE = 9, // the device asked for does not exist (no driver, no GPU, built without CUDA)
} fl_status;

// Message of the last failure on the calling thread ("" if none). Valid until the next call.
FL_API const char* fl_last_error(void);
// Constant name of a status, e.g. "FL_KV_CACHE_FULL".
FL_API const char* fl_status_name(fl_status status);
// Kernel instruction set in use: "avx512amx", "avx512bf16", "avx512", "avx2" or "scalar".
// FLOTILLA_ENGINE_ISA forces one (a name the CPU does not support: the best available).
FL_API const char* fl_engine_isa(void);

// ---------------------------------------------------------------------------------------------
// Devices: "cpu", or "cuda:N" for CUDA device ordinal N (as CUDA_VISIBLE_DEVICES numbers them).

typedef struct fl_device_info {
    char name[256];        // e.g. "NVIDIA H100 80GB HBM3"
    int64_t total_bytes;   // device memory
    int64_t free_bytes;    // free now, as the driver reports it (all processes)
    int64_t engine_bytes;  // held by this engine now: weights, KV cache, adapters, scratch
    int32_t compute_major; // compute capability, e.g. 9.0 for an H100
    int32_t compute_minor;
    int32_t multiprocessors; // SMs
} fl_device_info;

// CUDA devices the engine can use; 0 when there is no NVIDIA driver, no GPU, or the library was
// built without CUDA, and then fl_device_unavailable_reason() says which. Probed once per process.
FL_API int32_t fl_device_count(void);
// Why fl_device_count() is 0, readable ("" when it is not). Valid for the life of the process.
FL_API const char* fl_device_unavailable_reason(void);
// Device index (0 .. fl_device_count()-1); FL_DEVICE_UNAVAILABLE for one that does not exist.
FL_API fl_status fl_device_get_info(int32_t index, fl_device_info* out_info);

// ---------------------------------------------------------------------------------------------
// Handles

typedef struct fl_model fl_model;     // weights and config, read-only once loaded
typedef struct fl_context fl_context; // KV cache + scratch + thread pool for fl_decode
typedef struct fl_adapter fl_adapter; // one PEFT LoRA adapter validated against a model

// ---------------------------------------------------------------------------------------------
// Model

typedef enum fl_dtype {
    FL_DTYPE_F32 = 0,
    FL_DTYPE_F16 = 1,
    FL_DTYPE_BF16 = 2,
    // int8, symmetric per output channel with an F32 scale per row; activations are quantized per
    // row to int8 on the fly and the products summed exactly in int32 (CPU only)
    FL_DTYPE_I8 = 3,
    // 4-bit with an F16 scale and a zero point per row and group of 128 columns, as an AWQ or GPTQ
    // checkpoint stores it (fl_model_info.weight_dtype only: such checkpoints load as stored; CPU only)
    FL_DTYPE_Q4 = 4,
} fl_dtype;

#define FL_DTYPE_AS_STORED (-1) // fl_model_params.weight_dtype: keep the checkpoint's dtype

typedef struct fl_model_info {
    int32_t vocab_size;
    int32_t hidden_size;
    int32_t intermediate_size;
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;
    int32_t max_position_embeddings;
    int32_t weight_dtype; // fl_dtype of the projection weights
    int64_t weight_bytes; // bytes of weights held in memory (device memory on a CUDA device)
    int32_t cuda_device;  // the CUDA device ordinal the model is on, or -1 for the CPU
} fl_model_info;

typedef struct fl_model_params {
    // "cpu" (default, also NULL or "") or "cuda:N": where the weights live; every context and
    // adapter of the model runs there. A CUDA device that does not exist: FL_DEVICE_UNAVAILABLE.
    const char* device;
    // FL_DTYPE_AS_STORED (default) or FL_DTYPE_I8: quantize the F32/F16/BF16 linear weights
    // (output head included; the embedding too where it is the head, tied, else it stays as
    // stored: only gathered) to int8 at load; CPU only (a CUDA device:
    // FL_UNSUPPORTED). A compressed-tensors int8 checkpoint (weight I8 + weight_scale, strategy
    // 'channel', symmetric) loads as int8 either way.
    int32_t weight_dtype;
} fl_model_params;

FL_API fl_model_params fl_model_default_params(void);
// Loads <dir>/config.json and <dir>/model.safetensors or the shards named by
// <dir>/model.safetensors.index.json. Weights are read into process memory (no mmap); on a CUDA
// device they are copied to device memory as BF16 (F16 stays F16; F32 is rounded to BF16 and the
// load says so on stderr). params may be NULL (the defaults).
FL_API fl_status fl_model_load(const char* dir, const fl_model_params* params, fl_model** out_model);
FL_API fl_status fl_model_free(fl_model* model);
FL_API fl_status fl_model_get_info(const fl_model* model, fl_model_info* out_info);

// ---------------------------------------------------------------------------------------------
// Context

typedef struct fl_context_params {
    int32_t kv_block_size;    // tokens per KV block (default 16)
    int64_t kv_budget_bytes;  // memory for the KV block pool, sets the block count (default 1 GiB)
    int32_t max_batch_tokens; // most rows one fl_decode may carry (default 512)
    int32_t max_sequences;    // sequence ids are 0 .. max_sequences-1 (default 256)
    int32_t max_lora_rank;    // largest adapter rank fl_decode accepts, 1..256 (default 64)
    int32_t n_threads;        // compute threads including the caller; 0 = from the machine
    // fl_dtype of the KV cache: FL_DTYPE_BF16 (default; K and V rounded to nearest even, half the
    // bytes of F32, so a budget holds twice the positions) or FL_DTYPE_F32. Attention reads the
    // cache in its dtype and computes in F32. A context on a CUDA device keeps BF16 and refuses
    // FL_DTYPE_F32 (FL_UNSUPPORTED).
    int32_t kv_dtype;
} fl_context_params;

FL_API fl_context_params fl_context_default_params(void);
FL_API fl_status fl_context_create(fl_model* model, const fl_context_params* params, fl_context** out_ctx);
FL_API fl_status fl_context_free(fl_context* ctx);

typedef struct fl_kv_stats {
    int32_t block_size; // tokens per block
    int32_t total_blocks;
    // Blocks a write may take: the free ones and the reclaimable cached ones (reclaimable_blocks).
    int32_t free_blocks;
    int64_t bytes_per_block; // in the context's kv_dtype
    // Prefix cache (see fl_seq_adopt_prefix). Blocks:
    int32_t reclaimable_blocks; // cached blocks no sequence holds; counted in free_blocks
    int32_t cached_blocks;      // blocks in the prefix index, held by sequences or reclaimable
    // Counters since the context was created:
    int64_t prefix_lookups;       // fl_seq_adopt_prefix calls
    int64_t prefix_lookup_tokens; // tokens they offered
    int64_t prefix_hit_tokens;    // positions they reused (hit rate: hit / lookup tokens)
    int64_t prefix_evictions;     // cached blocks taken for new data when no block was free, or
                                  // reclaimed by fl_kv_reclaim
    // Fields below were added later. The release clock (see fl_kv_reclaim):
    int64_t lru_clock;                // advances by one each time a cached block becomes reclaimable
    int64_t oldest_reclaimable_stamp; // lru_clock stamp of the least recently released one; 0: none
} fl_kv_stats;

FL_API fl_status fl_context_kv_stats(const fl_context* ctx, fl_kv_stats* out_stats);
// Frees reclaimable cached blocks, least recently released first: at most max_blocks of them, and
// none released after the stamp not_after (a value of fl_kv_stats.lru_clock). A caller that keeps
// other items in the same memory budget (the scheduler's idle adapters) stamps each with lru_clock
// when it last used it and frees whichever is older, a block run or an item, so both sides follow
// one least-recently-used order; keeping free_blocks - reclaimable_blocks above what a decode takes
// keeps fl_decode from reclaiming on its own. out_reclaimed (may be NULL): blocks freed; they leave
// the prefix cache and reclaimable_blocks, and free_blocks stays the same.
FL_API fl_status fl_kv_reclaim(fl_context* ctx, int64_t not_after, int32_t max_blocks, int32_t* out_reclaimed);
// Releases a sequence's KV blocks; its length becomes 0. Freeing an empty sequence is OK.
FL_API fl_status fl_seq_free(fl_context* ctx, int32_t seq_id);
// Gives dst_seq the positions cached for src_seq without recomputing them, so n continuations of
// one prompt prefill it once: dst shares src's full KV blocks (reference counted; whichever
// sequence later writes into a shared block, by rewinding into it, first gets its own copy) and
// gets a copy of src's partial last block. Decoding either sequence afterwards gives the logits a
// fresh prefill of the same tokens would. dst must be empty and differ from src. FL_KV_CACHE_FULL
// when the partial block needs a free block and none is left (nothing was changed).
FL_API fl_status fl_seq_fork(fl_context* ctx, int32_t src_seq, int32_t dst_seq);
// Prefix caching. Every full KV block a sequence writes (its block_size positions computed by one
// fl_decode or several, with one adapter, or none, for all of the sequence's rows) is registered
// under its content: the adapter and every token of the sequence up to and including the block.
// A block no sequence holds stays cached, reclaimable: it is reused when a new sequence starts with
// the same tokens and adapter, and taken for new data (least recently released first) only when no
// block is free. Registered blocks never change (a sequence writing into one it holds takes a copy
// or drops it from the cache), and a lookup compares the whole content, so a sequence that adopted
// a prefix decodes exactly as if it had computed it. A freed adapter's blocks never match another.

// Gives the empty sequence seq_id the longest cached run of full blocks that starts tokens[0 ..
// n_tokens) with adapter (NULL: the base model): out_positions is how many positions it now holds,
// a multiple of the block size and at most n_tokens - 1, so the caller computes at least the last
// token (and gets its logits) by decoding tokens[out_positions ..] from position out_positions.
// Adopted blocks are shared, reference counted, like a fork's; blocks adopted that were
// reclaimable are no longer counted in free_blocks. Takes no free block; 0 positions when nothing
// is cached. Counts one lookup of n_tokens tokens in fl_kv_stats.
FL_API fl_status fl_seq_adopt_prefix(fl_context* ctx, int32_t seq_id, const int32_t* tokens, int32_t n_tokens,
                                     const fl_adapter* adapter, int32_t* out_positions);
// What fl_seq_adopt_prefix would give a sequence now, changing nothing: out_positions as there,
// and out_shared_blocks (may be NULL) how many of those blocks sequences hold now, so adopting
// takes (out_positions / block_size - out_shared_blocks) blocks out of free_blocks.
FL_API fl_status fl_prefix_lookup(const fl_context* ctx, const int32_t* tokens, int32_t n_tokens,
                                  const fl_adapter* adapter, int32_t* out_positions, int32_t* out_shared_blocks);
// Number of positions cached for a sequence.
FL_API fl_status fl_seq_length(const fl_context* ctx, int32_t seq_id, int32_t* out_length);

// ---------------------------------------------------------------------------------------------
// Adapter

typedef enum fl_adapter_storage {
    // The model's compute dtype (as vLLM's lora_dtype="auto"): F32 weights keep F32 adapters;
    // BF16 and F16 weights keep BF16 adapters (rounded to nearest even; a BF16 file exactly).
    // Half the bytes a decode step with a distinct adapter per row reads.
    FL_ADAPTER_STORAGE_AUTO = 0,
    // Always F32: the file's values exactly (an F32 file), twice the memory of BF16.
    FL_ADAPTER_STORAGE_F32 = 1,
} fl_adapter_storage;

typedef struct fl_adapter_params {
    int32_t storage; // fl_adapter_storage (default FL_ADAPTER_STORAGE_AUTO)
} fl_adapter_params;

FL_API fl_adapter_params fl_adapter_default_params(void);
// Loads <dir>/adapter_config.json and <dir>/adapter_model.safetensors (PEFT LoRA) and checks it
// against the model: every target module in every layer, shapes, rank 1..256, finite values.
// params may be NULL (the defaults).
FL_API fl_status fl_adapter_load(fl_model* model, const char* dir, const fl_adapter_params* params,
                                 fl_adapter** out_adapter);
// The caller must not free an adapter while an fl_decode that uses it is running.
FL_API fl_status fl_adapter_free(fl_adapter* adapter);
FL_API fl_status fl_adapter_get_info(const fl_adapter* adapter, int32_t* out_rank, float* out_scale);
// The adapter's storage: out_dtype an fl_dtype (F32 or BF16), out_bytes the memory its weights
// hold (lora_A and lora_B of every target and layer). Either out may be NULL.
FL_API fl_status fl_adapter_get_storage(const fl_adapter* adapter, int32_t* out_dtype, int64_t* out_bytes);

// ---------------------------------------------------------------------------------------------
// Decode: one forward pass over a batch of rows.
//
// Row i is (token[i], seq_id[i], pos[i], adapter[i], want_logits[i]). The rows of one sequence
// are consecutive with consecutive positions (a prefill chunk, or one decode row); the first
// position of a sequence's rows is at most its cached length (a smaller one rewinds it). A batch
// mixes prefill chunks and decode rows of different sequences and adapters. Logits of the rows
// with want_logits != 0 are written in row order to logits [n_out, vocab] (F32). The final hidden
// state (after the model's final norm, the vector the LM head multiplies) of the rows with
// want_hidden != 0 is written in row order to hidden [n_hidden, hidden_size] (F32): embeddings.
// A row may want both, either or neither. Backends without hidden output (CUDA) refuse a batch
// that wants it with FL_UNSUPPORTED.
// On FL_KV_CACHE_FULL nothing was changed; the caller frees or preempts sequences and retries.

typedef struct fl_batch {
    int32_t n_tokens;
    const int32_t* token;       // [n_tokens] token ids, 0 .. vocab-1
    const int32_t* seq_id;      // [n_tokens] 0 .. max_sequences-1
    const int32_t* pos;         // [n_tokens] position in the sequence
    fl_adapter* const* adapter; // [n_tokens] or NULL; NULL entries use the base model
    const int8_t* want_logits;  // [n_tokens] or NULL (then: logits of the last row only)
    float* logits;              // [n_out, vocab] output
    int64_t logits_capacity;    // floats available at logits
    // Fields below were added later; zero-initialised (NULL, 0) they ask for no hidden output.
    const int8_t* want_hidden; // [n_tokens] or NULL (then: no row)
    float* hidden;             // [n_hidden, hidden_size] output
    int64_t hidden_capacity;   // floats available at hidden
} fl_batch;

FL_API fl_status fl_decode(fl_context* ctx, const fl_batch* batch);

// ---------------------------------------------------------------------------------------------
// Sampling

// Every field left zero is neutral, so params built for fewer fields still mean what they said.
// The logits are changed in this order before temperature, top-k and top-p: logit_bias is added,
// the end tokens are banned while step < min_tokens, then repetition_penalty, then the presence and
// frequency penalties (vLLM's order and semantics).
typedef struct fl_sampling_params {
    float temperature; // 0 = greedy (argmax)
    int32_t top_k;     // keep the k most likely tokens; 0 = all
    float top_p;       // keep the smallest set with mass >= top_p; 1 = all
    uint64_t seed;     // with the step counter, the only source of randomness

    // Penalties over the sequence's tokens (tokens below; without tokens they change nothing).
    float presence_penalty;   // in [-2, 2]: subtracted once from each token generated at least once
    float frequency_penalty;  // in [-2, 2]: subtracted once per time a token was generated
    float repetition_penalty; // > 0, 1 = off (0 reads as 1): a token in the prompt or generated has
                              // its logit divided by it when positive, multiplied when not
    const int32_t* tokens;    // [n_tokens] the sequence so far: prompt, then generated tokens
    int32_t n_tokens;
    int32_t n_prompt_tokens; // the first n_prompt_tokens of tokens are the prompt

    // logit_bias: added to the logits of the tokens named; -100 bans the token outright.
    const int32_t* bias_tokens; // [n_bias] token ids, 0 .. vocab-1
    const float* bias_values;   // [n_bias] each in [-100, 100]
    int32_t n_bias;

    // While step < min_tokens the end tokens (end-of-sequence and stop token ids) cannot be drawn.
    int32_t min_tokens;
    const int32_t* end_tokens; // [n_end_tokens] token ids, 0 .. vocab-1
    int32_t n_end_tokens;
} fl_sampling_params;

// Greedy, no top-k or top-p, no penalties, no bias, seed 0.
FL_API fl_sampling_params fl_sampling_default_params(void);

// Samples one token from a logits row. The random draw is a function of (seed, step) only, so a
// request with a fixed seed yields the same tokens however it is batched; pass the sequence's
// generation step (0 for its first generated token). out_logprob is the token's log-probability
// under the unmodified model distribution (log_softmax of the logits). Either out may be NULL.
FL_API fl_status fl_sample(const float* logits, int32_t vocab, const fl_sampling_params* params, uint64_t step,
                           int32_t* out_token, float* out_logprob);

// ---------------------------------------------------------------------------------------------
// Logit masking (structured output)

// Sets logits[i] to -infinity for every token i whose bit is clear in allowed_bits, so that the
// sampler can only pick an allowed token. Bit i is (allowed_bits[i / 32] >> (i % 32)) & 1;
// allowed_bits holds (vocab + 31) / 32 words. A host row, so it serves every backend. A mask that
// allows no token is FL_INVALID_ARGUMENT and leaves the row unchanged.
FL_API fl_status fl_mask_logits(float* logits, int32_t vocab, const uint32_t* allowed_bits);

// ---------------------------------------------------------------------------------------------
// Top logprobs

// The k most likely tokens of a logits row (k in 0 .. FL_MAX_TOP_LOGPROBS, at most vocab), most
// likely first (ties: lower id first), with their log-probabilities under the unmodified model
// distribution, as fl_sample's out_logprob. Writes k entries to out_tokens and out_logprobs.
#define FL_MAX_TOP_LOGPROBS 20
FL_API fl_status fl_top_logprobs(const float* logits, int32_t vocab, int32_t k, int32_t* out_tokens,
                                 float* out_logprobs);

#ifdef __cplusplus
}
#endif

#endif // FLOTILLA_ENGINE_H
