// cuda/step-meta.h - what the device needs to know about a step besides the activations: the
// rows' tokens and positions, their attention ranges, the block tables of their sequences, where
// each row's K and V go, the rows whose logits are wanted and each row's adapter. Built on the
// host from the BatchPlan and the KvCache bookkeeping (which stays on the host for both backends)
// and copied to the device in one transfer. Plain C++: tested without a GPU.
#pragma once

#include <cstdint>
#include <vector>

#include "flotilla_engine.h"

namespace fl {

struct Adapter;
struct BatchPlan;
struct ModelConfig;
class KvCache;

struct StepMeta {
    std::vector<int32_t> token;          // [n]
    std::vector<int32_t> pos;            // [n]
    std::vector<int32_t> lo;             // [n] first attended position (sliding window), <= pos
    std::vector<int32_t> row_run;        // [n] the row's run (sequence) in the plan
    std::vector<int32_t> block_off;      // [runs] where the run's block table starts in blocks
    std::vector<int32_t> blocks;         // the runs' block tables, concatenated in run order
    std::vector<int64_t> kv_row;         // [n] element offset of the row's K slot in layer 0 of the pool
    std::vector<int32_t> out_rows;       // [n_out] rows whose logits are wanted
    std::vector<const Adapter*> adapter; // [n] the row's adapter or null
};

// Element offset in the KV pool [n_blocks][n_layers][2][block_size][kv_dim] of (block, layer,
// kv = 0 K / 1 V, slot): the layout KvCache uses on the host and the device kernels use.
inline int64_t kv_offset(int64_t block, int layer, int kv, int slot, int n_layers, int block_size, int kv_dim) {
    return (((block * n_layers + layer) * 2 + kv) * block_size + slot) * int64_t(kv_dim);
}

// Fills meta for the planned batch; the KV blocks of every run are already reserved.
void build_step_meta(const BatchPlan& plan, const fl_batch& batch, const KvCache& kv, const ModelConfig& cfg,
                     StepMeta& meta);

} // namespace fl
