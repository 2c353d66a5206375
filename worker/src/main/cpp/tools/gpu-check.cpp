// gpu-check.cpp - the engine's side of bench/gpu/run.sh, run on a machine with an NVIDIA GPU (and
// usable on the CPU with device "cpu" for the model modes). Prints one JSON object per line.
//
//   gpu-check devices                          the devices and why there are none
//   gpu-check kernels                          every CUDA kernel against a host reference, stated
//                                              tolerances, fresh seeded inputs per case
//   gpu-check logits DEV MODEL OUT TOKENS [ADAPTER]
//                                              prefill TOKENS (a file of int32) in chunks, write the
//                                              last row's logits (f32) to OUT; load time and rate
//   gpu-check mixed DEV MODEL ADAPTERS_DIR N STEPS
//                                              N rows with adapters lora0..lora{N-1}: greedy tokens
//                                              alone vs. all N in one batch
//   gpu-check decode DEV MODEL ADAPTERS_DIR STEPS CONTEXT BATCH:MODE...
//                                              decode throughput per case, MODE none | shared |
//                                              distinct (row i: adapter lora{i % 64})
//   gpu-check prefill DEV MODEL TOKENS         prefill throughput of one prompt of TOKENS tokens
//   gpu-check compare MODEL TOKENS [ADAPTER]   the last row's logits on cuda:0 against the CPU
//                                              engine on the same files (rel L2), and every
//                                              prompt prefix's greedy token, chunked as a server
//                                              would (64 rows per step)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "flotilla_engine.h"

#ifdef FLOTILLA_WITH_CUDA
#include <cuda_runtime_api.h>

#include "cuda/kernels.h"
#include "tensor.h"
#endif

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

[[noreturn]] void die(const char* what) {
    std::printf("{\"error\": \"%s: %s\"}\n", what, fl_last_error());
    std::exit(1);
}

// --- model modes (public C API) --------------------------------------------------------------

struct Engine {
    fl_model* model = nullptr;
    fl_context* ctx = nullptr;
    fl_model_info info{};
    double load_s = 0;
    std::vector<fl_adapter*> adapters;

    Engine(const std::string& dev, const std::string& dir, int max_batch, int max_seqs, int64_t kv_bytes) {
        fl_model_params mp = fl_model_default_params();
        mp.device = dev.c_str();
        auto t = Clock::now();
        if (fl_model_load(dir.c_str(), &mp, &model) != FL_OK) die("fl_model_load");
        load_s = since(t);
        fl_model_get_info(model, &info);
        fl_context_params p = fl_context_default_params();
        p.max_batch_tokens = max_batch;
        p.max_sequences = max_seqs;
        p.kv_budget_bytes = kv_bytes;
        p.max_lora_rank = 64;
        if (fl_context_create(model, &p, &ctx) != FL_OK) die("fl_context_create");
    }
    ~Engine() {
        for (fl_adapter* a : adapters) fl_adapter_free(a);
        fl_context_free(ctx);
        fl_model_free(model);
    }
    fl_adapter* adapter(const std::string& dir) {
        fl_adapter* a = nullptr;
        if (fl_adapter_load(model, dir.c_str(), nullptr, &a) != FL_OK) die("fl_adapter_load");
        adapters.push_back(a);
        return a;
    }
};

std::vector<int32_t> read_tokens(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<char> raw((std::istreambuf_iterator<char>(f)), {});
    std::vector<int32_t> t(raw.size() / 4);
    std::memcpy(t.data(), raw.data(), t.size() * 4);
    return t;
}

// Prefills tokens of sequence seq in chunks of `chunk`; logits of the last row to out (if set).
void prefill(Engine& e, int seq, const std::vector<int32_t>& tokens, fl_adapter* a, int chunk, float* out) {
    const int n = static_cast<int>(tokens.size());
    std::vector<int32_t> s(chunk, seq), pos(chunk);
    std::vector<fl_adapter*> ad(chunk, a);
    std::vector<float> scratch(e.info.vocab_size);
    for (int r0 = 0; r0 < n; r0 += chunk) {
        const int m = std::min(chunk, n - r0);
        for (int i = 0; i < m; i++) pos[i] = r0 + i;
        fl_batch b{m,       tokens.data() + r0,         s.data(),          pos.data(), ad.data(),
                   nullptr, out ? out : scratch.data(), e.info.vocab_size, nullptr,    nullptr,
                   0};
        if (fl_decode(e.ctx, &b) != FL_OK) die("fl_decode (prefill)");
    }
}

int argmax(const float* x, int n) { return int(std::max_element(x, x + n) - x); }

int mode_logits(int argc, char** argv) {
    if (argc < 6) return 2;
    std::vector<int32_t> tokens = read_tokens(argv[5]);
    Engine e(argv[2], argv[3], 512, 4, int64_t(2) << 30);
    fl_adapter* a = argc > 6 ? e.adapter(argv[6]) : nullptr;
    std::vector<float> logits(e.info.vocab_size);
    auto t = Clock::now();
    prefill(e, 0, tokens, a, 512, logits.data());
    const double s = since(t);
    std::ofstream(argv[4], std::ios::binary).write(reinterpret_cast<const char*>(logits.data()), logits.size() * 4);
    std::printf("{\"mode\": \"logits\", \"tokens\": %zu, \"seconds\": %.4f, \"load_seconds\": %.3f, "
                "\"weight_bytes\": %lld, \"load_gb_s\": %.2f}\n",
                tokens.size(), s, e.load_s, (long long)e.info.weight_bytes, e.info.weight_bytes / 1e9 / e.load_s);
    return 0;
}

// N sequences, sequence i with adapter lora{i}: a 16-token prompt, then STEPS greedy tokens, alone
// and all in one batch; every row must give the tokens it gives alone.
int mode_mixed(int argc, char** argv) {
    if (argc < 7) return 2;
    const int n = std::atoi(argv[5]), steps = std::atoi(argv[6]);
    Engine e(argv[2], argv[3], std::max(512, n * 16), n + 1, int64_t(4) << 30);
    std::vector<fl_adapter*> ads;
    for (int i = 0; i < n; i++) ads.push_back(e.adapter(std::string(argv[4]) + "/lora" + std::to_string(i)));
    const int V = e.info.vocab_size, P = 16;
    auto prompt = [&](int i) {
        std::vector<int32_t> t(P);
        for (int j = 0; j < P; j++) t[j] = (i * 7919 + j * 104729 + 13) % V;
        return t;
    };
    std::vector<std::vector<int32_t>> solo(n), batched(n);
    std::vector<float> logits(size_t(n) * V);
    for (int i = 0; i < n; i++) { // alone
        prefill(e, i, prompt(i), ads[i], 512, logits.data());
        int tok = argmax(logits.data(), V);
        for (int s = 0; s < steps; s++) {
            solo[i].push_back(tok);
            int32_t seq = i, pos = P + s;
            fl_adapter* a = ads[i];
            fl_batch b{1, &tok, &seq, &pos, &a, nullptr, logits.data(), V, nullptr, nullptr, 0};
            if (fl_decode(e.ctx, &b) != FL_OK) die("fl_decode (solo)");
            tok = argmax(logits.data(), V);
        }
        fl_seq_free(e.ctx, i);
    }
    { // together: one prefill step with every prompt, then decode steps of n rows
        std::vector<int32_t> tok, seq, pos;
        std::vector<fl_adapter*> ad;
        std::vector<int8_t> want;
        for (int i = 0; i < n; i++) {
            auto p = prompt(i);
            for (int j = 0; j < P; j++) {
                tok.push_back(p[j]);
                seq.push_back(i);
                pos.push_back(j);
                ad.push_back(ads[i]);
                want.push_back(j == P - 1);
            }
        }
        fl_batch b{int(tok.size()), tok.data(),     seq.data(), pos.data(), ad.data(), want.data(),
                   logits.data(),   int64_t(n) * V, nullptr,    nullptr,    0};
        if (fl_decode(e.ctx, &b) != FL_OK) die("fl_decode (mixed prefill)");
        std::vector<int32_t> t(n), s(n), ps(n);
        for (int s_ = 0; s_ < steps; s_++) {
            for (int i = 0; i < n; i++) {
                t[i] = argmax(logits.data() + size_t(i) * V, V);
                batched[i].push_back(t[i]);
                s[i] = i;
                ps[i] = P + s_;
            }
            fl_batch d{n,       t.data(), s.data(), ps.data(), ads.data(), nullptr, logits.data(), int64_t(n) * V,
                       nullptr, nullptr,  0};
            std::vector<int8_t> all(n, 1);
            d.want_logits = all.data();
            if (fl_decode(e.ctx, &d) != FL_OK) die("fl_decode (mixed decode)");
        }
    }
    int same = 0;
    for (int i = 0; i < n; i++) same += solo[i] == batched[i];
    std::printf("{\"mode\": \"mixed\", \"rows\": %d, \"steps\": %d, \"rows_matching_solo\": %d}\n", n, steps, same);
    return same == n ? 0 : 1;
}

// Every (batch, adapters) case in the order given, one model load: the first cases are the ones
// the caller needs most (it may stop the run when its time is up).
int mode_decode(int argc, char** argv) {
    if (argc < 8) return 2;
    const int steps = std::atoi(argv[5]), context = std::atoi(argv[6]);
    struct Case {
        int batch;
        std::string adapters;
    };
    std::vector<Case> cases;
    int max_batch = 1;
    for (int i = 7; i < argc; i++) { // "64:distinct"
        std::string c = argv[i];
        size_t colon = c.find(':');
        cases.push_back({std::atoi(c.substr(0, colon).c_str()), c.substr(colon + 1)});
        max_batch = std::max(max_batch, cases.back().batch);
    }
    Engine e(argv[2], argv[3], std::max(max_batch, 512), max_batch + 1, int64_t(8) << 30);
    // 64 adapters, loaded once; "distinct" gives row i adapter i % 64 (256 rows: 64 adapters, 4 rows each)
    std::vector<fl_adapter*> loaded;
    for (int i = 0; i < 64; i++) loaded.push_back(e.adapter(std::string(argv[4]) + "/lora" + std::to_string(i)));
    const int V = e.info.vocab_size;
    std::vector<float> logits(size_t(max_batch) * V);
    std::vector<int32_t> prompt(context);
    for (int j = 0; j < context; j++) prompt[j] = (j * 31 + 7) % V;
    for (const Case& c : cases) {
        const int batch = c.batch;
        std::vector<fl_adapter*> ad(batch, nullptr);
        for (int i = 0; i < batch && c.adapters != "none"; i++) ad[i] = loaded[c.adapters == "shared" ? 0 : i % 64];
        for (int i = 0; i < batch; i++) prefill(e, i, prompt, ad[i], 512, nullptr);
        std::vector<int32_t> t(batch, 1), s(batch), p(batch);
        std::vector<int8_t> want(batch, 1);
        for (int i = 0; i < batch; i++) s[i] = i;
        auto run = [&](int k, int at) {
            for (int step = 0; step < k; step++) {
                for (int i = 0; i < batch; i++) p[i] = at + step;
                fl_batch b{batch,         t.data(),           s.data(), p.data(), ad.data(), want.data(),
                           logits.data(), int64_t(batch) * V, nullptr,  nullptr,  0};
                if (fl_decode(e.ctx, &b) != FL_OK) die("fl_decode (decode)");
            }
        };
        run(2, context); // warm up
        auto t0 = Clock::now();
        run(steps, context + 2);
        const double sec = since(t0);
        std::printf("{\"mode\": \"decode\", \"batch\": %d, \"adapters\": \"%s\", \"steps\": %d, "
                    "\"context\": %d, \"step_ms\": %.3f, \"tokens_per_s\": %.1f, \"weight_bytes\": %lld}\n",
                    batch, c.adapters.c_str(), steps, context, sec / steps * 1e3, batch * steps / sec,
                    (long long)e.info.weight_bytes);
        std::fflush(stdout);
        for (int i = 0; i < batch; i++) fl_seq_free(e.ctx, i);
    }
    return 0;
}

int mode_prefill(int argc, char** argv) {
    if (argc < 5) return 2;
    const int n = std::atoi(argv[4]);
    Engine e(argv[2], argv[3], n, 2, int64_t(4) << 30);
    const int V = e.info.vocab_size;
    std::vector<int32_t> prompt(n);
    for (int j = 0; j < n; j++) prompt[j] = (j * 31 + 7) % V;
    std::vector<float> logits(V);
    prefill(e, 0, prompt, nullptr, n, logits.data()); // warm up
    fl_seq_free(e.ctx, 0);
    auto t0 = Clock::now();
    prefill(e, 0, prompt, nullptr, n, logits.data());
    const double sec = since(t0);
    // the projections' multiply-adds (the embedding is a gather, the lm_head runs for one row)
    const fl_model_info& in = e.info;
    const double h = in.hidden_size, q = double(in.n_heads) * in.head_dim, kv = double(in.n_kv_heads) * in.head_dim;
    const double params = in.n_layers * (h * q + 2 * h * kv + q * h + 3 * h * in.intermediate_size);
    std::printf("{\"mode\": \"prefill\", \"tokens\": %d, \"seconds\": %.4f, \"tokens_per_s\": %.1f, "
                "\"gemm_flops\": %.4g}\n",
                n, sec, n / sec, 2.0 * params * n);
    return 0;
}

// cuda:0 against the CPU engine: the same batches, the last row's logits each step.
int mode_compare(int argc, char** argv) {
    if (argc < 4) return 2;
    std::vector<int32_t> tokens = read_tokens(argv[3]);
    const int chunk = 64;
    double worst = 0;
    int argmax_same = 0, steps = 0;
    Engine gpu("cuda:0", argv[2], 512, 2, int64_t(1) << 30);
    Engine cpu("cpu", argv[2], 512, 2, int64_t(1) << 30);
    fl_adapter* ag = argc > 4 ? gpu.adapter(argv[4]) : nullptr;
    fl_adapter* ac = argc > 4 ? cpu.adapter(argv[4]) : nullptr;
    const int V = gpu.info.vocab_size, n = int(tokens.size());
    std::vector<float> lg(V), lc(V);
    std::vector<int32_t> s(chunk, 0), pos(chunk);
    for (int r0 = 0; r0 < n; r0 += chunk) {
        const int m = std::min(chunk, n - r0);
        for (int i = 0; i < m; i++) pos[i] = r0 + i;
        std::vector<fl_adapter*> adg(m, ag), adc(m, ac);
        fl_batch bg{m, tokens.data() + r0, s.data(), pos.data(), adg.data(), nullptr, lg.data(), V, nullptr, nullptr,
                    0};
        fl_batch bc{m, tokens.data() + r0, s.data(), pos.data(), adc.data(), nullptr, lc.data(), V, nullptr, nullptr,
                    0};
        if (fl_decode(gpu.ctx, &bg) != FL_OK) die("fl_decode (cuda)");
        if (fl_decode(cpu.ctx, &bc) != FL_OK) die("fl_decode (cpu)");
        double num = 0, den = 0;
        for (int v = 0; v < V; v++) {
            num += (double(lg[v]) - lc[v]) * (double(lg[v]) - lc[v]);
            den += double(lc[v]) * lc[v];
        }
        worst = std::max(worst, std::sqrt(num / std::max(den, 1e-30)));
        argmax_same += argmax(lg.data(), V) == argmax(lc.data(), V);
        steps++;
    }
    std::printf("{\"mode\": \"compare\", \"tokens\": %d, \"steps\": %d, \"max_rel_l2_vs_cpu\": %.3g, "
                "\"argmax_same\": %d}\n",
                n, steps, worst, argmax_same);
    return 0;
}

int mode_devices() {
    const int n = fl_device_count();
    std::printf("{\"mode\": \"devices\", \"count\": %d, \"reason\": \"%s\"}\n", n, fl_device_unavailable_reason());
    for (int i = 0; i < n; i++) {
        fl_device_info d;
        if (fl_device_get_info(i, &d) != FL_OK) die("fl_device_get_info");
        std::printf("{\"device\": \"cuda:%d\", \"name\": \"%s\", \"total_bytes\": %lld, \"free_bytes\": %lld, "
                    "\"cc\": \"%d.%d\", \"sms\": %d}\n",
                    i, d.name, (long long)d.total_bytes, (long long)d.free_bytes, d.compute_major, d.compute_minor,
                    d.multiprocessors);
    }
    return 0;
}

#ifdef FLOTILLA_WITH_CUDA
// --- kernel modes: each launcher against a double-precision host reference ---------------------

using namespace fl::cuda;

void* dmalloc(size_t bytes) {
    void* d = nullptr;
    if (cudaMalloc(&d, bytes) != cudaSuccess) die("cudaMalloc");
    return d;
}

template <class T> T* dev_copy(const std::vector<T>& h) {
    T* d = static_cast<T*>(dmalloc(h.size() * sizeof(T) + 16));
    cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice);
    return d;
}
template <class T> std::vector<T> host_copy(const T* d, size_t n) {
    std::vector<T> h(n);
    if (cudaDeviceSynchronize() != cudaSuccess) die("kernel");
    cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
}

std::mt19937 rng(1234);
std::vector<float> randn(size_t n, float s = 1.0f) {
    std::normal_distribution<float> d(0.0f, s);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}
std::vector<uint16_t> bf16(const std::vector<float>& v) {
    std::vector<uint16_t> o(v.size());
    for (size_t i = 0; i < v.size(); i++) o[i] = fl::f32_to_bf16(v[i]);
    return o;
}
std::vector<float> widen(const std::vector<uint16_t>& v) {
    std::vector<float> o(v.size());
    for (size_t i = 0; i < v.size(); i++) o[i] = fl::bf16_to_f32(v[i]);
    return o;
}

// max |got - want| / max(max |want|, 1e-6): the error relative to the output's scale.
double rel_err(const std::vector<float>& got, const std::vector<double>& want) {
    double err = 0, scale = 1e-6;
    for (size_t i = 0; i < want.size(); i++) {
        err = std::max(err, std::fabs(double(got[i]) - want[i]));
        scale = std::max(scale, std::fabs(want[i]));
    }
    return err / scale;
}

int failures = 0;
void report(const char* kernel, const char* shape, double err, double tol) {
    const bool ok = err <= tol && std::isfinite(err);
    failures += !ok;
    std::printf("{\"mode\": \"kernel\", \"kernel\": \"%s\", \"shape\": \"%s\", \"rel_err\": %.3g, \"tol\": %.0g, "
                "\"ok\": %s}\n",
                kernel, shape, err, tol, ok ? "true" : "false");
}

std::vector<uint16_t> f16(const std::vector<float>& v) {
    std::vector<uint16_t> o(v.size());
    for (size_t i = 0; i < v.size(); i++) o[i] = fl::f32_to_f16(v[i]);
    return o;
}
std::vector<float> widen16(const std::vector<uint16_t>& v) {
    std::vector<float> o(v.size());
    for (size_t i = 0; i < v.size(); i++) o[i] = fl::f16_to_f32(v[i]);
    return o;
}

void check_gemm(int M, int N, int K, Half ht = Half::BF16) {
    const bool b = ht == Half::BF16;
    auto xr = randn(size_t(M) * K), wr = randn(size_t(N) * K, 0.05f);
    auto x = b ? bf16(xr) : f16(xr), w = b ? bf16(wr) : f16(wr);
    auto bias = randn(N);
    auto xf = b ? widen(x) : widen16(x), wf = b ? widen(w) : widen16(w);
    std::vector<double> want(size_t(M) * N);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = bias[n];
            for (int k = 0; k < K; k++) s += double(xf[size_t(m) * K + k]) * wf[size_t(n) * K + k];
            want[size_t(m) * N + n] = s;
        }
    const int split = gemm_split(N, K, 132);
    auto dx = dev_copy(x), dw = dev_copy(w);
    auto db = dev_copy(bias);
    float *dy = nullptr, *work = nullptr;
    dy = static_cast<decltype(dy)>(dmalloc(size_t(M) * N * 4));
    work = static_cast<decltype(work)>(dmalloc(size_t(split) * M * N * 4 + 16));
    gemm(ht, dx, dw, db, M, N, K, split, work, dy, nullptr);
    auto got = host_copy(dy, size_t(M) * N);
    char shape[64];
    std::snprintf(shape, sizeof shape, "M=%d N=%d K=%d split=%d", M, N, K, split);
    report(b ? "gemm_bf16" : "gemm_f16", shape, rel_err(got, want), 1e-3);
    // batch invariance: row 0 alone equals row 0 of the batch, bit for bit
    gemm(ht, dx, dw, db, 1, N, K, split, work, dy, nullptr);
    auto alone = host_copy(dy, size_t(N));
    bool same = std::memcmp(alone.data(), got.data(), size_t(N) * 4) == 0;
    report(b ? "gemm_bf16_row0_alone_vs_batch" : "gemm_f16_row0_alone_vs_batch", shape, same ? 0.0 : 1.0, 0);
    cudaFree(dx), cudaFree(dw), cudaFree(db), cudaFree(dy), cudaFree(work);
}

void check_norm_silu(int n, int H) {
    auto x = randn(size_t(n) * H), y = randn(size_t(n) * H), w = randn(H);
    std::vector<double> want(size_t(n) * H);
    for (int i = 0; i < n; i++) {
        double ss = 0;
        for (int c = 0; c < H; c++) {
            double v = double(x[size_t(i) * H + c]) + y[size_t(i) * H + c];
            ss += v * v;
        }
        double inv = 1.0 / std::sqrt(ss / H + 1e-5);
        for (int c = 0; c < H; c++)
            want[size_t(i) * H + c] = (double(x[size_t(i) * H + c]) + y[size_t(i) * H + c]) * inv * w[c];
    }
    auto dx = dev_copy(x), dy = dev_copy(y), dw = dev_copy(w);
    uint16_t* dn = nullptr;
    dn = static_cast<decltype(dn)>(dmalloc(size_t(n) * H * 2));
    add_rmsnorm(Half::BF16, dx, dy, dw, n, H, 1e-5f, nullptr, n, dn, nullptr);
    report("add_rmsnorm", "bf16 out", rel_err(widen(host_copy(dn, size_t(n) * H)), want), 1e-2);
    // silu_mul on (x, y)
    std::vector<double> s(size_t(n) * H);
    for (size_t i = 0; i < s.size(); i++) s[i] = x[i] / (1.0 + std::exp(-double(x[i]))) * y[i];
    auto dx2 = dev_copy(x);
    silu_mul(Half::BF16, dx2, dy, n, H, dn, nullptr);
    report("silu_mul", "bf16 out", rel_err(widen(host_copy(dn, size_t(n) * H)), s), 1e-2);
    cudaFree(dx), cudaFree(dy), cudaFree(dw), cudaFree(dn), cudaFree(dx2);
}

void check_lora(int n, int in, int out, int rank) {
    // rows alternate between two adapters and none
    auto x = bf16(randn(size_t(n) * in));
    auto a0 = bf16(randn(size_t(rank) * in, 0.1f)), b0 = bf16(randn(size_t(rank) * out, 0.1f));
    auto a1 = bf16(randn(size_t(rank) * in, 0.1f)), b1 = bf16(randn(size_t(rank) * out, 0.1f));
    auto y0 = randn(size_t(n) * out);
    const float scale0 = 2.0f, scale1 = 0.5f;
    std::vector<double> want(y0.begin(), y0.end());
    auto xf = widen(x);
    for (int i = 0; i < n; i++) {
        if (i % 3 == 2) continue;
        auto af = widen(i % 3 ? a1 : a0), bf = widen(i % 3 ? b1 : b0);
        double sc = i % 3 ? scale1 : scale0;
        for (int c = 0; c < out; c++) {
            double acc = 0;
            for (int j = 0; j < rank; j++) {
                double t = 0;
                for (int k = 0; k < in; k++) t += double(xf[size_t(i) * in + k]) * af[size_t(j) * in + k];
                acc += t * sc * bf[size_t(j) * out + c];
            }
            want[size_t(i) * out + c] += acc;
        }
    }
    auto da0 = dev_copy(a0), db0 = dev_copy(b0), da1 = dev_copy(a1), db1 = dev_copy(b1);
    std::vector<LoraPtrs> t0 = {{da0, db0}}, t1 = {{da1, db1}};
    auto dt0 = dev_copy(t0), dt1 = dev_copy(t1);
    std::vector<LoraRow> rows(n);
    for (int i = 0; i < n; i++)
        rows[i] = i % 3 == 2 ? LoraRow{nullptr, 0, 0} : i % 3 ? LoraRow{dt1, rank, scale1} : LoraRow{dt0, rank, scale0};
    auto drows = dev_copy(rows);
    auto dx = dev_copy(x);
    auto dy = dev_copy(y0);
    float* t = nullptr;
    t = static_cast<decltype(t)>(dmalloc(size_t(n) * 64 * 4));
    lora_shrink(Half::BF16, dx, in, drows, n, 0, t, 64, nullptr);
    lora_expand(t, 64, drows, n, 0, out, dy, nullptr);
    char shape[64];
    std::snprintf(shape, sizeof shape, "n=%d in=%d out=%d r=%d", n, in, out, rank);
    report("lora_bgmv", shape, rel_err(host_copy(dy, size_t(n) * out), want), 1e-4);
}

void check_attention(int n_seq, int hd, int n_heads, int n_kv, int bs) {
    // sequences of lengths 1, 37, 300, ...; one query row per sequence at its last position, plus a
    // 5-row prefill chunk at the end of the last sequence
    std::vector<int> lens;
    for (int s = 0; s < n_seq; s++) lens.push_back(s == 0 ? 1 : s == 1 ? 37 : 50 + 97 * s);
    const int L = 2, layer = 1, kv_dim = n_kv * hd, group = n_heads / n_kv;
    std::vector<int32_t> blocks, block_off;
    int next = 0;
    for (int len : lens) {
        block_off.push_back(int(blocks.size()));
        for (int b = 0; b < (len + bs - 1) / bs; b++) blocks.push_back(next++ * 7 % 1000003); // scattered
    }
    int n_blocks = 0;
    for (int b : blocks) n_blocks = std::max(n_blocks, b + 1);
    auto pool = bf16(randn(size_t(n_blocks) * L * 2 * bs * kv_dim));
    auto poolf = widen(pool);
    std::vector<int32_t> pos, lo, row_run;
    for (int s = 0; s < n_seq; s++) {
        pos.push_back(lens[s] - 1);
        lo.push_back(0);
        row_run.push_back(s);
    }
    for (int j = 5; j >= 1; j--) {
        pos.push_back(lens.back() - j);
        lo.push_back(std::max(0, lens.back() - j - 64)); // a sliding window on these rows
        row_run.push_back(n_seq - 1);
    }
    const int n = int(pos.size()), qd = n_heads * hd;
    auto q = randn(size_t(n) * qd);
    std::vector<double> want(size_t(n) * qd);
    for (int i = 0; i < n; i++)
        for (int h = 0; h < n_heads; h++) {
            const int g = h / group;
            std::vector<double> sc;
            double mx = -1e300;
            auto row = [&](int p, int kv) {
                int blk = blocks[block_off[row_run[i]] + p / bs];
                return &poolf[((size_t(blk) * L + layer) * 2 + kv) * bs * kv_dim + size_t(p % bs) * kv_dim + g * hd];
            };
            for (int p = lo[i]; p <= pos[i]; p++) {
                double s = 0;
                for (int d = 0; d < hd; d++) s += double(q[size_t(i) * qd + h * hd + d]) * row(p, 0)[d];
                sc.push_back(s / std::sqrt(double(hd)));
                mx = std::max(mx, sc.back());
            }
            double den = 0;
            for (double& s : sc) den += (s = std::exp(s - mx));
            for (int d = 0; d < hd; d++) {
                double acc = 0;
                for (int p = lo[i]; p <= pos[i]; p++) acc += sc[p - lo[i]] * row(p, 1)[d];
                want[size_t(i) * qd + h * hd + d] = acc / den;
            }
        }
    auto dq = dev_copy(q);
    auto dpos = dev_copy(pos), dlo = dev_copy(lo), drr = dev_copy(row_run), dbo = dev_copy(block_off),
         dbl = dev_copy(blocks);
    auto dpool = dev_copy(pool);
    uint16_t* out = nullptr;
    out = static_cast<decltype(out)>(dmalloc(size_t(n) * qd * 2));
    attention(Half::BF16, dq, dpos, dlo, drr, dbo, dbl, dpool, KvLayout{bs, L, kv_dim}, layer, n, n_heads, n_kv, hd,
              out, nullptr);
    char shape[96];
    std::snprintf(shape, sizeof shape, "rows=%d hd=%d heads=%d kv=%d block=%d", n, hd, n_heads, n_kv, bs);
    report("attention_paged_gqa", shape, rel_err(widen(host_copy(out, size_t(n) * qd)), want), 1e-2);
}

void check_rope(int n, int heads, int kv, int hd) {
    auto q = randn(size_t(n) * heads * hd), k = randn(size_t(n) * kv * hd), v = randn(size_t(n) * kv * hd);
    std::vector<float> inv(hd / 2);
    for (int j = 0; j < hd / 2; j++) inv[j] = float(std::pow(500000.0, -2.0 * j / hd));
    std::vector<int32_t> pos(n);
    for (int i = 0; i < n; i++) pos[i] = i * 53 % 4000;
    std::vector<double> wq(q.begin(), q.end());
    for (int i = 0; i < n; i++)
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < hd / 2; j++) {
                double a = double(float(pos[i]) * inv[j]), c = std::cos(a), s = std::sin(a);
                size_t o = size_t(i) * heads * hd + h * hd;
                wq[o + j] = q[o + j] * c - q[o + j + hd / 2] * s;
                wq[o + j + hd / 2] = q[o + j + hd / 2] * c + q[o + j] * s;
            }
    auto dq = dev_copy(q), dk = dev_copy(k), dv = dev_copy(v), dinv = dev_copy(inv);
    auto dpos = dev_copy(pos);
    std::vector<int64_t> kv_row(n);
    for (int i = 0; i < n; i++) kv_row[i] = int64_t(i) * 2 * kv * hd;
    auto dkr = dev_copy(kv_row);
    uint16_t* pool = nullptr;
    pool = static_cast<decltype(pool)>(dmalloc(size_t(n) * 2 * kv * hd * 2));
    rope_store(dq, dk, dv, dpos, dinv, n, heads, kv, hd, pool, dkr, int64_t(kv) * hd, nullptr);
    report("rope_neox", "q rows", rel_err(host_copy(dq, q.size()), wq), 1e-5);
    auto pv = widen(host_copy(pool, size_t(n) * 2 * kv * hd));
    std::vector<double> wv(size_t(n) * 2 * kv * hd);
    std::vector<float> gv(wv.size());
    for (int i = 0; i < n; i++)
        for (int c = 0; c < kv * hd; c++) {
            wv[size_t(i) * 2 * kv * hd + kv * hd + c] = v[size_t(i) * kv * hd + c];
            gv[size_t(i) * 2 * kv * hd + kv * hd + c] = pv[size_t(i) * 2 * kv * hd + kv * hd + c];
        }
    report("kv_store_v", "bf16", rel_err(gv, wv), 1e-2);
}

void check_embed(int n, int H) {
    const int vocab = 1000;
    auto table = bf16(randn(size_t(vocab) * H));
    std::vector<int32_t> tok = {999, 0, 17, 17, 500};
    std::vector<double> want;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < H; c++) want.push_back(fl::bf16_to_f32(table[size_t(tok[i]) * H + c]));
    auto dt = dev_copy(table);
    auto dk = dev_copy(tok);
    float* x = static_cast<float*>(dmalloc(size_t(n) * H * 4));
    embed(Half::BF16, dt, dk, n, H, x, nullptr);
    report("embed", "bf16 rows, exact", rel_err(host_copy(x, size_t(n) * H), want), 0);
}

int mode_kernels() {
    if (fl_device_count() == 0) {
        std::printf("{\"mode\": \"kernels\", \"skipped\": \"%s\"}\n", fl_device_unavailable_reason());
        return 0;
    }
    check_gemm(1, 4096, 4096);
    check_gemm(37, 1024, 4096);
    check_gemm(300, 14336 / 4, 4096);
    check_gemm(64, 128256 / 16, 4096);
    check_gemm(37, 1000, 520, Half::F16); // N and K off the tile sizes (K a multiple of 8)
    check_embed(5, 4096);
    check_norm_silu(37, 4096);
    check_lora(64, 4096, 1024, 16);
    check_lora(5, 14336, 4096, 16);
    check_rope(37, 32, 8, 128);
    check_attention(6, 128, 32, 8, 16);
    check_attention(4, 64, 8, 8, 32);
    std::printf("{\"mode\": \"kernels\", \"failures\": %d}\n", failures);
    return failures ? 1 : 0;
}
#else
int mode_kernels() {
    std::printf("{\"mode\": \"kernels\", \"skipped\": \"built without CUDA\"}\n");
    return 0;
}
#endif

} // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    int rc = 2;
    if (mode == "devices") rc = mode_devices();
    if (mode == "kernels") rc = mode_kernels();
    if (mode == "logits") rc = mode_logits(argc, argv);
    if (mode == "mixed") rc = mode_mixed(argc, argv);
    if (mode == "decode") rc = mode_decode(argc, argv);
    if (mode == "prefill") rc = mode_prefill(argc, argv);
    if (mode == "compare") rc = mode_compare(argc, argv);
    if (rc == 2) std::fprintf(stderr, "usage: see the top of tools/gpu-check.cpp\n");
    return rc;
}
