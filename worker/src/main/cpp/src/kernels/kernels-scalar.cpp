// kernels-scalar.cpp - portable reference kernels (no SIMD); also the fallback on old CPUs.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "../error.h"
#include "../tensor.h"
#include "kernels.h"
#include "q4.h"

namespace fl {
namespace kern {

namespace {

// X packed as plain rows [M][K] F32.
size_t pack_x_bytes(DType wt, int M, int K) {
    return wt == DType::I8   ? pack_x_i8_bytes(M, K)
           : wt == DType::Q4 ? pack_x_q4_bytes(M, K)
                             : size_t(M) * size_t(K) * 4;
}

void pack_x(DType wt, const float* X, int ldx, int M, int K, void* xp) {
    if (wt == DType::I8) return pack_x_i8(X, ldx, M, K, xp);
    if (wt == DType::Q4) return pack_x_q4(X, ldx, M, K, xp);
    float* out = static_cast<float*>(xp);
    for (int m = 0; m < M; m++) std::memcpy(out + size_t(m) * K, X + size_t(m) * ldx, size_t(K) * 4);
}

inline float weight_at(DType wt, const void* wp, int N, int K, int n, int k) {
    size_t p = n / kPanel, j = n % kPanel;
    if (wt == DType::I8) {
        const size_t k2 = size_t(i8_kpad(K));
        const int8_t* w = static_cast<const int8_t*>(wp);
        const float* s = i8_row_scales(wp, N, K);
        const uint16_t* bs = i8_block_scales(wp, N, K) + (p * size_t(i8_blocks(K)) + k / kI8Block) * kPanel + j;
        return float(w[p * k2 * kPanel + (k / 2) * 2 * kPanel + j * 2 + k % 2]) * f16_to_f32(*bs) * s[n];
    }
    if (wt == DType::F32) return static_cast<const float*>(wp)[(p * K + k) * kPanel + j];
    if (wt == DType::F16) return f16_to_f32(static_cast<const uint16_t*>(wp)[(p * K + k) * kPanel + j]);
    size_t kp = (K + 1) & ~1;
    return bf16_to_f32(static_cast<const uint16_t*>(wp)[p * kp * kPanel + (k / 2) * 2 * kPanel + j * 2 + (k % 2)]);
}

void gemm(DType wt, int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy,
          const PrefetchRegion*, int) {
    if (wt == DType::I8) return gemm_i8_scalar(M, K, xp, wp, N, p0, p1, Y, ldy);
    if (wt == DType::Q4) return gemm_q4_scalar(M, K, xp, wp, N, p0, p1, Y, ldy);
    const float* X = static_cast<const float*>(xp);
    int n1 = p1 * kPanel < N ? p1 * kPanel : N;
    for (int n = p0 * kPanel; n < n1; n++) {
        for (int m = 0; m < M; m++) {
            const float* x = X + size_t(m) * K;
            float s = 0;
            for (int k = 0; k < K; k++) s += x[k] * weight_at(wt, wp, N, K, n, k);
            Y[size_t(m) * ldy + n] = s;
        }
    }
}

float dot(const float* a, const float* b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void axpy(float a, const float* x, float* y, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

void rmsnorm(float* out, const float* x, const float* w, int n, float eps) {
    float ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float r = 1.0f / std::sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * r * w[i];
}

void silu_mul(float* g, const float* u, int n) {
    for (int i = 0; i < n; i++) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

float exp_sum(float* x, int n, float sub) {
    float s = 0;
    for (int i = 0; i < n; i++) {
        x[i] = std::exp(x[i] - sub);
        s += x[i];
    }
    return s;
}

// --- LoRA with BF16 adapter weights -----------------------------------------------------------

float dot_bf16(const float* x, const uint16_t* w, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += x[i] * bf16_to_f32(w[i]);
    return s;
}

void lora_expand_bf16(const uint16_t* Bt, int ldb, int rank, const float* t, int ldt, int n, float* y, int ldy,
                      int len) {
    for (int i = 0; i < n; i++) {
        float* yi = y + size_t(i) * ldy;
        const float* ti = t + size_t(i) * ldt;
        for (int c = 0; c < len; c++) {
            float acc = yi[c];
            for (int j = 0; j < rank; j++) acc += ti[j] * bf16_to_f32(Bt[size_t(j) * ldb + c]);
            yi[c] = acc;
        }
    }
}

void axpy_bf16(float a, const uint16_t* x, float* y, int n) {
    for (int i = 0; i < n; i++) y[i] += a * bf16_to_f32(x[i]);
}

const Kernels kScalar = {
    "scalar", Isa::Scalar, 1,       pack_x_bytes, pack_x,           gemm,      dot,     axpy,
    rmsnorm,  silu_mul,    exp_sum, dot_bf16,     lora_expand_bf16, axpy_bf16, nullptr, flash_attend_scalar};

} // namespace

const Kernels* scalar_kernels() { return &kScalar; }

// --- Weight packing ---------------------------------------------------------------------------

size_t packed_weight_bytes(DType wt, int N, int K) {
    size_t panels = (size_t(N) + kPanel - 1) / kPanel;
    if (wt == DType::I8) return panels * kPanel * (size_t(i8_kpad(K)) + 4 + 2 * size_t(i8_blocks(K)));
    size_t kp = wt == DType::BF16 ? ((size_t(K) + 1) & ~size_t(1)) : size_t(K);
    return panels * kp * kPanel * dtype_size(wt);
}

// Panel by panel and, inside a panel, k by k: the writes run straight through dst (every byte,
// padding included, so dst needs no clearing) while the reads step through the panel's 32 source
// rows together, which stay in cache. Writing one source row at a time instead scatters each
// store across the whole panel.
void pack_weight(DType wt, const void* src, int N, int K, void* dst) {
    if (wt == DType::I8) fail(FL_INTERNAL, "pack_weight: I8 weights carry scales: use pack_weight_i8");
    const size_t panels = (size_t(N) + kPanel - 1) / kPanel;
    const size_t k_len = size_t(K);
    if (wt == DType::F32 || wt == DType::F16) {
        const size_t es = dtype_size(wt);
        const char* s = static_cast<const char*>(src);
        char* d = static_cast<char*>(dst);
        for (size_t p = 0; p < panels; p++) {
            const size_t rows = std::min<size_t>(kPanel, size_t(N) - p * kPanel);
            const char* block = s + p * kPanel * k_len * es;
            for (size_t k = 0; k < k_len; k++) {
                for (size_t j = 0; j < rows; j++) std::memcpy(d + j * es, block + (j * k_len + k) * es, es);
                std::memset(d + rows * es, 0, (kPanel - rows) * es);
                d += kPanel * es;
            }
        }
        return;
    }
    const uint16_t* s = static_cast<const uint16_t*>(src);
    uint16_t* d = static_cast<uint16_t*>(dst);
    const size_t pairs = k_len / 2;    // whole (k, k + 1) pairs
    const bool odd = (k_len % 2) != 0; // a last k with the zero pad column beside it
    for (size_t p = 0; p < panels; p++) {
        const size_t rows = std::min<size_t>(kPanel, size_t(N) - p * kPanel);
        const uint16_t* block = s + p * kPanel * k_len;
        for (size_t kk = 0; kk < pairs; kk++) {
            for (size_t j = 0; j < rows; j++) {
                const uint16_t* r = block + j * k_len + 2 * kk;
                d[2 * j] = r[0];
                d[2 * j + 1] = r[1];
            }
            std::memset(d + 2 * rows, 0, (kPanel - rows) * 2 * sizeof(uint16_t));
            d += 2 * kPanel;
        }
        if (odd) {
            for (size_t j = 0; j < rows; j++) {
                d[2 * j] = block[j * k_len + k_len - 1];
                d[2 * j + 1] = 0;
            }
            std::memset(d + 2 * rows, 0, (kPanel - rows) * 2 * sizeof(uint16_t));
            d += 2 * kPanel;
        }
    }
}

void packed_row_f32(DType wt, const void* packed, int N, int K, int n, float* out) {
    for (int k = 0; k < K; k++) out[k] = weight_at(wt, packed, N, K, n, k);
}

} // namespace kern
} // namespace fl
