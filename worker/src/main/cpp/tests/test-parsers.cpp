// JSON, safetensors header, config.json and adapter_config.json parsers, incl. corrupt inputs.
#include <cstring>
#include <string>

#include "adapter.h"
#include "error.h"
#include "json.h"
#include "model-config.h"
#include "safetensors.h"
#include "test-model.h"
#include "test.h"

using namespace fl;

namespace {

// Status of running f, FL_OK if it does not throw.
template <class F> fl_status status_of(F&& f, std::string* msg = nullptr) {
    try {
        f();
        return FL_OK;
    } catch (const Error& e) {
        if (msg) *msg = e.what();
        return e.status();
    }
}

fl_status parse_json(const std::string& s) {
    return status_of([&] { Json::parse(s.data(), s.size(), "test"); });
}

fl_status parse_header(const std::string& header, uint64_t data_bytes, std::string* msg = nullptr) {
    return status_of(
        [&] {
            SafetensorsFile::from_header("t.safetensors", header.data(), header.size(), 8 + header.size() + data_bytes);
        },
        msg);
}

} // namespace

TEST(json_accepts_valid_documents) {
    std::string s = "{\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"], \"b\": {}, \"c\": 1e2}";
    Json j = Json::parse(s.data(), s.size(), "t");
    REQUIRE(j.is_object());
    const Json* a = j.find("a");
    REQUIRE(a && a->is_array() && a->items().size() == 6);
    CHECK(a->items()[0].is_integer() && a->items()[0].as_int() == 1);
    CHECK(a->items()[1].as_double() == -2500.0);
    CHECK(a->items()[2].as_bool() && !a->items()[3].as_bool() && a->items()[4].is_null());
    CHECK(a->items()[5].as_string() == "x\xc3\xa9\xf0\x9f\x98\x80\n");
    CHECK(j.find("c")->is_integer() && j.find("c")->as_int() == 100);
    CHECK(parse_json("  [ ]  ") == FL_OK);
    CHECK(parse_json("\"caf\xc3\xa9\"") == FL_OK);
}

TEST(json_rejects_malformed_documents) {
    const char* bad[] = {"",
                         "{",
                         "[1,]",
                         "{\"a\":1,}",
                         "{\"a\" 1}",
                         "{'a':1}",
                         "01",
                         "1.",
                         "-",
                         "1e",
                         "tru",
                         "nul",
                         "[1] x",
                         "\"abc",
                         "\"\\x\"",
                         "\"\\u12\"",
                         "\"\\ud800\"",
                         "\"\\udc00\"",
                         "\"a\nb\"",
                         "{\"a\":1,\"a\":2}",
                         "/*c*/1",
                         "NaN",
                         "\"\xff\"",
                         "\"\xc0\xaf\"",
                         "\"\xed\xa0\x80\"",
                         "\"\xe2\x82\"",
                         "{1:2}"};
    for (const char* s : bad) CHECK_MSG(parse_json(s) == FL_FORMAT, "accepted: %s", s);
    CHECK(parse_json(std::string("\"a\0b\"", 5)) == FL_FORMAT);
    std::string deep(Json::kMaxDepth + 2, '[');
    deep += std::string(Json::kMaxDepth + 2, ']');
    CHECK(parse_json(deep) == FL_FORMAT);
    std::string ok_depth(Json::kMaxDepth, '[');
    ok_depth += std::string(Json::kMaxDepth, ']');
    CHECK(parse_json(ok_depth) == FL_OK);
}

TEST(safetensors_header_validation) {
    const std::string good =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[16,22]},\"__metadata__\":{\"k\":\"v\"}}";
    CHECK(parse_header(good, 22) == FL_OK);
    std::string msg;
    // offsets past the end of the file
    CHECK(parse_header(good, 20, &msg) == FL_FORMAT);
    CHECK(msg.find("past the end") != std::string::npos);
    // shape product != byte size
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, &msg) == FL_FORMAT);
    CHECK(msg.find("needs 12") != std::string::npos);
    // overlapping
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                       12, &msg) == FL_FORMAT);
    CHECK(msg.find("overlap") != std::string::npos);
    // gap / misaligned start
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}}", 10, &msg) == FL_FORMAT);
    // trailing bytes not covered
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12) == FL_FORMAT);
    // end < begin, negative, non-integer
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8) == FL_FORMAT);
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0) == FL_FORMAT);
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4) == FL_FORMAT);
    // unknown dtype, missing fields, extra field, wrong types
    CHECK(parse_header("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &msg) == FL_FORMAT);
    CHECK(msg.find("Q4") != std::string::npos);
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4) == FL_FORMAT);
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4) == FL_FORMAT);
    CHECK(parse_header("{\"a\":[1]}", 0) == FL_FORMAT);
    CHECK(parse_header("[]", 0) == FL_FORMAT);
    CHECK(parse_header("{\"__metadata__\":{\"k\":1}}", 0) == FL_FORMAT);
    // huge shapes do not overflow
    CHECK(
        parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
                     4) == FL_FORMAT);
    CHECK(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}", 4) ==
          FL_FORMAT);
    // garbage / non-UTF-8
    CHECK(parse_header("\xff\xfe garbage", 0) == FL_FORMAT);
    // empty tensor list is fine
    CHECK(parse_header("{}", 0) == FL_OK);
}

TEST(safetensors_file_errors) {
    fltest::TempDir tmp;
    auto open_status = [&](const std::string& bytes, std::string* msg = nullptr) {
        std::string p = tmp.path + "/f.safetensors";
        fltest::write_file(p, bytes);
        return status_of([&] { SafetensorsFile f(p); }, msg);
    };
    std::string msg;
    CHECK(open_status("") == FL_FORMAT);
    CHECK(open_status("abc") == FL_FORMAT);
    std::string huge("\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
    CHECK(open_status(huge + "{}", &msg) == FL_FORMAT);
    CHECK(msg.find("exceeds") != std::string::npos);
    std::string len100("\x64\0\0\0\0\0\0\0", 8);
    CHECK(open_status(len100 + "{}", &msg) == FL_FORMAT); // truncated header
    CHECK(msg.find("past the end") != std::string::npos);
    CHECK(status_of([&] { SafetensorsFile f(tmp.path + "/none"); }) == FL_IO);
    CHECK(status_of([&] { SafetensorsFile f(tmp.path); }) == FL_IO); // a directory
    // a valid file reads back its bytes
    std::string good = fltest::safetensors_bytes({{"w", DType::F32, {2}, {1.5f, -2.0f}}});
    CHECK(open_status(good) == FL_OK);
    SafetensorsFile f(tmp.path + "/f.safetensors");
    float out[2] = {};
    f.read(*f.find("w"), out);
    CHECK(out[0] == 1.5f && out[1] == -2.0f);
}

TEST(model_config_parsing) {
    std::string msg;
    auto parse = [&](const std::string& s, ModelConfig* out = nullptr) {
        return status_of(
            [&] {
                ModelConfig c = parse_model_config(s.data(), s.size(), "config.json");
                if (out) *out = c;
            },
            &msg);
    };
    fltest::ModelSpec spec;
    ModelConfig c;
    REQUIRE(parse(fltest::config_json(spec), &c) == FL_OK);
    CHECK(c.hidden_size == 64 && c.n_kv_heads == 2 && c.head_dim == 16 && c.q_dim() == 64 && c.kv_dim() == 32);
    CHECK(std::fabs(c.rms_norm_eps - 1e-5f) < 1e-12);
    CHECK(parse("{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_"
                "layers\":1,"
                "\"num_attention_heads\":2,\"vocab_size\":5}",
                &c) == FL_OK);
    CHECK(c.attention_bias && !c.o_bias && c.n_kv_heads == 2);
    CHECK(parse("{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_"
                "layers\":1,"
                "\"num_attention_heads\":3,\"vocab_size\":5}") == FL_SHAPE_MISMATCH);
    CHECK(parse("{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_"
                "layers\":1,"
                "\"num_attention_heads\":2,\"num_key_value_heads\":3,\"vocab_size\":5}") == FL_SHAPE_MISMATCH);
    CHECK(parse("{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8}") == FL_FORMAT);
    CHECK(msg.find("intermediate_size") != std::string::npos);
    CHECK(parse("{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":-8,\"intermediate_size\":8,\"num_hidden_"
                "layers\":1,"
                "\"num_attention_heads\":2,\"vocab_size\":5}") == FL_FORMAT);
    CHECK(parse("{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":\"8\",\"intermediate_size\":8,\"num_hidden_"
                "layers\":1,"
                "\"num_attention_heads\":2,\"vocab_size\":5}") == FL_FORMAT);
    CHECK(parse("{\"architectures\":[\"FalconForCausalLM\"]}") == FL_UNSUPPORTED);
    std::string base = "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":8,"
                       "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"vocab_size\":5";
    CHECK(parse(base + ",\"hidden_act\":\"gelu\"}") == FL_UNSUPPORTED);
    CHECK(parse(base + ",\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":2}}") == FL_UNSUPPORTED);
    CHECK(parse(base + ",\"rope_scaling\":{\"type\":\"linear\"}}") == FL_FORMAT);
    CHECK(parse(base + ",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8}}") == FL_FORMAT);
    CHECK(parse(base + ",\"rope_scaling\":null}", &c) == FL_OK);
    CHECK(parse(base + ",\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}}", &c) == FL_OK);
    auto inv = c.rope_inv_freq();
    CHECK(inv.size() == 2 && std::fabs(inv[0] - 0.5f) < 1e-7);
    CHECK(parse(base + ",\"head_dim\":3}") == FL_UNSUPPORTED); // odd head_dim
    CHECK(parse(base + ",\"mlp_bias\":true}") == FL_UNSUPPORTED);
    CHECK(parse(base + ",\"rms_norm_eps\":0}") == FL_FORMAT);

    // transformers >= 5: RoPE in 'rope_parameters', rope_theta inside
    REQUIRE(parse(base + ",\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":500000.0}}", &c) == FL_OK);
    CHECK(c.rope_theta == 500000.0f && c.rope_scaling == RopeScaling::None);
    REQUIRE(parse(base + ",\"rope_parameters\":{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":1,"
                         "\"high_freq_factor\":4,\"original_max_position_embeddings\":8192,\"rope_theta\":500000}}",
                  &c) == FL_OK);
    CHECK(c.rope_theta == 500000.0f && c.rope_scaling == RopeScaling::Llama3 && c.rope_factor == 8.0f &&
          c.rope_original_max_pos == 8192);
    REQUIRE(parse(base + ",\"rope_parameters\":{\"rope_type\":\"linear\",\"factor\":2}}", &c) == FL_OK);
    CHECK(c.rope_theta == 10000.0f && c.rope_scaling == RopeScaling::Linear); // theta defaults as in transformers
    // both layouts: accepted when they agree, refused when they do not
    CHECK(parse(base + ",\"rope_theta\":5e5,\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":5e5}}") ==
          FL_OK);
    CHECK(parse(base + ",\"rope_theta\":1e4,\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":5e5}}") ==
          FL_FORMAT);
    CHECK(msg.find("rope_theta") != std::string::npos);
    CHECK(parse(base + ",\"rope_scaling\":{\"type\":\"linear\",\"factor\":2},"
                       "\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":1e4}}") == FL_FORMAT);
    // unsupported RoPE: the type, or a key of another variant, named
    CHECK(parse(base + ",\"rope_parameters\":{\"rope_type\":\"yarn\",\"factor\":4,\"rope_theta\":1e4}}") ==
          FL_UNSUPPORTED);
    CHECK(msg.find("yarn") != std::string::npos);
    // longrope needs a factor per rotated pair
    CHECK(parse(base + ",\"rope_parameters\":{\"rope_type\":\"longrope\",\"short_factor\":[1],\"long_factor\":[1]}}") ==
          FL_FORMAT);
    CHECK(msg.find("short_factor") != std::string::npos);
    CHECK(parse(base + ",\"rope_parameters\":{\"rope_type\":\"linear\",\"factor\":2,\"attention_factor\":0.5}}") ==
          FL_UNSUPPORTED);
    CHECK(msg.find("attention_factor") != std::string::npos);
    CHECK(parse(base + ",\"rope_parameters\":{\"rope_type\":\"default\",\"partial_rotary_factor\":0.5}}") ==
          FL_UNSUPPORTED);
    CHECK(msg.find("partial_rotary_factor") != std::string::npos);
    CHECK(parse(base + ",\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"default\"},"
                       "\"sliding_attention\":{\"rope_type\":\"default\"}}}") == FL_UNSUPPORTED);
    CHECK(msg.find("full_attention") != std::string::npos);
    CHECK(parse(base + ",\"rope_parameters\":5}") == FL_FORMAT);

    // keys that change the forward pass and are not computed: refused, named
    const char* refused[] = {"\"final_logit_softcapping\":30.0",
                             "\"attn_logit_softcapping\":50",
                             "\"query_pre_attn_scalar\":256",
                             "\"partial_rotary_factor\":0.5",
                             "\"embedding_multiplier\":12.0",
                             "\"logits_scaling\":8",
                             "\"use_qk_norm\":true",
                             "\"use_sliding_window\":true",
                             "\"sliding_window\":4096",
                             "\"quantization_config\":{\"quant_method\":\"awq\"}",
                             "\"layer_types\":[\"sliding_attention\"]"};
    for (const char* kv : refused) {
        CHECK_MSG(parse(base + "," + kv + "}") == FL_UNSUPPORTED, "accepted: %s", kv);
        std::string key(kv + 1, std::strchr(kv + 1, '"'));
        CHECK_MSG(msg.find(key) != std::string::npos || msg.find("sliding_attention") != std::string::npos,
                  "%s: message '%s' does not name it", kv, msg.c_str());
    }
    // ... and accepted at the value that changes nothing
    const char* neutral[] = {"\"final_logit_softcapping\":null", "\"partial_rotary_factor\":1.0",
                             "\"use_sliding_window\":false", "\"embedding_multiplier\":1",
                             "\"layer_types\":[\"full_attention\"]"};
    for (const char* kv : neutral) CHECK_MSG(parse(base + "," + kv + "}") == FL_OK, "refused: %s: %s", kv, msg.c_str());
    CHECK(parse(base + ",\"layer_types\":[\"full_attention\",\"full_attention\"]}") == FL_FORMAT); // 1 layer

    // Qwen3: q/k norms, head_dim of its own, attention_bias as Llama's; Qwen2/3 keep their unused window
    std::string q3 = "{\"architectures\":[\"Qwen3ForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":8,"
                     "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,\"head_dim\":16,"
                     "\"vocab_size\":5,\"use_sliding_window\":false,\"sliding_window\":null,\"max_window_layers\":1";
    REQUIRE(parse(q3 + "}", &c) == FL_OK);
    CHECK(c.arch == Arch::Qwen3 && c.qk_norm && c.head_dim == 16 && c.q_dim() == 32 && !c.attention_bias);
    REQUIRE(parse(q3 + ",\"attention_bias\":true}", &c) == FL_OK);
    CHECK(c.attention_bias && c.o_bias);
    std::string q3_window = q3 + "}";
    q3_window.replace(q3_window.find("\"use_sliding_window\":false"), 26, "\"use_sliding_window\":true ");
    CHECK(parse(q3_window) == FL_UNSUPPORTED);
    CHECK(msg.find("use_sliding_window") != std::string::npos);
    std::string q2 = "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":8,"
                     "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"vocab_size\":5,"
                     "\"use_sliding_window\":false,\"sliding_window\":131072}";
    REQUIRE(parse(q2, &c) == FL_OK);
    CHECK(c.sliding_window == 0 && !c.qk_norm);

    // Phi-3: fused projections, a window in every layer; longrope of its 128k variants, partial rotary
    std::string phi = "{\"architectures\":[\"Phi3ForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":8,"
                      "\"num_hidden_layers\":2,\"num_attention_heads\":2,\"vocab_size\":5,\"sliding_window\":7,"
                      "\"original_max_position_embeddings\":4096,\"embd_pdrop\":0.0,\"resid_pdrop\":0.0";
    REQUIRE(parse(phi + "}", &c) == FL_OK);
    CHECK(c.arch == Arch::Phi3 && c.fused_projections && c.sliding_window == 7 && c.layer_sliding[0] &&
          c.layer_sliding[1]);
    CHECK(parse(phi + ",\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[1],\"long_factor\":[2]}}") ==
          FL_FORMAT);
    CHECK(msg.find("short_factor") != std::string::npos);
    // factor = 131072 / 4096 = 32: attention factor sqrt(1 + ln 32 / ln 4096)
    std::string longrope = phi + ",\"max_position_embeddings\":131072,\"rope_scaling\":{\"type\":\"su\","
                                 "\"short_factor\":[1,1.5],\"long_factor\":[2,3]}}";
    REQUIRE(parse(longrope, &c) == FL_OK);
    CHECK(c.rope_scaling == RopeScaling::LongRope && c.rope_original_max_pos == 4096);
    CHECK(std::fabs(c.rope_attention_factor - std::sqrt(1 + std::log(32.0) / std::log(4096.0))) < 1e-6);
    CHECK(c.rope_inv_freq(false)[1] * 1.5f == c.rope_inv_freq(true)[1] * 3.0f);
    CHECK(parse(phi + ",\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[1,1],\"long_factor\":[2,2],"
                      "\"attention_factor\":1.25}}",
                &c) == FL_OK);
    CHECK(c.rope_attention_factor == 1.25f);
    CHECK(parse(phi + ",\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[1,1],\"long_factor\":[2]}}") ==
          FL_FORMAT);
    CHECK(parse(phi + ",\"rope_scaling\":{\"type\":\"longrope\",\"short_factor\":[1,0],\"long_factor\":[2,2]}}") ==
          FL_FORMAT);
    // partial rotary: int(4 * 0.5) = 2 dimensions rotate; int(4 * 0.75) = 3 is odd and refused by name
    REQUIRE(parse(phi + ",\"partial_rotary_factor\":0.5}", &c) == FL_OK);
    CHECK(c.rotary_dim == 2 && c.rope_inv_freq().size() == 1);
    CHECK(parse(phi + ",\"partial_rotary_factor\":0.75}") == FL_UNSUPPORTED);
    CHECK(msg.find("partial_rotary_factor") != std::string::npos);
    CHECK(parse(phi + ",\"attention_bias\":true}") == FL_UNSUPPORTED);

    // Gemma 2: its config class's defaults where keys are absent, null turns a cap off
    std::string g2 = "{\"architectures\":[\"Gemma2ForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":8,"
                     "\"num_hidden_layers\":3,\"num_attention_heads\":2,\"vocab_size\":5,\"head_dim\":4,"
                     "\"hidden_act\":\"gelu_pytorch_tanh\"";
    REQUIRE(parse(g2 + "}", &c) == FL_OK);
    CHECK(c.arch == Arch::Gemma2 && c.gemma_norms && c.embed_scaled && c.tie_word_embeddings && !c.qk_norm);
    CHECK(c.activation == Activation::GeluTanh && c.attn_softcap == 50.0f && c.final_softcap == 30.0f);
    CHECK(c.sliding_window == 4096 && c.layer_sliding[0] && !c.layer_sliding[1] && c.layer_sliding[2]);
    CHECK(c.attn_scale == 1.0f / 16); // query_pre_attn_scalar 256
    REQUIRE(parse(g2 + ",\"attn_logit_softcapping\":null,\"final_logit_softcapping\":null,"
                       "\"query_pre_attn_scalar\":64,\"layer_types\":[\"full_attention\",\"sliding_attention\","
                       "\"full_attention\"]}",
                  &c) == FL_OK);
    CHECK(c.attn_softcap == 0 && c.final_softcap == 0 && c.attn_scale == 0.125f);
    CHECK(!c.layer_sliding[0] && c.layer_sliding[1] && !c.layer_sliding[2]);
    CHECK(parse(g2 + ",\"hidden_activation\":\"gelu\"}") == FL_UNSUPPORTED);
    CHECK(msg.find("hidden_activation") != std::string::npos);

    // Gemma 3: every sliding_window_pattern-th layer global; local RoPE theta; both RoPE layouts
    std::string g3 = "{\"architectures\":[\"Gemma3ForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":8,"
                     "\"num_hidden_layers\":4,\"num_attention_heads\":2,\"vocab_size\":5,\"head_dim\":4,"
                     "\"sliding_window\":16,\"sliding_window_pattern\":2";
    REQUIRE(parse(g3 + ",\"rope_local_base_freq\":10000,\"rope_scaling\":{\"rope_type\":\"linear\","
                       "\"factor\":8.0}}",
                  &c) == FL_OK);
    CHECK(c.arch == Arch::Gemma3 && c.qk_norm && c.attn_softcap == 0 && c.final_softcap == 0);
    CHECK(c.rope_theta == 1000000.0f && c.rope_local_theta == 10000.0f && c.rope_scaling == RopeScaling::Linear);
    CHECK(c.layer_sliding[0] && !c.layer_sliding[1] && c.layer_sliding[2] && !c.layer_sliding[3]);
    ModelConfig v5;
    REQUIRE(parse(g3 + ",\"rope_parameters\":{\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":10000},"
                       "\"full_attention\":{\"rope_type\":\"linear\",\"factor\":8.0,\"rope_theta\":1000000}}}",
                  &v5) == FL_OK);
    CHECK(v5.rope_theta == c.rope_theta && v5.rope_local_theta == c.rope_local_theta &&
          v5.rope_scaling == c.rope_scaling && v5.rope_factor == c.rope_factor);
    CHECK(parse(g3 + ",\"rope_parameters\":{\"sliding_attention\":{\"rope_type\":\"linear\",\"factor\":2},"
                     "\"full_attention\":{\"rope_type\":\"default\"}}}") == FL_UNSUPPORTED);
    CHECK(parse(g3 + ",\"use_bidirectional_attention\":true}") == FL_UNSUPPORTED);
    CHECK(msg.find("use_bidirectional_attention") != std::string::npos);
}

TEST(adapter_config_parsing) {
    auto parse = [&](const std::string& s, Adapter* out = nullptr) {
        Adapter a;
        fl_status st = status_of([&] { parse_adapter_config(s.data(), s.size(), "adapter_config.json", a); });
        if (out) {
            out->rank = a.rank;
            out->scale = a.scale;
            std::copy(a.targets, a.targets + kNumProj, out->targets);
        }
        return st;
    };
    Adapter a;
    CHECK(parse("{\"r\":8,\"lora_alpha\":16,\"target_modules\":[\"q_proj\",\"v_proj\"]}", &a) == FL_OK);
    CHECK(a.rank == 8 && a.scale == 2.0f && a.targets[kQ] && a.targets[kV] && !a.targets[kK]);
    CHECK(parse("{\"r\":16,\"lora_alpha\":8,\"use_rslora\":true,\"target_modules\":\"all-linear\"}", &a) == FL_OK);
    CHECK(a.scale == 2.0f && a.targets[kDown]);
    CHECK(parse("{\"r\":0,\"lora_alpha\":16,\"target_modules\":[\"q_proj\"]}") == FL_UNSUPPORTED);
    CHECK(parse("{\"r\":257,\"lora_alpha\":16,\"target_modules\":[\"q_proj\"]}") == FL_UNSUPPORTED);
    CHECK(parse("{\"lora_alpha\":16,\"target_modules\":[\"q_proj\"]}") == FL_FORMAT);
    CHECK(parse("{\"r\":8,\"target_modules\":[\"q_proj\"]}") == FL_FORMAT);
    CHECK(parse("{\"r\":8,\"lora_alpha\":16}") == FL_FORMAT);
    CHECK(parse("{\"r\":8,\"lora_alpha\":16,\"target_modules\":[]}") == FL_FORMAT);
    CHECK(parse("{\"r\":8,\"lora_alpha\":16,\"target_modules\":[\"lm_head\"]}") == FL_UNSUPPORTED);
    CHECK(parse("{\"r\":8,\"lora_alpha\":16,\"target_modules\":\".*proj\"}") == FL_UNSUPPORTED);
    CHECK(parse("{\"r\":8,\"lora_alpha\":16,\"target_modules\":[\"q_proj\"],\"use_dora\":true}") == FL_UNSUPPORTED);
    CHECK(parse("{\"r\":8,\"lora_alpha\":16,\"target_modules\":[\"q_proj\"],\"modules_to_save\":[\"lm_head\"]}") ==
          FL_UNSUPPORTED);
    CHECK(parse("{\"r\":8,\"lora_alpha\":16,\"target_modules\":[\"q_proj\"],\"peft_type\":\"IA3\"}") == FL_UNSUPPORTED);
}

TEST_MAIN()
