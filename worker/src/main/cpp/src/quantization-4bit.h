// quantization-4bit.h - AWQ and GPTQ 4-bit checkpoints: their quantization_config, and their
// tensors unpacked into the engine's 4-bit values (kernels/q4.h).
//
// On disk, per linear '<base>' (K = in, N = out, G = group_size = 128):
//   AWQ  (quant_method 'awq', version 'gemm'):
//     <base>.qweight [K, N/8] I32: q(k, n) in word [k][n/8], nibble kAwqNibble[n % 8] (AutoAWQ packs
//                                  the columns in the order 0 2 4 6 1 3 5 7)
//     <base>.qzeros  [K/G, N/8] I32: z(g, n), packed the same way
//     <base>.scales  [K/G, N] F16
//     W[n, k] = s(k/G, n) * (q(k, n) - z(k/G, n))
//   GPTQ (quant_method 'gptq', checkpoint_format 'gptq' or 'gptq_v2'):
//     <base>.qweight [K/8, N] I32: q(k, n) in word [k/8][n], nibble k % 8
//     <base>.qzeros  [K/G, N/8] I32: nibble n % 8 holds the zero point minus one ('gptq': what
//                                  AutoGPTQ, optimum and transformers read back by adding one, so
//                                  a stored 15 is a zero point of 16) or the zero point ('gptq_v2')
//     <base>.scales  [K/G, N] F16
//     <base>.g_idx   [K] I32 (optional): the group of each column; with desc_act the columns of a
//                                  group are scattered, and load permutes them together (q4.h)
//     W[n, k] = s(g_idx[k], n) * (q(k, n) - z(g_idx[k], n))
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "json.h"

namespace fl {

enum class Q4Method { None, Awq, Gptq };

struct Q4Scheme {
    Q4Method method = Q4Method::None;
    int32_t zero_offset = 0; // added to a stored zero point: 1 for GPTQ's 'gptq' format
    bool desc_act = false;   // GPTQ act-order (g_idx read either way)
    bool sym = false;        // GPTQ sym (informational: the stored zero points are used as they are)
};

// True when quant_method names a 4-bit method this file reads ('awq', 'gptq').
bool is_q4_method(const Json& qc);
// Checks an AWQ or GPTQ quantization_config: bits 4, group_size 128, AWQ version 'gemm' with
// zero points, GPTQ checkpoint_format 'gptq' or 'gptq_v2', every projection quantized; anything
// else fails with FL_UNSUPPORTED naming the key and its value.
Q4Scheme parse_q4_config(const Json& qc, const std::string& what);

// The 4-bit values of one linear weight, columns in packed order (kernels/q4.h pack_weight_q4).
struct Q4Unpacked {
    std::vector<uint8_t> q;    // [N, K] 0..15
    std::vector<uint16_t> s;   // [N, K/128] F16 bits
    std::vector<uint8_t> z;    // [N, K/128] 0..16
    std::vector<int32_t> perm; // [K] packed column -> original column; empty when the identity
};

// The raw tensors as the file holds them (shapes checked by the caller, as in the header comment).
// name: for errors. Throws FL_FORMAT for a g_idx that does not describe groups of 128 columns.
Q4Unpacked unpack_awq(const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales, int N, int K);
Q4Unpacked unpack_gptq(const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales, const int32_t* g_idx,
                       int N, int K, int zero_offset, const std::string& name);

} // namespace fl
