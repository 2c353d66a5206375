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

namespace {
// Max and log-sum-exp of a logits row, NaN entries left out; fails when no entry is finite.
double log_sum_exp(const float* logits, int32_t vocab) {
    float mx = -INFINITY;
    bool any = false;
    for (int32_t i = 0; i < vocab; i++) {
        if (std::isnan(logits[i])) continue;
        if (!any || logits[i] > mx) mx = logits[i];
        any = true;
    }
    if (!any || !std::isfinite(mx)) fail(FL_INVALID_ARGUMENT, "sample: logits have no finite maximum");
    double sum = 0;
    for (int32_t i = 0; i < vocab; i++) sum += std::isnan(logits[i]) ? 0.0 : std::exp(double(logits[i]) - mx);
    return mx + std::log(sum);
}

void check_ids(const int32_t* ids, int32_t n, int32_t vocab, const char* what) {
    if (n < 0) fail(FL_INVALID_ARGUMENT, "sample: %s count %d < 0", what, n);
    if (n > 0 && !ids) fail(FL_INVALID_ARGUMENT, "sample: %s is NULL with count %d", what, n);
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            fail(FL_INVALID_ARGUMENT, "sample: %s[%d] = %d is outside 0..%d", what, i, ids[i], vocab - 1);
}

void check_params(const fl_sampling_params& p, int32_t vocab) {
    if (!std::isfinite(p.temperature) || p.temperature < 0)
        fail(FL_INVALID_ARGUMENT, "sample: temperature %g must be finite and >= 0", p.temperature);
    if (p.top_k < 0) fail(FL_INVALID_ARGUMENT, "sample: top_k %d < 0", p.top_k);
    if (!(p.top_p > 0 && p.top_p <= 1)) fail(FL_INVALID_ARGUMENT, "sample: top_p %g is outside (0, 1]", p.top_p);
    if (!(p.presence_penalty >= -2 && p.presence_penalty <= 2))
        fail(FL_INVALID_ARGUMENT, "sample: presence_penalty %g is outside [-2, 2]", p.presence_penalty);
    if (!(p.frequency_penalty >= -2 && p.frequency_penalty <= 2))
        fail(FL_INVALID_ARGUMENT, "sample: frequency_penalty %g is outside [-2, 2]", p.frequency_penalty);
    if (!(std::isfinite(p.repetition_penalty) && p.repetition_penalty >= 0))
        fail(FL_INVALID_ARGUMENT, "sample: repetition_penalty %g must be finite and > 0 (0 = unset = 1)",
             p.repetition_penalty);
    check_ids(p.tokens, p.n_tokens, vocab, "tokens");
    if (p.n_prompt_tokens < 0 || p.n_prompt_tokens > p.n_tokens)
        fail(FL_INVALID_ARGUMENT, "sample: n_prompt_tokens %d is outside 0..n_tokens (%d)", p.n_prompt_tokens,
             p.n_tokens);
    check_ids(p.bias_tokens, p.n_bias, vocab, "bias_tokens");
    if (p.n_bias > 0 && !p.bias_values) fail(FL_INVALID_ARGUMENT, "sample: bias_values is NULL");
    for (int32_t i = 0; i < p.n_bias; i++)
        if (!(p.bias_values[i] >= -100 && p.bias_values[i] <= 100))
            fail(FL_INVALID_ARGUMENT, "sample: bias_values[%d] = %g is outside [-100, 100]", i, p.bias_values[i]);
    if (p.min_tokens < 0) fail(FL_INVALID_ARGUMENT, "sample: min_tokens %d < 0", p.min_tokens);
    check_ids(p.end_tokens, p.n_end_tokens, vocab, "end_tokens");
}

// The logits the draw uses: the row itself when no bias, ban or penalty applies, else a copy with
// them applied (the row stays unmodified for the log-probabilities).
const float* adjusted_logits(const float* logits, int32_t vocab, const fl_sampling_params& p, uint64_t step) {
    const float rep = p.repetition_penalty == 0 ? 1.0f : p.repetition_penalty;
    const bool penalties = p.n_tokens > 0 && (rep != 1 || p.presence_penalty != 0 || p.frequency_penalty != 0);
    const bool ban_ends = step < uint64_t(p.min_tokens) && p.n_end_tokens > 0;
    if (!penalties && !ban_ends && p.n_bias == 0) return logits;

    thread_local std::vector<float> adjusted;
    adjusted.assign(logits, logits + vocab);
    float* l = adjusted.data();
    for (int32_t i = 0; i < p.n_bias; i++)
        l[p.bias_tokens[i]] = p.bias_values[i] == -100 ? -INFINITY : l[p.bias_tokens[i]] + p.bias_values[i];
    if (ban_ends)
        for (int32_t i = 0; i < p.n_end_tokens; i++) l[p.end_tokens[i]] = -INFINITY;
    if (penalties) {
        // Each distinct token of the sequence once, with how often it was generated.
        thread_local std::vector<int32_t> generated; // [vocab] counts, all 0 between calls
        thread_local std::vector<uint8_t> seen;      // [vocab] all 0 between calls
        thread_local std::vector<int32_t> distinct;
        if (generated.size() < size_t(vocab)) {
            generated.assign(vocab, 0);
            seen.assign(vocab, 0);
        }
        distinct.clear();
        for (int32_t i = 0; i < p.n_tokens; i++) {
            int32_t t = p.tokens[i];
            if (!seen[t]) {
                seen[t] = 1;
                distinct.push_back(t);
            }
            if (i >= p.n_prompt_tokens) generated[t]++;
        }
        for (int32_t t : distinct) {
            if (rep != 1) l[t] = l[t] > 0 ? l[t] / rep : l[t] * rep;
            if (generated[t] > 0) l[t] -= p.frequency_penalty * float(generated[t]) + p.presence_penalty;
            generated[t] = 0;
            seen[t] = 0;
        }
    }
    return l;
}
} // namespace

void sample(const float* logits, int32_t vocab, const fl_sampling_params& p, uint64_t step, int32_t* out_token,
            float* out_logprob) {
    if (!logits) fail(FL_INVALID_ARGUMENT, "sample: logits is NULL");
    if (vocab < 1) fail(FL_INVALID_ARGUMENT, "sample: vocab %d < 1", vocab);
    check_params(p, vocab);
    const double lse = log_sum_exp(logits, vocab); // of the unmodified distribution

    // argmax of what the draw sees (NaN and banned logits are never chosen)
    const float* l = adjusted_logits(logits, vocab, p, step);
    int32_t best = -1;
    float mx = -INFINITY;
    for (int32_t i = 0; i < vocab; i++) {
        if (std::isnan(l[i]) || l[i] == -INFINITY) continue;
        if (best < 0 || l[i] > mx) {
            mx = l[i];
            best = i;
        }
    }
    if (best < 0 || !std::isfinite(mx))
        fail(FL_INVALID_ARGUMENT, "sample: no token can be drawn (every logit is NaN or banned by logit_bias or "
                                  "min_tokens)");

    int32_t token = best;
    if (p.temperature > 0) {
        // Candidates sorted by logit (ties: lower id first). top-k keeps the first k; top-p then
        // keeps the shortest prefix whose temperature-scaled mass reaches top_p of the (top-k)
        // distribution. Only as much of the vocabulary is sorted as the cut needs.
        thread_local std::vector<Cand> cand;
        cand.clear();
        for (int32_t i = 0; i < vocab; i++)
            if (!std::isnan(l[i]) && l[i] != -INFINITY) cand.push_back({l[i], i});
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

void top_logprobs(const float* logits, int32_t vocab, int32_t k, int32_t* out_tokens, float* out_logprobs) {
    if (!logits) fail(FL_INVALID_ARGUMENT, "top_logprobs: logits is NULL");
    if (vocab < 1) fail(FL_INVALID_ARGUMENT, "top_logprobs: vocab %d < 1", vocab);
    if (k < 0 || k > FL_MAX_TOP_LOGPROBS || k > vocab)
        fail(FL_INVALID_ARGUMENT, "top_logprobs: k %d is outside 0..%d", k, std::min(vocab, FL_MAX_TOP_LOGPROBS));
    if (k > 0 && (!out_tokens || !out_logprobs)) fail(FL_INVALID_ARGUMENT, "top_logprobs: an output is NULL");
    if (k == 0) return;
    const double lse = log_sum_exp(logits, vocab);
    // The k best so far, best first: one pass, an insertion per improvement.
    Cand best[FL_MAX_TOP_LOGPROBS];
    int32_t n = 0;
    auto before = [](const Cand& a, const Cand& b) { return a.logit != b.logit ? a.logit > b.logit : a.id < b.id; };
    for (int32_t i = 0; i < vocab; i++) {
        if (std::isnan(logits[i])) continue;
        Cand c{logits[i], i};
        if (n == k && !before(c, best[n - 1])) continue;
        int32_t j = n < k ? n++ : k - 1;
        while (j > 0 && before(c, best[j - 1])) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = c;
    }
    if (n < k) fail(FL_INVALID_ARGUMENT, "top_logprobs: only %d of the logits are numbers, %d asked", n, k);
    for (int32_t i = 0; i < k; i++) {
        out_tokens[i] = best[i].id;
        out_logprobs[i] = static_cast<float>(double(best[i].logit) - lse);
    }
}

} // namespace fl
