// quantization-config.h - the quantization_config of a config.json: which stored formats load.
#pragma once

#include <string>

#include "json.h"

namespace fl {

// Checks a quantization_config object. Supported: quant_method 'compressed-tensors', format
// 'int-quantized', every config group's weights int8, symmetric, one scale per output channel
// (strategy 'channel', static), with input activations absent or dynamic per-token symmetric int8
// (what the engine's int8 GEMM computes: kernels/kernels.h). Anything else fails with
// FL_UNSUPPORTED naming the method, format or field; returns normally when supported.
void check_quantization_config(const Json& qc, const std::string& what);

} // namespace fl
