// test-model.h - deterministic random Llama-family models and LoRA adapters written to a temp
// directory (config.json + safetensors), and a naive double-precision reference forward pass that
// shares no code with the engine.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tensor.h"

namespace fltest {

using fl::DType;

struct ModelSpec {
    std::string arch = "LlamaForCausalLM";
    int hidden = 64, inter = 96, layers = 2, heads = 4, kv_heads = 2, vocab = 97, max_pos = 512;
    int head_dim = 0; // 0: hidden / heads, not written
    DType dtype = DType::F32;
    bool tie = false;
    bool attention_bias = false; // q/k/v biases (Qwen2 always)
    double rope_theta = 10000.0;
    std::string rope_scaling = ""; // JSON object text or ""
    int sliding_window = 0;        // Mistral
    bool rope_parameters = false;  // RoPE as transformers >= 5 writes it: 'rope_parameters' with rope_theta inside
    // Gemma 2 / 3 (written whenever gemma(); 0 = the key is written as null or not at all)
    double query_pre_attn_scalar = 0; // 0: head_dim
    double attn_softcap = 0, final_softcap = 0;
    int sliding_pattern = 0;     // Gemma 3: sliding_window_pattern
    double rope_local_theta = 0; // Gemma 3: rope_local_base_freq
    double partial_rotary = 1;   // Phi-3: partial_rotary_factor (written at the top level when != 1)
    // longrope (written as rope_scaling type 'longrope' with the top-level original_max_position_embeddings
    // when longrope_short is non-empty); the reference rotates position t with the long factors when
    // t >= longrope_long_from (0: the whole sequence, as transformers' forward over more than the original)
    std::vector<double> longrope_short, longrope_long;
    int longrope_original = 0;
    int longrope_long_from = 0;
    int rotary() const { return int(hd() * partial_rotary); }
    int hd() const { return head_dim ? head_dim : hidden / heads; }
    bool qk_norm() const { return arch == "Qwen3ForCausalLM" || arch == "Gemma3ForCausalLM"; }
    bool fused() const { return arch == "Phi3ForCausalLM"; }
    bool gemma() const { return arch == "Gemma2ForCausalLM" || arch == "Gemma3ForCausalLM"; }
    // the layer attends within sliding_window
    bool sliding(int l) const {
        if (!sliding_window) return false;
        if (arch == "Gemma2ForCausalLM") return l % 2 == 0;
        if (arch == "Gemma3ForCausalLM") return (l + 1) % sliding_pattern != 0;
        return true;
    }
};

// All weights as the F32 values the file holds (after rounding to the spec dtype).
struct TestModel {
    ModelSpec spec;
    std::vector<float> embed, lm_head, final_norm;
    struct Layer {
        std::vector<float> attn_norm, ffn_norm;
        std::vector<float> post_attn_norm, post_ffn_norm; // Gemma
        std::vector<float> q_norm, k_norm;                // [head_dim] (Qwen3)
        std::array<std::vector<float>, 7> w;              // q k v o gate up down, [out, in]
        std::array<std::vector<float>, 4> bias;           // q k v o (o: Llama attention_bias)
    };
    std::vector<Layer> layers;
    int out_dim(int p) const {
        const ModelSpec& s = spec;
        int q = s.heads * s.hd(), kv = s.kv_heads * s.hd();
        const int o[7] = {q, kv, kv, s.hidden, s.inter, s.inter, s.hidden};
        return o[p];
    }
    int in_dim(int p) const {
        const ModelSpec& s = spec;
        const int i[7] = {s.hidden, s.hidden, s.hidden, s.heads * s.hd(), s.hidden, s.hidden, s.inter};
        return i[p];
    }
};

struct TestAdapter {
    int r = 8;
    double alpha = 16;
    bool rslora = false;
    std::array<bool, 7> targets{};
    std::vector<std::array<std::vector<float>, 7>> A, B; // [layer][proj]: A [r, in], B [out, r]
    double scale() const { return rslora ? alpha / std::sqrt(double(r)) : alpha / r; }
};

inline const char* kProjNames[7] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
inline const char* kProjModules[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                      "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

inline float round_to(DType t, float v) {
    if (t == DType::F16) return fl::f16_to_f32(fl::f32_to_f16(v));
    if (t == DType::BF16) return fl::bf16_to_f32(fl::f32_to_bf16(v));
    return v;
}

inline std::vector<float> randn(std::mt19937& rng, size_t n, double mean, double sd, DType t) {
    std::normal_distribution<double> d(mean, sd);
    std::vector<float> v(n);
    for (float& x : v) x = round_to(t, static_cast<float>(d(rng)));
    return v;
}

inline TestModel make_model(const ModelSpec& spec, uint32_t seed) {
    std::mt19937 rng(seed);
    TestModel m;
    m.spec = spec;
    DType t = spec.dtype;
    m.embed = randn(rng, size_t(spec.vocab) * spec.hidden, 0, 1, t);
    if (!spec.tie) m.lm_head = randn(rng, size_t(spec.vocab) * spec.hidden, 0, 1.0 / std::sqrt(spec.hidden), t);
    m.final_norm = randn(rng, spec.hidden, 1, 0.1, t);
    bool bias = spec.attention_bias || spec.arch == "Qwen2ForCausalLM";
    // Gemma's norm weights w act as 1 + w
    const double norm_mean = spec.gemma() ? 0 : 1;
    if (spec.gemma()) m.final_norm = randn(rng, spec.hidden, 0, 0.1, t);
    for (int l = 0; l < spec.layers; l++) {
        TestModel::Layer L;
        L.attn_norm = randn(rng, spec.hidden, norm_mean, 0.1, t);
        L.ffn_norm = randn(rng, spec.hidden, norm_mean, 0.1, t);
        if (spec.gemma()) {
            L.post_attn_norm = randn(rng, spec.hidden, 0, 0.3, t);
            L.post_ffn_norm = randn(rng, spec.hidden, 0, 0.3, t);
        }
        for (int p = 0; p < 7; p++)
            L.w[p] = randn(rng, size_t(m.out_dim(p)) * m.in_dim(p), 0, 1.0 / std::sqrt(m.in_dim(p)), t);
        if (bias)
            for (int p = 0; p < 3; p++) L.bias[p] = randn(rng, m.out_dim(p), 0, 0.1, t);
        if (spec.attention_bias && spec.arch != "Qwen2ForCausalLM") L.bias[3] = randn(rng, spec.hidden, 0, 0.1, t);
        if (spec.qk_norm()) {
            L.q_norm = randn(rng, spec.hd(), norm_mean, 0.3, t);
            L.k_norm = randn(rng, spec.hd(), norm_mean, 0.3, t);
        }
        m.layers.push_back(std::move(L));
    }
    return m;
}

// fused: q, k, v share one A, as do gate and up (an adapter of Phi-3's qkv_proj, gate_up_proj).
inline TestAdapter make_adapter(const TestModel& m, int r, double alpha, std::array<bool, 7> targets, uint32_t seed,
                                bool rslora = false, bool fused = false) {
    std::mt19937 rng(seed);
    TestAdapter a;
    a.r = r;
    a.alpha = alpha;
    a.rslora = rslora;
    a.targets = targets;
    a.A.resize(m.spec.layers);
    a.B.resize(m.spec.layers);
    for (int l = 0; l < m.spec.layers; l++)
        for (int p = 0; p < 7; p++)
            if (targets[p]) {
                a.A[l][p] = randn(rng, size_t(r) * m.in_dim(p), 0, 1.0 / std::sqrt(m.in_dim(p)), DType::F32);
                a.B[l][p] = randn(rng, size_t(m.out_dim(p)) * r, 0, 0.5 / std::sqrt(r), DType::F32);
                if (fused && (p == 1 || p == 2)) a.A[l][p] = a.A[l][0];
                if (fused && p == 5) a.A[l][p] = a.A[l][4];
            }
    return a;
}

// W + scale * B @ A for every targeted projection.
inline TestModel merged(const TestModel& m, const TestAdapter& a) {
    TestModel out = m;
    for (int l = 0; l < m.spec.layers; l++)
        for (int p = 0; p < 7; p++) {
            if (!a.targets[p]) continue;
            int O = m.out_dim(p), I = m.in_dim(p);
            for (int o = 0; o < O; o++)
                for (int i = 0; i < I; i++) {
                    double s = 0;
                    for (int j = 0; j < a.r; j++)
                        s += double(a.B[l][p][size_t(o) * a.r + j]) * a.A[l][p][size_t(j) * I + i];
                    out.layers[l].w[p][size_t(o) * I + i] =
                        static_cast<float>(m.layers[l].w[p][size_t(o) * I + i] + a.scale() * s);
                }
        }
    out.spec.dtype = DType::F32; // merged weights are no longer representable in a half dtype
    return out;
}

// --- files ------------------------------------------------------------------------------------

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/flotilla-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path + "'";
        if (std::system(cmd.c_str()) != 0) { /* best effort */
        }
    }
    std::string sub(const std::string& name) const {
        std::string p = path + "/" + name;
        mkdir(p.c_str(), 0755);
        return p;
    }
};

inline void write_file(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

struct StEntry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<float> values;
};

inline std::string safetensors_bytes(const std::vector<StEntry>& entries) {
    std::string header = "{", data;
    for (size_t e = 0; e < entries.size(); e++) {
        const StEntry& t = entries[e];
        size_t begin = data.size();
        for (float v : t.values) {
            if (t.dtype == DType::I8) {
                const int8_t q = static_cast<int8_t>(v);
                data.append(reinterpret_cast<const char*>(&q), 1);
            } else if (t.dtype == DType::F32) {
                data.append(reinterpret_cast<const char*>(&v), 4);
            } else {
                uint16_t h = t.dtype == DType::F16 ? fl::f32_to_f16(v) : fl::f32_to_bf16(v);
                data.append(reinterpret_cast<const char*>(&h), 2);
            }
        }
        std::string shape;
        for (size_t i = 0; i < t.shape.size(); i++) shape += (i ? "," : "") + std::to_string(t.shape[i]);
        const char* dt = t.dtype == DType::F32   ? "F32"
                         : t.dtype == DType::F16 ? "F16"
                         : t.dtype == DType::I8  ? "I8"
                                                 : "BF16";
        header += (e ? "," : "") + std::string("\"") + t.name + "\":{\"dtype\":\"" + dt + "\",\"shape\":[" + shape +
                  "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
    }
    header += ",\"__metadata__\":{\"format\":\"pt\"}}";
    while (header.size() % 8) header += ' ';
    uint64_t n = header.size();
    std::string out(reinterpret_cast<const char*>(&n), 8);
    return out + header + data;
}

inline std::vector<float> concat(std::initializer_list<const std::vector<float>*> parts) {
    std::vector<float> out;
    for (const auto* p : parts) out.insert(out.end(), p->begin(), p->end());
    return out;
}

inline std::vector<StEntry> model_entries(const TestModel& m) {
    const ModelSpec& s = m.spec;
    std::vector<StEntry> e;
    e.push_back({"model.embed_tokens.weight", s.dtype, {s.vocab, s.hidden}, m.embed});
    for (int l = 0; l < s.layers; l++) {
        std::string pre = "model.layers." + std::to_string(l) + ".";
        const auto& L = m.layers[l];
        e.push_back({pre + "input_layernorm.weight", s.dtype, {s.hidden}, L.attn_norm});
        if (s.gemma()) {
            e.push_back({pre + "post_attention_layernorm.weight", s.dtype, {s.hidden}, L.post_attn_norm});
            e.push_back({pre + "pre_feedforward_layernorm.weight", s.dtype, {s.hidden}, L.ffn_norm});
            e.push_back({pre + "post_feedforward_layernorm.weight", s.dtype, {s.hidden}, L.post_ffn_norm});
        } else {
            e.push_back({pre + "post_attention_layernorm.weight", s.dtype, {s.hidden}, L.ffn_norm});
        }
        if (s.qk_norm()) {
            e.push_back({pre + "self_attn.q_norm.weight", s.dtype, {s.hd()}, L.q_norm});
            e.push_back({pre + "self_attn.k_norm.weight", s.dtype, {s.hd()}, L.k_norm});
        }
        if (s.fused()) { // Phi-3: q, k, v and gate, up concatenated by rows
            e.push_back({pre + "self_attn.qkv_proj.weight",
                         s.dtype,
                         {m.out_dim(0) + 2 * m.out_dim(1), s.hidden},
                         concat({&L.w[0], &L.w[1], &L.w[2]})});
            e.push_back({pre + "self_attn.o_proj.weight", s.dtype, {s.hidden, m.in_dim(3)}, L.w[3]});
            e.push_back(
                {pre + "mlp.gate_up_proj.weight", s.dtype, {2 * s.inter, s.hidden}, concat({&L.w[4], &L.w[5]})});
            e.push_back({pre + "mlp.down_proj.weight", s.dtype, {s.hidden, s.inter}, L.w[6]});
            continue;
        }
        for (int p = 0; p < 7; p++) {
            e.push_back({pre + kProjModules[p] + ".weight", s.dtype, {m.out_dim(p), m.in_dim(p)}, L.w[p]});
            if (p < 4 && !L.bias[p].empty())
                e.push_back({pre + kProjModules[p] + ".bias", s.dtype, {m.out_dim(p)}, L.bias[p]});
        }
    }
    e.push_back({"model.norm.weight", s.dtype, {s.hidden}, m.final_norm});
    if (!s.tie) e.push_back({"lm_head.weight", s.dtype, {s.vocab, s.hidden}, m.lm_head});
    return e;
}

inline std::string config_json(const ModelSpec& s) {
    std::string c =
        "{\"architectures\":[\"" + s.arch + "\"],\"hidden_size\":" + std::to_string(s.hidden) +
        ",\"intermediate_size\":" + std::to_string(s.inter) + ",\"num_hidden_layers\":" + std::to_string(s.layers) +
        ",\"num_attention_heads\":" + std::to_string(s.heads) +
        ",\"num_key_value_heads\":" + std::to_string(s.kv_heads) + ",\"vocab_size\":" + std::to_string(s.vocab) +
        ",\"max_position_embeddings\":" + std::to_string(s.max_pos) +
        ",\"rms_norm_eps\":1e-05,\"hidden_act\":\"silu\",\"tie_word_embeddings\":" + (s.tie ? "true" : "false") +
        ",\"torch_dtype\":\"float32\"";
    if (s.head_dim) c += ",\"head_dim\":" + std::to_string(s.head_dim);
    if (s.attention_bias) c += ",\"attention_bias\":true";
    std::string theta = std::to_string(s.rope_theta);
    if (s.partial_rotary != 1) c += ",\"partial_rotary_factor\":" + std::to_string(s.partial_rotary);
    if (!s.longrope_short.empty()) {
        auto list = [](const std::vector<double>& v) {
            std::string out = "[";
            for (size_t i = 0; i < v.size(); i++) out += (i ? "," : "") + std::to_string(v[i]);
            return out + "]";
        };
        c += ",\"original_max_position_embeddings\":" + std::to_string(s.longrope_original) +
             ",\"rope_theta\":" + theta +
             ",\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":" + list(s.longrope_short) +
             ",\"long_factor\":" + list(s.longrope_long) + "}";
    } else if (!s.rope_parameters) {
        c += ",\"rope_theta\":" + theta;
        if (!s.rope_scaling.empty()) c += ",\"rope_scaling\":" + s.rope_scaling;
    } else if (s.rope_scaling.empty()) {
        c += ",\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":" + theta + "}";
    } else { // the scaling object with rope_theta added
        c += ",\"rope_parameters\":" + s.rope_scaling.substr(0, s.rope_scaling.size() - 1) +
             ",\"rope_theta\":" + theta + "}";
    }
    if (s.sliding_window) c += ",\"sliding_window\":" + std::to_string(s.sliding_window);
    if (s.gemma()) {
        auto num_or_null = [](double v) { return v ? std::to_string(v) : std::string("null"); };
        c += ",\"hidden_activation\":\"gelu_pytorch_tanh\",\"query_pre_attn_scalar\":" +
             std::to_string(s.query_pre_attn_scalar ? s.query_pre_attn_scalar : s.hd()) +
             ",\"attn_logit_softcapping\":" + num_or_null(s.attn_softcap) +
             ",\"final_logit_softcapping\":" + num_or_null(s.final_softcap);
        if (s.sliding_pattern) c += ",\"sliding_window_pattern\":" + std::to_string(s.sliding_pattern);
        if (s.rope_local_theta) c += ",\"rope_local_base_freq\":" + std::to_string(s.rope_local_theta);
    }
    return c + "}";
}

inline void write_model(const TestModel& m, const std::string& dir) {
    write_file(dir + "/config.json", config_json(m.spec));
    write_file(dir + "/model.safetensors", safetensors_bytes(model_entries(m)));
}

// --- compressed-tensors int8 checkpoints ---------------------------------------------------------

// What llm-compressor writes for int8 weight-only, per-channel symmetric weights ("W8A16" with the
// int-quantized format).
inline std::string compressed_int8_quantization_config(bool ignore_lm_head) {
    return std::string("{\"quant_method\":\"compressed-tensors\",\"format\":\"int-quantized\",") +
           "\"quantization_status\":\"compressed\",\"global_compression_ratio\":1.5,\"kv_cache_scheme\":null," +
           "\"sparsity_config\":{},\"ignore\":[" + (ignore_lm_head ? "\"lm_head\"" : "") + "]," +
           "\"config_groups\":{\"group_0\":{\"targets\":[\"Linear\"],\"input_activations\":null," +
           "\"output_activations\":null,\"weights\":{\"num_bits\":8,\"type\":\"int\",\"symmetric\":true," +
           "\"strategy\":\"channel\",\"group_size\":null,\"dynamic\":false,\"actorder\":null," +
           "\"block_structure\":null,\"observer\":\"minmax\",\"observer_kwargs\":{}}}}}";
}

// Rows [N, K] quantized as the engine's load-time quantization does (kernels/kernels.h): scale
// amax / 127, q = round_half_even(w * 127 / amax); returns the scales.
inline std::vector<float> quantize_rows_int8(const std::vector<float>& w, int N, int K, std::vector<float>& q) {
    std::vector<float> scales(N);
    q.assign(w.size(), 0.0f);
    for (int n = 0; n < N; n++) {
        float amax = 0;
        for (int k = 0; k < K; k++) amax = std::max(amax, std::fabs(w[size_t(n) * K + k]));
        scales[n] = amax / 127.0f;
        if (amax == 0) continue;
        for (int k = 0; k < K; k++) q[size_t(n) * K + k] = std::nearbyint(w[size_t(n) * K + k] * (127.0f / amax));
    }
    return scales;
}

// m as a compressed-tensors int8 checkpoint: every linear projection (and, with embed_and_head,
// the embedding and the output head too) as I8 '<name>.weight' + '<name>.weight_scale' [out, 1] in
// scale_dtype; the rest as m's dtype.
inline void write_compressed_int8_model(const TestModel& m, const std::string& dir, DType scale_dtype,
                                        bool embed_and_head) {
    std::vector<StEntry> out;
    for (StEntry& e : model_entries(m)) {
        const bool linear = e.shape.size() == 2 && (e.name.find(".self_attn.") != std::string::npos ||
                                                    e.name.find(".mlp.") != std::string::npos);
        const bool edge = e.name == "model.embed_tokens.weight" || e.name == "lm_head.weight";
        if (!linear && !(edge && embed_and_head)) {
            out.push_back(e);
            continue;
        }
        const int N = int(e.shape[0]), K = int(e.shape[1]);
        std::vector<float> q;
        std::vector<float> scales = quantize_rows_int8(e.values, N, K, q);
        out.push_back({e.name, DType::I8, e.shape, q});
        out.push_back({e.name + "_scale", scale_dtype, {N, 1}, scales});
    }
    std::string cfg = config_json(m.spec);
    cfg = cfg.substr(0, cfg.size() - 1) +
          ",\"quantization_config\":" + compressed_int8_quantization_config(!embed_and_head) + "}";
    write_file(dir + "/config.json", cfg);
    write_file(dir + "/model.safetensors", safetensors_bytes(out));
}

// Phi-3: the adapter must target q, k, v together and gate, up together, with one A for each
// group (make_adapter(..., fused = true)); it is written as qkv_proj and gate_up_proj, B's rows
// concatenated.
inline void write_adapter(const TestModel& m, const TestAdapter& a, const std::string& dir, DType dtype = DType::F32) {
    std::string targets;
    const bool fused = m.spec.fused();
    for (int p = 0; p < 7; p++) {
        if (!a.targets[p] || (fused && (p == 1 || p == 2 || p == 5))) continue;
        const char* name = fused && p == 0 ? "qkv_proj" : fused && p == 4 ? "gate_up_proj" : kProjNames[p];
        targets += (targets.empty() ? "\"" : ",\"") + std::string(name) + "\"";
    }
    char alpha[64];
    std::snprintf(alpha, sizeof alpha, "%.17g", a.alpha);
    write_file(dir + "/adapter_config.json", "{\"peft_type\":\"LORA\",\"r\":" + std::to_string(a.r) +
                                                 ",\"lora_alpha\":" + alpha + ",\"target_modules\":[" + targets +
                                                 "],\"use_rslora\":" + (a.rslora ? "true" : "false") +
                                                 ",\"bias\":\"none\",\"task_type\":\"CAUSAL_LM\"}");
    std::vector<StEntry> e;
    for (int l = 0; l < m.spec.layers; l++)
        for (int p = 0; p < 7; p++) {
            if (!a.targets[p]) continue;
            std::string pre = "base_model.model.model.layers." + std::to_string(l) + ".";
            if (fused && (p == 0 || p == 4)) {
                const auto& B = a.B[l];
                bool qkv = p == 0;
                pre += qkv ? "self_attn.qkv_proj" : "mlp.gate_up_proj";
                int out = qkv ? m.out_dim(0) + 2 * m.out_dim(1) : 2 * m.spec.inter;
                e.push_back({pre + ".lora_A.weight", dtype, {a.r, m.in_dim(p)}, a.A[l][p]});
                e.push_back({pre + ".lora_B.weight",
                             dtype,
                             {out, a.r},
                             qkv ? concat({&B[0], &B[1], &B[2]}) : concat({&B[4], &B[5]})});
                continue;
            }
            if (fused && (p == 1 || p == 2 || p == 5)) continue;
            pre += kProjModules[p];
            e.push_back({pre + ".lora_A.weight", dtype, {a.r, m.in_dim(p)}, a.A[l][p]});
            e.push_back({pre + ".lora_B.weight", dtype, {m.out_dim(p), a.r}, a.B[l][p]});
        }
    write_file(dir + "/adapter_model.safetensors", safetensors_bytes(e));
}

// --- reference forward: logits [T, vocab] of one sequence, all positions ------------------------

inline std::vector<double> reference_logits(const TestModel& m, const std::vector<int>& tokens) {
    const ModelSpec& s = m.spec;
    const int T = static_cast<int>(tokens.size()), H = s.hidden, hd = s.hd(), half = s.rotary() / 2;
    const int qd = s.heads * hd, kvd = s.kv_heads * hd, group = s.heads / s.kv_heads;
    auto matvec = [](const std::vector<float>& W, const std::vector<double>& x, int out, int in) {
        std::vector<double> y(out, 0.0);
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) y[o] += double(W[size_t(o) * in + i]) * x[i];
        return y;
    };
    const double norm_add = s.gemma() ? 1.0 : 0.0; // Gemma's RMSNorm multiplies by (1 + w)
    auto rmsnorm = [&](const std::vector<double>& x, const std::vector<float>& w) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double r = 1.0 / std::sqrt(ss / x.size() + 1e-5);
        std::vector<double> y(x.size());
        for (size_t i = 0; i < x.size(); i++) y[i] = x[i] * r * (norm_add + w[i]);
        return y;
    };
    // Gemma 3's sliding layers: unscaled RoPE at rope_local_base_freq
    const int rd = s.rotary();
    std::vector<double> inv_local(half);
    for (int i = 0; i < half; i++)
        inv_local[i] = 1.0 / std::pow(s.rope_local_theta ? s.rope_local_theta : s.rope_theta, double(2 * i) / rd);
    // inverse frequencies with the configured scaling (parsed by hand from the spec)
    std::vector<double> inv(half), inv_long;
    for (int i = 0; i < half; i++) inv[i] = 1.0 / std::pow(s.rope_theta, double(2 * i) / rd);
    double mscale = 1; // longrope's attention factor on cos and sin
    if (!s.longrope_short.empty()) {
        inv_long = inv;
        for (int i = 0; i < half; i++) inv[i] /= s.longrope_short[i], inv_long[i] /= s.longrope_long[i];
        double factor = double(s.max_pos) / s.longrope_original;
        if (factor > 1) mscale = std::sqrt(1 + std::log(factor) / std::log(double(s.longrope_original)));
    }
    if (s.rope_scaling.find("\"linear\"") != std::string::npos) {
        for (double& f : inv) f /= 4.0; // tests use factor 4
    } else if (s.rope_scaling.find("\"llama3\"") != std::string::npos) {
        // tests use factor 8, low 1, high 4, original 64
        double factor = 8, lo = 1, hi = 4, old = 64, pi = 3.14159265358979323846;
        for (double& f : inv) {
            double wl = 2 * pi / f;
            double scaled = wl > old / lo ? f / factor : f;
            double sm = (old / wl - lo) / (hi - lo);
            double smoothed = (1 - sm) * scaled / factor + sm * scaled;
            bool medium = !(wl < old / hi) && !(wl > old / lo);
            f = medium ? smoothed : scaled;
        }
    }
    auto rope = [&](std::vector<double>& x, int heads, int pos, const std::vector<double>& fr) {
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < half; j++) {
                const double f = !inv_long.empty() && pos >= s.longrope_long_from ? inv_long[j] : fr[j];
                double a = pos * f, c = std::cos(a) * mscale, sn = std::sin(a) * mscale;
                double x1 = x[h * hd + j], x2 = x[h * hd + j + half];
                x[h * hd + j] = x1 * c - x2 * sn;
                x[h * hd + j + half] = x2 * c + x1 * sn;
            }
    };
    // Qwen3: RMSNorm over each head of q and k, one weight [head_dim] for all heads
    auto head_norm = [&](std::vector<double>& v, int heads, const std::vector<float>& w) {
        for (int h = 0; h < heads; h++) {
            std::vector<double> one(v.begin() + h * hd, v.begin() + (h + 1) * hd);
            one = rmsnorm(one, w);
            std::copy(one.begin(), one.end(), v.begin() + h * hd);
        }
    };
    // Gemma: embeddings times sqrt(hidden) in the model's dtype
    const double embed_scale = s.gemma() ? round_to(s.dtype, static_cast<float>(std::sqrt(double(H)))) : 1.0;
    const double scale = s.gemma() ? 1.0 / std::sqrt(s.query_pre_attn_scalar ? s.query_pre_attn_scalar : hd)
                                   : 1.0 / std::sqrt(double(hd));
    auto gelu_tanh = [](double v) {
        return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    };
    std::vector<std::vector<double>> x(T, std::vector<double>(H));
    for (int t = 0; t < T; t++)
        for (int i = 0; i < H; i++) x[t][i] = m.embed[size_t(tokens[t]) * H + i] * embed_scale;
    for (int l = 0; l < s.layers; l++) {
        const auto& L = m.layers[l];
        const bool sliding = s.sliding(l);
        const std::vector<double>& fr = sliding && s.rope_local_theta ? inv_local : inv;
        std::vector<std::vector<double>> K(T), V(T), Q(T);
        for (int t = 0; t < T; t++) {
            auto xn = rmsnorm(x[t], L.attn_norm);
            Q[t] = matvec(L.w[0], xn, qd, H);
            K[t] = matvec(L.w[1], xn, kvd, H);
            V[t] = matvec(L.w[2], xn, kvd, H);
            if (!L.bias[0].empty()) {
                for (int i = 0; i < qd; i++) Q[t][i] += L.bias[0][i];
                for (int i = 0; i < kvd; i++) K[t][i] += L.bias[1][i], V[t][i] += L.bias[2][i];
            }
            if (s.qk_norm()) {
                head_norm(Q[t], s.heads, L.q_norm);
                head_norm(K[t], s.kv_heads, L.k_norm);
            }
            rope(Q[t], s.heads, t, fr);
            rope(K[t], s.kv_heads, t, fr);
        }
        for (int t = 0; t < T; t++) {
            std::vector<double> att(qd, 0.0);
            int start = sliding ? std::max(0, t - s.sliding_window + 1) : 0;
            for (int h = 0; h < s.heads; h++) {
                int g = h / group;
                std::vector<double> sc;
                double mx = -1e300;
                for (int u = start; u <= t; u++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += Q[t][h * hd + i] * K[u][g * hd + i];
                    d *= scale;
                    if (s.attn_softcap) d = std::tanh(d / s.attn_softcap) * s.attn_softcap;
                    sc.push_back(d);
                    mx = std::max(mx, sc.back());
                }
                double sum = 0;
                for (double& v : sc) sum += (v = std::exp(v - mx));
                for (int u = start; u <= t; u++)
                    for (int i = 0; i < hd; i++) att[h * hd + i] += sc[u - start] / sum * V[u][g * hd + i];
            }
            auto o = matvec(L.w[3], att, H, qd);
            if (!L.bias[3].empty())
                for (int i = 0; i < H; i++) o[i] += L.bias[3][i];
            if (s.gemma()) o = rmsnorm(o, L.post_attn_norm);
            for (int i = 0; i < H; i++) x[t][i] += o[i];
        }
        for (int t = 0; t < T; t++) {
            auto xn = rmsnorm(x[t], L.ffn_norm);
            auto g = matvec(L.w[4], xn, s.inter, H);
            auto u = matvec(L.w[5], xn, s.inter, H);
            for (int i = 0; i < s.inter; i++)
                g[i] = (s.gemma() ? gelu_tanh(g[i]) : g[i] / (1 + std::exp(-g[i]))) * u[i];
            auto d = matvec(L.w[6], g, H, s.inter);
            if (s.gemma()) d = rmsnorm(d, L.post_ffn_norm);
            for (int i = 0; i < H; i++) x[t][i] += d[i];
        }
    }
    std::vector<double> logits(size_t(T) * s.vocab);
    const std::vector<float>& head = s.tie ? m.embed : m.lm_head;
    for (int t = 0; t < T; t++) {
        auto y = matvec(head, rmsnorm(x[t], m.final_norm), s.vocab, H);
        if (s.final_softcap)
            for (double& v : y) v = std::tanh(v / s.final_softcap) * s.final_softcap;
        std::copy(y.begin(), y.end(), logits.begin() + size_t(t) * s.vocab);
    }
    return logits;
}

} // namespace fltest
