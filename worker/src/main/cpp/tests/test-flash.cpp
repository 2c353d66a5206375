// Flash attention (prefill): the kernel of every instruction set this CPU supports against a naive
// double-precision attention on random paged caches, and the engine's prompt logits across key tiles.
//   kernel: |out - ref| <= 2e-5 * max_j |v_j| (3e-5 soft-capped: the vector tanh's error), ref over
//   the keys and values as stored (F32, or BF16 widened); bitwise the same for a query alone (one
//   query, only its own positions, so another pos0 and n_pos) as among the others of a call
//   engine: a prompt prefilled in one chunk, in uneven chunks, and with its tail decoded token by
//   token gives the same logits (max relative difference 1e-5, as the engine tests); a sequence's
//   logits do not depend on the other sequences of its steps (1e-5); a Gemma 2 model (soft-capping,
//   sliding and global layers) over several key tiles matches the reference forward (1e-4).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "flotilla_engine.h"
#include "kernels/kernels.h"
#include "tensor.h"
#include "test-model.h"
#include "test.h"

using namespace fl;
using namespace fl::kern;

namespace {

std::vector<const Kernels*> flash_kernels() {
    std::vector<const Kernels*> out;
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Bf16, Isa::Avx512Amx})
        if (const Kernels* k = kernels_for(isa))
            if (k->flash_attend) out.push_back(k);
    return out;
}

// Naive attention of one query over positions [lo, hi) in double, soft-capped when cap > 0.
std::vector<double> reference(const float* q, const std::vector<const float*>& kw, const std::vector<const float*>& vw,
                              int hd, int lo, int hi, double scale, double cap) {
    std::vector<double> s(hi - lo), out(hd, 0.0);
    double mx = -1e300, sum = 0;
    for (int j = lo; j < hi; j++) {
        double dot = 0;
        for (int d = 0; d < hd; d++) dot += double(q[d]) * kw[j][d];
        double x = dot * scale;
        if (cap > 0) x = cap * std::tanh(x / cap);
        s[j - lo] = x;
        mx = std::max(mx, x);
    }
    for (double& x : s) sum += (x = std::exp(x - mx));
    for (int j = lo; j < hi; j++)
        for (int e = 0; e < hd; e++) out[e] += s[j - lo] / sum * vw[j][e];
    return out;
}

// A paged KV cache of one layer: blocks of kBlock positions in a shuffled order, rows of kv_dim
// values (n_kv heads of hd, plus a pad so that rows are strided as in the engine's cache).
struct PagedCache {
    static constexpr int kBlock = 16;
    int hd, n_kv, ld;
    DType dt;
    std::vector<int> table;       // block of each position block
    std::vector<float> k, v;      // values as stored, widened to F32 (BF16: rounded first)
    std::vector<uint16_t> kh, vh; // the BF16 cache
    PagedCache(DType dtype, int positions, int head_dim, int kv_heads, std::mt19937& rng)
        : hd(head_dim), n_kv(kv_heads), ld(kv_heads * head_dim + 3), dt(dtype) {
        const int blocks = (positions + kBlock - 1) / kBlock + 3; // a few blocks no position uses
        table.resize(blocks);
        for (int b = 0; b < blocks; b++) table[b] = b;
        std::shuffle(table.begin(), table.end(), rng);
        std::normal_distribution<float> d(0.0f, 1.0f);
        k.resize(size_t(blocks) * kBlock * ld), v.resize(k.size());
        kh.resize(k.size()), vh.resize(k.size());
        for (size_t i = 0; i < k.size(); i++) {
            k[i] = 2 * d(rng), v[i] = d(rng);
            if (dt == DType::BF16) {
                kh[i] = f32_to_bf16(k[i]), k[i] = bf16_to_f32(kh[i]);
                vh[i] = f32_to_bf16(v[i]), v[i] = bf16_to_f32(vh[i]);
            }
        }
    }
    size_t at(int pos, int g) const {
        return (size_t(table[pos / kBlock]) * kBlock + pos % kBlock) * ld + size_t(g) * hd;
    }
    const void* k_row(int pos, int g) const {
        return dt == DType::BF16 ? static_cast<const void*>(&kh[at(pos, g)]) : &k[at(pos, g)];
    }
    const void* v_row(int pos, int g) const {
        return dt == DType::BF16 ? static_cast<const void*>(&vh[at(pos, g)]) : &v[at(pos, g)];
    }
};

struct Case {
    DType dt;
    int hd, group, rows, last, window;
    float cap;
};

// One call of a GQA group's heads x `rows` consecutive positions ending at `last` (a prompt chunk),
// on KV head 1 of 2, checked against the reference and query by query alone.
void check_case(const Kernels* k, const Case& c, uint32_t seed) {
    std::mt19937 rng(seed);
    PagedCache cache(c.dt, c.last + 1, c.hd, 2, rng);
    const int g = 1, nq = c.group * c.rows;
    const int first_row = c.last - c.rows + 1;
    auto start = [&](int p) { return c.window > 0 ? std::max(0, p - c.window + 1) : 0; };
    const int pos0 = start(first_row), n_pos = c.last + 1 - pos0;
    std::vector<const void*> kp(n_pos), vp(n_pos);
    std::vector<const float*> kw(n_pos), vw(n_pos);
    for (int j = 0; j < n_pos; j++) {
        kp[j] = cache.k_row(pos0 + j, g), vp[j] = cache.v_row(pos0 + j, g);
        kw[j] = &cache.k[cache.at(pos0 + j, g)], vw[j] = &cache.v[cache.at(pos0 + j, g)];
    }
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> Q(size_t(nq) * c.hd);
    for (float& x : Q) x = d(rng);
    std::vector<const float*> qs(nq);
    std::vector<int> lo(nq), hi(nq);
    for (int i = 0, r = 0; i < c.rows; i++)
        for (int h = 0; h < c.group; h++, r++) { // row-major, as forward.cpp orders them
            qs[r] = &Q[size_t(r) * c.hd];
            lo[r] = start(first_row + i) - pos0;
            hi[r] = first_row + i + 1 - pos0;
        }
    // soft-capped cases: scores of a few units, so that the cap bends them
    const float scale = c.cap > 0 ? 0.6f : 1.0f / std::sqrt(float(c.hd));
    std::vector<float> out(size_t(nq) * c.hd, -7.0f);
    std::vector<float*> outs(nq);
    for (int r = 0; r < nq; r++) outs[r] = &out[size_t(r) * c.hd];
    Buffer scratch(flash_scratch_floats(c.hd) * 4);
    k->flash_attend(c.dt, nq, c.hd, qs.data(), kp.data(), vp.data(), n_pos, pos0, lo.data(), hi.data(), scale, c.cap,
                    outs.data(), scratch.as<float>());
    const double tol = c.cap > 0 ? 3e-5 : 2e-5;
    std::vector<float> alone(c.hd);
    for (int r = 0; r < nq; r++) {
        const auto ref = reference(qs[r], kw, vw, c.hd, lo[r], hi[r], scale, c.cap);
        double vmax = 0;
        for (int j = lo[r]; j < hi[r]; j++)
            for (int e = 0; e < c.hd; e++) vmax = std::max(vmax, double(std::fabs(vw[j][e])));
        double worst = 0;
        for (int e = 0; e < c.hd; e++) worst = std::max(worst, std::fabs(outs[r][e] - ref[e]));
        CHECK_MSG(worst <= tol * vmax, "%s %s hd=%d group=%d rows=%d last=%d window=%d cap=%g r=%d: err %g > %g",
                  k->name, dtype_name(c.dt), c.hd, c.group, c.rows, c.last, c.window, c.cap, r, worst, tol * vmax);
        // the query alone, its own positions only: another pos0 and n_pos, the same bits
        float* ao = alone.data();
        const int a_lo = 0, a_hi = hi[r] - lo[r];
        k->flash_attend(c.dt, 1, c.hd, &qs[r], kp.data() + lo[r], vp.data() + lo[r], a_hi, pos0 + lo[r], &a_lo, &a_hi,
                        scale, c.cap, &ao, scratch.as<float>());
        CHECK_MSG(std::memcmp(ao, outs[r], size_t(c.hd) * 4) == 0,
                  "%s %s hd=%d group=%d rows=%d last=%d window=%d cap=%g r=%d: alone differs", k->name,
                  dtype_name(c.dt), c.hd, c.group, c.rows, c.last, c.window, c.cap, r);
    }
}

} // namespace

// Head dims with and without whole vectors of 8 and 16, GQA groups of 1, 4 and 7 heads, 1 to 64
// queries, the last position before, on and after key-tile (64) and cache-block (16) boundaries,
// causal and sliding-window ranges, with and without soft-capping.
TEST(flash_attend_matches_naive_reference_and_is_query_invariant) {
    uint32_t seed = 5000;
    for (const Kernels* k : flash_kernels())
        for (DType dt : {DType::F32, DType::BF16})
            for (int hd : {8, 36, 64, 128})
                for (int group : {1, 4, 7})
                    for (int rows : {1, 3, kFlashQueries / group})
                        for (int last : {0, 15, 63, 64, 130, 333}) {
                            if (rows > last + 1) continue;
                            for (int window : {0, 50})
                                for (float cap : {0.0f, 4.0f})
                                    check_case(k, {dt, hd, group, rows, last, window, cap}, seed++);
                        }
}

namespace {

struct Engine {
    fl_model* model = nullptr;
    fl_context* ctx = nullptr;
    int vocab = 0;
    Engine(const std::string& dir, int32_t kv_dtype) {
        if (fl_model_load(dir.c_str(), nullptr, &model) != FL_OK) return;
        fl_model_info info;
        fl_model_get_info(model, &info);
        vocab = info.vocab_size;
        fl_context_params p = fl_context_default_params();
        p.kv_dtype = kv_dtype;
        p.kv_budget_bytes = 16 << 20;
        p.max_batch_tokens = 512;
        p.max_sequences = 8;
        p.n_threads = 2;
        if (fl_context_create(model, &p, &ctx) != FL_OK) std::fprintf(stderr, "ctx failed: %s\n", fl_last_error());
    }
    ~Engine() {
        fl_context_free(ctx);
        fl_model_free(model);
    }
    struct Row {
        int token, seq, pos;
    };
    // Runs the rows (all wanting logits); returns their logits.
    std::vector<float> step(const std::vector<Row>& rows) {
        const int n = int(rows.size());
        std::vector<int32_t> tok(n), seq(n), pos(n);
        std::vector<fl_adapter*> ad(n, nullptr);
        std::vector<int8_t> want(n, 1);
        for (int i = 0; i < n; i++) tok[i] = rows[i].token, seq[i] = rows[i].seq, pos[i] = rows[i].pos;
        std::vector<float> out(size_t(n) * vocab);
        fl_batch b{n,          tok.data(),          seq.data(), pos.data(), ad.data(), want.data(),
                   out.data(), int64_t(out.size()), nullptr,    nullptr,    0};
        if (fl_decode(ctx, &b) != FL_OK) std::fprintf(stderr, "decode failed: %s\n", fl_last_error());
        return out;
    }
    // Positions [p0, p0 + n) of tokens into seq.
    std::vector<float> chunk(const std::vector<int>& tokens, int seq, int p0, int n) {
        std::vector<Row> rows;
        for (int i = 0; i < n; i++) rows.push_back({tokens[p0 + i], seq, p0 + i});
        return step(rows);
    }
};

std::vector<int> tokens_of(int n, int vocab, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int> t(n);
    for (int& v : t) v = int(rng() % vocab);
    return t;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0, m = 0;
    for (size_t i = 0; i < b.size(); i++)
        d = std::max(d, double(std::fabs(a[i] - b[i]))), m = std::max(m, double(std::fabs(b[i])));
    return d / std::max(m, 1e-30);
}

// GQA 4:1 with a sliding window on a Mistral model: both kinds of layer range over several tiles.
fltest::ModelSpec long_spec() {
    fltest::ModelSpec s;
    s.arch = "MistralForCausalLM";
    s.hidden = 64;
    s.heads = 4;
    s.kv_heads = 1;
    s.head_dim = 24;
    s.layers = 2;
    s.sliding_window = 90;
    s.max_pos = 512;
    return s;
}

} // namespace

TEST(prompt_in_one_chunk_in_uneven_chunks_and_decoded_gives_the_same_logits) {
    fltest::TempDir tmp;
    const fltest::ModelSpec s = long_spec();
    fltest::TestModel m = fltest::make_model(s, 301);
    fltest::write_model(m, tmp.path);
    for (int32_t kv : {FL_DTYPE_BF16, FL_DTYPE_F32}) {
        Engine e(tmp.path, kv);
        REQUIRE(e.ctx);
        const int n = 300;
        auto tokens = tokens_of(n, s.vocab, 302);
        const auto whole = e.chunk(tokens, 0, 0, n);
        std::vector<float> parts;
        int p = 0;
        for (int len : {37, 64, 100, 5, 60}) { // 266 positions over tile and block boundaries
            auto part = e.chunk(tokens, 1, p, len);
            parts.insert(parts.end(), part.begin(), part.end());
            p += len;
        }
        for (; p < n; p++) { // the rest token by token (decode rows)
            auto part = e.chunk(tokens, 1, p, 1);
            parts.insert(parts.end(), part.begin(), part.end());
        }
        const double err = max_rel_diff(parts, whole);
        CHECK_MSG(err <= 1e-5, "kv %d: chunked and decoded vs one chunk: %g", kv, err);
    }
}

TEST(prompt_logits_do_not_depend_on_the_other_sequences_of_the_step) {
    fltest::TempDir tmp;
    const fltest::ModelSpec s = long_spec();
    fltest::TestModel m = fltest::make_model(s, 303);
    fltest::write_model(m, tmp.path);
    Engine e(tmp.path, FL_DTYPE_BF16);
    REQUIRE(e.ctx);
    auto a = tokens_of(200, s.vocab, 304), b = tokens_of(250, s.vocab, 305);
    // a alone: two chunks
    std::vector<float> alone = e.chunk(a, 0, 0, 120), more = e.chunk(a, 0, 120, 80);
    alone.insert(alone.end(), more.begin(), more.end());
    // b's prompt first, then a's chunks in steps with b's next chunk and a decode row of sequence 3
    e.chunk(b, 1, 0, 150);
    e.chunk(b, 3, 0, 7);
    std::vector<float> mixed;
    int bp = 150, dp = 7;
    for (auto [p0, len] : {std::pair<int, int>{0, 120}, {120, 80}}) {
        std::vector<Engine::Row> rows;
        for (int i = 0; i < 40 && bp < 250; i++, bp++) rows.push_back({b[bp], 1, bp});
        rows.push_back({b[dp], 3, dp}), dp++;
        const size_t skip = rows.size();
        for (int i = 0; i < len; i++) rows.push_back({a[p0 + i], 2, p0 + i});
        auto out = e.step(rows);
        mixed.insert(mixed.end(), out.begin() + skip * s.vocab, out.end());
    }
    const double err = max_rel_diff(mixed, alone);
    CHECK_MSG(err <= 1e-5, "a among other sequences vs alone: %g", err);
}

TEST(gemma2_over_several_key_tiles_matches_reference) {
    fltest::TempDir tmp;
    fltest::ModelSpec s;
    s.arch = "Gemma2ForCausalLM";
    s.layers = 2;
    s.tie = true;
    s.head_dim = 32;
    s.query_pre_attn_scalar = 24;
    s.attn_softcap = 1.5;
    s.final_softcap = 2.0;
    s.sliding_window = 70; // layer 0 slides, layer 1 is global
    fltest::TestModel m = fltest::make_model(s, 306);
    fltest::write_model(m, tmp.path);
    Engine e(tmp.path, FL_DTYPE_F32);
    REQUIRE(e.ctx);
    auto tokens = tokens_of(200, s.vocab, 307);
    const auto ref = fltest::reference_logits(m, tokens);
    std::vector<float> got = e.chunk(tokens, 0, 0, 150), tail = e.chunk(tokens, 0, 150, 50);
    got.insert(got.end(), tail.begin(), tail.end());
    double d = 0, mx = 0;
    for (size_t i = 0; i < ref.size(); i++)
        d = std::max(d, std::fabs(got[i] - ref[i])), mx = std::max(mx, std::fabs(ref[i]));
    CHECK_MSG(d / mx <= 1e-4, "isa %s: max rel err %g", fl_engine_isa(), d / mx);
}

TEST_MAIN()
