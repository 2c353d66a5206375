// flash-avx2.cpp - flash_attend on AVX2 + FMA (the math and its guarantees: kernels.h). Compiled
// with those flags; entered only after dispatch.cpp checked cpuid.
//
// Per tile of kFlashKeys keys (aligned to absolute positions):
//   kt [hd8][kFlashKeys]  the keys transposed, widened to F32 (8 x 8 register transposes), so that
//                         the scores are a small GEMM: keys along the lanes, a query element broadcast
//   vt [kFlashKeys][hd8]  the values widened to F32
// then, per block of up to kMb queries: scores (kMb queries x 16 keys in 12 ymm accumulators over d
// ascending), the online softmax per query (scale, cap, mask; running max m and sum l; the partial
// output rescaled by exp(m_old - m_new)), and P.V (kMb queries x 16 output elements in 12 ymm
// accumulators over the tile's keys ascending). Each query's sums keep one order whatever the other
// queries of the block: lanes hold keys (scores) or output elements (P.V), never queries, and the
// sum l adds lane j % 8 of the tile in ascending j, then one fixed add tree.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "exp-avx2.h"
#include "kernels.h"

namespace fl {
namespace kern {

namespace {

constexpr int kNk = kFlashKeys;
constexpr int kMb = 6; // queries per block: 12 accumulators + 2 loads + 1 broadcast of 16 ymm

// cap * tanh(x / cap) as cap * sign(y) * (1 - e) / (1 + e), y = x / cap, e = exp(-2 |y|): absolute
// error about 1e-7 * cap, and exactly +-cap once e underflows.
inline __m256 softcap8(__m256 x, __m256 cap, __m256 inv_cap) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 y = _mm256_mul_ps(x, inv_cap);
    const __m256 ay = _mm256_andnot_ps(sign, y);
    const __m256 e = exp256(_mm256_mul_ps(ay, _mm256_set1_ps(-2.0f)));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    return _mm256_mul_ps(cap, _mm256_or_ps(t, _mm256_and_ps(y, sign)));
}

// ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)): one fixed tree.
inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) {
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) {
    uint32_t u = uint32_t(*p) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// kt[d][c0 + i] = k[i][d] for 8 keys, d < hd (the rows already point at zeros for absent keys).
template <class T> void transpose_keys8(const T* const* k, int hd, float* kt, int c0) {
    int d = 0;
    for (; d + 8 <= hd; d += 8) {
        __m256 r0 = load8(k[0] + d), r1 = load8(k[1] + d), r2 = load8(k[2] + d), r3 = load8(k[3] + d);
        __m256 r4 = load8(k[4] + d), r5 = load8(k[5] + d), r6 = load8(k[6] + d), r7 = load8(k[7] + d);
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
        __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
        __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
        float* o = kt + size_t(d) * kNk + c0;
        _mm256_storeu_ps(o + 0 * kNk, _mm256_permute2f128_ps(u0, u4, 0x20));
        _mm256_storeu_ps(o + 1 * kNk, _mm256_permute2f128_ps(u1, u5, 0x20));
        _mm256_storeu_ps(o + 2 * kNk, _mm256_permute2f128_ps(u2, u6, 0x20));
        _mm256_storeu_ps(o + 3 * kNk, _mm256_permute2f128_ps(u3, u7, 0x20));
        _mm256_storeu_ps(o + 4 * kNk, _mm256_permute2f128_ps(u0, u4, 0x31));
        _mm256_storeu_ps(o + 5 * kNk, _mm256_permute2f128_ps(u1, u5, 0x31));
        _mm256_storeu_ps(o + 6 * kNk, _mm256_permute2f128_ps(u2, u6, 0x31));
        _mm256_storeu_ps(o + 7 * kNk, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    for (; d < hd; d++)
        for (int i = 0; i < 8; i++) kt[size_t(d) * kNk + c0 + i] = load1(k[i] + d);
}

// s[i][c] = q[i] . k_c for the block's NQ queries and keys c in [c0, c1) (multiples of 8), over d
// ascending; kt rows are kNk apart, s rows too.
template <int NQ> void scores_block(const float* const* q, int hd, const float* kt, int c0, int c1, float* s) {
    int c = c0;
    for (; c + 16 <= c1; c += 16) {
        __m256 acc[NQ][2];
#pragma GCC unroll 8
        for (int i = 0; i < NQ; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
        for (int d = 0; d < hd; d++) {
            const __m256 k0 = _mm256_load_ps(kt + size_t(d) * kNk + c),
                         k1 = _mm256_load_ps(kt + size_t(d) * kNk + c + 8);
#pragma GCC unroll 8
            for (int i = 0; i < NQ; i++) {
                const __m256 b = _mm256_broadcast_ss(q[i] + d);
                acc[i][0] = _mm256_fmadd_ps(b, k0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(b, k1, acc[i][1]);
            }
        }
#pragma GCC unroll 8
        for (int i = 0; i < NQ; i++) {
            _mm256_store_ps(s + i * kNk + c, acc[i][0]);
            _mm256_store_ps(s + i * kNk + c + 8, acc[i][1]);
        }
    }
    if (c < c1) { // 8 keys
        __m256 acc[NQ];
#pragma GCC unroll 8
        for (int i = 0; i < NQ; i++) acc[i] = _mm256_setzero_ps();
        for (int d = 0; d < hd; d++) {
            const __m256 k0 = _mm256_load_ps(kt + size_t(d) * kNk + c);
#pragma GCC unroll 8
            for (int i = 0; i < NQ; i++) acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(q[i] + d), k0, acc[i]);
        }
#pragma GCC unroll 8
        for (int i = 0; i < NQ; i++) _mm256_store_ps(s + i * kNk + c, acc[i]);
    }
}

// out[i][e, e + 8 NC) += sum_{c in [c0, c1)} p[i][c] * vt[c][e, e + 8 NC), c ascending.
template <int NQ, int NC>
inline void pv_block(const float* p, const float* vt, int ldv, int c0, int c1, int e, float* const* out) {
    __m256 acc[NQ][NC];
#pragma GCC unroll 8
    for (int i = 0; i < NQ; i++)
#pragma GCC unroll 8
        for (int k = 0; k < NC; k++) acc[i][k] = _mm256_loadu_ps(out[i] + e + 8 * k);
    for (int c = c0; c < c1; c++) {
        __m256 v[NC];
#pragma GCC unroll 8
        for (int k = 0; k < NC; k++) v[k] = _mm256_load_ps(vt + size_t(c) * ldv + e + 8 * k);
#pragma GCC unroll 8
        for (int i = 0; i < NQ; i++) {
            const __m256 pi = _mm256_broadcast_ss(p + i * kNk + c);
#pragma GCC unroll 8
            for (int k = 0; k < NC; k++) acc[i][k] = _mm256_fmadd_ps(pi, v[k], acc[i][k]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < NQ; i++)
#pragma GCC unroll 8
        for (int k = 0; k < NC; k++) _mm256_storeu_ps(out[i] + e + 8 * k, acc[i][k]);
}

template <int NQ> void pv(int hd, const float* p, const float* vt, int ldv, int c0, int c1, float* const* out) {
    int e = 0;
    for (; e + 16 <= hd; e += 16) pv_block<NQ, 2>(p, vt, ldv, c0, c1, e, out);
    if (e + 8 <= hd) pv_block<NQ, 1>(p, vt, ldv, c0, c1, e, out), e += 8;
    for (; e < hd; e++)
#pragma GCC unroll 8
        for (int i = 0; i < NQ; i++) {
            float acc = out[i][e];
            for (int c = c0; c < c1; c++) acc = __builtin_fmaf(p[i * kNk + c], vt[size_t(c) * ldv + e], acc);
            out[i][e] = acc;
        }
}

template <class T>
void flash_t(int nq, int hd, const float* const* q, const T* const* kp, const T* const* vp, int n_pos, int pos0,
             const int* lo, const int* hi, float scale, float cap, float* const* out, float* scratch) {
    const int hd8 = (hd + 7) & ~7, ldv = hd8;
    float* kt = scratch;                        // [hd8][kNk]
    float* vt = kt + size_t(hd8) * kNk;         // [kNk][hd8]
    float* s = vt + size_t(kNk) * hd8;          // [kFlashQueries][kNk]
    float* m = s + size_t(kFlashQueries) * kNk; // [kFlashQueries]
    float* l = m + kFlashQueries;               // [kFlashQueries]
    float* zero = l + kFlashQueries;            // [hd8]
    std::memset(zero, 0, size_t(hd8) * 4);
    std::memset(vt, 0, size_t(kNk) * hd8 * 4); // the pad columns e >= hd stay zero
    const T* zero_row = reinterpret_cast<const T*>(zero);
    int jlo = n_pos, jhi = 0;
    for (int r = 0; r < nq; r++) {
        m[r] = -INFINITY, l[r] = 0;
        std::memset(out[r], 0, size_t(hd) * 4);
        jlo = lo[r] < jlo ? lo[r] : jlo;
        jhi = hi[r] > jhi ? hi[r] : jhi;
    }
    const __m256 vscale = _mm256_set1_ps(scale), vcap = _mm256_set1_ps(cap),
                 vinv_cap = _mm256_set1_ps(cap > 0 ? 1.0f / cap : 0.0f), ninf = _mm256_set1_ps(-INFINITY);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    // tiles [t, t + kNk) in absolute positions; j = t - pos0 + c
    const int first = pos0 + jlo - (pos0 + jlo) % kNk;
    for (int t = first; t < pos0 + jhi; t += kNk) {
        const int jt = t - pos0; // key index of column 0
        // columns any query reads, widened to multiples of 8
        const int tc0 = (jlo - jt > 0 ? jlo - jt : 0) & ~7;
        const int tc1 = ((jhi - jt < kNk ? jhi - jt : kNk) + 7) & ~7;
        for (int c = tc0; c < tc1; c += 8) {
            const T* k8[8];
            for (int i = 0; i < 8; i++) {
                const int j = jt + c + i;
                k8[i] = j >= 0 && j < n_pos ? kp[j] : zero_row;
            }
            transpose_keys8(k8, hd, kt, c);
            for (int i = 0; i < 8; i++) {
                const T* v = k8[i] == zero_row ? zero_row : vp[jt + c + i];
                float* dst = vt + size_t(c + i) * ldv;
                int e = 0;
                for (; e + 8 <= hd; e += 8) _mm256_store_ps(dst + e, load8(v + e));
                for (; e < hd; e++) dst[e] = load1(v + e);
            }
        }
        // the next tile's key and value rows come from the cache (memory or L3) while this one computes
        for (int j = jt + kNk; j < jt + 2 * kNk && j < jhi; j++)
            for (size_t byte = 0; byte < size_t(hd) * sizeof(T); byte += 64) {
                _mm_prefetch(reinterpret_cast<const char*>(kp[j]) + byte, _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(vp[j]) + byte, _MM_HINT_T0);
            }
        for (int b0 = 0; b0 < nq; b0 += kMb) {
            const int nb = nq - b0 < kMb ? nq - b0 : kMb;
            // the block's columns: the union of its queries' ranges within the tile
            int bc0 = kNk, bc1 = 0;
            int c_lo[kMb], c_hi[kMb];
            for (int i = 0; i < nb; i++) {
                const int r = b0 + i;
                c_lo[i] = lo[r] - jt > tc0 ? lo[r] - jt : tc0;
                c_hi[i] = hi[r] - jt < tc1 ? hi[r] - jt : tc1;
                if (c_lo[i] < c_hi[i]) {
                    bc0 = c_lo[i] < bc0 ? c_lo[i] : bc0;
                    bc1 = c_hi[i] > bc1 ? c_hi[i] : bc1;
                }
            }
            if (bc0 >= bc1) continue; // no query of the block reads this tile
            const int sc0 = bc0 & ~7, sc1 = (bc1 + 7) & ~7;
            const float* const* qb = q + b0;
            switch (nb) {
            case 6:
                scores_block<6>(qb, hd, kt, sc0, sc1, s);
                break;
            case 5:
                scores_block<5>(qb, hd, kt, sc0, sc1, s);
                break;
            case 4:
                scores_block<4>(qb, hd, kt, sc0, sc1, s);
                break;
            case 3:
                scores_block<3>(qb, hd, kt, sc0, sc1, s);
                break;
            case 2:
                scores_block<2>(qb, hd, kt, sc0, sc1, s);
                break;
            default:
                scores_block<1>(qb, hd, kt, sc0, sc1, s);
                break;
            }
            // online softmax per query over [sc0, sc1): masked keys -> p = 0
            for (int i = 0; i < nb; i++) {
                const int r = b0 + i;
                float* sr = s + i * kNk;
                if (c_lo[i] >= c_hi[i]) { // this query reads no key of the tile: p = 0, nothing rescaled
                    for (int c = sc0; c < sc1; c += 8) _mm256_store_ps(sr + c, _mm256_setzero_ps());
                    continue;
                }
                const __m256i vlo = _mm256_set1_epi32(c_lo[i]), vhi = _mm256_set1_epi32(c_hi[i]);
                __m256 mx = ninf;
                for (int c = sc0; c < sc1; c += 8) {
                    __m256 x = _mm256_mul_ps(_mm256_load_ps(sr + c), vscale);
                    if (cap > 0) x = softcap8(x, vcap, vinv_cap);
                    const __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32(c));
                    const __m256 in = _mm256_castsi256_ps(_mm256_andnot_si256(
                        _mm256_cmpgt_epi32(vlo, idx), _mm256_cmpgt_epi32(vhi, idx))); // lo <= idx < hi
                    x = _mm256_blendv_ps(ninf, x, in);
                    _mm256_store_ps(sr + c, x);
                    mx = _mm256_max_ps(mx, x);
                }
                const float m_new = m[r] > hmax8(mx) ? m[r] : hmax8(mx);
                const float alpha = m[r] == -INFINITY ? 0.0f : std::exp(m[r] - m_new);
                const __m256 vm = _mm256_set1_ps(m_new);
                __m256 sum = _mm256_setzero_ps();
                for (int c = sc0; c < sc1; c += 8) {
                    const __m256 x = _mm256_load_ps(sr + c);
                    const __m256 p = _mm256_and_ps(exp256(_mm256_sub_ps(x, vm)), _mm256_cmp_ps(x, ninf, _CMP_NEQ_OQ));
                    _mm256_store_ps(sr + c, p);
                    sum = _mm256_add_ps(sum, p);
                }
                l[r] = l[r] * alpha + hsum8(sum);
                m[r] = m_new;
                if (alpha != 1.0f) {
                    const __m256 va = _mm256_set1_ps(alpha);
                    int e = 0;
                    for (; e + 8 <= hd; e += 8)
                        _mm256_storeu_ps(out[r] + e, _mm256_mul_ps(_mm256_loadu_ps(out[r] + e), va));
                    for (; e < hd; e++) out[r][e] *= alpha;
                }
            }
            float* const* ob = out + b0;
            switch (nb) {
            case 6:
                pv<6>(hd, s, vt, ldv, bc0, bc1, ob);
                break;
            case 5:
                pv<5>(hd, s, vt, ldv, bc0, bc1, ob);
                break;
            case 4:
                pv<4>(hd, s, vt, ldv, bc0, bc1, ob);
                break;
            case 3:
                pv<3>(hd, s, vt, ldv, bc0, bc1, ob);
                break;
            case 2:
                pv<2>(hd, s, vt, ldv, bc0, bc1, ob);
                break;
            default:
                pv<1>(hd, s, vt, ldv, bc0, bc1, ob);
                break;
            }
        }
    }
    for (int r = 0; r < nq; r++) {
        const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
        const __m256 vi = _mm256_set1_ps(inv);
        int e = 0;
        for (; e + 8 <= hd; e += 8) _mm256_storeu_ps(out[r] + e, _mm256_mul_ps(_mm256_loadu_ps(out[r] + e), vi));
        for (; e < hd; e++) out[r][e] *= inv;
    }
}

} // namespace

void flash_attend_avx2(DType kv, int nq, int hd, const float* const* q, const void* const* kp, const void* const* vp,
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
