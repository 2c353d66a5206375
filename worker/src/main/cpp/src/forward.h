// forward.h - one engine step: a forward pass of the model over a planned batch.
#pragma once

#include "context.h"

namespace fl {

// Runs the batch (already validated into ctx.plan, KV blocks reserved) and writes the logits of
// the wanted rows to batch.logits [n_out, vocab].
void forward(Context& ctx, const fl_batch& batch);

} // namespace fl
