#include "adapter.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "error.h"
#include "json.h"
#include "safetensors.h"

namespace fl {

namespace {

int proj_by_name(const std::string& s) {
    for (int p = 0; p < kNumProj; p++)
        if (s == proj_name(p)) return p;
    return -1;
}

// Sets the projections a target_modules name covers; false when it names none.
bool set_target(const std::string& s, Adapter& out) {
    if (s == "qkv_proj" || s == "gate_up_proj") {
        if (s == "qkv_proj")
            out.targets[kQ] = out.targets[kK] = out.targets[kV] = true;
        else
            out.targets[kGate] = out.targets[kUp] = true;
        out.fused_names = true;
        return true;
    }
    int p = proj_by_name(s);
    if (p < 0) return false;
    out.targets[p] = true;
    if (p != kO && p != kDown) out.split_names = true;
    return true;
}

// A module of the checkpoint an adapter pairs with: its name and the projections it holds.
struct Module {
    const char* name; // under model.layers.N.
    int projs[3];
    int n;
};
const Module kSplitModules[] = {{"self_attn.q_proj", {kQ}, 1}, {"self_attn.k_proj", {kK}, 1},
                                {"self_attn.v_proj", {kV}, 1}, {"self_attn.o_proj", {kO}, 1},
                                {"mlp.gate_proj", {kGate}, 1}, {"mlp.up_proj", {kUp}, 1},
                                {"mlp.down_proj", {kDown}, 1}};
const Module kFusedModules[] = {{"self_attn.qkv_proj", {kQ, kK, kV}, 3},
                                {"self_attn.o_proj", {kO}, 1},
                                {"mlp.gate_up_proj", {kGate, kUp}, 2},
                                {"mlp.down_proj", {kDown}, 1}};

// Copies v into out in dtype (F32, or BF16 rounded to nearest even).
void store(const std::vector<float>& v, DType dtype, Buffer& out) {
    if (dtype == DType::F32) {
        out.allocate_uninitialized(v.size() * 4);
        std::memcpy(out.as<float>(), v.data(), v.size() * 4);
        return;
    }
    out.allocate_uninitialized(v.size() * 2);
    uint16_t* h = out.as<uint16_t>();
    for (size_t i = 0; i < v.size(); i++) h[i] = f32_to_bf16(v[i]);
}

bool is_empty_or_null(const Json* v) {
    return !v || v->is_null() || (v->is_object() && v->members().empty()) || (v->is_array() && v->items().empty());
}

} // namespace

void parse_adapter_config(const char* text, size_t size, const std::string& what, Adapter& out) {
    const char* w = what.c_str();
    Json root = Json::parse(text, size, what);
    if (!root.is_object()) fail(FL_FORMAT, "%s: not a JSON object", w);
    if (const Json* pt = root.find("peft_type"); pt && !pt->is_null()) {
        if (!pt->is_string() || pt->as_string() != "LORA") fail(FL_UNSUPPORTED, "%s: peft_type must be \"LORA\"", w);
    }
    const Json* r = root.find("r");
    if (!r || !r->is_integer()) fail(FL_FORMAT, "%s: missing integer 'r'", w);
    if (r->as_int() < 1 || r->as_int() > kMaxLoraRank)
        fail(FL_UNSUPPORTED, "%s: rank r = %lld is outside 1..%d", w, (long long)r->as_int(), kMaxLoraRank);
    out.rank = static_cast<int32_t>(r->as_int());
    const Json* alpha = root.find("lora_alpha");
    if (!alpha || !alpha->is_number() || !std::isfinite(alpha->as_double()))
        fail(FL_FORMAT, "%s: missing numeric 'lora_alpha'", w);
    bool rslora = false;
    if (const Json* v = root.find("use_rslora"); v && !v->is_null()) {
        if (!v->is_bool()) fail(FL_FORMAT, "%s: 'use_rslora' is not a boolean", w);
        rslora = v->as_bool();
    }
    out.scale =
        static_cast<float>(rslora ? alpha->as_double() / std::sqrt(double(out.rank)) : alpha->as_double() / out.rank);

    if (const Json* v = root.find("use_dora"); v && v->is_bool() && v->as_bool())
        fail(FL_UNSUPPORTED, "%s: use_dora = true is not supported", w);
    if (const Json* v = root.find("fan_in_fan_out"); v && v->is_bool() && v->as_bool())
        fail(FL_UNSUPPORTED, "%s: fan_in_fan_out = true is not supported", w);
    if (const Json* v = root.find("bias"); v && !v->is_null() && !(v->is_string() && v->as_string() == "none"))
        fail(FL_UNSUPPORTED, "%s: bias must be \"none\"", w);
    if (const Json* lt = root.find("layers_to_transform"); lt && !lt->is_null()) {
        if (lt->is_integer()) {
            out.layers_to_transform.push_back(
                static_cast<int32_t>(std::max<int64_t>(-1, std::min<int64_t>(lt->as_int(), 1 << 20))));
        } else if (lt->is_array()) {
            for (const Json& v : lt->items()) {
                if (!v.is_integer()) fail(FL_FORMAT, "%s: layers_to_transform has a non-integer entry", w);
                out.layers_to_transform.push_back(
                    static_cast<int32_t>(std::max<int64_t>(-1, std::min<int64_t>(v.as_int(), 1 << 20))));
            }
            if (out.layers_to_transform.empty()) fail(FL_FORMAT, "%s: layers_to_transform is empty", w);
        } else {
            fail(FL_FORMAT, "%s: layers_to_transform is neither an integer nor a list", w);
        }
    }
    if (const Json* lp = root.find("layers_pattern");
        lp && !is_empty_or_null(lp) && !(lp->is_string() && lp->as_string() == "layers"))
        fail(FL_UNSUPPORTED, "%s: layers_pattern is not supported", w);
    for (const char* key : {"modules_to_save", "rank_pattern", "alpha_pattern"})
        if (!is_empty_or_null(root.find(key))) fail(FL_UNSUPPORTED, "%s: '%s' is not supported", w, key);

    const Json* tm = root.find("target_modules");
    if (!tm || tm->is_null()) fail(FL_FORMAT, "%s: missing 'target_modules'", w);
    std::memset(out.targets, 0, sizeof(out.targets));
    if (tm->is_string()) {
        if (tm->as_string() == "all-linear") {
            for (bool& t : out.targets) t = true;
        } else if (!set_target(tm->as_string(), out)) {
            fail(FL_UNSUPPORTED, "%s: target_modules \"%s\" is not supported (names or all-linear)", w,
                 tm->as_string().c_str());
        }
    } else if (tm->is_array()) {
        for (const Json& item : tm->items()) {
            if (!item.is_string()) fail(FL_FORMAT, "%s: target_modules has a non-string entry", w);
            if (!set_target(item.as_string(), out))
                fail(FL_UNSUPPORTED,
                     "%s: target module '%s' is not supported (q_proj, k_proj, v_proj, o_proj, "
                     "gate_proj, up_proj, down_proj; Phi-3: qkv_proj, o_proj, gate_up_proj, down_proj)",
                     w, item.as_string().c_str());
        }
    } else {
        fail(FL_FORMAT, "%s: target_modules is neither a list nor a string", w);
    }
    bool any = false;
    for (bool t : out.targets) any = any || t;
    if (!any) fail(FL_FORMAT, "%s: target_modules is empty", w);
}

DType adapter_dtype(const Model& model, AdapterStorage storage) {
    if (storage == AdapterStorage::F32) return DType::F32;
    return model.layer_dtype == DType::F32 ? DType::F32 : DType::BF16;
}

std::unique_ptr<Adapter> load_adapter(const std::shared_ptr<Model>& model, const std::string& dir,
                                      AdapterStorage storage) {
    auto ad = std::make_unique<Adapter>();
    ad->model = model;
    ad->dtype = adapter_dtype(*model, storage);
    std::string cfg_path = dir + "/adapter_config.json";
    std::string text = read_text_file(cfg_path, 1u << 20);
    parse_adapter_config(text.data(), text.size(), cfg_path, *ad);

    // the modules the adapter's names must match: the checkpoint's own
    if (model->cfg.fused_projections && ad->split_names)
        fail(FL_UNSUPPORTED,
             "%s: target_modules names q/k/v/gate/up_proj, but %s holds them fused as qkv_proj and gate_up_proj",
             cfg_path.c_str(), model->cfg.arch_name.c_str());
    if (!model->cfg.fused_projections && ad->fused_names)
        fail(FL_UNSUPPORTED, "%s: target_modules names qkv_proj or gate_up_proj, which %s does not have",
             cfg_path.c_str(), model->cfg.arch_name.c_str());
    SafetensorsFile file(dir + "/adapter_model.safetensors");
    const char* fp = file.path().c_str();
    const ModelConfig& c = model->cfg;
    const int r = ad->rank;
    std::set<std::string> used;
    ad->layers.resize(c.n_layers);
    ad->layer_on.assign(c.n_layers, ad->layers_to_transform.empty());
    for (int32_t l : ad->layers_to_transform) {
        if (l < 0 || l >= c.n_layers)
            fail(FL_SHAPE_MISMATCH, "%s: layers_to_transform names layer %d of a %d-layer model", cfg_path.c_str(), l,
                 c.n_layers);
        ad->layer_on[l] = true;
    }
    const Module* modules = c.fused_projections ? kFusedModules : kSplitModules;
    const int n_modules = c.fused_projections ? 4 : 7;
    for (int l = 0; l < c.n_layers; l++) {
        for (int mi = 0; mi < n_modules; mi++) {
            const Module& mod = modules[mi];
            if (!ad->applies(l, mod.projs[0])) continue;
            int in = model->layers[l].proj[mod.projs[0]].in, out = 0;
            for (int j = 0; j < mod.n; j++) out += model->layers[l].proj[mod.projs[j]].out;
            const char* target = std::strchr(mod.name, '.') + 1; // "q_proj", "qkv_proj", ...
            std::string pre = "base_model.model.model.layers." + std::to_string(l) + "." + mod.name;
            std::string an = pre + ".lora_A.weight", bn = pre + ".lora_B.weight";
            const StTensorInfo* ta = file.find(an);
            const StTensorInfo* tb = file.find(bn);
            if (!ta)
                fail(FL_SHAPE_MISMATCH, "%s: missing tensor '%s' (target %s, layer %d)", fp, an.c_str(), target, l);
            if (!tb)
                fail(FL_SHAPE_MISMATCH, "%s: missing tensor '%s' (target %s, layer %d)", fp, bn.c_str(), target, l);
            if (ta->shape != std::vector<int64_t>{r, in})
                fail(FL_SHAPE_MISMATCH, "%s: tensor '%s' must be [%d, %d] (rank, in_features)", fp, an.c_str(), r, in);
            if (tb->shape != std::vector<int64_t>{out, r})
                fail(FL_SHAPE_MISMATCH, "%s: tensor '%s' must be [%d, %d] (out_features, rank)", fp, bn.c_str(), out,
                     r);
            used.insert(an);
            used.insert(bn);
            std::vector<float> a = read_tensor_f32(file, *ta);
            std::vector<float> b = read_tensor_f32(file, *tb);
            for (float v : a)
                if (!std::isfinite(v)) fail(FL_FORMAT, "%s: tensor '%s' has a non-finite value", fp, an.c_str());
            for (float v : b)
                if (!std::isfinite(v)) fail(FL_FORMAT, "%s: tensor '%s' has a non-finite value", fp, bn.c_str());
            // rows [row0, row0 + part.out) of B [out, r] belong to projection p: Bt [r, part.out]
            int row0 = 0;
            for (int j = 0; j < mod.n; j++) {
                const int p = mod.projs[j], po = model->layers[l].proj[p].out;
                std::vector<float> bt(size_t(po) * r);
                for (int o = 0; o < po; o++)
                    for (int k = 0; k < r; k++) bt[size_t(k) * po + o] = b[size_t(row0 + o) * r + k];
                row0 += po;
                LoraPair& pair = ad->layers[l][p];
                pair.dtype = ad->dtype;
                store(a, ad->dtype, pair.a);
                store(bt, ad->dtype, pair.bt);
                ad->bytes += int64_t(pair.a.size() + pair.bt.size());
            }
        }
    }
    for (const auto& t : file.tensors())
        if (!used.count(t.name))
            fail(FL_SHAPE_MISMATCH,
                 "%s: unexpected tensor '%s' (not a lora_A/lora_B of a target module and layer of the model)", fp,
                 t.name.c_str());
    return ad;
}

} // namespace fl
