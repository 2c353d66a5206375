// Fuzzes the adapter loader against a fixed tiny base model (hidden 8, intermediate 12, 1 layer,
// 2 heads, 1 KV head, vocab 11). Input: [u32 LE n][n bytes adapter_config.json][rest:
// adapter_model.safetensors].
#include <cstring>
#include <memory>

#include "adapter.h"
#include "error.h"
#include "test-model.h"

namespace {
struct Fixture {
    fltest::TempDir dir;
    std::string adapter_dir;
    std::shared_ptr<fl::Model> model;
    Fixture() {
        fltest::ModelSpec s;
        s.hidden = 8;
        s.inter = 12;
        s.layers = 1;
        s.heads = 2;
        s.kv_heads = 1;
        s.vocab = 11;
        std::string base = dir.sub("base");
        fltest::write_model(fltest::make_model(s, 1), base);
        model = fl::load_model(base);
        adapter_dir = dir.sub("adapter");
    }
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Fixture fx;
    if (size < 4) return 0;
    uint32_t n;
    std::memcpy(&n, data, 4);
    if (n > size - 4) return 0;
    std::string cfg(reinterpret_cast<const char*>(data + 4), n);
    std::string st(reinterpret_cast<const char*>(data + 4 + n), size - 4 - n);
    fltest::write_file(fx.adapter_dir + "/adapter_config.json", cfg);
    fltest::write_file(fx.adapter_dir + "/adapter_model.safetensors", st);
    try {
        auto a = fl::load_adapter(fx.model, fx.adapter_dir);
    } catch (const fl::Error&) {}
    return 0;
}
