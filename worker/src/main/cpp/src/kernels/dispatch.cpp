// dispatch.cpp - picks the kernel table from cpuid once; FLOTILLA_ENGINE_ISA overrides.
#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "kernels.h"

namespace fl {
namespace kern {

namespace {
// F16C: CPUID.1:ECX bit 29 (not every compiler's __builtin_cpu_supports knows "f16c"; the AVX
// checks below already include the OS's XSAVE support).
bool has_f16c() {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

// AMX-TILE and AMX-BF16 (CPUID.(7,0):EDX bits 24, 22), and the OS saving tile state (XCR0 bits
// 17-18). The OS must still grant the process its tile data: amx_kernels() asks.
bool has_amx_bf16() {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 22))) return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & (3u << 17)) == (3u << 17);
}

bool cpu_has(Isa isa) {
    __builtin_cpu_init();
    switch (isa) {
    case Isa::Scalar:
        return true;
    case Isa::Avx2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case Isa::Avx512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && cpu_has(Isa::Avx2);
    case Isa::Avx512Bf16:
        return cpu_has(Isa::Avx512) && __builtin_cpu_supports("avx512bf16");
    case Isa::Avx512Amx:
        return cpu_has(Isa::Avx512Bf16) && has_amx_bf16() && amx_kernels() != nullptr;
    }
    return false;
}

const Kernels& choose() {
    const char* env = std::getenv("FLOTILLA_ENGINE_ISA");
    if (env && *env) {
        const Kernels* k = nullptr;
        if (!std::strcmp(env, "scalar"))
            k = kernels_for(Isa::Scalar);
        else if (!std::strcmp(env, "avx2"))
            k = kernels_for(Isa::Avx2);
        else if (!std::strcmp(env, "avx512"))
            k = kernels_for(Isa::Avx512);
        else if (!std::strcmp(env, "avx512bf16"))
            k = kernels_for(Isa::Avx512Bf16);
        else if (!std::strcmp(env, "avx512amx"))
            k = kernels_for(Isa::Avx512Amx);
        if (k) return *k; // unknown or unsupported: fall through to the best available
    }
    for (Isa isa : {Isa::Avx512Amx, Isa::Avx512Bf16, Isa::Avx512, Isa::Avx2})
        if (const Kernels* k = kernels_for(isa)) return *k;
    return *scalar_kernels();
}
} // namespace

const Kernels* kernels_for(Isa isa) {
    if (!cpu_has(isa)) return nullptr;
    switch (isa) {
    case Isa::Scalar:
        return scalar_kernels();
    case Isa::Avx2:
        return avx2_kernels();
    case Isa::Avx512:
        return avx512_kernels(false);
    case Isa::Avx512Bf16:
        return avx512_kernels(true);
    case Isa::Avx512Amx:
        return amx_kernels();
    }
    return nullptr;
}

const Kernels& active() {
    static const Kernels& k = choose();
    return k;
}

} // namespace kern
} // namespace fl
