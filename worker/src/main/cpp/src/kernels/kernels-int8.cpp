// kernels-int8.cpp - int8 weights: quantization, packing and the reference GEMM (portable; the
// layout and the math: kernels.h).
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <thread>
#include <vector>

#include "../tensor.h"
#include "kernels.h"

namespace fl {
namespace kern {

namespace {

// round_half_even(v) for |v| <= 2^22, as std::nearbyint rounds in the default rounding mode, without
// the library call (the sum's unit in the last place is 1).
inline float round_even(float v) {
    constexpr float kMagic = 12582912.0f; // 1.5 * 2^23
    return (v + kMagic) - kMagic;
}

// Symmetric quantization of n floats to [-levels, levels] (127: int8 weights, 32767: int16
// activations): q[i] = round_half_even(x[i] * levels / max |x|); returns the scale max |x| / levels:
// 0 for an all-zero row, NaN for a row holding a NaN or an infinity (q all zero), so that a
// non-finite input makes a non-finite output, as in the float GEMMs.
template <typename Q> float quantize_row(const float* x, int n, float levels, Q* q) {
    if (n <= 0) return 0.0f;
    float amax = 0.0f;
    bool finite = true;
    for (int i = 0; i < n; i++) {
        const float a = std::fabs(x[i]);
        if (!(a <= std::numeric_limits<float>::max()))
            finite = false;
        else if (a > amax)
            amax = a;
    }
    if (!finite || amax == 0.0f) {
        std::fill(q, q + n, Q(0));
        return finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
    }
    const float inv = levels / amax;
    for (int i = 0; i < n; i++) q[i] = static_cast<Q>(round_even(std::min(levels, std::max(-levels, x[i] * inv))));
    return amax / levels;
}

void to_f32(DType src, const void* w, size_t i0, int n, float* out) {
    if (src == DType::F32) {
        std::memcpy(out, static_cast<const float*>(w) + i0, size_t(n) * 4);
        return;
    }
    const uint16_t* h = static_cast<const uint16_t*>(w) + i0;
    for (int i = 0; i < n; i++) out[i] = src == DType::F16 ? f16_to_f32(h[i]) : bf16_to_f32(h[i]);
}

} // namespace

size_t pack_x_i8_bytes(int M, int K) { return size_t(M) * i8_x_stride(K); }

void pack_x_i8(const float* X, int ldx, int M, int K, void* xp) {
    const size_t stride = i8_x_stride(K);
    for (int m = 0; m < M; m++) {
        char* row = static_cast<char*>(xp) + size_t(m) * stride;
        int16_t* q = reinterpret_cast<int16_t*>(row);
        float* scales = reinterpret_cast<float*>(row + i8_x_scale_at(K));
        for (int b = 0; b < i8_blocks(K); b++) {
            const int k0 = b * kI8Block, len = std::min(kI8Block, K - k0);
            scales[b] = quantize_row(X + size_t(m) * ldx + k0, len, float(kI8XLevels), q + k0);
        }
        std::memset(q + K, 0, i8_x_scale_at(K) - 2 * size_t(K));
    }
}

void gemm_i8_scalar(int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy) {
    const int k2 = i8_kpad(K);
    const int8_t* W = static_cast<const int8_t*>(wp);
    const float* ws = i8_row_scales(wp, N, K);
    const uint16_t* bs = i8_block_scales(wp, N, K);
    const int nb = i8_blocks(K);
    const size_t stride = i8_x_stride(K);
    const int n1 = std::min(N, p1 * kPanel);
    for (int n = p0 * kPanel; n < n1; n++) {
        const int8_t* panel = W + size_t(n / kPanel) * k2 * kPanel;
        const int j = n % kPanel;
        const uint16_t* bsn = bs + size_t(n / kPanel) * nb * kPanel + j;
        for (int m = 0; m < M; m++) {
            const char* row = static_cast<const char*>(xp) + size_t(m) * stride;
            const int16_t* x = reinterpret_cast<const int16_t*>(row);
            const float* sx = reinterpret_cast<const float*>(row + i8_x_scale_at(K));
            float y = 0.0f;
            for (int b = 0; b < i8_blocks(K); b++) {
                int32_t acc = 0;
                for (int k = b * kI8Block; k < std::min(K, (b + 1) * kI8Block); k++)
                    acc += int32_t(x[k]) * panel[(k / 2) * 2 * kPanel + j * 2 + k % 2];
                y = std::fma(float(acc), sx[b] * f16_to_f32(bsn[size_t(b) * kPanel]), y);
            }
            Y[size_t(m) * ldy + n] = y * ws[n];
        }
    }
}

void pack_weight_i8(const int8_t* q, const float* scales, int N, int K, void* dst, const uint16_t* block_scales) {
    const int k2 = i8_kpad(K), nb = i8_blocks(K);
    const size_t panels = (size_t(N) + kPanel - 1) / kPanel;
    int8_t* d = static_cast<int8_t*>(dst);
    for (size_t p = 0; p < panels; p++) {
        const size_t rows = std::min<size_t>(kPanel, size_t(N) - p * kPanel);
        for (int g = 0; g < k2; g += 2) {
            for (size_t j = 0; j < rows; j++) {
                const int8_t* r = q + (p * kPanel + j) * size_t(K);
                for (int t = 0; t < 2; t++) d[j * 2 + t] = g + t < K ? r[g + t] : 0;
            }
            std::memset(d + rows * 2, 0, (kPanel - rows) * 2);
            d += 2 * kPanel;
        }
    }
    float* s = reinterpret_cast<float*>(d);
    for (size_t n = 0; n < panels * kPanel; n++) s[n] = n < size_t(N) ? scales[n] : 0.0f;
    uint16_t* bs = reinterpret_cast<uint16_t*>(s + panels * kPanel);
    constexpr uint16_t kOne = 0x3c00; // F16 1.0
    for (size_t p = 0; p < panels; p++)
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < kPanel; j++) {
                const size_t n = p * kPanel + j;
                *bs++ = n >= size_t(N) ? 0 : block_scales ? block_scales[n * nb + b] : kOne;
            }
}

namespace {

// Rounds the block x [len] to q = round_half_even(x / step) within [-127, 127], step = bs * s with bs
// the F16 h; returns the squared error sum (x - q * step)^2.
double round_block(const float* x, int len, float s, uint16_t h, int8_t* q) {
    const float step = f16_to_f32(h) * s;
    const float inv = 1.0f / step;
    double err = 0;
    for (int i = 0; i < len; i++) {
        q[i] = static_cast<int8_t>(round_even(std::min(127.0f, std::max(-127.0f, x[i] * inv))));
        const double e = double(x[i]) - double(q[i]) * step;
        err += e * e;
    }
    return err;
}

// Grids the block scale search tries on top of max / 127: (127 + 0.1 i) / max for |i| <= this.
constexpr int kScaleSearch = 2;

// The F16 block scale bs of one block x [len] of a row with scale s (> 0, finite), q the block's
// int8 values for it: the bs of least squared error among max |x| / 127 / s rounded up to an F16 (no
// value clamps) and, for each grid of kScaleSearch, the least-squares step for that grid's rounding
// (sum x q / sum q^2: the step that best fits those q) rounded to an F16, as llama.cpp's
// make_qx_quants searches. 0 for an all-zero block. (A block far smaller than its row's max lands on
// F16 subnormals, coarsely.)
uint16_t quantize_block(const float* x, int len, float s, int8_t* q) {
    float bmax = 0.0f;
    for (int i = 0; i < len; i++) bmax = std::max(bmax, std::fabs(x[i]));
    const float want = bmax / 127.0f / s;
    uint16_t best = f32_to_f16(want);
    if (f16_to_f32(best) < want) best++;
    if (best == 0) {
        std::fill(q, q + len, int8_t(0));
        return 0;
    }
    double best_err = round_block(x, len, s, best, q);
    int8_t trial[kI8Block];
    uint16_t tried[2 * kScaleSearch + 2] = {best};
    int n_tried = 1;
    for (int i = -kScaleSearch; i <= kScaleSearch; i++) {
        const float inv = (127.0f + 0.1f * float(i)) / bmax;
        double xq = 0, qq = 0;
        for (int k = 0; k < len; k++) {
            const float r = round_even(std::min(127.0f, std::max(-127.0f, x[k] * inv)));
            xq += double(x[k]) * r, qq += double(r) * r;
        }
        const uint16_t h = f32_to_f16(float(xq / qq / s));
        if (h == 0 || std::find(tried, tried + n_tried, h) != tried + n_tried) continue;
        tried[n_tried++] = h;
        const double err = round_block(x, len, s, h, trial);
        if (err < best_err) best_err = err, best = h, std::copy(trial, trial + len, q);
    }
    return best;
}

} // namespace

// The CPUs this process may run on (its affinity mask, which a container's cpuset narrows), at
// least 1.
static size_t quantize_threads() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
    return std::max(1u, std::thread::hardware_concurrency());
}

void quantize_weight_i8(DType src, const void* w, int N, int K, void* dst) {
    const int k2 = i8_kpad(K), nb = i8_blocks(K);
    std::vector<float> scales(static_cast<size_t>(N));
    std::vector<uint16_t> block_scales(size_t(N) * nb);
    const size_t panels = (size_t(N) + kPanel - 1) / kPanel;
    int8_t* d = static_cast<int8_t*>(dst);
    // Panels [p0, p1), a panel's rows at a time: the int8 rows of one panel stay in cache while
    // pack_weight_i8 reads them column-wise.
    auto quantize_panels = [&](size_t p0, size_t p1) {
        std::vector<float> f(static_cast<size_t>(K));
        std::vector<int8_t> q(size_t(kPanel) * K);
        std::vector<char> one(packed_weight_bytes(DType::I8, kPanel, K));
        for (size_t p = p0; p < p1; p++) {
            const int rows = int(std::min<size_t>(kPanel, size_t(N) - p * kPanel));
            for (int j = 0; j < rows; j++) {
                const size_t n = p * kPanel + j;
                to_f32(src, w, n * size_t(K), K, f.data());
                int8_t* qr = q.data() + size_t(j) * K;
                uint16_t* bsr = block_scales.data() + n * nb;
                scales[n] = quantize_row(f.data(), K, 127.0f, qr); // s[n], and q for a zero or non-finite row
                if (!(scales[n] > 0.0f)) {
                    std::fill(bsr, bsr + nb, uint16_t(0x3c00));
                    continue;
                }
                for (int b = 0; b < nb; b++) {
                    const int k0 = b * kI8Block;
                    bsr[b] = quantize_block(f.data() + k0, std::min(kI8Block, K - k0), scales[n], qr + k0);
                }
            }
            // pack this panel alone: a one-panel layout is the panel followed by its scales, so
            // write the panel bytes only (the scales go after every panel below)
            pack_weight_i8(q.data(), scales.data() + p * kPanel, rows, K, one.data());
            std::memcpy(d + p * size_t(k2) * kPanel, one.data(), size_t(k2) * kPanel);
        }
    };
    // The scale search makes quantizing at load compute-bound (tens of ns a weight), so the panels
    // are spread over the cores the process may run on. Each panel's bytes depend on that panel
    // alone: the result is the same for any thread count.
    const size_t threads = std::min(quantize_threads(), std::max<size_t>(1, panels / 4));
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; t++) {
        const size_t p0 = panels * t / threads, p1 = panels * (t + 1) / threads;
        try {
            pool.emplace_back(quantize_panels, p0, p1);
        } catch (const std::system_error&) { // no thread to be had: this one does the range
            quantize_panels(p0, p1);
        }
    }
    quantize_panels(0, panels / threads);
    for (std::thread& th : pool) th.join();
    // the scales: what pack_weight_i8 writes after the panels
    float* s = reinterpret_cast<float*>(d + panels * size_t(k2) * kPanel);
    for (size_t n = 0; n < panels * kPanel; n++) s[n] = n < size_t(N) ? scales[n] : 0.0f;
    uint16_t* bs = reinterpret_cast<uint16_t*>(s + panels * kPanel);
    for (size_t p = 0; p < panels; p++)
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < kPanel; j++) {
                const size_t n = p * kPanel + j;
                *bs++ = n < size_t(N) ? block_scales[n * nb + b] : 0;
            }
}

} // namespace kern
} // namespace fl
