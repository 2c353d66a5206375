// Kernels of every instruction set this CPU supports against naive double-precision references,
// fresh seeded random inputs per case. Tolerances:
//   GEMM F32/F16/BF16 weights (F32 activations): |y - ref| <= 2e-5 * sum_k |x_k w_k| + 1e-30
//   GEMM BF16 weights via vdpbf16ps (activations rounded to BF16): <= 8e-3 * sum_k |x_k w_k|
//   vector kernels: relative 2e-5 (exp polynomial ~2 ulp)
//   attend: |out - ref| <= 2e-5 * (max_j |v_j| over the query's range), ref over the keys and values
//   as stored (F32, or BF16 widened); bitwise the same for a query alone (one query, only its own
//   positions) as among others. A BF16 cache against the F32 reference of the unrounded keys and
//   values: <= 2e-2 * max_j |v_j| (BF16 keeps 8 bits of mantissa; measured worst ~4e-3)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "lora.h"
#include "tensor.h"
#include "test.h"

using namespace fl;
using namespace fl::kern;

namespace {

std::vector<const Kernels*> all_kernels() {
    std::vector<const Kernels*> out;
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Bf16, Isa::Avx512Amx})
        if (const Kernels* k = kernels_for(isa)) out.push_back(k);
    return out;
}

// Random weights [N, K] in dtype wt, plus their exact F32 values.
void random_weights(std::mt19937& rng, DType wt, int N, int K, std::vector<uint16_t>& half, std::vector<float>& f32) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    f32.resize(size_t(N) * K);
    half.resize(size_t(N) * K);
    for (size_t i = 0; i < f32.size(); i++) {
        float v = d(rng);
        if (wt == DType::F16) {
            half[i] = f32_to_f16(v);
            v = f16_to_f32(half[i]);
        } else if (wt == DType::BF16) {
            half[i] = f32_to_bf16(v);
            v = bf16_to_f32(half[i]);
        }
        f32[i] = v;
    }
}

// One GEMM's inputs for a kernel table: random weights [N, K] of dtype wt packed, and random
// X [M, K] (row stride K) packed by the table.
struct GemmInputs {
    std::vector<float> X;
    Buffer packed, xp;
    int panels;

    GemmInputs(const Kernels* k, DType wt, int M, int N, int K, uint32_t seed) : panels((N + kPanel - 1) / kPanel) {
        std::mt19937 rng(seed);
        std::vector<uint16_t> half;
        std::vector<float> w;
        random_weights(rng, wt, N, K, half, w);
        std::normal_distribution<float> d(0.0f, 1.0f);
        X.resize(size_t(M) * K);
        for (float& v : X) v = d(rng);
        packed = Buffer(packed_weight_bytes(wt, N, K));
        pack_weight(wt, wt == DType::F32 ? static_cast<const void*>(w.data()) : half.data(), N, K, packed.as<void>());
        xp = Buffer(k->pack_x_bytes(wt, M, K));
        k->pack_x(wt, X.data(), K, M, K, xp.as<void>());
    }
};

} // namespace

TEST(gemm_matches_naive_reference) {
    const int Ms[] = {1, 2, 5, 12, 13, 17, 40, 100};
    const int Ns[] = {1, 31, 32, 33, 100};
    // 1030: three K blocks of the many-rows order; 32, 256, 1024: whole K steps for AMX tiles
    const int Ks[] = {1, 3, 16, 32, 255, 256, 257, 600, 1024, 1030};
    int case_id = 0;
    for (const Kernels* k : all_kernels()) {
        for (DType wt : {DType::F32, DType::F16, DType::BF16}) {
            for (int M : Ms)
                for (int N : Ns)
                    for (int K : Ks) {
                        std::mt19937 rng(1000 + case_id++);
                        std::vector<uint16_t> half;
                        std::vector<float> w;
                        random_weights(rng, wt, N, K, half, w);
                        std::normal_distribution<float> d(0.0f, 1.0f);
                        const int ldx = K + 3, ldy = N + 5;
                        std::vector<float> X(size_t(M) * ldx);
                        for (float& v : X) v = d(rng);
                        Buffer packed(packed_weight_bytes(wt, N, K));
                        pack_weight(wt, wt == DType::F32 ? static_cast<const void*>(w.data()) : half.data(), N, K,
                                    packed.as<void>());
                        Buffer xp(k->pack_x_bytes(wt, M, K));
                        // packed in two parts split at a tile boundary, as the engine's row tasks do
                        int r0 = k->x_tile_rows * (((M + k->x_tile_rows - 1) / k->x_tile_rows) / 2);
                        k->pack_x(wt, X.data(), ldx, r0, K, xp.as<void>());
                        k->pack_x(wt, X.data() + size_t(r0) * ldx, ldx, M - r0, K,
                                  xp.as<char>() + k->pack_x_bytes(wt, r0, K));
                        std::vector<float> Y(size_t(M) * ldy, -7.0f);
                        int panels = (N + kPanel - 1) / kPanel;
                        // two calls over a split panel range, as the thread pool does
                        int mid = panels / 2;
                        k->gemm(wt, M, K, xp.as<void>(), packed.as<void>(), N, 0, mid, Y.data(), ldy, nullptr, 0);
                        k->gemm(wt, M, K, xp.as<void>(), packed.as<void>(), N, mid, panels, Y.data(), ldy, nullptr, 0);
                        double tol = (k->isa >= Isa::Avx512Bf16 && wt == DType::BF16) ? 8e-3 : 2e-5;
                        for (int m = 0; m < M; m++) {
                            for (int n = 0; n < N; n++) {
                                double ref = 0, mag = 0;
                                for (int kk = 0; kk < K; kk++) {
                                    ref += double(X[size_t(m) * ldx + kk]) * w[size_t(n) * K + kk];
                                    mag += std::fabs(double(X[size_t(m) * ldx + kk]) * w[size_t(n) * K + kk]);
                                }
                                double got = Y[size_t(m) * ldy + n];
                                CHECK_MSG(std::fabs(got - ref) <= tol * mag + 1e-30,
                                          "%s %s M=%d N=%d K=%d (m=%d n=%d): %g vs %g", k->name, dtype_name(wt), M, N,
                                          K, m, n, got, ref);
                            }
                            for (int n = N; n < ldy; n++) CHECK(Y[size_t(m) * ldy + n] == -7.0f); // no write past N
                        }
                    }
        }
    }
}

// Prefetch regions are a hint: with them (odd alignments, an empty region, rows far apart) a GEMM
// writes bitwise what it writes without, in both row orders.
TEST(gemm_prefetch_changes_nothing) {
    const int N = 100;
    std::vector<char> other(size_t(1) << 20, 1); // memory to prefetch
    const PrefetchRegion pf[] = {
        {other.data() + 3, 4099, 16, 200}, {other.data(), 0, 0, 64}, {other.data() + 70000, 0, 1, 300000}};
    int case_id = 0;
    for (const Kernels* k : all_kernels()) {
        for (DType wt : {DType::F32, DType::F16, DType::BF16}) {
            for (int M : {16, 100})
                for (int K : {600, 608}) { // 608: AMX tiles
                    GemmInputs in(k, wt, M, N, K, 7000 + case_id++);
                    std::vector<float> Y(size_t(M) * N), Yp(size_t(M) * N);
                    k->gemm(wt, M, K, in.xp.as<void>(), in.packed.as<void>(), N, 0, in.panels, Y.data(), N, nullptr, 0);
                    k->gemm(wt, M, K, in.xp.as<void>(), in.packed.as<void>(), N, 0, in.panels, Yp.data(), N, pf, 3);
                    CHECK_MSG(std::memcmp(Y.data(), Yp.data(), Y.size() * 4) == 0,
                              "%s %s M=%d K=%d: prefetch changed the result", k->name, dtype_name(wt), M, K);
                }
        }
    }
}

// A row's GEMM result is bitwise the same whatever M (the many-row path puts the K blocks
// outermost, the few-row path the panels): the batch-invariance the engine promises.
TEST(gemm_row_independent_of_m) {
    const int M = 100, N = 100;
    int case_id = 0;
    for (const Kernels* k : all_kernels()) {
        for (DType wt : {DType::F32, DType::F16, DType::BF16})
            for (int K : {600, 608}) { // 608: whole K steps for AMX tiles
                GemmInputs in(k, wt, M, N, K, 5000 + case_id++);
                std::vector<float> Y(size_t(M) * N), y1(N);
                k->gemm(wt, M, K, in.xp.as<void>(), in.packed.as<void>(), N, 0, in.panels, Y.data(), N, nullptr, 0);
                for (int m = 0; m < M; m += 7) {
                    Buffer x1(k->pack_x_bytes(wt, 1, K));
                    k->pack_x(wt, in.X.data() + size_t(m) * K, K, 1, K, x1.as<void>());
                    k->gemm(wt, 1, K, x1.as<void>(), in.packed.as<void>(), N, 0, in.panels, y1.data(), N, nullptr, 0);
                    for (int n = 0; n < N; n++)
                        CHECK_MSG(y1[n] == Y[size_t(m) * N + n], "%s %s row %d col %d: %g alone vs %g in M=%d", k->name,
                                  dtype_name(wt), m, n, y1[n], Y[size_t(m) * N + n], M);
                }
            }
    }
}

TEST(packed_row_roundtrip) {
    std::mt19937 rng(7);
    for (DType wt : {DType::F32, DType::F16, DType::BF16}) {
        for (int K : {1, 5, 64}) {
            int N = 45;
            std::vector<uint16_t> half;
            std::vector<float> w;
            random_weights(rng, wt, N, K, half, w);
            Buffer packed(packed_weight_bytes(wt, N, K));
            pack_weight(wt, wt == DType::F32 ? static_cast<const void*>(w.data()) : half.data(), N, K,
                        packed.as<void>());
            std::vector<float> row(K);
            for (int n = 0; n < N; n++) {
                packed_row_f32(wt, packed.as<void>(), N, K, n, row.data());
                for (int kk = 0; kk < K; kk++) CHECK(row[kk] == w[size_t(n) * K + kk]);
            }
        }
    }
}

// pack_weight against the layout kernels.h documents, built element by element into a cleared
// buffer; the real one packs into a buffer full of garbage, so padding it failed to write shows.
TEST(pack_weight_writes_the_documented_layout_whole) {
    std::mt19937 rng(11);
    for (DType wt : {DType::F32, DType::F16, DType::BF16}) {
        for (int N : {32, 45, 64}) {
            for (int K : {1, 4, 5, 64, 67}) {
                std::vector<uint16_t> half;
                std::vector<float> w;
                random_weights(rng, wt, N, K, half, w);
                const size_t bytes = packed_weight_bytes(wt, N, K);
                const size_t es = dtype_size(wt);
                const size_t kp = wt == DType::BF16 ? (size_t(K) + 1) & ~size_t(1) : size_t(K);
                std::vector<unsigned char> expect(bytes, 0);
                for (int n = 0; n < N; n++) {
                    for (int k = 0; k < K; k++) {
                        size_t p = size_t(n) / kPanel, j = size_t(n) % kPanel;
                        size_t at = wt == DType::BF16
                                        ? p * kp * kPanel + (size_t(k) / 2) * kPanel * 2 + j * 2 + size_t(k) % 2
                                        : p * kp * kPanel + size_t(k) * kPanel + j;
                        const void* from = wt == DType::F32 ? static_cast<const void*>(&w[size_t(n) * K + k])
                                                            : static_cast<const void*>(&half[size_t(n) * K + k]);
                        std::memcpy(&expect[at * es], from, es);
                    }
                }
                Buffer packed;
                packed.allocate_uninitialized(bytes);
                std::memset(packed.as<void>(), 0xA5, bytes);
                pack_weight(wt, wt == DType::F32 ? static_cast<const void*>(w.data()) : half.data(), N, K,
                            packed.as<void>());
                CHECK_MSG(std::memcmp(packed.as<void>(), expect.data(), bytes) == 0,
                          "%s N=%d K=%d: packed bytes differ", dtype_name(wt), N, K);
            }
        }
    }
}

TEST(vector_kernels_match_naive_reference) {
    int case_id = 0;
    for (const Kernels* k : all_kernels()) {
        for (int n : {1, 7, 16, 33, 64, 100, 1000}) {
            std::mt19937 rng(500 + case_id++);
            std::normal_distribution<float> d(0.0f, 2.0f);
            std::vector<float> a(n), b(n), w(n), y(n), out(n);
            for (int i = 0; i < n; i++) {
                a[i] = d(rng);
                b[i] = d(rng);
                w[i] = d(rng);
                y[i] = d(rng);
            }
            double ref = 0, mag = 0;
            for (int i = 0; i < n; i++) {
                ref += double(a[i]) * b[i];
                mag += std::fabs(double(a[i]) * b[i]);
            }
            CHECK_MSG(std::fabs(k->dot(a.data(), b.data(), n) - ref) <= 2e-6 * mag, "%s dot n=%d", k->name, n);

            std::vector<float> y2 = y;
            k->axpy(0.75f, a.data(), y2.data(), n);
            for (int i = 0; i < n; i++)
                CHECK(std::fabs(y2[i] - (y[i] + 0.75 * a[i])) <= 2e-7 * (std::fabs(y[i]) + std::fabs(0.75 * a[i])));
            std::vector<uint16_t> ah(n);
            for (int i = 0; i < n; i++) ah[i] = f32_to_bf16(a[i]);
            y2 = y;
            k->axpy_bf16(0.75f, ah.data(), y2.data(), n);
            for (int i = 0; i < n; i++) {
                const double x = bf16_to_f32(ah[i]);
                CHECK_MSG(std::fabs(y2[i] - (y[i] + 0.75 * x)) <= 2e-7 * (std::fabs(y[i]) + std::fabs(0.75 * x)),
                          "%s axpy_bf16 n=%d i=%d", k->name, n, i);
            }

            k->rmsnorm(out.data(), a.data(), w.data(), n, 1e-5f);
            double ss = 0;
            for (int i = 0; i < n; i++) ss += double(a[i]) * a[i];
            double r = 1.0 / std::sqrt(ss / n + 1e-5);
            for (int i = 0; i < n; i++)
                CHECK_MSG(fltest::rel_err(out[i], a[i] * r * w[i]) <= 2e-5, "%s rmsnorm n=%d i=%d", k->name, n, i);

            std::vector<float> g = a;
            k->silu_mul(g.data(), b.data(), n);
            for (int i = 0; i < n; i++) {
                double s = a[i] / (1.0 + std::exp(-double(a[i]))) * b[i];
                CHECK_MSG(fltest::rel_err(g[i], s) <= 2e-5, "%s silu_mul n=%d i=%d: %g vs %g", k->name, n, i, g[i], s);
            }

            std::vector<float> e = a;
            float sum = k->exp_sum(e.data(), n, 3.0f);
            double sref = 0;
            for (int i = 0; i < n; i++) {
                double ev = std::exp(double(a[i]) - 3.0);
                sref += ev;
                CHECK_MSG(fltest::rel_err(e[i], ev, 1e-30) <= 2e-5, "%s exp n=%d i=%d", k->name, n, i);
            }
            CHECK(fltest::rel_err(sum, sref, 1e-30) <= 2e-5);
        }
    }
}

// LoRA kernels with BF16 weights against double references of the widened values, odd sizes and
// several ranks, strided operands; each row computed alone (n = 1) equals it computed in a segment.
//   shrink: |t - ref| <= 2e-5 * scale * sum_k |x_k a_k|;  expand: <= 2e-5 * (|y0| + sum_j |t_j b_j|)
TEST(lora_bf16_kernels_match_naive_reference) {
    const int ranks[] = {1, 3, 8, 16, 33};
    const int ins[] = {1, 15, 16, 17, 33, 100};
    const int lens[] = {1, 7, 16, 31, 32, 33, 70};
    const int ns[] = {1, 5, 13};
    int case_id = 0;
    for (const Kernels* k : all_kernels()) {
        for (int r : ranks)
            for (int in : ins)
                for (int n : ns) {
                    std::mt19937 rng(5000 + case_id++);
                    std::normal_distribution<float> d(0.0f, 1.0f);
                    std::vector<uint16_t> A;
                    std::vector<float> a;
                    random_weights(rng, DType::BF16, r, in, A, a);
                    const int ldx = in + 2, ldt = r + 3;
                    std::vector<float> X(size_t(n) * ldx);
                    for (float& v : X) v = d(rng);
                    const float scale = 0.75f;
                    LoraPair w; // the shrink as the engine runs it: lora.cpp over this table's dot_bf16
                    w.dtype = DType::BF16;
                    w.a.allocate(A.size() * sizeof(uint16_t));
                    std::memcpy(w.a.as<uint16_t>(), A.data(), A.size() * sizeof(uint16_t));
                    std::vector<float> T(size_t(n) * ldt, -9.0f);
                    lora_shrink(*k, w, r, scale, in, X.data(), ldx, 0, n, T.data(), ldt);
                    for (int i = 0; i < n; i++) {
                        std::vector<float> t1(ldt, -9.0f);
                        lora_shrink(*k, w, r, scale, in, X.data() + size_t(i) * ldx, ldx, 0, 1, t1.data(), ldt);
                        for (int j = 0; j < r; j++) {
                            double ref = 0, mag = 0;
                            for (int kk = 0; kk < in; kk++) {
                                double p = double(X[size_t(i) * ldx + kk]) * a[size_t(j) * in + kk];
                                ref += p;
                                mag += std::fabs(p);
                            }
                            float got = T[size_t(i) * ldt + j];
                            CHECK_MSG(std::fabs(got - scale * ref) <= 2e-5 * scale * mag + 1e-30,
                                      "%s shrink r=%d in=%d n=%d (i=%d j=%d): %g vs %g", k->name, r, in, n, i, j, got,
                                      scale * ref);
                            CHECK_MSG(t1[j] == got, "%s shrink r=%d in=%d n=%d: row %d alone differs", k->name, r, in,
                                      n, i);
                        }
                        for (int j = r; j < ldt; j++) CHECK(T[size_t(i) * ldt + j] == -9.0f); // nothing past rank
                    }
                }
        for (int r : ranks)
            for (int len : lens)
                for (int n : ns) {
                    std::mt19937 rng(9000 + case_id++);
                    std::normal_distribution<float> d(0.0f, 1.0f);
                    const int c0 = 5, ldb = c0 + len + 4; // a column range inside wider Bt rows
                    std::vector<uint16_t> B;
                    std::vector<float> b;
                    random_weights(rng, DType::BF16, r, ldb, B, b);
                    const int ldt = r + 1, ldy = len + 3;
                    std::vector<float> T(size_t(n) * ldt), Y(size_t(n) * ldy);
                    for (float& v : T) v = d(rng);
                    for (float& v : Y) v = d(rng);
                    std::vector<float> Y0 = Y;
                    k->lora_expand_bf16(B.data() + c0, ldb, r, T.data(), ldt, n, Y.data(), ldy, len);
                    for (int i = 0; i < n; i++) {
                        std::vector<float> y1(Y0.begin() + size_t(i) * ldy, Y0.begin() + size_t(i + 1) * ldy);
                        k->lora_expand_bf16(B.data() + c0, ldb, r, T.data() + size_t(i) * ldt, ldt, 1, y1.data(), ldy,
                                            len);
                        for (int c = 0; c < ldy; c++) {
                            float got = Y[size_t(i) * ldy + c];
                            if (c >= len) {
                                CHECK_MSG(got == Y0[size_t(i) * ldy + c], "%s expand wrote past len=%d", k->name, len);
                                continue;
                            }
                            double ref = Y0[size_t(i) * ldy + c], mag = std::fabs(ref);
                            for (int j = 0; j < r; j++) {
                                double p = double(T[size_t(i) * ldt + j]) * b[size_t(j) * ldb + c0 + c];
                                ref += p;
                                mag += std::fabs(p);
                            }
                            CHECK_MSG(std::fabs(got - ref) <= 2e-5 * mag + 1e-30,
                                      "%s expand r=%d len=%d n=%d (i=%d c=%d): %g vs %g", k->name, r, len, n, i, c, got,
                                      ref);
                            CHECK_MSG(y1[c] == got, "%s expand r=%d len=%d n=%d: row %d alone differs", k->name, r, len,
                                      n, i);
                        }
                    }
                }
    }
}

namespace {

// Naive double-precision softmax attention of one query over positions [lo, hi).
std::vector<double> attend_reference(const float* q, const std::vector<const float*>& kp,
                                     const std::vector<const float*>& vp, int hd, int lo, int hi, double scale) {
    std::vector<double> s(hi - lo), out(hd, 0.0);
    double mx = -1e300, sum = 0;
    for (int j = lo; j < hi; j++) {
        double dot = 0;
        for (int d = 0; d < hd; d++) dot += double(q[d]) * kp[j][d];
        s[j - lo] = dot * scale;
        mx = std::max(mx, s[j - lo]);
    }
    for (double& x : s) sum += (x = std::exp(x - mx));
    for (int j = lo; j < hi; j++)
        for (int d = 0; d < hd; d++) out[d] += s[j - lo] / sum * vp[j][d];
    return out;
}

} // namespace

// attend with an F32 and a BF16 cache, for query counts 1..16, head dims that exercise every pass
// width, position counts with and without full blocks of 8, causal and windowed ranges; each query
// alone gives the same bits; a BF16 cache stays near the F32 result of the unrounded values.
TEST(attend_matches_naive_reference_and_is_query_invariant) {
    int case_id = 0;
    for (const Kernels* k : all_kernels()) {
        if (!k->attend) continue;
        for (DType kv : {DType::F32, DType::BF16})
            for (int hd : {1, 7, 16, 31, 64, 128})
                for (int nq : {1, 4, 13, 16})
                    for (int n_pos : {1, 9, 40, 130}) {
                        std::mt19937 rng(9000 + case_id++);
                        std::normal_distribution<float> d(0.0f, 1.0f);
                        const int ld = hd + 3; // rows of the cache are strided, like a KV head in kv_dim
                        // K, V: the values (F32); Ks, Vs: as the cache stores them; Kw, Vw: those widened
                        std::vector<float> K(size_t(n_pos) * ld), V(size_t(n_pos) * ld), Q(size_t(nq) * hd);
                        for (float& x : K) x = 2 * d(rng);
                        for (float& x : V) x = d(rng);
                        for (float& x : Q) x = d(rng);
                        std::vector<uint16_t> Kh(K.size()), Vh(V.size());
                        std::vector<float> Kw = K, Vw = V;
                        if (kv == DType::BF16)
                            for (size_t i = 0; i < K.size(); i++) {
                                Kh[i] = f32_to_bf16(K[i]), Kw[i] = bf16_to_f32(Kh[i]);
                                Vh[i] = f32_to_bf16(V[i]), Vw[i] = bf16_to_f32(Vh[i]);
                            }
                        const size_t es = dtype_size(kv);
                        const char* kbase = kv == DType::BF16 ? reinterpret_cast<const char*>(Kh.data())
                                                              : reinterpret_cast<const char*>(K.data());
                        const char* vbase = kv == DType::BF16 ? reinterpret_cast<const char*>(Vh.data())
                                                              : reinterpret_cast<const char*>(V.data());
                        std::vector<const void*> kp(n_pos), vp(n_pos);
                        std::vector<const float*> kf(n_pos), vf(n_pos), kw(n_pos), vw(n_pos), qs(nq);
                        for (int j = 0; j < n_pos; j++) {
                            kp[j] = kbase + size_t(j) * ld * es, vp[j] = vbase + size_t(j) * ld * es;
                            kf[j] = &K[size_t(j) * ld], vf[j] = &V[size_t(j) * ld];
                            kw[j] = &Kw[size_t(j) * ld], vw[j] = &Vw[size_t(j) * ld];
                        }
                        // query r: a causal range ending near the end, some with a window start
                        std::vector<int> lo(nq), hi(nq);
                        for (int r = 0; r < nq; r++) {
                            qs[r] = &Q[size_t(r) * hd];
                            hi[r] = std::max(1, n_pos - (r * 3) % n_pos);
                            lo[r] = r % 3 == 2 ? (hi[r] - 1) / 2 : 0;
                        }
                        const float scale = 1.0f / std::sqrt(float(hd));
                        std::vector<float> out(size_t(nq) * hd, -7.0f);
                        std::vector<float*> outs(nq);
                        for (int r = 0; r < nq; r++) outs[r] = &out[size_t(r) * hd];
                        Buffer scratch(attend_scratch_floats(n_pos, hd) * 4);
                        k->attend(kv, nq, hd, qs.data(), kp.data(), vp.data(), n_pos, lo.data(), hi.data(), scale,
                                  outs.data(), scratch.as<float>());
                        for (int r = 0; r < nq; r++) {
                            auto ref = attend_reference(qs[r], kw, vw, hd, lo[r], hi[r], scale);
                            auto ref_f32 = attend_reference(qs[r], kf, vf, hd, lo[r], hi[r], scale);
                            double vmax = 0;
                            for (int j = lo[r]; j < hi[r]; j++)
                                for (int e = 0; e < hd; e++) vmax = std::max(vmax, double(std::fabs(vf[j][e])));
                            for (int e = 0; e < hd; e++) {
                                CHECK_MSG(std::fabs(outs[r][e] - ref[e]) <= 2e-5 * vmax,
                                          "%s %s hd=%d nq=%d n_pos=%d r=%d e=%d: %g vs %g", k->name, dtype_name(kv), hd,
                                          nq, n_pos, r, e, outs[r][e], ref[e]);
                                CHECK_MSG(std::fabs(outs[r][e] - ref_f32[e]) <= 2e-2 * vmax,
                                          "%s %s hd=%d nq=%d n_pos=%d r=%d e=%d: %g vs F32 %g", k->name, dtype_name(kv),
                                          hd, nq, n_pos, r, e, outs[r][e], ref_f32[e]);
                            }
                            // alone: one query over exactly its own positions
                            std::vector<float> one(hd);
                            float* one_out = one.data();
                            int lo1 = 0, hi1 = hi[r] - lo[r];
                            Buffer s1(attend_scratch_floats(hi1, hd) * 4);
                            k->attend(kv, 1, hd, &qs[r], kp.data() + lo[r], vp.data() + lo[r], hi1, &lo1, &hi1, scale,
                                      &one_out, s1.as<float>());
                            for (int e = 0; e < hd; e++)
                                CHECK_MSG(one[e] == outs[r][e], "%s %s hd=%d nq=%d n_pos=%d r=%d e=%d: %g alone vs %g",
                                          k->name, dtype_name(kv), hd, nq, n_pos, r, e, one[e], outs[r][e]);
                        }
                    }
    }
}

// attend as decode calls it on a long context: the rows of one KV head of a cache laid out as the
// engine's (blocks of 16 positions x kv_dim values, the blocks in shuffled order through a table), over
// ranges that span many blocks of positions, so every prefetch of the SIMD kernels (rows ahead of the
// scores pass, the next P.V block) runs; each variant against the reference and against what the
// scalar table decodes with (it has no attend: forward.cpp gives its decode rows flash_attend). The
// pointer arrays hold exactly n_pos rows (a read past them shows under the sanitizers).
TEST(attend_through_a_block_table_matches_reference_and_scalar) {
    const Kernels* scalar = kernels_for(Isa::Scalar);
    REQUIRE(scalar && scalar->flash_attend);
    constexpr int kBlock = 16, kHeads = 4, kHead = 2;
    int case_id = 0;
    for (DType kv : {DType::F32, DType::BF16})
        for (int hd : {64, 40})
            for (int nq : {4, 3})
                for (int n_pos : {2048, 333}) {
                    std::mt19937 rng(9500 + case_id++);
                    std::normal_distribution<float> d(0.0f, 1.0f);
                    const int kv_dim = kHeads * hd, n_blocks = (n_pos + kBlock - 1) / kBlock;
                    const size_t es = dtype_size(kv), rows = size_t(n_blocks) * kBlock;
                    std::vector<float> K(rows * kv_dim), V(rows * kv_dim), Q(size_t(nq) * hd);
                    for (float& x : K) x = 2 * d(rng);
                    for (float& x : V) x = d(rng);
                    for (float& x : Q) x = d(rng);
                    std::vector<uint16_t> Kh(K.size()), Vh(V.size());
                    if (kv == DType::BF16)
                        for (size_t i = 0; i < K.size(); i++) {
                            Kh[i] = f32_to_bf16(K[i]), K[i] = bf16_to_f32(Kh[i]);
                            Vh[i] = f32_to_bf16(V[i]), V[i] = bf16_to_f32(Vh[i]);
                        }
                    const char* kbase = kv == DType::BF16 ? reinterpret_cast<const char*>(Kh.data())
                                                          : reinterpret_cast<const char*>(K.data());
                    const char* vbase = kv == DType::BF16 ? reinterpret_cast<const char*>(Vh.data())
                                                          : reinterpret_cast<const char*>(V.data());
                    std::vector<int> table(n_blocks);
                    for (int b = 0; b < n_blocks; b++) table[b] = b;
                    std::shuffle(table.begin(), table.end(), rng);
                    std::vector<const void*> kp(n_pos), vp(n_pos);
                    std::vector<const float*> kw(n_pos), vw(n_pos), qs(nq);
                    for (int j = 0; j < n_pos; j++) {
                        const size_t at = (size_t(table[j / kBlock]) * kBlock + j % kBlock) * kv_dim + kHead * hd;
                        kp[j] = kbase + at * es, vp[j] = vbase + at * es;
                        kw[j] = &K[at], vw[j] = &V[at];
                    }
                    std::vector<int> lo(nq), hi(nq);
                    for (int r = 0; r < nq; r++) {
                        qs[r] = &Q[size_t(r) * hd];
                        hi[r] = n_pos - 5 * r;
                        lo[r] = r == 2 ? n_pos / 3 : 0;
                    }
                    const float scale = 1.0f / std::sqrt(float(hd));
                    std::vector<float> base(size_t(nq) * hd), out(size_t(nq) * hd);
                    std::vector<float*> base_outs(nq), outs(nq);
                    for (int r = 0; r < nq; r++) base_outs[r] = &base[size_t(r) * hd], outs[r] = &out[size_t(r) * hd];
                    Buffer flash_scratch(flash_scratch_floats(hd) * 4), scratch(attend_scratch_floats(n_pos, hd) * 4);
                    scalar->flash_attend(kv, nq, hd, qs.data(), kp.data(), vp.data(), n_pos, 0, lo.data(), hi.data(),
                                         scale, 0.0f, base_outs.data(), flash_scratch.as<float>());
                    for (const Kernels* k : all_kernels()) {
                        if (!k->attend) continue;
                        std::fill(out.begin(), out.end(), -7.0f);
                        k->attend(kv, nq, hd, qs.data(), kp.data(), vp.data(), n_pos, lo.data(), hi.data(), scale,
                                  outs.data(), scratch.as<float>());
                        for (int r = 0; r < nq; r++) {
                            const auto ref = attend_reference(qs[r], kw, vw, hd, lo[r], hi[r], scale);
                            double vmax = 0;
                            for (int j = lo[r]; j < hi[r]; j++)
                                for (int e = 0; e < hd; e++) vmax = std::max(vmax, double(std::fabs(vw[j][e])));
                            for (int e = 0; e < hd; e++) {
                                const float o = outs[r][e], b = base_outs[r][e];
                                CHECK_MSG(std::fabs(o - ref[e]) <= 2e-5 * vmax,
                                          "%s %s hd=%d nq=%d n_pos=%d r=%d e=%d: %g vs %g", k->name, dtype_name(kv), hd,
                                          nq, n_pos, r, e, o, ref[e]);
                                CHECK_MSG(std::fabs(o - b) <= 4e-5 * vmax,
                                          "%s %s hd=%d nq=%d n_pos=%d r=%d e=%d: %g vs scalar %g", k->name,
                                          dtype_name(kv), hd, nq, n_pos, r, e, o, b);
                            }
                        }
                    }
                }
}

// --- int8 weights ----------------------------------------------------------------------------

namespace {

// Independent of kernels-int8.cpp: symmetric per-row quantization as kernels.h specifies it, to
// int8 (weights, 127 levels a side) or int16 (activations, 32767).
template <typename Q = int8_t> float naive_quantize(const float* x, int n, Q* q) {
    const float levels = sizeof(Q) == 1 ? 127.0f : 32767.0f;
    float amax = 0;
    for (int i = 0; i < n; i++) amax = std::max(amax, std::fabs(x[i]));
    if (amax == 0) {
        for (int i = 0; i < n; i++) q[i] = 0;
        return 0;
    }
    for (int i = 0; i < n; i++) q[i] = Q(std::nearbyint(x[i] * (levels / amax)));
    return amax / levels;
}

// Int8 weights [N, K] (values in [-128, 127], so the -128 a stored checkpoint may hold is covered)
// with random row scales and F16 block scales, packed, and their rows.
struct I8Weights {
    std::vector<int8_t> q;
    std::vector<float> s;
    std::vector<uint16_t> bs; // [N][blocks]
    Buffer packed;
    I8Weights(std::mt19937& rng, int N, int K)
        : q(size_t(N) * K), s(N), bs(size_t(N) * i8_blocks(K)), packed(packed_weight_bytes(DType::I8, N, K)) {
        std::uniform_int_distribution<int> d(-128, 127);
        std::uniform_real_distribution<float> u(1e-3f, 2e-2f), ub(0.3f, 1.2f);
        for (int8_t& v : q) v = int8_t(d(rng));
        for (float& v : s) v = u(rng);
        for (uint16_t& v : bs) v = f32_to_f16(ub(rng));
        std::memset(packed.as<void>(), 0x5a, packed.size()); // garbage the packing must overwrite
        pack_weight_i8(q.data(), s.data(), N, K, packed.as<void>(), bs.data());
    }
    float block_scale(int n, int b) const {
        return f16_to_f32(bs[size_t(n) * i8_blocks(int(q.size() / s.size())) + b]);
    }
};

} // namespace

// Every variant's I8 GEMM equals the int8 math of kernels.h computed here, exactly: activations
// quantized to int16 in blocks of 32 columns, each block's products summed in int64, the blocks scaled by
// the activation's and the weight's block scales and added in the documented order.
TEST(gemm_i8_matches_the_int8_reference_exactly) {
    const int Ms[] = {1, 2, 3, 4, 5, 9, 16, 17};
    const int Ns[] = {1, 31, 32, 33, 100};
    const int Ks[] = {1, 3, 4, 5, 63, 64, 257, 1030};
    int case_id = 0;
    for (const Kernels* k : all_kernels()) {
        for (int M : Ms)
            for (int N : Ns)
                for (int K : Ks) {
                    std::mt19937 rng(9000 + case_id++);
                    I8Weights w(rng, N, K);
                    std::normal_distribution<float> d(0.0f, 1.0f);
                    const int ldx = K + 3, ldy = N + 5;
                    std::vector<float> X(size_t(M) * ldx);
                    for (float& v : X) v = d(rng);
                    if (M > 2) std::fill(X.begin() + ldx, X.begin() + ldx + K, 0.0f); // an all-zero row
                    Buffer xp(k->pack_x_bytes(DType::I8, M, K));
                    int r0 = k->x_tile_rows * (((M + k->x_tile_rows - 1) / k->x_tile_rows) / 2);
                    k->pack_x(DType::I8, X.data(), ldx, r0, K, xp.as<void>());
                    k->pack_x(DType::I8, X.data() + size_t(r0) * ldx, ldx, M - r0, K,
                              xp.as<char>() + k->pack_x_bytes(DType::I8, r0, K));
                    std::vector<float> Y(size_t(M) * ldy, -7.0f);
                    const int panels = (N + kPanel - 1) / kPanel, mid = panels / 2;
                    k->gemm(DType::I8, M, K, xp.as<void>(), w.packed.as<void>(), N, 0, mid, Y.data(), ldy, nullptr, 0);
                    k->gemm(DType::I8, M, K, xp.as<void>(), w.packed.as<void>(), N, mid, panels, Y.data(), ldy, nullptr,
                            0);
                    std::vector<int16_t> xq(K);
                    const int nb = (K + 31) / 32;
                    std::vector<float> sx(nb);
                    for (int m = 0; m < M; m++) {
                        for (int b = 0; b < nb; b++)
                            sx[b] = naive_quantize(&X[size_t(m) * ldx + 32 * b], std::min(32, K - 32 * b), &xq[32 * b]);
                        for (int n = 0; n < N; n++) {
                            float y = 0;
                            for (int b = 0; b < nb; b++) {
                                int64_t acc = 0;
                                for (int kk = 32 * b; kk < std::min(K, 32 * b + 32); kk++)
                                    acc += int64_t(xq[kk]) * w.q[size_t(n) * K + kk];
                                y = std::fma(float(acc), sx[b] * w.block_scale(n, b), y);
                            }
                            const float ref = y * w.s[n];
                            const float got = Y[size_t(m) * ldy + n];
                            CHECK_MSG(got == ref, "%s M=%d N=%d K=%d (m=%d n=%d): %g vs %g", k->name, M, N, K, m, n,
                                      got, ref);
                        }
                        for (int n = N; n < ldy; n++) CHECK(Y[size_t(m) * ldy + n] == -7.0f);
                    }
                }
    }
}

// The int8 path stays close to the float GEMM it replaces: per element the quantization errors are
// at most half a step of x (its block's int16 step, max / 32767) and of w (its block's: max / 127
// up to the F16 rounding of bs), so |y - x.w| <= sum_k (|x_k| sw/2 + |w_k| sx/2 + sx sw/4), plus
// the F32 rounding of the block sums. (With int8 activations, sx = max / 127, the bound fails.)
TEST(gemm_i8_stays_within_the_quantization_bound_of_the_float_product) {
    const int M = 5, N = 70, K = 300;
    std::mt19937 rng(77);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> W(size_t(N) * K), X(size_t(M) * K);
    for (float& v : W) v = d(rng);
    for (float& v : X) v = d(rng);
    Buffer packed(packed_weight_bytes(DType::I8, N, K));
    quantize_weight_i8(DType::F32, W.data(), N, K, packed.as<void>());
    std::vector<int8_t> q(K);
    std::vector<int16_t> qx(K);
    for (const Kernels* k : all_kernels()) {
        Buffer xp(k->pack_x_bytes(DType::I8, M, K));
        k->pack_x(DType::I8, X.data(), K, M, K, xp.as<void>());
        std::vector<float> Y(size_t(M) * N);
        k->gemm(DType::I8, M, K, xp.as<void>(), packed.as<void>(), N, 0, (N + kPanel - 1) / kPanel, Y.data(), N,
                nullptr, 0);
        for (int m = 0; m < M; m++) {
            std::vector<float> sx(K);
            for (int kk = 0; kk < K; kk += 32)
                std::fill(sx.begin() + kk, sx.begin() + std::min(K, kk + 32),
                          naive_quantize(&X[size_t(m) * K + kk], std::min(32, K - kk), qx.data()));
            for (int n = 0; n < N; n++) {
                double ref = 0, bound = 0, mag = 0;
                for (int kk = 0; kk < K; kk++) {
                    const float sw = 1.001f * naive_quantize(&W[size_t(n) * K + kk / 32 * 32],
                                                             std::min(32, K - kk / 32 * 32), q.data());
                    const double x = X[size_t(m) * K + kk], w = W[size_t(n) * K + kk];
                    ref += x * w;
                    mag += std::fabs(x * w);
                    bound += std::fabs(x) * sw / 2 + std::fabs(w) * sx[kk] / 2 + double(sx[kk]) * sw / 4;
                }
                bound += 1e-5 * mag;
                CHECK_MSG(std::fabs(Y[size_t(m) * N + n] - ref) <= bound, "%s m=%d n=%d: %g vs %g (bound %g)", k->name,
                          m, n, Y[size_t(m) * N + n], ref, bound);
            }
        }
    }
}

// quantize_weight_i8: s[n] is the naive per-row scale; each element lies within 0.6 of its block's
// naive step max / 127 (half a step, and a little more where the scale search picks a step that
// clamps the block's largest value because it lowers the block's total error), up to the F16
// rounding of bs (coarse where bs is an F16 subnormal: the 1e-6 block); over the matrices of whole
// blocks of a dtype the squared error is at most 0.96 of the naive per-block quantization's
// (max / 127, exact: the search's gain, about 7% on Gaussian weights); packed_row_f32 reads
// q * bs * s back; a zero row stays zero.
TEST(quantize_weight_i8_rounds_with_block_scales) {
    std::mt19937 rng(5);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (DType src : {DType::F32, DType::F16, DType::BF16}) {
        double err_whole = 0, naive_whole = 0; // over the matrices of whole blocks
        for (int N : {1, 32, 45}) {
            for (int K : {1, 5, 64, 67, 256}) {
                std::vector<uint16_t> half;
                std::vector<float> w;
                random_weights(rng, src, N, K, half, w);
                if (N > 1) { // a zero row, and a block of tiny values beside large ones
                    std::fill(w.begin() + K, w.begin() + 2 * K, 0.0f);
                    for (int kk = 0; kk < std::min(K, 32); kk++) w[kk] *= 1e-6f;
                    if (src != DType::F32)
                        for (int kk = 0; kk < 2 * K; kk++)
                            half[kk] = src == DType::F16 ? f32_to_f16(w[kk]) : f32_to_bf16(w[kk]),
                            w[kk] = src == DType::F16 ? f16_to_f32(half[kk]) : bf16_to_f32(half[kk]);
                }
                Buffer got(packed_weight_bytes(DType::I8, N, K));
                std::memset(got.as<void>(), 0x5a, got.size());
                quantize_weight_i8(src, src == DType::F32 ? static_cast<const void*>(w.data()) : half.data(), N, K,
                                   got.as<void>());
                const size_t panels = (size_t(N) + kPanel - 1) / kPanel;
                const float* s = reinterpret_cast<const float*>(got.as<char>() + panels * kPanel * i8_kpad(K));
                std::vector<int8_t> q(K);
                std::vector<float> row(K);
                double err_all = 0, naive_all = 0;
                for (int n = 0; n < N; n++) {
                    const float* wr = &w[size_t(n) * K];
                    CHECK_MSG(s[n] == naive_quantize(wr, K, q.data()), "%s N=%d K=%d n=%d: row scale %g",
                              dtype_name(src), N, K, n, s[n]);
                    packed_row_f32(DType::I8, got.as<void>(), N, K, n, row.data());
                    for (int k0 = 0; k0 < K; k0 += 32) {
                        const int len = std::min(32, K - k0);
                        const float step = naive_quantize(wr + k0, len, q.data());
                        const double tiny = std::ldexp(double(s[n]), -24); // the least F16 bs, times s
                        double naive = 0, err = 0;
                        for (int kk = 0; kk < len; kk++) {
                            const double e = double(wr[k0 + kk]) - double(row[k0 + kk]);
                            naive += std::pow(double(wr[k0 + kk]) - double(q[kk]) * step, 2);
                            err += e * e;
                            CHECK_MSG(std::fabs(e) <= 0.6 * (1.001 * step + tiny),
                                      "%s N=%d K=%d n=%d k=%d: %g vs %g (step %g)", dtype_name(src), N, K, n, k0 + kk,
                                      row[k0 + kk], wr[k0 + kk], step);
                        }
                        err_all += err, naive_all += naive;
                    }
                    if (N > 1 && n == 1)
                        for (int kk = 0; kk < K; kk++) CHECK(row[kk] == 0.0f);
                }
                if (K % 32 == 0) err_whole += err_all, naive_whole += naive_all;
            }
        }
        CHECK_MSG(err_whole <= 0.96 * naive_whole, "%s: squared error %g, naive per block %g", dtype_name(src),
                  err_whole, naive_whole);
    }
}

// quantize_weight_i8 spreads its panels over threads: the whole matrix's bytes are those of each
// panel quantized alone (its panel bytes, row scales and block scales), whatever the split.
TEST(quantize_weight_i8_gives_each_panel_what_it_gives_alone) {
    const int N = 37 * kPanel + 5, K = 96, nb = (K + 31) / 32;
    std::mt19937 rng(11);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> w(size_t(N) * K);
    for (float& v : w) v = d(rng);
    Buffer whole(packed_weight_bytes(DType::I8, N, K));
    quantize_weight_i8(DType::F32, w.data(), N, K, whole.as<void>());
    const size_t panels = (size_t(N) + kPanel - 1) / kPanel, panel_bytes = size_t(i8_kpad(K)) * kPanel;
    const float* s = reinterpret_cast<const float*>(whole.as<char>() + panels * panel_bytes);
    const uint16_t* bs = reinterpret_cast<const uint16_t*>(s + panels * kPanel);
    for (size_t p = 0; p < panels; p++) {
        const int rows = int(std::min<size_t>(kPanel, size_t(N) - p * kPanel));
        Buffer one(packed_weight_bytes(DType::I8, rows, K));
        quantize_weight_i8(DType::F32, &w[p * kPanel * K], rows, K, one.as<void>());
        CHECK_MSG(std::memcmp(one.as<char>(), whole.as<char>() + p * panel_bytes, panel_bytes) == 0, "panel %zu", p);
        const float* s1 = reinterpret_cast<const float*>(one.as<char>() + panel_bytes);
        const uint16_t* bs1 = reinterpret_cast<const uint16_t*>(s1 + kPanel);
        CHECK_MSG(std::memcmp(s1, s + p * kPanel, sizeof(float) * kPanel) == 0, "row scales of panel %zu", p);
        CHECK_MSG(std::memcmp(bs1, bs + p * size_t(nb) * kPanel, sizeof(uint16_t) * nb * kPanel) == 0,
                  "block scales of panel %zu", p);
    }
}

// A NaN or an infinity in a row of X makes that row's outputs NaN (as the float GEMMs propagate
// it) and leaves the other rows alone.
TEST(gemm_i8_propagates_non_finite_inputs) {
    const int M = 3, N = 40, K = 70;
    std::mt19937 rng(3);
    I8Weights w(rng, N, K);
    std::vector<float> X(size_t(M) * K, 0.5f);
    X[K + 7] = std::numeric_limits<float>::infinity();
    for (const Kernels* k : all_kernels()) {
        Buffer xp(k->pack_x_bytes(DType::I8, M, K));
        k->pack_x(DType::I8, X.data(), K, M, K, xp.as<void>());
        std::vector<float> Y(size_t(M) * N);
        k->gemm(DType::I8, M, K, xp.as<void>(), w.packed.as<void>(), N, 0, 2, Y.data(), N, nullptr, 0);
        for (int n = 0; n < N; n++) {
            CHECK_MSG(std::isnan(Y[N + n]), "%s n=%d: %g", k->name, n, Y[N + n]);
            CHECK(std::isfinite(Y[n]) && std::isfinite(Y[2 * N + n]));
        }
    }
}

// Each variant's I8 packing writes the portable pack_x_i8's bytes: the int16 values, their block
// scales and the zero padding, for rows of ragged length with NaN, infinities, zeros, signed zeros,
// values on rounding ties and blocks whose largest magnitude is negative.
TEST(pack_x_i8_variants_write_the_portable_bytes) {
    std::mt19937 rng(41);
    std::normal_distribution<float> d(0.0f, 3.0f);
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    for (int K : {1, 31, 32, 33, 100, 1030}) {
        const int M = 5, ldx = K + 1;
        std::vector<float> X(size_t(M) * ldx);
        for (float& v : X) v = d(rng);
        std::fill(X.begin() + ldx, X.begin() + ldx + K, 0.0f); // row 1: zeros
        X[2 * ldx] = -0.0f;
        X[2 * ldx + K - 1] = K > 1 ? -5.0f : nan; // row 2: its max a negative value (a NaN when K = 1)
        X[3 * ldx + K / 2] = K % 2 ? inf : -inf;  // row 3: an infinity in one block
        // row 4: each block's largest magnitude 32767, so the scale is 1 and the halves sit on ties
        for (int k = 0; k < K; k++) X[4 * ldx + k] = k % 32 == 0 ? -32767.0f : float(k % 7) - 3.5f;
        const size_t bytes = pack_x_i8_bytes(M, K);
        Buffer want(bytes);
        std::memset(want.as<void>(), 0x5a, bytes);
        pack_x_i8(X.data(), ldx, M, K, want.as<void>());
        for (const Kernels* k : all_kernels()) {
            Buffer got(k->pack_x_bytes(DType::I8, M, K));
            CHECK(k->pack_x_bytes(DType::I8, M, K) == bytes);
            std::memset(got.as<void>(), 0xa5, bytes);
            k->pack_x(DType::I8, X.data(), ldx, M, K, got.as<void>());
            for (int m = 0; m < M; m++) {
                const size_t row = size_t(m) * i8_x_stride(K);
                const size_t used = i8_x_scale_at(K) + size_t(i8_blocks(K)) * 4; // values, pad, scales
                CHECK_MSG(std::memcmp(got.as<char>() + row, want.as<char>() + row, used) == 0, "%s K=%d row %d",
                          k->name, K, m);
            }
        }
    }
}

TEST(half_conversions_round_to_nearest_even) {
    CHECK(f32_to_bf16(1.0f) == 0x3f80);
    CHECK(bf16_to_f32(0x3f80) == 1.0f);
    CHECK(f32_to_f16(1.0f) == 0x3c00);
    CHECK(f16_to_f32(0x3c00) == 1.0f);
    CHECK(f32_to_f16(65504.0f) == 0x7bff);
    CHECK(f32_to_f16(1e6f) == 0x7c00);
    CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24)); // smallest subnormal
    CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);
    CHECK(f32_to_f16(std::ldexp(1.0f, -14)) == 0x0400); // smallest normal
    for (uint32_t h = 0; h < 0x7c00; h++) {             // every finite positive half round-trips
        CHECK(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))) == h);
    }
}

TEST_MAIN()
