#include "lora.h"

namespace fl {

void lora_shrink(const kern::Kernels& k, const LoraPair& w, int rank, float scale, int in, const float* x, int ldx,
                 int row0, int n, float* t, int ldt) {
    const float* A = w.a.as<float>(); // [rank, in]
    for (int j = 0; j < rank; j++) {
        const float* a = A + size_t(j) * in;
        for (int i = row0; i < row0 + n; i++) t[size_t(i) * ldt + j] = scale * k.dot(x + size_t(i) * ldx, a, in);
    }
}

void lora_expand(const kern::Kernels& k, const LoraPair& w, int rank, int out, const float* t, int ldt, int row0,
                 int n, float* y, int ldy, int n0, int n1) {
    const float* Bt = w.bt.as<float>(); // [rank, out]
    for (int i = row0; i < row0 + n; i++) {
        float* yi = y + size_t(i) * ldy;
        const float* ti = t + size_t(i) * ldt;
        for (int j = 0; j < rank; j++) k.axpy(ti[j], Bt + size_t(j) * out + n0, yi + n0, n1 - n0);
    }
}

} // namespace fl
