#include "quantization-config.h"

#include "error.h"

namespace fl {

namespace {

const char kSupported[] = "supported: compressed-tensors 'int-quantized', int8 symmetric per-channel weights";

std::string str_or(const Json* v, const char* def) {
    if (!v || v->is_null()) return def;
    if (v->is_string()) return v->as_string();
    if (v->is_integer()) return std::to_string(v->as_int());
    if (v->is_bool()) return v->as_bool() ? "true" : "false";
    return "(not a string)";
}

bool is_null_or_false(const Json* v) { return !v || v->is_null() || (v->is_bool() && !v->as_bool()); }

// A quantization args object ("weights", "input_activations") against what the engine computes.
void check_args(const Json& a, const std::string& where, bool weights) {
    if (!a.is_object()) fail(FL_UNSUPPORTED, "%s is not an object (%s)", where.c_str(), kSupported);
    auto want = [&](const char* key, const char* expect) {
        std::string got = str_or(a.find(key), "null");
        if (got != expect)
            fail(FL_UNSUPPORTED, "%s %s '%s' is not supported (expected '%s'; %s)", where.c_str(), key, got.c_str(),
                 expect, kSupported);
    };
    want("num_bits", "8");
    want("type", "int");
    want("symmetric", "true");
    want("strategy", weights ? "channel" : "token");
    want("dynamic", weights ? "false" : "true");
    for (const char* key : {"group_size", "block_structure", "actorder"})
        if (!is_null_or_false(a.find(key)))
            fail(FL_UNSUPPORTED, "%s %s '%s' is not supported (%s)", where.c_str(), key,
                 str_or(a.find(key), "").c_str(), kSupported);
}

} // namespace

void check_quantization_config(const Json& qc, const std::string& what) {
    const char* w = what.c_str();
    const Json* method = qc.is_object() ? qc.find("quant_method") : nullptr;
    std::string m = str_or(method, "?");
    if (m != "compressed-tensors")
        fail(FL_UNSUPPORTED, "%s: quantization_config (quant_method '%s') is not supported (%s)", w, m.c_str(),
             kSupported);
    std::string format = str_or(qc.find("format"), "null");
    if (format != "int-quantized")
        fail(FL_UNSUPPORTED, "%s: compressed-tensors format '%s' is not supported (%s)", w, format.c_str(), kSupported);
    std::string status = str_or(qc.find("quantization_status"), "compressed");
    if (status != "compressed")
        fail(FL_UNSUPPORTED,
             "%s: compressed-tensors quantization_status '%s' is not supported (stored weights must be "
             "'compressed')",
             w, status.c_str());
    for (const char* key : {"kv_cache_scheme", "transform_config"})
        if (!is_null_or_false(qc.find(key)))
            fail(FL_UNSUPPORTED, "%s: compressed-tensors '%s' is not supported (%s)", w, key, kSupported);
    if (const Json* sp = qc.find("sparsity_config"); sp && !sp->is_null()) {
        std::string sf = sp->is_object() ? str_or(sp->find("format"), "dense") : "(not an object)";
        if (sf != "dense" || (sp->is_object() && !sp->members().empty() && sp->find("format") == nullptr))
            fail(FL_UNSUPPORTED, "%s: compressed-tensors sparsity_config format '%s' is not supported (dense only)", w,
                 sf.c_str());
    }
    const Json* groups = qc.find("config_groups");
    if (!groups || !groups->is_object() || groups->members().empty())
        fail(FL_UNSUPPORTED, "%s: compressed-tensors config_groups is missing or empty (%s)", w, kSupported);
    for (const auto& g : groups->members()) {
        const std::string where = what + ": compressed-tensors group '" + g.first + "'";
        if (!g.second.is_object()) fail(FL_UNSUPPORTED, "%s is not an object", where.c_str());
        const Json* wts = g.second.find("weights");
        if (!wts || wts->is_null()) fail(FL_UNSUPPORTED, "%s has no weights scheme (%s)", where.c_str(), kSupported);
        check_args(*wts, where + " weights", true);
        if (const Json* in = g.second.find("input_activations"); in && !in->is_null())
            check_args(*in, where + " input_activations", false);
        if (!is_null_or_false(g.second.find("output_activations")))
            fail(FL_UNSUPPORTED, "%s output_activations is not supported (%s)", where.c_str(), kSupported);
    }
}

} // namespace fl
