// kernels.h - the compute kernels of one engine step, one table per instruction set.
//
// Three variants implement the same table: scalar (portable reference), avx2 (AVX2+FMA+F16C)
// and avx512 (AVX-512 F/BW/VL, optionally AVX512_BF16 dot products); avx512amx is avx512bf16 with
// its BF16-weight GEMM on AMX tiles (kernels-amx.cpp). The table is chosen once at run time from
// cpuid; FLOTILLA_ENGINE_ISA=scalar|avx2|avx512|avx512bf16|avx512amx forces one. The SIMD
// files are compiled with per-file target flags and include nothing but this header and
// intrinsics, so no inline function compiled for a wider ISA can leak into common code.
//
// Weight layout ("packed panels"): a linear weight W [N, K] (HF: [out, in], row-major) is stored
// in its file dtype as ceil(N/32) panels of 32 output features:
//   F32, F16 : panel[p] = [K][32]          element (n, k) at p = n/32: [k][n%32]
//   BF16     : panel[p] = [Kp/2][32][2]    element (n, k) at [k/2][n%32][k%2], Kp = K rounded up
//                                          to even (pairs feed vdpbf16ps directly)
// Rows n >= N of the last panel and the pad column k = K are zero.
//   I8       : panel[p] = [K2/2][32][2]    int8, element (n, k) at [k/2][n%32][k%2], K2 = K rounded
//                                          up to even (zero; pairs feed vpmaddwd once widened);
//                                          then, after all panels, the row scales [panels * 32]
//                                          F32; then the block scales [panels][i8_blocks(K)][32]
//                                          F16 (i8_block_scales):
//              W[n, k] = q(n, k) * bs[n, k / kI8Block] * s[n]
//              Symmetric: s[n] per output channel, bs[n, b] per block of kI8Block columns inside
//              it. A checkpoint quantized per channel (compressed-tensors) keeps its s[n] with every
//              bs = 1; quantization at load sets s[n] = max_k |W[n, k]| / 127 and each block's bs
//              by a least-squares search near the block's own max / 127 (quantize_weight_i8), as
//              llama.cpp's make_qx_quants scales blocks.
//
// I8 GEMM (every variant, the same packed X): each row of X is quantized on the fly to int16 in
// blocks of kI8Block columns, symmetric per block (kI8XLevels = 32767 levels a side: the
// activations' rounding error is 2^-8 of int8's, so the weights' rounding is all the error left):
//   xq[m, k] = round_half_even(X[m, k] * 32767 / max_{k' in block} |X[m, k']|), sx[m, b] = max / 32767
//   Y[m, n] = (sum over blocks b ascending:
//                acc = fma(float(sum_{k in b} xq[m, k] * q(n, k)), sx[m, b] * float(bs[n, b]), acc)) * s[n]
// with each block's sum exact in int32 (|sum| <= 32 * 32767 * 128 < 2^31), so every variant gives
// bitwise the same Y and a row's result never depends on the other rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../dtype.h"

namespace fl {
namespace kern {

constexpr int kPanel = 32;         // output features per weight panel
constexpr int kAttendQueries = 16; // most queries one attend call takes (the lanes of a zmm)

// Scratch floats attend needs for n_pos positions of head dimension hd (the + 16: rows rounded up
// to whole vectors).
inline size_t attend_scratch_floats(int n_pos, int hd) {
    return size_t(kAttendQueries) * (size_t(n_pos) + 2 * size_t(hd) + 16);
}

// Flash attention (prefill): keys in tiles of kFlashKeys, each tile starting at a multiple of
// kFlashKeys in absolute position; at most kFlashQueries queries per call.
constexpr int kFlashKeys = 64;
constexpr int kFlashQueries = 64;

// Scratch floats flash_attend needs for head dimension hd: the tile's keys transposed and its values
// widened to F32 ([hd rounded up to 8][kFlashKeys] each), the scores of kFlashQueries queries over a
// tile, their running maxima and sums, and a zero row.
inline size_t flash_scratch_floats(int hd) {
    const size_t hd8 = (size_t(hd) + 7) & ~size_t(7);
    return 2 * hd8 * kFlashKeys + size_t(kFlashQueries) * (kFlashKeys + 2) + hd8 + 16;
}

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Avx512Bf16 = 3, Avx512Amx = 4 };

// Memory a GEMM caller reads next (the LoRA weights of a step), for the GEMM to prefetch into L2
// while it computes: rows of `bytes` bytes, `stride` bytes apart.
struct PrefetchRegion {
    const void* base;
    size_t stride;
    int rows;
    int bytes;
};

struct Kernels {
    const char* name;
    Isa isa;
    int x_tile_rows; // pack_x packs rows in tiles of this many; packing rows [r0, r1) with r0 a
                     // multiple of it writes at byte offset pack_x_bytes(wt, r0, K)

    // Bytes pack_x needs for M rows of K.
    size_t (*pack_x_bytes)(DType wt, int M, int K);
    // Packs X [M, K] (row stride ldx floats) for a GEMM against weights of dtype wt.
    void (*pack_x)(DType wt, const float* X, int ldx, int M, int K, void* xp);
    // Y[m, n] = X[m, :] . W[n, :] for m < M and n in panels [p0, p1) clipped to N; row stride ldy.
    // pf[0, n_pf): prefetched into L2 a line at a time, spread over the GEMM's micro-kernel steps
    // (a GEMM bound by the dot rate leaves the memory system idle; a burst of prefetches would
    // stall on the fill buffers instead). A hint: it changes no result, a variant may ignore it.
    void (*gemm)(DType wt, int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy,
                 const PrefetchRegion* pf, int n_pf);

    float (*dot)(const float* a, const float* b, int n);    // sum a[i]*b[i]
    void (*axpy)(float a, const float* x, float* y, int n); // y[i] += a * x[i]
    // out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]
    void (*rmsnorm)(float* out, const float* x, const float* w, int n, float eps);
    // g[i] = silu(g[i]) * u[i]
    void (*silu_mul)(float* g, const float* u, int n);
    // x[i] = exp(x[i] - sub); returns the sum (softmax numerator and denominator)
    float (*exp_sum)(float* x, int n, float sub);

    // LoRA with BF16 adapter weights (the math and the shapes: lora.h). The weights are widened to
    // F32 exactly and products accumulate in F32, in an order that depends only on n / len: a
    // row's result never depends on the other rows (batch invariance).
    // dot:    sum_i x[i] * w[i]                                   (the shrink's dot, lora.cpp)
    float (*dot_bf16)(const float* x, const uint16_t* w, int n);
    // expand: y[i, c] += sum_j t[i, j] * Bt[j, c], j ascending    Bt [rank, ldb]; i < n, c < len
    //         (column blocks outer, rows inner: each block of Bt is read from memory once per call;
    //         y stays in registers across the rank)
    void (*lora_expand_bf16)(const uint16_t* Bt, int ldb, int rank, const float* t, int ldt, int n, float* y, int ldy,
                             int len);
    // y[i] += a * x[i] with x BF16, widened exactly (a value row of a BF16 KV cache)
    void (*axpy_bf16)(float a, const uint16_t* x, float* y, int n);
    // Attention of nq <= kAttendQueries queries that share one KV head (a GQA group's heads x a
    // few rows of one sequence) over the key / value rows kp[j], vp[j] (hd values each, of dtype kv:
    // F32, or BF16 widened exactly to F32), j in [0, n_pos):
    //   out[r][:] = sum_{j in [lo[r], hi[r])} softmax_j(scale * q[r] . kp[j]) * vp[j]
    // Every sum runs over d or j in ascending order for each query on its own, so a query's result
    // does not depend on the other queries of the call or on n_pos (batch invariance).
    // scratch: attend_scratch_floats(n_pos, hd), 64-byte aligned. nullptr in variants without
    // one: forward.cpp then loops dot / exp_sum / axpy (or their _bf16 forms) per position.
    void (*attend)(DType kv, int nq, int hd, const float* const* q, const void* const* kp, const void* const* vp,
                   int n_pos, const int* lo, const int* hi, float scale, float* const* out, float* scratch);
    // Flash-style attention of nq <= kFlashQueries queries that share one KV head (a GQA group's
    // heads x rows of one sequence) over the key / value rows kp[j], vp[j] (hd values, dtype kv: F32
    // or BF16 widened exactly), j in [0, n_pos), at absolute positions pos0 + j:
    //   s[r][j]  = scale * q[r] . kp[j]; with cap > 0, s = cap * tanh(s / cap) (Gemma 2 soft-capping)
    //   out[r][:] = sum_{j in [lo[r], hi[r])} softmax_j(s[r][j]) * vp[j]      (lo[r] < hi[r])
    // The keys are taken in tiles of kFlashKeys positions aligned to absolute multiples of it; per tile
    // the queries' scores (in blocks of a few queries x the tile), then an online softmax (running max
    // and sum per query, earlier partial outputs rescaled), then P.V into out. Tiles and query blocks
    // with no key in range are skipped. A query's sums run in an order fixed by its own range and the
    // absolute positions (masked keys add exact zeros): its result does not depend on the other
    // queries of the call, on n_pos or on pos0 (batch invariance; a prompt prefilled in one chunk or
    // several attends bitwise alike). scratch: flash_scratch_floats(hd), 32-byte aligned.
    void (*flash_attend)(DType kv, int nq, int hd, const float* const* q, const void* const* kp, const void* const* vp,
                         int n_pos, int pos0, const int* lo, const int* hi, float scale, float cap, float* const* out,
                         float* scratch);
};

// Kernels for an ISA, or nullptr if this CPU lacks it.
const Kernels* kernels_for(Isa isa);
// The best supported table, or the one FLOTILLA_ENGINE_ISA names (if supported).
const Kernels& active();

// Implemented in the per-ISA files.
const Kernels* scalar_kernels();
const Kernels* avx2_kernels();
const Kernels* avx512_kernels(bool bf16_dot);
// nullptr when the OS refuses the process AMX state.
const Kernels* amx_kernels();

// flash_attend: plain C++ (flash-scalar.cpp, the scalar table's) and AVX2 (flash-avx2.cpp; the
// AVX-512 and AMX tables use it too: their CPUs have AVX2).
void flash_attend_scalar(DType kv, int nq, int hd, const float* const* q, const void* const* kp, const void* const* vp,
                         int n_pos, int pos0, const int* lo, const int* hi, float scale, float cap, float* const* out,
                         float* scratch);
void flash_attend_avx2(DType kv, int nq, int hd, const float* const* q, const void* const* kp, const void* const* vp,
                       int n_pos, int pos0, const int* lo, const int* hi, float scale, float cap, float* const* out,
                       float* scratch);

// --- Int8 weights (kernels-int8.cpp: portable; the AVX2 GEMM in kernels-int8-avx2.cpp) ------

constexpr int kI8Block = 32;      // columns per weight block scale and per activation scale
constexpr int kI8XLevels = 32767; // the int16 activations' largest magnitude

inline int i8_kpad(int K) { return (K + 1) & ~1; }
inline int i8_blocks(int K) { return (K + kI8Block - 1) / kI8Block; }
// One packed X row: K int16 (zero pad to 64 bytes), then the F32 scales of its blocks
// [i8_blocks(K)] at byte i8_x_scale_at(K).
inline size_t i8_x_scale_at(int K) { return (2 * size_t(K) + 63) & ~size_t(63); }
inline size_t i8_x_stride(int K) { return i8_x_scale_at(K) + ((size_t(i8_blocks(K)) * 4 + 63) & ~size_t(63)); }
// The F32 row scales of a packed I8 weight [N, K]: s[n] at [n], after the panels.
inline const float* i8_row_scales(const void* packed, int N, int K) {
    const size_t panels = (size_t(N) + kPanel - 1) / kPanel;
    return reinterpret_cast<const float*>(static_cast<const char*>(packed) + panels * kPanel * size_t(i8_kpad(K)));
}
// The F16 block scales of a packed I8 weight [N, K]: bs[n, b] at [(n / 32) * i8_blocks(K) + b][n % 32].
inline const uint16_t* i8_block_scales(const void* packed, int N, int K) {
    const size_t panels = (size_t(N) + kPanel - 1) / kPanel;
    return reinterpret_cast<const uint16_t*>(static_cast<const char*>(packed) +
                                             panels * kPanel * (size_t(i8_kpad(K)) + 4));
}
size_t pack_x_i8_bytes(int M, int K);
void pack_x_i8(const float* X, int ldx, int M, int K, void* xp);
// The I8 GEMM (the math above) as a plain loop: the scalar table's, and the reference the SIMD
// versions equal bitwise.
void gemm_i8_scalar(int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy);
// AVX2 (kernels-int8-avx2.cpp); the AVX-512 and AMX tables use it too (their CPUs have AVX2).
void gemm_i8_avx2(int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy);
// pack_x_i8 on AVX2, bitwise equal to it (the AVX2 table's).
void pack_x_i8_avx2(const float* X, int ldx, int M, int K, void* xp);

// Packs int8 rows q [N, K] with their scales [N] and, unless nullptr (all 1), their F16 block
// scales [N][i8_blocks(K)] into the I8 layout (packed_weight_bytes(I8, N, K) bytes, every one
// written).
void pack_weight_i8(const int8_t* q, const float* scales, int N, int K, void* dst,
                    const uint16_t* block_scales = nullptr);
// Quantizes W [N, K] of dtype src (F32, F16, BF16) and packs it as I8: s[n] = max |W[n, :]| / 127
// (0 for a zero row, NaN for a row holding a NaN or an infinity, its q all zero); each block's bs
// the F16 of least squared block error among max_block / 127 / s rounded up and a few least-squares
// fits (kernels-int8.cpp), q = round_half_even(W / (bs * s)) within [-127, 127].
void quantize_weight_i8(DType src, const void* w, int N, int K, void* dst);

// --- Weight packing (portable, at load time) --------------------------------------------------

size_t packed_weight_bytes(DType wt, int N, int K);
// src: W [N, K] row-major in dtype wt; dst: packed_weight_bytes(wt, N, K) bytes, every one of
// them written (padding included), so dst need not be cleared first.
void pack_weight(DType wt, const void* src, int N, int K, void* dst);
// Reads row n of a packed weight into out [K] as F32 (embedding lookup from a tied lm_head).
void packed_row_f32(DType wt, const void* packed, int N, int K, int n, float* out);

} // namespace kern
} // namespace fl
