// model-config.h - the subset of a Hugging Face config.json that a Llama-family model needs.
//
// Every key that changes the forward pass is either computed or refused (FL_UNSUPPORTED naming it);
// none is read and ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fl {

enum class Arch { Llama, Mistral, Qwen2, Qwen3 };
enum class RopeScaling { None, Linear, Llama3 };

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
    int32_t rope_original_max_pos = 8192; // llama3
    bool tie_word_embeddings = false;
    bool attention_bias = false; // q/k/v biases (Qwen2 always; Llama attention_bias)
    bool o_bias = false;         // o_proj bias (Llama attention_bias)
    int32_t sliding_window = 0;  // Mistral; 0 = none
    bool qk_norm = false;        // RMSNorm of each q and k head before RoPE (Qwen3)

    int32_t q_dim() const { return n_heads * head_dim; }
    int32_t kv_dim() const { return n_kv_heads * head_dim; }

    // RoPE inverse frequencies [head_dim/2] with the configured scaling applied.
    std::vector<float> rope_inv_freq() const;
};

// Parses config.json text; throws fl::Error (FL_FORMAT for malformed, FL_UNSUPPORTED for
// well-formed but unsupported values). `what` names the file in messages.
ModelConfig parse_model_config(const char* text, size_t size, const std::string& what);

} // namespace fl
