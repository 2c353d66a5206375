// engine-bench-int4 - `engine_bench --int4`: decode at batch 1 from 4-bit weights beside BF16, and
// the 4-bit engine's logits against the BF16 engine's, in one run.
//
// Usage: engine_bench --int4 THREADS BF16_MODEL_DIR OUT_DIR
//   Writes OUT_DIR as an AWQ checkpoint of the BF16 model (every projection quantized by a plain
//   round-to-nearest group quantizer, tests/q4-checkpoint.h: asymmetric, 128 columns a group, F16
//   scales; not a calibrated AWQ run, which would move the accuracy but not the speed or the
//   plumbing; embeddings, head and norms stay BF16), loads both models, then:
//   - decode at batch 1: a 64-token prompt, then 64 steps of one token, best of 3 rounds, the two
//     models' rounds alternating so that a swing in the host's share of the cores hits both alike;
//   - the BF16 engine generates 256 greedy tokens after a 64-token prompt; both engines then prefill
//     the whole sequence and the logits of the 256 generated positions are compared (relative L2
//     and arg-max agreement).
//   Prints the rows, then one JSON line: decode_b1_tok_s_int4, decode_b1_tok_s_bf16_int4_run (this
//   run's BF16), weight_bytes_int4, weight_bytes_bf16_int4_run, int4_vs_bf16_rel_l2,
//   int4_greedy_agreement, int4_weight_rel_l2 (the projections' own quantization error).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "flotilla_engine.h"
#include "model.h"
#include "q4-checkpoint.h"
#include "safetensors.h"

namespace {

constexpr int kPrompt = 64, kSteps = 64, kRounds = 3, kCompareTokens = 256;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "engine_bench --int4: %s: %s\n", what, fl_last_error());
    std::exit(1);
}

void write_file(const std::string& path, const std::string& data) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(data.data(), 1, data.size(), f) != data.size() || std::fclose(f) != 0) {
        std::fprintf(stderr, "engine_bench --int4: cannot write %s\n", path.c_str());
        std::exit(1);
    }
}

bool is_projection(const std::string& name) {
    return name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
           (name.find(".self_attn.") != std::string::npos || name.find(".mlp.") != std::string::npos) &&
           name.find("norm") == std::string::npos;
}

// Returns the relative L2 error of the quantized projections against the BF16 ones (all of them).
double write_awq(const std::string& bf16_dir, const std::string& out_dir) {
    using namespace fltest;
    fl::SafetensorsFile file(bf16_dir + "/model.safetensors");
    std::vector<RawTensor> out;
    double diff = 0, norm = 0;
    for (const fl::StTensorInfo& t : file.tensors()) {
        if (!is_projection(t.name)) {
            RawTensor r{t.name, fl::st_dtype_name(t.dtype), t.shape, std::string(t.end - t.begin, '\0')};
            file.read(t, &r.bytes[0]);
            out.push_back(std::move(r));
            continue;
        }
        std::vector<float> w = fl::read_tensor_f32(file, t);
        const std::vector<float> before = w;
        quantize_q4(w, int(t.shape[0]), int(t.shape[1]), t.name.substr(0, t.name.size() - 7), Q4Options{}, out);
        for (size_t i = 0; i < w.size(); i++)
            diff += double(w[i] - before[i]) * (w[i] - before[i]), norm += double(before[i]) * before[i];
    }
    std::string cfg = fl::read_text_file(bf16_dir + "/config.json", 1 << 20);
    const size_t end = cfg.rfind('}');
    cfg = cfg.substr(0, end) + ", \"quantization_config\": " + q4_quantization_config(Q4Options{}) + "}\n";
    mkdir(out_dir.c_str(), 0755);
    write_file(out_dir + "/config.json", cfg);
    write_file(out_dir + "/model.safetensors", safetensors_raw(out));
    return std::sqrt(diff / norm);
}

struct Engine {
    fl_model* model = nullptr;
    fl_context* ctx = nullptr;
    fl_model_info info{};
    std::vector<float> logits;
    Engine(const std::string& dir, int threads, int max_tokens) {
        fl_model_params mp = fl_model_default_params();
        if (fl_model_load(dir.c_str(), &mp, &model) != FL_OK) die(dir.c_str());
        fl_model_get_info(model, &info);
        fl_context_params p = fl_context_default_params();
        p.n_threads = threads;
        p.kv_budget_bytes = 256ll << 20;
        p.max_batch_tokens = max_tokens;
        p.max_sequences = 1;
        if (fl_context_create(model, &p, &ctx) != FL_OK) die("fl_context_create");
    }
    ~Engine() {
        fl_context_free(ctx);
        fl_model_free(model);
    }
    // tokens at positions pos0.. of sequence 0; all_logits: every position's, else the last one's
    void step(const std::vector<int32_t>& tok, int pos0, bool all_logits) {
        const int n = int(tok.size());
        std::vector<int32_t> seq(n, 0), pos(n);
        for (int i = 0; i < n; i++) pos[i] = pos0 + i;
        std::vector<fl_adapter*> none(n, nullptr);
        std::vector<int8_t> want(n, all_logits ? 1 : 0);
        want.back() = 1;
        logits.resize(size_t(all_logits ? n : 1) * info.vocab_size);
        fl_batch b{n,
                   tok.data(),
                   seq.data(),
                   pos.data(),
                   none.data(),
                   want.data(),
                   logits.data(),
                   int64_t(logits.size()),
                   nullptr,
                   nullptr,
                   0};
        if (fl_decode(ctx, &b) != FL_OK) die("fl_decode");
    }
    int32_t argmax() const { return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin()); }
    // seconds per decode step after a prompt
    double decode_round(const std::vector<int32_t>& prompt) {
        fl_seq_free(ctx, 0);
        step(prompt, 0, false);
        const double t0 = now();
        for (int s = 0; s < kSteps; s++) step({argmax()}, kPrompt + s, false);
        const double t = (now() - t0) / kSteps;
        fl_seq_free(ctx, 0);
        return t;
    }
};

} // namespace

int int4_bench_main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: engine_bench --int4 THREADS BF16_MODEL_DIR OUT_DIR\n");
        return 2;
    }
    const int threads = std::atoi(argv[1]);
    const std::string bf16_dir = argv[2], q4_dir = argv[3];
    const double tq = now();
    const double weight_err = write_awq(bf16_dir, q4_dir);
    const double quantize_s = now() - tq;
    const int max_tokens = kPrompt + kCompareTokens;
    Engine bf16(bf16_dir, threads, max_tokens), q4(q4_dir, threads, max_tokens);
    const int vocab = bf16.info.vocab_size;
    std::vector<int32_t> prompt(kPrompt);
    for (int i = 0; i < kPrompt; i++) prompt[i] = (i * 37 + 11) % vocab;

    double best_bf16 = 1e9, best_q4 = 1e9;
    bf16.decode_round(prompt); // warm-up
    q4.decode_round(prompt);
    for (int r = 0; r < kRounds; r++) {
        best_bf16 = std::min(best_bf16, bf16.decode_round(prompt));
        best_q4 = std::min(best_q4, q4.decode_round(prompt));
    }

    // 256 greedy tokens of the BF16 engine, then both engines' logits over the whole sequence
    std::vector<int32_t> tokens = prompt;
    bf16.step(prompt, 0, false);
    for (int t = 0; t < kCompareTokens; t++) {
        tokens.push_back(bf16.argmax());
        if (t + 1 < kCompareTokens) bf16.step({tokens.back()}, int(tokens.size()) - 1, false);
    }
    fl_seq_free(bf16.ctx, 0);
    bf16.step(tokens, 0, true);
    q4.step(tokens, 0, true);
    double diff = 0, norm = 0;
    int same = 0;
    for (int r = kPrompt - 1; r < kPrompt - 1 + kCompareTokens; r++) {
        const float* a = q4.logits.data() + size_t(r) * vocab;
        const float* b = bf16.logits.data() + size_t(r) * vocab;
        for (int v = 0; v < vocab; v++) diff += double(a[v] - b[v]) * (a[v] - b[v]), norm += double(b[v]) * b[v];
        same += std::max_element(a, a + vocab) - a == std::max_element(b, b + vocab) - b;
    }
    const double rel_l2 = std::sqrt(diff / norm), agree = double(same) / kCompareTokens;

    std::printf("int4 (AWQ layout, round-to-nearest, group 128) of %s, written in %.1f s; engine %s, %d threads\n",
                bf16_dir.c_str(), quantize_s, fl_engine_isa(), threads);
    std::printf("%-6s %-14s %10s %10s %14s\n", "dtype", "row", "ms", "tok/s", "weight MiB");
    std::printf("%-6s %-14s %10.2f %10.1f %14.1f\n", "BF16", "decode_b1", best_bf16 * 1e3, 1 / best_bf16,
                bf16.info.weight_bytes / 1048576.0);
    std::printf("%-6s %-14s %10.2f %10.1f %14.1f\n", "INT4", "decode_b1", best_q4 * 1e3, 1 / best_q4,
                q4.info.weight_bytes / 1048576.0);
    std::printf("int4 projections vs BF16: relative L2 %.4f (the quantizer's error alone)\n", weight_err);
    std::printf("int4 vs BF16 logits over %d greedy tokens: relative L2 %.4f, arg-max agreement %.3f\n", kCompareTokens,
                rel_l2, agree);
    std::printf("{\"int4_isa\": \"%s\", \"decode_b1_tok_s_int4\": %.1f, \"decode_b1_tok_s_bf16_int4_run\": %.1f, "
                "\"int4_vs_bf16_b1\": %.3f, \"weight_bytes_int4\": %lld, \"weight_bytes_bf16_int4_run\": %lld, "
                "\"int4_vs_bf16_rel_l2\": %.5f, \"int4_greedy_agreement\": %.3f, \"int4_weight_rel_l2\": %.5f}\n",
                fl_engine_isa(), 1 / best_q4, 1 / best_bf16, best_bf16 / best_q4, (long long)q4.info.weight_bytes,
                (long long)bf16.info.weight_bytes, rel_l2, agree, weight_err);
    return 0;
}
