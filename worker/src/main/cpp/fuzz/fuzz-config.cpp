// Fuzzes the JSON parser and config.json interpretation (incl. both RoPE layouts, Gemma's layer
// types and per-layer-type RoPE, the AWQ / GPTQ / compressed-tensors quantization_config, and the
// refusals).
#include "error.h"
#include "model-config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        fl::ModelConfig c = fl::parse_model_config(reinterpret_cast<const char*>(data), size, "config.json");
        (void)c.rope_inv_freq();
        (void)c.rope_local_inv_freq();
    } catch (const fl::Error&) {}
    return 0;
}
