#include "batch.h"

#include "adapter.h"
#include "context.h"
#include "error.h"

namespace fl {

void BatchPlan::reserve(int max_rows) {
    runs.reserve(max_rows);
    row_run.reserve(max_rows);
    segs.reserve(max_rows);
    out_rows.reserve(max_rows);
    hidden_rows.reserve(max_rows);
}

void plan_batch(Context& ctx, const fl_batch& b, BatchPlan& plan) {
    const ModelConfig& c = ctx.model->cfg;
    const int n = b.n_tokens;
    if (n < 1 || n > ctx.params.max_batch_tokens)
        fail(FL_INVALID_ARGUMENT, "batch n_tokens %d is outside 1..%d (max_batch_tokens)", n,
             ctx.params.max_batch_tokens);
    if (!b.token || !b.seq_id || !b.pos) fail(FL_INVALID_ARGUMENT, "batch token, seq_id and pos must not be NULL");

    plan.n_rows = n;
    plan.runs.clear();
    plan.row_run.clear();
    plan.segs.clear();
    plan.out_rows.clear();
    plan.hidden_rows.clear();
    for (bool& t : plan.any_target) t = false;
    uint32_t stamp = ++ctx.step;
    if (stamp == 0) { // wrapped: reset the stamps
        for (auto& s : ctx.seq_seen) s = 0;
        stamp = ctx.step = 1;
    }

    // Adapters of this batch are checked against the model's live set once per distinct handle.
    const fl_adapter* last_checked = nullptr;
    std::unique_lock<std::mutex> lock(ctx.model->adapters_mutex, std::defer_lock);

    for (int i = 0; i < n; i++) {
        int32_t tok = b.token[i], seq = b.seq_id[i], pos = b.pos[i];
        if (tok < 0 || tok >= c.vocab_size)
            fail(FL_INVALID_ARGUMENT, "row %d: token id %d is outside 0..%d", i, tok, c.vocab_size - 1);
        if (seq < 0 || seq >= ctx.params.max_sequences)
            fail(FL_INVALID_ARGUMENT, "row %d: seq_id %d is outside 0..%d", i, seq, ctx.params.max_sequences - 1);
        if (pos < 0 || pos >= ctx.max_positions)
            fail(FL_INVALID_ARGUMENT, "row %d: position %d is outside 0..%d", i, pos, ctx.max_positions - 1);
        bool continues = i > 0 && b.seq_id[i - 1] == seq;
        if (continues) {
            if (pos != b.pos[i - 1] + 1)
                fail(FL_INVALID_ARGUMENT, "row %d: sequence %d position %d does not follow %d", i, seq, pos,
                     b.pos[i - 1]);
            plan.runs.back().n++;
        } else {
            if (ctx.seq_seen[seq] == stamp)
                fail(FL_INVALID_ARGUMENT, "row %d: sequence %d appears in two separate runs of the batch", i, seq);
            ctx.seq_seen[seq] = stamp;
            int len = ctx.kv.length(seq);
            if (pos > len)
                fail(FL_INVALID_ARGUMENT, "row %d: sequence %d starts at position %d but has only %d cached", i, seq,
                     pos, len);
            plan.runs.push_back({seq, i, 1, pos});
        }
        plan.row_run.push_back(static_cast<int32_t>(plan.runs.size() - 1));

        const fl_adapter* h = b.adapter ? b.adapter[i] : nullptr;
        const Adapter* a = nullptr;
        if (h) {
            if (h != last_checked) {
                if (!lock.owns_lock()) lock.lock();
                if (!ctx.model->live_adapters.count(h))
                    fail(FL_INVALID_ARGUMENT, "row %d: adapter handle %p is not loaded for this model", i,
                         (const void*)h);
                if (h->adapter->rank > ctx.params.max_lora_rank)
                    fail(FL_INVALID_ARGUMENT, "row %d: adapter rank %d exceeds the context's max_lora_rank %d", i,
                         h->adapter->rank, ctx.params.max_lora_rank);
                last_checked = h;
            }
            a = h->adapter.get();
        }
        if (a) {
            if (!plan.segs.empty() && plan.segs.back().adapter == a && plan.segs.back().row0 + plan.segs.back().n == i)
                plan.segs.back().n++;
            else
                plan.segs.push_back({i, 1, a});
            for (int p = 0; p < kNumProj; p++) plan.any_target[p] = plan.any_target[p] || a->targets[p];
        }
        bool want = b.want_logits ? b.want_logits[i] != 0 : i == n - 1;
        if (want) plan.out_rows.push_back(i);
        if (b.want_hidden && b.want_hidden[i]) plan.hidden_rows.push_back(i);
    }
    if (!plan.out_rows.empty()) {
        int64_t need = int64_t(plan.out_rows.size()) * c.vocab_size;
        if (!b.logits)
            fail(FL_INVALID_ARGUMENT, "batch wants logits for %zu rows but logits is NULL", plan.out_rows.size());
        if (b.logits_capacity < need)
            fail(FL_INVALID_ARGUMENT, "logits buffer holds %lld floats, %zu rows x vocab %d need %lld",
                 (long long)b.logits_capacity, plan.out_rows.size(), c.vocab_size, (long long)need);
    }
    if (!plan.hidden_rows.empty()) {
        int64_t need = int64_t(plan.hidden_rows.size()) * c.hidden_size;
        if (!b.hidden)
            fail(FL_INVALID_ARGUMENT, "batch wants the hidden state of %zu rows but hidden is NULL",
                 plan.hidden_rows.size());
        if (b.hidden_capacity < need)
            fail(FL_INVALID_ARGUMENT, "hidden buffer holds %lld floats, %zu rows x hidden_size %d need %lld",
                 (long long)b.hidden_capacity, plan.hidden_rows.size(), c.hidden_size, (long long)need);
    }
}

} // namespace fl
