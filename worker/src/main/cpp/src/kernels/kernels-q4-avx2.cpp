// kernels-q4-avx2.cpp - the 4-bit GEMM on AVX2 (the math and the layout: q4.h). Bitwise equal to
// gemm_q4_scalar: the group sums are exact in int32 and the float steps are the same operations.
//
// Per 8-row block and row of X, per group: each weight row's 128 nibbles are split into 4 x 32
// unsigned bytes, multiplied with the 128 int8 activations by vpmaddubsw (|pair sum| <= 2 * 15 * 127,
// four of them <= 15240 fit int16) and widened by vpmaddwd; the eight rows' int32 vectors are
// reduced together by a vphaddd tree into one vector of the 8 row sums, and the zero point, scale
// and accumulation then run on the 8 rows at once.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "q4.h"

namespace fl {
namespace kern {

namespace {

inline __m256i row_dot(const uint8_t* w, const __m256i x[4], __m256i mask, __m256i ones) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32));
    __m256i p = _mm256_maddubs_epi16(_mm256_and_si256(a, mask), x[0]);
    p = _mm256_add_epi16(p, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(a, 4), mask), x[1]));
    p = _mm256_add_epi16(p, _mm256_maddubs_epi16(_mm256_and_si256(b, mask), x[2]));
    p = _mm256_add_epi16(p, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(b, 4), mask), x[3]));
    return _mm256_madd_epi16(p, ones);
}

// The 8 horizontal sums of v[0..7], in order.
inline __m256i hsum8(const __m256i v[8]) {
    const __m256i h01 = _mm256_hadd_epi32(v[0], v[1]), h23 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i h45 = _mm256_hadd_epi32(v[4], v[5]), h67 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i a = _mm256_hadd_epi32(h01, h23), b = _mm256_hadd_epi32(h45, h67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

} // namespace

void gemm_q4_avx2(int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy) {
    const Q4Header& h = *static_cast<const Q4Header*>(wp);
    const int groups = K / kQ4Group;
    const uint8_t* base = static_cast<const uint8_t*>(wp) + sizeof(Q4Header);
    const size_t row_blocks = (size_t(N) + kPanel - 1) / kPanel * (kPanel / kQ4Rows);
    const int32_t* perm =
        h.has_perm ? reinterpret_cast<const int32_t*>(base + row_blocks * size_t(groups) * kQ4Block) : nullptr;
    // act-order: the rows quantized through the permutation once per call (a range of panels)
    const char* x_rows = static_cast<const char*>(q4_quantized_x(M, K, xp, perm));
    const size_t x_stride = q4_x_stride(K);
    const __m256i mask = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    const int n_end = std::min(N, p1 * kPanel);
    for (int n0 = p0 * kPanel; n0 < n_end; n0 += kQ4Rows) {
        const uint8_t* wb = base + size_t(n0 / kQ4Rows) * groups * kQ4Block;
        const int rows = std::min(kQ4Rows, n_end - n0);
        for (int m = 0; m < M; m++) {
            const char* xr = x_rows + size_t(m) * x_stride;
            const int8_t* xq = reinterpret_cast<const int8_t*>(xr + q4_x_xq_at(K));
            const float* sx = reinterpret_cast<const float*>(xr + q4_x_sx_at(K));
            const int32_t* sum = reinterpret_cast<const int32_t*>(xr + q4_x_sum_at(K));
            __m256 y = _mm256_setzero_ps();
            for (int g = 0; g < groups; g++) {
                const uint8_t* b = wb + size_t(g) * kQ4Block;
                __m256i x[4];
                for (int i = 0; i < 4; i++)
                    x[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + g * kQ4Group + 32 * i));
                __m256i v[8];
                for (int r = 0; r < kQ4Rows; r++) v[r] = row_dot(b + r * 64, x, mask, ones);
                const __m256i dot = hsum8(v);
                const __m256i z =
                    _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 8 * 64 + 16)));
                const __m256i d = _mm256_sub_epi32(dot, _mm256_mullo_epi32(z, _mm256_set1_epi32(sum[g])));
                const __m256 s = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 8 * 64)));
                y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(s, _mm256_set1_ps(sx[g])), y);
            }
            float* out = Y + size_t(m) * ldy + n0;
            if (rows == kQ4Rows) {
                _mm256_storeu_ps(out, y);
            } else {
                alignas(32) float tmp[kQ4Rows];
                _mm256_store_ps(tmp, y);
                std::memcpy(out, tmp, size_t(rows) * 4);
            }
        }
    }
}

} // namespace kern
} // namespace fl
