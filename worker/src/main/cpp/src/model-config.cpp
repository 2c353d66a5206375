#include "model-config.h"

#include <cmath>
#include <cstring>

#include "error.h"
#include "json.h"
#include "quantization-config.h"

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

// RoPE settings. transformers >= 5 writes them as one 'rope_parameters' object (rope_theta inside);
// older releases as a top-level 'rope_theta' and an optional 'rope_scaling' object.
struct Rope {
    RopeScaling type = RopeScaling::None;
    float theta = 10000.0f;
    float factor = 1.0f, low = 1.0f, high = 4.0f;
    int32_t original_max = 8192;
    bool has_original_max = false;
    std::vector<float> short_factor, long_factor; // longrope
    float attention_factor = 0;                   // longrope; 0 = absent (derived from the lengths)
    double partial = 0;                           // partial_rotary_factor; 0 = absent
    bool operator==(const Rope& o) const {
        return type == o.type && theta == o.theta && factor == o.factor && low == o.low && high == o.high &&
               original_max == o.original_max && short_factor == o.short_factor && long_factor == o.long_factor &&
               attention_factor == o.attention_factor && partial == o.partial;
    }
};

// The keys a RoPE object may hold. Any other (attention_factor, beta_fast, short_factor,
// mrope_section, ...) belongs to a RoPE variant the engine does not compute.
bool known_rope_key(const std::string& k) {
    static const char* const keys[] = {"rope_type",
                                       "type",
                                       "rope_theta",
                                       "factor",
                                       "low_freq_factor",
                                       "high_freq_factor",
                                       "original_max_position_embeddings",
                                       "partial_rotary_factor",
                                       "short_factor",
                                       "long_factor",
                                       "attention_factor"};
    for (const char* key : keys)
        if (k == key) return true;
    return false;
}

// A longrope factor table: a non-empty list of finite positive numbers.
std::vector<float> factor_list(const Reader& r, const Json& o, const char* key, const char* field) {
    const Json* v = o.find(field);
    if (!v || !v->is_array() || v->items().empty())
        fail(FL_FORMAT, "%s: %s longrope needs a non-empty list '%s'", r.what.c_str(), key, field);
    std::vector<float> out;
    for (const Json& e : v->items()) {
        if (!e.is_number() || !std::isfinite(e.as_double()) || !(e.as_double() > 0))
            fail(FL_FORMAT, "%s: %s '%s' holds a value that is not a finite positive number", r.what.c_str(), key,
                 field);
        out.push_back(static_cast<float>(e.as_double()));
    }
    return out;
}

// One RoPE object ('rope_parameters' or 'rope_scaling', named by key); theta: the value when the
// object does not hold rope_theta.
Rope read_rope_object(const Reader& r, const Json& o, const char* key, float theta) {
    const char* w = r.what.c_str();
    if (!o.is_object()) fail(FL_FORMAT, "%s: '%s' is not an object", w, key);
    const Json* type = o.find("rope_type");
    if (!type || type->is_null()) type = o.find("type");
    if (!type || !type->is_string()) fail(FL_FORMAT, "%s: '%s' has no string 'rope_type'", w, key);
    const std::string& t = type->as_string();
    Rope rope;
    if (t == "default") {
        rope.type = RopeScaling::None;
    } else if (t == "linear") {
        rope.type = RopeScaling::Linear;
        rope.factor = r.float_field(o, "factor", 0, true);
        if (rope.factor == 0) fail(FL_FORMAT, "%s: %s 'linear' needs 'factor'", w, key);
    } else if (t == "llama3") {
        rope.type = RopeScaling::Llama3;
        rope.factor = r.float_field(o, "factor", 0, true);
        rope.low = r.float_field(o, "low_freq_factor", 0, true);
        rope.high = r.float_field(o, "high_freq_factor", 0, true);
        const Json* om = o.find("original_max_position_embeddings");
        if (rope.factor == 0 || rope.low == 0 || rope.high == 0 || !om || !om->is_integer() || om->as_int() < 1 ||
            om->as_int() > (1 << 24))
            fail(FL_FORMAT,
                 "%s: %s 'llama3' needs factor, low_freq_factor, high_freq_factor, "
                 "original_max_position_embeddings",
                 w, key);
        if (!(rope.high > rope.low)) fail(FL_FORMAT, "%s: %s high_freq_factor must exceed low_freq_factor", w, key);
        rope.original_max = static_cast<int32_t>(om->as_int());
    } else if (t == "longrope" || t == "su") {
        // 'su' is the name Phi-3's first 128k configs use for longrope
        rope.type = RopeScaling::LongRope;
        rope.short_factor = factor_list(r, o, key, "short_factor");
        rope.long_factor = factor_list(r, o, key, "long_factor");
        if (rope.short_factor.size() != rope.long_factor.size())
            fail(FL_FORMAT, "%s: %s short_factor has %zu entries, long_factor %zu", w, key, rope.short_factor.size(),
                 rope.long_factor.size());
        rope.factor = r.float_field(o, "factor", 1.0f, true);
        rope.attention_factor = r.float_field(o, "attention_factor", 0, true);
        const Json* om = o.find("original_max_position_embeddings");
        if (om && !om->is_null()) {
            if (!om->is_integer() || om->as_int() < 1 || om->as_int() > (1 << 24))
                fail(FL_FORMAT, "%s: %s original_max_position_embeddings is not an integer in [1, 2^24]", w, key);
            rope.original_max = static_cast<int32_t>(om->as_int());
            rope.has_original_max = true;
        }
    } else {
        fail(FL_UNSUPPORTED, "%s: %s rope_type '%s' is not supported (default, linear, llama3, longrope)", w, key,
             t.c_str());
    }
    for (const auto& m : o.members())
        if (!known_rope_key(m.first) && !m.second.is_null())
            fail(FL_UNSUPPORTED,
                 "%s: %s key '%s' is not supported (the engine computes RoPE default, linear, llama3, longrope)", w,
                 key, m.first.c_str());
    if (rope.type != RopeScaling::LongRope)
        for (const char* k : {"short_factor", "long_factor", "attention_factor"})
            if (const Json* v = o.find(k); v && !v->is_null())
                fail(FL_UNSUPPORTED, "%s: %s key '%s' is not supported with rope_type '%s'", w, key, k, t.c_str());
    rope.partial = r.float_field(o, "partial_rotary_factor", 0, true);
    rope.theta = r.float_field(o, "rope_theta", theta, true);
    return rope;
}

// A 'rope_parameters' object keyed by layer type (transformers >= 5 for Gemma 3): the global
// layers' RoPE under full_attention, the sliding layers' under sliding_attention.
bool per_layer_type(const Json& rp) {
    return !rp.find("rope_type") && !rp.find("type") && !rp.members().empty() && rp.members()[0].second.is_object();
}

// partial_rotary_factor, at the top level (Phi-3 configs) or in the RoPE object (transformers >= 5):
// RoPE rotates the first int(head_dim * factor) dimensions of each head, as modeling_phi3.py does;
// the other families' modeling files rotate whole heads, so there it is refused.
void parse_rotary_dim(const Reader& r, ModelConfig& c, double in_rope) {
    const char* w = r.what.c_str();
    double partial = in_rope;
    if (const Json* v = r.get("partial_rotary_factor")) {
        r.float_field(r.root, "partial_rotary_factor", 1.0f, true); // a finite positive number
        if (partial != 0 && partial != v->as_double())
            fail(FL_FORMAT, "%s: 'partial_rotary_factor' = %g disagrees with the RoPE object's %g", w, v->as_double(),
                 partial);
        partial = v->as_double();
    }
    if (partial == 0) partial = 1;
    c.rotary_dim = static_cast<int32_t>(c.head_dim * partial); // Python's int(): truncation
    if (partial == 1) return;
    if (c.arch != Arch::Phi3)
        fail(FL_UNSUPPORTED, "%s: partial_rotary_factor = %g is not supported by %s (Phi3ForCausalLM only)", w, partial,
             c.arch_name.c_str());
    if (partial > 1 || c.rotary_dim < 2 || c.rotary_dim % 2 != 0)
        fail(FL_UNSUPPORTED, "%s: partial_rotary_factor = %g gives %d rotated dimensions of %d (an even count >= 2)", w,
             partial, c.rotary_dim, c.head_dim);
}

// longrope, as transformers' _compute_longrope_parameters: with an original_max_position_embeddings
// (Phi3Config's top-level key, or the RoPE object's) the scaling factor is max_position_embeddings
// over it, else the object's factor; the attention factor, when not given, is
// sqrt(1 + ln(factor) / ln(original)) for factor > 1, else 1.
void parse_longrope(const Reader& r, ModelConfig& c, const Rope& rope) {
    const char* w = r.what.c_str();
    int32_t original = c.max_position_embeddings;
    bool has_original = rope.has_original_max;
    if (has_original) original = rope.original_max;
    if (r.get("original_max_position_embeddings")) {
        int32_t top = r.int_field("original_max_position_embeddings", 1, 1 << 24, true);
        if (has_original && top != original)
            fail(FL_FORMAT, "%s: 'original_max_position_embeddings' = %d disagrees with the RoPE object's %d", w, top,
                 original);
        original = top;
        has_original = true;
    }
    double factor = has_original ? double(c.max_position_embeddings) / original : rope.factor;
    size_t half = size_t(c.rotary_dim / 2);
    if (rope.short_factor.size() != half)
        fail(FL_FORMAT, "%s: longrope short_factor and long_factor have %zu entries, rotary dimension / 2 is %zu", w,
             rope.short_factor.size(), half);
    c.rope_original_max_pos = original;
    c.rope_factor = static_cast<float>(factor);
    c.rope_short_factor = rope.short_factor;
    c.rope_long_factor = rope.long_factor;
    if (rope.attention_factor > 0)
        c.rope_attention_factor = rope.attention_factor;
    else
        c.rope_attention_factor =
            factor <= 1 ? 1.0f : static_cast<float>(std::sqrt(1 + std::log(factor) / std::log(double(original))));
}

void parse_rope(const Reader& r, ModelConfig& c, float default_theta) {
    const char* w = r.what.c_str();
    Rope legacy;
    legacy.theta = r.float_field(r.root, "rope_theta", default_theta, true);
    if (const Json* rs = r.get("rope_scaling")) legacy = read_rope_object(r, *rs, "rope_scaling", legacy.theta);
    Rope rope = legacy;
    if (c.arch == Arch::Gemma3) c.rope_local_theta = r.float_field(r.root, "rope_local_base_freq", 10000.0f, true);
    if (const Json* rp = r.get("rope_parameters")) {
        if (!rp->is_object()) fail(FL_FORMAT, "%s: 'rope_parameters' is not an object", w);
        if (per_layer_type(*rp)) {
            if (c.arch != Arch::Gemma3)
                fail(FL_UNSUPPORTED, "%s: 'rope_parameters' per layer type ('%s', ...) is not supported by %s", w,
                     rp->members()[0].first.c_str(), c.arch_name.c_str());
            for (const auto& m : rp->members())
                if (m.first != "full_attention" && m.first != "sliding_attention")
                    fail(FL_UNSUPPORTED, "%s: rope_parameters layer type '%s' is not supported", w, m.first.c_str());
            const Json* full = rp->find("full_attention");
            const Json* sliding = rp->find("sliding_attention");
            if (!full || !sliding)
                fail(FL_FORMAT, "%s: 'rope_parameters' needs full_attention and sliding_attention", w);
            rope = read_rope_object(r, *full, "rope_parameters.full_attention", legacy.theta);
            Rope local = read_rope_object(r, *sliding, "rope_parameters.sliding_attention", c.rope_local_theta);
            if (local.type != RopeScaling::None)
                fail(FL_UNSUPPORTED, "%s: rope_parameters.sliding_attention: only rope_type 'default' is supported", w);
            if (r.get("rope_local_base_freq") && local.theta != c.rope_local_theta)
                fail(FL_FORMAT, "%s: 'rope_local_base_freq' = %g disagrees with rope_parameters.sliding_attention = %g",
                     w, c.rope_local_theta, local.theta);
            if (local.partial != 0 && local.partial != rope.partial)
                fail(FL_UNSUPPORTED,
                     "%s: rope_parameters.sliding_attention partial_rotary_factor differs from "
                     "full_attention's",
                     w);
            c.rope_local_theta = local.theta;
        } else {
            rope = read_rope_object(r, *rp, "rope_parameters", legacy.theta);
        }
        // a file that holds both layouts must say the same in both
        if (r.get("rope_theta") && rope.theta != legacy.theta)
            fail(FL_FORMAT, "%s: 'rope_theta' = %g disagrees with rope_parameters.rope_theta = %g", w, legacy.theta,
                 rope.theta);
        if (r.get("rope_scaling") && !(rope == legacy))
            fail(FL_FORMAT, "%s: 'rope_scaling' disagrees with 'rope_parameters'", w);
    }
    c.rope_theta = rope.theta;
    c.rope_scaling = rope.type;
    c.rope_factor = rope.factor;
    c.rope_low_freq_factor = rope.low;
    c.rope_high_freq_factor = rope.high;
    c.rope_original_max_pos = rope.original_max;
    parse_rotary_dim(r, c, rope.partial);
    if (rope.type == RopeScaling::LongRope) parse_longrope(r, c, rope);
}

// Keys of other model families that change the forward pass, with the value that leaves it as the
// engine computes it (NaN: only absent, null or false). The engine computes none of them, so a config
// that sets one otherwise is refused instead of served with the key ignored.
struct Unhonoured {
    const char* key;
    double neutral;
};
const Unhonoured kUnhonoured[] = {
    {"attn_logit_softcapping", NAN},
    {"final_logit_softcapping", NAN},
    {"query_pre_attn_scalar", NAN},
    {"embedding_multiplier", 1.0},
    {"residual_multiplier", 1.0},
    {"attention_multiplier", NAN},
    {"logits_scaling", 1.0},
    {"logit_scale", 1.0},
    {"use_qk_norm", NAN},
    {"qk_layernorm", NAN},
    {"no_rope_layers", NAN},
    {"use_sliding_window", NAN},
    {"quantization_config", NAN},
};

// Computed by Gemma 2 and 3 (parse_gemma), refused elsewhere.
bool gemma_key(const char* key) {
    return !std::strcmp(key, "attn_logit_softcapping") || !std::strcmp(key, "final_logit_softcapping") ||
           !std::strcmp(key, "query_pre_attn_scalar");
}

void reject_unhonoured(const Reader& r, ModelConfig& c) {
    const char* w = r.what.c_str();
    for (const Unhonoured& u : kUnhonoured) {
        if (c.gemma() && gemma_key(u.key)) continue;
        const Json* v = r.get(u.key);
        if (!v || (v->is_bool() && !v->as_bool())) continue;
        if (v->is_number() && v->as_double() == u.neutral) continue;
        if (std::string(u.key) == "quantization_config" && is_q4_method(*v)) {
            c.q4 = parse_q4_config(*v, r.what);
            continue;
        }
        if (std::string(u.key) == "quantization_config") {
            check_quantization_config(*v, r.what);
            c.int8_weights = true;
            continue;
        }
        if (v->is_number())
            fail(FL_UNSUPPORTED, "%s: '%s' = %g is not supported by %s", w, u.key, v->as_double(), c.arch_name.c_str());
        fail(FL_UNSUPPORTED, "%s: '%s' is not supported by %s", w, u.key, c.arch_name.c_str());
    }
}

// Which layers attend within the window. transformers >= 5 lists each layer's kind in layer_types
// (Gemma 2 and 3 also in older releases); without it Gemma 2 alternates sliding and global layers
// from layer 0 and Gemma 3 makes every sliding_window_pattern-th layer global, Mistral and Phi-3
// slide in every layer when they have a window and the others never.
void parse_layer_types(const Reader& r, ModelConfig& c) {
    const char* w = r.what.c_str();
    c.layer_sliding.assign(c.n_layers, c.sliding_window > 0 && !c.gemma());
    if (c.arch == Arch::Gemma2) {
        for (int l = 0; l < c.n_layers; l++) c.layer_sliding[l] = (l + 1) % 2 != 0;
    } else if (c.arch == Arch::Gemma3) {
        int pattern = r.int_field("sliding_window_pattern", 1, 1 << 20, false, 6);
        for (int l = 0; l < c.n_layers; l++) c.layer_sliding[l] = (l + 1) % pattern != 0;
    }
    const Json* lt = r.get("layer_types");
    if (!lt) return;
    if (!lt->is_array()) fail(FL_FORMAT, "%s: 'layer_types' is not a list", w);
    if (lt->items().size() != size_t(c.n_layers))
        fail(FL_FORMAT, "%s: 'layer_types' has %zu entries for %d layers", w, lt->items().size(), c.n_layers);
    for (int l = 0; l < c.n_layers; l++) {
        const Json& t = lt->items()[l];
        if (!t.is_string()) fail(FL_FORMAT, "%s: 'layer_types' holds a non-string", w);
        const std::string& kind = t.as_string();
        if (kind != "full_attention" && kind != "sliding_attention")
            fail(FL_UNSUPPORTED, "%s: layer_types entry '%s' is not supported (full_attention, sliding_attention)", w,
                 kind.c_str());
        bool sliding = kind == "sliding_attention";
        if (c.gemma()) {
            c.layer_sliding[l] = sliding;
        } else if (sliding != c.layer_sliding[l]) {
            // the other families give every layer the same kind, sliding only with a window
            fail(FL_UNSUPPORTED, "%s: layer_types entry %d '%s' is not supported by %s with sliding_window %d", w, l,
                 kind.c_str(), c.arch_name.c_str(), c.sliding_window);
        }
    }
}

// A number or null key of a Gemma config; def when the key is absent (the config class default),
// 0 when it is null (None: off).
float optional_positive(const Reader& r, const char* key, float def) {
    const Json* v = r.root.find(key);
    if (!v) return def;
    if (v->is_null()) return 0;
    return r.float_field(r.root, key, def, true);
}

// Gemma 2 and Gemma 3 text: defaults from their config classes where a key is absent.
void parse_gemma(const Reader& r, ModelConfig& c) {
    const char* w = r.what.c_str();
    const bool g2 = c.arch == Arch::Gemma2;
    c.gemma_norms = true;
    c.embed_scaled = true;
    c.qk_norm = c.arch == Arch::Gemma3;
    // the modeling code reads hidden_activation; a hidden_act beside it is unused
    c.activation = Activation::GeluTanh;
    if (const Json* act = r.get("hidden_activation")) {
        if (!act->is_string()) fail(FL_FORMAT, "%s: 'hidden_activation' is not a string", w);
        if (act->as_string() != "gelu_pytorch_tanh")
            fail(FL_UNSUPPORTED, "%s: hidden_activation '%s' is not supported (gelu_pytorch_tanh)", w,
                 act->as_string().c_str());
    }
    float scalar = r.float_field(r.root, "query_pre_attn_scalar", 256.0f, true);
    c.attn_scale = static_cast<float>(std::pow(double(scalar), -0.5));
    c.attn_softcap = optional_positive(r, "attn_logit_softcapping", g2 ? 50.0f : 0.0f);
    c.final_softcap = optional_positive(r, "final_logit_softcapping", g2 ? 30.0f : 0.0f);
    c.sliding_window = r.int_field("sliding_window", 1, 1 << 30, false, 4096);
    if (r.bool_field("use_bidirectional_attention", false))
        fail(FL_UNSUPPORTED, "%s: use_bidirectional_attention = true is not supported (causal attention only)", w);
}

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
    else if (c.arch_name == "Qwen3ForCausalLM")
        c.arch = Arch::Qwen3;
    else if (c.arch_name == "Phi3ForCausalLM")
        c.arch = Arch::Phi3;
    else if (c.arch_name == "Gemma2ForCausalLM")
        c.arch = Arch::Gemma2;
    else if (c.arch_name == "Gemma3ForCausalLM")
        c.arch = Arch::Gemma3;
    else
        fail(FL_UNSUPPORTED,
             "%s: architecture '%s' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
             "Qwen3ForCausalLM, Phi3ForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM)",
             w, c.arch_name.c_str());

    const int64_t kMaxDim = 1 << 20;
    c.hidden_size = r.int_field("hidden_size", 1, kMaxDim, true);
    c.intermediate_size = r.int_field("intermediate_size", 1, kMaxDim, true);
    c.n_layers = r.int_field("num_hidden_layers", 1, 1024, true);
    c.n_heads = r.int_field("num_attention_heads", 1, 4096, true);
    c.n_kv_heads = r.int_field("num_key_value_heads", 1, 4096, false, c.n_heads);
    c.vocab_size = r.int_field("vocab_size", 1, 1 << 24, true);
    c.max_position_embeddings = r.int_field("max_position_embeddings", 1, 1 << 24, false,
                                            c.arch == Arch::Gemma2   ? 8192
                                            : c.arch == Arch::Gemma3 ? 131072
                                                                     : 2048);
    if (c.n_heads % c.n_kv_heads != 0)
        fail(FL_SHAPE_MISMATCH, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", w, c.n_heads,
             c.n_kv_heads);
    if (r.get("head_dim") || c.gemma()) {
        c.head_dim = r.int_field("head_dim", 2, 4096, false, 256); // Gemma's config classes default to 256
    } else {
        if (c.hidden_size % c.n_heads != 0)
            fail(FL_SHAPE_MISMATCH, "%s: hidden_size %d is not a multiple of num_attention_heads %d", w, c.hidden_size,
                 c.n_heads);
        c.head_dim = c.hidden_size / c.n_heads;
    }
    if (c.head_dim % 2 != 0) fail(FL_UNSUPPORTED, "%s: head_dim %d must be even for RoPE", w, c.head_dim);
    if (int64_t(c.n_heads) * c.head_dim > kMaxDim) fail(FL_FORMAT, "%s: n_heads * head_dim too large", w);
    c.rms_norm_eps = r.float_field(root, "rms_norm_eps", 1e-6f, true);
    c.tie_word_embeddings = r.bool_field("tie_word_embeddings", c.gemma());
    c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    if (c.gemma()) parse_gemma(r, c);

    if (const Json* act = r.get("hidden_act"); act && !c.gemma()) {
        if (!act->is_string()) fail(FL_FORMAT, "%s: 'hidden_act' is not a string", w);
        if (act->as_string() != "silu")
            fail(FL_UNSUPPORTED, "%s: hidden_act '%s' is not supported (silu)", w, act->as_string().c_str());
    }
    if (r.bool_field("mlp_bias", false)) fail(FL_UNSUPPORTED, "%s: mlp_bias = true is not supported", w);
    if (c.arch == Arch::Qwen2) {
        c.attention_bias = true; // Qwen2 always has q/k/v biases and no o bias
    } else {
        c.attention_bias = r.bool_field("attention_bias", false);
        c.o_bias = c.attention_bias;
    }
    if (c.arch == Arch::Phi3) {
        // one qkv_proj without a bias: Phi3Config has no attention_bias
        if (c.attention_bias) fail(FL_UNSUPPORTED, "%s: attention_bias = true is not supported by Phi3ForCausalLM", w);
        c.fused_projections = true;
    }
    if (c.arch == Arch::Qwen3) c.qk_norm = true;
    // Mistral and Phi-3 attend within their window; Llama has none; Qwen2/3 only with
    // use_sliding_window, which reject_unhonoured refuses (their sliding_window alone changes nothing)
    if ((c.arch == Arch::Mistral || c.arch == Arch::Phi3) && r.get("sliding_window"))
        c.sliding_window = r.int_field("sliding_window", 1, 1 << 30, true);
    if (c.arch == Arch::Llama && r.get("sliding_window"))
        fail(FL_UNSUPPORTED, "%s: 'sliding_window' is not supported by LlamaForCausalLM", w);

    parse_rope(r, c, c.arch == Arch::Gemma3 ? 1000000.0f : 10000.0f);
    reject_unhonoured(r, c);
    parse_layer_types(r, c);
    return c;
}

std::vector<float> ModelConfig::rope_inv_freq(bool long_factors) const {
    const int dim = rotary_dim ? rotary_dim : head_dim;
    int half = dim / 2;
    std::vector<float> inv(half);
    for (int i = 0; i < half; i++) {
        // As HF: 1 / theta^(2i/d), computed in float32 from an int64 arange, d the rotated dimensions.
        inv[i] = 1.0f / std::pow(rope_theta, static_cast<float>(2 * i) / static_cast<float>(dim));
    }
    if (rope_scaling == RopeScaling::LongRope) {
        // 1 / (ext_factors * theta^(2i/d)), the product in float32
        const std::vector<float>& ext = long_factors ? rope_long_factor : rope_short_factor;
        for (int i = 0; i < half; i++)
            inv[i] = 1.0f / (ext[i] * std::pow(rope_theta, static_cast<float>(2 * i) / static_cast<float>(dim)));
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

std::vector<float> ModelConfig::rope_local_inv_freq() const {
    if (rope_local_theta == 0) return rope_inv_freq();
    ModelConfig local = *this;
    local.rope_theta = rope_local_theta;
    local.rope_scaling = RopeScaling::None;
    return local.rope_inv_freq();
}

} // namespace fl
