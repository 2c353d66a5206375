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

// A candidate token of a temperature draw: its logit, id and weight exp((logit - max) / T).
struct Weighted {
    float logit;
    int32_t id;
    double w;
};

// The order of the draw and of the top logprobs: logit descending, ties by lower id first (a strict
// total order).
template <typename C> inline bool before(const C& a, const C& b) {
    return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
}

// Where in the draw's order the running sum of weights, starting from `base`, first reaches t
// (`inclusive`: sum >= t, else sum > t), among c[lo, hi): reorders c[lo, hi) so that the elements
// before the returned index are exactly those before it in that order, and returns the index with
// the sum through it in *sum_through. hi - 1 when no element reaches t (t at or past the total, up to
// rounding). A quickselect descent on the weights: O(hi - lo) expected, where sorting would be
// O(n log n) - on a 128K vocabulary with a flat distribution, top-p keeps most of it.
size_t position_by_mass(std::vector<Weighted>& c, size_t lo, size_t hi, double base, double t, bool inclusive,
                        double* sum_through) {
    auto reached = [&](double sum) { return inclusive ? sum >= t : sum > t; };
    int depth = 0;
    while (hi - lo > 32 && depth++ < 64) {
        // median of three as the pivot, moved to hi - 1
        const size_t mid = lo + (hi - lo) / 2;
        if (before(c[mid], c[lo])) std::swap(c[mid], c[lo]);
        if (before(c[hi - 1], c[lo])) std::swap(c[hi - 1], c[lo]);
        if (before(c[mid], c[hi - 1])) std::swap(c[mid], c[hi - 1]);
        const Weighted pivot = c[hi - 1];
        const auto split =
            std::partition(c.begin() + lo, c.begin() + (hi - 1), [&](const Weighted& x) { return before(x, pivot); });
        const size_t m = size_t(split - c.begin());
        std::swap(c[m], c[hi - 1]);
        double left = 0;
        for (size_t i = lo; i < m; i++) left += c[i].w;
        if (reached(base + left)) {
            hi = m;
        } else if (reached(base + left + c[m].w)) {
            *sum_through = base + left + c[m].w;
            return m;
        } else {
            base += left + c[m].w;
            lo = m + 1;
        }
        if (lo >= hi) { // nothing left reaches t: the last element before lo
            *sum_through = base;
            return lo - 1;
        }
    }
    std::sort(c.begin() + lo, c.begin() + hi, before<Weighted>);
    for (size_t i = lo; i < hi; i++) {
        base += c[i].w;
        if (reached(base)) {
            *sum_through = base;
            return i;
        }
    }
    *sum_through = base;
    return hi - 1;
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
        // In the draw's order (logit descending, ties: lower id first) top-k keeps the first k; top-p
        // then keeps the shortest prefix whose temperature-scaled mass reaches top_p of the (top-k)
        // distribution; the token is where u (uniform in [0, kept mass)) falls in the kept prefix's
        // running sum. position_by_mass finds each point without sorting the vocabulary.
        thread_local std::vector<Weighted> cand;
        cand.clear();
        for (int32_t i = 0; i < vocab; i++)
            if (!std::isnan(l[i]) && l[i] != -INFINITY) cand.push_back({l[i], i, 0.0});
        size_t k = cand.size();
        if (p.top_k > 0 && size_t(p.top_k) < k) {
            k = size_t(p.top_k);
            std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end(), before<Weighted>);
            cand.resize(k);
        }
        double total = 0;
        for (Weighted& c : cand) total += c.w = std::exp((double(c.logit) - mx) / p.temperature);
        size_t keep = k;
        double kept = total;
        if (p.top_p < 1) keep = position_by_mass(cand, 0, k, 0.0, p.top_p * total, true, &kept) + 1;
        double through = 0;
        token = cand[position_by_mass(cand, 0, keep, 0.0, uniform01(p.seed, step) * kept, false, &through)].id;
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
