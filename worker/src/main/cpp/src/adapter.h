// adapter.h - a PEFT LoRA adapter checked against its base model.
//
// For a targeted projection W [out, in] of layer l: W' = W + scale * B @ A with
//   A [r, in] (lora_A.weight), B [out, r] (lora_B.weight), scale = alpha / r (alpha / sqrt(r)
//   with use_rslora). Adapters are small: they are kept as F32, B transposed for the expand.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "model.h"
#include "tensor.h"

namespace fl {

constexpr int kMaxLoraRank = 256;

struct LoraPair {
    Buffer a;    // [r, in] F32
    Buffer bt;   // [r, out] F32 (lora_B transposed)
};

struct Adapter {
    std::shared_ptr<Model> model;
    int32_t rank = 0;
    float scale = 0;
    bool targets[kNumProj] = {};
    std::vector<int32_t> layers_to_transform;            // from the config; empty = all layers
    std::vector<bool> layer_on;                          // [n_layers]
    std::vector<std::array<LoraPair, kNumProj>> layers; // [n_layers][proj], empty when not applied

    bool applies(int layer, int proj) const { return targets[proj] && layer_on[layer]; }
};

// Parses adapter_config.json text: fills rank, scale, targets; throws fl::Error.
void parse_adapter_config(const char* text, size_t size, const std::string& what, Adapter& out);
// Loads <dir>/adapter_config.json and <dir>/adapter_model.safetensors against model.
std::unique_ptr<Adapter> load_adapter(const std::shared_ptr<Model>& model, const std::string& dir);

} // namespace fl

// The handle the C API hands out.
struct fl_adapter {
    std::unique_ptr<fl::Adapter> adapter;
};
