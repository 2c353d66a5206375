#include "logit-mask.h"

#include <algorithm>
#include <limits>

#include "error.h"

namespace fl {

void mask_logits(float* logits, int32_t vocab, const uint32_t* allowed_bits) {
    if (!logits || !allowed_bits) fail(FL_INVALID_ARGUMENT, "mask_logits: logits and allowed_bits must not be NULL");
    if (vocab < 1) fail(FL_INVALID_ARGUMENT, "mask_logits: vocab %d < 1", vocab);
    const int32_t words = (vocab + 31) / 32;
    const uint32_t tail = vocab % 32 == 0 ? ~0u : (1u << (vocab % 32)) - 1; // bits past vocab are ignored
    bool any = false;
    for (int32_t w = 0; w < words && !any; w++) any = (allowed_bits[w] & (w == words - 1 ? tail : ~0u)) != 0;
    if (!any) fail(FL_INVALID_ARGUMENT, "mask_logits: the mask allows no token of the %d", vocab);

    const float minus_inf = -std::numeric_limits<float>::infinity();
    for (int32_t w = 0; w < words; w++) {
        const uint32_t bits = allowed_bits[w];
        if (bits == ~0u) continue; // the common case inside a JSON string: all 32 allowed
        const int32_t base = w * 32, n = w == words - 1 ? vocab - base : 32;
        if (bits == 0) { // the common case between values: none of the 32 allowed
            std::fill(logits + base, logits + base + n, minus_inf);
            continue;
        }
        for (int32_t b = 0; b < n; b++)
            if (!((bits >> b) & 1u)) logits[base + b] = minus_inf;
    }
}

} // namespace fl
