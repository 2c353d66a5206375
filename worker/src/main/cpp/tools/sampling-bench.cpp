// sampling-bench - the cost of the sampler's logit changes per generated token, at batch 32.
//
// Usage: sampling_bench [ROUNDS=30]
// For vocabularies of 32000 (Llama 2) and 128256 (Llama 3) and a batch of 32 rows, each row a
// sequence of 512 prompt + 256 generated tokens, one step samples every row with fl_sample the way
// the worker does (one call per row, on one thread). Modes:
//   greedy                 temperature 0, nothing else
//   sampled                temperature 0.8, top_p 0.95 (the baseline the others add to)
//   + penalties            sampled + presence 0.5, frequency 0.5, repetition 1.1 over the history
//   + penalties + bias     ... + 16 logit_bias entries + min_tokens banning 2 end tokens
//   + top_logprobs 20      sampled + fl_top_logprobs(20) per row
// Each mode's step is timed over ROUNDS rounds, modes interleaved per round so that a busy host
// slows them alike; the fastest step is reported (the host is shared: the best round is the one
// the others disturbed least). Per token = step / 32. "added" is the mode's best
// minus the sampled baseline's, per token. Prints a table, then one JSON line.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "flotilla_engine.h"

namespace {

double now_ms() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

constexpr int kBatch = 32;
constexpr int kPrompt = 512;
constexpr int kGenerated = 256;

struct Row {
    std::vector<float> logits;   // [vocab]
    std::vector<int32_t> tokens; // [kPrompt + kGenerated]
};

enum Mode { GREEDY, SAMPLED, PENALTIES, PENALTIES_BIAS, TOP20, MODES };
const char* const kNames[MODES] = {"greedy", "sampled", "+ penalties", "+ penalties + bias + min_tokens",
                                   "+ top_logprobs 20"};
const char* const kKeys[MODES] = {"greedy", "sampled", "penalties", "penalties_bias", "top_logprobs20"};

double step(const std::vector<Row>& rows, int vocab, Mode mode, uint64_t seed) {
    std::vector<int32_t> bias_ids(16);
    std::vector<float> bias_values(16);
    for (int i = 0; i < 16; i++) {
        bias_ids[i] = (i * 7919) % vocab;
        bias_values[i] = i % 2 ? -100.0f : 5.0f;
    }
    int32_t ends[2] = {1, 2};
    int32_t top_ids[20];
    float top_lps[20];
    double t0 = now_ms();
    for (const Row& r : rows) {
        fl_sampling_params p = fl_sampling_default_params();
        p.seed = seed;
        if (mode != GREEDY) {
            p.temperature = 0.8f;
            p.top_p = 0.95f;
        }
        if (mode == PENALTIES || mode == PENALTIES_BIAS) {
            p.presence_penalty = 0.5f;
            p.frequency_penalty = 0.5f;
            p.repetition_penalty = 1.1f;
            p.tokens = r.tokens.data();
            p.n_tokens = int32_t(r.tokens.size());
            p.n_prompt_tokens = kPrompt;
        }
        if (mode == PENALTIES_BIAS) {
            p.bias_tokens = bias_ids.data();
            p.bias_values = bias_values.data();
            p.n_bias = 16;
            p.min_tokens = kGenerated + 1;
            p.end_tokens = ends;
            p.n_end_tokens = 2;
        }
        int32_t token;
        float lp;
        if (fl_sample(r.logits.data(), vocab, &p, kGenerated, &token, &lp) != FL_OK) {
            std::fprintf(stderr, "fl_sample: %s\n", fl_last_error());
            std::exit(1);
        }
        if (mode == TOP20 && fl_top_logprobs(r.logits.data(), vocab, 20, top_ids, top_lps) != FL_OK) {
            std::fprintf(stderr, "fl_top_logprobs: %s\n", fl_last_error());
            std::exit(1);
        }
    }
    return now_ms() - t0;
}

double best(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

} // namespace

int main(int argc, char** argv) {
    int rounds = argc > 1 ? std::atoi(argv[1]) : 30;
    std::string json =
        "{\"bench\":\"sampling\",\"batch\":32,\"prompt\":512,\"generated\":256,\"rounds\":" + std::to_string(rounds);
    std::printf("%-34s %8s %12s %12s %14s\n", "mode", "vocab", "step ms", "us/token", "added us/token");
    for (int vocab : {32000, 128256}) {
        std::mt19937 rng(vocab);
        std::normal_distribution<float> logit(0.0f, 3.0f);
        std::uniform_int_distribution<int32_t> id(0, vocab - 1);
        std::vector<Row> rows(kBatch);
        for (Row& r : rows) {
            r.logits.resize(vocab);
            for (float& v : r.logits) v = logit(rng);
            r.tokens.resize(kPrompt + kGenerated);
            for (int32_t& t : r.tokens) t = id(rng);
        }
        for (int m = 0; m < MODES; m++) step(rows, vocab, Mode(m), 0); // warm-up
        std::vector<double> ms[MODES];
        for (int round = 0; round < rounds; round++)
            for (int m = 0; m < MODES; m++) ms[m].push_back(step(rows, vocab, Mode(m), uint64_t(round)));
        double base = best(ms[SAMPLED]);
        for (int m = 0; m < MODES; m++) {
            double med = best(ms[m]);
            double per_token_us = med * 1e3 / kBatch;
            double added_us = (med - base) * 1e3 / kBatch;
            std::printf("%-34s %8d %12.3f %12.2f %14.2f\n", kNames[m], vocab, med, per_token_us,
                        m <= SAMPLED ? 0.0 : added_us);
            char buf[200];
            std::snprintf(buf, sizeof buf, ",\"%s_v%d_us_per_token\":%.3f", kKeys[m], vocab, per_token_us);
            json += buf;
        }
    }
    std::printf("%s}\n", json.c_str());
    return 0;
}
