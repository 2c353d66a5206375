#include "model.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>

#include "error.h"
#include "json.h"
#include "kernels/kernels.h"
#include "kernels/q4.h"
#include "safetensors.h"

namespace fl {

const char* proj_name(int p) {
    static const char* names[kNumProj] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    return names[p];
}

const char* proj_module(int p) {
    static const char* names[kNumProj] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                          "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                          "mlp.down_proj"};
    return names[p];
}

std::string read_text_file(const std::string& path, size_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(FL_IO, "%s: cannot open: %s", path.c_str(), std::strerror(errno));
    std::string out;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(FL_IO, "%s: not a regular file", path.c_str());
    }
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
        ::close(fd);
        fail(FL_FORMAT, "%s: %lld bytes exceeds the limit of %zu", path.c_str(), (long long)st.st_size, max_bytes);
    }
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out.size()) {
        ssize_t r = ::read(fd, &out[got], out.size() - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<size_t>(r);
    }
    ::close(fd);
    if (got != out.size()) fail(FL_IO, "%s: short read", path.c_str());
    return out;
}

namespace {

bool is_weight_dtype(StDType t) { return t == StDType::F32 || t == StDType::F16 || t == StDType::BF16; }
DType to_dtype(StDType t) { return t == StDType::F32 ? DType::F32 : t == StDType::F16 ? DType::F16 : DType::BF16; }

std::string shape_str(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); i++) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

// Tensor name -> (file, info) across one file or the shards of an index.
class TensorSource {
public:
    explicit TensorSource(const std::string& dir) {
        std::string single = dir + "/model.safetensors";
        std::string index = dir + "/model.safetensors.index.json";
        struct stat st;
        if (::stat(single.c_str(), &st) == 0) {
            files_.emplace_back(new SafetensorsFile(single));
            for (const auto& t : files_.back()->tensors()) map_[t.name] = {files_.back().get(), &t};
            return;
        }
        if (::stat(index.c_str(), &st) != 0)
            fail(FL_IO, "%s: neither model.safetensors nor model.safetensors.index.json exists", dir.c_str());
        std::string text = read_text_file(index, 64u << 20);
        Json root = Json::parse(text.data(), text.size(), index);
        const Json* wm = root.find("weight_map");
        if (!root.is_object() || !wm || !wm->is_object()) fail(FL_FORMAT, "%s: no 'weight_map' object", index.c_str());
        std::map<std::string, SafetensorsFile*> shards;
        for (const auto& m : wm->members()) {
            if (!m.second.is_string())
                fail(FL_FORMAT, "%s: weight_map['%s'] is not a string", index.c_str(), m.first.c_str());
            const std::string& fname = m.second.as_string();
            if (fname.empty() || fname.find('/') != std::string::npos || fname == "." || fname == "..")
                fail(FL_FORMAT, "%s: shard name '%s' is not a plain file name", index.c_str(), fname.c_str());
            auto it = shards.find(fname);
            if (it == shards.end()) {
                files_.emplace_back(new SafetensorsFile(dir + "/" + fname));
                it = shards.emplace(fname, files_.back().get()).first;
            }
            const StTensorInfo* t = it->second->find(m.first);
            if (!t)
                fail(FL_FORMAT, "%s: tensor '%s' is mapped to %s but not in it", index.c_str(), m.first.c_str(),
                     fname.c_str());
            map_[m.first] = {it->second, t};
        }
    }

    struct Entry {
        const SafetensorsFile* file;
        const StTensorInfo* info;
    };
    const Entry* find(const std::string& name) const {
        auto it = map_.find(name);
        return it == map_.end() ? nullptr : &it->second;
    }
    const Entry& get(const std::string& name, const std::string& dir) const {
        const Entry* e = find(name);
        if (!e) fail(FL_FORMAT, "%s: missing tensor '%s'", dir.c_str(), name.c_str());
        return *e;
    }

private:
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, Entry> map_;
};

// int8_ok: the checkpoint declares compressed-tensors int8 weights (model-config.h), so an I8
// projection is read with its scales.
void check_shape(const TensorSource::Entry& e, const std::vector<int64_t>& expect, bool int8_ok = false) {
    if (e.info->shape != expect)
        fail(FL_SHAPE_MISMATCH, "%s: tensor '%s' has shape %s, expected %s", e.file->path().c_str(),
             e.info->name.c_str(), shape_str(e.info->shape).c_str(), shape_str(expect).c_str());
    if (e.info->dtype == StDType::I8 && !int8_ok)
        fail(FL_UNSUPPORTED,
             "%s: tensor '%s' has dtype I8 but config.json declares no compressed-tensors int8 quantization",
             e.file->path().c_str(), e.info->name.c_str());
    if (!is_weight_dtype(e.info->dtype) && e.info->dtype != StDType::I8)
        fail(FL_UNSUPPORTED, "%s: tensor '%s' has dtype %s (supported: F32, F16, BF16%s)", e.file->path().c_str(),
             e.info->name.c_str(), st_dtype_name(e.info->dtype), int8_ok ? ", I8 with weight_scale" : "");
}

// How load_model holds the linear weights.
struct LinearLoad {
    const ModelConfig* cfg;
    bool quantize_int8; // F32/F16/BF16 weights quantized to I8 at load
};

// The per-row scales of a compressed-tensors int8 weight '<base>.weight': '<base>.weight_scale',
// [out, 1] or [out], F32/F16/BF16, each finite and >= 0.
std::vector<float> read_int8_scales(const TensorSource& src, const std::string& dir, const std::string& weight_name,
                                    int out) {
    const std::string name = weight_name + "_scale";
    const TensorSource::Entry* e = src.find(name);
    if (!e) fail(FL_FORMAT, "%s: int8 tensor '%s' has no '%s'", dir.c_str(), weight_name.c_str(), name.c_str());
    const auto& shape = e->info->shape;
    if (!(shape == std::vector<int64_t>{out, 1} || shape == std::vector<int64_t>{out}))
        fail(FL_SHAPE_MISMATCH,
             "%s: tensor '%s' has shape %s, expected [%d, 1] (one scale per output channel: strategy 'channel')",
             e->file->path().c_str(), name.c_str(), shape_str(shape).c_str(), out);
    std::vector<float> s = read_tensor_f32(*e->file, *e->info);
    for (int n = 0; n < out; n++)
        if (!(s[n] >= 0.0f && std::isfinite(s[n])))
            fail(FL_FORMAT, "%s: tensor '%s' row %d is %g (a scale must be finite and >= 0)", e->file->path().c_str(),
                 name.c_str(), n, double(s[n]));
    return s;
}

// Packs rows [row0, row0 + lin.out) of a weight whose file bytes are in `data` (dtype file_dt, in
// columns per row): I8 rows with their scales as they are, others in their dtype or quantized.
void pack_linear(Linear& lin, StDType file_dt, const char* data, const float* scales, size_t row0, bool quantize) {
    const int out = lin.out, in = lin.in;
    if (file_dt == StDType::I8 || quantize) {
        lin.dtype = DType::I8;
        lin.packed.allocate_uninitialized(kern::packed_weight_bytes(DType::I8, out, in));
        if (file_dt == StDType::I8)
            kern::pack_weight_i8(reinterpret_cast<const int8_t*>(data) + row0 * in, scales + row0, out, in,
                                 lin.packed.as<void>());
        else
            kern::quantize_weight_i8(to_dtype(file_dt), data + row0 * in * st_dtype_size(file_dt), out, in,
                                     lin.packed.as<void>());
        return;
    }
    lin.dtype = to_dtype(file_dt);
    lin.packed.allocate_uninitialized(kern::packed_weight_bytes(lin.dtype, out, in));
    kern::pack_weight(lin.dtype, data + row0 * in * dtype_size(lin.dtype), out, in, lin.packed.as<void>());
}

// staging: the file bytes of one tensor on their way to the packed layout; reused from tensor to
// tensor (grown when one is larger) so its pages are faulted in once, not once per tensor.
// to_device: on a CUDA model the tensor is only checked and recorded, for cuda::upload_model to
// stream (no host copy).
void load_linear(const TensorSource& src, const std::string& dir, const std::string& name, int out, int in, Linear& lin,
                 int64_t& bytes, Buffer& staging, const LinearLoad& how, std::vector<LinearSource>* to_device = nullptr,
                 int layer = 0, int proj = 0) {
    const auto& e = src.get(name, dir);
    check_shape(e, {out, in}, how.cfg->int8_weights);
    lin.dtype = e.info->dtype == StDType::I8 ? DType::I8 : to_dtype(e.info->dtype);
    lin.out = out;
    lin.in = in;
    if (to_device) {
        to_device->push_back({e.file, e.info, layer, proj, out, in});
        return;
    }
    std::vector<float> scales;
    if (e.info->dtype == StDType::I8) scales = read_int8_scales(src, dir, name, out);
    size_t file_bytes = e.info->end - e.info->begin;
    if (staging.size() < file_bytes) staging.allocate_uninitialized(file_bytes);
    e.file->read(*e.info, staging.as<void>());
    pack_linear(lin, e.info->dtype, staging.as<char>(), scales.data(), 0, how.quantize_int8);
    bytes += static_cast<int64_t>(lin.packed.size());
}

// A fused weight [sum of parts' rows, in] (Phi-3's qkv_proj, gate_up_proj) packed as one Linear per
// block of rows, in order.
void load_fused(const TensorSource& src, const std::string& dir, const std::string& name, int in,
                std::initializer_list<std::pair<Linear*, int>> parts, int64_t& bytes, Buffer& staging,
                const LinearLoad& how) {
    const auto& e = src.get(name, dir);
    int out = 0;
    for (const auto& part : parts) out += part.second;
    check_shape(e, {out, in}, how.cfg->int8_weights);
    std::vector<float> scales;
    if (e.info->dtype == StDType::I8) scales = read_int8_scales(src, dir, name, out);
    size_t file_bytes = e.info->end - e.info->begin;
    if (staging.size() < file_bytes) staging.allocate_uninitialized(file_bytes);
    e.file->read(*e.info, staging.as<void>());
    size_t row0 = 0;
    for (const auto& part : parts) {
        Linear& lin = *part.first;
        lin.out = part.second;
        lin.in = in;
        pack_linear(lin, e.info->dtype, staging.as<char>(), scales.data(), row0, how.quantize_int8);
        bytes += static_cast<int64_t>(lin.packed.size());
        row0 += size_t(lin.out);
    }
}

// The 4-bit weight '<base>' of an AWQ or GPTQ checkpoint (quantization-4bit.h), unpacked and packed
// for the 4-bit GEMM (kernels/q4.h); its file tensors are read once and dropped.
void load_q4_linear(const TensorSource& src, const std::string& dir, const std::string& base, int out, int in,
                    const Q4Scheme& scheme, Linear& lin, int64_t& bytes) {
    const int G = kern::kQ4Group;
    if (in % G != 0 || out % 8 != 0)
        fail(FL_UNSUPPORTED,
             "%s: '%s' is [%d, %d]: 4-bit weights need in_features a multiple of %d and out_features "
             "a multiple of 8",
             dir.c_str(), base.c_str(), out, in, G);
    const bool awq = scheme.method == Q4Method::Awq;
    auto read = [&](const std::string& suffix, StDType dt, std::vector<int64_t> shape, std::vector<char>& buf) {
        const auto& e = src.get(base + suffix, dir);
        if (e.info->dtype != dt || e.info->shape != shape)
            fail(FL_SHAPE_MISMATCH, "%s: tensor '%s' is %s %s, expected %s %s (%s)", e.file->path().c_str(),
                 e.info->name.c_str(), st_dtype_name(e.info->dtype), shape_str(e.info->shape).c_str(),
                 st_dtype_name(dt), shape_str(shape).c_str(), awq ? "awq" : "gptq");
        buf.resize(e.info->end - e.info->begin);
        e.file->read(*e.info, buf.data());
    };
    std::vector<char> qweight, qzeros, scales, g_idx;
    read(".qweight", StDType::I32, awq ? std::vector<int64_t>{in, out / 8} : std::vector<int64_t>{in / 8, out},
         qweight);
    read(".qzeros", StDType::I32, {in / G, out / 8}, qzeros);
    read(".scales", StDType::F16, {in / G, out}, scales);
    auto i32 = [](const std::vector<char>& b) { return reinterpret_cast<const int32_t*>(b.data()); };
    Q4Unpacked u;
    if (awq) {
        u = unpack_awq(i32(qweight), i32(qzeros), reinterpret_cast<const uint16_t*>(scales.data()), out, in);
    } else {
        if (src.find(base + ".g_idx")) read(".g_idx", StDType::I32, {in}, g_idx);
        u = unpack_gptq(i32(qweight), i32(qzeros), reinterpret_cast<const uint16_t*>(scales.data()),
                        g_idx.empty() ? nullptr : i32(g_idx), out, in, scheme.zero_offset, base);
    }
    lin.dtype = DType::Q4;
    lin.out = out;
    lin.in = in;
    const bool perm = !u.perm.empty();
    lin.packed.allocate_uninitialized(kern::packed_q4_bytes(out, in, perm));
    kern::pack_weight_q4(u.q.data(), u.s.data(), u.z.data(), perm ? u.perm.data() : nullptr, out, in,
                         lin.packed.as<void>());
    bytes += static_cast<int64_t>(lin.packed.size());
}

// add_one: Gemma's RMSNorm weights, applied as 1 + w (the sum in F32, as transformers computes it).
Buffer load_vector(const TensorSource& src, const std::string& dir, const std::string& name, int n, int64_t& bytes,
                   bool add_one = false) {
    const auto& e = src.get(name, dir);
    check_shape(e, {n});
    std::vector<float> v = read_tensor_f32(*e.file, *e.info);
    if (add_one)
        for (float& x : v) x = 1.0f + x;
    Buffer b(size_t(n) * 4);
    std::memcpy(b.as<float>(), v.data(), size_t(n) * 4);
    bytes += static_cast<int64_t>(b.size());
    return b;
}

} // namespace

std::vector<float> read_tensor_f32(const SafetensorsFile& file, const StTensorInfo& t) {
    if (!is_weight_dtype(t.dtype))
        fail(FL_UNSUPPORTED, "%s: tensor '%s' has dtype %s (supported: F32, F16, BF16)", file.path().c_str(),
             t.name.c_str(), st_dtype_name(t.dtype));
    size_t n = static_cast<size_t>(t.numel());
    std::vector<float> out(n);
    if (t.dtype == StDType::F32) {
        file.read(t, out.data());
        return out;
    }
    std::vector<uint16_t> raw(n);
    file.read(t, raw.data());
    for (size_t i = 0; i < n; i++) out[i] = t.dtype == StDType::F16 ? f16_to_f32(raw[i]) : bf16_to_f32(raw[i]);
    return out;
}

std::shared_ptr<Model> load_model(const std::string& dir, const Device& device, const LoadOptions& options) {
    auto model = std::make_shared<Model>();
    Model& m = *model;
    m.dir = dir;
    m.device = device;
    std::string cfg_path = dir + "/config.json";
    std::string text = read_text_file(cfg_path, 16u << 20);
    m.cfg = parse_model_config(text.data(), text.size(), cfg_path);
    const ModelConfig& c = m.cfg;
    m.rope_inv_freq = c.rope_inv_freq();
    m.rope_local_inv_freq = c.rope_local_inv_freq();
    if (c.rope_scaling == RopeScaling::LongRope) m.rope_long_inv_freq = c.rope_inv_freq(true);
    if (device.is_cuda() && c.rope_scaling == RopeScaling::LongRope)
        fail(FL_UNSUPPORTED, "%s: RoPE scaling 'longrope' is not supported on a CUDA device; load it on the CPU",
             dir.c_str());
    if (device.is_cuda() && c.rotary_dim != c.head_dim)
        fail(FL_UNSUPPORTED,
             "%s: partial_rotary_factor (RoPE over %d of %d dimensions) is not supported on a CUDA device; load it "
             "on the CPU",
             dir.c_str(), c.rotary_dim, c.head_dim);
    if (device.is_cuda() && (c.qk_norm || c.fused_projections || c.gemma()))
        fail(FL_UNSUPPORTED,
             "%s: %s is not supported on a CUDA device (the CUDA path computes Llama, Mistral, Qwen2); "
             "load it on the CPU",
             dir.c_str(), c.arch_name.c_str());

    if (c.q4.method != Q4Method::None) {
        const char* method = c.q4.method == Q4Method::Awq ? "awq" : "gptq";
        if (device.is_cuda())
            fail(FL_UNSUPPORTED,
                 "%s: 4-bit weights (quantization_config quant_method '%s') are not supported on a CUDA device; load "
                 "it on the CPU",
                 dir.c_str(), method);
        if (options.quantize_int8)
            fail(FL_UNSUPPORTED, "%s: weight dtype I8 (int8) cannot be applied to a 4-bit '%s' checkpoint", dir.c_str(),
                 method);
        if (c.fused_projections)
            fail(FL_UNSUPPORTED, "%s: 4-bit weights (quant_method '%s') are not supported for %s's fused projections",
                 dir.c_str(), method, c.arch_name.c_str());
    }
    if (device.is_cuda() && options.quantize_int8)
        fail(FL_UNSUPPORTED, "%s: weight dtype I8 (int8) is not supported on a CUDA device; load it on the CPU",
             dir.c_str());

    TensorSource src(dir);
    const LinearLoad how{&c, options.quantize_int8};
    // A 4-bit model's output head is quantized to I8: at batch 1 it is the largest read of a step
    // (BF16 [vocab, hidden] against 4-bit layers), and int8 with per-32-column scales keeps it at
    // Q8_0's accuracy (llama.cpp's Q4_0 files carry a Q6_K head). A tied embedding is that head.
    const LinearLoad head_how{&c, options.quantize_int8 || c.q4.method != Q4Method::None};
    int64_t& bytes = m.weight_bytes;
    Buffer staging;
    std::vector<LinearSource> device_linears;
    std::vector<LinearSource>* dl = device.is_cuda() ? &device_linears : nullptr;
    // Gemma's embedding scale is rounded to the checkpoint's dtype, as transformers computes it
    const StDType embed_file_dtype = src.get("model.embed_tokens.weight", dir).info->dtype;
    // An untied embedding stays in the checkpoint's dtype: it is only gathered, a row per token, so
    // int8 would save memory but no time, and its rounding error enters every position's residual
    // stream (on the bench model, 0.0223 -> 0.0196 relative L2 of the int8 logits). Tied, it is
    // also the lm_head and loads as the head does.
    const LinearLoad how_embed{&c, c.tie_word_embeddings && head_how.quantize_int8};
    load_linear(src, dir, "model.embed_tokens.weight", c.vocab_size, c.hidden_size, m.embed, bytes, staging, how_embed,
                dl, LinearSource::kEmbed);
    m.layers.resize(c.n_layers);
    const int outs[kNumProj] = {c.q_dim(),           c.kv_dim(),          c.kv_dim(),   c.hidden_size,
                                c.intermediate_size, c.intermediate_size, c.hidden_size};
    const int ins[kNumProj] = {c.hidden_size, c.hidden_size, c.hidden_size,      c.q_dim(),
                               c.hidden_size, c.hidden_size, c.intermediate_size};
    const bool g = c.gemma_norms;
    for (int l = 0; l < c.n_layers; l++) {
        Layer& L = m.layers[l];
        std::string pre = "model.layers." + std::to_string(l) + ".";
        L.attn_norm = load_vector(src, dir, pre + "input_layernorm.weight", c.hidden_size, bytes, g);
        if (g) {
            L.post_attn_norm = load_vector(src, dir, pre + "post_attention_layernorm.weight", c.hidden_size, bytes, g);
            L.ffn_norm = load_vector(src, dir, pre + "pre_feedforward_layernorm.weight", c.hidden_size, bytes, g);
            L.post_ffn_norm = load_vector(src, dir, pre + "post_feedforward_layernorm.weight", c.hidden_size, bytes, g);
        } else {
            L.ffn_norm = load_vector(src, dir, pre + "post_attention_layernorm.weight", c.hidden_size, bytes);
        }
        if (c.qk_norm) {
            L.q_norm = load_vector(src, dir, pre + "self_attn.q_norm.weight", c.head_dim, bytes, g);
            L.k_norm = load_vector(src, dir, pre + "self_attn.k_norm.weight", c.head_dim, bytes, g);
        }
        if (c.fused_projections) {
            load_fused(src, dir, pre + "self_attn.qkv_proj.weight", c.hidden_size,
                       {{&L.proj[kQ], c.q_dim()}, {&L.proj[kK], c.kv_dim()}, {&L.proj[kV], c.kv_dim()}}, bytes, staging,
                       how);
            load_fused(src, dir, pre + "mlp.gate_up_proj.weight", c.hidden_size,
                       {{&L.proj[kGate], c.intermediate_size}, {&L.proj[kUp], c.intermediate_size}}, bytes, staging,
                       how);
        }
        for (int p = 0; p < kNumProj; p++) {
            bool fused = c.fused_projections && p != kO && p != kDown;
            std::string name = pre + (!fused ? proj_module(p) : p <= kV ? "self_attn.qkv_proj" : "mlp.gate_up_proj");
            if (c.q4.method != Q4Method::None)
                load_q4_linear(src, dir, name, outs[p], ins[p], c.q4, L.proj[p], bytes);
            else if (!fused)
                load_linear(src, dir, name + ".weight", outs[p], ins[p], L.proj[p], bytes, staging, how, dl, l, p);
            bool bias = (c.attention_bias && p <= kV) || (c.o_bias && p == kO);
            if (bias) L.proj[p].bias = load_vector(src, dir, name + ".bias", outs[p], bytes);
            if (l == 0 && p == 0) m.layer_dtype = L.proj[p].dtype;
            if (L.proj[p].dtype != m.layer_dtype)
                fail(FL_UNSUPPORTED, "%s: tensor '%s.weight' is %s but the layers use %s (mixed dtypes)", dir.c_str(),
                     name.c_str(), dtype_name(L.proj[p].dtype), dtype_name(m.layer_dtype));
        }
    }
    m.final_norm = load_vector(src, dir, "model.norm.weight", c.hidden_size, bytes, g);
    if (c.embed_scaled) {
        float s = std::sqrt(static_cast<float>(c.hidden_size));
        m.embed_scale = embed_file_dtype == StDType::BF16  ? bf16_to_f32(f32_to_bf16(s))
                        : embed_file_dtype == StDType::F16 ? f16_to_f32(f32_to_f16(s))
                                                           : s;
    }
    if (!c.tie_word_embeddings) {
        if (!src.find("lm_head.weight"))
            fail(FL_FORMAT, "%s: missing tensor 'lm_head.weight' (tie_word_embeddings is false)", dir.c_str());
        load_linear(src, dir, "lm_head.weight", c.vocab_size, c.hidden_size, m.lm_head, bytes, staging, head_how, dl,
                    LinearSource::kLmHead);
    }
    if (dl) {
        m.dev = cuda::upload_model(m, device_linears);
        m.weight_bytes = cuda::device_model_bytes(*m.dev);
        // the device computes in BF16 (F16 stays F16): what the model reports and adapters follow
        if (m.layer_dtype == DType::F32) m.layer_dtype = DType::BF16;
    }
    return model;
}

const char* dtype_name(DType t) {
    return t == DType::F32    ? "F32"
           : t == DType::F16  ? "F16"
           : t == DType::BF16 ? "BF16"
           : t == DType::I8   ? "I8"
                              : "INT4";
}

} // namespace fl
