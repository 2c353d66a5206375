#include "cuda/step-meta.h"

#include <algorithm>

#include "adapter.h"
#include "batch.h"
#include "kv-cache.h"
#include "model-config.h"

namespace fl {

void build_step_meta(const BatchPlan& plan, const fl_batch& b, const KvCache& kv, const ModelConfig& cfg,
                     StepMeta& meta) {
    const int n = plan.n_rows;
    meta.token.assign(b.token, b.token + n);
    meta.pos.assign(b.pos, b.pos + n);
    meta.lo.resize(n);
    meta.row_run.assign(plan.row_run.begin(), plan.row_run.end());
    meta.block_off.clear();
    meta.blocks.clear();
    for (const SeqRun& r : plan.runs) {
        meta.block_off.push_back(static_cast<int32_t>(meta.blocks.size()));
        const std::vector<int32_t>& table = kv.blocks(r.seq);
        meta.blocks.insert(meta.blocks.end(), table.begin(), table.end());
    }
    meta.kv_row.resize(n);
    const int bs = kv.block_size();
    for (int i = 0; i < n; i++) {
        const int p = b.pos[i];
        meta.lo[i] = cfg.sliding_window > 0 ? std::max(0, p - cfg.sliding_window + 1) : 0;
        const int32_t block = kv.blocks(plan.runs[plan.row_run[i]].seq)[p / bs];
        meta.kv_row[i] = kv_offset(block, 0, 0, p % bs, cfg.n_layers, bs, cfg.kv_dim());
    }
    meta.out_rows.assign(plan.out_rows.begin(), plan.out_rows.end());
    meta.adapter.assign(n, nullptr);
    for (const LoraSeg& s : plan.segs)
        for (int i = s.row0; i < s.row0 + s.n; i++) meta.adapter[i] = s.adapter;
}

} // namespace fl
