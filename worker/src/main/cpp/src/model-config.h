// model-config.h - the subset of a Hugging Face config.json that a Llama-family model needs
// (Llama, Mistral, Qwen2, Qwen3, Phi-3, Gemma 2, Gemma 3 text).
//
// Every key that changes the forward pass is either computed or refused (FL_UNSUPPORTED naming it);
// none is read and ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantization-4bit.h"

namespace fl {

enum class Arch { Llama, Mistral, Qwen2, Qwen3, Phi3, Gemma2, Gemma3 };
enum class RopeScaling { None, Linear, Llama3, LongRope };
enum class Activation { Silu, GeluTanh }; // the MLP's gate: SwiGLU, or GeGLU with tanh-approximated GELU

struct ModelConfig {
    Arch arch = Arch::Llama;
    std::string arch_name;
    int32_t hidden_size = 0;
    int32_t intermediate_size = 0;
    int32_t n_layers = 0;
    int32_t n_heads = 0;
    int32_t n_kv_heads = 0;
    int32_t head_dim = 0;
    int32_t vocab_size = 0;
    int32_t max_position_embeddings = 0;
    float rms_norm_eps = 1e-6f;
    float rope_theta = 10000.0f;
    RopeScaling rope_scaling = RopeScaling::None;
    float rope_factor = 1.0f;             // linear and llama3
    float rope_low_freq_factor = 1.0f;    // llama3
    float rope_high_freq_factor = 4.0f;   // llama3
    int32_t rope_original_max_pos = 8192; // llama3; longrope: the length above which long factors apply
    // longrope (Phi-3 128k, Phi-3.5, Phi-4-mini): inv_freq divided elementwise by short_factor, or by
    // long_factor for a sequence longer than rope_original_max_pos; cos and sin times attention factor
    std::vector<float> rope_short_factor; // [rotary_dim/2]
    std::vector<float> rope_long_factor;  // [rotary_dim/2]
    float rope_attention_factor = 1.0f;
    int32_t rotary_dim = 0; // leading dimensions of a head that RoPE rotates (partial_rotary_factor); the rest pass
    bool tie_word_embeddings = false;
    bool int8_weights = false;       // compressed-tensors int8 checkpoint: I8 <name>.weight + <name>.weight_scale
    Q4Scheme q4;                     // AWQ / GPTQ 4-bit checkpoint: <name>.qweight, .qzeros, .scales (.g_idx)
    bool attention_bias = false;     // q/k/v biases (Qwen2 always; Llama attention_bias)
    bool o_bias = false;             // o_proj bias (Llama attention_bias)
    int32_t sliding_window = 0;      // Mistral, Phi-3, Gemma's sliding layers; 0 = none
    std::vector<bool> layer_sliding; // [n_layers] the layer attends within sliding_window
    bool qk_norm = false;            // RMSNorm of each q and k head before RoPE (Qwen3, Gemma 3)
    bool fused_projections = false;  // qkv_proj and gate_up_proj in the checkpoint (Phi-3)
    Activation activation = Activation::Silu;
    // Gemma: RMSNorm weights are stored as w and applied as (1 + w); the attention output and the
    // MLP output are each normed before their residual add (post_attention_layernorm,
    // pre_feedforward_layernorm before the MLP, post_feedforward_layernorm after it)
    bool gemma_norms = false;
    bool embed_scaled = false;  // embeddings multiplied by sqrt(hidden_size) (Gemma)
    float attn_scale = 0;       // q.k multiplier: 1/sqrt(head_dim), or query_pre_attn_scalar^-0.5 (Gemma)
    float attn_softcap = 0;     // scores -> cap * tanh(scores / cap) before softmax; 0 = none
    float final_softcap = 0;    // logits -> cap * tanh(logits / cap); 0 = none
    float rope_local_theta = 0; // Gemma 3's sliding layers: default RoPE at this theta; 0 = as global

    int32_t q_dim() const { return n_heads * head_dim; }
    int32_t kv_dim() const { return n_kv_heads * head_dim; }

    bool gemma() const { return arch == Arch::Gemma2 || arch == Arch::Gemma3; }

    // RoPE inverse frequencies [rotary_dim/2] with the configured scaling applied (longrope: the
    // short factors; long = true: the long ones).
    std::vector<float> rope_inv_freq(bool long_factors = false) const;
    // Those of the sliding layers: rope_local_theta unscaled, or rope_inv_freq() when unset.
    std::vector<float> rope_local_inv_freq() const;
};

// Parses config.json text; throws fl::Error (FL_FORMAT for malformed, FL_UNSUPPORTED for
// well-formed but unsupported values). `what` names the file in messages.
ModelConfig parse_model_config(const char* text, size_t size, const std::string& what);

} // namespace fl
