#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "error.h"

namespace fl {

namespace {
uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct Cand {
    float logit;
    int32_t id;
};
} // namespace

double uniform01(uint64_t seed, uint64_t step) {
    uint64_t h = splitmix64(splitmix64(seed) ^ (step * 0xd1b54a32d192ed03ull + 0x8cb92ba72f3d8dd7ull));
    return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

void sample(const float* logits, int32_t vocab, const fl_sampling_params& p, uint64_t step, int32_t* out_token,
            float* out_logprob) {
    if (!logits) fail(FL_INVALID_ARGUMENT, "sample: logits is NULL");
    if (vocab < 1) fail(FL_INVALID_ARGUMENT, "sample: vocab %d < 1", vocab);
    if (!std::isfinite(p.temperature) || p.temperature < 0)
        fail(FL_INVALID_ARGUMENT, "sample: temperature %g must be finite and >= 0", p.temperature);
    if (p.top_k < 0) fail(FL_INVALID_ARGUMENT, "sample: top_k %d < 0", p.top_k);
    if (!(p.top_p > 0 && p.top_p <= 1)) fail(FL_INVALID_ARGUMENT, "sample: top_p %g is outside (0, 1]", p.top_p);

    // argmax and log-sum-exp of the raw distribution (NaN logits are never chosen)
    int32_t best = -1;
    float mx = -INFINITY;
    for (int32_t i = 0; i < vocab; i++) {
        if (std::isnan(logits[i])) continue;
        if (best < 0 || logits[i] > mx) {
            mx = logits[i];
            best = i;
        }
    }
    if (best < 0 || !std::isfinite(mx)) fail(FL_INVALID_ARGUMENT, "sample: logits have no finite maximum");
    double sum = 0;
    for (int32_t i = 0; i < vocab; i++) sum += std::isnan(logits[i]) ? 0.0 : std::exp(double(logits[i]) - mx);
    const double lse = mx + std::log(sum);

    int32_t token = best;
    if (p.temperature > 0) {
        // Candidates sorted by logit (ties: lower id first). top-k keeps the first k; top-p then
        // keeps the shortest prefix whose temperature-scaled mass reaches top_p of the (top-k)
        // distribution. Only as much of the vocabulary is sorted as the cut needs.
        thread_local std::vector<Cand> cand;
        cand.clear();
        for (int32_t i = 0; i < vocab; i++)
            if (!std::isnan(logits[i])) cand.push_back({logits[i], i});
        auto before = [](const Cand& a, const Cand& b) { return a.logit != b.logit ? a.logit > b.logit : a.id < b.id; };
        auto weight = [&](const Cand& c) { return std::exp((double(c.logit) - mx) / p.temperature); };
        size_t k = cand.size();
        if (p.top_k > 0 && size_t(p.top_k) < k) k = size_t(p.top_k);
        size_t sorted = (k < cand.size() || p.top_p >= 1) ? k : std::min(k, size_t(1024));
        std::partial_sort(cand.begin(), cand.begin() + sorted, cand.end(), before);
        double total = 0;
        if (k < cand.size()) {
            for (size_t i = 0; i < k; i++) total += weight(cand[i]);
        } else {
            for (const Cand& c : cand) total += weight(c);
        }
        size_t keep = k;
        if (p.top_p < 1) {
            double acc = 0, need = p.top_p * total;
            size_t i = 0;
            for (; i < sorted; i++) {
                acc += weight(cand[i]);
                if (acc >= need) break;
            }
            if (i == sorted && sorted < k) { // the prefix fell short: sort the rest too
                std::sort(cand.begin() + sorted, cand.begin() + k, before);
                for (; i < k; i++) {
                    acc += weight(cand[i]);
                    if (acc >= need) break;
                }
            }
            keep = std::min(k, i + 1);
        }
        double kept = 0;
        for (size_t i = 0; i < keep; i++) kept += weight(cand[i]);
        double u = uniform01(p.seed, step) * kept;
        token = cand[keep - 1].id;
        double acc = 0;
        for (size_t i = 0; i < keep; i++) {
            acc += weight(cand[i]);
            if (u < acc) {
                token = cand[i].id;
                break;
            }
        }
    }
    if (out_token) *out_token = token;
    if (out_logprob) *out_logprob = static_cast<float>(double(logits[token]) - lse);
}

} // namespace fl
