// forward.cpp - one step of a Llama-family decoder over a batch of rows.
//
// x = embed[token] (* sqrt(hidden) for Gemma); per layer, for the n rows of the step (shapes per row):
//   xn  = rmsnorm(x) * attn_norm                               [hidden]
//   q, k, v = xn @ Wq^T, Wk^T, Wv^T (+ bias) (+ LoRA)          [q_dim], [kv_dim], [kv_dim]
//   q, k = rmsnorm(each head) * q_norm, k_norm                (Qwen3, Gemma 3)
//   rope(q, k) at the row's position (the layer's frequencies); k, v -> KV cache (F32, or BF16
//         rounded to nearest even; attention reads either dtype in place)
//   s   = scale * q k^T (Gemma 2: cap * tanh(s / cap)) over the positions <= pos, within the
//         window on a sliding layer (GQA)
//   att = softmax(s) v                                         [q_dim]
//   x  += att @ Wo^T (+ LoRA)            (Gemma: x += rmsnorm(att @ Wo^T) * post_attn_norm)
//   xn  = rmsnorm(x) * ffn_norm
//   x  += (act(xn @ Wg^T) * (xn @ Wu^T)) @ Wd^T (all + LoRA)   [hidden], act = silu or GELU-tanh
//                                        (Gemma: the MLP output normed by post_ffn_norm first)
// then hidden = rmsnorm(x) * norm and logits = hidden @ Wlm^T for the wanted rows (cap * tanh(logits / cap) with a
// final soft-cap). The architecture's choices are made once per layer or per row, never per element.
//
// Each projection is one GEMM over all rows of the step (the weights are read once per step),
// parallel across panels of output features; LoRA expand, bias and residual add are fused into
// the task that computed those output columns. With LoRA, each GEMM task prefetches (kernels.h
// PrefetchRegion) the Bt columns its expand reads next and a slice of the next shrink's A: with a
// distinct adapter per row those come from memory, and a batched BF16 GEMM on vdpbf16ps is bound by
// the dot rate, not by memory, so the reads overlap it. (Where the GEMM is bound by its weight reads
// - F32, or BF16 on AMX tiles - the prefetch only moves the adapter reads earlier; it changes no
// result either way.)
#include "forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "adapter.h"
#include "lora.h"

namespace fl {

namespace {

// One projection of a GEMM group: y [M, w.out] = X @ w^T (+ bias) (+ LoRA) (residual += y).
struct GemmJob {
    const Linear* w;
    float* y;        // [M, ldy]
    int proj;        // LoRA target index
    float* lora_t;   // [M, max_rank] shrink output, when some segment targets proj
    float* residual; // [M, out] or nullptr
};

// The shrink after a GEMM group: projections projs of layer, input width in (layer < 0: none).
struct NextShrink {
    int layer = -1;
    const int* projs = nullptr;
    int n_projs = 0;
    int in = 0;
};

struct Step {
    Context& c;
    const fl_batch& b;
    const ModelConfig& cfg;
    const kern::Kernels& k;
    const BatchPlan& plan;
    int layer = 0;
    int window = 0;                       // this layer's sliding window, 0 = none
    const float* inv_freq = nullptr;      // this layer's RoPE frequencies [rotary_dim/2]
    const float* inv_freq_long = nullptr; // longrope's long-factor frequencies, or nullptr

    Step(Context& ctx, const fl_batch& batch) : c(ctx), b(batch), cfg(ctx.model->cfg), k(ctx.kern), plan(ctx.plan) {}

    // --- packing: prep(row) then pack the rows of X into c.xpack, in row tiles -----------------
    template <class Prep> void pack_rows(DType wt, const float* X, int M, int K, Prep prep) {
        const int mr = k.x_tile_rows;
        const int tiles = (M + mr - 1) / mr;
        // group tiles so that a task has >= ~8 rows of work
        const int per_task = std::max(1, 8 / mr);
        const int tasks = (tiles + per_task - 1) / per_task;
        char* xp = c.xpack.as<char>();
        c.pool.run(tasks, [&](int task, int) {
            int r0 = task * per_task * mr;
            int r1 = std::min(M, r0 + per_task * mr);
            for (int r = r0; r < r1; r++) prep(r);
            k.pack_x(wt, X + size_t(r0) * K, K, r1 - r0, K, xp + k.pack_x_bytes(wt, r0, K));
        });
    }

    // --- LoRA shrink for the targeted jobs of a group ------------------------------------------
    void shrink(const GemmJob* jobs, int n_jobs, const float* X, int K) {
        constexpr int kRowsPerTask = 8;
        // task list: (job, segment, row chunk) enumerated arithmetically
        int total = 0;
        for (int j = 0; j < n_jobs; j++) {
            if (!jobs[j].lora_t) continue;
            for (const LoraSeg& s : plan.segs)
                if (s.adapter->applies(layer, jobs[j].proj)) total += (s.n + kRowsPerTask - 1) / kRowsPerTask;
        }
        if (total == 0) return;
        const int ldt = c.params.max_lora_rank;
        c.pool.run(total, [&](int task, int) {
            for (int j = 0; j < n_jobs; j++) {
                if (!jobs[j].lora_t) continue;
                for (const LoraSeg& s : plan.segs) {
                    if (!s.adapter->applies(layer, jobs[j].proj)) continue;
                    int chunks = (s.n + kRowsPerTask - 1) / kRowsPerTask;
                    if (task >= chunks) {
                        task -= chunks;
                        continue;
                    }
                    const Adapter& a = *s.adapter;
                    int r0 = s.row0 + task * kRowsPerTask;
                    int nr = std::min(kRowsPerTask, s.row0 + s.n - r0);
                    lora_shrink(k, a.layers[layer][jobs[j].proj], a.rank, a.scale, K, X, K, r0, nr, jobs[j].lora_t,
                                ldt);
                    return;
                }
            }
        });
    }

    // The Bt columns [n0, n1) of every segment's adapter on job's projection: what the expand
    // after the GEMM reads, for the GEMM to prefetch (each segment's own adapter: with a distinct
    // adapter per row these come from memory, and the GEMM, bound by the dot rate, overlaps them).
    // Up to kMaxPrefetchRegions segments; the rest are read without (the prefetch is a hint).
    static constexpr int kMaxPrefetchRegions = 64;
    int expand_regions(const GemmJob& job, int out, int n0, int n1, kern::PrefetchRegion* pf) const {
        int n = 0;
        for (const LoraSeg& s : plan.segs) {
            const Adapter& a = *s.adapter;
            if (!a.applies(layer, job.proj) || n == kMaxPrefetchRegions) continue;
            const LoraPair& lp = a.layers[layer][job.proj];
            const size_t es = dtype_size(lp.dtype);
            pf[n++] = {lp.bt.as<char>() + n0 * es, out * es, a.rank, int((n1 - n0) * es)};
        }
        return n;
    }

    // The LoRA A of the next shrink, the slice [task, task + 1) / n_tasks of its bytes: spread over
    // the GEMM's tasks so that the GEMM, bound by the dot rate, brings them from memory before the
    // shrink reads them.
    int shrink_regions(const NextShrink& nx, int task, int n_tasks, kern::PrefetchRegion* pf, int cap) const {
        if (nx.layer < 0) return 0;
        size_t total = 0;
        for (int i = 0; i < nx.n_projs; i++)
            for (const LoraSeg& s : plan.segs)
                if (s.adapter->applies(nx.layer, nx.projs[i]))
                    total += size_t(s.adapter->rank) * nx.in * dtype_size(s.adapter->dtype);
        const size_t lo = total * task / n_tasks, hi = total * (task + 1) / n_tasks;
        size_t at = 0;
        int n = 0;
        for (int i = 0; i < nx.n_projs; i++)
            for (const LoraSeg& s : plan.segs) {
                if (!s.adapter->applies(nx.layer, nx.projs[i])) continue;
                const size_t bytes = size_t(s.adapter->rank) * nx.in * dtype_size(s.adapter->dtype);
                const size_t a = std::max(at, lo), b = std::min(at + bytes, hi);
                if (a < b && n < cap)
                    pf[n++] = {s.adapter->layers[nx.layer][nx.projs[i]].a.as<char>() + (a - at), 0, 1, int(b - a)};
                at += bytes;
            }
        return n;
    }

    // --- GEMM group: all jobs share the packed input (M rows of K) -------------------------------
    void gemm(GemmJob* jobs, int n_jobs, int M, int K, const NextShrink& next = NextShrink()) {
        int panels[3], total = 0;
        for (int j = 0; j < n_jobs; j++) {
            panels[j] = (jobs[j].w->out + kern::kPanel - 1) / kern::kPanel;
            total += panels[j];
        }
        // ~4 tasks per thread, more panels per task when the rows are few (memory bound)
        int chunk = std::max(1, std::min(16, total / (c.pool.size() * 4)));
        int tasks_of[3], n_tasks = 0;
        for (int j = 0; j < n_jobs; j++) {
            tasks_of[j] = (panels[j] + chunk - 1) / chunk;
            n_tasks += tasks_of[j];
        }
        const void* xp = c.xpack.as<void>();
        const int ldt = c.params.max_lora_rank;
        c.pool.run(n_tasks, [&](int task, int) {
            int j = 0, jt = task; // job j, its task jt
            while (jt >= tasks_of[j]) jt -= tasks_of[j++];
            const GemmJob& job = jobs[j];
            const Linear& w = *job.w;
            int p0 = jt * chunk, p1 = std::min(panels[j], p0 + chunk);
            int n0 = p0 * kern::kPanel, n1 = std::min(w.out, p1 * kern::kPanel);
            kern::PrefetchRegion pf[2 * kMaxPrefetchRegions];
            int n_pf = job.lora_t ? expand_regions(job, w.out, n0, n1, pf) : 0;
            n_pf += shrink_regions(next, task, n_tasks, pf + n_pf, kMaxPrefetchRegions);
            k.gemm(w.dtype, M, K, xp, w.packed.as<void>(), w.out, p0, p1, job.y, w.out, pf, n_pf);
            if (w.has_bias()) {
                const float* bias = w.bias.as<float>();
                for (int i = 0; i < M; i++) k.axpy(1.0f, bias + n0, job.y + size_t(i) * w.out + n0, n1 - n0);
            }
            if (job.lora_t) {
                for (const LoraSeg& s : plan.segs) {
                    const Adapter& a = *s.adapter;
                    if (!a.applies(layer, job.proj)) continue;
                    lora_expand(k, a.layers[layer][job.proj], a.rank, w.out, job.lora_t, ldt, s.row0, s.n, job.y, w.out,
                                n0, n1);
                }
            }
            if (job.residual) {
                for (int i = 0; i < M; i++)
                    k.axpy(1.0f, job.y + size_t(i) * w.out + n0, job.residual + size_t(i) * w.out + n0, n1 - n0);
            }
        });
    }

    float* lora_t(int slot) {
        return c.lora_t.as<float>() + size_t(slot) * c.params.max_batch_tokens * c.params.max_lora_rank;
    }

    // --- q/k head norms (Qwen3), RoPE (neox rotate_half, as HF Llama), the KV-cache write ---------
    // RoPE rotates the first rotary_dim dimensions of a head, pairing j with j + rotary_dim/2 (rotate_half
    // over that slice, as modeling_phi3.py); the rest pass through. longrope: the rows of a sequence
    // take the long factors when the sequence reaches beyond rope_original_max_pos in this step (its last
    // position + 1 > original, transformers' seq_len = max(position_ids) + 1), the short ones otherwise;
    // keys already cached keep the rotation they were written with, as in transformers' forward with a
    // cache. cos and sin carry the attention factor (1 except for longrope).
    void rope_and_store() {
        const int n = plan.n_rows, hd = cfg.head_dim, half = cfg.rotary_dim / 2;
        const int qd = cfg.q_dim(), kvd = cfg.kv_dim();
        const float mscale = cfg.rope_attention_factor;
        float* q = c.q.as<float>();
        float* kk = c.k.as<float>();
        float* v = c.v.as<float>();
        const Layer& L = c.model->layers[layer];
        const float* qn = L.q_norm.size() ? L.q_norm.as<float>() : nullptr; // per-head norms (Qwen3)
        const float* kn = L.k_norm.size() ? L.k_norm.as<float>() : nullptr;
        c.pool.run(n, [&](int i, int) {
            float* cs = c.rope.as<float>() + size_t(i) * hd; // [half] cos | [half] sin
            float pos = static_cast<float>(b.pos[i]);
            const SeqRun& run = plan.runs[plan.row_run[i]];
            const float* fr = inv_freq_long && run.pos0 + run.n > cfg.rope_original_max_pos ? inv_freq_long : inv_freq;
            for (int j = 0; j < half; j++) {
                float a = pos * fr[j];
                cs[j] = std::cos(a) * mscale;
                cs[half + j] = std::sin(a) * mscale;
            }
            auto rotate = [&](float* x) {
                for (int j = 0; j < half; j++) {
                    float x1 = x[j], x2 = x[j + half];
                    x[j] = x1 * cs[j] - x2 * cs[half + j];
                    x[j + half] = x2 * cs[j] + x1 * cs[half + j];
                }
            };
            if (qn) {
                for (int h = 0; h < cfg.n_heads; h++) {
                    float* x = q + size_t(i) * qd + h * hd;
                    k.rmsnorm(x, x, qn, hd, cfg.rms_norm_eps);
                }
                for (int h = 0; h < cfg.n_kv_heads; h++) {
                    float* x = kk + size_t(i) * kvd + h * hd;
                    k.rmsnorm(x, x, kn, hd, cfg.rms_norm_eps);
                }
            }
            for (int h = 0; h < cfg.n_heads; h++) rotate(q + size_t(i) * qd + h * hd);
            for (int h = 0; h < cfg.n_kv_heads; h++) rotate(kk + size_t(i) * kvd + h * hd);
            store_kv(run.seq, b.pos[i], kk + size_t(i) * kvd, v + size_t(i) * kvd);
        });
    }

    // A row's K and V into the cache, in its dtype (BF16: round to nearest even, as torch's .to()).
    void store_kv(int seq, int pos, const float* krow, const float* vrow) {
        const int kvd = cfg.kv_dim();
        if (c.kv.dtype() == DType::F32) {
            std::memcpy(c.kv.k(seq, layer, pos), krow, size_t(kvd) * 4);
            std::memcpy(c.kv.v(seq, layer, pos), vrow, size_t(kvd) * 4);
            return;
        }
        uint16_t* kd = static_cast<uint16_t*>(c.kv.k(seq, layer, pos));
        uint16_t* vd = static_cast<uint16_t*>(c.kv.v(seq, layer, pos));
        for (int j = 0; j < kvd; j++) kd[j] = f32_to_bf16(krow[j]);
        for (int j = 0; j < kvd; j++) vd[j] = f32_to_bf16(vrow[j]);
    }

    // --- causal attention through the block table ---------------------------------------------
    // Positions [start, pos] of a row's sequence (start > 0 only within a sliding window).
    int attention_start(int pos) const { return window > 0 ? std::max(0, pos - window + 1) : 0; }

    // Runs of at least kFlashMinRows rows (prompt chunks) take flash_attend: up to kFlashQueries
    // queries (rows x a GQA group's heads) share each key / value tile it reads. Shorter runs (decode)
    // take attend, built for a handful of queries, where the table has one and the scores are not
    // soft-capped (attend does not cap). The choice depends on the run alone: a row's result never
    // depends on the other sequences of the step.
    static constexpr int kFlashMinRows = 4;
    bool flash(const SeqRun& r) const { return !k.attend || cfg.attn_softcap > 0 || r.n >= kFlashMinRows; }

    // How a kernel's queries split a run: heads of a GQA group per task, and rows per task.
    struct Split {
        int heads, head_chunks, rows;
        Split(int group, int max_queries)
            : heads(std::min(group, max_queries)), head_chunks((group + heads - 1) / heads),
              rows(std::max(1, max_queries / heads)) {}
        int row_chunks(int n) const { return (n + rows - 1) / rows; }
    };

    // One task per (chunk of rows of one run, kv head, chunk of its GQA group's heads); a flash
    // run's chunks latest rows first (they read the most keys), so the pool's last tasks are short.
    void attention() {
        const int hd = cfg.head_dim, qd = cfg.q_dim(), kvh = cfg.n_kv_heads;
        const int group = cfg.n_heads / kvh;
        const Split fs(group, kern::kFlashQueries), as(group, kern::kAttendQueries);
        const float scale = cfg.attn_scale, cap = cfg.attn_softcap;
        auto tasks_of = [&](const SeqRun& r) {
            const Split& sp = flash(r) ? fs : as;
            return sp.row_chunks(r.n) * kvh * sp.head_chunks;
        };
        int n_tasks = 0;
        for (const SeqRun& r : plan.runs) n_tasks += tasks_of(r);
        float* q = c.q.as<float>();
        float* att = c.att.as<float>();
        c.pool.run(n_tasks, [&](int task, int thread) {
            const SeqRun* run = plan.runs.data();
            while (task >= tasks_of(*run)) task -= tasks_of(*run++);
            const bool fl = flash(*run);
            const Split& sp = fl ? fs : as;
            const int hc = task % sp.head_chunks, g = (task / sp.head_chunks) % kvh;
            int chunk = task / (sp.head_chunks * kvh);
            if (fl) chunk = sp.row_chunks(run->n) - 1 - chunk;
            const int r0 = run->row0 + chunk * sp.rows;
            const int nr = std::min(sp.rows, run->row0 + run->n - r0);
            const int h0 = g * group + hc * sp.heads, nh = std::min(sp.heads, (g + 1) * group - h0);
            // the positions the rows read: [base, last pos]; a run's positions ascend
            const int base = attention_start(b.pos[r0]), n_pos = b.pos[r0 + nr - 1] + 1 - base;
            char* mem = c.attend.as<char>() + size_t(thread) * c.attend_bytes;
            float* scratch = reinterpret_cast<float*>(mem);
            const void** kp = reinterpret_cast<const void**>(mem + c.attend_ptrs_at);
            const void** vp = kp + c.max_positions;
            const size_t head_off = size_t(g) * hd * dtype_size(c.kv.dtype()); // bytes to KV head g
            for (int j = 0; j < n_pos; j++) {
                kp[j] = static_cast<const char*>(c.kv.k(run->seq, layer, base + j)) + head_off;
                vp[j] = static_cast<const char*>(c.kv.v(run->seq, layer, base + j)) + head_off;
            }
            const float* qs[kern::kFlashQueries];
            float* outs[kern::kFlashQueries];
            int lo[kern::kFlashQueries], hi[kern::kFlashQueries];
            int nq = 0;
            for (int i = r0; i < r0 + nr; i++)
                for (int h = h0; h < h0 + nh; h++, nq++) {
                    qs[nq] = q + size_t(i) * qd + h * hd;
                    outs[nq] = att + size_t(i) * qd + h * hd;
                    lo[nq] = attention_start(b.pos[i]) - base;
                    hi[nq] = b.pos[i] + 1 - base;
                }
            if (fl)
                k.flash_attend(c.kv.dtype(), nq, hd, qs, kp, vp, n_pos, base, lo, hi, scale, cap, outs, scratch);
            else
                k.attend(c.kv.dtype(), nq, hd, qs, kp, vp, n_pos, lo, hi, scale, outs, scratch);
        });
    }

    // Gemma: x += rmsnorm(y) * w for each row, y [n, hidden] the block's output.
    void add_normed(const float* y, const Buffer& w) {
        const int H = cfg.hidden_size;
        float* x = c.x.as<float>();
        float* tmp = c.xn.as<float>();
        c.pool.run(plan.n_rows, [&](int r, int) {
            k.rmsnorm(tmp + size_t(r) * H, y + size_t(r) * H, w.as<float>(), H, cfg.rms_norm_eps);
            k.axpy(1.0f, tmp + size_t(r) * H, x + size_t(r) * H, H);
        });
    }

    void run_layer(int l) {
        layer = l;
        window = cfg.layer_sliding[l] ? cfg.sliding_window : 0;
        inv_freq = (cfg.layer_sliding[l] ? c.model->rope_local_inv_freq : c.model->rope_inv_freq).data();
        inv_freq_long = c.model->rope_long_inv_freq.empty() ? nullptr : c.model->rope_long_inv_freq.data();
        const Layer& L = c.model->layers[l];
        const bool post_norms = L.post_attn_norm.size() != 0;
        const int n = plan.n_rows, H = cfg.hidden_size, I = cfg.intermediate_size, qd = cfg.q_dim();
        const DType wt = c.model->layer_dtype;
        float* x = c.x.as<float>();
        float* xn = c.xn.as<float>();
        const bool lora = !plan.segs.empty();

        // attention block
        const float* an = L.attn_norm.as<float>();
        pack_rows(wt, xn, n, H,
                  [&](int r) { k.rmsnorm(xn + size_t(r) * H, x + size_t(r) * H, an, H, cfg.rms_norm_eps); });
        GemmJob qkv[3] = {
            {&L.proj[kQ], c.q.as<float>(), kQ, lora && plan.any_target[kQ] ? lora_t(0) : nullptr, nullptr},
            {&L.proj[kK], c.k.as<float>(), kK, lora && plan.any_target[kK] ? lora_t(1) : nullptr, nullptr},
            {&L.proj[kV], c.v.as<float>(), kV, lora && plan.any_target[kV] ? lora_t(2) : nullptr, nullptr},
        };
        if (lora) shrink(qkv, 3, xn, H);
        // each GEMM group prefetches the A of the shrink that follows it
        static const int kOShrink[] = {kO}, kGuShrink[] = {kGate, kUp}, kDownShrink[] = {kDown},
                         kQkvShrink[] = {kQ, kK, kV};
        auto next = [&](int lyr, const int* projs, int n_projs, int in) {
            NextShrink nx;
            if (lora && lyr < cfg.n_layers) nx = {lyr, projs, n_projs, in};
            return nx;
        };
        gemm(qkv, 3, n, H, next(l, kOShrink, 1, qd));
        rope_and_store();
        attention();
        float* att = c.att.as<float>();
        pack_rows(wt, att, n, qd, [](int) {});
        GemmJob o[1] = {{&L.proj[kO], c.proj_out.as<float>(), kO, lora && plan.any_target[kO] ? lora_t(0) : nullptr,
                         post_norms ? nullptr : x}};
        if (lora) shrink(o, 1, att, qd);
        gemm(o, 1, n, qd, next(l, kGuShrink, 2, H));
        if (post_norms) add_normed(c.proj_out.as<float>(), L.post_attn_norm);

        // MLP block
        const float* fn = L.ffn_norm.as<float>();
        pack_rows(wt, xn, n, H,
                  [&](int r) { k.rmsnorm(xn + size_t(r) * H, x + size_t(r) * H, fn, H, cfg.rms_norm_eps); });
        GemmJob gu[2] = {
            {&L.proj[kGate], c.gate.as<float>(), kGate, lora && plan.any_target[kGate] ? lora_t(0) : nullptr, nullptr},
            {&L.proj[kUp], c.up.as<float>(), kUp, lora && plan.any_target[kUp] ? lora_t(1) : nullptr, nullptr},
        };
        if (lora) shrink(gu, 2, xn, H);
        gemm(gu, 2, n, H, next(l, kDownShrink, 1, I));
        float* gate = c.gate.as<float>();
        const float* up = c.up.as<float>();
        if (cfg.activation == Activation::GeluTanh)
            pack_rows(wt, gate, n, I, [&](int r) { gelu_tanh_mul(gate + size_t(r) * I, up + size_t(r) * I, I); });
        else
            pack_rows(wt, gate, n, I, [&](int r) { k.silu_mul(gate + size_t(r) * I, up + size_t(r) * I, I); });
        GemmJob down[1] = {{&L.proj[kDown], c.proj_out.as<float>(), kDown,
                            lora && plan.any_target[kDown] ? lora_t(0) : nullptr, post_norms ? nullptr : x}};
        if (lora) shrink(down, 1, gate, I);
        gemm(down, 1, n, I, next(l + 1, kQkvShrink, 3, H));
        if (post_norms) add_normed(c.proj_out.as<float>(), L.post_ffn_norm);
    }

    // g[i] = gelu_tanh(g[i]) * u[i], GELU as torch's approximate="tanh" (Gemma's gelu_pytorch_tanh).
    static void gelu_tanh_mul(float* g, const float* u, int n) {
        const float c0 = 0.7978845608028654f; // sqrt(2 / pi)
        for (int i = 0; i < n; i++) {
            float x = g[i];
            g[i] = 0.5f * x * (1.0f + std::tanh(c0 * (x + 0.044715f * x * x * x))) * u[i];
        }
    }

    void run() {
        const int n = plan.n_rows, H = cfg.hidden_size;
        float* x = c.x.as<float>();
        const Linear& emb = c.model->embed;
        const float embed_scale = c.model->embed_scale;
        c.pool.run(n, [&](int i, int) {
            float* xi = x + size_t(i) * H;
            kern::packed_row_f32(emb.dtype, emb.packed.as<void>(), emb.out, emb.in, b.token[i], xi);
            if (cfg.embed_scaled)
                for (int j = 0; j < H; j++) xi[j] *= embed_scale;
        });
        for (int l = 0; l < cfg.n_layers; l++) run_layer(l);

        // hidden = rmsnorm(x) * norm for the wanted rows: the vector the LM head multiplies
        const float* fnorm = c.model->final_norm.as<float>();
        const int n_hidden = static_cast<int>(plan.hidden_rows.size());
        c.pool.run(n_hidden, [&](int o, int) {
            k.rmsnorm(b.hidden + size_t(o) * H, x + size_t(plan.hidden_rows[o]) * H, fnorm, H, cfg.rms_norm_eps);
        });

        const int n_out = static_cast<int>(plan.out_rows.size());
        if (n_out == 0) return;
        const Linear& head = c.model->output();
        float* xn = c.xn.as<float>();
        pack_rows(head.dtype, xn, n_out, H, [&](int o) {
            k.rmsnorm(xn + size_t(o) * H, x + size_t(plan.out_rows[o]) * H, fnorm, H, cfg.rms_norm_eps);
        });
        GemmJob job[1] = {{&head, b.logits, 0, nullptr, nullptr}};
        gemm(job, 1, n_out, H);
        if (cfg.final_softcap > 0) {
            const float cap = cfg.final_softcap;
            const int V = cfg.vocab_size;
            c.pool.run(n_out, [&](int o, int) {
                float* row = b.logits + size_t(o) * V;
                for (int j = 0; j < V; j++) row[j] = std::tanh(row[j] / cap) * cap;
            });
        }
    }
};

} // namespace

void forward(Context& ctx, const fl_batch& batch) {
    Step step(ctx, batch);
    step.run();
}

} // namespace fl
