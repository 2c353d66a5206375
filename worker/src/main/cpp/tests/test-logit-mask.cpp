// test-logit-mask.cpp - fl_mask_logits: masked tokens become -inf, allowed ones keep their value,
// and sampling after the mask picks only allowed tokens.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "flotilla_engine.h"
#include "test.h"

TEST(mask_keeps_allowed_and_sinks_the_rest) {
    std::mt19937 rng(7);
    for (int32_t vocab : {1, 31, 32, 33, 64, 1000, 151936}) {
        std::vector<float> logits(vocab), before;
        std::normal_distribution<float> normal;
        for (float& v : logits) v = normal(rng);
        before = logits;
        std::vector<uint32_t> bits((vocab + 31) / 32, 0);
        std::vector<bool> allowed(vocab);
        for (int32_t i = 0; i < vocab; i++) {
            allowed[i] = (rng() % 3 == 0) || i == vocab - 1;
            if (allowed[i]) bits[i / 32] |= 1u << (i % 32);
        }
        REQUIRE(fl_mask_logits(logits.data(), vocab, bits.data()) == FL_OK);
        for (int32_t i = 0; i < vocab; i++) {
            if (allowed[i])
                CHECK(logits[i] == before[i]);
            else
                CHECK(std::isinf(logits[i]) && logits[i] < 0);
        }
        fl_sampling_params p{1.0f, 0, 1.0f, 3};
        for (uint64_t step = 0; step < 50; step++) {
            int32_t tok = -1;
            float lp = 0;
            CHECK(fl_sample(logits.data(), vocab, &p, step, &tok, &lp) == FL_OK);
            CHECK(tok >= 0 && tok < vocab && allowed[tok] && std::isfinite(lp));
        }
    }
}

TEST(mask_ignores_bits_past_the_vocabulary) {
    std::vector<float> logits(33, 1.0f);
    std::vector<uint32_t> bits = {0u, 0xfffffffeu}; // only bits past token 32 set
    CHECK(fl_mask_logits(logits.data(), 33, bits.data()) == FL_INVALID_ARGUMENT);
    CHECK(logits[0] == 1.0f && logits[32] == 1.0f); // unchanged on failure
}

TEST(mask_refuses_bad_arguments) {
    std::vector<float> logits(4, 0.0f);
    uint32_t none = 0, one = 1;
    CHECK(fl_mask_logits(logits.data(), 4, &none) == FL_INVALID_ARGUMENT);
    CHECK(std::string(fl_last_error()).find("allows no token") != std::string::npos);
    CHECK(fl_mask_logits(nullptr, 4, &one) == FL_INVALID_ARGUMENT);
    CHECK(fl_mask_logits(logits.data(), 4, nullptr) == FL_INVALID_ARGUMENT);
    CHECK(fl_mask_logits(logits.data(), 0, &one) == FL_INVALID_ARGUMENT);
}
TEST_MAIN()
