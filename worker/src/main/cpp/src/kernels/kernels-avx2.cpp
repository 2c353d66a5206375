// kernels-avx2.cpp - AVX2 + FMA + F16C kernels. Compiled with those flags: entered only after
// dispatch.cpp checked cpuid.
//
// GEMM micro-kernel: MR <= 6 rows of X times one half (16 outputs) of a 32-wide weight panel,
// 12 ymm accumulators. BF16 weights are widened exactly to F32 (shift / mask of the pairs).
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "exp-avx2.h"
#include "kernels.h"
#include "q4.h"

namespace fl {
namespace kern {

namespace {

constexpr int kMr = 6;
constexpr int kKc = 256;

inline int kpad(DType wt, int K) { return wt == DType::BF16 ? (K + 1) & ~1 : K; }

size_t pack_x_bytes_impl(DType wt, int M, int K) {
    if (wt == DType::I8) return pack_x_i8_bytes(M, K);
    if (wt == DType::Q4) return pack_x_q4_bytes(M, K);
    size_t tiles = (size_t(M) + kMr - 1) / kMr;
    return tiles * size_t(kpad(wt, K)) * kMr * 4;
}

// Per tile [Kx][kMr] floats, pad rows and the BF16 pad column zero.
void pack_x(DType wt, const float* X, int ldx, int M, int K, void* xp) {
    if (wt == DType::I8) return pack_x_i8_avx2(X, ldx, M, K, xp);
    if (wt == DType::Q4) return pack_x_q4(X, ldx, M, K, xp);
    int kx = kpad(wt, K);
    float* out = static_cast<float*>(xp);
    for (int t = 0; t * kMr < M; t++) {
        float* tile = out + size_t(t) * kx * kMr;
        int mr = M - t * kMr < kMr ? M - t * kMr : kMr;
        std::memset(tile, 0, size_t(kx) * kMr * 4);
        for (int i = 0; i < mr; i++) {
            const float* x = X + size_t(t * kMr + i) * ldx;
            for (int k = 0; k < K; k++) tile[size_t(k) * kMr + i] = x[k];
        }
    }
}

template <int MR> struct Acc {
    __m256 c0[MR], c1[MR];
    inline void load(const float* y, int ldy, bool accumulate) {
        for (int i = 0; i < MR; i++) {
            c0[i] = accumulate ? _mm256_loadu_ps(y + size_t(i) * ldy) : _mm256_setzero_ps();
            c1[i] = accumulate ? _mm256_loadu_ps(y + size_t(i) * ldy + 8) : _mm256_setzero_ps();
        }
    }
    inline void store(float* y, int ldy) {
        for (int i = 0; i < MR; i++) {
            _mm256_storeu_ps(y + size_t(i) * ldy, c0[i]);
            _mm256_storeu_ps(y + size_t(i) * ldy + 8, c1[i]);
        }
    }
};

// w points at the half panel: element k at w + k * 32.
template <int MR> void uk_f32(int kc, const float* x, const float* w, float* y, int ldy, bool accumulate) {
    Acc<MR> a;
    a.load(y, ldy, accumulate);
    for (int k = 0; k < kc; k++) {
        __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 b = _mm256_broadcast_ss(x + i);
            a.c0[i] = _mm256_fmadd_ps(b, w0, a.c0[i]);
            a.c1[i] = _mm256_fmadd_ps(b, w1, a.c1[i]);
        }
        x += kMr;
        w += kPanel;
    }
    a.store(y, ldy);
}

template <int MR> void uk_f16(int kc, const float* x, const uint16_t* w, float* y, int ldy, bool accumulate) {
    Acc<MR> a;
    a.load(y, ldy, accumulate);
    for (int k = 0; k < kc; k++) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8)));
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 b = _mm256_broadcast_ss(x + i);
            a.c0[i] = _mm256_fmadd_ps(b, w0, a.c0[i]);
            a.c1[i] = _mm256_fmadd_ps(b, w1, a.c1[i]);
        }
        x += kMr;
        w += kPanel;
    }
    a.store(y, ldy);
}

// w points at the half panel's pairs: pair row kk at w + kk * 64 (uint16), 16 pairs.
template <int MR> void uk_bf16(int kc, const float* x, const uint16_t* w, float* y, int ldy, bool accumulate) {
    Acc<MR> a;
    a.load(y, ldy, accumulate);
    const __m256i hi_mask = _mm256_set1_epi32(int(0xffff0000u));
    for (int k = 0; k < kc; k += 2) {
        __m256i wa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
        __m256i wb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16));
        __m256 a_lo = _mm256_castsi256_ps(_mm256_slli_epi32(wa, 16));
        __m256 a_hi = _mm256_castsi256_ps(_mm256_and_si256(wa, hi_mask));
        __m256 b_lo = _mm256_castsi256_ps(_mm256_slli_epi32(wb, 16));
        __m256 b_hi = _mm256_castsi256_ps(_mm256_and_si256(wb, hi_mask));
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 x0 = _mm256_broadcast_ss(x + i), x1 = _mm256_broadcast_ss(x + kMr + i);
            a.c0[i] = _mm256_fmadd_ps(x1, a_hi, _mm256_fmadd_ps(x0, a_lo, a.c0[i]));
            a.c1[i] = _mm256_fmadd_ps(x1, b_hi, _mm256_fmadd_ps(x0, b_lo, a.c1[i]));
        }
        x += 2 * kMr;
        w += 2 * kPanel;
    }
    a.store(y, ldy);
}

#define FL_DISPATCH_MR(mr, call)                                                                                       \
    switch (mr) {                                                                                                      \
    case 1:                                                                                                            \
        call(1);                                                                                                       \
        break;                                                                                                         \
    case 2:                                                                                                            \
        call(2);                                                                                                       \
        break;                                                                                                         \
    case 3:                                                                                                            \
        call(3);                                                                                                       \
        break;                                                                                                         \
    case 4:                                                                                                            \
        call(4);                                                                                                       \
        break;                                                                                                         \
    case 5:                                                                                                            \
        call(5);                                                                                                       \
        break;                                                                                                         \
    default:                                                                                                           \
        call(6);                                                                                                       \
        break;                                                                                                         \
    }

// Half h of a panel, rows tile (mr rows), k range [kb, kb + kc).
inline void block(DType wt, int mr, int kc, int kb, const float* xtile, const void* wpanel, int h, float* y, int ldy,
                  bool acc) {
    const float* x = xtile + size_t(kb) * kMr;
    if (wt == DType::F32) {
        const float* w = static_cast<const float*>(wpanel) + size_t(kb) * kPanel + h * 16;
#define FL_CALL(R) uk_f32<R>(kc, x, w, y, ldy, acc)
        FL_DISPATCH_MR(mr, FL_CALL)
#undef FL_CALL
    } else if (wt == DType::F16) {
        const uint16_t* w = static_cast<const uint16_t*>(wpanel) + size_t(kb) * kPanel + h * 16;
#define FL_CALL(R) uk_f16<R>(kc, x, w, y, ldy, acc)
        FL_DISPATCH_MR(mr, FL_CALL)
#undef FL_CALL
    } else {
        const uint16_t* w = static_cast<const uint16_t*>(wpanel) + size_t(kb) * kPanel + h * 32;
#define FL_CALL(R) uk_bf16<R>(kc, x, w, y, ldy, acc)
        FL_DISPATCH_MR(mr, FL_CALL)
#undef FL_CALL
    }
}

void gemm(DType wt, int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy,
          const PrefetchRegion*, int) {
    if (wt == DType::I8) return gemm_i8_avx2(M, K, xp, wp, N, p0, p1, Y, ldy);
    if (wt == DType::Q4) return gemm_q4_avx2(M, K, xp, wp, N, p0, p1, Y, ldy);
    const int kx = kpad(wt, K);
    const size_t es = wt == DType::F32 ? 4 : 2;
    const size_t panel_bytes = size_t(kx) * kPanel * es;
    const size_t tile_floats = size_t(kx) * kMr;
    const int tiles = (M + kMr - 1) / kMr;
    alignas(32) float tmp[kMr * kPanel];
    const float* X = static_cast<const float*>(xp);
    for (int p = p0; p < p1; p++) {
        const char* wpanel = static_cast<const char*>(wp) + size_t(p) * panel_bytes;
        const int n0 = p * kPanel;
        const int ncols = N - n0 < kPanel ? N - n0 : kPanel;
        if (ncols <= 0) break;
        if (ncols == kPanel) {
            for (int kb = 0; kb < kx; kb += kKc) {
                int kc = kx - kb < kKc ? kx - kb : kKc;
                for (int t = 0; t < tiles; t++) {
                    int mr = M - t * kMr < kMr ? M - t * kMr : kMr;
                    for (int h = 0; h < 2; h++)
                        block(wt, mr, kc, kb, X + t * tile_floats, wpanel, h, Y + size_t(t) * kMr * ldy + n0 + h * 16,
                              ldy, kb > 0);
                }
            }
        } else {
            for (int t = 0; t < tiles; t++) {
                int mr = M - t * kMr < kMr ? M - t * kMr : kMr;
                for (int kb = 0; kb < kx; kb += kKc) {
                    int kc = kx - kb < kKc ? kx - kb : kKc;
                    for (int h = 0; h < 2; h++)
                        block(wt, mr, kc, kb, X + t * tile_floats, wpanel, h, tmp + h * 16, kPanel, kb > 0);
                }
                for (int i = 0; i < mr; i++)
                    std::memcpy(Y + size_t(t * kMr + i) * ldy + n0, tmp + i * kPanel, size_t(ncols) * 4);
            }
        }
    }
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

float dot(const float* a, const float* b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void axpy(float a, const float* x, float* y, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

void rmsnorm(float* out, const float* x, const float* w, int n, float eps) {
    float ss = dot(x, x, n);
    float r = 1.0f / __builtin_sqrtf(ss / n + eps);
    __m256 vr = _mm256_set1_ps(r);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vr), _mm256_loadu_ps(w + i)));
    for (; i < n; i++) out[i] = x[i] * r * w[i];
}

void silu_mul(float* g, const float* u, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(g + i);
        __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_storeu_ps(
            g + i, _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), _mm256_loadu_ps(u + i)));
    }
    if (i < n) {
        alignas(32) float gv[8] = {0}, uv[8] = {0};
        std::memcpy(gv, g + i, size_t(n - i) * 4);
        std::memcpy(uv, u + i, size_t(n - i) * 4);
        __m256 v = _mm256_load_ps(gv);
        __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_store_ps(gv,
                        _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), _mm256_load_ps(uv)));
        std::memcpy(g + i, gv, size_t(n - i) * 4);
    }
}

float exp_sum(float* x, int n, float sub) {
    __m256 vs = _mm256_set1_ps(sub), acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float s = hsum(acc);
    if (i < n) {
        alignas(32) float xv[8] = {0};
        std::memcpy(xv, x + i, size_t(n - i) * 4);
        _mm256_store_ps(xv, exp256(_mm256_sub_ps(_mm256_load_ps(xv), vs)));
        for (int j = 0; j < n - i; j++) s += xv[j];
        std::memcpy(x + i, xv, size_t(n - i) * 4);
    }
    return s;
}

// --- LoRA with BF16 adapter weights -----------------------------------------------------------

// 8 BF16 values widened exactly to F32 (the bits of the high half).
inline __m256 bf16x8(const uint16_t* p) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

inline float bf16_1(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

float dot_bf16(const float* x, const uint16_t* w, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), bf16x8(w + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), bf16x8(w + i + 8), s1);
    }
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += x[i] * bf16_1(w[i]);
    return s;
}

void lora_expand_bf16(const uint16_t* Bt, int ldb, int rank, const float* t, int ldt, int n, float* y, int ldy,
                      int len) {
    int c = 0;
    for (; c + 16 <= len; c += 16) {
        for (int i = 0; i < n; i++) {
            float* yi = y + size_t(i) * ldy + c;
            const float* ti = t + size_t(i) * ldt;
            __m256 a0 = _mm256_loadu_ps(yi), a1 = _mm256_loadu_ps(yi + 8);
            for (int j = 0; j < rank; j++) {
                const uint16_t* b = Bt + size_t(j) * ldb + c;
                __m256 tj = _mm256_set1_ps(ti[j]);
                a0 = _mm256_fmadd_ps(tj, bf16x8(b), a0);
                a1 = _mm256_fmadd_ps(tj, bf16x8(b + 8), a1);
            }
            _mm256_storeu_ps(yi, a0);
            _mm256_storeu_ps(yi + 8, a1);
        }
    }
    for (; c < len; c++) { // the same per-element order: y, then + t_j * b_j with j ascending
        for (int i = 0; i < n; i++) {
            float* yi = y + size_t(i) * ldy + c;
            const float* ti = t + size_t(i) * ldt;
            float acc = *yi;
            for (int j = 0; j < rank; j++) acc = __builtin_fmaf(ti[j], bf16_1(Bt[size_t(j) * ldb + c]), acc);
            *yi = acc;
        }
    }
}

void axpy_bf16(float a, const uint16_t* x, float* y, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, bf16x8(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * bf16_1(x[i]);
}

// --- attention: the lanes along the head dimension --------------------------------------------
//
// A decode row brings few queries per call (a GQA group's heads), too few to fill the lanes with
// queries as the AVX-512 attend does; here the lanes run along d, and every key or value chunk
// loaded (and, for BF16, widened) serves several queries:
//   scores  4 keys x 2 queries at a time: 8 accumulators over d in chunks of 8 (ascending), then
//           one fixed add tree (reduce8) puts the 8 dot products in the 8 lanes of a vector
//   softmax per query over its own range [lo, hi), exp_sum from lo; 0 outside it
//   P.V     positions in blocks of kPvBlock; per block, up to 4 queries x 16 output elements in
//           registers, a broadcast probability times a value chunk
// BF16 keys and values are widened in registers (shift of the zero-extended halves), never copied.
// The rows come through a block table, a KV head's slice of each (hd values) kv_dim values apart, so
// the hardware prefetchers do not follow them and each row would wait on memory: the scores pass
// prefetches the key rows kPrefetchAhead positions ahead into L1 and the value rows into L2 (the
// P.V pass reads them next); before P.V, the first kPrefetchAhead value rows go into L1, and the
// first pass over each block of positions prefetches the next block's value rows into L1.
// Prefetches change no result.
// Per query, each sum runs in an order fixed by its own positions alone (a dot product is the same
// in every lane of reduce8; P.V adds j ascending, exact zeros outside [lo, hi)): batch invariant.
// scratch: st [nq][ldst] scores then probabilities, a zero row [hd] for the keys past n_pos
//          (ldst = n_pos rounded up to 8; within attend_scratch_floats).
constexpr int kPvBlock = 64;
constexpr int kPrefetchAhead = 32; // positions between a row's prefetch and its first read

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) { return bf16x8(p); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return bf16_1(*p); }
// n < 8 values, zeros after them (the tail of an odd head dimension)
template <class T> inline __m256 load_tail(const T* p, int n) {
    alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < n; i++) t[i] = load1(p + i);
    return _mm256_load_ps(t);
}

// [sum(a[0]), ..., sum(a[7])], each sum ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) in every lane.
inline __m256 reduce8(const __m256* a) {
    __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
    __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
    __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// scale * [q0 . k[0..3], q1 . k[0..3]] (lanes 0-3, 4-7) over hd values.
template <class T> inline __m256 scores_4x2(const float* q0, const float* q1, const T* const* k, int hd, float scale) {
    __m256 acc[8];
    for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
    int d = 0;
    for (; d + 8 <= hd; d += 8) {
        const __m256 k0 = load8(k[0] + d), k1 = load8(k[1] + d), k2 = load8(k[2] + d), k3 = load8(k[3] + d);
        const __m256 a = _mm256_loadu_ps(q0 + d), b = _mm256_loadu_ps(q1 + d);
        acc[0] = _mm256_fmadd_ps(a, k0, acc[0]), acc[1] = _mm256_fmadd_ps(a, k1, acc[1]);
        acc[2] = _mm256_fmadd_ps(a, k2, acc[2]), acc[3] = _mm256_fmadd_ps(a, k3, acc[3]);
        acc[4] = _mm256_fmadd_ps(b, k0, acc[4]), acc[5] = _mm256_fmadd_ps(b, k1, acc[5]);
        acc[6] = _mm256_fmadd_ps(b, k2, acc[6]), acc[7] = _mm256_fmadd_ps(b, k3, acc[7]);
    }
    if (d < hd) {
        const int n = hd - d;
        const __m256 a = load_tail(q0 + d, n), b = load_tail(q1 + d, n);
        for (int i = 0; i < 4; i++) {
            const __m256 ki = load_tail(k[i] + d, n);
            acc[i] = _mm256_fmadd_ps(a, ki, acc[i]);
            acc[4 + i] = _mm256_fmadd_ps(b, ki, acc[4 + i]);
        }
    }
    return _mm256_mul_ps(reduce8(acc), _mm256_set1_ps(scale));
}

// The cache lines of one key or value row (bytes from p): into L1 (_MM_HINT_T0) or L2 (_MM_HINT_T1).
template <int Hint> inline void prefetch_row(const void* p, int bytes) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    for (uintptr_t line = a & ~uintptr_t(63); line < a + uintptr_t(bytes); line += 64)
        _mm_prefetch(reinterpret_cast<const char*>(line), static_cast<_mm_hint>(Hint));
}

// out[r][e0, e0 + 8 NC) += sum_{j in [j0, j1)} p[r][j] * vp[j][e0, e0 + 8 NC) for NQ queries;
// the rows next[j - j0] (j - j0 < n_next) prefetched on the way.
template <class T, int NQ, int NC>
inline void pv_chunks(float* const* p, const T* const* vp, int j0, int j1, int e0, float* const* out,
                      const T* const* next = nullptr, int n_next = 0, int row_bytes = 0) {
    __m256 acc[NQ][NC];
    for (int r = 0; r < NQ; r++)
        for (int c = 0; c < NC; c++) acc[r][c] = _mm256_loadu_ps(out[r] + e0 + 8 * c);
    for (int j = j0; j < j1; j++) {
        if (j - j0 < n_next) prefetch_row<_MM_HINT_T0>(next[j - j0], row_bytes);
        __m256 v[NC];
        for (int c = 0; c < NC; c++) v[c] = load8(vp[j] + e0 + 8 * c);
        for (int r = 0; r < NQ; r++) {
            __m256 pr = _mm256_set1_ps(p[r][j]);
            for (int c = 0; c < NC; c++) acc[r][c] = _mm256_fmadd_ps(pr, v[c], acc[r][c]);
        }
    }
    for (int r = 0; r < NQ; r++)
        for (int c = 0; c < NC; c++) _mm256_storeu_ps(out[r] + e0 + 8 * c, acc[r][c]);
}

template <class T, int NC>
inline void pv_queries(int nq, float* const* p, const T* const* vp, int j0, int j1, int e0, float* const* out,
                       const T* const* next = nullptr, int n_next = 0, int row_bytes = 0) {
    int r = 0;
    if (nq >= 4) {
        pv_chunks<T, 4, NC>(p, vp, j0, j1, e0, out, next, n_next, row_bytes), r = 4;
    } else {
        for (int i = 0; i < n_next; i++) prefetch_row<_MM_HINT_T0>(next[i], row_bytes);
    }
    for (; r + 4 <= nq; r += 4) pv_chunks<T, 4, NC>(p + r, vp, j0, j1, e0, out + r);
    switch (nq - r) {
    case 3:
        pv_chunks<T, 3, NC>(p + r, vp, j0, j1, e0, out + r);
        break;
    case 2:
        pv_chunks<T, 2, NC>(p + r, vp, j0, j1, e0, out + r);
        break;
    case 1:
        pv_chunks<T, 1, NC>(p + r, vp, j0, j1, e0, out + r);
        break;
    }
}

template <class T>
void attend_t(int nq, int hd, const float* const* q, const T* const* kp, const T* const* vp, int n_pos, const int* lo,
              const int* hi, float scale, float* const* out, float* scratch) {
    const int ldst = (n_pos + 7) & ~7;
    float* st = scratch;                  // [nq][ldst]
    float* zero = st + size_t(nq) * ldst; // [hd] floats: a zero row of either dtype
    std::memset(zero, 0, size_t(hd) * 4);
    const T* zero_row = reinterpret_cast<const T*>(zero);
    const int row_bytes = hd * int(sizeof(T));
    for (int j = 0; j < n_pos; j += 4) {
        const T* k[4];
        for (int i = 0; i < 4; i++) k[i] = j + i < n_pos ? kp[j + i] : zero_row;
        for (int i = j + kPrefetchAhead; i < j + kPrefetchAhead + 4 && i < n_pos; i++) {
            prefetch_row<_MM_HINT_T0>(kp[i], row_bytes);
            prefetch_row<_MM_HINT_T1>(vp[i], row_bytes);
        }
        for (int r = 0; r < nq; r += 2) { // an odd last query computes beside itself
            const int r1 = r + 1 < nq ? r + 1 : r;
            const __m256 s8 = scores_4x2(q[r], q[r1], k, hd, scale);
            _mm_storeu_ps(st + size_t(r) * ldst + j, _mm256_castps256_ps128(s8));
            if (r1 != r) _mm_storeu_ps(st + size_t(r1) * ldst + j, _mm256_extractf128_ps(s8, 1));
        }
    }
    float* p[kAttendQueries];
    float inv[kAttendQueries];
    int j0 = n_pos, j1 = 0; // the positions any query reads
    for (int r = 0; r < nq; r++) {
        p[r] = st + size_t(r) * ldst;
        float mx = -INFINITY;
        for (int j = lo[r]; j < hi[r]; j++) mx = p[r][j] > mx ? p[r][j] : mx;
        inv[r] = 1.0f / exp_sum(p[r] + lo[r], hi[r] - lo[r], mx);
        std::memset(p[r], 0, size_t(lo[r]) * 4);
        std::memset(p[r] + hi[r], 0, size_t(n_pos - hi[r]) * 4);
        std::memset(out[r], 0, size_t(hd) * 4);
        j0 = lo[r] < j0 ? lo[r] : j0;
        j1 = hi[r] > j1 ? hi[r] : j1;
    }
    for (int j = j0; j < j1 && j < j0 + kPrefetchAhead; j++) prefetch_row<_MM_HINT_T0>(vp[j], row_bytes);
    for (int b0 = j0; b0 < j1; b0 += kPvBlock) {
        const int b1 = j1 - b0 < kPvBlock ? j1 : b0 + kPvBlock;
        const int n_next = j1 - b1 < kPvBlock ? j1 - b1 : kPvBlock; // the next block's rows
        int e = 0;
        if (e + 16 <= hd) pv_queries<T, 2>(nq, p, vp, b0, b1, e, out, vp + b1, n_next, row_bytes), e += 16;
        for (; e + 16 <= hd; e += 16) pv_queries<T, 2>(nq, p, vp, b0, b1, e, out);
        if (e + 8 <= hd) pv_queries<T, 1>(nq, p, vp, b0, b1, e, out), e += 8;
        for (; e < hd; e++)
            for (int r = 0; r < nq; r++) {
                float acc = out[r][e];
                for (int j = b0; j < b1; j++) acc = __builtin_fmaf(p[r][j], load1(vp[j] + e), acc);
                out[r][e] = acc;
            }
    }
    for (int r = 0; r < nq; r++) {
        const __m256 vi = _mm256_set1_ps(inv[r]);
        int e = 0;
        for (; e + 8 <= hd; e += 8) _mm256_storeu_ps(out[r] + e, _mm256_mul_ps(_mm256_loadu_ps(out[r] + e), vi));
        for (; e < hd; e++) out[r][e] *= inv[r];
    }
}

void attend(DType kv, int nq, int hd, const float* const* q, const void* const* kp, const void* const* vp, int n_pos,
            const int* lo, const int* hi, float scale, float* const* out, float* scratch) {
    if (kv == DType::BF16)
        attend_t(nq, hd, q, reinterpret_cast<const uint16_t* const*>(kp), reinterpret_cast<const uint16_t* const*>(vp),
                 n_pos, lo, hi, scale, out, scratch);
    else
        attend_t(nq, hd, q, reinterpret_cast<const float* const*>(kp), reinterpret_cast<const float* const*>(vp), n_pos,
                 lo, hi, scale, out, scratch);
}

const Kernels kAvx2 = {
    "avx2",  Isa::Avx2, kMr,     pack_x_bytes_impl, pack_x,           gemm,      dot,    axpy,
    rmsnorm, silu_mul,  exp_sum, dot_bf16,          lora_expand_bf16, axpy_bf16, attend, flash_attend_avx2};

} // namespace

const Kernels* avx2_kernels() { return &kAvx2; }

} // namespace kern
} // namespace fl
