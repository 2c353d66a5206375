// test-device.cpp - device strings, the device probe and what asking for a missing device does.
// Written to hold on any machine: with no GPU (here, CI) device 0 is the missing one; with GPUs,
// the ordinal after the last.
#include <string>
#include <vector>

#include "batch.h"
#include "context.h"
#include "cuda/step-meta.h"
#include "device.h"
#include "error.h"
#include "flotilla_engine.h"
#include "test-model.h"
#include "test.h"

using namespace fltest;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The status and message parse_device gives for text.
fl_status parse_status(const char* text, std::string* message = nullptr) {
    try {
        fl::parse_device(text);
        return FL_OK;
    } catch (const fl::Error& e) {
        if (message) *message = e.what();
        return e.status();
    }
}

} // namespace

TEST(device_strings_parse) {
    CHECK(!fl::parse_device("cpu").is_cuda());
    CHECK(!fl::parse_device("").is_cuda());
    CHECK(!fl::parse_device(nullptr).is_cuda());
    fl::Device d = fl::parse_device("cuda:0");
    CHECK(d.is_cuda() && d.index == 0 && d.name() == "cuda:0");
    d = fl::parse_device("cuda:7");
    CHECK(d.is_cuda() && d.index == 7);
    CHECK(fl::parse_device("cuda:1023").index == 1023);
    CHECK(fl::parse_device("cpu").name() == "cpu");
}

TEST(bad_device_strings_are_rejected_by_name) {
    for (const char* bad : {"gpu", "cuda", "cuda:", "cuda:-1", "cuda:01", "cuda:1024", "cuda:99999", "cuda:1x",
                            "CUDA:0", " cpu", "cuda:+1"}) {
        std::string msg;
        CHECK_MSG(parse_status(bad, &msg) == FL_INVALID_ARGUMENT, "'%s' was accepted", bad);
        CHECK_MSG(contains(msg, std::string("'") + bad + "'") && contains(msg, "cuda:N"), "%s", msg.c_str());
    }
}

TEST(device_count_comes_with_a_reason) {
    int n = fl_device_count();
    CHECK(n >= 0);
    std::string reason = fl_device_unavailable_reason();
    if (n == 0) {
        CHECK_MSG(!reason.empty(), "no devices and no reason");
        CHECK_MSG(contains(reason, "driver") || contains(reason, "without CUDA") || contains(reason, "CUDA"), "%s",
                  reason.c_str());
    } else {
        CHECK(reason.empty());
    }
    CHECK(fl_device_count() == n); // probed once
}

TEST(device_info_of_a_missing_device_fails_cleanly) {
    int n = fl_device_count();
    fl_device_info info;
    CHECK(fl_device_get_info(n, &info) == FL_DEVICE_UNAVAILABLE);
    CHECK_MSG(contains(fl_last_error(), "cuda:" + std::to_string(n)), "%s", fl_last_error());
    CHECK(fl_device_get_info(-1, &info) == FL_INVALID_ARGUMENT);
    CHECK(fl_device_get_info(0, nullptr) == FL_INVALID_ARGUMENT);
    for (int i = 0; i < n; i++) {
        REQUIRE(fl_device_get_info(i, &info) == FL_OK);
        CHECK(info.name[0] != 0 && info.total_bytes > 0 && info.free_bytes <= info.total_bytes);
        CHECK(info.compute_major >= 8 && info.multiprocessors > 0 && info.engine_bytes >= 0);
    }
    CHECK(std::string(fl_status_name(FL_DEVICE_UNAVAILABLE)) == "FL_DEVICE_UNAVAILABLE");
}

TEST(a_model_on_a_missing_cuda_device_fails_with_the_reason) {
    TempDir tmp;
    ModelSpec s;
    write_model(make_model(s, 5), tmp.path);
    int n = fl_device_count();
    std::string device = "cuda:" + std::to_string(n);
    fl_model_params p = fl_model_default_params();
    p.device = device.c_str();
    fl_model* model = nullptr;
    CHECK(fl_model_load(tmp.path.c_str(), &p, &model) == FL_DEVICE_UNAVAILABLE);
    CHECK(model == nullptr);
    std::string msg = fl_last_error();
    CHECK_MSG(contains(msg, device + " is not available"), "%s", msg.c_str());
    if (n == 0) CHECK_MSG(contains(msg, fl_device_unavailable_reason()), "%s", msg.c_str());

    p.device = "tpu:0";
    CHECK(fl_model_load(tmp.path.c_str(), &p, &model) == FL_INVALID_ARGUMENT);
    CHECK(contains(fl_last_error(), "'tpu:0'"));

    // The default and "cpu" load on the CPU.
    p.device = "cpu";
    REQUIRE(fl_model_load(tmp.path.c_str(), &p, &model) == FL_OK);
    fl_model_info info;
    REQUIRE(fl_model_get_info(model, &info) == FL_OK);
    CHECK(info.cuda_device == -1);
    fl_model_free(model);
    CHECK(std::string(fl_model_default_params().device) == "cpu");
}

// --- the host side of the device step --------------------------------------------------------

// A BF16 KV pool kept elsewhere (the device's) holds twice the blocks of an F32 one in the same
// budget.
TEST(kv_blocks_in_bf16_are_half_the_bytes) {
    fl::KvCache f32(16, 2, 64, 1 << 20, 4, 512, fl::DType::F32);
    fl::KvCache bf16(16, 2, 64, 1 << 20, 4, 512, fl::DType::BF16, false);
    CHECK(bf16.bytes_per_block() * 2 == f32.bytes_per_block());
    CHECK(bf16.total_blocks() == 2 * f32.total_blocks());
}

// The metadata a device step reads: tokens, positions, attention ranges (a sliding window here),
// block tables, and each row's K/V slot, which must be where the host KvCache puts that position.
TEST(step_meta_matches_the_kv_cache_layout) {
    TempDir tmp;
    ModelSpec s;
    s.arch = "MistralForCausalLM";
    s.sliding_window = 8;
    write_model(make_model(s, 17), tmp.path);
    fl_model* model = nullptr;
    REQUIRE(fl_model_load(tmp.path.c_str(), nullptr, &model) == FL_OK);
    fl_context_params p = fl_context_default_params();
    p.kv_block_size = 4;
    p.kv_budget_bytes = 1 << 20;
    p.max_sequences = 4;
    p.n_threads = 1;
    fl_context* ctx = nullptr;
    REQUIRE(fl_context_create(model, &p, &ctx) == FL_OK);
    std::vector<float> logits(s.vocab * 16);

    // seq 0: 10 positions (block 0 is its first: the free list hands out block 0 first), seq 1: 3
    auto step = [&](std::vector<int32_t> tok, std::vector<int32_t> seq, std::vector<int32_t> pos) {
        fl_batch b{int(tok.size()),        tok.data(), seq.data(), pos.data(), nullptr, nullptr, logits.data(),
                   int64_t(logits.size()), nullptr,    nullptr,    0};
        return fl_decode(ctx, &b);
    };
    REQUIRE(step({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, std::vector<int32_t>(10, 0), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) ==
            FL_OK);
    REQUIRE(step({4, 5, 6}, {1, 1, 1}, {0, 1, 2}) == FL_OK);

    // the next step: a decode row of seq 1, then three prefill rows of seq 0 crossing a block
    std::vector<int32_t> tok = {7, 8, 9, 10}, seq = {1, 0, 0, 0}, pos = {3, 10, 11, 12};
    std::vector<int8_t> want = {1, 0, 0, 1};
    fl_batch b{4,       tok.data(), seq.data(), pos.data(), nullptr, want.data(), logits.data(), int64_t(logits.size()),
               nullptr, nullptr,    0};
    fl::Context& c = *ctx->ctx;
    fl::plan_batch(c, b, c.plan);
    for (const fl::SeqRun& r : c.plan.runs) c.kv.prepare_write(r.seq, r.pos0, r.pos0 + r.n); // as fl_decode
    fl::StepMeta m;
    fl::build_step_meta(c.plan, b, c.kv, c.model->cfg, m);

    CHECK(m.token == tok && m.pos == pos);
    CHECK((m.row_run == std::vector<int32_t>{0, 1, 1, 1}));
    CHECK((m.out_rows == std::vector<int32_t>{0, 3}));
    CHECK((m.lo == std::vector<int32_t>{0, 3, 4, 5})); // window of 8 ending at pos
    REQUIRE(m.block_off.size() == 2);
    CHECK(std::vector<int32_t>(m.blocks.begin() + m.block_off[0], m.blocks.begin() + m.block_off[1]) == c.kv.blocks(1));
    CHECK(std::vector<int32_t>(m.blocks.begin() + m.block_off[1], m.blocks.end()) == c.kv.blocks(0));
    CHECK(c.kv.blocks(0).size() == 4); // 13 positions in blocks of 4
    const int kv_dim = c.model->cfg.kv_dim(), L = c.model->cfg.n_layers, bs = 4;
    // element offsets in the pool (BF16, the default and the device's dtype)
    REQUIRE(c.kv.dtype() == fl::DType::BF16);
    const uint16_t* base = static_cast<const uint16_t*>(c.kv.k(0, 0, 0));
    auto at = [&](void* row) { return static_cast<const uint16_t*>(row) - base; };
    for (int i = 0; i < 4; i++) {
        CHECK_MSG(at(c.kv.k(seq[i], 0, pos[i])) == m.kv_row[i], "row %d", i);
        for (int l = 0; l < L; l++) {
            const int64_t layer = int64_t(l) * 2 * bs * kv_dim;
            CHECK(at(c.kv.k(seq[i], l, pos[i])) == m.kv_row[i] + layer);
            CHECK(at(c.kv.v(seq[i], l, pos[i])) == m.kv_row[i] + layer + bs * kv_dim);
            CHECK(fl::kv_offset(c.kv.blocks(seq[i])[pos[i] / bs], l, 1, pos[i] % bs, L, bs, kv_dim) ==
                  at(c.kv.v(seq[i], l, pos[i])));
        }
    }
    for (const fl::Adapter* a : m.adapter) CHECK(a == nullptr);
    fl_context_free(ctx);
    fl_model_free(model);
}

// The CUDA backend has no hidden-state output: a batch that wants it is refused by name before the
// KV cache changes. Needs a GPU; on a machine without one (CI here) there is no CUDA context to ask,
// and the check runs where tools/gpu-check runs.
TEST(hidden_output_on_a_cuda_device_is_refused_by_name) {
    if (fl_device_count() == 0) return;
    TempDir tmp;
    ModelSpec s;
    write_model(make_model(s, 23), tmp.path);
    fl_model_params mp = fl_model_default_params();
    mp.device = "cuda:0";
    fl_model* model = nullptr;
    REQUIRE(fl_model_load(tmp.path.c_str(), &mp, &model) == FL_OK);
    fl_context_params p = fl_context_default_params();
    p.kv_budget_bytes = 1 << 20;
    p.max_sequences = 4;
    fl_context* ctx = nullptr;
    REQUIRE(fl_context_create(model, &p, &ctx) == FL_OK);
    int32_t tok = 1, seq = 0, pos = 0;
    int8_t want = 1;
    std::vector<float> logits(s.vocab), hidden(s.hidden);
    fl_batch b{1,
               &tok,
               &seq,
               &pos,
               nullptr,
               &want,
               logits.data(),
               int64_t(logits.size()),
               &want,
               hidden.data(),
               int64_t(hidden.size())};
    CHECK(fl_decode(ctx, &b) == FL_UNSUPPORTED);
    CHECK(contains(fl_last_error(), "want_hidden"));
    int32_t len = -1;
    fl_seq_length(ctx, 0, &len);
    CHECK(len == 0);
    fl_context_free(ctx);
    fl_model_free(model);
}

TEST_MAIN()
