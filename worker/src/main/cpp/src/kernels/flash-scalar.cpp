// flash-scalar.cpp - flash_attend in plain C++ (the math and its guarantees: kernels.h): the
// scalar table's, and the structure the AVX2 one vectorizes. Per tile of kFlashKeys keys aligned to
// absolute positions and per query reading any of them: scores over d ascending, the online
// softmax (running max m and sum l; the partial output rescaled by exp(m_old - m_new)), then P.V
// over the tile's keys ascending.
#include <cmath>
#include <cstring>

#include "../tensor.h"
#include "kernels.h"

namespace fl {
namespace kern {

namespace {

inline float widen(float x) { return x; }
inline float widen(uint16_t h) { return bf16_to_f32(h); }

template <class T>
void flash_t(int nq, int hd, const float* const* q, const T* const* kp, const T* const* vp, int n_pos, int pos0,
             const int* lo, const int* hi, float scale, float cap, float* const* out, float* scratch) {
    constexpr int nk = kFlashKeys;
    float* p = scratch; // [nk] one query's scores, then probabilities
    int jlo = n_pos, jhi = 0;
    for (int r = 0; r < nq; r++) {
        jlo = lo[r] < jlo ? lo[r] : jlo;
        jhi = hi[r] > jhi ? hi[r] : jhi;
    }
    for (int r = 0; r < nq; r++) {
        std::memset(out[r], 0, size_t(hd) * 4);
        float m = -INFINITY, l = 0;
        for (int t = pos0 + jlo - (pos0 + jlo) % nk; t < pos0 + jhi; t += nk) {
            const int jt = t - pos0;
            const int c0 = lo[r] - jt > 0 ? lo[r] - jt : 0, c1 = hi[r] - jt < nk ? hi[r] - jt : nk;
            if (c0 >= c1) continue; // no key of this tile in the query's range
            float mx = -INFINITY;
            for (int c = c0; c < c1; c++) {
                const T* k = kp[jt + c];
                float acc = 0;
                for (int d = 0; d < hd; d++) acc += q[r][d] * widen(k[d]);
                float x = acc * scale;
                if (cap > 0) x = cap * std::tanh(x / cap);
                p[c] = x;
                mx = x > mx ? x : mx;
            }
            const float m_new = m > mx ? m : mx;
            const float alpha = m == -INFINITY ? 0.0f : std::exp(m - m_new);
            float sum = 0;
            for (int c = c0; c < c1; c++) {
                p[c] = std::exp(p[c] - m_new);
                sum += p[c];
            }
            l = l * alpha + sum;
            m = m_new;
            for (int e = 0; e < hd; e++) {
                float acc = out[r][e] * alpha;
                for (int c = c0; c < c1; c++) acc += p[c] * widen(vp[jt + c][e]);
                out[r][e] = acc;
            }
        }
        const float inv = l > 0 ? 1.0f / l : 0.0f;
        for (int e = 0; e < hd; e++) out[r][e] *= inv;
    }
}

} // namespace

void flash_attend_scalar(DType kv, int nq, int hd, const float* const* q, const void* const* kp, const void* const* vp,
                         int n_pos, int pos0, const int* lo, const int* hi, float scale, float cap, float* const* out,
                         float* scratch) {
    if (kv == DType::BF16)
        flash_t(nq, hd, q, reinterpret_cast<const uint16_t* const*>(kp), reinterpret_cast<const uint16_t* const*>(vp),
                n_pos, pos0, lo, hi, scale, cap, out, scratch);
    else
        flash_t(nq, hd, q, reinterpret_cast<const float* const*>(kp), reinterpret_cast<const float* const*>(vp), n_pos,
                pos0, lo, hi, scale, cap, out, scratch);
}

} // namespace kern
} // namespace fl
