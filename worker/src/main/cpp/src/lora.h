// lora.h - batched LoRA over the segments of a step (Punica SGMV semantics).
//
// For projection p of layer l and every row i in a segment s of consecutive rows that share
// adapter s (rows without an adapter are in no segment and skip LoRA):
//
//   y[i, :] += (x[i, :] @ A[s]^T) @ B[s]^T * scale[s]
//
//   x    [n, in]        input rows of the projection (row-major, stride ldx)
//   A[s] [r_s, in]      lora_A
//   B[s] [out, r_s]     lora_B, stored transposed as Bt[s] [r_s, out]
//   y    [n, out]       base projection output (stride ldy)
//
// shrink:  t[i, :r_s]   = scale[s] * x[i, :] @ A[s]^T         t [n, max_rank]
// expand:  y[i, n0:n1] += t[i, :r_s] @ Bt[s][:, n0:n1]         (a column range: fused with the
//                                                              base GEMM task that wrote it)
// A prefill segment is thus a small GEMM (r x in by rows) and a decode row a GEMV; adapters of
// different ranks mix freely. A and Bt are in the adapter's storage dtype (adapter.h): F32 through
// the dot / axpy kernels, BF16 through dot_bf16 / lora_expand_bf16 (widened to F32, F32
// accumulation). Either way a row's result depends on its own inputs only (batch invariance).
// Supported: every projection shape of the model, 1 <= r <= the context's max_lora_rank <= 256
// (checked when the batch is planned).
#pragma once

#include "adapter.h"
#include "batch.h"
#include "kernels/kernels.h"

namespace fl {

// Rows [row0, row0 + n) of segment seg (row indices are absolute).
void lora_shrink(const kern::Kernels& k, const LoraPair& w, int rank, float scale, int in, const float* x, int ldx,
                 int row0, int n, float* t, int ldt);
void lora_expand(const kern::Kernels& k, const LoraPair& w, int rank, int out, const float* t, int ldt, int row0, int n,
                 float* y, int ldy, int n0, int n1);

} // namespace fl
