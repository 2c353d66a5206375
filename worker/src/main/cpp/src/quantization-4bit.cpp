#include "quantization-4bit.h"

#include <algorithm>
#include <numeric>

#include "error.h"
#include "kernels/q4.h"

namespace fl {

namespace {

constexpr int kAwqNibble[8] = {0, 4, 1, 5, 2, 6, 3, 7}; // column n % 8 -> nibble (inverse of 0 2 4 6 1 3 5 7)

std::string text_of(const Json* v) {
    if (!v || v->is_null()) return "null";
    if (v->is_string()) return "'" + v->as_string() + "'";
    if (v->is_integer()) return std::to_string(v->as_int());
    if (v->is_bool()) return v->as_bool() ? "true" : "false";
    if (v->is_number()) return std::to_string(v->as_double());
    return "(not a scalar)";
}

const Json* first_of(const Json& qc, std::initializer_list<const char*> keys, const char*& used) {
    for (const char* k : keys)
        if (const Json* v = qc.find(k); v && !v->is_null()) {
            used = k;
            return v;
        }
    used = *keys.begin();
    return nullptr;
}

void want_int(const Json& qc, std::initializer_list<const char*> keys, int64_t expect, const char* method,
              const char* w, bool required) {
    const char* key;
    const Json* v = first_of(qc, keys, key);
    if (!v && !required) return;
    if (!v || !v->is_integer() || v->as_int() != expect)
        fail(FL_UNSUPPORTED, "%s: %s quantization_config %s = %s is not supported (supported: %lld)", w, method, key,
             text_of(v).c_str(), (long long)expect);
}

bool bool_or(const Json& qc, const char* key, bool def, const char* method, const char* w) {
    const Json* v = qc.find(key);
    if (!v || v->is_null()) return def;
    if (!v->is_bool())
        fail(FL_UNSUPPORTED, "%s: %s quantization_config %s = %s is not a boolean", w, method, key, text_of(v).c_str());
    return v->as_bool();
}

// A list of module names limiting what is quantized: every projection must be in it (the engine
// holds all of a model's projections in one dtype).
void check_all_projections(const Json& qc, const char* key, const char* method, const char* w) {
    const Json* v = qc.find(key);
    if (!v || v->is_null()) return;
    std::vector<std::string> names;
    std::vector<const Json*> todo{v};
    while (!todo.empty()) {
        const Json* j = todo.back();
        todo.pop_back();
        if (j->is_string()) names.push_back(j->as_string());
        if (j->is_array())
            for (const Json& i : j->items()) todo.push_back(&i);
    }
    for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}) {
        bool found = false;
        for (const auto& n : names)
            found = found || n == p ||
                    (n.size() > std::string(p).size() &&
                     n.compare(n.size() - std::string(p).size() - 1, std::string::npos, "." + std::string(p)) == 0);
        if (!found)
            fail(FL_UNSUPPORTED, "%s: %s quantization_config %s leaves '%s' unquantized (supported: all projections)",
                 w, method, key, p);
    }
}

} // namespace

bool is_q4_method(const Json& qc) {
    const Json* m = qc.is_object() ? qc.find("quant_method") : nullptr;
    return m && m->is_string() && (m->as_string() == "awq" || m->as_string() == "gptq");
}

Q4Scheme parse_q4_config(const Json& qc, const std::string& what) {
    const char* w = what.c_str();
    Q4Scheme s;
    const std::string method = qc.find("quant_method")->as_string();
    const char* m = method.c_str();
    want_int(qc, {"bits", "w_bit"}, 4, m, w, true);
    want_int(qc, {"group_size", "q_group_size"}, kern::kQ4Group, m, w, true);
    if (method == "awq") {
        s.method = Q4Method::Awq;
        const Json* version = qc.find("version");
        if (version && !version->is_null() &&
            !(version->is_string() && (version->as_string() == "gemm" || version->as_string() == "GEMM")))
            fail(FL_UNSUPPORTED, "%s: awq quantization_config version = %s is not supported (supported: 'gemm')", w,
                 text_of(version).c_str());
        if (!bool_or(qc, "zero_point", true, m, w))
            fail(FL_UNSUPPORTED, "%s: awq quantization_config zero_point = false is not supported (supported: true)",
                 w);
        if (const Json* mn = qc.find("modules_to_not_convert");
            mn && !mn->is_null() && !(mn->is_array() && mn->items().empty()))
            fail(FL_UNSUPPORTED,
                 "%s: awq quantization_config modules_to_not_convert is not supported (every projection must be "
                 "4-bit)",
                 w);
        return s;
    }
    s.method = Q4Method::Gptq;
    const Json* fmt = qc.find("checkpoint_format");
    const std::string f = fmt && fmt->is_string() ? fmt->as_string() : fmt && !fmt->is_null() ? "?" : "gptq";
    if (f != "gptq" && f != "gptq_v2")
        fail(FL_UNSUPPORTED,
             "%s: gptq quantization_config checkpoint_format = %s is not supported (supported: 'gptq', 'gptq_v2')", w,
             text_of(fmt).c_str());
    s.zero_offset = f == "gptq" ? 1 : 0;
    s.desc_act = bool_or(qc, "desc_act", false, m, w);
    s.sym = bool_or(qc, "sym", true, m, w);
    if (const Json* pk = qc.find("pack_dtype"); pk && !pk->is_null() && text_of(pk) != "'int32'")
        fail(FL_UNSUPPORTED, "%s: gptq quantization_config pack_dtype = %s is not supported (supported: 'int32')", w,
             text_of(pk).c_str());
    check_all_projections(qc, "modules_in_block_to_quantize", m, w);
    if (bool_or(qc, "lm_head", false, m, w))
        fail(FL_UNSUPPORTED,
             "%s: gptq quantization_config lm_head = true is not supported (the output head stays in "
             "its stored float dtype)",
             w);
    // GPTQModel's per-module overrides of bits / group_size
    if (const Json* d = qc.find("dynamic"); d && !d->is_null() && !(d->is_object() && d->members().empty()))
        fail(FL_UNSUPPORTED, "%s: gptq quantization_config dynamic is not supported (one scheme for every projection)",
             w);
    return s;
}

Q4Unpacked unpack_awq(const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales, int N, int K) {
    const int groups = K / kern::kQ4Group;
    Q4Unpacked u;
    u.q.resize(size_t(N) * K);
    u.s.resize(size_t(N) * groups);
    u.z.resize(size_t(N) * groups);
    const size_t words = size_t(N) / 8;
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++)
            u.q[size_t(n) * K + k] = uint8_t((uint32_t(qweight[k * words + n / 8]) >> (4 * kAwqNibble[n % 8])) & 15);
    for (int g = 0; g < groups; g++)
        for (int n = 0; n < N; n++) {
            u.z[size_t(n) * groups + g] =
                uint8_t((uint32_t(qzeros[g * words + n / 8]) >> (4 * kAwqNibble[n % 8])) & 15);
            u.s[size_t(n) * groups + g] = scales[size_t(g) * N + n];
        }
    return u;
}

Q4Unpacked unpack_gptq(const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales, const int32_t* g_idx,
                       int N, int K, int zero_offset, const std::string& name) {
    const int groups = K / kern::kQ4Group;
    Q4Unpacked u;
    // packed column c holds original column perm[c]: columns sorted by group, stable
    std::vector<int32_t> perm(K);
    std::iota(perm.begin(), perm.end(), 0);
    if (g_idx) {
        for (int k = 0; k < K; k++)
            if (g_idx[k] < 0 || g_idx[k] >= groups)
                fail(FL_FORMAT, "%s: g_idx[%d] = %d is outside [0, %d)", name.c_str(), k, g_idx[k], groups);
        std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return g_idx[a] < g_idx[b]; });
        for (int c = 0; c < K; c++)
            if (g_idx[perm[c]] != c / kern::kQ4Group)
                fail(FL_UNSUPPORTED, "%s: g_idx does not give every group exactly %d columns (group %d)", name.c_str(),
                     kern::kQ4Group, c / kern::kQ4Group);
    }
    bool identity = true;
    for (int c = 0; c < K; c++) identity = identity && perm[c] == c;
    u.q.resize(size_t(N) * K);
    u.s.resize(size_t(N) * groups);
    u.z.resize(size_t(N) * groups);
    for (int c = 0; c < K; c++) {
        const int k = perm[c];
        const int32_t* word = qweight + size_t(k / 8) * N;
        for (int n = 0; n < N; n++) u.q[size_t(n) * K + c] = uint8_t((uint32_t(word[n]) >> (4 * (k % 8))) & 15);
    }
    const size_t words = size_t(N) / 8;
    for (int g = 0; g < groups; g++)
        for (int n = 0; n < N; n++) {
            u.z[size_t(n) * groups + g] =
                uint8_t(((uint32_t(qzeros[g * words + n / 8]) >> (4 * (n % 8))) & 15) + uint32_t(zero_offset));
            u.s[size_t(n) * groups + g] = scales[size_t(g) * N + n];
        }
    if (!identity) u.perm = std::move(perm);
    return u;
}

} // namespace fl
