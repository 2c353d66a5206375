// logit-mask.h - grammar masks over a logits row: disallowed tokens become -infinity.
#pragma once

#include <cstdint>

namespace fl {

// logits [vocab]; allowed_bits [(vocab + 31) / 32], bit i of the row set = token i allowed.
// Fails (row unchanged) on NULL arguments, vocab < 1, or a mask that allows no token.
void mask_logits(float* logits, int32_t vocab, const uint32_t* allowed_bits);

} // namespace fl
