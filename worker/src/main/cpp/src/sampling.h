// sampling.h - token sampling from one logits row (greedy, temperature, top-k, top-p, penalties,
// logit bias, min_tokens) and the most likely tokens of a row.
#pragma once

#include <cstdint>

#include "flotilla_engine.h"

namespace fl {

// Counter-based uniform in [0, 1): a pure function of (seed, step).
double uniform01(uint64_t seed, uint64_t step);

// Throws fl::Error(FL_INVALID_ARGUMENT) on bad parameters.
void sample(const float* logits, int32_t vocab, const fl_sampling_params& p, uint64_t step, int32_t* out_token,
            float* out_logprob);

// Throws fl::Error(FL_INVALID_ARGUMENT) on bad arguments.
void top_logprobs(const float* logits, int32_t vocab, int32_t k, int32_t* out_tokens, float* out_logprobs);

} // namespace fl
