// 4-bit weights: the kernels against a reference on the dequantized weights, AVX2 against scalar
// bitwise, batch invariance; AWQ and GPTQ (sym, asym, act-order) checkpoints through the C API
// against the F32 engine on exactly the weights they hold; LoRA on a 4-bit base; bad configs.
//
// Tolerances: the kernel against a double-precision product of the dequantized weights and the
// quantized activations (what the kernel computes, rounding apart): relative L2 <= 1e-5. The 4-bit
// engine's logits against the F32 engine's on the dequantized weights: relative L2 <= 3e-2 (the
// activations are int8 per group of 128, q4.h) and greedy agreement >= 90%. A checkpoint read with
// the wrong nibble order, zero convention or g_idx lands far outside (asserted >= 5x the bound;
// measured 1.0, 1.3 and 0.25 against 0.013 for the right reading).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "flotilla_engine.h"
#include "kernels/kernels.h"
#include "kernels/q4.h"
#include "model.h"
#include "q4-checkpoint.h"
#include "test-model.h"
#include "test.h"

using namespace fltest;
namespace kern = fl::kern;

namespace {

constexpr double kEngineTol = 3e-2;

struct Engine {
    fl_model* model = nullptr;
    fl_context* ctx = nullptr;
    fl_model_info info{};
    fl_status load_status = FL_OK;
    std::string error;
    explicit Engine(const std::string& dir) {
        fl_model_params mp = fl_model_default_params();
        load_status = fl_model_load(dir.c_str(), &mp, &model);
        if (load_status != FL_OK) {
            error = fl_last_error();
            return;
        }
        fl_model_get_info(model, &info);
        fl_context_params p = fl_context_default_params();
        p.kv_budget_bytes = 8 << 20;
        p.max_batch_tokens = 256;
        p.max_sequences = 4;
        p.n_threads = 2;
        if (fl_context_create(model, &p, &ctx) != FL_OK) std::fprintf(stderr, "ctx failed: %s\n", fl_last_error());
    }
    ~Engine() {
        fl_context_free(ctx);
        fl_model_free(model);
    }
    bool ok() const { return ctx != nullptr; }
    std::vector<float> prefill(const std::vector<int>& tokens, fl_adapter* a = nullptr) {
        const int n = int(tokens.size());
        std::vector<int32_t> tok(tokens.begin(), tokens.end()), seq(n, 0), pos(n);
        for (int i = 0; i < n; i++) pos[i] = i;
        std::vector<fl_adapter*> ad(n, a);
        std::vector<int8_t> want(n, 1);
        std::vector<float> out(size_t(n) * info.vocab_size);
        fl_batch b{n, tok.data(), seq.data(), pos.data(), ad.data(), want.data(), out.data(), int64_t(out.size())};
        if (fl_decode(ctx, &b) != FL_OK) {
            std::fprintf(stderr, "decode failed: %s\n", fl_last_error());
            return {};
        }
        fl_seq_free(ctx, 0);
        return out;
    }
};

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0, n = 0;
    for (size_t i = 0; i < b.size(); i++) {
        d += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        n += double(b[i]) * b[i];
    }
    return std::sqrt(d / std::max(n, 1e-300));
}

double greedy_agreement(const std::vector<float>& a, const std::vector<float>& b, int vocab) {
    const size_t rows = b.size() / vocab;
    size_t same = 0;
    for (size_t r = 0; r < rows; r++) {
        auto ia = std::max_element(a.begin() + r * vocab, a.begin() + (r + 1) * vocab) - (a.begin() + r * vocab);
        auto ib = std::max_element(b.begin() + r * vocab, b.begin() + (r + 1) * vocab) - (b.begin() + r * vocab);
        same += ia == ib;
    }
    return double(same) / double(rows);
}

std::vector<int> random_tokens(int n, int vocab, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int> t(n);
    for (int& v : t) v = static_cast<int>(rng() % vocab);
    return t;
}

ModelSpec q4_spec() {
    ModelSpec s;
    s.hidden = 128;
    s.inter = 256;
    s.heads = 4;
    s.kv_heads = 2;
    s.vocab = 300;
    s.dtype = DType::F16; // embeddings, norms and head as AWQ / GPTQ checkpoints store them
    return s;
}

RawTensor raw_of(const StEntry& e) {
    RawTensor r{e.name, e.dtype == DType::F32 ? "F32" : e.dtype == DType::F16 ? "F16" : "BF16", e.shape, {}};
    for (float v : e.values) {
        if (e.dtype == DType::F32) {
            r.bytes.append(reinterpret_cast<const char*>(&v), 4);
        } else {
            const uint16_t h = e.dtype == DType::F16 ? fl::f32_to_f16(v) : fl::f32_to_bf16(v);
            r.bytes.append(reinterpret_cast<const char*>(&h), 2);
        }
    }
    return r;
}

// Writes m as a 4-bit checkpoint to q4_dir and the weights it holds, as F32, to f32_dir.
void write_q4_pair(TestModel m, const Q4Options& o, const std::string& q4_dir, const std::string& f32_dir) {
    std::vector<RawTensor> out;
    for (int l = 0; l < m.spec.layers; l++)
        for (int p = 0; p < 7; p++) {
            Q4Options op = o;
            op.seed = o.seed + uint32_t(l * 7 + p);
            quantize_q4(m.layers[l].w[p], m.out_dim(p), m.in_dim(p),
                        "model.layers." + std::to_string(l) + "." + kProjModules[p], op, out);
        }
    for (const StEntry& e : model_entries(m))
        if (e.name.find(".self_attn.") == std::string::npos && e.name.find(".mlp.") == std::string::npos)
            out.push_back(raw_of(e));
    std::string cfg = config_json(m.spec);
    cfg = cfg.substr(0, cfg.size() - 1) + ",\"quantization_config\":" + q4_quantization_config(o) + "}";
    write_file(q4_dir + "/config.json", cfg);
    write_file(q4_dir + "/model.safetensors", safetensors_raw(out));
    m.spec.dtype = DType::F32; // the dequantized values, exactly
    write_model(m, f32_dir);
}

struct Pair {
    double err, agree;
    int64_t q4_bytes, f32_bytes;
};

Pair compare(const Q4Options& o, uint32_t seed, bool lora = false) {
    TempDir tmp;
    const std::string qd = tmp.sub("q4"), fd = tmp.sub("f32");
    TestModel m = make_model(q4_spec(), seed);
    write_q4_pair(m, o, qd, fd);
    Engine q(qd), f(fd);
    if (!q.ok() || !f.ok()) {
        std::fprintf(stderr, "load failed: %s\n", q.error.c_str());
        return {1e9, 0, 0, 0};
    }
    fl_adapter* aq = nullptr;
    fl_adapter* af = nullptr;
    if (lora) {
        const std::string ad = tmp.sub("adapter");
        write_adapter(m, make_adapter(m, 8, 16, {true, true, true, true, true, true, true}, seed + 5), ad);
        fl_adapter_params ap = fl_adapter_default_params();
        ap.storage = FL_ADAPTER_STORAGE_F32; // the same adapter weights on both bases
        if (fl_adapter_load(q.model, ad.c_str(), &ap, &aq) != FL_OK ||
            fl_adapter_load(f.model, ad.c_str(), &ap, &af) != FL_OK) {
            std::fprintf(stderr, "adapter failed: %s\n", fl_last_error());
            return {1e9, 0, 0, 0};
        }
    }
    auto tokens = random_tokens(48, m.spec.vocab, seed + 1);
    auto lq = q.prefill(tokens, aq), lf = f.prefill(tokens, af);
    fl_adapter_free(aq);
    fl_adapter_free(af);
    if (lq.empty() || lq.size() != lf.size()) return {1e9, 0, 0, 0};
    return {rel_l2(lq, lf), greedy_agreement(lq, lf, m.spec.vocab), q.info.weight_bytes, f.info.weight_bytes};
}

// Random 4-bit weights, packed, and their dequantized F32 values [N, K] in the original column order.
struct RandomQ4 {
    std::vector<char> packed;
    std::vector<float> w;
};

RandomQ4 random_q4(int N, int K, bool perm, std::mt19937& rng) {
    const int groups = K / kern::kQ4Group;
    std::vector<uint8_t> q(size_t(N) * K), z(size_t(N) * groups);
    std::vector<uint16_t> s(size_t(N) * groups);
    std::vector<int32_t> p(K);
    std::iota(p.begin(), p.end(), 0);
    if (perm) std::shuffle(p.begin(), p.end(), rng);
    std::uniform_real_distribution<float> su(0.001f, 0.05f);
    for (auto& v : q) v = uint8_t(rng() % 16);
    for (auto& v : z) v = uint8_t(rng() % 17);
    for (auto& v : s) v = fl::f32_to_f16(su(rng));
    RandomQ4 r;
    r.packed.resize(kern::packed_q4_bytes(N, K, perm));
    kern::pack_weight_q4(q.data(), s.data(), z.data(), perm ? p.data() : nullptr, N, K, r.packed.data());
    r.w.resize(size_t(N) * K);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < K; c++)
            r.w[size_t(n) * K + p[c]] =
                fl::f16_to_f32(s[size_t(n) * groups + c / kern::kQ4Group]) *
                float(int(q[size_t(n) * K + c]) - int(z[size_t(n) * groups + c / kern::kQ4Group]));
    return r;
}

} // namespace

TEST(q4_gemm_matches_the_dequantized_product) {
    std::mt19937 rng(7);
    const kern::Kernels* avx2 = kern::kernels_for(kern::Isa::Avx2);
    for (bool perm : {false, true})
        for (int M : {1, 3, 16}) {
            const int N = 72, K = 384; // a partial last panel, three groups
            RandomQ4 w = random_q4(N, K, perm, rng);
            std::normal_distribution<float> nd(0, 1);
            std::vector<float> X(size_t(M) * K);
            for (float& v : X) v = nd(rng);
            X[5] = 40.0f; // an outlier: its group's scale grows
            std::vector<float> y(size_t(M) * N), y2(size_t(M) * N, -1);
            std::vector<char> xp(kern::pack_x_q4_bytes(M, K));
            kern::pack_x_q4(X.data(), K, M, K, xp.data());
            kern::gemm_q4_scalar(M, K, xp.data(), w.packed.data(), N, 0, 3, y.data(), N);
            // reference: the dequantized weights times the activations as the kernel quantizes them
            std::vector<double> ref(y.size()), exact(y.size());
            const int groups = K / kern::kQ4Group;
            const int32_t* p =
                perm ? reinterpret_cast<const int32_t*>(w.packed.data() + w.packed.size() - size_t(K) * 4) : nullptr;
            for (int m = 0; m < M; m++) {
                std::vector<int8_t> xq(K);
                std::vector<float> sx(groups);
                std::vector<int32_t> sum(groups);
                kern::quantize_x_q4(X.data() + size_t(m) * K, p, K, xq.data(), sx.data(), sum.data());
                // the quantization as q4.h states it
                for (int c = 0; c < K; c++) {
                    const float v = X[size_t(m) * K + (p ? p[c] : c)] / sx[c / kern::kQ4Group];
                    CHECK(std::fabs(float(xq[c]) - std::nearbyint(v)) <=
                          (std::fabs(v - std::trunc(v)) == 0.5f ? 1 : 0));
                }
                for (int n = 0; n < N; n++)
                    for (int c = 0; c < K; c++) {
                        const int k = p ? p[c] : c;
                        const double wv = w.w[size_t(n) * K + k];
                        ref[size_t(m) * N + n] += wv * double(xq[c]) * sx[c / kern::kQ4Group];
                        exact[size_t(m) * N + n] += wv * X[size_t(m) * K + k];
                        CHECK(std::fabs(kern::q4_weight_at(w.packed.data(), n, k) - float(wv)) == 0.0f);
                    }
            }
            double d = 0, nn = 0, de = 0;
            for (size_t i = 0; i < y.size(); i++) {
                d += (y[i] - ref[i]) * (y[i] - ref[i]);
                de += (y[i] - exact[i]) * (y[i] - exact[i]);
                nn += ref[i] * ref[i];
            }
            CHECK_MSG(std::sqrt(d / nn) <= 1e-5, "perm %d M %d: relative L2 %g", perm, M, std::sqrt(d / nn));
            // against the unquantized activations: int8 per group of 128
            CHECK_MSG(std::sqrt(de / nn) <= 4e-2, "perm %d M %d: relative L2 to F32 activations %g", perm, M,
                      std::sqrt(de / nn));
            if (avx2) {
                kern::gemm_q4_avx2(M, K, xp.data(), w.packed.data(), N, 0, 3, y2.data(), N);
                CHECK_MSG(std::memcmp(y.data(), y2.data(), y.size() * 4) == 0, "perm %d M %d: AVX2 != scalar", perm, M);
            }
            // batch invariance: each row alone gives the same bits; panels split across calls too
            for (int m = 0; m < M; m++) {
                std::vector<float> one(N, -1);
                std::vector<char> xp1(kern::pack_x_q4_bytes(1, K));
                kern::pack_x_q4(X.data() + size_t(m) * K, K, 1, K, xp1.data());
                kern::gemm_q4_scalar(1, K, xp1.data(), w.packed.data(), N, 0, 1, one.data(), N);
                kern::gemm_q4_scalar(1, K, xp1.data(), w.packed.data(), N, 1, 3, one.data(), N);
                CHECK(std::memcmp(one.data(), y.data() + size_t(m) * N, size_t(N) * 4) == 0);
            }
        }
}

TEST(q4_checkpoints_match_the_f32_engine_on_their_weights) {
    struct Case {
        const char* name;
        Q4Options o;
    };
    std::vector<Case> cases;
    cases.push_back({"awq", Q4Options{}});
    Q4Options g;
    g.layout = Q4Layout::Gptq;
    cases.push_back({"gptq asym", g});
    g.sym = true;
    cases.push_back({"gptq sym", g});
    g.sym = false;
    g.act_order = true;
    cases.push_back({"gptq act-order", g});
    g.sym = true;
    cases.push_back({"gptq sym act-order", g});
    uint32_t seed = 500;
    for (const Case& c : cases) {
        const Pair r = compare(c.o, seed);
        CHECK_MSG(r.err <= kEngineTol, "%s isa=%s: relative L2 %g", c.name, fl_engine_isa(), r.err);
        CHECK_MSG(r.agree >= 0.9, "%s: greedy agreement %.3f", c.name, r.agree);
        // the projections are about a sixth of F32 (4 bits + F16 scale and zero per 128)
        CHECK_MSG(r.q4_bytes > 0 && r.q4_bytes < r.f32_bytes, "%s: %lld bytes against F32 %lld", c.name,
                  (long long)r.q4_bytes, (long long)r.f32_bytes);
        seed += 10;
    }
}

TEST(q4_reading_the_wrong_layout_is_caught) {
    Q4Options awq;
    awq.plain_nibble_order = true;
    Q4Options gz;
    gz.layout = Q4Layout::Gptq;
    gz.zeros_not_minus_one = true;
    Q4Options gi;
    gi.layout = Q4Layout::Gptq;
    gi.act_order = true;
    gi.trivial_g_idx = true;
    for (const Q4Options& o : {awq, gz, gi}) {
        const Pair r = compare(o, 600);
        CHECK_MSG(r.err >= 5 * kEngineTol, "a wrong layout gives relative L2 %g only", r.err);
    }
}

TEST(q4_a_rows_logits_do_not_depend_on_the_other_rows) {
    TempDir tmp;
    Q4Options g;
    g.layout = Q4Layout::Gptq;
    g.act_order = true; // the permuted path re-quantizes per call: still per row
    TestModel m = make_model(q4_spec(), 800);
    write_q4_pair(m, g, tmp.sub("q4"), tmp.sub("f32"));
    Engine e(tmp.path + "/q4");
    REQUIRE(e.ok());
    const auto a = random_tokens(20, m.spec.vocab, 801), b = random_tokens(13, m.spec.vocab, 802);
    const std::vector<float> alone = e.prefill(a);
    // a and b in one batch, b's rows first
    const int n = int(a.size() + b.size());
    std::vector<int32_t> tok, seq, pos;
    for (size_t i = 0; i < b.size(); i++) tok.push_back(b[i]), seq.push_back(1), pos.push_back(int32_t(i));
    for (size_t i = 0; i < a.size(); i++) tok.push_back(a[i]), seq.push_back(0), pos.push_back(int32_t(i));
    std::vector<fl_adapter*> ad(n, nullptr);
    std::vector<int8_t> want(n, 1);
    std::vector<float> out(size_t(n) * m.spec.vocab);
    fl_batch batch{n, tok.data(), seq.data(), pos.data(), ad.data(), want.data(), out.data(), int64_t(out.size())};
    REQUIRE(fl_decode(e.ctx, &batch) == FL_OK);
    REQUIRE(alone.size() == a.size() * m.spec.vocab);
    CHECK(std::memcmp(alone.data(), out.data() + b.size() * m.spec.vocab, alone.size() * 4) == 0);
}

TEST(q4_the_output_head_is_int8) {
    // untied: the head quantized to I8, the embedding as stored; tied: the shared embedding is the head
    for (bool tie : {false, true}) {
        TempDir tmp;
        ModelSpec spec = q4_spec();
        spec.tie = tie;
        TestModel m = make_model(spec, 900);
        write_q4_pair(m, Q4Options{}, tmp.sub("q4"), tmp.sub("f32"));
        std::shared_ptr<fl::Model> model = fl::load_model(tmp.path + "/q4");
        CHECK_MSG(model->output().dtype == DType::I8, "tie %d: head %s", tie, fl::dtype_name(model->output().dtype));
        CHECK_MSG(model->embed.dtype == (tie ? DType::I8 : DType::F16), "tie %d: embedding %s", tie,
                  fl::dtype_name(model->embed.dtype));
        CHECK(model->layer_dtype == DType::Q4);
        // the logits stay within the bound of the F32 engine on the weights the checkpoint holds
        Engine q(tmp.path + "/q4"), f(tmp.path + "/f32");
        REQUIRE(q.ok() && f.ok());
        const auto tokens = random_tokens(32, spec.vocab, 901);
        const auto lq = q.prefill(tokens), lf = f.prefill(tokens);
        REQUIRE(!lq.empty() && lq.size() == lf.size());
        CHECK_MSG(rel_l2(lq, lf) <= kEngineTol, "tie %d: relative L2 %g", tie, rel_l2(lq, lf));
    }
}

TEST(q4_lora_applies_on_a_4bit_base) {
    Q4Options g;
    g.layout = Q4Layout::Gptq;
    g.act_order = true;
    const Pair r = compare(g, 700, true);
    CHECK_MSG(r.err <= kEngineTol, "relative L2 %g", r.err);
    CHECK_MSG(r.agree >= 0.9, "greedy agreement %.3f", r.agree);
}

TEST(q4_unsupported_configs_name_the_key) {
    struct Case {
        std::string qc, expect;
    };
    const std::vector<Case> cases = {
        {R"({"quant_method":"awq","bits":8,"group_size":128,"zero_point":true,"version":"gemm"})", "bits = 8"},
        {R"({"quant_method":"awq","bits":4,"group_size":64,"zero_point":true,"version":"gemm"})", "group_size = 64"},
        {R"({"quant_method":"awq","bits":4,"group_size":128,"zero_point":true,"version":"gemv"})", "version = 'gemv'"},
        {R"({"quant_method":"awq","bits":4,"group_size":128,"zero_point":false,"version":"gemm"})", "zero_point"},
        {R"({"quant_method":"gptq","bits":3,"group_size":128,"desc_act":false,"sym":true})", "bits = 3"},
        {R"({"quant_method":"gptq","bits":4,"group_size":-1,"desc_act":false,"sym":true})", "group_size = -1"},
        {R"({"quant_method":"gptq","bits":4,"group_size":128,"lm_head":true})", "lm_head = true"},
        {R"({"quant_method":"gptq","bits":4,"group_size":128,"dynamic":{"-:.*down_proj":{}}})", "dynamic"},
        {R"({"quant_method":"gptq","bits":4,"group_size":128,"checkpoint_format":"marlin"})",
         "checkpoint_format = 'marlin'"},
        {R"({"quant_method":"gptq","bits":4,"group_size":128,"modules_in_block_to_quantize":[["self_attn.q_proj"]]})",
         "modules_in_block_to_quantize"},
    };
    for (const Case& c : cases) {
        TempDir tmp;
        TestModel m = make_model(q4_spec(), 9);
        write_q4_pair(m, Q4Options{}, tmp.path, tmp.sub("f32"));
        std::string cfg = config_json(m.spec);
        write_file(tmp.path + "/config.json", cfg.substr(0, cfg.size() - 1) + ",\"quantization_config\":" + c.qc + "}");
        Engine e(tmp.path);
        CHECK(e.load_status == FL_UNSUPPORTED);
        CHECK_MSG(e.error.find(c.expect) != std::string::npos, "'%s' does not name '%s'", e.error.c_str(),
                  c.expect.c_str());
    }
    // a GPTQ layout under an AWQ config: the tensor shapes do not match
    TempDir tmp;
    Q4Options g;
    g.layout = Q4Layout::Gptq;
    TestModel m = make_model(q4_spec(), 9);
    write_q4_pair(m, g, tmp.path, tmp.sub("f32"));
    std::string cfg = config_json(m.spec);
    write_file(tmp.path + "/config.json",
               cfg.substr(0, cfg.size() - 1) + ",\"quantization_config\":" + q4_quantization_config(Q4Options{}) + "}");
    Engine e(tmp.path);
    CHECK(e.load_status == FL_SHAPE_MISMATCH);
    CHECK_MSG(e.error.find("qweight") != std::string::npos, "%s", e.error.c_str());
}

TEST_MAIN()
