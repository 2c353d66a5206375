// adapter.h - a PEFT LoRA adapter checked against its base model.
//
// For a targeted projection W [out, in] of layer l: W' = W + scale * B @ A with
//   A [r, in] (lora_A.weight), B [out, r] (lora_B.weight), scale = alpha / r (alpha / sqrt(r)
//   with use_rslora). B is stored transposed for the expand.
//
// Storage dtype (as vLLM's lora_dtype="auto"): the base model's compute dtype. F32 weights keep
// F32 adapters; BF16 and F16 weights keep BF16 adapters (rounded to nearest even at load; a BF16
// file is kept exactly). BF16 rather than F16 for an F16 base: F32's exponent range, so no lora_B
// value of an F32 file overflows or flushes to zero, and one set of kernels. A decode step with a
// distinct adapter per row is bound by the adapter bytes it reads, so halving them matters.
// AdapterStorage::F32 forces F32 (the exact values of an F32 file, twice the bytes).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "model.h"
#include "tensor.h"

namespace fl {

constexpr int kMaxLoraRank = 256;

enum class AdapterStorage { Auto = 0, F32 = 1 }; // FL_ADAPTER_STORAGE_*

struct LoraPair {
    DType dtype = DType::F32; // of both: F32 or BF16 (the adapter's storage dtype)
    Buffer a;                 // [r, in]
    Buffer bt;                // [r, out] (lora_B transposed)
};

struct Adapter {
    std::shared_ptr<Model> model;
    int32_t rank = 0;
    float scale = 0;
    DType dtype = DType::F32; // storage of every LoraPair: F32 or BF16
    int64_t bytes = 0;        // resident bytes of all LoraPairs
    // Unique per fl_adapter_load in the process, never reused (0 is the base model): the adapter in
    // the prefix cache's keys, so a freed adapter's blocks never match one loaded later.
    uint64_t id = 0;
    bool targets[kNumProj] = {};
    // Phi-3's fused modules: qkv_proj targets q, k and v with one A [r, hidden] and one B whose
    // rows are q's, then k's, then v's outputs; gate_up_proj likewise gate and up. Held split, as
    // the model's weights are, each part with its rows of B and a copy of A.
    bool fused_names = false;                           // target_modules names qkv_proj or gate_up_proj
    bool split_names = false;                           // target_modules names one of q/k/v/gate/up_proj
    std::vector<int32_t> layers_to_transform;           // from the config; empty = all layers
    std::vector<bool> layer_on;                         // [n_layers]
    std::vector<std::array<LoraPair, kNumProj>> layers; // [n_layers][proj], empty when not applied

    bool applies(int layer, int proj) const { return targets[proj] && layer_on[layer]; }

    // On a CUDA model: the LoRA pairs there (BF16).
    cuda::DeviceAdapterPtr dev;
};

// Parses adapter_config.json text: fills rank, scale, targets; throws fl::Error.
void parse_adapter_config(const char* text, size_t size, const std::string& what, Adapter& out);
// The storage dtype of an adapter of model: see the top of this file.
DType adapter_dtype(const Model& model, AdapterStorage storage);
// Loads <dir>/adapter_config.json and <dir>/adapter_model.safetensors against model.
std::unique_ptr<Adapter> load_adapter(const std::shared_ptr<Model>& model, const std::string& dir,
                                      AdapterStorage storage = AdapterStorage::Auto);

} // namespace fl

// The handle the C API hands out.
struct fl_adapter {
    std::unique_ptr<fl::Adapter> adapter;
};
