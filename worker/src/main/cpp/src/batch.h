// batch.h - validation of an fl_batch and the plan one step runs from it.
#pragma once

#include <cstdint>
#include <vector>

#include "flotilla_engine.h"

namespace fl {

struct Adapter;
struct Context;

// Consecutive rows of one sequence: positions pos0 .. pos0 + n - 1.
struct SeqRun {
    int32_t seq;
    int32_t row0;
    int32_t n;
    int32_t pos0;
};

// Consecutive rows sharing one adapter (SGMV segment); rows without an adapter have none.
struct LoraSeg {
    int32_t row0;
    int32_t n;
    const Adapter* adapter;
};

struct BatchPlan {
    int32_t n_rows = 0;
    std::vector<SeqRun> runs;         // in row order
    std::vector<int32_t> row_run;     // [n_rows] index into runs
    std::vector<LoraSeg> segs;        // in row order
    std::vector<int32_t> out_rows;    // rows whose logits are wanted, in row order
    std::vector<int32_t> hidden_rows; // rows whose final hidden state is wanted, in row order
    bool any_target[7] = {};          // some segment's adapter targets projection p

    void reserve(int max_rows);
};

// Validates the batch against the context (ids, positions, order, adapters, output buffers) and
// fills plan; throws fl::Error(FL_INVALID_ARGUMENT) naming the first offending row.
// Does not touch the KV cache.
void plan_batch(Context& ctx, const fl_batch& batch, BatchPlan& plan);

} // namespace fl
