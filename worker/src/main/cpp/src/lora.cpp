#include "lora.h"

namespace fl {

void lora_shrink(const kern::Kernels& k, const LoraPair& w, int rank, float scale, int in, const float* x, int ldx,
                 int row0, int n, float* t, int ldt) {
    if (w.dtype == DType::BF16) {
        const uint16_t* A = w.a.as<uint16_t>(); // [rank, in]
        for (int j = 0; j < rank; j++) {
            const uint16_t* a = A + size_t(j) * in;
            for (int i = row0; i < row0 + n; i++)
                t[size_t(i) * ldt + j] = scale * k.dot_bf16(x + size_t(i) * ldx, a, in);
        }
        return;
    }
    const float* A = w.a.as<float>(); // [rank, in]
    for (int j = 0; j < rank; j++) {
        const float* a = A + size_t(j) * in;
        for (int i = row0; i < row0 + n; i++) t[size_t(i) * ldt + j] = scale * k.dot(x + size_t(i) * ldx, a, in);
    }
}

void lora_expand(const kern::Kernels& k, const LoraPair& w, int rank, int out, const float* t, int ldt, int row0, int n,
                 float* y, int ldy, int n0, int n1) {
    if (w.dtype == DType::BF16) {
        k.lora_expand_bf16(w.bt.as<uint16_t>() + n0, out, rank, t + size_t(row0) * ldt, ldt, n,
                           y + size_t(row0) * ldy + n0, ldy, n1 - n0);
        return;
    }
    const float* Bt = w.bt.as<float>(); // [rank, out]
    for (int i = row0; i < row0 + n; i++) {
        float* yi = y + size_t(i) * ldy;
        const float* ti = t + size_t(i) * ldt;
        for (int j = 0; j < rank; j++) k.axpy(ti[j], Bt + size_t(j) * out + n0, yi + n0, n1 - n0);
    }
}

} // namespace fl
