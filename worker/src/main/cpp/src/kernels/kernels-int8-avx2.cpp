// kernels-int8-avx2.cpp - the int8-weight GEMM on AVX2 (the math and the layout: kernels.h). Bitwise
// equal to gemm_i8_scalar: each block's sums are exact in int32 and the float steps are the same
// operations in the same order.
//
// The int8 weights of a column pair (16 outputs x 2 columns) are widened to int16 once (vpmovsxbw)
// and multiplied by each row's int16 activations of that pair (vpmaddwd: the pair summed into int32,
// exact) then added (vpaddd). A tile is kMrI8 = 6 rows x 16 outputs: 12 int32 accumulators, the two
// widened weight vectors and one broadcast activation pair fill the 16 ymm registers, and the
// widening is shared by 6 rows. The F32 sums live in memory and are updated once per block of 32
// columns, which leaves the registers to the int32 accumulators.
//
// This file is compiled with -fno-tree-pre (CMakeLists.txt): with partial redundancy elimination
// GCC 12 keeps the 12 accumulators in stack slots and round-trips them through memory at every
// column pair, and the tile runs at 0.83x the speed (55.7 against 66.9 GMAC/s on one Zen 3 core,
// M = 16, K = 1024, N = 2816).
#include <immintrin.h>

#include <cstring>
#include <limits>

#include "kernels.h"

namespace fl {
namespace kern {

namespace {

constexpr int kMrI8 = 6;
constexpr int kPairsPerBlock = kI8Block / 2;

// MR rows of packed X (rows x[i] with block scales sx[i], int16 column pairs) times half a panel
// (16 outputs): w at the half's first pair, pairs 64 bytes apart; bs at the half's F16 scales of
// block 0, blocks 32 apart. acc[i][0..15]: row i's outputs, F32, summed block by block.
template <int MR>
void tile_i8(int pairs, const int16_t* const* x, const float* const* sx, const int8_t* w, const uint16_t* bs,
             float (*acc)[16]) {
    for (int i = 0; i < MR; i++) {
        _mm256_store_ps(acc[i], _mm256_setzero_ps());
        _mm256_store_ps(acc[i] + 8, _mm256_setzero_ps());
    }
    for (int g0 = 0, b = 0; g0 < pairs; g0 += kPairsPerBlock, b++) {
        const int g1 = pairs - g0 < kPairsPerBlock ? pairs : g0 + kPairsPerBlock;
        __m256i sum[MR][2];
        for (int i = 0; i < MR; i++) sum[i][0] = sum[i][1] = _mm256_setzero_si256();
        for (int g = g0; g < g1; g++) {
            const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
            const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16)));
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                int32_t x2;
                std::memcpy(&x2, x[i] + 2 * g, 4);
                const __m256i xb = _mm256_set1_epi32(x2);
                sum[i][0] = _mm256_add_epi32(sum[i][0], _mm256_madd_epi16(w0, xb));
                sum[i][1] = _mm256_add_epi32(sum[i][1], _mm256_madd_epi16(w1, xb));
            }
            w += 2 * kPanel;
        }
        const __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bs + b * kPanel)));
        const __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bs + b * kPanel + 8)));
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m256 s = _mm256_broadcast_ss(sx[i] + b);
            _mm256_store_ps(
                acc[i], _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[i][0]), _mm256_mul_ps(s, b0), _mm256_load_ps(acc[i])));
            _mm256_store_ps(acc[i] + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[i][1]), _mm256_mul_ps(s, b1),
                                                        _mm256_load_ps(acc[i] + 8)));
        }
    }
}

void tile_i8_rows(int mr, int pairs, const int16_t* const* x, const float* const* sx, const int8_t* w,
                  const uint16_t* bs, float (*acc)[16]) {
    switch (mr) {
    case 1:
        return tile_i8<1>(pairs, x, sx, w, bs, acc);
    case 2:
        return tile_i8<2>(pairs, x, sx, w, bs, acc);
    case 3:
        return tile_i8<3>(pairs, x, sx, w, bs, acc);
    case 4:
        return tile_i8<4>(pairs, x, sx, w, bs, acc);
    case 5:
        return tile_i8<5>(pairs, x, sx, w, bs, acc);
    default:
        return tile_i8<kMrI8>(pairs, x, sx, w, bs, acc);
    }
}

} // namespace

void pack_x_i8_avx2(const float* X, int ldx, int M, int K, void* xp) {
    const size_t stride = i8_x_stride(K);
    const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(std::numeric_limits<float>::max());
    const __m256 hi = _mm256_set1_ps(float(kI8XLevels)), lo = _mm256_set1_ps(-float(kI8XLevels));
    alignas(32) float tail[kI8Block];
    for (int m = 0; m < M; m++) {
        char* row = static_cast<char*>(xp) + size_t(m) * stride;
        int16_t* q = reinterpret_cast<int16_t*>(row);
        float* scales = reinterpret_cast<float*>(row + i8_x_scale_at(K));
        for (int b = 0; b < i8_blocks(K); b++) {
            const int k0 = b * kI8Block, len = K - k0 < kI8Block ? K - k0 : kI8Block;
            const float* x = X + size_t(m) * ldx + k0;
            if (len < kI8Block) { // zeros change neither the block's max nor its other values
                std::memcpy(tail, x, size_t(len) * 4);
                std::memset(tail + len, 0, size_t(kI8Block - len) * 4);
                x = tail;
            }
            __m256 v[4], amax = _mm256_setzero_ps(), finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
            for (int j = 0; j < 4; j++) {
                v[j] = _mm256_loadu_ps(x + 8 * j);
                const __m256 a = _mm256_andnot_ps(sign, v[j]);
                finite = _mm256_and_ps(finite, _mm256_cmp_ps(a, big, _CMP_LE_OQ)); // false for NaN and inf
                amax = _mm256_max_ps(amax, a);
            }
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            const float mx = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
            __m256i* out = reinterpret_cast<__m256i*>(q + k0);
            if (_mm256_movemask_ps(finite) != 0xff || mx == 0.0f) {
                _mm256_storeu_si256(out, _mm256_setzero_si256());
                _mm256_storeu_si256(out + 1, _mm256_setzero_si256());
                scales[b] = _mm256_movemask_ps(finite) != 0xff ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
                continue;
            }
            const __m256 inv = _mm256_set1_ps(float(kI8XLevels) / mx);
            __m256i r[4];
            for (int j = 0; j < 4; j++) // RNE conversion, as the scalar round_even
                r[j] = _mm256_cvtps_epi32(_mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_mul_ps(v[j], inv))));
            // packs interleaves the 128-bit lanes of its two sources: 0xD8 puts them back in order
            _mm256_storeu_si256(out, _mm256_permute4x64_epi64(_mm256_packs_epi32(r[0], r[1]), 0xD8));
            _mm256_storeu_si256(out + 1, _mm256_permute4x64_epi64(_mm256_packs_epi32(r[2], r[3]), 0xD8));
            scales[b] = mx / float(kI8XLevels);
        }
        std::memset(q + K, 0, i8_x_scale_at(K) - 2 * size_t(K));
    }
}

void gemm_i8_avx2(int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy) {
    const int k2 = i8_kpad(K), pairs = k2 / 2;
    const int8_t* W = static_cast<const int8_t*>(wp);
    const float* ws = i8_row_scales(wp, N, K);
    const uint16_t* bs = i8_block_scales(wp, N, K);
    const int nb = i8_blocks(K);
    const size_t stride = i8_x_stride(K);
    const char* X = static_cast<const char*>(xp);
    alignas(32) float acc[kMrI8][16];
    alignas(32) float tmp[16];
    for (int p = p0; p < p1; p++) {
        const int n0 = p * kPanel;
        const int ncols = N - n0 < kPanel ? N - n0 : kPanel;
        if (ncols <= 0) break;
        const int8_t* panel = W + size_t(p) * k2 * kPanel;
        for (int m0 = 0; m0 < M; m0 += kMrI8) {
            const int mr = M - m0 < kMrI8 ? M - m0 : kMrI8;
            const int16_t* x[kMrI8];
            const float* sx[kMrI8];
            for (int i = 0; i < mr; i++) {
                const char* row = X + size_t(m0 + i) * stride;
                x[i] = reinterpret_cast<const int16_t*>(row);
                sx[i] = reinterpret_cast<const float*>(row + i8_x_scale_at(K));
            }
            for (int h = 0; h < 2; h++) {
                tile_i8_rows(mr, pairs, x, sx, panel + h * 32, bs + size_t(p) * nb * kPanel + h * 16, acc);
                const __m256 s0 = _mm256_loadu_ps(ws + n0 + h * 16), s1 = _mm256_loadu_ps(ws + n0 + h * 16 + 8);
                for (int i = 0; i < mr; i++) {
                    const __m256 y0 = _mm256_mul_ps(_mm256_load_ps(acc[i]), s0);
                    const __m256 y1 = _mm256_mul_ps(_mm256_load_ps(acc[i] + 8), s1);
                    float* y = Y + size_t(m0 + i) * ldy + n0 + h * 16;
                    if (ncols == kPanel) {
                        _mm256_storeu_ps(y, y0);
                        _mm256_storeu_ps(y + 8, y1);
                    } else {
                        _mm256_store_ps(tmp, y0);
                        _mm256_store_ps(tmp + 8, y1);
                        const int c = ncols - h * 16;
                        if (c > 0) std::memcpy(y, tmp, size_t(c < 16 ? c : 16) * 4);
                    }
                }
            }
        }
    }
}

} // namespace kern
} // namespace fl
