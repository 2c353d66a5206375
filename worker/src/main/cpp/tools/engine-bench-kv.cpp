// engine-bench-kv - `engine_bench --kv`: decode with a BF16 KV cache against an F32 one, in one run.
//
// Usage: engine_bench --kv THREADS MODEL_DIR [CONTEXT=2048] [BATCH=32]
//   Two contexts on one model, the same KV budget (what BATCH sequences of CONTEXT positions need in
//   F32): kv_dtype F32 and BF16. Each gets BATCH sequences of CONTEXT - 1 prompt positions
//   (prefilled in chunks), then decode steps of BATCH rows at position CONTEXT - 1 (each row attends
//   CONTEXT positions), the position rewritten each step so that every step does the same work.
//   The two contexts' steps alternate (one of each per round, best of 12 after 2 warm-up rounds),
//   so a swing in the host's share of the cores hits both alike.
//   Each step is also timed in process CPU time (best of the same rounds): on a shared host the wall
//   clock of a step swings with the share of the cores other processes take, its CPU time much less
//   (the pool's spinning counts in it).
//   Then the attention kernel alone (the engine's attend, one thread, CPU time, best of 3): one
//   layer's decode attention of the same shape, BATCH sequences x KV heads calls of a GQA group's
//   queries over CONTEXT positions, from caches of either dtype laid out as the engine's
//   (kv_attend_bf16_vs_f32...): what the step's other work dilutes.
//   Prints the rows, then one JSON line: kv_bf16_vs_f32_b{BATCH}_ctx{CONTEXT} (BF16 tok/s over F32
//   tok/s), the same ratio in CPU time (kv_bf16_vs_f32_cpu_...), both tok/s, the KV bytes each step
//   reads, and how many CONTEXT-position sequences the budget holds in each dtype.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <time.h>

#include "flotilla_engine.h"
#include "kernels/kernels.h"
#include "tensor.h"

namespace {

double seconds_now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double process_cpu_seconds() {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

[[noreturn]] void fail_with(const char* what) {
    std::fprintf(stderr, "engine_bench --kv: %s: %s\n", what, fl_last_error());
    std::exit(1);
}

struct KvRun {
    const char* name; // "F32", "BF16"
    fl_context* ctx = nullptr;
    fl_kv_stats stats{};
    double best = 1e9;     // seconds per decode step
    double best_cpu = 1e9; // process CPU seconds per decode step
    double prefill_s = 0;  // filling the contexts
};

double step(fl_context* ctx, std::vector<int32_t>& tok, std::vector<int32_t>& seq, std::vector<int32_t>& pos,
            std::vector<int8_t>& want, std::vector<float>& logits) {
    fl_batch b{int32_t(tok.size()),   tok.data(), seq.data(), pos.data(), nullptr, want.data(), logits.data(),
               int64_t(logits.size())};
    double t0 = seconds_now();
    if (fl_decode(ctx, &b) != FL_OK) fail_with("fl_decode");
    return seconds_now() - t0;
}

// CPU seconds of one layer's decode attention: batch sequences x n_kv heads attend calls of group
// queries over context positions; K and V rows of kv_dim values in the dtype, one row per position.
double attend_layer_seconds(fl::DType dt, int batch, int context, int n_kv, int group, int hd) {
    const fl::kern::Kernels& k = fl::kern::active();
    const size_t kv_dim = size_t(n_kv) * hd, rows = size_t(batch) * context, es = fl::dtype_size(dt);
    fl::Buffer K(rows * kv_dim * es), V(rows * kv_dim * es); // zeros: the time does not depend on values
    std::vector<float> q(size_t(group) * hd, 0.01f), out(size_t(group) * hd);
    std::vector<const float*> qs(group);
    std::vector<float*> outs(group);
    std::vector<int> lo(group, 0), hi(group, context);
    for (int r = 0; r < group; r++) qs[r] = &q[size_t(r) * hd], outs[r] = &out[size_t(r) * hd];
    fl::Buffer scratch(fl::kern::attend_scratch_floats(context, hd) * 4);
    std::vector<const void*> kp(context), vp(context);
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        const double c0 = process_cpu_seconds();
        for (int s = 0; s < batch; s++)
            for (int g = 0; g < n_kv; g++) {
                for (int j = 0; j < context; j++) {
                    const size_t off = ((size_t(s) * context + j) * kv_dim + size_t(g) * hd) * es;
                    kp[j] = K.as<char>() + off, vp[j] = V.as<char>() + off;
                }
                k.attend(dt, group, hd, qs.data(), kp.data(), vp.data(), context, lo.data(), hi.data(), 0.125f,
                         outs.data(), scratch.as<float>());
            }
        best = std::min(best, process_cpu_seconds() - c0);
    }
    return best;
}

} // namespace

int kv_bench_main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: engine_bench --kv THREADS MODEL_DIR [CONTEXT=2048] [BATCH=32]\n");
        return 2;
    }
    const int threads = std::atoi(argv[1]);
    const std::string dir = argv[2];
    const int context = argc > 3 ? std::atoi(argv[3]) : 2048;
    const int batch = argc > 4 ? std::atoi(argv[4]) : 32;
    constexpr int kChunk = 512, kBlock = 16;

    fl_model* model = nullptr;
    if (fl_model_load(dir.c_str(), nullptr, &model) != FL_OK) fail_with("fl_model_load");
    fl_model_info in;
    fl_model_get_info(model, &in);
    if (context > in.max_position_embeddings) {
        std::fprintf(stderr, "engine_bench --kv: context %d is beyond the model's %d positions\n", context,
                     in.max_position_embeddings);
        return 1;
    }
    const int64_t kv_dim = int64_t(in.n_kv_heads) * in.head_dim;
    const int64_t f32_block = int64_t(in.n_layers) * 2 * kBlock * kv_dim * 4;
    const int64_t budget = int64_t(batch) * ((context + kBlock - 1) / kBlock) * f32_block;

    KvRun runs[2] = {{"F32"}, {"BF16"}};
    const int32_t dtypes[2] = {FL_DTYPE_F32, FL_DTYPE_BF16};
    std::vector<float> logits(size_t(std::max(batch, 1)) * in.vocab_size);
    for (int r = 0; r < 2; r++) {
        fl_context_params p = fl_context_default_params();
        p.n_threads = threads;
        p.kv_block_size = kBlock;
        p.kv_budget_bytes = budget;
        p.max_batch_tokens = std::max(kChunk, batch);
        p.max_sequences = batch;
        p.kv_dtype = dtypes[r];
        if (fl_context_create(model, &p, &runs[r].ctx) != FL_OK) fail_with("fl_context_create");
        fl_context_kv_stats(runs[r].ctx, &runs[r].stats);
        // prompts: CONTEXT - 1 positions per sequence, in chunks of kChunk rows
        double t0 = seconds_now();
        for (int s = 0; s < batch; s++)
            for (int p0 = 0; p0 < context - 1; p0 += kChunk) {
                const int n = std::min(kChunk, context - 1 - p0);
                std::vector<int32_t> tok(n), seq(n, s), pos(n);
                std::vector<int8_t> want(n, 0);
                for (int i = 0; i < n; i++) tok[i] = (s * 131 + (p0 + i) * 7) % in.vocab_size, pos[i] = p0 + i;
                want[n - 1] = 1;
                step(runs[r].ctx, tok, seq, pos, want, logits);
            }
        runs[r].prefill_s = seconds_now() - t0;
    }
    std::vector<int32_t> tok(batch), seq(batch), pos(batch, context - 1);
    std::vector<int8_t> want(batch, 1);
    for (int i = 0; i < batch; i++) tok[i] = (i * 17 + 5) % in.vocab_size, seq[i] = i;
    for (int round = 0; round < 14; round++)
        for (KvRun& r : runs) {
            const double c0 = process_cpu_seconds();
            const double t = step(r.ctx, tok, seq, pos, want, logits);
            const double c = process_cpu_seconds() - c0;
            if (round >= 2) r.best = std::min(r.best, t), r.best_cpu = std::min(r.best_cpu, c);
        }

    double attend_s[2] = {0, 0};
    const int group = in.n_heads / in.n_kv_heads;
    if (fl::kern::active().attend && group <= fl::kern::kAttendQueries)
        for (int r = 0; r < 2; r++)
            attend_s[r] = attend_layer_seconds(r == 0 ? fl::DType::F32 : fl::DType::BF16, batch, context, in.n_kv_heads,
                                               group, in.head_dim);

    // K and V of every layer for every row's CONTEXT positions
    auto kv_read = [&](int elem) { return double(batch) * context * in.n_layers * 2 * kv_dim * elem; };
    std::printf("engine %s, %d threads; model: hidden %d, intermediate %d, %d layers, %d/%d heads of %d, vocab %d, "
                "weights %s %.0f MiB\n",
                fl_engine_isa(), threads, in.hidden_size, in.intermediate_size, in.n_layers, in.n_heads, in.n_kv_heads,
                in.head_dim, in.vocab_size, in.weight_dtype == FL_DTYPE_F32 ? "F32" : "BF16",
                in.weight_bytes / 1048576.0);
    std::printf("KV budget %.0f MiB for both; decode of %d rows at a %d-position context\n", budget / 1048576.0, batch,
                context);
    std::printf("%-5s %10s %10s %12s %14s %12s %12s %12s\n", "kv", "ms/step", "tok/s", "CPU ms/step", "KV MB/step",
                "blocks", "sequences", "fill s");
    for (const KvRun& r : runs) {
        const int elem = r.name[0] == 'F' ? 4 : 2;
        std::printf("%-5s %10.2f %10.1f %12.2f %14.1f %12d %12lld %12.1f\n", r.name, r.best * 1e3, batch / r.best,
                    r.best_cpu * 1e3, kv_read(elem) / 1e6, r.stats.total_blocks,
                    (long long)(int64_t(r.stats.total_blocks) / ((context + kBlock - 1) / kBlock)), r.prefill_s);
    }
    if (attend_s[0] > 0)
        std::printf("attend alone, one layer, 1 thread: F32 %.1f ms, BF16 %.1f ms of CPU -> %.3f\n", attend_s[0] * 1e3,
                    attend_s[1] * 1e3, attend_s[0] / attend_s[1]);
    const std::string sfx = "_b" + std::to_string(batch) + "_ctx" + std::to_string(context);
    const int64_t blocks_per_seq = (context + kBlock - 1) / kBlock;
    std::printf("{\"isa\": \"%s\", \"threads\": %d, \"kv_bf16_vs_f32%s\": %.3f, \"kv_bf16_vs_f32_cpu%s\": %.3f, "
                "\"decode%s_tok_s_kv_f32\": %.1f, "
                "\"decode%s_tok_s_kv_bf16\": %.1f, \"kv_budget_bytes%s\": %lld, \"kv_sequences%s_f32\": %lld, "
                "\"kv_sequences%s_bf16\": %lld, \"kv_attend_bf16_vs_f32%s\": %.3f, \"kv_model_layers\": %d, "
                "\"kv_model_hidden\": %d}\n",
                fl_engine_isa(), threads, sfx.c_str(), runs[0].best / runs[1].best, sfx.c_str(),
                runs[0].best_cpu / runs[1].best_cpu, sfx.c_str(), batch / runs[0].best, sfx.c_str(),
                batch / runs[1].best, sfx.c_str(), (long long)budget, sfx.c_str(),
                (long long)(runs[0].stats.total_blocks / blocks_per_seq), sfx.c_str(),
                (long long)(runs[1].stats.total_blocks / blocks_per_seq), sfx.c_str(),
                attend_s[1] > 0 ? attend_s[0] / attend_s[1] : 0.0, in.n_layers, in.hidden_size);
    for (KvRun& r : runs) fl_context_free(r.ctx);
    fl_model_free(model);
    return 0;
}
