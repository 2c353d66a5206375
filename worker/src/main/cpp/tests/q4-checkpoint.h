// q4-checkpoint.h - writes AWQ and GPTQ 4-bit checkpoints from float weights with a plain
// round-to-nearest group quantizer (the tests' and the benchmark's; not a calibrated AWQ or GPTQ
// run), in the layouts quantization-4bit.h reads, and gives back the exact weights they hold.
// Deliberately wrong layouts (nibble order, zero convention, g_idx) let a test show that a wrong
// reading would be caught.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "tensor.h"

namespace fltest {

enum class Q4Layout { Awq, Gptq };

struct Q4Options {
    Q4Layout layout = Q4Layout::Awq;
    bool sym = false;       // GPTQ sym: zero point 8, scale 2 * max|w| / 15
    bool act_order = false; // GPTQ desc_act: groups of randomly scattered columns, described by g_idx
    uint32_t seed = 1;      // the act-order permutation
    // Wrong on purpose:
    bool plain_nibble_order = false;  // AWQ packed in column order 0..7 instead of 0 2 4 6 1 3 5 7
    bool zeros_not_minus_one = false; // GPTQ ('gptq' format) zeros stored as they are
    bool trivial_g_idx = false;       // act-order groups, g_idx written as k / 128
};

struct RawTensor {
    std::string name, dtype; // safetensors dtype name
    std::vector<int64_t> shape;
    std::string bytes;
};

template <class T> inline std::string raw_bytes(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

inline std::string safetensors_raw(const std::vector<RawTensor>& entries) {
    std::string header = "{", data;
    for (size_t e = 0; e < entries.size(); e++) {
        const RawTensor& t = entries[e];
        const size_t begin = data.size();
        data += t.bytes;
        std::string shape;
        for (size_t i = 0; i < t.shape.size(); i++) shape += (i ? "," : "") + std::to_string(t.shape[i]);
        header += (e ? "," : "") + std::string("\"") + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[" +
                  shape + "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
    }
    header += ",\"__metadata__\":{\"format\":\"pt\"}}";
    while (header.size() % 8) header += ' ';
    const uint64_t n = header.size();
    return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}

inline std::string q4_quantization_config(const Q4Options& o) {
    if (o.layout == Q4Layout::Awq)
        return "{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128,\"zero_point\":true,\"version\":\"gemm\","
               "\"modules_to_not_convert\":null}";
    return std::string("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"desc_act\":") +
           (o.act_order ? "true" : "false") + ",\"sym\":" + (o.sym ? "true" : "false") +
           ",\"damp_percent\":0.01,\"true_sequential\":true,\"static_groups\":false,\"checkpoint_format\":\"gptq\","
           "\"model_name_or_path\":null,\"model_file_base_name\":null,\"use_exllama\":false}";
}

// Quantizes W [N, K] (N % 8 == 0, K % 128 == 0) per output row and group of 128 columns, appends
// '<base>.qweight', '.qzeros', '.scales' (and GPTQ's '.g_idx') to out, and replaces W by the
// weights the checkpoint holds: W[n, k] = f16(s) * (q - z).
inline void quantize_q4(std::vector<float>& W, int N, int K, const std::string& base, const Q4Options& o,
                        std::vector<RawTensor>& out) {
    constexpr int G = 128;
    const int groups = K / G;
    // column order of the groups: group g holds columns cols[g * G .. g * G + G)
    std::vector<int32_t> cols(K);
    std::iota(cols.begin(), cols.end(), 0);
    if (o.act_order) {
        std::mt19937 rng(o.seed);
        std::shuffle(cols.begin(), cols.end(), rng);
    }
    std::vector<int32_t> g_idx(K);
    for (int i = 0; i < K; i++) g_idx[cols[i]] = i / G;
    std::vector<uint8_t> q(size_t(N) * K), z(size_t(N) * groups);
    std::vector<uint16_t> s(size_t(N) * groups);
    for (int n = 0; n < N; n++)
        for (int g = 0; g < groups; g++) {
            float lo = 0, hi = 0; // the range includes 0, as AutoGPTQ's and AutoAWQ's quantizers do
            for (int i = 0; i < G; i++) {
                const float w = W[size_t(n) * K + cols[g * G + i]];
                lo = std::min(lo, w);
                hi = std::max(hi, w);
            }
            float scale, zero;
            if (o.sym) {
                const float amax = std::max(-lo, hi);
                scale = amax > 0 ? 2 * amax / 15 : 1;
                zero = 8;
            } else {
                scale = hi > lo ? (hi - lo) / 15 : 1;
                zero = std::nearbyint(-lo / fl::f16_to_f32(fl::f32_to_f16(scale)));
                // GPTQ's 'gptq' format cannot hold a zero point of 0 (stored minus one, it reads back as 16)
                if (o.layout == Q4Layout::Gptq) zero = std::max(zero, 1.0f);
            }
            const uint16_t sh = fl::f32_to_f16(scale);
            const float sf = fl::f16_to_f32(sh);
            s[size_t(n) * groups + g] = sh;
            z[size_t(n) * groups + g] = uint8_t(std::min(15.0f, std::max(0.0f, zero)));
            for (int i = 0; i < G; i++) {
                const int k = cols[g * G + i];
                float& w = W[size_t(n) * K + k];
                const float v = std::min(15.0f, std::max(0.0f, std::nearbyint(w / sf) + z[size_t(n) * groups + g]));
                q[size_t(n) * K + k] = uint8_t(v);
                w = sf * (v - float(z[size_t(n) * groups + g]));
            }
        }
    std::vector<uint16_t> scales(size_t(groups) * N); // [groups, N]
    for (int g = 0; g < groups; g++)
        for (int n = 0; n < N; n++) scales[size_t(g) * N + n] = s[size_t(n) * groups + g];
    const int words = N / 8;
    std::vector<int32_t> qzeros(size_t(groups) * words, 0);
    if (o.layout == Q4Layout::Awq) {
        static const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7}; // nibble i holds column order[i]
        std::vector<int32_t> qweight(size_t(K) * words, 0);
        for (int k = 0; k < K; k++)
            for (int c = 0; c < words; c++)
                for (int i = 0; i < 8; i++) {
                    const int n = c * 8 + (o.plain_nibble_order ? i : order[i]);
                    qweight[size_t(k) * words + c] |= int32_t(uint32_t(q[size_t(n) * K + k]) << (4 * i));
                }
        for (int g = 0; g < groups; g++)
            for (int c = 0; c < words; c++)
                for (int i = 0; i < 8; i++) {
                    const int n = c * 8 + (o.plain_nibble_order ? i : order[i]);
                    qzeros[size_t(g) * words + c] |= int32_t(uint32_t(z[size_t(n) * groups + g]) << (4 * i));
                }
        out.push_back({base + ".qweight", "I32", {K, words}, raw_bytes(qweight)});
    } else {
        std::vector<int32_t> qweight(size_t(K / 8) * N, 0);
        for (int k = 0; k < K; k++)
            for (int n = 0; n < N; n++)
                qweight[size_t(k / 8) * N + n] |= int32_t(uint32_t(q[size_t(n) * K + k]) << (4 * (k % 8)));
        for (int g = 0; g < groups; g++)
            for (int n = 0; n < N; n++) {
                // 'gptq' stores the zero point minus one, in 4 bits (0 wraps to 15)
                const uint32_t stored =
                    o.zeros_not_minus_one ? z[size_t(n) * groups + g] : (uint32_t(z[size_t(n) * groups + g]) - 1) & 15;
                qzeros[size_t(g) * words + n / 8] |= int32_t(stored << (4 * (n % 8)));
            }
        out.push_back({base + ".qweight", "I32", {K / 8, N}, raw_bytes(qweight)});
        if (o.trivial_g_idx)
            for (int k = 0; k < K; k++) g_idx[k] = k / G;
        out.push_back({base + ".g_idx", "I32", {K}, raw_bytes(g_idx)});
    }
    out.push_back({base + ".qzeros", "I32", {groups, words}, raw_bytes(qzeros)});
    out.push_back({base + ".scales", "F16", {groups, N}, raw_bytes(scales)});
}

} // namespace fltest
