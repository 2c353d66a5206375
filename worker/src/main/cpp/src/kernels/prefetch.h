// prefetch.h - walks a GEMM caller's prefetch regions (kernels.h) a cache line at a time, for the
// AVX-512 and AMX GEMMs. In an unnamed namespace: each file that includes it (compiled with its own
// target flags) keeps its own copy, so none leaks into another ISA's code.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels.h"

namespace fl {
namespace kern {
namespace {

// The caller's prefetch regions (kernels.h), walked a line at a time. gemm_impl hands each
// micro-kernel call a share of the lines in proportion to its work, and the call issues at most one
// per step beside its weight prefetches: the lines arrive while the GEMM computes, without a burst
// that would queue on the fill buffers.
class Prefetcher {
public:
    Prefetcher(const PrefetchRegion* r, int n, long long work) : r_(r), end_(r + n), work_(work) {
        for (const PrefetchRegion* q = r; q < end_; q++) lines_ += (long long)q->rows * row_lines(*q);
        if (lines_ > 0) start_region();
    }
    // Lines due for the next `work` units (rows x k) of the GEMM, at most `steps`.
    int take(long long work, int steps) {
        if (lines_ == 0) return 0;
        done_ += work;
        long long due = lines_ * done_ / work_ - issued_;
        int n = due < steps ? int(due) : steps;
        issued_ += n;
        return n;
    }
    // No call in it: a call in a micro-kernel's loop makes the compiler spill the accumulators
    // around it (every zmm is caller-saved), on every step of the loop.
    __attribute__((always_inline)) inline void next() {
        _mm_prefetch(p_, _MM_HINT_T1);
        p_ += 64;
        if (p_ >= row_end_) next_row();
    }
    // The lines not issued yet (work counted short of the estimate): all of them now.
    void finish() {
        for (; issued_ < lines_; issued_++) next();
    }

private:
    static long long row_lines(const PrefetchRegion& q) {
        uintptr_t a = reinterpret_cast<uintptr_t>(q.base);
        return q.bytes > 0 ? static_cast<long long>((a + q.bytes + 63) / 64 - a / 64) : 0;
    }
    __attribute__((always_inline)) inline void start_region() {
        while (r_ < end_ && (r_->rows <= 0 || r_->bytes <= 0)) r_++;
        row_ = 0;
        if (r_ < end_) start_row();
    }
    __attribute__((always_inline)) inline void start_row() {
        const char* b = static_cast<const char*>(r_->base) + size_t(row_) * r_->stride;
        p_ = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(b) & ~uintptr_t(63));
        row_end_ = b + r_->bytes;
    }
    __attribute__((always_inline)) inline void next_row() {
        if (++row_ < r_->rows) return start_row();
        r_++;
        start_region();
    }

    const PrefetchRegion* r_;
    const PrefetchRegion* end_;
    int row_ = 0;
    const char* p_ = nullptr;
    const char* row_end_ = nullptr;
    long long lines_ = 0, issued_ = 0, done_ = 0, work_;
};

} // namespace
} // namespace kern
} // namespace fl
