// Prefix caching through the C API: a sequence that adopts cached KV blocks decodes exactly as one
// that computed them, across chunked prefill, adapters, rewinds, forks and eviction.
//
// Exactness is checked bitwise against a fresh context that computes the same rows in the same
// batch shapes: the engine's GEMMs may round differently for a different number of rows in a step
// (batch invariance holds to 1e-5, test-engine.cpp), so "same shapes" isolates what the cache
// contributes. The prompts run in chunks of the block size, so a fresh prefill's last chunk is the
// very chunk a cached sequence computes after the positions it adopted. Against a one-shot prefill
// the tests allow the engine's batch-invariance tolerance, 1e-5; stale KV is off by far more.
#include <algorithm>
#include <string>
#include <vector>

#include "flotilla_engine.h"
#include "test-model.h"
#include "test.h"

using namespace fltest;

namespace {

constexpr int kBlock = 4;

struct Engine {
    fl_model* model = nullptr;
    fl_context* ctx = nullptr;
    int vocab = 0;
    explicit Engine(const std::string& dir, int64_t budget = 8 << 20, int32_t kv_dtype = FL_DTYPE_F32) {
        if (fl_model_load(dir.c_str(), nullptr, &model) != FL_OK) return;
        fl_model_info info;
        fl_model_get_info(model, &info);
        vocab = info.vocab_size;
        fl_context_params p = fl_context_default_params();
        p.kv_dtype = kv_dtype;
        p.kv_block_size = kBlock;
        p.kv_budget_bytes = budget;
        p.max_batch_tokens = 64;
        p.max_sequences = 16;
        p.n_threads = 2;
        if (fl_context_create(model, &p, &ctx) != FL_OK) std::fprintf(stderr, "ctx: %s\n", fl_last_error());
    }
    ~Engine() {
        fl_context_free(ctx);
        fl_model_free(model);
    }
    bool ok() const { return ctx != nullptr; }

    // Rows pos0 .. pos0+n-1 of tokens for seq in one step; the logits of the last row.
    std::vector<float> step(const std::vector<int>& tokens, int seq, int pos0, int n, fl_adapter* a) {
        std::vector<int32_t> tok(tokens.begin() + pos0, tokens.begin() + pos0 + n), sq(n, seq), pos(n);
        std::vector<fl_adapter*> ad(n, a);
        for (int i = 0; i < n; i++) pos[i] = pos0 + i;
        std::vector<float> out(vocab);
        fl_batch b{n, tok.data(), sq.data(), pos.data(), ad.data(), nullptr, out.data(), vocab, nullptr, nullptr, 0};
        fl_status s = fl_decode(ctx, &b);
        if (s != FL_OK) {
            std::fprintf(stderr, "decode: %s\n", fl_last_error());
            out.clear();
        }
        return out;
    }
    // Computes tokens[from ..] for seq in chunks of `chunk` rows aligned to multiples of chunk;
    // the last row's logits.
    std::vector<float> prefill(const std::vector<int>& tokens, int seq, fl_adapter* a = nullptr, int from = 0,
                               int chunk = kBlock) {
        std::vector<float> last;
        const int n = static_cast<int>(tokens.size());
        for (int pos = from; pos < n;) {
            int end = std::min(n, (pos / chunk + 1) * chunk);
            last = step(tokens, seq, pos, end - pos, a);
            pos = end;
        }
        return last;
    }
    // Adopts what is cached for tokens, then computes the rest: the last row's logits.
    std::vector<float> cached_prefill(const std::vector<int>& tokens, int seq, fl_adapter* a, int* reused,
                                      int chunk = kBlock) {
        std::vector<int32_t> t(tokens.begin(), tokens.end());
        int32_t r = -1;
        if (fl_seq_adopt_prefix(ctx, seq, t.data(), int32_t(t.size()), a, &r) != FL_OK) {
            std::fprintf(stderr, "adopt: %s\n", fl_last_error());
            return {};
        }
        if (reused) *reused = r;
        return prefill(tokens, seq, a, r, chunk);
    }
    int lookup(const std::vector<int>& tokens, fl_adapter* a, int* shared = nullptr) {
        std::vector<int32_t> t(tokens.begin(), tokens.end());
        int32_t r = -1, sh = -1;
        if (fl_prefix_lookup(ctx, t.data(), int32_t(t.size()), a, &r, &sh) != FL_OK) return -1;
        if (shared) *shared = sh;
        return r;
    }
    fl_kv_stats stats() const {
        fl_kv_stats st{};
        fl_context_kv_stats(ctx, &st);
        return st;
    }
    fl_adapter* load_adapter(const std::string& dir) {
        fl_adapter* a = nullptr;
        if (fl_adapter_load(model, dir.c_str(), nullptr, &a) != FL_OK) std::fprintf(stderr, "%s\n", fl_last_error());
        return a;
    }
};

std::vector<int> random_tokens(int n, int vocab, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int> t(n);
    for (int& v : t) v = static_cast<int>(rng() % vocab);
    return t;
}

std::vector<int> join(std::vector<int> a, const std::vector<int>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size() || a.empty()) return 1e30;
    double d = 0, m = 0;
    for (size_t i = 0; i < b.size(); i++) {
        d = std::max(d, double(std::fabs(a[i] - b[i])));
        m = std::max(m, double(std::fabs(b[i])));
    }
    return d / std::max(m, 1e-30);
}

struct Fixture {
    TempDir tmp;
    ModelSpec spec;
    TestModel model;
    Fixture(uint32_t seed) : model(make_model(spec, seed)) { write_model(model, tmp.path); }
    std::string adapter_dir(int i) {
        std::string d = tmp.sub("adapter" + std::to_string(i));
        write_adapter(model, make_adapter(model, 4, 8, {true, true, true, true, true, true, true}, 300 + i), d);
        return d;
    }
};

} // namespace

// A second prompt with the same 24-token prefix adopts it and computes only its own 3 tokens;
// logits bitwise equal to a fresh context's, for the base model and an adapter, chunked prefill
// (chunks of 6 cross the blocks of 4) included.
TEST(adopted_prefix_decodes_bitwise_like_a_recompute) {
    Fixture f(1);
    auto prefix = random_tokens(24, f.spec.vocab, 2);
    auto a = join(prefix, random_tokens(3, f.spec.vocab, 3));
    auto b = join(prefix, random_tokens(3, f.spec.vocab, 4));
    for (int with_adapter = 0; with_adapter < 2; with_adapter++) {
        for (int chunk : {kBlock, 6}) {
            Engine e(f.tmp.path), fresh(f.tmp.path);
            REQUIRE(e.ok() && fresh.ok());
            fl_adapter* ea = with_adapter ? e.load_adapter(f.adapter_dir(0)) : nullptr;
            fl_adapter* fa = with_adapter ? fresh.load_adapter(f.adapter_dir(0)) : nullptr;
            int reused = -1;
            e.cached_prefill(a, 0, ea, &reused, chunk);
            CHECK(reused == 0);
            CHECK(fl_seq_free(e.ctx, 0) == FL_OK);
            auto got = e.cached_prefill(b, 1, ea, &reused, chunk);
            CHECK_MSG(reused == 24, "reused %d", reused);
            // the fresh context computes b's prefix in a's batch shapes, then b's tail as e did
            fresh.prefill(std::vector<int>(b.begin(), b.begin() + 24), 0, fa, 0, chunk);
            auto want = fresh.prefill(b, 0, fa, 24, chunk);
            CHECK_MSG(got == want, "adapter %d chunk %d: max rel %g", with_adapter, chunk, max_rel(got, want));
            // and decoding on from there stays equal
            auto next = join(b, {7});
            CHECK(e.step(next, 1, 27, 1, ea) == fresh.step(next, 0, 27, 1, fa));
            // one shot, in whatever shapes: within the engine's batch-invariance tolerance
            Engine once(f.tmp.path);
            fl_adapter* oa = with_adapter ? once.load_adapter(f.adapter_dir(0)) : nullptr;
            auto one_shot = once.prefill(b, 0, oa, 0, 64);
            CHECK_MSG(max_rel(got, one_shot) <= 1e-5, "one shot: %g", max_rel(got, one_shot));
            fl_adapter_free(ea);
            fl_adapter_free(fa);
            fl_adapter_free(oa);
        }
    }
}

TEST(a_prompt_always_leaves_its_last_token_to_compute) {
    Fixture f(5);
    Engine e(f.tmp.path);
    REQUIRE(e.ok());
    auto t = random_tokens(16, f.spec.vocab, 6); // 4 full blocks
    e.prefill(t, 0);
    CHECK(e.lookup(t, nullptr) == 12); // the 4th block holds the last token: left to compute
    CHECK(e.lookup(join(t, {1}), nullptr) == 16);
    CHECK(e.lookup(std::vector<int>(t.begin(), t.begin() + 13), nullptr) == 12);
    CHECK(e.lookup({t[0]}, nullptr) == 0);
    CHECK(e.lookup({}, nullptr) == 0);
    // a partial block is never cached: a prompt diverging inside block 2 reuses blocks 0 and 1
    auto diverged = t;
    diverged[9] = (diverged[9] + 1) % f.spec.vocab;
    CHECK(e.lookup(diverged, nullptr) == 8);
}

TEST(different_adapters_never_share_blocks) {
    Fixture f(7);
    Engine e(f.tmp.path);
    REQUIRE(e.ok());
    fl_adapter* a0 = e.load_adapter(f.adapter_dir(0));
    fl_adapter* a1 = e.load_adapter(f.adapter_dir(1));
    REQUIRE(a0 && a1);
    auto t = random_tokens(21, f.spec.vocab, 8);
    e.prefill(t, 0, a0);
    CHECK(e.lookup(t, a0) == 20);
    CHECK(e.lookup(t, a1) == 0);
    CHECK(e.lookup(t, nullptr) == 0);
    e.prefill(t, 1, nullptr);
    CHECK(e.lookup(t, nullptr) == 20);
    CHECK(e.lookup(t, a1) == 0);
    // an adapter loaded again from the same files is a new adapter: nothing of the freed one matches
    CHECK(fl_seq_free(e.ctx, 0) == FL_OK);
    fl_adapter_free(a0);
    int32_t r = -1;
    std::vector<int32_t> tt(t.begin(), t.end());
    CHECK(fl_prefix_lookup(e.ctx, tt.data(), 21, a0, &r, nullptr) == FL_INVALID_ARGUMENT); // freed handle
    fl_adapter* again = e.load_adapter(f.adapter_dir(0));
    CHECK(e.lookup(t, again) == 0);
    // a sequence whose rows switch adapters registers nothing from the switch on
    e.prefill(std::vector<int>(t.begin(), t.begin() + 8), 2, a1);
    e.prefill(t, 2, again, 8);
    CHECK(e.lookup(t, a1) == 8);
    CHECK(e.lookup(t, again) == 0);
    fl_adapter_free(a1);
    fl_adapter_free(again);
}

// Rewinding into a registered block unregisters it (held alone) or copies it (shared): the index
// never serves the old contents under the old key, nor the new contents under it.
TEST(a_block_written_after_a_rewind_is_not_served_stale) {
    Fixture f(9);
    Engine e(f.tmp.path), fresh(f.tmp.path);
    REQUIRE(e.ok() && fresh.ok());
    auto a = random_tokens(27, f.spec.vocab, 10);
    auto x = a;
    for (int i = 5; i < 27; i++) x[i] = (a[i] * 7 + 3) % f.spec.vocab;
    e.prefill(a, 0);
    CHECK(e.lookup(a, nullptr) == 24);
    // seq 0 alone rewinds to position 5 and writes x's tokens (the fresh context does the same)
    e.prefill(x, 0, nullptr, 5);
    fresh.prefill(a, 0);
    auto want_x = fresh.prefill(x, 0, nullptr, 5);
    CHECK(e.lookup(a, nullptr) == 4); // block 1 (positions 4..7) now holds x's: a's key left the index
    CHECK(e.lookup(x, nullptr) == 24);
    int reused = -1;
    auto got_x = e.cached_prefill(x, 1, nullptr, &reused);
    CHECK(reused == 24);
    CHECK(got_x == want_x);
    auto got_a = e.cached_prefill(a, 2, nullptr, &reused);
    CHECK(reused == 4);
    CHECK(got_a == fresh.prefill(a, 2, nullptr));
    // shared: seq 3 forks seq 2 (a) and rewinds into the shared blocks; a's blocks stay cached
    REQUIRE(fl_seq_fork(e.ctx, 2, 3) == FL_OK);
    e.prefill(x, 3, nullptr, 5);
    CHECK(e.lookup(a, nullptr) == 24);
    CHECK(e.cached_prefill(a, 4, nullptr, &reused) == fresh.prefill(a, 4, nullptr));
    CHECK(reused == 24);
}

// A rewind that leaves the written block partial: the block keeps a's tokens as its key but not
// a's KV, so it must leave the index at once, not when it is full again.
TEST(a_block_left_partial_by_a_rewind_is_not_served) {
    Fixture f(17);
    Engine e(f.tmp.path), fresh(f.tmp.path);
    REQUIRE(e.ok() && fresh.ok());
    auto a = random_tokens(27, f.spec.vocab, 18);
    auto x = a;
    x[5] = (a[5] + 1) % f.spec.vocab;
    x[6] = (a[6] + 1) % f.spec.vocab;
    e.prefill(a, 0);
    CHECK(e.step(x, 0, 5, 2, nullptr).size() == size_t(f.spec.vocab)); // positions 5, 6 rewritten
    CHECK(e.lookup(a, nullptr) == 4);
    int reused = -1;
    CHECK(e.cached_prefill(a, 1, nullptr, &reused) == fresh.prefill(a, 1, nullptr));
    CHECK(reused == 4);
}

// A tiny pool and many prompts sharing prefixes: blocks are evicted and reused over and over, and
// every prompt's logits stay what a fresh context computes.
TEST(eviction_under_pressure_keeps_every_sequence_correct) {
    Fixture f(11);
    for (int32_t kv_dtype : {FL_DTYPE_F32, FL_DTYPE_BF16}) {
        int64_t block_bytes = int64_t(f.spec.layers) * 2 * kBlock * 32 * (kv_dtype == FL_DTYPE_F32 ? 4 : 2);
        Engine e(f.tmp.path, 20 * block_bytes, kv_dtype), fresh(f.tmp.path, 8 << 20, kv_dtype);
        REQUIRE(e.ok() && fresh.ok());
        REQUIRE(e.stats().total_blocks == 20);
        std::vector<std::vector<int>> prefixes;
        for (int p = 0; p < 4; p++) prefixes.push_back(random_tokens(8 + 4 * p, f.spec.vocab, 20 + p));
        std::mt19937 rng(12);
        int mismatches = 0, hits = 0;
        for (int i = 0; i < 60; i++) {
            auto prompt = join(prefixes[rng() % 4], random_tokens(1 + rng() % 9, f.spec.vocab, 100 + i));
            // two sequences at a time, so held blocks and reclaimable ones mix
            int seq = i % 2;
            CHECK(fl_seq_free(e.ctx, seq) == FL_OK);
            int reused = -1;
            auto got = e.cached_prefill(prompt, seq, nullptr, &reused);
            hits += reused > 0;
            auto want = fresh.prefill(prompt, 0);
            CHECK(fl_seq_free(fresh.ctx, 0) == FL_OK);
            if (got != want) mismatches++;
        }
        CHECK_MSG(mismatches == 0, "kv dtype %d: %d of 60 prompts differ", int(kv_dtype), mismatches);
        fl_kv_stats st = e.stats();
        CHECK_MSG(st.prefix_evictions > 10 && hits > 10, "evictions %lld hits %d", (long long)st.prefix_evictions,
                  hits);
        CHECK(st.free_blocks <= st.total_blocks && st.reclaimable_blocks <= st.free_blocks);
        CHECK(st.cached_blocks <= st.total_blocks);
        CHECK(fl_seq_free(e.ctx, 0) == FL_OK && fl_seq_free(e.ctx, 1) == FL_OK);
        CHECK(e.stats().free_blocks == 20);
    }
}

TEST(forks_share_cached_blocks_and_decode_exactly) {
    Fixture f(13);
    Engine e(f.tmp.path), fresh(f.tmp.path);
    REQUIRE(e.ok() && fresh.ok());
    auto prompt = random_tokens(26, f.spec.vocab, 14);
    const int start = e.stats().free_blocks;
    e.prefill(prompt, 0);
    REQUIRE(fl_seq_fork(e.ctx, 0, 1) == FL_OK);
    REQUIRE(fl_seq_fork(e.ctx, 0, 2) == FL_OK);
    CHECK(fl_seq_free(e.ctx, 0) == FL_OK);
    int shared = -1;
    CHECK(e.lookup(prompt, nullptr, &shared) == 24);
    CHECK(shared == 6); // held by the forks: adopting them takes nothing from the pool
    int before = e.stats().free_blocks;
    int reused = -1;
    auto got = e.cached_prefill(prompt, 3, nullptr, &reused);
    CHECK(reused == 24);
    CHECK(e.stats().free_blocks == before - 1); // only the partial last block
    CHECK(got == fresh.prefill(prompt, 0));
    // the forks and the adopter decode on like fresh prefills of the prompt
    REQUIRE(fl_seq_fork(fresh.ctx, 0, 1) == FL_OK);
    REQUIRE(fl_seq_fork(fresh.ctx, 0, 2) == FL_OK);
    for (int s = 1; s <= 3; s++) {
        auto next = join(prompt, {s});
        CHECK(e.step(next, s, 26, 1, nullptr) == fresh.step(next, s == 3 ? 0 : s, 26, 1, nullptr));
    }
    // a fork of an adopted sequence shares its blocks too
    REQUIRE(fl_seq_fork(e.ctx, 3, 4) == FL_OK);
    for (int s = 1; s <= 4; s++) CHECK(fl_seq_free(e.ctx, s) == FL_OK);
    fl_kv_stats st = e.stats();
    CHECK(st.free_blocks == start);
    CHECK(st.reclaimable_blocks == 6); // the prompt's full blocks stay cached, counted as free
    CHECK(st.cached_blocks == 6);
}

// The release clock stamps each block as it becomes reclaimable, and fl_kv_reclaim frees the oldest
// ones up to a stamp, so a caller can interleave its own least recently used items: a chain's end
// goes before its start (its prefix stays a hit), nothing newer than the stamp goes, and what is
// left still decodes exactly.
TEST(explicit_reclaim_takes_the_least_recently_released_blocks_up_to_a_stamp) {
    Fixture f(17);
    Engine e(f.tmp.path), fresh(f.tmp.path);
    REQUIRE(e.ok() && fresh.ok());
    auto a = random_tokens(13, f.spec.vocab, 18); // 3 full blocks, 12 positions to adopt
    auto b = random_tokens(9, f.spec.vocab, 19);  // 2 full blocks, 8 positions
    e.prefill(a, 0);
    e.prefill(b, 1);
    fl_kv_stats st = e.stats();
    CHECK(st.lru_clock == 0 && st.oldest_reclaimable_stamp == 0);

    CHECK(fl_seq_free(e.ctx, 0) == FL_OK); // a's blocks: stamps 1 (its end) .. 3 (its start)
    const int64_t after_a = e.stats().lru_clock;
    CHECK(after_a == 3);
    CHECK(fl_seq_free(e.ctx, 1) == FL_OK); // b's: 4 .. 5
    st = e.stats();
    CHECK(st.lru_clock == 5 && st.oldest_reclaimable_stamp == 1 && st.reclaimable_blocks == 5);

    int32_t n = -1;
    CHECK(fl_kv_reclaim(e.ctx, 1, 100, &n) == FL_OK && n == 1); // a's last block only
    CHECK(e.lookup(a, nullptr) == 8);
    CHECK(fl_kv_reclaim(e.ctx, after_a, 1, &n) == FL_OK && n == 1); // at most max_blocks
    CHECK(e.lookup(a, nullptr) == 4);
    CHECK(fl_kv_reclaim(e.ctx, after_a, 100, &n) == FL_OK && n == 1); // the rest of a, none of b
    CHECK(e.lookup(a, nullptr) == 0);
    CHECK(e.lookup(b, nullptr) == 8);
    st = e.stats();
    CHECK(st.reclaimable_blocks == 2 && st.free_blocks == st.total_blocks);
    CHECK(st.prefix_evictions == 3 && st.oldest_reclaimable_stamp == 4 && st.lru_clock == 5);
    CHECK(fl_kv_reclaim(e.ctx, 0, 100, &n) == FL_OK && n == 0);  // older than every block
    CHECK(fl_kv_reclaim(e.ctx, -1, 100, &n) == FL_OK && n == 0); // likewise
    CHECK(fl_kv_reclaim(e.ctx, 5, 0, &n) == FL_OK && n == 0);

    // b is still served exactly; adopting takes its blocks out of the LRU list, and releasing them
    // again stamps them anew
    int reused = -1;
    auto got = e.cached_prefill(b, 2, nullptr, &reused);
    CHECK(reused == 8);
    fresh.prefill(std::vector<int>(b.begin(), b.begin() + 8), 0);
    CHECK(got == fresh.prefill(b, 0, nullptr, 8));
    st = e.stats();
    CHECK(st.reclaimable_blocks == 0 && st.oldest_reclaimable_stamp == 0);
    CHECK(fl_seq_free(e.ctx, 2) == FL_OK);
    st = e.stats();
    CHECK(st.reclaimable_blocks == 2 && st.oldest_reclaimable_stamp == 6 && st.lru_clock == 7);
    CHECK(st.prefix_evictions == 3); // nothing reclaimed implicitly: blocks were free

    CHECK(fl_kv_reclaim(e.ctx, 7, -1, &n) == FL_INVALID_ARGUMENT);
    CHECK(fl_kv_reclaim(nullptr, 7, 1, &n) == FL_INVALID_ARGUMENT);
    CHECK(fl_kv_reclaim(e.ctx, 7, 100, nullptr) == FL_OK);
    st = e.stats();
    CHECK(st.reclaimable_blocks == 0 && st.cached_blocks == 0 && st.free_blocks == st.total_blocks);
}

TEST(counters_and_argument_checks) {
    Fixture f(15);
    Engine e(f.tmp.path);
    REQUIRE(e.ok());
    fl_kv_stats st = e.stats();
    CHECK(st.prefix_lookups == 0 && st.cached_blocks == 0 && st.reclaimable_blocks == 0);
    auto t = random_tokens(10, f.spec.vocab, 16);
    int reused = -1;
    e.cached_prefill(t, 0, nullptr, &reused);
    CHECK(reused == 0);
    st = e.stats();
    CHECK(st.prefix_lookups == 1 && st.prefix_lookup_tokens == 10 && st.prefix_hit_tokens == 0);
    CHECK(st.cached_blocks == 2 && st.reclaimable_blocks == 0);
    CHECK(fl_seq_free(e.ctx, 0) == FL_OK);
    st = e.stats();
    CHECK(st.reclaimable_blocks == 2 && st.free_blocks == st.total_blocks);
    e.cached_prefill(t, 1, nullptr, &reused);
    CHECK(reused == 8);
    st = e.stats();
    CHECK(st.prefix_lookups == 2 && st.prefix_lookup_tokens == 20 && st.prefix_hit_tokens == 8);
    CHECK(st.reclaimable_blocks == 0 && st.free_blocks == st.total_blocks - 3);
    CHECK(st.prefix_evictions == 0);

    std::vector<int32_t> tt(t.begin(), t.end());
    int32_t r = -1;
    CHECK(fl_seq_adopt_prefix(e.ctx, 1, tt.data(), 10, nullptr, &r) == FL_INVALID_ARGUMENT); // not empty
    CHECK(std::string(fl_last_error()).find("not empty") != std::string::npos);
    CHECK(fl_seq_adopt_prefix(e.ctx, 99, tt.data(), 10, nullptr, &r) == FL_INVALID_ARGUMENT);
    CHECK(fl_seq_adopt_prefix(e.ctx, 2, tt.data(), 10, nullptr, nullptr) == FL_INVALID_ARGUMENT);
    CHECK(fl_seq_adopt_prefix(e.ctx, 2, nullptr, 10, nullptr, &r) == FL_INVALID_ARGUMENT);
    CHECK(fl_seq_adopt_prefix(e.ctx, 2, tt.data(), -1, nullptr, &r) == FL_INVALID_ARGUMENT);
    tt[3] = f.spec.vocab;
    CHECK(fl_seq_adopt_prefix(e.ctx, 2, tt.data(), 10, nullptr, &r) == FL_INVALID_ARGUMENT);
    CHECK(std::string(fl_last_error()).find("outside") != std::string::npos);
    CHECK(fl_prefix_lookup(nullptr, tt.data(), 10, nullptr, &r, nullptr) == FL_INVALID_ARGUMENT);
    int32_t len = -1;
    CHECK(fl_seq_length(e.ctx, 2, &len) == FL_OK && len == 0);
    CHECK(e.stats().prefix_lookups == 2); // refused calls count nothing
}

TEST_MAIN()
