// kernels-q4.cpp - 4-bit weights: packing, activation quantization and the reference GEMM
// (portable; the layout and the math: q4.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../tensor.h"
#include "kernels.h"
#include "q4.h"

namespace fl {
namespace kern {

namespace {

size_t panels_of(int N) { return (size_t(N) + kPanel - 1) / kPanel; }

const Q4Header& header(const void* wp) { return *static_cast<const Q4Header*>(wp); }
const uint8_t* blocks(const void* wp) { return static_cast<const uint8_t*>(wp) + sizeof(Q4Header); }
const int32_t* perm_of(const void* wp) {
    const Q4Header& h = header(wp);
    if (!h.has_perm) return nullptr;
    return reinterpret_cast<const int32_t*>(blocks(wp) +
                                            panels_of(h.n) * (kPanel / kQ4Rows) * size_t(h.k / kQ4Group) * kQ4Block);
}

// Where row n, group g lives: the block's base, and n's row inside it.
const uint8_t* block_at(const void* wp, int n, int g, int& row) {
    const int groups = header(wp).k / kQ4Group;
    row = n % kQ4Rows;
    return blocks(wp) + (size_t(n / kQ4Rows) * groups + g) * kQ4Block;
}

int nibble(const uint8_t* rowbytes, int c) { // column c of a group in one row's 64 bytes
    const uint8_t b = rowbytes[(c / 64) * 32 + c % 32];
    return (c % 64) < 32 ? (b & 15) : (b >> 4);
}

} // namespace

size_t packed_q4_bytes(int N, int K, bool has_perm) {
    return sizeof(Q4Header) + panels_of(N) * (kPanel / kQ4Rows) * size_t(K / kQ4Group) * kQ4Block +
           (has_perm ? size_t(K) * 4 : 0);
}

void pack_weight_q4(const uint8_t* q, const uint16_t* s, const uint8_t* z, const int32_t* perm, int N, int K,
                    void* dst) {
    Q4Header h{};
    h.n = N;
    h.k = K;
    h.has_perm = perm != nullptr;
    std::memcpy(dst, &h, sizeof h);
    const int groups = K / kQ4Group;
    uint8_t* d = static_cast<uint8_t*>(dst) + sizeof(Q4Header);
    const size_t row_blocks = panels_of(N) * (kPanel / kQ4Rows);
    for (size_t rb = 0; rb < row_blocks; rb++) {
        for (int g = 0; g < groups; g++) {
            std::memset(d, 0, kQ4Block);
            uint16_t* ds = reinterpret_cast<uint16_t*>(d + kQ4Rows * 64);
            uint8_t* dz = d + kQ4Rows * 64 + 16;
            for (int r = 0; r < kQ4Rows; r++) {
                const size_t n = rb * kQ4Rows + r;
                if (n >= size_t(N)) break;
                const uint8_t* src = q + n * size_t(K) + size_t(g) * kQ4Group;
                uint8_t* row = d + r * 64;
                for (int c = 0; c < kQ4Group; c++) {
                    const int at = (c / 64) * 32 + c % 32;
                    row[at] |= (c % 64) < 32 ? (src[c] & 15) : uint8_t((src[c] & 15) << 4);
                }
                ds[r] = s[n * groups + g];
                dz[r] = z[n * groups + g];
            }
            d += kQ4Block;
        }
    }
    if (perm) std::memcpy(d, perm, size_t(K) * 4);
}

float q4_weight_at(const void* wp, int n, int k) {
    const Q4Header& h = header(wp);
    int kk = k; // packed column of original column k
    if (const int32_t* p = perm_of(wp))
        for (int i = 0; i < h.k; i++)
            if (p[i] == k) kk = i;
    int row;
    const uint8_t* b = block_at(wp, n, kk / kQ4Group, row);
    const uint16_t* s = reinterpret_cast<const uint16_t*>(b + kQ4Rows * 64);
    const uint8_t* z = b + kQ4Rows * 64 + 16;
    return f16_to_f32(s[row]) * float(nibble(b + row * 64, kk % kQ4Group) - int(z[row]));
}

size_t pack_x_q4_bytes(int M, int K) { return size_t(M) * q4_x_stride(K); }

void pack_x_q4(const float* X, int ldx, int M, int K, void* xp) {
    for (int m = 0; m < M; m++) {
        char* row = static_cast<char*>(xp) + size_t(m) * q4_x_stride(K);
        std::memcpy(row, X + size_t(m) * ldx, size_t(K) * 4);
        quantize_x_q4(X + size_t(m) * ldx, nullptr, K, reinterpret_cast<int8_t*>(row + q4_x_xq_at(K)),
                      reinterpret_cast<float*>(row + q4_x_sx_at(K)), reinterpret_cast<int32_t*>(row + q4_x_sum_at(K)));
    }
}

const void* q4_quantized_x(int M, int K, const void* xp, const int32_t* perm) {
    if (!perm) return xp;
    thread_local std::vector<char> buf;
    const size_t stride = q4_x_stride(K);
    if (buf.size() < size_t(M) * stride) buf.resize(size_t(M) * stride);
    for (int m = 0; m < M; m++) {
        const char* in = static_cast<const char*>(xp) + size_t(m) * stride;
        char* row = buf.data() + size_t(m) * stride;
        quantize_x_q4(reinterpret_cast<const float*>(in), perm, K, reinterpret_cast<int8_t*>(row + q4_x_xq_at(K)),
                      reinterpret_cast<float*>(row + q4_x_sx_at(K)), reinterpret_cast<int32_t*>(row + q4_x_sum_at(K)));
    }
    return buf.data();
}

void quantize_x_q4(const float* x, const int32_t* perm, int K, int8_t* xq, float* sx, int32_t* sum) {
    for (int g = 0; g < K / kQ4Group; g++) {
        const int k0 = g * kQ4Group;
        auto at = [&](int k) { return perm ? x[perm[k]] : x[k]; };
        float amax = 0.0f;
        bool finite = true;
        for (int k = k0; k < k0 + kQ4Group; k++) {
            const float a = std::fabs(at(k));
            if (!(a <= std::numeric_limits<float>::max()))
                finite = false;
            else if (a > amax)
                amax = a;
        }
        int32_t total = 0;
        if (!finite || amax == 0.0f) {
            std::memset(xq + k0, 0, kQ4Group);
            sx[g] = finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
        } else {
            const float inv = 127.0f / amax;
            for (int k = k0; k < k0 + kQ4Group; k++) {
                // round half to even, as nearbyint in the default rounding mode: adding and taking
                // away 1.5 * 2^23 leaves no fraction bits (exact for |v| <= 127; no libm call)
                const float v = std::min(127.0f, std::max(-127.0f, at(k) * inv));
                xq[k] = static_cast<int8_t>((v + 12582912.0f) - 12582912.0f);
                total += xq[k];
            }
            sx[g] = amax / 127.0f;
        }
        sum[g] = total;
    }
}

void gemm_q4_scalar(int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy) {
    const int groups = K / kQ4Group;
    const char* x = static_cast<const char*>(q4_quantized_x(M, K, xp, perm_of(wp)));
    const size_t stride = q4_x_stride(K);
    const int n1 = std::min(N, p1 * kPanel);
    for (int n = p0 * kPanel; n < n1; n++) {
        for (int m = 0; m < M; m++) {
            float y = 0.0f;
            for (int g = 0; g < groups; g++) {
                int row;
                const uint8_t* b = block_at(wp, n, g, row);
                const float s = f16_to_f32(reinterpret_cast<const uint16_t*>(b + kQ4Rows * 64)[row]);
                const int32_t z = b[kQ4Rows * 64 + 16 + row];
                const char* xr = x + size_t(m) * stride;
                const int8_t* xq = reinterpret_cast<const int8_t*>(xr + q4_x_xq_at(K)) + size_t(g) * kQ4Group;
                int32_t dot = 0;
                for (int c = 0; c < kQ4Group; c++) dot += int32_t(xq[c]) * nibble(b + row * 64, c);
                const int32_t d = dot - z * reinterpret_cast<const int32_t*>(xr + q4_x_sum_at(K))[g];
                y = std::fma(float(d), s * reinterpret_cast<const float*>(xr + q4_x_sx_at(K))[g], y);
            }
            Y[size_t(m) * ldy + n] = y;
        }
    }
}

} // namespace kern
} // namespace fl
