// Fuzzes the 4-bit checkpoint tensors as load reads them: AWQ and GPTQ unpacking of arbitrary
// qweight / qzeros / scales / g_idx (g_idx out of range or not 128 columns a group must fail with
// fl::Error), then packing and the reference GEMM on what unpacked.
#include <cstring>
#include <vector>

#include "error.h"
#include "kernels/kernels.h"
#include "kernels/q4.h"
#include "quantization-4bit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) return 0;
    const bool awq = data[0] & 1, with_g_idx = data[0] & 2;
    const int N = 8 * (1 + data[1] % 5), groups = 1 + data[2] % 3, K = groups * fl::kern::kQ4Group;
    data += 3;
    size -= 3;
    // the tensors, filled from the input in turn (zero once it runs out)
    auto take = [&](size_t bytes) {
        std::vector<char> v(bytes, 0);
        const size_t n = std::min(bytes, size);
        if (n) std::memcpy(v.data(), data, n);
        data += n;
        size -= n;
        return v;
    };
    std::vector<char> qweight = take(size_t(K) * N / 2), qzeros = take(size_t(groups) * N / 2),
                      scales = take(size_t(groups) * N * 2),
                      g_idx = with_g_idx ? take(size_t(K) * 4) : std::vector<char>();
    try {
        auto i32 = [](const std::vector<char>& b) { return reinterpret_cast<const int32_t*>(b.data()); };
        const auto* s = reinterpret_cast<const uint16_t*>(scales.data());
        fl::Q4Unpacked u =
            awq ? fl::unpack_awq(i32(qweight), i32(qzeros), s, N, K)
                : fl::unpack_gptq(i32(qweight), i32(qzeros), s, g_idx.empty() ? nullptr : i32(g_idx), N, K, 1, "fuzz");
        std::vector<char> packed(fl::kern::packed_q4_bytes(N, K, !u.perm.empty()));
        fl::kern::pack_weight_q4(u.q.data(), u.s.data(), u.z.data(), u.perm.empty() ? nullptr : u.perm.data(), N, K,
                                 packed.data());
        std::vector<float> x(static_cast<size_t>(K), 0.5f), y(static_cast<size_t>(N));
        std::vector<char> xp(fl::kern::pack_x_q4_bytes(1, K));
        fl::kern::pack_x_q4(x.data(), K, 1, K, xp.data());
        fl::kern::gemm_q4_scalar(1, K, xp.data(), packed.data(), N, 0, (N + 31) / 32, y.data(), N);
    } catch (const fl::Error&) {}
    return 0;
}
