// weights.cpp - a model's weights and an adapter's LoRA pairs into device memory.
//
// Linear weights stream from the files through two pinned staging buffers: while chunk i copies to
// the device (cudaMemcpyAsync on the upload stream), chunk i+1 is read from the file (pread) into
// the other buffer, so a cold start is bound by the disk or the page cache, not by the copy. Weights
// are kept in the compute dtype: BF16, or F16 for an F16 model; anything else (an F32 checkpoint,
// an F16 embedding beside BF16 layers) is rounded to it on the way (said on stderr).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "adapter.h"
#include "cuda/backend.h"
#include "cuda/check.h"
#include "model.h"
#include "safetensors.h"

namespace fl {
namespace cuda {

namespace {

constexpr size_t kChunkBytes = size_t(64) << 20; // per staging buffer

uint16_t to_half_bits(float f, Half ht) { return ht == Half::BF16 ? f32_to_bf16(f) : f32_to_f16(f); }

// Rounds n source elements of dtype src to the 16-bit compute dtype.
void convert(StDType src, const void* in, size_t n, Half ht, uint16_t* out) {
    for (size_t i = 0; i < n; i++) {
        float f;
        if (src == StDType::F32)
            f = static_cast<const float*>(in)[i];
        else if (src == StDType::F16)
            f = f16_to_f32(static_cast<const uint16_t*>(in)[i]);
        else
            f = bf16_to_f32(static_cast<const uint16_t*>(in)[i]);
        out[i] = to_half_bits(f, ht);
    }
}

bool same_dtype(StDType src, Half ht) {
    return (src == StDType::BF16 && ht == Half::BF16) || (src == StDType::F16 && ht == Half::F16);
}

class Uploader {
public:
    Uploader(int device, Half ht) : device_(device), ht_(ht) {
        for (auto& b : staging_) b = std::make_unique<PinnedBuffer>(kChunkBytes);
    }

    // dst [numel] h16 <- the tensor's elements, converted when its dtype differs.
    void tensor(const SafetensorsFile& file, const StTensorInfo& t, uint16_t* dst) {
        const size_t numel = static_cast<size_t>(t.numel());
        const size_t es = st_dtype_size(t.dtype);
        const size_t per_chunk = kChunkBytes / 2;
        for (size_t e0 = 0; e0 < numel; e0 += per_chunk) {
            const size_t cnt = std::min(per_chunk, numel - e0);
            Event& ready = done_[next_];
            ready.synchronize(); // the copy that last used this buffer has finished
            uint16_t* pin = staging_[next_]->as<uint16_t>();
            if (same_dtype(t.dtype, ht_)) {
                file.read_range(t, e0 * es, cnt * es, pin);
            } else {
                scratch_.resize(cnt * es);
                file.read_range(t, e0 * es, cnt * es, scratch_.data());
                convert(t.dtype, scratch_.data(), cnt, ht_, pin);
            }
            FL_CUDA_CHECK(cudaMemcpyAsync(dst + e0, pin, cnt * 2, cudaMemcpyHostToDevice, stream_.get()));
            ready.record(stream_.get());
            next_ ^= 1;
            bytes_ += cnt * 2;
        }
    }

    // A small host array (norms, biases, tables); synchronous, so src may be freed after.
    void small(const void* src, size_t bytes, void* dst) {
        FL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_.get()));
        stream_.synchronize();
    }

    void finish() { stream_.synchronize(); }
    size_t bytes() const { return bytes_; }

private:
    int device_;
    Half ht_;
    Stream stream_;
    std::unique_ptr<PinnedBuffer> staging_[2];
    Event done_[2];
    int next_ = 0;
    std::vector<char> scratch_;
    size_t bytes_ = 0;
};

DeviceBuffer vector_f32(int device, const Buffer& host, const char* what, Uploader& up, int64_t& bytes) {
    DeviceBuffer d(device, host.size(), what);
    up.small(host.as<void>(), host.size(), d.as<void>());
    bytes += int64_t(host.size());
    return d;
}

} // namespace

DeviceModelPtr upload_model(const Model& m, const std::vector<LinearSource>& linears) {
    for (const LinearSource& s : linears)
        if (s.info->dtype == StDType::I8)
            fail(FL_UNSUPPORTED,
                 "%s: tensor '%s' has weight dtype I8 (int8), which the CUDA backend does not compute; load the "
                 "model on the CPU",
                 m.dir.c_str(), s.info->name.c_str());
    const int dev = m.device.index;
    DeviceScope scope(dev);
    auto start = std::chrono::steady_clock::now();
    DeviceModelPtr dm(new DeviceModel);
    dm->device = dev;
    dm->ht = m.layer_dtype == DType::F16 ? Half::F16 : Half::BF16;
    FL_CUDA_CHECK(cudaDeviceGetAttribute(&dm->sms, cudaDevAttrMultiProcessorCount, dev));
    const ModelConfig& c = m.cfg;
    dm->layers.resize(c.n_layers);
    Uploader up(dev, dm->ht);
    int64_t& bytes = dm->bytes;
    bool rounded = false;
    for (const LinearSource& s : linears) {
        DeviceLinear& d = s.layer == LinearSource::kEmbed    ? dm->embed
                          : s.layer == LinearSource::kLmHead ? dm->lm_head
                                                             : dm->layers[s.layer].proj[s.proj];
        d.out = s.out;
        d.in = s.in;
        d.w = DeviceBuffer(dev, size_t(s.out) * s.in * 2, s.info->name.c_str());
        rounded = rounded || !same_dtype(s.info->dtype, dm->ht);
        up.tensor(*s.file, *s.info, d.w.as<uint16_t>());
        bytes += int64_t(d.w.size());
    }
    for (int l = 0; l < c.n_layers; l++) {
        const Layer& L = m.layers[l];
        DeviceLayer& D = dm->layers[l];
        D.attn_norm = vector_f32(dev, L.attn_norm, "input_layernorm", up, bytes);
        D.ffn_norm = vector_f32(dev, L.ffn_norm, "post_attention_layernorm", up, bytes);
        for (int p = 0; p < kNumProj; p++)
            if (L.proj[p].has_bias()) D.proj[p].bias = vector_f32(dev, L.proj[p].bias, "bias", up, bytes);
    }
    dm->final_norm = vector_f32(dev, m.final_norm, "model.norm", up, bytes);
    dm->inv_freq = DeviceBuffer(dev, m.rope_inv_freq.size() * 4, "rope inv_freq");
    up.small(m.rope_inv_freq.data(), m.rope_inv_freq.size() * 4, dm->inv_freq.as<void>());
    up.finish();
    dm->upload_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "flotilla: %s: %.2f GiB of weights to cuda:%d as %s in %.2f s (%.1f GB/s)%s\n", m.dir.c_str(),
                 bytes / 1073741824.0, dev, dm->ht == Half::BF16 ? "BF16" : "F16", dm->upload_seconds,
                 up.bytes() / 1e9 / std::max(dm->upload_seconds, 1e-9),
                 rounded ? "; tensors stored in another dtype (F32 checkpoint) were rounded to it" : "");
    return dm;
}

DeviceAdapterPtr upload_adapter(const Model& m, const Adapter& a) {
    const int dev = m.device.index;
    DeviceScope scope(dev);
    DeviceAdapterPtr da(new DeviceAdapter);
    const int L = m.cfg.n_layers;
    std::vector<LoraPtrs> table(size_t(L) * kNumProj, LoraPtrs{nullptr, nullptr});
    Stream stream;
    std::vector<uint16_t> bf; // F32-stored adapters are rounded to BF16 for the device
    auto put = [&](const Buffer& host, size_t numel) {
        da->pairs.emplace_back(dev, numel * 2, "LoRA weights");
        const void* src = host.as<void>();
        if (a.dtype == DType::F32) {
            bf.resize(numel);
            for (size_t i = 0; i < numel; i++) bf[i] = f32_to_bf16(host.as<float>()[i]);
            src = bf.data();
        }
        FL_CUDA_CHECK(
            cudaMemcpyAsync(da->pairs.back().as<void>(), src, numel * 2, cudaMemcpyHostToDevice, stream.get()));
        stream.synchronize();
        return da->pairs.back().as<uint16_t>();
    };
    da->pairs.reserve(size_t(L) * kNumProj * 2);
    for (int l = 0; l < L; l++)
        for (int p = 0; p < kNumProj; p++) {
            if (!a.applies(l, p)) continue;
            const Linear& base = m.layers[l].proj[p];
            const LoraPair& lp = a.layers[l][p];
            LoraPtrs& e = table[size_t(l) * kNumProj + p];
            e.a = put(lp.a, size_t(a.rank) * base.in);
            e.bt = put(lp.bt, size_t(a.rank) * base.out);
        }
    da->table = DeviceBuffer(dev, table.size() * sizeof(LoraPtrs), "LoRA table");
    FL_CUDA_CHECK(cudaMemcpyAsync(da->table.as<void>(), table.data(), table.size() * sizeof(LoraPtrs),
                                  cudaMemcpyHostToDevice, stream.get()));
    stream.synchronize();
    return da;
}

int64_t device_model_bytes(const DeviceModel& m) { return m.bytes; }

void DeviceModelDeleter::operator()(DeviceModel* p) const noexcept { delete p; }
void DeviceAdapterDeleter::operator()(DeviceAdapter* p) const noexcept { delete p; }

} // namespace cuda
} // namespace fl
