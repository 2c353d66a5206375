// q4.h - 4-bit group-quantized weights (AWQ and GPTQ checkpoints as they load): the packed
// layout, its GEMM (scalar reference in kernels-q4.cpp, AVX2 in kernels-q4-avx2.cpp) and the
// packing from the unpacked values. Declarations only, so SIMD files may include it.
//
// The math. W [N, K] holds, per output row n and group g of kQ4Group consecutive columns, a scale
// s[n, g] (F16, as the checkpoints store it) and an integer zero point z[n, g] in [0, 16]:
//   W[n, k] = s[n, g] * (q[n, k] - z[n, g]),  q in [0, 15],  g = k / kQ4Group
// Act-order checkpoints (GPTQ desc_act) are stored with their columns permuted once at load so that
// every group is contiguous: packed column k holds original column perm[k], and the GEMM reads X
// through the same permutation.
//
// Activations: each row of X (permuted) is quantized on the fly per group, symmetric int8:
//   xq[m, k] = round_half_even(X[m, k] * 127 / a), sx[m, g] = a / 127,  a = max_{k in g} |X[m, k]|
// (a non-finite value in the group makes sx NaN and xq zero), and
//   Y[m, n] = (over g ascending: y = fma(float(sum_{k in g} xq[m, k] * q[n, k] - z[n, g] * sum_{k in g} xq[m, k]),
//                                        s[n, g] * sx[m, g], y)),  y starting at 0
// The integer part is exact in int32, so every variant gives bitwise the same Y and a row's result
// never depends on the other rows (batch invariance).
//
// Layout (packed_q4_bytes(N, K) bytes): a 64-byte header (Q4Header), then for each 32-row panel
// (kernels.h kPanel), each of its four 8-row blocks and each group g, kQ4Block bytes:
//   [8 rows][64 bytes]  nibbles of q: byte i < 32: low = column i, high = column 32 + i;
//                       byte 32 + i: low = column 64 + i, high = column 96 + i (of the group)
//   [8] uint16          s, F16 bits
//   [8] uint8           z
//   [8]                 zero pad
// (rows past N: q = 0, s = 0, z = 0); then, with act-order, perm [K] int32.
// X is packed (pack_x_q4) a row every q4_x_stride(K) bytes: the F32 row [K], then the row quantized as
// above in the original column order: xq [K] int8, sx [K / kQ4Group] F32, the group sums
// [K / kQ4Group] int32. A weight without a permutation reads the quantized row; an act-order weight
// quantizes the F32 row through its permutation itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fl {
namespace kern {

constexpr int kQ4Group = 128;                          // columns per scale and zero point
constexpr int kQ4Rows = 8;                             // rows of one block (one AVX2 vector of results)
constexpr int kQ4Block = kQ4Rows * 64 + 8 * 2 + 8 + 8; // bytes of one block of one group

struct Q4Header {
    int32_t n;        // N
    int32_t k;        // K
    int32_t has_perm; // 1: perm [K] follows the panels
    int32_t pad[13];
};
static_assert(sizeof(Q4Header) == 64, "Q4Header is one cache line");

size_t packed_q4_bytes(int N, int K, bool has_perm);
// q [N, K] values 0..15 (already in packed column order), s [N, K / kQ4Group] F16 bits,
// z [N, K / kQ4Group] 0..16, perm [K] or nullptr; K a multiple of kQ4Group. Writes every byte.
void pack_weight_q4(const uint8_t* q, const uint16_t* s, const uint8_t* z, const int32_t* perm, int N, int K,
                    void* dst);
// W[n, k] in the original column order as F32 (tests and the tied-embedding path never need more).
float q4_weight_at(const void* wp, int n, int k);

inline size_t q4_x_xq_at(int K) { return size_t(K) * 4; }
inline size_t q4_x_sx_at(int K) { return size_t(K) * 5; }
inline size_t q4_x_sum_at(int K) { return size_t(K) * 5 + size_t(K / kQ4Group) * 4; }
inline size_t q4_x_stride(int K) { return (size_t(K) * 5 + size_t(K / kQ4Group) * 8 + 63) & ~size_t(63); }
size_t pack_x_q4_bytes(int M, int K);
void pack_x_q4(const float* X, int ldx, int M, int K, void* xp);

// The packed X a GEMM call reads its quantized rows from: xp itself, or, for a weight with a
// permutation (perm not nullptr), the rows quantized through it into a buffer of the calling
// thread's, laid out alike (valid until the thread's next call).
const void* q4_quantized_x(int M, int K, const void* xp, const int32_t* perm);

// One row of X quantized per group (the math above): xq [K] (perm applied when not nullptr),
// sx [K / kQ4Group], sum [K / kQ4Group] = sum of xq over the group.
void quantize_x_q4(const float* x, const int32_t* perm, int K, int8_t* xq, float* sx, int32_t* sum);

// The GEMM of kernels.h's table for Q4 weights: scalar reference, and AVX2 (bitwise equal).
void gemm_q4_scalar(int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy);
void gemm_q4_avx2(int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy);

} // namespace kern
} // namespace fl
