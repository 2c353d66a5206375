// Sampler tests through the C API: each logit change (penalties, logit_bias, min_tokens) checked
// against its definition, computed here independently, and top_logprobs against log_softmax.
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "flotilla_engine.h"
#include "sampling.h"
#include "test.h"

using namespace fltest;

namespace {

std::vector<float> random_logits(int vocab, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 3.0f);
    std::vector<float> l(vocab);
    for (float& v : l) v = d(rng);
    return l;
}

// The argmax under p with temperature forced to 0.
int32_t greedy(const std::vector<float>& logits, const fl_sampling_params& p, uint64_t step = 0) {
    int32_t tok = -1;
    fl_sampling_params g = p;
    g.temperature = 0;
    CHECK(fl_sample(logits.data(), int32_t(logits.size()), &g, step, &tok, nullptr) == FL_OK);
    return tok;
}

// The logit of token t as fl_sample sees it after p's changes: every other token is pushed far
// down, and the last token (which the tests keep out of the history and the bias, so unchanged)
// is moved by bisection until it ties with t; its logit is then t's changed logit.
float effective_logit(std::vector<float> logits, int32_t t, const fl_sampling_params& p) {
    const int32_t r = int32_t(logits.size()) - 1;
    for (size_t i = 0; i < logits.size(); i++)
        if (int32_t(i) != t) logits[i] = -1000;
    double lo = -500, hi = 500;
    for (int it = 0; it < 80; it++) {
        double mid = (lo + hi) / 2;
        logits[r] = float(mid);
        if (greedy(logits, p) == t)
            lo = mid;
        else
            hi = mid;
    }
    return float((lo + hi) / 2);
}

} // namespace

#define CHECK_NEAR(a, b, tol) CHECK_MSG(std::fabs(double(a) - double(b)) <= (tol), "%g vs %g", double(a), double(b))

TEST(default_params_are_neutral) {
    fl_sampling_params d = fl_sampling_default_params();
    CHECK(d.temperature == 0 && d.top_k == 0 && d.top_p == 1 && d.repetition_penalty == 1);
    CHECK(d.presence_penalty == 0 && d.frequency_penalty == 0 && d.n_bias == 0 && d.min_tokens == 0);
    auto logits = random_logits(50, 1);
    int32_t a = -1, b = -1;
    fl_sampling_params z{}; // zero-initialised: repetition_penalty 0 reads as 1
    z.top_p = 1;
    CHECK(fl_sample(logits.data(), 50, &d, 0, &a, nullptr) == FL_OK);
    CHECK(fl_sample(logits.data(), 50, &z, 0, &b, nullptr) == FL_OK);
    CHECK(a == b && a == int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin()));
}

TEST(presence_and_frequency_penalties_change_generated_tokens_only) {
    // vocab 8, rival is token 7. Prompt [1, 2], generated [2, 3, 3, 3].
    std::vector<float> logits = {0.5f, 1.0f, 2.0f, 3.0f, -1.0f, 0.0f, 0.0f, 0.0f};
    std::vector<int32_t> tokens = {1, 2, 2, 3, 3, 3};
    fl_sampling_params p = fl_sampling_default_params();
    p.tokens = tokens.data();
    p.n_tokens = 6;
    p.n_prompt_tokens = 2;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.25f;
    // token 1: only in the prompt -> unchanged; token 2: generated once; token 3: three times
    CHECK_NEAR(effective_logit(logits, 1, p), 1.0, 1e-3);
    CHECK_NEAR(effective_logit(logits, 2, p), 2.0 - 0.25 - 0.5, 1e-3);
    CHECK_NEAR(effective_logit(logits, 3, p), 3.0 - 3 * 0.25 - 0.5, 1e-3);
    CHECK_NEAR(effective_logit(logits, 0, p), 0.5, 1e-3);
    p.presence_penalty = -1.0f; // negative values encourage repeats
    p.frequency_penalty = 0;
    CHECK_NEAR(effective_logit(logits, 3, p), 4.0, 1e-3);
}

TEST(repetition_penalty_divides_positive_and_multiplies_negative_logits_of_prompt_and_output) {
    std::vector<float> logits = {2.0f, -2.0f, 3.0f, 1.0f, 0.0f, 0.0f};
    std::vector<int32_t> tokens = {0, 1, 2, 2}; // prompt [0, 1], generated [2, 2]
    fl_sampling_params p = fl_sampling_default_params();
    p.tokens = tokens.data();
    p.n_tokens = 4;
    p.n_prompt_tokens = 2;
    p.repetition_penalty = 2.0f;
    CHECK_NEAR(effective_logit(logits, 0, p), 1.0, 1e-3);  // prompt, positive: / 2
    CHECK_NEAR(effective_logit(logits, 1, p), -4.0, 1e-3); // prompt, negative: * 2
    CHECK_NEAR(effective_logit(logits, 2, p), 1.5, 1e-3);  // generated twice: once / 2
    CHECK_NEAR(effective_logit(logits, 3, p), 1.0, 1e-3);  // never seen: unchanged
}

TEST(penalties_do_not_touch_the_logprob_or_other_tokens) {
    auto logits = random_logits(300, 7);
    std::vector<int32_t> tokens = {5, 6, 7, 7, 8};
    fl_sampling_params p = fl_sampling_default_params();
    p.tokens = tokens.data();
    p.n_tokens = 5;
    p.n_prompt_tokens = 1;
    p.presence_penalty = 2;
    p.frequency_penalty = 2;
    p.repetition_penalty = 1.5f;
    p.temperature = 1;
    p.seed = 3;
    double lse = 0;
    for (float v : logits) lse += std::exp(double(v));
    lse = std::log(lse);
    for (uint64_t step = 0; step < 200; step++) {
        int32_t tok = -1;
        float lp = 0;
        CHECK(fl_sample(logits.data(), 300, &p, step, &tok, &lp) == FL_OK);
        CHECK_NEAR(lp, logits[tok] - lse, 1e-4); // under the unmodified distribution
    }
    // an untouched token keeps its logit exactly
    CHECK_NEAR(effective_logit(logits, 100, p), logits[100], 1e-3);
}

TEST(logit_bias_adds_and_minus_100_bans) {
    std::vector<float> logits = {5.0f, 1.0f, 0.0f, 0.0f};
    fl_sampling_params p = fl_sampling_default_params();
    std::vector<int32_t> ids = {0, 1};
    std::vector<float> values = {-100.0f, 2.5f};
    p.bias_tokens = ids.data();
    p.bias_values = values.data();
    p.n_bias = 2;
    CHECK_NEAR(effective_logit(logits, 1, p), 3.5, 1e-3);
    CHECK(greedy(logits, p) == 1);
    // -100 bans the top token even where its margin exceeds 100, at any temperature
    logits = {500.0f, 0.0f, 0.0f, 0.0f};
    p.n_bias = 1;
    CHECK(greedy(logits, p) != 0);
    p.temperature = 1;
    for (uint64_t step = 0; step < 500; step++) {
        int32_t tok = -1;
        CHECK(fl_sample(logits.data(), 4, &p, step, &tok, nullptr) == FL_OK);
        CHECK(tok != 0);
    }
    // +100 all but forces a token
    values = {100.0f};
    ids = {3};
    logits = {5.0f, 1.0f, 0.0f, 0.0f};
    p.bias_tokens = ids.data();
    p.bias_values = values.data();
    for (uint64_t step = 0; step < 200; step++) {
        int32_t tok = -1;
        CHECK(fl_sample(logits.data(), 4, &p, step, &tok, nullptr) == FL_OK);
        CHECK(tok == 3);
    }
}

TEST(min_tokens_blocks_end_tokens_until_reached) {
    std::vector<float> logits = {0.0f, 10.0f, 9.0f, 1.0f}; // token 1 = EOS, token 2 = a stop id
    std::vector<int32_t> ends = {1, 2};
    fl_sampling_params p = fl_sampling_default_params();
    p.end_tokens = ends.data();
    p.n_end_tokens = 2;
    p.min_tokens = 3;
    CHECK(greedy(logits, p, 0) == 3);
    CHECK(greedy(logits, p, 2) == 3);
    CHECK(greedy(logits, p, 3) == 1); // from step min_tokens on, the end tokens are allowed
    p.temperature = 2;
    for (uint64_t step = 0; step < 3; step++)
        for (uint64_t seed = 0; seed < 300; seed++) {
            p.seed = seed;
            int32_t tok = -1;
            CHECK(fl_sample(logits.data(), 4, &p, step, &tok, nullptr) == FL_OK);
            CHECK(tok == 0 || tok == 3);
        }
    // every token banned: an error, not a banned token
    std::vector<float> two = {1.0f, 2.0f};
    std::vector<int32_t> both = {0, 1};
    p.end_tokens = both.data();
    int32_t tok = -1;
    CHECK(fl_sample(two.data(), 2, &p, 0, &tok, nullptr) == FL_INVALID_ARGUMENT);
}

TEST(top_logprobs_are_sorted_and_match_log_softmax) {
    for (int vocab : {1, 7, 1000, 32000}) {
        auto logits = random_logits(vocab, uint32_t(vocab));
        logits[vocab / 2] = logits[0]; // a tie: the lower id comes first
        double mx = *std::max_element(logits.begin(), logits.end()), sum = 0;
        for (float v : logits) sum += std::exp(double(v) - mx);
        double lse = mx + std::log(sum);
        std::vector<int> order(vocab);
        for (int i = 0; i < vocab; i++) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
        int k = std::min(vocab, FL_MAX_TOP_LOGPROBS);
        std::vector<int32_t> ids(k);
        std::vector<float> lps(k);
        CHECK(fl_top_logprobs(logits.data(), vocab, k, ids.data(), lps.data()) == FL_OK);
        for (int i = 0; i < k; i++) {
            CHECK_MSG(ids[i] == order[i], "vocab %d rank %d: %d vs %d", vocab, i, ids[i], order[i]);
            CHECK_NEAR(lps[i], logits[order[i]] - lse, 1e-4);
            if (i > 0) CHECK(lps[i] <= lps[i - 1]);
        }
        // the sampled token's logprob is the same number when it is the top one
        fl_sampling_params g = fl_sampling_default_params();
        int32_t tok = -1;
        float lp = 0;
        CHECK(fl_sample(logits.data(), vocab, &g, 0, &tok, &lp) == FL_OK);
        CHECK(tok == ids[0] && lp == lps[0]);
    }
    auto logits = random_logits(10, 1);
    int32_t id = 0;
    float lp = 0;
    CHECK(fl_top_logprobs(logits.data(), 10, 0, nullptr, nullptr) == FL_OK);
    CHECK(fl_top_logprobs(logits.data(), 10, 21, &id, &lp) == FL_INVALID_ARGUMENT);
    CHECK(fl_top_logprobs(logits.data(), 10, 11, &id, &lp) == FL_INVALID_ARGUMENT);
    CHECK(fl_top_logprobs(logits.data(), 10, -1, &id, &lp) == FL_INVALID_ARGUMENT);
    CHECK(fl_top_logprobs(logits.data(), 10, 1, nullptr, &lp) == FL_INVALID_ARGUMENT);
}

TEST(out_of_range_params_are_refused) {
    auto logits = random_logits(10, 2);
    std::vector<int32_t> ok_ids = {1}, bad_ids = {10};
    std::vector<float> ok_vals = {1.0f}, bad_vals = {-100.5f};
    auto refused = [&](auto change) {
        fl_sampling_params p = fl_sampling_default_params();
        change(p);
        int32_t tok = -1;
        return fl_sample(logits.data(), 10, &p, 0, &tok, nullptr) == FL_INVALID_ARGUMENT;
    };
    CHECK(refused([](fl_sampling_params& p) { p.presence_penalty = 2.01f; }));
    CHECK(refused([](fl_sampling_params& p) { p.frequency_penalty = -2.01f; }));
    CHECK(refused([](fl_sampling_params& p) { p.frequency_penalty = NAN; }));
    CHECK(refused([](fl_sampling_params& p) { p.repetition_penalty = -1; }));
    CHECK(refused([](fl_sampling_params& p) { p.repetition_penalty = INFINITY; }));
    CHECK(refused([&](fl_sampling_params& p) {
        p.bias_tokens = bad_ids.data();
        p.bias_values = ok_vals.data();
        p.n_bias = 1;
    }));
    CHECK(refused([&](fl_sampling_params& p) {
        p.bias_tokens = ok_ids.data();
        p.bias_values = bad_vals.data();
        p.n_bias = 1;
    }));
    CHECK(refused([&](fl_sampling_params& p) { p.n_bias = 1; })); // NULL arrays
    CHECK(refused([&](fl_sampling_params& p) {
        p.tokens = bad_ids.data();
        p.n_tokens = 1;
    }));
    CHECK(refused([&](fl_sampling_params& p) {
        p.tokens = ok_ids.data();
        p.n_tokens = 1;
        p.n_prompt_tokens = 2;
    }));
    CHECK(refused([&](fl_sampling_params& p) { p.min_tokens = -1; }));
    CHECK(refused([&](fl_sampling_params& p) {
        p.end_tokens = bad_ids.data();
        p.n_end_tokens = 1;
    }));
    CHECK(!refused([&](fl_sampling_params& p) {
        p.presence_penalty = 2;
        p.frequency_penalty = -2;
        p.bias_tokens = ok_ids.data();
        p.bias_values = ok_vals.data();
        p.n_bias = 1;
    }));
}

// The temperature draw as its definition states it, computed the plain way: every candidate sorted
// (logit descending, ties by lower id), top-k the first k, top-p the shortest prefix reaching top_p of
// the mass, the token where u * kept mass falls in the running sum.
int32_t reference_draw(const std::vector<float>& l, const fl_sampling_params& p, uint64_t step) {
    struct C {
        float logit;
        int32_t id;
    };
    std::vector<C> c;
    float mx = -INFINITY;
    for (int32_t i = 0; i < int32_t(l.size()); i++) {
        c.push_back({l[i], i});
        mx = std::max(mx, l[i]);
    }
    std::sort(c.begin(), c.end(),
              [](const C& a, const C& b) { return a.logit != b.logit ? a.logit > b.logit : a.id < b.id; });
    size_t k = p.top_k > 0 ? std::min(c.size(), size_t(p.top_k)) : c.size();
    std::vector<double> w(k);
    double total = 0;
    for (size_t i = 0; i < k; i++) total += w[i] = std::exp((double(c[i].logit) - mx) / p.temperature);
    size_t keep = k;
    if (p.top_p < 1) {
        double acc = 0;
        size_t i = 0;
        while (i < k && (acc += w[i]) < p.top_p * total) i++;
        keep = std::min(k, i + 1);
    }
    double kept = 0;
    for (size_t i = 0; i < keep; i++) kept += w[i];
    const double u = fl::uniform01(p.seed, step) * kept;
    double acc = 0;
    for (size_t i = 0; i < keep; i++)
        if (u < (acc += w[i])) return c[i].id;
    return c[keep - 1].id;
}

// The sampler finds the top-p cut and the drawn token without sorting the vocabulary; it must draw
// what the sorted definition draws, on peaked and flat rows, with ties, top-k, top-p and both.
TEST(temperature_draws_equal_the_sorted_definition) {
    std::mt19937 rng(77);
    int cases = 0;
    for (int vocab : {1, 2, 7, 33, 100, 1000, 5000, 40000}) {
        for (int shape = 0; shape < 4; shape++) {
            std::vector<float> l = random_logits(vocab, uint32_t(1000 + vocab + shape));
            if (shape == 1) // flat: top-p keeps most of the row
                for (float& v : l) v *= 0.01f;
            if (shape == 2) // ties: a few distinct values
                for (float& v : l) v = std::round(v);
            if (shape == 3) // all equal: weights of exactly 1, so top_p * total falls on a running sum
                std::fill(l.begin(), l.end(), 0.5f);
            for (float temperature : {0.3f, 1.0f, 1.7f})
                for (int32_t top_k : {0, 1, 5, 64})
                    for (float top_p : {1.0f, 0.95f, 0.5f, 0.05f}) {
                        fl_sampling_params p = fl_sampling_default_params();
                        p.temperature = temperature;
                        p.top_k = top_k;
                        p.top_p = top_p;
                        p.seed = rng();
                        for (uint64_t step = 0; step < 4; step++) {
                            int32_t tok = -1;
                            CHECK(fl_sample(l.data(), vocab, &p, step, &tok, nullptr) == FL_OK);
                            const int32_t want = reference_draw(l, p, step);
                            CHECK_MSG(tok == want, "vocab %d shape %d T %g k %d p %g step %llu: %d vs %d", vocab, shape,
                                      temperature, top_k, top_p, (unsigned long long)step, tok, want);
                            cases++;
                        }
                    }
        }
    }
    CHECK(cases == 8 * 4 * 3 * 4 * 4 * 4);
}

TEST_MAIN()
