// kernels-avx512.cpp - AVX-512 (F/BW/VL) kernels, with an AVX512_BF16 (vdpbf16ps) GEMM variant.
// Compiled with AVX-512 flags: entered only after dispatch.cpp checked cpuid.
//
// GEMM micro-kernel: a tile of MR <= 12 rows of X times one 32-wide weight panel, 24 zmm
// accumulators (12 rows x 2 vectors of 16 outputs). Per k: 2 weight vectors loaded once and
// reused by MR broadcast FMAs. Few rows (decode): panel by panel, K blocked by kKc, the weights
// streamed once with a software prefetch. Many rows (prefill): K blocks of kKcRows outermost, each
// panel's K block reused by all row tiles from L1/L2 while the next tile's X block and the next
// panel's W block are prefetched. Every order sums each element over k in ascending order with the
// accumulators stored and reloaded exactly between K blocks, so the block sizes never change a
// result (batch invariance).
//
// BF16 weights: with bf16_dot the activations are rounded to BF16 and multiplied by vdpbf16ps
// with F32 accumulation (tolerance: <= 1e-2 relative on logits against an F32 reference);
// without it the BF16 pairs are widened to F32 exactly (shift / mask) and use F32 FMAs.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels.h"
#include "prefetch.h"
#include "q4.h"

namespace fl {
namespace kern {

namespace {

constexpr int kMr = 12;
constexpr int kKc = 256; // even (BF16 pairs)
// K block of the many-rows order: of 256, 512 and 1024 the one nearest the FMA peak on one core
// (half the Y round trips of 256, and its 64 KiB F32 panel block still streams from L2).
constexpr int kKcRows = 512;
constexpr int kKOuterMinTiles = 8; // row tiles from which gemm puts the K blocks outermost

inline int kpad(DType wt, int K) { return wt == DType::BF16 ? (K + 1) & ~1 : K; }

// --- exp (Cephes-style polynomial, ~1 ulp on [-87, 88]) ----------------------------------------

inline __m512 exp512(__m512 x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693359375f);
    const __m512 ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
    r = _mm512_fnmadd_ps(n, ln2_lo, r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 r2 = _mm512_mul_ps(r, r);
    p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

// --- X packing --------------------------------------------------------------------------------

// I8 weights: the portable packing and the AVX2 GEMM (kernels.h).
size_t pack_x_bytes_impl(DType wt, int M, int K) {
    if (wt == DType::I8) return pack_x_i8_bytes(M, K);
    if (wt == DType::Q4) return pack_x_q4_bytes(M, K);
    size_t tiles = (size_t(M) + kMr - 1) / kMr;
    return tiles * size_t(kpad(wt, K)) * kMr * 4;
}
// The dot variant packs BF16 activations in pairs: half the bytes.
size_t pack_x_bytes_dot(DType wt, int M, int K) {
    if (wt == DType::I8) return pack_x_i8_bytes(M, K);
    if (wt == DType::Q4) return pack_x_q4_bytes(M, K);
    size_t tiles = (size_t(M) + kMr - 1) / kMr;
    return tiles * size_t(kpad(wt, K)) * kMr * (wt == DType::BF16 ? 2 : 4);
}

// F32 layout: per tile [Kx][kMr] floats, Kx = K (BF16: padded to even, pad = 0). Written in
// order, k by k (the rows read as kMr sequential streams), every float once: rows past M and the
// pad column are zero.
void pack_x_f32(DType wt, const float* X, int ldx, int M, int K, void* xp) {
    int kx = kpad(wt, K);
    float* out = static_cast<float*>(xp);
    for (int t = 0; t * kMr < M; t++) {
        float* tile = out + size_t(t) * kx * kMr;
        int mr = M - t * kMr < kMr ? M - t * kMr : kMr;
        const float* x = X + size_t(t) * kMr * ldx;
        if (mr == kMr) {
            for (int k = 0; k < K; k++, tile += kMr)
                for (int i = 0; i < kMr; i++) tile[i] = x[size_t(i) * ldx + k];
        } else {
            for (int k = 0; k < K; k++, tile += kMr)
                for (int i = 0; i < kMr; i++) tile[i] = i < mr ? x[size_t(i) * ldx + k] : 0.0f;
        }
        if (kx > K) std::memset(tile, 0, size_t(kx - K) * kMr * 4);
    }
}

// BF16 pair layout: per tile [Kp/2][kMr] uint32 = (bf16(x[2kk+1]) << 16) | bf16(x[2kk]).
void pack_x_bf16(const float* X, int ldx, int M, int K, void* xp) {
    int kp = (K + 1) & ~1;
    uint32_t* out = static_cast<uint32_t*>(xp);
    for (int t = 0; t * kMr < M; t++) {
        uint32_t* tile = out + size_t(t) * (kp / 2) * kMr;
        int mr = M - t * kMr < kMr ? M - t * kMr : kMr;
        std::memset(tile, 0, size_t(kp / 2) * kMr * 4);
        for (int i = 0; i < mr; i++) {
            const float* x = X + size_t(t * kMr + i) * ldx;
            int k = 0;
            for (; k + 16 <= K; k += 16) {
                // vcvtneps2bf16: round to nearest even, like f32_to_bf16
                __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + k));
                alignas(32) uint16_t tmp[16];
                _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), h);
                for (int j = 0; j < 16; j += 2)
                    tile[size_t((k + j) / 2) * kMr + i] = uint32_t(tmp[j]) | (uint32_t(tmp[j + 1]) << 16);
            }
            for (; k < K; k++) {
                __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_set1_ps(x[k]));
                uint32_t b = uint32_t(_mm256_extract_epi16(h, 0));
                tile[size_t(k / 2) * kMr + i] |= (k % 2) ? (b << 16) : b;
            }
        }
    }
}

void pack_x_plain(DType wt, const float* X, int ldx, int M, int K, void* xp) {
    if (wt == DType::I8) return pack_x_i8(X, ldx, M, K, xp);
    if (wt == DType::Q4) return pack_x_q4(X, ldx, M, K, xp);
    pack_x_f32(wt, X, ldx, M, K, xp);
}
void pack_x_dot(DType wt, const float* X, int ldx, int M, int K, void* xp) {
    if (wt == DType::I8)
        pack_x_i8(X, ldx, M, K, xp);
    else if (wt == DType::Q4)
        pack_x_q4(X, ldx, M, K, xp);
    else if (wt == DType::BF16)
        pack_x_bf16(X, ldx, M, K, xp);
    else
        pack_x_f32(wt, X, ldx, M, K, xp);
}

// --- micro-kernels: C[MR][32] (+)= Xtile[kc][kMr] * Wpanel[kc][32] ------------------------------

// Software prefetch of the weight stream kPrefetch bytes ahead (the panel is contiguous in k, and
// the next panel follows it). The hardware prefetcher alone leaves the batched micro-kernels
// stalled on DRAM: with 12+ rows per weight row the loads come too slowly for it to run ahead.
constexpr int kPrefetch = 2048;
inline void prefetch_w(const void* w, int bytes) {
    const char* p = static_cast<const char*>(w) + kPrefetch;
    _mm_prefetch(p, _MM_HINT_T0);
    if (bytes > 64) _mm_prefetch(p + 64, _MM_HINT_T0);
}

template <int MR> struct Acc {
    __m512 c0[MR], c1[MR];
    inline void load(const float* y, int ldy, bool accumulate) {
        for (int i = 0; i < MR; i++) {
            c0[i] = accumulate ? _mm512_loadu_ps(y + size_t(i) * ldy) : _mm512_setzero_ps();
            c1[i] = accumulate ? _mm512_loadu_ps(y + size_t(i) * ldy + 16) : _mm512_setzero_ps();
        }
    }
    inline void store(float* y, int ldy) {
        for (int i = 0; i < MR; i++) {
            _mm512_storeu_ps(y + size_t(i) * ldy, c0[i]);
            _mm512_storeu_ps(y + size_t(i) * ldy + 16, c1[i]);
        }
    }
};

// next_x: the next call's X block (many-rows order, where this W block is already cached from
// the previous row tile): prefetched one line per k instead of the W stream, so the X tiles,
// kKcRows x 48 bytes apart in L2, do not stall the broadcasts at each call's start.
template <int MR>
void uk_f32(int kc, const float* x, const float* w, float* y, int ldy, bool accumulate, const char* next_x,
            Prefetcher* pf, int n_pf) {
    Acc<MR> a;
    a.load(y, ldy, accumulate);
    const int next_lines = next_x ? kc * kMr * 4 / 64 : 0;
    for (int k = 0; k < kc; k++) {
        if (k < next_lines)
            _mm_prefetch(next_x + 64 * k, _MM_HINT_T0);
        else
            prefetch_w(w, 128);
        if (n_pf > 0) pf->next(), n_pf--;
        __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 b = _mm512_set1_ps(x[i]);
            a.c0[i] = _mm512_fmadd_ps(b, w0, a.c0[i]);
            a.c1[i] = _mm512_fmadd_ps(b, w1, a.c1[i]);
        }
        x += kMr;
        w += kPanel;
    }
    a.store(y, ldy);
}

template <int MR>
void uk_f16(int kc, const float* x, const uint16_t* w, float* y, int ldy, bool accumulate, Prefetcher* pf, int n_pf) {
    Acc<MR> a;
    a.load(y, ldy, accumulate);
    for (int k = 0; k < kc; k++) {
        prefetch_w(w, 64);
        if (n_pf > 0) pf->next(), n_pf--;
        __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
        __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16)));
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 b = _mm512_set1_ps(x[i]);
            a.c0[i] = _mm512_fmadd_ps(b, w0, a.c0[i]);
            a.c1[i] = _mm512_fmadd_ps(b, w1, a.c1[i]);
        }
        x += kMr;
        w += kPanel;
    }
    a.store(y, ldy);
}

// BF16 weights widened exactly: even k in the low half of each 32-bit lane, odd k in the high.
template <int MR>
void uk_bf16_f32(int kc, const float* x, const uint16_t* w, float* y, int ldy, bool accumulate, Prefetcher* pf,
                 int n_pf) {
    Acc<MR> a;
    a.load(y, ldy, accumulate);
    const __m512i hi_mask = _mm512_set1_epi32(int(0xffff0000u));
    for (int k = 0; k < kc; k += 2) {
        prefetch_w(w, 128);
        if (n_pf > 0) pf->next(), n_pf--;
        __m512i wa = _mm512_loadu_si512(w), wb = _mm512_loadu_si512(w + 32);
        __m512 a_lo = _mm512_castsi512_ps(_mm512_slli_epi32(wa, 16));
        __m512 a_hi = _mm512_castsi512_ps(_mm512_and_si512(wa, hi_mask));
        __m512 b_lo = _mm512_castsi512_ps(_mm512_slli_epi32(wb, 16));
        __m512 b_hi = _mm512_castsi512_ps(_mm512_and_si512(wb, hi_mask));
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 x0 = _mm512_set1_ps(x[i]), x1 = _mm512_set1_ps(x[kMr + i]);
            a.c0[i] = _mm512_fmadd_ps(x1, a_hi, _mm512_fmadd_ps(x0, a_lo, a.c0[i]));
            a.c1[i] = _mm512_fmadd_ps(x1, b_hi, _mm512_fmadd_ps(x0, b_lo, a.c1[i]));
        }
        x += 2 * kMr;
        w += 2 * kPanel;
    }
    a.store(y, ldy);
}

template <int MR>
void uk_bf16_dot(int kc, const uint32_t* x, const uint16_t* w, float* y, int ldy, bool accumulate, Prefetcher* pf,
                 int n_pf) {
    Acc<MR> a;
    a.load(y, ldy, accumulate);
    for (int k = 0; k < kc; k += 2) {
        prefetch_w(w, 128);
        if (n_pf > 0) pf->next(), n_pf--;
        __m512bh wa = (__m512bh)_mm512_loadu_si512(w), wb = (__m512bh)_mm512_loadu_si512(w + 32);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512bh b = (__m512bh)_mm512_set1_epi32(int(x[i]));
            a.c0[i] = _mm512_dpbf16_ps(a.c0[i], b, wa);
            a.c1[i] = _mm512_dpbf16_ps(a.c1[i], b, wb);
        }
        x += kMr;
        w += 2 * kPanel;
    }
    a.store(y, ldy);
}

// Runs micro-kernel `uk` for MR = mr (1..12).
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
    case 6:                                                                                                            \
        call(6);                                                                                                       \
        break;                                                                                                         \
    case 7:                                                                                                            \
        call(7);                                                                                                       \
        break;                                                                                                         \
    case 8:                                                                                                            \
        call(8);                                                                                                       \
        break;                                                                                                         \
    case 9:                                                                                                            \
        call(9);                                                                                                       \
        break;                                                                                                         \
    case 10:                                                                                                           \
        call(10);                                                                                                      \
        break;                                                                                                         \
    case 11:                                                                                                           \
        call(11);                                                                                                      \
        break;                                                                                                         \
    default:                                                                                                           \
        call(12);                                                                                                      \
        break;                                                                                                         \
    }

// One block: rows tile t (mr rows), k range [kb, kb + kc) of panel wpanel, into y.
template <bool kDot>
inline void block(DType wt, int mr, int kc, int kb, int kx, const void* xtile, const void* wpanel, float* y, int ldy,
                  bool acc, Prefetcher& pf, const void* next_x = nullptr) {
    // one step per k (BF16: per pair of k)
    const int n_pf = pf.take((long long)mr * kc, wt == DType::BF16 ? kc / 2 : kc);
    if (wt == DType::F32) {
        const float* x = static_cast<const float*>(xtile) + size_t(kb) * kMr;
        const float* w = static_cast<const float*>(wpanel) + size_t(kb) * kPanel;
#define FL_CALL(R) uk_f32<R>(kc, x, w, y, ldy, acc, static_cast<const char*>(next_x), &pf, n_pf)
        FL_DISPATCH_MR(mr, FL_CALL)
#undef FL_CALL
    } else if (wt == DType::F16) {
        const float* x = static_cast<const float*>(xtile) + size_t(kb) * kMr;
        const uint16_t* w = static_cast<const uint16_t*>(wpanel) + size_t(kb) * kPanel;
#define FL_CALL(R) uk_f16<R>(kc, x, w, y, ldy, acc, &pf, n_pf)
        FL_DISPATCH_MR(mr, FL_CALL)
#undef FL_CALL
    } else if (kDot) {
        const uint32_t* x = static_cast<const uint32_t*>(xtile) + size_t(kb / 2) * kMr;
        const uint16_t* w = static_cast<const uint16_t*>(wpanel) + size_t(kb) * kPanel;
#define FL_CALL(R) uk_bf16_dot<R>(kc, x, w, y, ldy, acc, &pf, n_pf)
        FL_DISPATCH_MR(mr, FL_CALL)
#undef FL_CALL
    } else {
        const float* x = static_cast<const float*>(xtile) + size_t(kb) * kMr;
        const uint16_t* w = static_cast<const uint16_t*>(wpanel) + size_t(kb) * kPanel;
#define FL_CALL(R) uk_bf16_f32<R>(kc, x, w, y, ldy, acc, &pf, n_pf)
        FL_DISPATCH_MR(mr, FL_CALL)
#undef FL_CALL
    }
    (void)kx;
}

template <bool kDot>
void gemm_impl(DType wt, int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy,
               const PrefetchRegion* pf_regions, int n_pf) {
    const int kx = kpad(wt, K);
    Prefetcher pf(pf_regions, n_pf, (long long)(p1 - p0) * M * kx);
    const size_t es = wt == DType::F32 ? 4 : 2;
    const size_t panel_bytes = size_t(kx) * kPanel * es;
    // X tile: [kx][kMr] F32, or [kx/2][kMr] BF16 pairs (uint32) for the dot path
    const size_t tile_bytes = size_t(kx) * kMr * ((kDot && wt == DType::BF16) ? 2 : 4);
    const int tiles = (M + kMr - 1) / kMr;
    alignas(64) float tmp[kMr * kPanel];
    // Many rows (prefill): K blocks outermost, so the packed X of one K block (tiles x kKc x kMr)
    // stays in L2 while the panels of the range pass over it. Few rows (decode): panel by panel,
    // streaming each panel once (the weights are the traffic). Either order sums every element
    // over the K blocks in the same order, so a row's result does not depend on M.
    const int full_end = p1 < N / kPanel ? p1 : N / kPanel; // panels [p0, full_end) are 32 wide
    if (tiles >= kKOuterMinTiles) {
        for (int kb = 0; kb < kx; kb += kKcRows) {
            int kc = kx - kb < kKcRows ? kx - kb : kKcRows;
            for (int p = p0; p < full_end; p++) {
                const char* wpanel = static_cast<const char*>(wp) + size_t(p) * panel_bytes;
                // the W block the next panel (or the next K block's first panel) reads, prefetched to L2 a
                // slice per row tile: it comes from memory, and all of it at the first tile would stall
                int np = p + 1, nkb = kb;
                if (np == full_end) np = p0, nkb = kb + kKcRows;
                const bool ahead = nkb < kx;
                const char* wnext = static_cast<const char*>(wp) + size_t(np) * panel_bytes + size_t(nkb) * kPanel * es;
                const size_t wnext_lines =
                    ahead ? (size_t(kx - nkb < kKcRows ? kx - nkb : kKcRows) * kPanel * es + 63) / 64 : 0;
                const size_t lines_per_tile = (wnext_lines + tiles - 1) / tiles;
                for (int t = 0; t < tiles; t++) {
                    for (size_t l = t * lines_per_tile; l < (t + 1) * lines_per_tile && l < wnext_lines; l++)
                        _mm_prefetch(wnext + 64 * l, _MM_HINT_T1);
                    int mr = M - t * kMr < kMr ? M - t * kMr : kMr;
                    const char* xtile = static_cast<const char*>(xp) + size_t(t) * tile_bytes;
                    // the next call's X block, for the F32 kernel to prefetch (its W block is in cache)
                    const char* next = t + 1 < tiles ? xtile + tile_bytes + size_t(kb) * (tile_bytes / kx) : nullptr;
                    block<kDot>(wt, mr, kc, kb, kx, xtile, wpanel, Y + size_t(t) * kMr * ldy + p * kPanel, ldy, kb > 0,
                                pf, next);
                }
            }
        }
    } else {
        for (int p = p0; p < full_end; p++) {
            const char* wpanel = static_cast<const char*>(wp) + size_t(p) * panel_bytes;
            for (int kb = 0; kb < kx; kb += kKc) {
                int kc = kx - kb < kKc ? kx - kb : kKc;
                for (int t = 0; t < tiles; t++) {
                    int mr = M - t * kMr < kMr ? M - t * kMr : kMr;
                    const char* xtile = static_cast<const char*>(xp) + size_t(t) * tile_bytes;
                    block<kDot>(wt, mr, kc, kb, kx, xtile, wpanel, Y + size_t(t) * kMr * ldy + p * kPanel, ldy, kb > 0,
                                pf);
                }
            }
        }
    }
    for (int p = full_end > p0 ? full_end : p0; p < p1; p++) {
        // last, partial panel: compute into a tile buffer and copy the valid columns
        const char* wpanel = static_cast<const char*>(wp) + size_t(p) * panel_bytes;
        const int n0 = p * kPanel;
        const int ncols = N - n0 < kPanel ? N - n0 : kPanel;
        if (ncols <= 0) break;
        for (int t = 0; t < tiles; t++) {
            int mr = M - t * kMr < kMr ? M - t * kMr : kMr;
            const char* xtile = static_cast<const char*>(xp) + size_t(t) * tile_bytes;
            for (int kb = 0; kb < kx; kb += kKc) {
                int kc = kx - kb < kKc ? kx - kb : kKc;
                block<kDot>(wt, mr, kc, kb, kx, xtile, wpanel, tmp, kPanel, kb > 0, pf);
            }
            for (int i = 0; i < mr; i++)
                std::memcpy(Y + size_t(t * kMr + i) * ldy + n0, tmp + i * kPanel, size_t(ncols) * 4);
        }
    }
    pf.finish();
}

void gemm_plain(DType wt, int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy,
                const PrefetchRegion* pf, int n_pf) {
    if (wt == DType::I8) return gemm_i8_avx2(M, K, xp, wp, N, p0, p1, Y, ldy);
    if (wt == DType::Q4) return gemm_q4_avx2(M, K, xp, wp, N, p0, p1, Y, ldy);
    gemm_impl<false>(wt, M, K, xp, wp, N, p0, p1, Y, ldy, pf, n_pf);
}
void gemm_dot(DType wt, int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy,
              const PrefetchRegion* pf, int n_pf) {
    if (wt == DType::I8) return gemm_i8_avx2(M, K, xp, wp, N, p0, p1, Y, ldy);
    if (wt == DType::Q4) return gemm_q4_avx2(M, K, xp, wp, N, p0, p1, Y, ldy);
    gemm_impl<true>(wt, M, K, xp, wp, N, p0, p1, Y, ldy, pf, n_pf);
}

// --- vector kernels ---------------------------------------------------------------------------

inline __mmask16 tail_mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

float dot(const float* a, const float* b, int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

void axpy(float a, const float* x, float* y, int n) {
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

void rmsnorm(float* out, const float* x, const float* w, int n, float eps) {
    float ss = dot(x, x, n);
    __m512 r = _mm512_set1_ps(1.0f / __builtin_sqrtf(ss / n + eps));
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), r), _mm512_loadu_ps(w + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(
            out + i, m,
            _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), r), _mm512_maskz_loadu_ps(m, w + i)));
    }
}

inline __m512 silu_mul16(__m512 g, __m512 u) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

void silu_mul(float* g, const float* u, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(g + i, silu_mul16(_mm512_loadu_ps(g + i), _mm512_loadu_ps(u + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(g + i, m, silu_mul16(_mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, u + i)));
    }
}

float exp_sum(float* x, int n, float sub) {
    __m512 vs = _mm512_set1_ps(sub), acc = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vs));
        _mm512_storeu_ps(x + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
        _mm512_mask_storeu_ps(x + i, m, e);
        acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(m, e));
    }
    return _mm512_reduce_add_ps(acc);
}

// --- LoRA with BF16 adapter weights (both tables: widened exactly, F32 FMAs) ------------------

// 16 BF16 values widened exactly to F32 (the bits of the high half); masked: zeros past the mask.
inline __m512 bf16x16(const uint16_t* p) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 bf16x16_maskz(__mmask16 m, const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

float dot_bf16(const float* x, const uint16_t* w, int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), bf16x16(w + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), bf16x16(w + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), bf16x16(w + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), bf16x16_maskz(m, w + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

void lora_expand_bf16(const uint16_t* Bt, int ldb, int rank, const float* t, int ldt, int n, float* y, int ldy,
                      int len) {
    int c = 0;
    for (; c + 32 <= len; c += 32) {
        for (int i = 0; i < n; i++) {
            float* yi = y + size_t(i) * ldy + c;
            const float* ti = t + size_t(i) * ldt;
            __m512 a0 = _mm512_loadu_ps(yi), a1 = _mm512_loadu_ps(yi + 16);
            for (int j = 0; j < rank; j++) {
                const uint16_t* b = Bt + size_t(j) * ldb + c;
                __m512 tj = _mm512_set1_ps(ti[j]);
                a0 = _mm512_fmadd_ps(tj, bf16x16(b), a0);
                a1 = _mm512_fmadd_ps(tj, bf16x16(b + 16), a1);
            }
            _mm512_storeu_ps(yi, a0);
            _mm512_storeu_ps(yi + 16, a1);
        }
    }
    for (; c < len; c += 16) { // the same per-element operations, masked
        __mmask16 m = tail_mask(len - c < 16 ? len - c : 16);
        for (int i = 0; i < n; i++) {
            float* yi = y + size_t(i) * ldy + c;
            const float* ti = t + size_t(i) * ldt;
            __m512 a = _mm512_maskz_loadu_ps(m, yi);
            for (int j = 0; j < rank; j++)
                a = _mm512_fmadd_ps(_mm512_set1_ps(ti[j]), bf16x16_maskz(m, Bt + size_t(j) * ldb + c), a);
            _mm512_mask_storeu_ps(yi, m, a);
        }
    }
}

void axpy_bf16(float a, const uint16_t* x, float* y, int n) {
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, bf16x16(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, bf16x16_maskz(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

// --- attention: the queries in the 16 lanes of a zmm ------------------------------------------
//
// attend keeps every intermediate transposed, one lane per query, so that no sum ever crosses
// lanes (each query's sums run in its own lane, in ascending d or j: batch invariance for free)
// and a key or value element is broadcast once for all queries:
//   qt [hd][16]     qt[d][r] = q[r][d]
//   st [n_pos][16]  scores, then probabilities (0 outside [lo[r], hi[r]))
//   ot [hd][16]     ot[e][r] = sum_j st[j][r] * vp[j][e]
// Scores take 8 keys per pass (8 accumulators, qt[d] loaded once per 8 broadcast FMAs); P.V
// takes 16 output elements per pass (16 accumulators, st[j] loaded once per 16 broadcast FMAs).
// Keys and values are F32 or BF16 (T = uint16_t), each element widened exactly where it is broadcast.
constexpr int kLanes = kAttendQueries;

inline float widen(float x) { return x; }
inline float widen(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

void transpose_queries(int nq, int hd, const float* const* q, float* qt) {
    for (int d = 0; d < hd; d++)
        for (int r = 0; r < kLanes; r++) qt[d * kLanes + r] = r < nq ? q[r][d] : 0.0f;
}

// st[i][:] = scale * sum_d qt[d][:] * kp[i][d] for NK keys.
template <int NK, class T>
inline void scores_block(int hd, const float* qt, const T* const* kp, float scale, float* st) {
    __m512 acc[NK];
    for (int i = 0; i < NK; i++) acc[i] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m512 qd = _mm512_load_ps(qt + d * kLanes);
        for (int i = 0; i < NK; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(widen(kp[i][d])), qd, acc[i]);
    }
    for (int i = 0; i < NK; i++) _mm512_store_ps(st + i * kLanes, _mm512_mul_ps(acc[i], _mm512_set1_ps(scale)));
}

// In place, per lane r: st[j] = exp(st[j] - max) for j in [lo, hi), else 0; returns 1 / sum.
__m512 softmax_lanes(int n_pos, __m512i lo, __m512i hi, float* st) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < n_pos; j++) {
        __m512i jv = _mm512_set1_epi32(j);
        __mmask16 in = _mm512_cmple_epi32_mask(lo, jv) & _mm512_cmplt_epi32_mask(jv, hi);
        mx = _mm512_mask_max_ps(mx, in, mx, _mm512_load_ps(st + j * kLanes));
    }
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < n_pos; j++) {
        __m512i jv = _mm512_set1_epi32(j);
        __mmask16 in = _mm512_cmple_epi32_mask(lo, jv) & _mm512_cmplt_epi32_mask(jv, hi);
        __m512 p = _mm512_maskz_mov_ps(in, exp512(_mm512_sub_ps(_mm512_load_ps(st + j * kLanes), mx)));
        _mm512_store_ps(st + j * kLanes, p);
        sum = _mm512_add_ps(sum, p);
    }
    return _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
}

// ot[e0 + i][:] = sum_j st[j][:] * vp[j][e0 + i] for NE output elements.
template <int NE, class T> inline void pv_block(int e0, const float* st, const T* const* vp, int n_pos, float* ot) {
    __m512 acc[NE];
    for (int i = 0; i < NE; i++) acc[i] = _mm512_setzero_ps();
    for (int j = 0; j < n_pos; j++) {
        __m512 p = _mm512_load_ps(st + j * kLanes);
        const T* v = vp[j] + e0;
        for (int i = 0; i < NE; i++) acc[i] = _mm512_fmadd_ps(p, _mm512_set1_ps(widen(v[i])), acc[i]);
    }
    for (int i = 0; i < NE; i++) _mm512_store_ps(ot + (e0 + i) * kLanes, acc[i]);
}

template <class T>
void attend_t(int nq, int hd, const float* const* q, const T* const* kp, const T* const* vp, int n_pos, const int* lo,
              const int* hi, float scale, float* const* out, float* scratch) {
    float* st = scratch;                     // [n_pos][16]
    float* qt = st + size_t(n_pos) * kLanes; // [hd][16]
    float* ot = qt + size_t(hd) * kLanes;    // [hd][16]
    transpose_queries(nq, hd, q, qt);
    int j = 0;
    for (; j + 8 <= n_pos; j += 8) scores_block<8, T>(hd, qt, kp + j, scale, st + j * kLanes);
    for (; j < n_pos; j++) scores_block<1, T>(hd, qt, kp + j, scale, st + j * kLanes);
    // unused lanes get the empty range [0, 0)
    const __mmask16 used = tail_mask(nq);
    __m512i lo_v = _mm512_maskz_loadu_epi32(used, lo), hi_v = _mm512_maskz_loadu_epi32(used, hi);
    alignas(64) float inv[kLanes];
    _mm512_store_ps(inv, softmax_lanes(n_pos, lo_v, hi_v, st));
    // output elements in passes of 16, then 8, 4, 2, 1 (any head dimension)
    int e = 0;
    for (; e + 16 <= hd; e += 16) pv_block<16, T>(e, st, vp, n_pos, ot);
    if (hd - e >= 8) pv_block<8, T>(e, st, vp, n_pos, ot), e += 8;
    if (hd - e >= 4) pv_block<4, T>(e, st, vp, n_pos, ot), e += 4;
    if (hd - e >= 2) pv_block<2, T>(e, st, vp, n_pos, ot), e += 2;
    if (hd - e >= 1) pv_block<1, T>(e, st, vp, n_pos, ot), e += 1;
    for (int r = 0; r < nq; r++)
        for (int d = 0; d < hd; d++) out[r][d] = ot[d * kLanes + r] * inv[r];
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

const Kernels kAvx512 = {
    "avx512", Isa::Avx512, kMr,     pack_x_bytes_impl, pack_x_plain,     gemm_plain, dot,    axpy,
    rmsnorm,  silu_mul,    exp_sum, dot_bf16,          lora_expand_bf16, axpy_bf16,  attend, flash_attend_avx2};
const Kernels kAvx512Bf16 = {
    "avx512bf16", Isa::Avx512Bf16, kMr,     pack_x_bytes_dot, pack_x_dot,       gemm_dot,  dot,    axpy,
    rmsnorm,      silu_mul,        exp_sum, dot_bf16,         lora_expand_bf16, axpy_bf16, attend, flash_attend_avx2};

} // namespace

const Kernels* avx512_kernels(bool bf16_dot) { return bf16_dot ? &kAvx512Bf16 : &kAvx512; }

} // namespace kern
} // namespace fl
