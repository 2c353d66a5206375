// kernels-amx.cpp - the avx512bf16 table with its BF16-weight GEMM on AMX tiles (tdpbf16ps).
//
// On the Xeon here vdpbf16ps reaches about half the F32 FMA rate, so BF16 weights at batch 16 and
// in prefill are compute bound on it; one tdpbf16ps multiplies a 16x32 BF16 tile by a 32x16 one
// (8192 products) into 16x16 F32 accumulators, which leaves the weight reads as the only limit.
// The inputs are those of the vdpbf16ps kernel (activations rounded to BF16 to nearest even,
// weights as stored) and the accumulation is F32.
//
// Layouts (kernels.h): a BF16 weight panel is [K/2][32][2], so the 16 pair-rows of one 32-deep K
// step hold two B tiles side by side (output features 0-15 in bytes 0-63 of each 128-byte row,
// 16-31 in bytes 64-127): tileloadd reads them in place with a stride of 128, no repacking. X is
// packed row-major in BF16, rows padded to 16: an A tile is 16 rows x 32 values of one K step.
//
// Every output element sums its K steps in ascending order, one tile product per step, whatever
// M or the thread: a row's result does not depend on the other rows (batch invariance). K must
// be a multiple of 32 (a tile product reads whole K steps, and loading a tile config mid-sum
// would clear the accumulators); other shapes, and F32 / F16 weights, use the avx512bf16 kernels.
//
// The OS hands out AMX state only on request (arch_prctl ARCH_REQ_XCOMP_PERM, Linux 5.16+); the
// table exists only when that request succeeds.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "kernels.h"
#include "prefetch.h"

namespace fl {
namespace kern {

namespace {

constexpr int kTileRows = 16;                 // rows of X per A tile (and of Y per C tile)
constexpr int kKStep = 32;                    // K values per A tile row (64 bytes of BF16)
constexpr int kPairRowBytes = kPanel * 2 * 2; // one k-pair row of a BF16 panel: 32 features x 2 x 2 bytes
constexpr int kXTileRows = 48;                // pack_x row tiles: a multiple of 16 (AMX) and 12 (avx512 kMr)
// How far ahead of the tile loads the weight stream is prefetched. A tile load waits for its 16
// rows before the product can start, and with few rows (decode) nothing else hides that wait, so
// the rows must already be on their way from memory when the load issues.
constexpr int kWeightPrefetchBytes = 8192;
constexpr int kKStepPanelBytes = kKStep / 2 * kPanel * 2 * 2; // one panel's bytes per K step

const Kernels* base() { return avx512_kernels(true); }

bool amx_shape(DType wt, int K) { return wt == DType::BF16 && K % kKStep == 0; }

// Tiles 0-3: C (Y of two panels x two halves), 4: A (X), 5-6: B (W); all 16 rows x 64 bytes.
struct alignas(64) TileConfig {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

void load_tile_config() {
    TileConfig c;
    std::memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 7; t++) {
        c.colsb[t] = 64;
        c.rows[t] = kTileRows;
    }
    _tile_loadconfig(&c);
}

size_t pack_x_bytes(DType wt, int M, int K) {
    if (!amx_shape(wt, K)) return base()->pack_x_bytes(wt, M, K);
    return size_t((M + kTileRows - 1) / kTileRows) * kTileRows * size_t(K) * 2;
}

// X [M, K] -> BF16 rows [ceil16(M)][K], rounded to nearest even (vcvtneps2bf16, as the vdpbf16ps
// path); the pad rows are zero.
void pack_x(DType wt, const float* X, int ldx, int M, int K, void* xp) {
    if (!amx_shape(wt, K)) return base()->pack_x(wt, X, ldx, M, K, xp);
    uint16_t* out = static_cast<uint16_t*>(xp);
    for (int m = 0; m < M; m++) {
        const float* x = X + size_t(m) * ldx;
        uint16_t* o = out + size_t(m) * K;
        for (int k = 0; k < K; k += 16)
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + k)));
    }
    int padded = (M + kTileRows - 1) / kTileRows * kTileRows;
    std::memset(out + size_t(M) * K, 0, size_t(padded - M) * K * 2);
}

// Copies rows < rows, columns < cols of a stored 16 x 16 tile to Y.
void copy_clipped(const float* tmp, float* y, int ldy, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) y[size_t(r) * ldy + c] = tmp[r * 16 + c];
}

// Writes the 16 x 16 accumulators of tile T to Y: straight when all 16 rows and columns are
// inside it, else through a buffer, clipped. (A macro: the tile intrinsics take the tile number
// as a literal.)
#define FL_STORE_TILE(T, y, ldy, rows, cols)                                                                           \
    do {                                                                                                               \
        if ((rows) == kTileRows && (cols) == 16) {                                                                     \
            _tile_stored(T, (y), (ldy)*4);                                                                             \
        } else if ((cols) > 0) {                                                                                       \
            alignas(64) float tmp_[kTileRows * 16];                                                                    \
            _tile_stored(T, tmp_, 64);                                                                                 \
            copy_clipped(tmp_, (y), (ldy), (rows), (cols));                                                            \
        }                                                                                                              \
    } while (0)

inline int clamp16(int v) { return v < 0 ? 0 : v > 16 ? 16 : v; }

// Y rows [r0, r0 + rows) x panels p, p + 1 (the second only when two): C tiles 0-1 for panel p,
// 2-3 for panel p + 1, over all K steps in ascending order.
void panel_pair(const char* a, int K, const char* w0, size_t panel_bytes, bool two, float* y, int ldy, int rows, int n0,
                int N, bool first_rows, Prefetcher& pf) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    const char* w1 = w0 + panel_bytes;
    for (int kb = 0; kb < K; kb += kKStep) {
        const size_t wo = size_t(kb / 2) * kPairRowBytes;
        if (first_rows) { // later row blocks find the panels in cache
            for (int l = 0; l < kKStepPanelBytes; l += 64)
                _mm_prefetch(w0 + wo + kWeightPrefetchBytes + l, _MM_HINT_T0);
            if (two)
                for (int l = 0; l < kKStepPanelBytes; l += 64)
                    _mm_prefetch(w1 + wo + kWeightPrefetchBytes + l, _MM_HINT_T0);
        }
        // the caller's next reads (LoRA weights), a share per K step: the lines come in beside the
        // weight stream instead of in a burst after it
        for (int n = pf.take(kKStep, 4); n > 0; n--) pf.next();
        _tile_loadd(4, a + size_t(kb) * 2, K * 2);
        _tile_loadd(5, w0 + wo, kPairRowBytes);
        _tile_loadd(6, w0 + wo + 64, kPairRowBytes);
        _tile_dpbf16ps(0, 4, 5);
        _tile_dpbf16ps(1, 4, 6);
        if (two) {
            _tile_loadd(5, w1 + wo, kPairRowBytes);
            _tile_loadd(6, w1 + wo + 64, kPairRowBytes);
            _tile_dpbf16ps(2, 4, 5);
            _tile_dpbf16ps(3, 4, 6);
        }
    }
    FL_STORE_TILE(0, y, ldy, rows, clamp16(N - n0));
    FL_STORE_TILE(1, y + 16, ldy, rows, clamp16(N - n0 - 16));
    if (two) {
        FL_STORE_TILE(2, y + 32, ldy, rows, clamp16(N - n0 - 32));
        FL_STORE_TILE(3, y + 48, ldy, rows, clamp16(N - n0 - 48));
    }
}

void gemm(DType wt, int M, int K, const void* xp, const void* wp, int N, int p0, int p1, float* Y, int ldy,
          const PrefetchRegion* pf_regions, int n_pf) {
    if (!amx_shape(wt, K)) return base()->gemm(wt, M, K, xp, wp, N, p0, p1, Y, ldy, pf_regions, n_pf);
    const int last = (N + kPanel - 1) / kPanel;
    if (p1 > last) p1 = last;
    if (p0 >= p1 || M <= 0) return;
    const int row_blocks = (M + kTileRows - 1) / kTileRows;
    Prefetcher pf(pf_regions, n_pf, (long long)((p1 - p0 + 1) / 2) * row_blocks * K);
    // The tile config belongs to the thread; loading it per call costs nothing next to a call's
    // panels, and releasing the tiles after lets the OS skip their 8 KiB on a context switch.
    load_tile_config();
    const size_t panel_bytes = size_t(K) * kPanel * 2;
    // Panels outermost: each panel's weights stream from memory once per call (the traffic);
    // the packed X of all rows (M x K x 2 bytes) is small enough to come from cache each time.
    for (int p = p0; p < p1; p += 2) {
        const bool two = p + 1 < p1;
        const char* w0 = static_cast<const char*>(wp) + size_t(p) * panel_bytes;
        for (int r0 = 0; r0 < M; r0 += kTileRows) {
            const int rows = M - r0 < kTileRows ? M - r0 : kTileRows;
            const char* a = static_cast<const char*>(xp) + size_t(r0) * K * 2;
            panel_pair(a, K, w0, panel_bytes, two, Y + size_t(r0) * ldy + size_t(p) * kPanel, ldy, rows, p * kPanel, N,
                       r0 == 0, pf);
        }
    }
    pf.finish();
    _tile_release();
}

// Linux: AMX tile data is off for a process until it asks (XFEATURE_XTILEDATA = 18).
bool os_grants_amx() {
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

Kernels make_table() {
    Kernels k = *base();
    k.name = "avx512amx";
    k.isa = Isa::Avx512Amx;
    k.x_tile_rows = kXTileRows;
    k.pack_x_bytes = pack_x_bytes;
    k.pack_x = pack_x;
    k.gemm = gemm;
    return k;
}

#undef FL_STORE_TILE

} // namespace

const Kernels* amx_kernels() {
    static const bool granted = base() != nullptr && os_grants_amx();
    if (!granted) return nullptr;
    static const Kernels table = make_table();
    return &table;
}

} // namespace kern
} // namespace fl
