// engine-bench-prefill - `engine_bench --prefill-long`: the prefill rate against the prompt length.
//
// Usage: engine_bench --prefill-long THREADS MODEL_DIR [ROUNDS=2] [LENGTHS=512,2048,4000]
//   One context on the model's weights as stored, with the default BF16 KV cache, and the worker's
//   default step size: a prompt of L tokens is prefilled in chunks of 512 rows (max_batch_tokens),
//   logits for its last row only, into a fresh sequence. Per chunk the projections cost the same
//   whatever L is; attention grows with the positions already cached, so the rate at L over the
//   rate at 512 (prefill{L}_vs_512) is what attention costs long prompts.
//   The lengths alternate (one prefill of each per round, best of ROUNDS), so a swing in the host's
//   share of the cores hits all of them alike. Each prefill is also timed in process CPU time (the
//   pool's spinning counts in it), which moves less with the host's load than the wall clock.
//   Prints a row per length, then one JSON line: prefill{L}_tok_s_long, prefill{L}_cpu_tok_s_long,
//   prefill{L}_vs_512 (wall clock) and prefill{L}_vs_512_cpu.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "flotilla_engine.h"

namespace {

double wall_now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double process_cpu_now() {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

[[noreturn]] void fail_prefill(const char* what) {
    std::fprintf(stderr, "engine_bench --prefill-long: %s: %s\n", what, fl_last_error());
    std::exit(1);
}

constexpr int kChunk = 512; // the engine's default max_batch_tokens: the worker's prefill step

struct Length {
    int tokens;
    double best = 1e9, best_cpu = 1e9; // seconds
};

// Prefills `tokens` positions of sequence 0 (freed first) in chunks of kChunk; wall and CPU seconds.
void prefill(fl_context* ctx, int vocab, int tokens, double* wall, double* cpu) {
    fl_seq_free(ctx, 0);
    std::vector<float> logits(vocab);
    const double w0 = wall_now(), c0 = process_cpu_now();
    for (int p0 = 0; p0 < tokens; p0 += kChunk) {
        const int n = std::min(kChunk, tokens - p0);
        std::vector<int32_t> tok(n), seq(n, 0), pos(n);
        std::vector<int8_t> want(n, 0);
        for (int i = 0; i < n; i++) tok[i] = ((p0 + i) * 37 + 11) % vocab, pos[i] = p0 + i;
        want[n - 1] = p0 + n == tokens;
        fl_batch b{
            n,       tok.data(), seq.data(), pos.data(), nullptr, want.data(), logits.data(), int64_t(logits.size()),
            nullptr, nullptr,    0};
        if (fl_decode(ctx, &b) != FL_OK) fail_prefill("fl_decode");
    }
    *wall = wall_now() - w0;
    *cpu = process_cpu_now() - c0;
}

} // namespace

int prefill_bench_main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: engine_bench --prefill-long THREADS MODEL_DIR [ROUNDS=2] [LENGTHS=512,2048,4000]\n");
        return 2;
    }
    const int threads = std::atoi(argv[1]);
    const std::string dir = argv[2];
    const int rounds = argc > 3 ? std::max(1, std::atoi(argv[3])) : 2;
    std::vector<Length> lengths;
    {
        std::string list = argc > 4 ? argv[4] : "512,2048,4000";
        for (size_t at = 0; at < list.size();) {
            size_t end = list.find(',', at);
            if (end == std::string::npos) end = list.size();
            lengths.push_back({std::atoi(list.substr(at, end - at).c_str())});
            at = end + 1;
        }
    }
    if (lengths.empty() || lengths[0].tokens != 512) {
        std::fprintf(stderr, "engine_bench --prefill-long: the lengths start with 512 (the ratios' base)\n");
        return 2;
    }

    fl_model* model = nullptr;
    if (fl_model_load(dir.c_str(), nullptr, &model) != FL_OK) fail_prefill("fl_model_load");
    fl_model_info in;
    fl_model_get_info(model, &in);
    int longest = 0;
    for (const Length& l : lengths) longest = std::max(longest, l.tokens);
    if (longest > in.max_position_embeddings) {
        std::fprintf(stderr, "engine_bench --prefill-long: %d tokens are beyond the model's %d positions\n", longest,
                     in.max_position_embeddings);
        return 1;
    }
    fl_context_params p = fl_context_default_params(); // BF16 KV, max_batch_tokens 512
    p.n_threads = threads;
    p.max_sequences = 1;
    p.kv_budget_bytes = int64_t(in.n_layers) * 2 * in.n_kv_heads * in.head_dim * 2 * (longest + 64) + (1 << 20);
    fl_context* ctx = nullptr;
    if (fl_context_create(model, &p, &ctx) != FL_OK) fail_prefill("fl_context_create");

    double wall = 0, cpu = 0;
    prefill(ctx, in.vocab_size, lengths[0].tokens, &wall, &cpu); // warm-up
    for (int r = 0; r < rounds; r++)
        for (Length& l : lengths) {
            prefill(ctx, in.vocab_size, l.tokens, &wall, &cpu);
            l.best = std::min(l.best, wall), l.best_cpu = std::min(l.best_cpu, cpu);
        }

    std::printf("engine %s, %d threads; model: hidden %d, intermediate %d, %d layers, %d/%d heads of %d, vocab %d, "
                "weights %s; KV BF16; prefill in chunks of %d rows, best of %d rounds\n",
                fl_engine_isa(), threads, in.hidden_size, in.intermediate_size, in.n_layers, in.n_heads, in.n_kv_heads,
                in.head_dim, in.vocab_size, in.weight_dtype == FL_DTYPE_F32 ? "F32" : "BF16", kChunk, rounds);
    std::printf("%-8s %10s %10s %12s %12s %10s %10s\n", "tokens", "s", "tok/s", "CPU s", "CPU tok/s", "vs 512",
                "CPU vs 512");
    const Length& base = lengths[0];
    std::string json = "{\"isa\": \"" + std::string(fl_engine_isa()) + "\", \"threads\": " + std::to_string(threads);
    auto num = [&](const std::string& k, double v, int prec) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*f", prec, v);
        json += ", \"" + k + "\": " + buf;
    };
    for (const Length& l : lengths) {
        const double rate = l.tokens / l.best, rate_cpu = l.tokens / l.best_cpu;
        const double vs = rate / (base.tokens / base.best), vs_cpu = rate_cpu / (base.tokens / base.best_cpu);
        std::printf("%-8d %10.2f %10.1f %12.2f %12.1f %10.3f %10.3f\n", l.tokens, l.best, rate, l.best_cpu, rate_cpu,
                    vs, vs_cpu);
        const std::string t = std::to_string(l.tokens);
        num("prefill" + t + "_tok_s_long", rate, 1);
        num("prefill" + t + "_cpu_tok_s_long", rate_cpu, 1);
        if (&l != &base) {
            num("prefill" + t + "_vs_512", vs, 3);
            num("prefill" + t + "_vs_512_cpu", vs_cpu, 3);
        }
    }
    std::printf("%s}\n", json.c_str());
    fl_context_free(ctx);
    fl_model_free(model);
    return 0;
}
