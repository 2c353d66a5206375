// model.h - Llama-family weights held in process memory.
//
// Every linear weight W [out, in] (HF layout) is kept in its file dtype (or quantized to I8 at load),
// re-laid out once at load into 32-row panels for the GEMM kernels (see kernels/kernels.h). Norm weights and biases are
// small and converted to F32.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "cuda/cuda.h"
#include "device.h"
#include "model-config.h"
#include "tensor.h"

struct fl_adapter;

namespace fl {

class SafetensorsFile;
struct StTensorInfo;

struct Linear {
    DType dtype = DType::F32;
    int32_t out = 0; // N
    int32_t in = 0;  // K
    Buffer packed;   // panels, see kernels.h
    Buffer bias;     // [out] F32, or empty
    bool has_bias() const { return bias.size() != 0; }
};

// The seven projections LoRA may target, in PEFT module-name order of a decoder layer.
enum Proj { kQ = 0, kK, kV, kO, kGate, kUp, kDown, kNumProj };
const char* proj_name(int p);   // "q_proj", ...
const char* proj_module(int p); // "self_attn.q_proj", "mlp.gate_proj", ...

// Norm weights are held as the factor they multiply by: w, or 1 + w for Gemma (model-config.h).
struct Layer {
    Buffer attn_norm;      // [hidden] F32 (input_layernorm)
    Buffer ffn_norm;       // [hidden] F32 (post_attention_layernorm; Gemma: pre_feedforward_layernorm)
    Buffer post_attn_norm; // [hidden] F32 of the attention output (Gemma: post_attention_layernorm), or empty
    Buffer post_ffn_norm;  // [hidden] F32 of the MLP output (Gemma: post_feedforward_layernorm), or empty
    Buffer q_norm;         // [head_dim] F32, shared by the q heads (Qwen3, Gemma 3); empty without qk_norm
    Buffer k_norm;         // [head_dim] F32, shared by the k heads
    Linear proj[kNumProj]; // Phi-3's fused qkv_proj and gate_up_proj split by rows at load
};

// A linear weight of the checkpoint as the device loader streams it: layer kEmbed / kLmHead for
// the embedding and the output head, else a decoder layer and its projection.
struct LinearSource {
    static constexpr int kEmbed = -1, kLmHead = -2;
    const SafetensorsFile* file;
    const StTensorInfo* info;
    int layer;
    int proj;
    int out;
    int in;
};

struct Model {
    ModelConfig cfg;
    std::string dir;
    Device device;     // where the weights live
    Linear embed;      // [vocab, hidden]; also the lm_head when tied
    Linear lm_head;    // [vocab, hidden]; empty when tied
    Buffer final_norm; // [hidden] F32
    std::vector<Layer> layers;
    std::vector<float> rope_inv_freq;       // [rotary_dim/2] (longrope: the short factors)
    std::vector<float> rope_long_inv_freq;  // [rotary_dim/2] longrope's long factors; empty otherwise
    std::vector<float> rope_local_inv_freq; // [head_dim/2] of the sliding layers (Gemma 3: own theta)
    float embed_scale = 1.0f;               // Gemma: sqrt(hidden_size) rounded to the weights' dtype, as transformers
                                            // computes it in the activation dtype
    DType layer_dtype = DType::F32;         // all layer projections share one dtype
    int64_t weight_bytes = 0;

    const Linear& output() const { return lm_head.packed.size() ? lm_head : embed; }

    // On a CUDA device: the weights there (the Linears above keep shapes and dtype, no values).
    cuda::DeviceModelPtr dev;

    // Adapters currently loaded against this model (fl_decode checks handles against it).
    std::mutex adapters_mutex;
    std::unordered_set<const ::fl_adapter*> live_adapters;
};

struct LoadOptions {
    // Quantize the F32/F16/BF16 linear weights (embedding and output head included) to I8 at load
    // (kernels/kernels.h); CPU only. Weights stored as compressed-tensors int8 load as I8 either way.
    bool quantize_int8 = false;
};

// Loads config.json and the safetensors weights from dir onto device (which exists: the caller
// checked); throws fl::Error.
std::shared_ptr<Model> load_model(const std::string& dir, const Device& device = Device(),
                                  const LoadOptions& options = LoadOptions());

// Reads a whole small file (config, index) into a string; throws FL_IO.
std::string read_text_file(const std::string& path, size_t max_bytes);

// Reads one tensor of a safetensors file as F32 [numel] (F32/F16/BF16 only; else FL_UNSUPPORTED).
std::vector<float> read_tensor_f32(const SafetensorsFile& file, const StTensorInfo& t);

} // namespace fl
