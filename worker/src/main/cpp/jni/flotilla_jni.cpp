// flotilla_jni.cpp - JNI glue for dev.flotilla.worker.engine.NativeEngine.
//
// Static natives over primitives and direct buffers, registered in JNI_OnLoad together with the
// exception classes they throw (cached as global references; any lookup failure fails the load).
// Every fl_status other than FL_OK becomes a typed Java exception carrying fl_last_error().
// Handles cross as jlong; adapter handles in a batch are checked by the engine against the
// model's live adapters, so a stale handle is an exception, not a crash.
#include <jni.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#include "flotilla_engine.h"

static_assert(sizeof(void*) == sizeof(jlong), "handles travel as jlong");

namespace {

const char* const kPkg = "dev/flotilla/worker/engine/";

struct ExceptionClass {
    fl_status status;
    const char* name;
    jclass cls;
};

// One class per status; FL_INTERNAL (and anything unknown) throws the base class.
ExceptionClass g_exceptions[] = {
    {FL_IO, "EngineIoException", nullptr},
    {FL_FORMAT, "ModelFormatException", nullptr},
    {FL_UNSUPPORTED, "UnsupportedModelException", nullptr},
    {FL_SHAPE_MISMATCH, "ShapeMismatchException", nullptr},
    {FL_INVALID_ARGUMENT, "InvalidEngineArgumentException", nullptr},
    {FL_KV_CACHE_FULL, "KvCacheFullException", nullptr},
    {FL_OUT_OF_MEMORY, "EngineOutOfMemoryException", nullptr},
    {FL_INTERNAL, "EngineException", nullptr},
    {FL_DEVICE_UNAVAILABLE, "DeviceUnavailableException", nullptr},
};
jclass g_adapter_mismatch = nullptr; // SHAPE_MISMATCH while loading an adapter
jclass g_illegal_argument = nullptr; // bad buffers from Java

void throw_class(JNIEnv* env, jclass cls, const char* msg) {
    if (!env->ExceptionCheck()) env->ThrowNew(cls, msg);
}

// Throws for a failed status; returns true if it did.
bool check(JNIEnv* env, fl_status s, jclass shape_mismatch = nullptr) {
    if (s == FL_OK) return false;
    jclass cls = g_exceptions[7].cls; // FL_INTERNAL
    for (const auto& e : g_exceptions)
        if (e.status == s) cls = e.cls;
    if (s == FL_SHAPE_MISMATCH && shape_mismatch) cls = shape_mismatch;
    throw_class(env, cls, fl_last_error());
    return true;
}

// Address of a direct buffer holding at least `bytes`, or nullptr with an exception pending.
void* buffer(JNIEnv* env, jobject buf, int64_t bytes, const char* what, bool optional = false) {
    if (!buf) {
        if (!optional) throw_class(env, g_illegal_argument, what);
        return nullptr;
    }
    void* p = env->GetDirectBufferAddress(buf);
    jlong cap = env->GetDirectBufferCapacity(buf);
    if (!p || cap < 0) {
        throw_class(env, g_illegal_argument, "not a direct buffer");
        return nullptr;
    }
    if (cap < bytes) {
        throw_class(env, g_illegal_argument, what);
        return nullptr;
    }
    return p;
}

struct Utf {
    JNIEnv* env;
    jstring s;
    const char* c;
    Utf(JNIEnv* e, jstring str) : env(e), s(str), c(str ? e->GetStringUTFChars(str, nullptr) : nullptr) {}
    ~Utf() {
        if (c) env->ReleaseStringUTFChars(s, c);
    }
};

template <class T> T* handle(jlong h) { return reinterpret_cast<T*>(static_cast<intptr_t>(h)); }
template <class T> jlong to_jlong(T* p) { return static_cast<jlong>(reinterpret_cast<intptr_t>(p)); }

// --- natives ------------------------------------------------------------------------------------

jstring JNICALL isa(JNIEnv* env, jclass) { return env->NewStringUTF(fl_engine_isa()); }

jint JNICALL device_count(JNIEnv*, jclass) { return fl_device_count(); }

jstring JNICALL device_unavailable_reason(JNIEnv* env, jclass) {
    return env->NewStringUTF(fl_device_unavailable_reason());
}

// out: total_bytes, free_bytes, engine_bytes, compute_major, compute_minor, multiprocessors;
// returns the name.
jstring JNICALL device_info(JNIEnv* env, jclass, jint index, jlongArray out) {
    fl_device_info info;
    if (check(env, fl_device_get_info(index, &info))) return nullptr;
    if (!out || env->GetArrayLength(out) < 6) {
        throw_class(env, g_illegal_argument, "device info array must hold 6 longs");
        return nullptr;
    }
    jlong v[6] = {info.total_bytes,   info.free_bytes,    info.engine_bytes,
                  info.compute_major, info.compute_minor, info.multiprocessors};
    env->SetLongArrayRegion(out, 0, 6, v);
    return env->NewStringUTF(info.name);
}

// device: "cpu" or "cuda:N"; weight_dtype: FL_DTYPE_AS_STORED or FL_DTYPE_I8
jlong JNICALL model_load(JNIEnv* env, jclass, jstring dir, jstring device, jint weight_dtype) {
    Utf path(env, dir), dev(env, device);
    if (!path.c || !dev.c) {
        throw_class(env, g_illegal_argument, "model directory or device is null");
        return 0;
    }
    fl_model_params p = fl_model_default_params();
    p.device = dev.c;
    p.weight_dtype = weight_dtype;
    fl_model* m = nullptr;
    if (check(env, fl_model_load(path.c, &p, &m))) return 0;
    return to_jlong(m);
}

void JNICALL model_free(JNIEnv*, jclass, jlong m) { fl_model_free(handle<fl_model>(m)); }

// out: vocab, hidden, intermediate, layers, heads, kv_heads, head_dim, max_positions, dtype,
// cuda_device; returns the weight bytes.
jlong JNICALL model_info(JNIEnv* env, jclass, jlong m, jintArray out) {
    fl_model_info info;
    if (check(env, fl_model_get_info(handle<fl_model>(m), &info))) return 0;
    if (!out || env->GetArrayLength(out) < 10) {
        throw_class(env, g_illegal_argument, "model info array must hold 10 ints");
        return 0;
    }
    jint v[10] = {info.vocab_size, info.hidden_size, info.intermediate_size,       info.n_layers,     info.n_heads,
                  info.n_kv_heads, info.head_dim,    info.max_position_embeddings, info.weight_dtype, info.cuda_device};
    env->SetIntArrayRegion(out, 0, 10, v);
    return info.weight_bytes;
}

jlong JNICALL context_create(JNIEnv* env, jclass, jlong m, jint block_size, jlong kv_budget, jint max_batch_tokens,
                             jint max_sequences, jint max_lora_rank, jint n_threads, jint kv_dtype) {
    fl_context_params p = fl_context_default_params();
    p.kv_block_size = block_size;
    p.kv_budget_bytes = kv_budget;
    p.max_batch_tokens = max_batch_tokens;
    p.max_sequences = max_sequences;
    p.max_lora_rank = max_lora_rank;
    p.n_threads = n_threads;
    p.kv_dtype = kv_dtype;
    fl_context* c = nullptr;
    if (check(env, fl_context_create(handle<fl_model>(m), &p, &c))) return 0;
    return to_jlong(c);
}

void JNICALL context_free(JNIEnv*, jclass, jlong c) { fl_context_free(handle<fl_context>(c)); }

// out: the fields of fl_kv_stats in order: block_size, total_blocks, free_blocks, bytes_per_block,
// reclaimable_blocks, cached_blocks, prefix_lookups, prefix_lookup_tokens, prefix_hit_tokens,
// prefix_evictions, lru_clock, oldest_reclaimable_stamp
void JNICALL kv_stats(JNIEnv* env, jclass, jlong c, jlongArray out) {
    fl_kv_stats st;
    if (check(env, fl_context_kv_stats(handle<fl_context>(c), &st))) return;
    if (!out || env->GetArrayLength(out) < 12) {
        throw_class(env, g_illegal_argument, "kv stats array must hold 12 longs");
        return;
    }
    jlong v[12] = {st.block_size,         st.total_blocks,     st.free_blocks,    st.bytes_per_block,
                   st.reclaimable_blocks, st.cached_blocks,    st.prefix_lookups, st.prefix_lookup_tokens,
                   st.prefix_hit_tokens,  st.prefix_evictions, st.lru_clock,      st.oldest_reclaimable_stamp};
    env->SetLongArrayRegion(out, 0, 12, v);
}

jint JNICALL kv_reclaim(JNIEnv* env, jclass, jlong c, jlong not_after, jint max_blocks) {
    int32_t n = 0;
    check(env, fl_kv_reclaim(handle<fl_context>(c), not_after, max_blocks, &n));
    return n;
}

void JNICALL seq_free(JNIEnv* env, jclass, jlong c, jint seq) { check(env, fl_seq_free(handle<fl_context>(c), seq)); }

void JNICALL seq_fork(JNIEnv* env, jclass, jlong c, jint src, jint dst) {
    check(env, fl_seq_fork(handle<fl_context>(c), src, dst));
}

jint JNICALL seq_length(JNIEnv* env, jclass, jlong c, jint seq) {
    int32_t len = 0;
    check(env, fl_seq_length(handle<fl_context>(c), seq, &len));
    return len;
}

// storage: an fl_adapter_storage (0 = auto, 1 = f32)
jlong JNICALL adapter_load(JNIEnv* env, jclass, jlong m, jstring dir, jint storage) {
    Utf path(env, dir);
    if (!path.c) {
        throw_class(env, g_illegal_argument, "adapter directory is null");
        return 0;
    }
    fl_adapter_params p = fl_adapter_default_params();
    p.storage = storage;
    fl_adapter* a = nullptr;
    if (check(env, fl_adapter_load(handle<fl_model>(m), path.c, &p, &a), g_adapter_mismatch)) return 0;
    return to_jlong(a);
}

void JNICALL adapter_free(JNIEnv*, jclass, jlong a) { fl_adapter_free(handle<fl_adapter>(a)); }

jint JNICALL adapter_rank(JNIEnv* env, jclass, jlong a) {
    int32_t r = 0;
    check(env, fl_adapter_get_info(handle<fl_adapter>(a), &r, nullptr));
    return r;
}

jfloat JNICALL adapter_scale(JNIEnv* env, jclass, jlong a) {
    float s = 0;
    check(env, fl_adapter_get_info(handle<fl_adapter>(a), nullptr, &s));
    return s;
}

// The fl_dtype the adapter's weights are stored in.
jint JNICALL adapter_dtype(JNIEnv* env, jclass, jlong a) {
    int32_t d = 0;
    check(env, fl_adapter_get_storage(handle<fl_adapter>(a), &d, nullptr));
    return d;
}

// Resident bytes of the adapter's weights.
jlong JNICALL adapter_bytes(JNIEnv* env, jclass, jlong a) {
    int64_t b = 0;
    check(env, fl_adapter_get_storage(handle<fl_adapter>(a), nullptr, &b));
    return b;
}

// tokens, seq_ids, positions: int32 [n]; adapters: int64 handles [n] (0 = none); want_logits,
// want_hidden: int8 [n]; logits: float32 [n_out, vocab]; hidden: float32 [n_hidden, hidden_size].
void JNICALL decode(JNIEnv* env, jclass, jlong c, jint n, jobject tokens, jobject seq_ids, jobject positions,
                    jobject adapters, jobject want_logits, jobject logits, jobject want_hidden, jobject hidden) {
    if (n < 0) {
        throw_class(env, g_illegal_argument, "negative row count");
        return;
    }
    auto* tok = static_cast<int32_t*>(buffer(env, tokens, int64_t(n) * 4, "tokens buffer too small"));
    if (!tok) return;
    auto* seq = static_cast<int32_t*>(buffer(env, seq_ids, int64_t(n) * 4, "seq ids buffer too small"));
    if (!seq) return;
    auto* pos = static_cast<int32_t*>(buffer(env, positions, int64_t(n) * 4, "positions buffer too small"));
    if (!pos) return;
    auto* ad = static_cast<fl_adapter**>(buffer(env, adapters, int64_t(n) * 8, "adapters buffer too small"));
    if (!ad) return;
    auto* want = static_cast<int8_t*>(buffer(env, want_logits, n, "want-logits buffer too small"));
    if (!want) return;
    float* out = nullptr;
    jlong cap = 0;
    if (logits) {
        out = static_cast<float*>(buffer(env, logits, 0, "logits buffer"));
        if (!out) return;
        cap = env->GetDirectBufferCapacity(logits) / 4;
    }
    auto* want_h = static_cast<int8_t*>(buffer(env, want_hidden, n, "want-hidden buffer too small"));
    if (!want_h) return;
    float* hid = nullptr;
    jlong hid_cap = 0;
    if (hidden) {
        hid = static_cast<float*>(buffer(env, hidden, 0, "hidden buffer"));
        if (!hid) return;
        hid_cap = env->GetDirectBufferCapacity(hidden) / 4;
    }
    fl_batch b{n, tok, seq, pos, ad, want, out, cap, want_h, hid, hid_cap};
    check(env, fl_decode(handle<fl_context>(c), &b));
}

// The first n entries of a Java array (null: none) in a per-thread buffer; false with an
// exception pending when the array is shorter than n.
template <typename T, typename A> bool copy_array(JNIEnv* env, A array, jint n, std::vector<T>& out, const char* what) {
    out.clear();
    if (n == 0) return true;
    if (!array || n < 0 || env->GetArrayLength(array) < n) {
        throw_class(env, g_illegal_argument, what);
        return false;
    }
    out.resize(size_t(n));
    if constexpr (std::is_same_v<T, float>)
        env->GetFloatArrayRegion(array, 0, n, out.data());
    else
        env->GetIntArrayRegion(array, 0, n, out.data());
    return !env->ExceptionCheck();
}

thread_local std::vector<int32_t> t_prefix_tokens;

// The first n tokens of a sequence (prompt, then generated); adapter: a handle or 0 (the base model).
jint JNICALL seq_adopt_prefix(JNIEnv* env, jclass, jlong c, jint seq, jintArray tokens, jint n, jlong adapter) {
    if (!copy_array(env, tokens, n, t_prefix_tokens, "tokens array shorter than n")) return 0;
    int32_t positions = 0;
    check(env, fl_seq_adopt_prefix(handle<fl_context>(c), seq, t_prefix_tokens.data(), n, handle<fl_adapter>(adapter),
                                   &positions));
    return positions;
}

// Returns (positions << 32) | shared_blocks, as fl_prefix_lookup reports them.
jlong JNICALL prefix_lookup(JNIEnv* env, jclass, jlong c, jintArray tokens, jint n, jlong adapter) {
    if (!copy_array(env, tokens, n, t_prefix_tokens, "tokens array shorter than n")) return 0;
    int32_t positions = 0, shared = 0;
    if (check(env, fl_prefix_lookup(handle<fl_context>(c), t_prefix_tokens.data(), n, handle<fl_adapter>(adapter),
                                    &positions, &shared)))
        return 0;
    return (jlong(positions) << 32) | jlong(uint32_t(shared));
}

jint length_of(JNIEnv* env, jarray array) { return array ? env->GetArrayLength(array) : 0; }

// Samples one token (fl_sample) and, when out_top_tokens is not null, writes the row's
// out_top_tokens.length most likely tokens (fl_top_logprobs) to the two out arrays.
// Returns (token << 32) | float bits of the log-probability.
jlong JNICALL sample(JNIEnv* env, jclass, jobject logits, jlong offset, jint vocab, jfloat temperature, jint top_k,
                     jfloat top_p, jlong seed, jlong step, jfloat presence_penalty, jfloat frequency_penalty,
                     jfloat repetition_penalty, jintArray tokens, jint n_tokens, jint n_prompt_tokens,
                     jintArray bias_tokens, jfloatArray bias_values, jint min_tokens, jintArray end_tokens,
                     jintArray out_top_tokens, jfloatArray out_top_logprobs) {
    if (offset < 0 || vocab < 1) {
        throw_class(env, g_illegal_argument, "bad logits offset or vocab");
        return 0;
    }
    auto* base = static_cast<float*>(buffer(env, logits, (offset + vocab) * 4, "logits buffer too small for the row"));
    if (!base) return 0;
    thread_local std::vector<int32_t> history, bias_ids, ends, top_ids;
    thread_local std::vector<float> bias_vals, top_lps;
    const jint n_bias = length_of(env, bias_tokens);
    const jint n_top = length_of(env, out_top_tokens);
    if (length_of(env, bias_values) != n_bias || length_of(env, out_top_logprobs) != n_top) {
        throw_class(env, g_illegal_argument, "paired arrays differ in length");
        return 0;
    }
    if (!copy_array(env, tokens, n_tokens, history, "tokens array shorter than n_tokens") ||
        !copy_array(env, bias_tokens, n_bias, bias_ids, "bias tokens") ||
        !copy_array(env, bias_values, n_bias, bias_vals, "bias values") ||
        !copy_array(env, end_tokens, length_of(env, end_tokens), ends, "end tokens"))
        return 0;
    fl_sampling_params p = fl_sampling_default_params();
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.seed = static_cast<uint64_t>(seed);
    p.presence_penalty = presence_penalty;
    p.frequency_penalty = frequency_penalty;
    p.repetition_penalty = repetition_penalty;
    p.tokens = history.data();
    p.n_tokens = n_tokens;
    p.n_prompt_tokens = n_prompt_tokens;
    p.bias_tokens = bias_ids.data();
    p.bias_values = bias_vals.data();
    p.n_bias = n_bias;
    p.min_tokens = min_tokens;
    p.end_tokens = ends.data();
    p.n_end_tokens = jint(ends.size());
    int32_t token = 0;
    float lp = 0;
    if (check(env, fl_sample(base + offset, vocab, &p, static_cast<uint64_t>(step), &token, &lp))) return 0;
    if (n_top > 0) {
        top_ids.resize(size_t(n_top));
        top_lps.resize(size_t(n_top));
        if (check(env, fl_top_logprobs(base + offset, vocab, n_top, top_ids.data(), top_lps.data()))) return 0;
        env->SetIntArrayRegion(out_top_tokens, 0, n_top, top_ids.data());
        env->SetFloatArrayRegion(out_top_logprobs, 0, n_top, top_lps.data());
    }
    uint32_t bits;
    std::memcpy(&bits, &lp, 4);
    return (static_cast<jlong>(token) << 32) | static_cast<jlong>(bits);
}

// Masks row [offset, offset + vocab) of a logits buffer with a bit set (see fl_mask_logits).
void JNICALL mask_logits(JNIEnv* env, jclass, jobject logits, jlong offset, jint vocab, jintArray allowed_bits) {
    if (offset < 0 || vocab < 1 || !allowed_bits || env->GetArrayLength(allowed_bits) < (int64_t(vocab) + 31) / 32) {
        throw_class(env, g_illegal_argument, "bad logits offset, vocab or mask length");
        return;
    }
    auto* base = static_cast<float*>(buffer(env, logits, (offset + vocab) * 4, "logits buffer too small for the row"));
    if (!base) return;
    jint* bits = env->GetIntArrayElements(allowed_bits, nullptr);
    if (!bits) return; // OutOfMemoryError pending
    fl_status s = fl_mask_logits(base + offset, vocab, reinterpret_cast<const uint32_t*>(bits));
    env->ReleaseIntArrayElements(allowed_bits, bits, JNI_ABORT);
    check(env, s);
}

#define FL_NATIVE(name, sig, fn)                                                                                       \
    { const_cast<char*>(name), const_cast<char*>(sig), reinterpret_cast<void*>(fn) }
const JNINativeMethod kMethods[] = {
    FL_NATIVE("isa", "()Ljava/lang/String;", isa),
    FL_NATIVE("deviceCount", "()I", device_count),
    FL_NATIVE("deviceUnavailableReason", "()Ljava/lang/String;", device_unavailable_reason),
    FL_NATIVE("deviceInfo", "(I[J)Ljava/lang/String;", device_info),
    FL_NATIVE("modelLoad", "(Ljava/lang/String;Ljava/lang/String;I)J", model_load),
    FL_NATIVE("modelFree", "(J)V", model_free),
    FL_NATIVE("modelInfo", "(J[I)J", model_info),
    FL_NATIVE("contextCreate", "(JIJIIIII)J", context_create),
    FL_NATIVE("contextFree", "(J)V", context_free),
    FL_NATIVE("kvStats", "(J[J)V", kv_stats),
    FL_NATIVE("kvReclaim", "(JJI)I", kv_reclaim),
    FL_NATIVE("seqFree", "(JI)V", seq_free),
    FL_NATIVE("seqFork", "(JII)V", seq_fork),
    FL_NATIVE("seqAdoptPrefix", "(JI[IIJ)I", seq_adopt_prefix),
    FL_NATIVE("prefixLookup", "(J[IIJ)J", prefix_lookup),
    FL_NATIVE("seqLength", "(JI)I", seq_length),
    FL_NATIVE("adapterLoad", "(JLjava/lang/String;I)J", adapter_load),
    FL_NATIVE("adapterFree", "(J)V", adapter_free),
    FL_NATIVE("adapterRank", "(J)I", adapter_rank),
    FL_NATIVE("adapterScale", "(J)F", adapter_scale),
    FL_NATIVE("adapterDtype", "(J)I", adapter_dtype),
    FL_NATIVE("adapterBytes", "(J)J", adapter_bytes),
    FL_NATIVE("decode",
              "(JILjava/nio/ByteBuffer;Ljava/nio/ByteBuffer;Ljava/nio/ByteBuffer;Ljava/nio/ByteBuffer;"
              "Ljava/nio/ByteBuffer;Ljava/nio/ByteBuffer;Ljava/nio/ByteBuffer;Ljava/nio/ByteBuffer;)V",
              decode),
    FL_NATIVE("sample", "(Ljava/nio/ByteBuffer;JIFIFJJFFF[III[I[FI[I[I[F)J", sample),
    FL_NATIVE("maskLogits", "(Ljava/nio/ByteBuffer;JI[I)V", mask_logits),
};

jclass global_class(JNIEnv* env, const char* name) {
    jclass local = env->FindClass(name);
    if (!local) return nullptr;
    auto g = static_cast<jclass>(env->NewGlobalRef(local));
    env->DeleteLocalRef(local);
    return g;
}

} // namespace

extern "C" JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void*) {
    JNIEnv* env = nullptr;
    if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_8) != JNI_OK) return JNI_ERR;
    char name[128];
    for (auto& e : g_exceptions) {
        std::snprintf(name, sizeof name, "%s%s", kPkg, e.name);
        if (!(e.cls = global_class(env, name))) return JNI_ERR;
    }
    std::snprintf(name, sizeof name, "%sAdapterMismatchException", kPkg);
    if (!(g_adapter_mismatch = global_class(env, name))) return JNI_ERR;
    if (!(g_illegal_argument = global_class(env, "java/lang/IllegalArgumentException"))) return JNI_ERR;
    std::snprintf(name, sizeof name, "%sNativeEngine", kPkg);
    jclass native = env->FindClass(name);
    if (!native) return JNI_ERR;
    if (env->RegisterNatives(native, kMethods, sizeof kMethods / sizeof kMethods[0]) != JNI_OK) return JNI_ERR;
    env->DeleteLocalRef(native);
    return JNI_VERSION_1_8;
}
