// engine-bench - engine throughput against the machine's measured limits, in one run.
//
// Measures the roofline first (read bandwidth and F32 FMA peak, each with 1 and with N threads at
// once; the roofline uses the N-thread figures), then on a
// random Llama-shaped F32 model written to a temp dir: batch-1 decode, batch-16 decode, prefill
// of a 512-token prompt, and batch-16 decode with 16 distinct rank-16 adapters on all seven
// projections. Prints one JSON object. Usage: engine_bench [threads] [hidden] [intermediate] [layers]
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "flotilla_engine.h"
#include "test-model.h"

using namespace fltest;
using Clock = std::chrono::steady_clock;

namespace {

double now() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

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
    fl::Buffer storage(n * 4); // 64-byte aligned
    std::fill(storage.as<float>(), storage.as<float>() + n, 1.0f); // non-zero pages, touched
    const float* buf = storage.as<float>();
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
    return best;
}

// F32 FMA loop of one thread (AVX-512: 16 independent zmm accumulators); returns seconds.
__attribute__((target("avx512f"))) double fma_loop_avx512(long iters) {
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps(float(i));
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
    double t0 = now();
    for (long k = 0; k < iters; k++)
        for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    double dt = now() - t0;
    float s = 0;
    for (int i = 0; i < 16; i++) s += _mm512_reduce_add_ps(acc[i]);
    if (s == 12345) std::printf(" ");
    return dt;
}

// F32 FMA peak of `threads` threads running at once, GFLOP/s in total (the engine's thread count:
// on a shared host two threads do not always get two cores' worth); best of 5.
double fma_peak_avx512(int threads) {
    const long iters = 50000000;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; t++) ts.emplace_back([&] { fma_loop_avx512(iters); });
        for (auto& t : ts) t.join();
        best = std::max(best, threads * iters * 16.0 * 16 * 2 / (now() - t0) / 1e9);
    }
    return best;
}

struct Bench {
    fl_context* ctx;
    int vocab;
    std::vector<float> logits;

    double step(const std::vector<int32_t>& tok, const std::vector<int32_t>& seq, const std::vector<int32_t>& pos,
                const std::vector<fl_adapter*>& ad, const std::vector<int8_t>& want) {
        int n_out = 0;
        for (int8_t w : want) n_out += w;
        logits.resize(size_t(std::max(n_out, 1)) * vocab);
        fl_batch b{int32_t(tok.size()), tok.data(), seq.data(), pos.data(), ad.data(), want.data(), logits.data(),
                   int64_t(logits.size())};
        double t0 = now();
        if (fl_decode(ctx, &b) != FL_OK) {
            std::fprintf(stderr, "decode failed: %s\n", fl_last_error());
            std::exit(1);
        }
        return now() - t0;
    }
};

} // namespace

int main(int argc, char** argv) {
    int threads = argc > 1 ? std::atoi(argv[1]) : 2;
    ModelSpec s;
    s.hidden = argc > 2 ? std::atoi(argv[2]) : 2048;
    s.inter = argc > 3 ? std::atoi(argv[3]) : 5632;
    s.layers = argc > 4 ? std::atoi(argv[4]) : 2;
    s.heads = s.hidden / 64;
    s.kv_heads = std::max(1, s.heads / 8);
    s.vocab = 8000;
    s.max_pos = 4096;
    s.tie = false;

    double bw1 = read_bandwidth(1), bwn = read_bandwidth(threads);
    const bool avx512 = __builtin_cpu_supports("avx512f");
    double peak1 = avx512 ? fma_peak_avx512(1) : 0;
    double peakn = avx512 ? fma_peak_avx512(threads) : 0;

    TempDir tmp;
    TestModel m = make_model(s, 1);
    write_model(m, tmp.path);
    std::vector<fl_adapter*> adapters;
    for (int i = 0; i < 16; i++) {
        std::string d = tmp.sub("lora" + std::to_string(i));
        write_adapter(m, make_adapter(m, 16, 32, {true, true, true, true, true, true, true}, 100 + i), d);
    }
    fl_model* model = nullptr;
    if (fl_model_load(tmp.path.c_str(), &model) != FL_OK) {
        std::fprintf(stderr, "%s\n", fl_last_error());
        return 1;
    }
    for (int i = 0; i < 16; i++) {
        fl_adapter* a = nullptr;
        fl_adapter_load(model, (tmp.path + "/lora" + std::to_string(i)).c_str(), &a);
        adapters.push_back(a);
    }
    fl_model_info info;
    fl_model_get_info(model, &info);
    fl_context_params p = fl_context_default_params();
    p.n_threads = threads;
    p.kv_budget_bytes = 1ll << 30;
    p.max_batch_tokens = 512;
    p.max_sequences = 64;
    p.max_lora_rank = 16;
    fl_context* ctx = nullptr;
    if (fl_context_create(model, &p, &ctx) != FL_OK) {
        std::fprintf(stderr, "%s\n", fl_last_error());
        return 1;
    }
    Bench b{ctx, s.vocab, {}};
    const double weight_bytes = double(info.weight_bytes);
    const double params = weight_bytes / 4; // F32
    const double flops_per_token = 2 * params;

    // prefill 512 tokens, sequence 0 (best of 5, after one warm-up: the host's share of the cores
    // swings within seconds, and the limits above are best-of figures too)
    std::vector<int32_t> tok(512), seq(512, 0), pos(512);
    std::vector<fl_adapter*> none(512, nullptr);
    std::vector<int8_t> want(512, 0);
    want[511] = 1;
    for (int i = 0; i < 512; i++) tok[i] = i % s.vocab, pos[i] = i;
    double prefill = 1e9;
    for (int rep = 0; rep < 6; rep++) {
        fl_seq_free(ctx, 0);
        double t = b.step(tok, seq, pos, none, want);
        if (rep > 0) prefill = std::min(prefill, t);
    }

    // decode steps for 16 sequences each with a 64-token context
    for (int sq = 0; sq < 16; sq++) {
        std::vector<int32_t> t(64, 1), sv(64, sq), ps(64);
        for (int i = 0; i < 64; i++) ps[i] = i;
        std::vector<fl_adapter*> ad(64, nullptr);
        std::vector<int8_t> w(64, 0);
        b.step(t, sv, ps, ad, w);
    }
    auto decode = [&](int batch, bool lora, int steps) {
        double best = 1e9;
        for (int st = 0; st < steps; st++) {
            std::vector<int32_t> t(batch, 3), sv(batch), ps(batch);
            std::vector<fl_adapter*> ad(batch);
            std::vector<int8_t> w(batch, 1);
            for (int i = 0; i < batch; i++) {
                sv[i] = i;
                ps[i] = 63;
                ad[i] = lora ? adapters[i] : nullptr;
            }
            best = std::min(best, b.step(t, sv, ps, ad, w)); // rewrites position 63: same work each step
        }
        return best;
    };
    double d1 = decode(1, false, 20), d16 = decode(16, false, 20), d16l = decode(16, true, 20);

    double bw_roof_1 = weight_bytes / (bwn * 1e9);
    double flop_roof_16 = 16 * flops_per_token / (peakn * 1e9);
    double roof_16 = std::max(bw_roof_1, flop_roof_16);
    double prefill_roof = 512 * flops_per_token / (peakn * 1e9);
    std::printf("{\n");
    std::printf("  \"isa\": \"%s\", \"threads\": %d,\n", fl_engine_isa(), threads);
    std::printf("  \"model\": {\"hidden\": %d, \"intermediate\": %d, \"layers\": %d, \"vocab\": %d, \"dtype\": \"F32\", \"weight_bytes\": %.0f},\n",
                s.hidden, s.inter, s.layers, s.vocab, weight_bytes);
    std::printf("  \"roofline\": {\"read_gb_s_1t\": %.1f, \"read_gb_s\": %.1f, \"fma_gflop_s_1t\": %.1f, \"fma_gflop_s\": %.1f},\n", bw1, bwn, peak1, peakn);
    std::printf("  \"decode_b1\": {\"ms\": %.3f, \"gb_s\": %.1f, \"pct_roofline\": %.1f},\n", d1 * 1e3, weight_bytes / d1 / 1e9,
                100 * bw_roof_1 / d1);
    std::printf("  \"decode_b16\": {\"ms\": %.3f, \"tok_s\": %.1f, \"pct_roofline\": %.1f},\n", d16 * 1e3, 16 / d16, 100 * roof_16 / d16);
    std::printf("  \"prefill_512\": {\"ms\": %.1f, \"gflop_s\": %.1f, \"pct_fma_roofline\": %.1f},\n", prefill * 1e3,
                512 * flops_per_token / prefill / 1e9, 100 * prefill_roof / prefill);
    std::printf("  \"decode_b16_16_lora_r16\": {\"ms\": %.3f, \"pct_of_no_adapter\": %.1f}\n", d16l * 1e3, 100 * d16 / d16l);
    std::printf("}\n");
    for (auto* a : adapters) fl_adapter_free(a);
    fl_context_free(ctx);
    fl_model_free(model);
    return 0;
}
