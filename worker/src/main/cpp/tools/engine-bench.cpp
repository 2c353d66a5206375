// engine-bench - engine throughput against the machine's measured limits, in one run.
//
// Usage: engine_bench [--b16] THREADS F32_MODEL_DIR BF16_MODEL_DIR ADAPTERS_DIR [prefill]
//        engine_bench --kv THREADS MODEL_DIR [CONTEXT] [BATCH]: BF16 KV against F32 KV (engine-bench-kv.cpp)
//        engine_bench --prefill-long THREADS MODEL_DIR [ROUNDS] [LENGTHS]: the prefill rate against the
//        prompt length (engine-bench-prefill.cpp)
//        engine_bench --compare THREADS BF16_MODEL_DIR: the int8 against BF16 logits (5. below) alone
//        engine_bench --rows THREADS MODEL_DIR as_stored|int8 ADAPTERS_DIR [decode]: prefill512, decode_b1_none
//          and decode_b16_distinct of one model (the rows bench/engine/llamacpp.sh compares); decode:
//          the two decode rows alone (an A/B of decode kernels, run alternately on a shared host)
//   The BF16 model runs twice: as stored and quantized to int8 at load (rows suffixed _int8).
//   --b16: only the batch-16 decode rows (no prefill, no other batch), interleaved (one step of
//   each per round, best of 30 rounds) so that the ratios hold up on a busy host; a quick check of
//   lora16_vs_base_b16 for iterating. The full run times one row after another.
//   prefill: only the limits and the prefill rows (quick iteration on prefill speed)
//   ADAPTERS_DIR holds lora0 .. lora31: PEFT adapters of the model (rank <= 16), one per row of the
//   largest batch. bench/engine/run.sh generates all of it with the testkit (medium model).
//
// 1. Limits, measured first with THREADS threads running at once (the engine's thread count):
//    read bandwidth (sum over 1 GiB), F32 FMA rate (vfmadd on zmm, on ymm without AVX-512), int8
//    dot rate (the AVX2 int8 GEMM's vpmaddwd + vpaddd on int16 activations), BF16 dot rate (vdpbf16ps),
//    and, when the engine runs on AMX tiles, the tile rate (tdpbf16ps); best of 5 each. The
//    1-thread figures are printed beside them.
// 2. For each model directory (F32 weights, then BF16, then BF16 quantized to int8), loaded through the C API as the
// worker
//    loads it: adapters loaded into 32 slots, one context; then
//      prefill of a 512-token prompt, and
//      decode steps at batch 1/4/16/32 with no adapter, one shared adapter, a distinct adapter per
//      row; each row a sequence with a 64-token context. Adapters are stored as the engine stores
//      them by default (the model's compute dtype: F32 for F32 weights, BF16 for BF16 weights);
//      where that is not F32, batch 16 with distinct adapters again with F32 adapter storage
//      (decode_b16_distinct_f32, loaded after the memory figures): the effect of the dtype in one run.
//    Each row is timed best-of (the host's share of the cores swings within seconds, and the
//    limits are best-of figures too) and compared with its roofline:
//      roofline = max(weight bytes read / read bandwidth, 2 x parameters x tokens / dot rate)
//    parameters: the layers' projections, plus the lm_head for each row that wants logits (every
//    decode row; the prompt's last row only). The embedding is a gather: neither its bytes nor
//    its parameters count. Weight bytes use the dtype's size. The dot rate is the F32 FMA rate for
//    F32 weights; for BF16 weights the AMX tile rate when the engine runs its AMX GEMM
//    (fl_engine_isa() == "avx512amx"), the BF16 dot rate for its vdpbf16ps kernels ("avx512bf16"),
//    else the F32 rate (the kernels widen BF16 to F32); for int8 weights the int8 dot rate.
//    Adapter work is not in the roofline: a LoRA row's efficiency includes its overhead.
//    The prefill is also measured in process CPU time against the 1-thread rate measured in thread
//    CPU time: flops / (CPU seconds x rate) is the share of the work the engine does at the FMA
//    rate, and does not move with the share of the cores other processes take (wall-clock
//    fractions on a shared host do); it counts the pool's spinning as lost time.
// 3. Memory: the process's VmRSS with the model, adapters and context loaded (and again after the
//    runs) against weights + KV budget + adapter bytes + 10%.
// 4. The adapters' bandwidth account of the batch-16 rows, per dtype: the distinct row reads its 16
//    adapters' resident bytes per step beyond the base row (lora16_adapter_bytes_b16), in
//    lora16_extra_ms_b16 = distinct - none; lora16_implied_gb_s_b16 = bytes / extra time, beside the
//    measured read bandwidth; lora16_bandwidth_cap_b16 = none / (none + bytes / read bandwidth), the
//    best lora16_vs_base_b16 when the adapter reads overlap nothing.
// 5. Int8 against BF16 logits: the BF16 engine generates 256 tokens greedily after a 16-token prompt;
//    both engines then prefill that whole sequence, and the logits of the 256 generated positions
//    are compared: relative L2 (int8_vs_bf16_rel_l2) and arg-max agreement (int8_greedy_agreement).
// Prints a table, then one JSON line last.
#include <immintrin.h>
#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "flotilla_engine.h"

using Clock = std::chrono::steady_clock;

namespace {

constexpr int kAdapters = 32; // slots: one adapter per row at the largest batch
constexpr int kBatches[] = {1, 4, 16, 32};
constexpr int kContext = 64; // cached positions of each decode sequence
constexpr int kPrompt = 512;
constexpr int kPromptSeq = kAdapters; // sequence id of the prefill (decode uses 0..31)
constexpr int64_t kKvBudget = int64_t(256) << 20;

double now() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }
double cpu_seconds(clockid_t clock) {
    timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "engine_bench: %s: %s\n", what, fl_last_error());
    std::exit(1);
}

// ---------------------------------------------------------------------------------------------
// Limits

// Sums floats [a, b) with vector loads (the sum only keeps the loads alive).
__attribute__((target("avx2"))) float sum_range(const float* p, size_t a, size_t b) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = a; i + 32 <= b; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
        s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

// Read bandwidth: threads each sum their part of a 1 GiB buffer; best of 5, GB/s.
double read_bandwidth(int threads) {
    size_t n = (size_t(1) << 30) / 4;
    float* buf = static_cast<float*>(std::aligned_alloc(64, n * 4));
    std::fill(buf, buf + n, 1.0f); // non-zero pages, touched
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        std::atomic<float> sink{0};
        double t0 = now();
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; t++)
            ts.emplace_back([&, t] {
                size_t a = (n * t / threads) & ~size_t(31), b = n * (t + 1) / threads;
                sink.store(sum_range(buf, a, b));
            });
        for (auto& t : ts) t.join();
        best = std::max(best, n * 4.0 / (now() - t0) / 1e9);
    }
    std::free(buf);
    return best;
}

constexpr long kIters = 50000000;

// One thread's F32 FMA loop: 16 independent zmm accumulators, 32 FLOP per instruction.
__attribute__((target("avx512f"))) void fma_loop_f32() {
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps(float(i));
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
    for (long k = 0; k < kIters; k++)
        for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    float s = 0;
    for (int i = 0; i < 16; i++) s += _mm512_reduce_add_ps(acc[i]);
    if (s == 12345) std::printf(" ");
}

// The same on ymm for CPUs without AVX-512: 16 FLOP per instruction. 12 accumulators, not 16:
// with the two operands, 16 would not fit the 16 ymm registers and the spilled ones would halve the
// rate (58.8 against 103 GFLOP/s on a Zen 3 core); 12 cover the FMA latency at two per cycle.
// About kIters x 16 instructions in all (48 fewer), as the zmm loop.
__attribute__((target("avx2,fma"))) void fma_loop_f32_avx2() {
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(float(i));
    const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
    for (long k = 0; k < kIters / 3 * 4; k++)
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    float out[8], s = 0;
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(out, acc[i]);
        s += out[0];
    }
    if (s == 12345) std::printf(" ");
}

// One thread's int8 dot loop: the AVX2 int8 GEMM's step, vpmaddwd (int16 activations x int8
// weights widened to int16, pairs to int32) then vpaddd into an accumulator: 16 multiply-adds, 32
// ops, per pair of instructions; the widening (vpmovsxbw) and the activation broadcast, shared by
// the rows and columns of a tile, are left out. Twelve independent accumulators, as in the GEMM's
// tile; 16 pairs per iteration, kIters iterations. Written in assembly: compiled from intrinsics,
// GCC 12 keeps such accumulators in stack slots (a store-to-load round trip per add, half the rate)
// or, given constant operands, folds products away, and the loop then measures the compiler rather
// than the core.
__attribute__((target("avx2"))) void dot_loop_i8() {
    const __m256i w0 = _mm256_set1_epi16(3), w1 = _mm256_set1_epi16(-5), x = _mm256_set1_epi16(7);
    alignas(32) int32_t out[8];
    long n = kIters;
    // clang-format off
// One pair: accumulator A += vpmaddwd(x, W); ymm12 holds the products.
#define FL_PAIR(W, A) "vpmaddwd %[x], %[" #W "], %%ymm12\n\tvpaddd %%ymm12, %%ymm" #A ", %%ymm" #A "\n\t"
#define FL_ZERO(A) "vpxor %%ymm" #A ", %%ymm" #A ", %%ymm" #A "\n\t"
    __asm__ volatile(
        FL_ZERO(0) FL_ZERO(1) FL_ZERO(2) FL_ZERO(3) FL_ZERO(4) FL_ZERO(5)
        FL_ZERO(6) FL_ZERO(7) FL_ZERO(8) FL_ZERO(9) FL_ZERO(10) FL_ZERO(11)
        "1:\n\t"
        FL_PAIR(w0, 0) FL_PAIR(w1, 1) FL_PAIR(w0, 2)  FL_PAIR(w1, 3)  FL_PAIR(w0, 4) FL_PAIR(w1, 5)
        FL_PAIR(w0, 6) FL_PAIR(w1, 7) FL_PAIR(w0, 8)  FL_PAIR(w1, 9)  FL_PAIR(w0, 10) FL_PAIR(w1, 11)
        FL_PAIR(w0, 0) FL_PAIR(w1, 1) FL_PAIR(w0, 2)  FL_PAIR(w1, 3)
        "dec %[n]\n\tjnz 1b\n\t"
        "vpaddd %%ymm0, %%ymm11, %%ymm0\n\tvmovdqa %%ymm0, %[out]\n\t"
        : [n] "+r"(n), [out] "=m"(out)
        : [x] "x"(x), [w0] "x"(w0), [w1] "x"(w1)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "cc");
#undef FL_ZERO
#undef FL_PAIR
    // clang-format on
    if (out[0] == 12345) std::printf(" ");
}

// One thread's BF16 dot loop: 16 independent accumulators of vdpbf16ps (16 lanes x 2 products,
// 64 FLOP per instruction), the instruction the engine's avx512bf16 GEMM uses.
__attribute__((target("avx512f,avx512bf16"))) void dot_loop_bf16() {
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps(float(i));
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.001f), _mm512_set1_ps(0.001f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.5f));
    for (long k = 0; k < kIters; k++)
        for (int i = 0; i < 16; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    float s = 0;
    for (int i = 0; i < 16; i++) s += _mm512_reduce_add_ps(acc[i]);
    if (s == 12345) std::printf(" ");
}

// One thread's AMX loop: tdpbf16ps on tiles already loaded, 4 independent accumulator tiles, each
// instruction 16 x 16 outputs x 32 products (16384 FLOP), the instruction the engine's avx512amx
// GEMM uses. It runs kIters / 64 rounds of 16 instructions, so peak() counts it at 16384 / 64 FLOP
// per "instruction" of its kIters x 16. Needs the process's AMX permission, which the engine asked
// for when it chose the avx512amx table.
__attribute__((target("amx-tile,amx-bf16"))) void amx_loop_bf16() {
    struct alignas(64) {
        uint8_t palette = 1, start_row = 0, reserved[14] = {};
        uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64};
        uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16};
    } cfg;
    alignas(64) static uint16_t zeros[16 * 32]; // products of zeros: no value can overflow
    alignas(64) float out[16 * 16];
    _tile_loadconfig(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, zeros, 64);
    _tile_loadd(5, zeros, 64);
    _tile_loadd(6, zeros, 64);
    for (long k = 0; k < kIters / 64; k++)
        for (int i = 0; i < 4; i++) {
            _tile_dpbf16ps(0, 4, 5);
            _tile_dpbf16ps(1, 4, 6);
            _tile_dpbf16ps(2, 4, 5);
            _tile_dpbf16ps(3, 4, 6);
        }
    _tile_stored(0, out, 64);
    _tile_release();
    if (out[0] == 12345) std::printf(" ");
}

// GFLOP/s of `threads` threads running `loop` at once, in total; best of 5.
double peak(int threads, void (*loop)(), double flop_per_instr) {
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; t++) ts.emplace_back(loop);
        for (auto& t : ts) t.join();
        best = std::max(best, threads * kIters * 16.0 * flop_per_instr / (now() - t0) / 1e9);
    }
    return best;
}

// GFLOP/s of `loop` on the calling thread, in its CPU time (what it ran, not what the host gave it);
// best of 5.
double peak_in_cpu_time(void (*loop)(), double flop_per_instr) {
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
        loop();
        best = std::max(best, kIters * 16.0 * flop_per_instr / (cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - t0) / 1e9);
    }
    return best;
}

struct Limits {
    double read_1t = 0, read = 0;                  // GB/s
    double f32_1t = 0, f32 = 0;                    // GFLOP/s
    double i8_1t = 0, i8 = 0, i8_cpu = 0;          // int8 GOP/s (2 per multiply-add)
    double bf16_1t = 0, bf16 = 0;                  // GFLOP/s, 0 without AVX512_BF16
    double amx_1t = 0, amx = 0;                    // GFLOP/s, 0 unless the engine runs its AMX kernels
    double f32_cpu = 0, bf16_cpu = 0, amx_cpu = 0; // GFLOP/s of 1 thread in its CPU time
};

// Hands the heap this process freed back to the system. The models run one after another in one
// process: without it the allocator may keep a run's freed pages, and the next model's VmRSS counts
// them against its own budget.
void release_freed_memory() { malloc_trim(0); }

// VmRSS of this process, bytes.
int64_t rss_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
    return -1;
}

// ---------------------------------------------------------------------------------------------
// One model

struct Row {
    std::string name; // "decode_b16_distinct", "prefill512"
    int tokens;
    double seconds, roofline_seconds;
    bool bw_bound;
};

const char* dtype_name(int32_t d) {
    return d == FL_DTYPE_F32 ? "F32" : d == FL_DTYPE_BF16 ? "BF16" : d == FL_DTYPE_I8 ? "INT8" : "F16";
}

struct ModelRun {
    std::string dtype;         // "F32", "BF16", "INT8"
    std::string adapter_dtype; // storage of the adapters (default params)
    fl_model_info info{};
    double rate = 0;                                   // GFLOP/s the roofline uses
    double rate_cpu = 0;                               // the same rate for 1 thread in its CPU time
    double prefill_cpu_seconds = 0, prefill_flops = 0; // best process CPU time of the prefill
    std::string rate_name;
    std::vector<Row> rows;
    int64_t rss_loaded = 0, rss_after = 0, budget = 0, adapter_bytes = 0;

    const Row& row(const std::string& n) const {
        for (const Row& r : rows)
            if (r.name == n) return r;
        std::fprintf(stderr, "no row %s\n", n.c_str());
        std::exit(1);
    }
};

// The bandwidth account of the batch-16 distinct row: its 16 adapters are read from memory on top of
// the base row's weights (every projection of every layer, A and Bt), so at best they cost their
// bytes at the measured read bandwidth. The implied rate is what the measured extra time amounts to.
struct AdapterAccount {
    double bytes = 0;   // resident bytes of the row's 16 adapters: read per step beyond the base
    double extra_s = 0; // decode_b16_distinct - decode_b16_none
    double implied = 0; // bytes / extra_s, GB/s
    double cap = 0;     // the ratio that bandwidth allows: base / (base + bytes / read)
};

AdapterAccount adapter_account(const ModelRun& r, double read_gb_s) {
    AdapterAccount a;
    const double base = r.row("decode_b16_none").seconds;
    a.bytes = double(r.adapter_bytes) / kAdapters * 16;
    a.extra_s = r.row("decode_b16_distinct").seconds - base;
    a.implied = a.extra_s > 0 ? a.bytes / a.extra_s / 1e9 : 0;
    a.cap = base / (base + a.bytes / (read_gb_s * 1e9));
    return a;
}

struct Stepper {
    fl_context* ctx;
    int vocab;
    std::vector<float> logits;

    double step(const std::vector<int32_t>& tok, const std::vector<int32_t>& seq, const std::vector<int32_t>& pos,
                const std::vector<fl_adapter*>& ad, const std::vector<int8_t>& want) {
        int n_out = 0;
        for (int8_t w : want) n_out += w;
        logits.resize(size_t(std::max(n_out, 1)) * vocab);
        fl_batch b{int32_t(tok.size()),    tok.data(), seq.data(), pos.data(), ad.data(), want.data(), logits.data(),
                   int64_t(logits.size()), nullptr,    nullptr,    0};
        double t0 = now();
        if (fl_decode(ctx, &b) != FL_OK) die("fl_decode");
        return now() - t0;
    }
};

// Loads lora0 .. lora31 of adapters_dir with the given storage; adds their resident bytes to *bytes.
std::vector<fl_adapter*> load_adapters(fl_model* model, const std::string& adapters_dir, int32_t storage, int* max_rank,
                                       int64_t* bytes, int32_t* dtype) {
    std::vector<fl_adapter*> adapters;
    fl_adapter_params ap = fl_adapter_default_params();
    ap.storage = storage;
    for (int i = 0; i < kAdapters; i++) {
        fl_adapter* a = nullptr;
        std::string d = adapters_dir + "/lora" + std::to_string(i);
        if (fl_adapter_load(model, d.c_str(), &ap, &a) != FL_OK) die(d.c_str());
        int32_t rank = 0;
        float scale = 0;
        fl_adapter_get_info(a, &rank, &scale);
        int64_t b = 0;
        fl_adapter_get_storage(a, dtype, &b);
        *max_rank = std::max(*max_rank, int(rank));
        *bytes += b;
        adapters.push_back(a);
    }
    return adapters;
}

// weight_dtype: fl_model_params.weight_dtype (FL_DTYPE_AS_STORED, or FL_DTYPE_I8 to quantize at load)
fl_model* load_model(const std::string& dir, int32_t weight_dtype) {
    fl_model_params mp = fl_model_default_params();
    mp.weight_dtype = weight_dtype;
    fl_model* model = nullptr;
    if (fl_model_load(dir.c_str(), &mp, &model) != FL_OK) die("fl_model_load");
    return model;
}

ModelRun run_model(const std::string& dir, int32_t weight_dtype, const std::string& adapters_dir, int threads,
                   const Limits& lim, const char* bf16_rate, bool only_b16, bool prefill_only) {
    ModelRun run;
    fl_model* model = load_model(dir, weight_dtype);
    fl_model_get_info(model, &run.info);
    const fl_model_info& in = run.info;
    run.dtype = dtype_name(in.weight_dtype);
    // the rate of the instructions the engine's GEMM runs for this dtype
    const std::string rate = in.weight_dtype == FL_DTYPE_BF16 ? bf16_rate
                             : in.weight_dtype == FL_DTYPE_I8 ? "i8_dot"
                                                              : "f32_fma";
    run.rate = rate == "amx_bf16" ? lim.amx : rate == "bf16_dot" ? lim.bf16 : rate == "i8_dot" ? lim.i8 : lim.f32;
    run.rate_cpu = rate == "amx_bf16"   ? lim.amx_cpu
                   : rate == "bf16_dot" ? lim.bf16_cpu
                   : rate == "i8_dot"   ? lim.i8_cpu
                                        : lim.f32_cpu;
    run.rate_name = rate;

    int max_rank = 0;
    int32_t adapter_dtype = FL_DTYPE_F32;
    std::vector<fl_adapter*> adapters =
        load_adapters(model, adapters_dir, FL_ADAPTER_STORAGE_AUTO, &max_rank, &run.adapter_bytes, &adapter_dtype);
    run.adapter_dtype = dtype_name(adapter_dtype);
    fl_context_params p = fl_context_default_params();
    p.n_threads = threads;
    p.kv_budget_bytes = kKvBudget;
    p.max_batch_tokens = kPrompt;
    p.max_sequences = kAdapters + 1;
    p.max_lora_rank = max_rank;
    fl_context* ctx = nullptr;
    if (fl_context_create(model, &p, &ctx) != FL_OK) die("fl_context_create");

    // shapes: projections per layer (q, k, v, o, gate, up, down), [out, in]
    const int64_t h = in.hidden_size, q = int64_t(in.n_heads) * in.head_dim, kv = int64_t(in.n_kv_heads) * in.head_dim,
                  ff = in.intermediate_size;
    const int64_t proj_params = h * q + 2 * h * kv + q * h + 3 * h * ff;
    const int64_t proj_in_out = (h + q) + 2 * (h + kv) + (q + h) + 2 * (h + ff) + (ff + h); // sum of in + out
    const int64_t layer_params = in.n_layers * proj_params;
    const int64_t head_params = int64_t(in.vocab_size) * h;
    // int8: a byte per weight and an F16 block scale per 32; the row scales (4 bytes per output
    // row) are under 1% and not counted
    const double elem = in.weight_dtype == FL_DTYPE_F32 ? 4 : in.weight_dtype == FL_DTYPE_I8 ? 1 + 2.0 / 32 : 2;
    // lora_A [r, in] and lora_B [out, r] in the storage dtype, every projection of every layer: as
    // the engine reports it
    const int64_t expect_bytes =
        int64_t(kAdapters) * in.n_layers * proj_in_out * max_rank * (adapter_dtype == FL_DTYPE_F32 ? 4 : 2);
    if (run.adapter_bytes != expect_bytes) {
        std::fprintf(stderr, "engine_bench: adapters hold %lld bytes, expected %lld\n", (long long)run.adapter_bytes,
                     (long long)expect_bytes);
        std::exit(1);
    }
    run.budget = int64_t((in.weight_bytes + kKvBudget + run.adapter_bytes) * 1.10);
    run.rss_loaded = rss_bytes();

    auto roofline = [&](int tokens, int logit_rows) {
        double bytes = (layer_params + head_params) * elem + 4.0 * h * (2 * in.n_layers + 1); // + norms (F32)
        double flops = 2.0 * layer_params * tokens + 2.0 * head_params * logit_rows;
        double tb = bytes / (lim.read * 1e9), tf = flops / (run.rate * 1e9);
        return std::make_pair(std::max(tb, tf), tb >= tf);
    };

    Stepper st{ctx, in.vocab_size, {}};

    // prefill: one warm-up, best of 5
    if (!only_b16) {
        std::vector<int32_t> tok(kPrompt), seq(kPrompt, kPromptSeq), pos(kPrompt);
        std::vector<fl_adapter*> none(kPrompt, nullptr);
        std::vector<int8_t> want(kPrompt, 0);
        want[kPrompt - 1] = 1;
        for (int i = 0; i < kPrompt; i++) tok[i] = (i * 37 + 11) % in.vocab_size, pos[i] = i;
        double best = 1e9, best_cpu = 1e9;
        for (int rep = 0; rep < 6; rep++) {
            fl_seq_free(ctx, kPromptSeq);
            double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
            double t = st.step(tok, seq, pos, none, want);
            double c = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
            if (rep > 0) best = std::min(best, t), best_cpu = std::min(best_cpu, c);
        }
        fl_seq_free(ctx, kPromptSeq);
        run.prefill_cpu_seconds = best_cpu;
        run.prefill_flops = 2.0 * layer_params * kPrompt + 2.0 * head_params;
        auto [roof, bw] = roofline(kPrompt, 1);
        run.rows.push_back({"prefill512", kPrompt, best, roof, bw});
    }

    if (prefill_only) {
        run.rss_after = rss_bytes();
        fl_context_free(ctx);
        for (auto* a : adapters) fl_adapter_free(a);
        fl_model_free(model);
        release_freed_memory();
        return run;
    }

    // decode contexts: sequences 0..31 with kContext cached positions, 8 sequences per call
    for (int s0 = 0; s0 < kAdapters; s0 += 8) {
        std::vector<int32_t> tok, seq, pos;
        for (int s = s0; s < s0 + 8; s++)
            for (int i = 0; i < kContext; i++)
                tok.push_back((s * 131 + i * 7) % in.vocab_size), seq.push_back(s), pos.push_back(i);
        std::vector<fl_adapter*> none(tok.size(), nullptr);
        std::vector<int8_t> want(tok.size(), 0);
        st.step(tok, seq, pos, none, want);
    }
    // one decode step per sequence at position kContext, rewritten each step: the same work each
    // time. Two warm-up steps, then best of 12.
    // rows of batch b: mode 0 no adapter, 1 set[0] shared, 2 set[i] per row
    auto adapters_of = [&](int b, int mode, const std::vector<fl_adapter*>& set) {
        std::vector<fl_adapter*> ad(b);
        for (int i = 0; i < b; i++) ad[i] = mode == 0 ? nullptr : mode == 1 ? set[0] : set[i];
        return ad;
    };
    // Times each variant best-of; rounds > 1 interleaves them (one step of each per round), so a
    // swing in the host's share of the cores hits all of them alike.
    struct Variant {
        std::string name;
        int b;
        std::vector<fl_adapter*> ad;
    };
    auto decode_rows = [&](const std::vector<Variant>& vs, int reps) {
        std::vector<double> best(vs.size(), 1e9);
        for (int rep = 0; rep < reps; rep++)
            for (size_t v = 0; v < vs.size(); v++) {
                const int b = vs[v].b;
                std::vector<int32_t> tok(b), seq(b), pos(b, kContext);
                std::vector<int8_t> want(b, 1);
                for (int i = 0; i < b; i++) tok[i] = (i * 17 + 5) % in.vocab_size, seq[i] = i;
                double t = st.step(tok, seq, pos, vs[v].ad, want);
                if (rep >= 2) best[v] = std::min(best[v], t);
            }
        for (size_t v = 0; v < vs.size(); v++) {
            auto [roof, bw] = roofline(vs[v].b, vs[v].b);
            run.rows.push_back({vs[v].name, vs[v].b, best[v], roof, bw});
        }
    };
    const char* modes[] = {"none", "shared", "distinct"};
    std::vector<fl_adapter*> f32;
    if (!only_b16) {
        for (int b : kBatches)
            for (int mode = 0; mode < 3; mode++)
                decode_rows({{"decode_b" + std::to_string(b) + "_" + modes[mode], b, adapters_of(b, mode, adapters)}},
                            14);
        run.rss_after = rss_bytes();
    } else {
        run.rss_after = rss_bytes();
    }
    if (adapter_dtype != FL_DTYPE_F32) {
        int r = 0;
        int64_t bytes = 0;
        int32_t dt = 0;
        f32 = load_adapters(model, adapters_dir, FL_ADAPTER_STORAGE_F32, &r, &bytes, &dt);
    }
    if (!only_b16) {
        if (!f32.empty()) decode_rows({{"decode_b16_distinct_f32", 16, adapters_of(16, 2, f32)}}, 14);
    } else {
        std::vector<Variant> vs;
        for (int mode = 0; mode < 3; mode++)
            vs.push_back({std::string("decode_b16_") + modes[mode], 16, adapters_of(16, mode, adapters)});
        if (!f32.empty()) vs.push_back({"decode_b16_distinct_f32", 16, adapters_of(16, 2, f32)});
        decode_rows(vs, 32);
    }
    for (auto* a : f32) fl_adapter_free(a);

    fl_context_free(ctx);
    for (auto* a : adapters) fl_adapter_free(a);
    fl_model_free(model);
    release_freed_memory();
    return run;
}

double mib(int64_t b) { return b / 1048576.0; }

// Int8 against BF16 logits over kCompareTokens tokens the BF16 engine generates greedily.
constexpr int kComparePrompt = 16, kCompareTokens = 256;
struct LogitCompare {
    double rel_l2 = 0;    // || int8 - bf16 || / || bf16 || over the generated positions' logits
    double agreement = 0; // share of those positions whose arg-max agrees
};

// The logits of every position of tokens, one prefill.
std::vector<float> all_logits(fl_model* model, const std::vector<int32_t>& tokens, int threads) {
    fl_context_params p = fl_context_default_params();
    p.n_threads = threads;
    p.kv_budget_bytes = kKvBudget;
    p.max_batch_tokens = int32_t(tokens.size());
    p.max_sequences = 1;
    fl_context* ctx = nullptr;
    if (fl_context_create(model, &p, &ctx) != FL_OK) die("fl_context_create");
    fl_model_info in;
    fl_model_get_info(model, &in);
    const int n = int(tokens.size());
    std::vector<int32_t> seq(n, 0), pos(n);
    for (int i = 0; i < n; i++) pos[i] = i;
    std::vector<fl_adapter*> none(n, nullptr);
    std::vector<int8_t> want(n, 1);
    Stepper st{ctx, in.vocab_size, {}};
    st.step(tokens, seq, pos, none, want);
    fl_context_free(ctx);
    return st.logits;
}

LogitCompare compare_int8_to_bf16(const std::string& bf16_dir, int threads) {
    fl_model* bf16 = load_model(bf16_dir, FL_DTYPE_AS_STORED);
    fl_model_info in;
    fl_model_get_info(bf16, &in);
    const int vocab = in.vocab_size;
    std::vector<int32_t> tokens(kComparePrompt);
    for (int i = 0; i < kComparePrompt; i++) tokens[i] = (i * 37 + 11) % vocab;
    {
        fl_context_params p = fl_context_default_params();
        p.n_threads = threads;
        p.kv_budget_bytes = kKvBudget;
        p.max_sequences = 1;
        fl_context* ctx = nullptr;
        if (fl_context_create(bf16, &p, &ctx) != FL_OK) die("fl_context_create");
        Stepper st{ctx, vocab, {}};
        std::vector<int32_t> seq(kComparePrompt, 0), pos(kComparePrompt);
        for (int i = 0; i < kComparePrompt; i++) pos[i] = i;
        std::vector<fl_adapter*> none(kComparePrompt, nullptr);
        std::vector<int8_t> want(kComparePrompt, 0);
        want.back() = 1;
        st.step(tokens, seq, pos, none, want);
        for (int t = 0; t < kCompareTokens; t++) {
            const int32_t next = int32_t(std::max_element(st.logits.begin(), st.logits.end()) - st.logits.begin());
            tokens.push_back(next);
            if (t + 1 < kCompareTokens) st.step({next}, {0}, {int32_t(tokens.size() - 1)}, {nullptr}, {1});
        }
        fl_context_free(ctx);
    }
    // positions kComparePrompt - 1 ... predict the generated tokens
    const std::vector<float> ref = all_logits(bf16, tokens, threads);
    fl_model_free(bf16);
    fl_model* i8 = load_model(bf16_dir, FL_DTYPE_I8);
    const std::vector<float> got = all_logits(i8, tokens, threads);
    fl_model_free(i8);
    LogitCompare c;
    double diff = 0, norm = 0;
    int same = 0;
    for (int r = kComparePrompt - 1; r < kComparePrompt - 1 + kCompareTokens; r++) {
        const float* a = got.data() + size_t(r) * vocab;
        const float* b = ref.data() + size_t(r) * vocab;
        for (int v = 0; v < vocab; v++) diff += double(a[v] - b[v]) * (a[v] - b[v]), norm += double(b[v]) * b[v];
        same += std::max_element(a, a + vocab) - a == std::max_element(b, b + vocab) - b;
    }
    c.rel_l2 = std::sqrt(diff / norm);
    c.agreement = double(same) / kCompareTokens;
    return c;
}

// The rows bench/engine/llamacpp.sh sets beside llama.cpp's: one model in one weight dtype, timed
// as run_model times them (prefill of kPrompt tokens, best of 5 after a warm-up; decode at a
// kContext-token context, best of 12 after two warm-ups): prefill512, decode_b1_none and
// decode_b16_distinct (16 rows, each with its own adapter of adapters_dir). One line per row:
// "<row> <ms> <tok/s>". decode_only: no prefill512 row; the decode rows alternate step by step for
// kDecodeRounds rounds and each line adds "cpu <ms> <tok/s>", the best in process CPU time.
constexpr int kDecodeRounds = 40;

int rows_main(int threads, const std::string& dir, int32_t weight_dtype, const std::string& adapters_dir,
              bool decode_only) {
    fl_model* model = load_model(dir, weight_dtype);
    fl_model_info in;
    fl_model_get_info(model, &in);
    int max_rank = 0;
    int64_t adapter_bytes = 0;
    int32_t adapter_dtype = 0;
    std::vector<fl_adapter*> adapters =
        load_adapters(model, adapters_dir, FL_ADAPTER_STORAGE_AUTO, &max_rank, &adapter_bytes, &adapter_dtype);
    fl_context_params p = fl_context_default_params();
    p.n_threads = threads;
    p.kv_budget_bytes = kKvBudget;
    p.max_batch_tokens = kPrompt;
    p.max_sequences = kAdapters + 1;
    p.max_lora_rank = max_rank;
    fl_context* ctx = nullptr;
    if (fl_context_create(model, &p, &ctx) != FL_OK) die("fl_context_create");
    Stepper st{ctx, in.vocab_size, {}};
    if (!decode_only) {
        std::vector<int32_t> tok(kPrompt), seq(kPrompt, kPromptSeq), pos(kPrompt);
        std::vector<fl_adapter*> none(kPrompt, nullptr);
        std::vector<int8_t> want(kPrompt, 0);
        want[kPrompt - 1] = 1;
        for (int i = 0; i < kPrompt; i++) tok[i] = (i * 37 + 11) % in.vocab_size, pos[i] = i;
        double best = 1e9;
        for (int rep = 0; rep < 6; rep++) {
            fl_seq_free(ctx, kPromptSeq);
            const double t = st.step(tok, seq, pos, none, want);
            if (rep > 0) best = std::min(best, t);
        }
        fl_seq_free(ctx, kPromptSeq);
        std::printf("prefill512 %.2f %.1f\n", best * 1e3, kPrompt / best);
    }
    for (int s = 0; s < 16; s++) {
        std::vector<int32_t> tok, seq, pos;
        for (int i = 0; i < kContext; i++)
            tok.push_back((s * 131 + i * 7) % in.vocab_size), seq.push_back(s), pos.push_back(i);
        std::vector<fl_adapter*> none(tok.size(), nullptr);
        std::vector<int8_t> want(tok.size(), 0);
        st.step(tok, seq, pos, none, want);
    }
    struct Row {
        const char* name;
        int b;
        std::vector<int32_t> tok, seq, pos;
        std::vector<int8_t> want;
        std::vector<fl_adapter*> ad;
        double best = 1e9, best_cpu = 1e9;
    };
    std::vector<Row> rows;
    for (int b : {1, 16}) {
        Row r{b == 1 ? "decode_b1_none" : "decode_b16_distinct",
              b,
              std::vector<int32_t>(b),
              std::vector<int32_t>(b),
              std::vector<int32_t>(b, kContext),
              std::vector<int8_t>(b, 1),
              std::vector<fl_adapter*>(b, nullptr)};
        for (int i = 0; i < b; i++)
            r.tok[i] = (i * 17 + 5) % in.vocab_size, r.seq[i] = i, r.ad[i] = b > 1 ? adapters[i] : nullptr;
        rows.push_back(r);
    }
    // the full run: each row's 14 steps in turn (best of the last 12); decode_only: the two rows
    // step by step alternately for kDecodeRounds rounds (best of all but the first two), also timed in
    // process CPU time, which preemption on a shared host does not inflate
    auto time_step = [&](Row& r, bool keep) {
        const double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
        const double t = st.step(r.tok, r.seq, r.pos, r.ad, r.want);
        const double c = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (keep) r.best = std::min(r.best, t), r.best_cpu = std::min(r.best_cpu, c);
    };
    if (decode_only) {
        for (int rep = 0; rep < kDecodeRounds; rep++)
            for (Row& r : rows) time_step(r, rep >= 2);
    } else {
        for (Row& r : rows)
            for (int rep = 0; rep < 14; rep++) time_step(r, rep >= 2);
    }
    for (const Row& r : rows) {
        std::printf("%s %.2f %.1f", r.name, r.best * 1e3, r.b / r.best);
        if (decode_only) std::printf(" cpu %.2f %.1f", r.best_cpu * 1e3, r.b / r.best_cpu);
        std::printf("\n");
    }
    fl_context_free(ctx);
    for (auto* a : adapters) fl_adapter_free(a);
    fl_model_free(model);
    return 0;
}

} // namespace

int kv_bench_main(int argc, char** argv);      // engine-bench-kv.cpp
int int4_bench_main(int argc, char** argv);    // engine-bench-int4.cpp
int prefill_bench_main(int argc, char** argv); // engine-bench-prefill.cpp

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "--kv") == 0) return kv_bench_main(argc - 1, argv + 1);
    if (argc > 1 && std::strcmp(argv[1], "--int4") == 0) return int4_bench_main(argc - 1, argv + 1);
    if (argc > 1 && std::strcmp(argv[1], "--prefill-long") == 0) return prefill_bench_main(argc - 1, argv + 1);
    if ((argc == 6 || argc == 7) && std::strcmp(argv[1], "--rows") == 0) {
        const std::string dt = argv[4];
        if (dt != "as_stored" && dt != "int8") {
            std::fprintf(stderr, "engine_bench --rows: weight dtype '%s' is not one of as_stored, int8\n", argv[4]);
            return 2;
        }
        if (argc == 7 && std::strcmp(argv[6], "decode") != 0) {
            std::fprintf(stderr, "engine_bench --rows: '%s' is not 'decode'\n", argv[6]);
            return 2;
        }
        return rows_main(std::atoi(argv[2]), argv[3], dt == "int8" ? FL_DTYPE_I8 : FL_DTYPE_AS_STORED, argv[5],
                         argc == 7);
    }
    if (argc == 4 && std::strcmp(argv[1], "--compare") == 0) {
        const LogitCompare c = compare_int8_to_bf16(argv[3], std::atoi(argv[2]));
        std::printf("int8 vs BF16 logits over %d greedy tokens: relative L2 %.4f, arg-max agreement %.3f\n",
                    kCompareTokens, c.rel_l2, c.agreement);
        std::printf("{\"int8_vs_bf16_rel_l2\": %.5f, \"int8_greedy_agreement\": %.3f}\n", c.rel_l2, c.agreement);
        return 0;
    }
    const bool only_b16 = argc > 1 && std::strcmp(argv[1], "--b16") == 0;
    if (only_b16) argc--, argv++;
    const bool prefill_only = !only_b16 && argc == 6 && std::strcmp(argv[5], "prefill") == 0;
    if (argc != 5 && !prefill_only) {
        std::fprintf(stderr,
                     "usage: engine_bench [--b16] THREADS F32_MODEL_DIR BF16_MODEL_DIR ADAPTERS_DIR [prefill]\n");
        return 2;
    }
    const int threads = std::atoi(argv[1]);
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        std::fprintf(stderr, "engine_bench: the limits are measured with AVX2 + FMA; this CPU lacks them\n");
        return 1;
    }
    const bool has_avx512 = __builtin_cpu_supports("avx512f");
    void (*fma_loop)() = has_avx512 ? fma_loop_f32 : fma_loop_f32_avx2;
    const double fma_flop = has_avx512 ? 32 : 16;
    const bool has_bf16 = __builtin_cpu_supports("avx512bf16");
    // BF16 weights run on AMX tiles (avx512amx), vdpbf16ps (avx512bf16), or widened to F32 FMAs.
    // (fl_engine_isa() also has the engine ask for AMX, which amx_loop_bf16 needs.)
    const std::string isa = fl_engine_isa();
    const char* bf16_rate = isa == "avx512amx" ? "amx_bf16" : isa == "avx512bf16" ? "bf16_dot" : "f32_fma";

    Limits lim;
    lim.read_1t = read_bandwidth(1);
    lim.read = read_bandwidth(threads);
    lim.f32_1t = peak(1, fma_loop, fma_flop);
    lim.f32 = peak(threads, fma_loop, fma_flop);
    lim.f32_cpu = peak_in_cpu_time(fma_loop, fma_flop);
    lim.i8_1t = peak(1, dot_loop_i8, 32);
    lim.i8 = peak(threads, dot_loop_i8, 32);
    lim.i8_cpu = peak_in_cpu_time(dot_loop_i8, 32);
    if (has_bf16) {
        lim.bf16_1t = peak(1, dot_loop_bf16, 64);
        lim.bf16 = peak(threads, dot_loop_bf16, 64);
        lim.bf16_cpu = peak_in_cpu_time(dot_loop_bf16, 64);
    }
    if (isa == "avx512amx") {
        lim.amx_1t = peak(1, amx_loop_bf16, 16384.0 / 64);
        lim.amx = peak(threads, amx_loop_bf16, 16384.0 / 64);
        lim.amx_cpu = peak_in_cpu_time(amx_loop_bf16, 16384.0 / 64);
    }
    const int64_t rss_base = rss_bytes();

    std::vector<ModelRun> runs;
    runs.push_back(run_model(argv[2], FL_DTYPE_AS_STORED, argv[4], threads, lim, bf16_rate, only_b16, prefill_only));
    runs.push_back(run_model(argv[3], FL_DTYPE_AS_STORED, argv[4], threads, lim, bf16_rate, only_b16, prefill_only));
    runs.push_back(run_model(argv[3], FL_DTYPE_I8, argv[4], threads, lim, bf16_rate, only_b16, prefill_only));
    const LogitCompare cmp = only_b16 || prefill_only ? LogitCompare{} : compare_int8_to_bf16(argv[3], threads);

    // table
    std::printf(
        "engine %s, %d threads; limits (%d threads / 1 thread): read %.1f / %.1f GB/s, F32 FMA %.1f / %.1f GFLOP/s "
        "(%s), int8 dot %.1f / %.1f GOP/s, BF16 dot %.1f / %.1f GFLOP/s, AMX BF16 %.1f / %.1f GFLOP/s\n",
        fl_engine_isa(), threads, threads, lim.read, lim.read_1t, lim.f32, lim.f32_1t, has_avx512 ? "zmm" : "ymm",
        lim.i8, lim.i8_1t, lim.bf16, lim.bf16_1t, lim.amx, lim.amx_1t);
    const fl_model_info& mi = runs[0].info;
    std::printf(
        "model: hidden %d, intermediate %d, %d layers, %d/%d heads of %d, vocab %d; %d rank-16 adapters on all 7 "
        "projections; KV budget %lld MiB\n",
        mi.hidden_size, mi.intermediate_size, mi.n_layers, mi.n_heads, mi.n_kv_heads, mi.head_dim, mi.vocab_size,
        kAdapters, (long long)(kKvBudget >> 20));
    std::printf("%-6s %-8s %-24s %10s %10s %12s %6s %9s  (roofline rate)\n", "dtype", "adapters", "row", "ms", "tok/s",
                "roofline ms", "bound", "% roof");
    for (const ModelRun& r : runs)
        for (const Row& w : r.rows)
            std::printf("%-6s %-8s %-24s %10.2f %10.1f %12.2f %6s %8.1f%%  (%s %.0f GFLOP/s)\n", r.dtype.c_str(),
                        w.name == "decode_b16_distinct_f32" ? "F32" : r.adapter_dtype.c_str(), w.name.c_str(),
                        w.seconds * 1e3, w.tokens / w.seconds, w.roofline_seconds * 1e3, w.bw_bound ? "read" : "fma",
                        100 * w.roofline_seconds / w.seconds, r.rate_name.c_str(), r.rate);
    for (const ModelRun& r : runs)
        if (r.prefill_cpu_seconds > 0)
            std::printf(
                "prefill512 %s in CPU time: %.0f ms of process CPU -> %.1f%% of (CPU time x %s %.0f GFLOP/s, 1 thread "
                "in its CPU time)\n",
                r.dtype.c_str(), r.prefill_cpu_seconds * 1e3,
                100 * r.prefill_flops / (r.prefill_cpu_seconds * r.rate_cpu * 1e9), r.rate_name.c_str(), r.rate_cpu);
    if (!prefill_only)
        for (const ModelRun& r : runs) {
            AdapterAccount a = adapter_account(r, lim.read);
            std::printf(
                "b16 distinct %s (%s adapters): %.1f MB of adapters per step beyond the base, %.2f ms per step "
                "beyond it (distinct - none) -> %.1f GB/s implied vs read %.1f GB/s measured; that bandwidth caps "
                "lora16_vs_base_b16 at %.3f (base / (base + bytes / read))\n",
                r.dtype.c_str(), r.adapter_dtype.c_str(), a.bytes / 1e6, a.extra_s * 1e3, a.implied, lim.read, a.cap);
        }
    for (const ModelRun& r : runs)
        std::printf(
            "memory %s: VmRSS %.0f MiB loaded, %.0f MiB after the runs (process alone: %.0f MiB); budget %.0f MiB = "
            "(weights %.0f + KV %.0f + adapters %.0f) x 1.10 -> %s\n",
            r.dtype.c_str(), mib(r.rss_loaded), mib(r.rss_after), mib(rss_base), mib(r.budget),
            mib(r.info.weight_bytes), mib(kKvBudget), mib(r.adapter_bytes),
            std::max(r.rss_loaded, r.rss_after) <= r.budget ? "within" : "OVER");

    if (cmp.agreement > 0)
        std::printf("int8 vs BF16 logits over %d greedy tokens: relative L2 %.4f, arg-max agreement %.3f\n",
                    kCompareTokens, cmp.rel_l2, cmp.agreement);

    // JSON line, last
    std::string j = "{";
    auto num = [&](const std::string& k, double v, int prec = 4) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*f", prec, v);
        j += (j.size() > 1 ? ", \"" : "\"") + k + "\": " + buf;
    };
    auto str = [&](const std::string& k, const std::string& v) {
        j += (j.size() > 1 ? ", \"" : "\"") + k + "\": \"" + v + "\"";
    };
    str("isa", fl_engine_isa());
    num("threads", threads, 0);
    num("read_gb_s", lim.read, 2);
    num("read_gb_s_1t", lim.read_1t, 2);
    num("fma_f32_gflop_s", lim.f32, 1);
    num("fma_f32_gflop_s_1t", lim.f32_1t, 1);
    num("dot_bf16_gflop_s", lim.bf16, 1);
    num("dot_bf16_gflop_s_1t", lim.bf16_1t, 1);
    num("amx_bf16_gflop_s", lim.amx, 1);
    num("amx_bf16_gflop_s_1t", lim.amx_1t, 1);
    num("dot_i8_gop_s", lim.i8, 1);
    num("dot_i8_gop_s_1t", lim.i8_1t, 1);
    str("bf16_roofline_rate", runs[1].rate_name);
    num("weight_bytes_f32", double(runs[0].info.weight_bytes), 0);
    num("weight_bytes_bf16", double(runs[1].info.weight_bytes), 0);
    num("weight_bytes_int8", double(runs[2].info.weight_bytes), 0);
    if (cmp.agreement > 0) {
        num("int8_vs_bf16_rel_l2", cmp.rel_l2, 5);
        num("int8_greedy_agreement", cmp.agreement, 3);
    }
    for (const ModelRun& r : runs) {
        const std::string sfx = r.dtype == "F32" ? "" : r.dtype == "INT8" ? "_int8" : "_bf16";
        if (r.prefill_cpu_seconds > 0)
            num("prefill512_cpu_roofline" + sfx, r.prefill_flops / (r.prefill_cpu_seconds * r.rate_cpu * 1e9), 3);
        for (const Row& w : r.rows) {
            std::string key = w.name;
            if (key.rfind("_none") == key.size() - 5) key = key.substr(0, key.size() - 5); // the base rows: decode_b16
            num(key + "_tok_s" + sfx, w.tokens / w.seconds, 1);
            num(key + "_roofline" + sfx, w.roofline_seconds / w.seconds, 3);
        }
        if (prefill_only) continue;
        double base16 = r.row("decode_b16_none").seconds;
        num("lora16_vs_base_b16" + sfx, base16 / r.row("decode_b16_distinct").seconds, 3);
        num("lora_shared_vs_base_b16" + sfx, base16 / r.row("decode_b16_shared").seconds, 3);
        const AdapterAccount acct = adapter_account(r, lim.read);
        num("lora16_adapter_bytes_b16" + sfx, acct.bytes, 0);
        num("lora16_extra_ms_b16" + sfx, acct.extra_s * 1e3, 2);
        num("lora16_implied_gb_s_b16" + sfx, acct.implied, 2);
        num("lora16_bandwidth_cap_b16" + sfx, acct.cap, 3);
        str("adapter_dtype" + sfx, r.adapter_dtype);
        if (r.adapter_dtype != "F32")
            num("lora16_f32_adapters_vs_base_b16" + sfx, base16 / r.row("decode_b16_distinct_f32").seconds, 3);
        num("rss_mib" + sfx, mib(std::max(r.rss_loaded, r.rss_after)), 0);
        num("rss_budget_mib" + sfx, mib(r.budget), 0);
        j += std::string(", \"rss_within_budget") + sfx +
             "\": " + (std::max(r.rss_loaded, r.rss_after) <= r.budget ? "true" : "false");
    }
    j += "}";
    std::printf("%s\n", j.c_str());
    return 0;
}
