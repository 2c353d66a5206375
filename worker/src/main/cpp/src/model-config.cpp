#include "model-config.h"

#include <cmath>

#include "error.h"
#include "json.h"

namespace fl {

namespace {

struct Reader {
    const Json& root;
    const std::string& what;

    const Json* get(const char* key) const {
        const Json* v = root.find(key);
        return (v && !v->is_null()) ? v : nullptr;
    }

    int32_t int_field(const char* key, int64_t lo, int64_t hi, bool required, int32_t def = 0) const {
        const Json* v = get(key);
        if (!v) {
            if (required) fail(FL_FORMAT, "%s: missing required field '%s'", what.c_str(), key);
            return def;
        }
        if (!v->is_integer()) fail(FL_FORMAT, "%s: field '%s' is not an integer", what.c_str(), key);
        if (v->as_int() < lo || v->as_int() > hi)
            fail(FL_FORMAT, "%s: field '%s' = %lld is outside [%lld, %lld]", what.c_str(), key, (long long)v->as_int(),
                 (long long)lo, (long long)hi);
        return static_cast<int32_t>(v->as_int());
    }

    float float_field(const Json& obj, const char* key, float def, bool positive) const {
        const Json* v = obj.find(key);
        if (!v || v->is_null()) return def;
        if (!v->is_number() || !std::isfinite(v->as_double()))
            fail(FL_FORMAT, "%s: field '%s' is not a finite number", what.c_str(), key);
        if (positive && !(v->as_double() > 0))
            fail(FL_FORMAT, "%s: field '%s' = %g must be > 0", what.c_str(), key, v->as_double());
        return static_cast<float>(v->as_double());
    }

    bool bool_field(const char* key, bool def) const {
        const Json* v = get(key);
        if (!v) return def;
        if (!v->is_bool()) fail(FL_FORMAT, "%s: field '%s' is not a boolean", what.c_str(), key);
        return v->as_bool();
    }
};

} // namespace

ModelConfig parse_model_config(const char* text, size_t size, const std::string& what) {
    Json root = Json::parse(text, size, what);
    if (!root.is_object()) fail(FL_FORMAT, "%s: not a JSON object", what.c_str());
    Reader r{root, what};
    const char* w = what.c_str();
    ModelConfig c;

    const Json* archs = r.get("architectures");
    if (!archs || !archs->is_array() || archs->items().size() != 1 || !archs->items()[0].is_string())
        fail(FL_FORMAT, "%s: 'architectures' must be a list of one string", w);
    c.arch_name = archs->items()[0].as_string();
    if (c.arch_name == "LlamaForCausalLM")
        c.arch = Arch::Llama;
    else if (c.arch_name == "MistralForCausalLM")
        c.arch = Arch::Mistral;
    else if (c.arch_name == "Qwen2ForCausalLM")
        c.arch = Arch::Qwen2;
    else
        fail(FL_UNSUPPORTED,
             "%s: architecture '%s' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)", w,
             c.arch_name.c_str());

    const int64_t kMaxDim = 1 << 20;
    c.hidden_size = r.int_field("hidden_size", 1, kMaxDim, true);
    c.intermediate_size = r.int_field("intermediate_size", 1, kMaxDim, true);
    c.n_layers = r.int_field("num_hidden_layers", 1, 1024, true);
    c.n_heads = r.int_field("num_attention_heads", 1, 4096, true);
    c.n_kv_heads = r.int_field("num_key_value_heads", 1, 4096, false, c.n_heads);
    c.vocab_size = r.int_field("vocab_size", 1, 1 << 24, true);
    c.max_position_embeddings = r.int_field("max_position_embeddings", 1, 1 << 24, false, 2048);
    if (c.n_heads % c.n_kv_heads != 0)
        fail(FL_SHAPE_MISMATCH, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", w, c.n_heads,
             c.n_kv_heads);
    if (r.get("head_dim")) {
        c.head_dim = r.int_field("head_dim", 2, 4096, true);
    } else {
        if (c.hidden_size % c.n_heads != 0)
            fail(FL_SHAPE_MISMATCH, "%s: hidden_size %d is not a multiple of num_attention_heads %d", w, c.hidden_size,
                 c.n_heads);
        c.head_dim = c.hidden_size / c.n_heads;
    }
    if (c.head_dim % 2 != 0) fail(FL_UNSUPPORTED, "%s: head_dim %d must be even for RoPE", w, c.head_dim);
    if (int64_t(c.n_heads) * c.head_dim > kMaxDim) fail(FL_FORMAT, "%s: n_heads * head_dim too large", w);
    c.rms_norm_eps = r.float_field(root, "rms_norm_eps", 1e-6f, true);
    c.rope_theta = r.float_field(root, "rope_theta", 10000.0f, true);
    c.tie_word_embeddings = r.bool_field("tie_word_embeddings", false);

    if (const Json* act = r.get("hidden_act")) {
        if (!act->is_string()) fail(FL_FORMAT, "%s: 'hidden_act' is not a string", w);
        if (act->as_string() != "silu")
            fail(FL_UNSUPPORTED, "%s: hidden_act '%s' is not supported (silu)", w, act->as_string().c_str());
    }
    if (r.bool_field("mlp_bias", false)) fail(FL_UNSUPPORTED, "%s: mlp_bias = true is not supported", w);
    if (c.arch == Arch::Qwen2) {
        c.attention_bias = true; // Qwen2 always has q/k/v biases and no o bias
        if (r.bool_field("use_sliding_window", false))
            fail(FL_UNSUPPORTED, "%s: Qwen2 use_sliding_window = true is not supported", w);
    } else {
        c.attention_bias = r.bool_field("attention_bias", false);
        c.o_bias = c.attention_bias;
    }
    if (c.arch == Arch::Mistral && r.get("sliding_window"))
        c.sliding_window = r.int_field("sliding_window", 1, 1 << 30, true);

    if (const Json* rs = r.get("rope_scaling")) {
        if (!rs->is_object()) fail(FL_FORMAT, "%s: 'rope_scaling' is not an object", w);
        const Json* type = rs->find("rope_type");
        if (!type || type->is_null()) type = rs->find("type");
        if (!type || !type->is_string()) fail(FL_FORMAT, "%s: rope_scaling has no string 'rope_type'", w);
        const std::string& t = type->as_string();
        if (t == "default") {
            c.rope_scaling = RopeScaling::None;
        } else if (t == "linear") {
            c.rope_scaling = RopeScaling::Linear;
            c.rope_factor = r.float_field(*rs, "factor", 0, true);
            if (c.rope_factor == 0) fail(FL_FORMAT, "%s: rope_scaling 'linear' needs 'factor'", w);
        } else if (t == "llama3") {
            c.rope_scaling = RopeScaling::Llama3;
            c.rope_factor = r.float_field(*rs, "factor", 0, true);
            c.rope_low_freq_factor = r.float_field(*rs, "low_freq_factor", 0, true);
            c.rope_high_freq_factor = r.float_field(*rs, "high_freq_factor", 0, true);
            const Json* om = rs->find("original_max_position_embeddings");
            if (c.rope_factor == 0 || c.rope_low_freq_factor == 0 || c.rope_high_freq_factor == 0 || !om ||
                !om->is_integer() || om->as_int() < 1 || om->as_int() > (1 << 24))
                fail(FL_FORMAT,
                     "%s: rope_scaling 'llama3' needs factor, low_freq_factor, high_freq_factor, "
                     "original_max_position_embeddings",
                     w);
            if (!(c.rope_high_freq_factor > c.rope_low_freq_factor))
                fail(FL_FORMAT, "%s: rope_scaling high_freq_factor must exceed low_freq_factor", w);
            c.rope_original_max_pos = static_cast<int32_t>(om->as_int());
        } else {
            fail(FL_UNSUPPORTED, "%s: rope_scaling type '%s' is not supported (linear, llama3)", w, t.c_str());
        }
    }
    return c;
}

std::vector<float> ModelConfig::rope_inv_freq() const {
    int half = head_dim / 2;
    std::vector<float> inv(half);
    for (int i = 0; i < half; i++) {
        // As HF: 1 / theta^(2i/d), computed in float32 from an int64 arange.
        inv[i] = 1.0f / std::pow(rope_theta, static_cast<float>(2 * i) / static_cast<float>(head_dim));
    }
    if (rope_scaling == RopeScaling::Linear) {
        for (float& f : inv) f /= rope_factor;
    } else if (rope_scaling == RopeScaling::Llama3) {
        // transformers modeling_rope_utils._compute_llama3_parameters
        const float pi = 3.14159265358979323846f;
        float old_ctx = static_cast<float>(rope_original_max_pos);
        float low_wavelen = old_ctx / rope_low_freq_factor;
        float high_wavelen = old_ctx / rope_high_freq_factor;
        for (float& f : inv) {
            float wavelen = 2 * pi / f;
            float scaled = wavelen > low_wavelen ? f / rope_factor : f;
            float smooth = (old_ctx / wavelen - rope_low_freq_factor) / (rope_high_freq_factor - rope_low_freq_factor);
            float smoothed = (1 - smooth) * scaled / rope_factor + smooth * scaled;
            bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
            f = medium ? smoothed : scaled;
        }
    }
    return inv;
}

} // namespace fl
