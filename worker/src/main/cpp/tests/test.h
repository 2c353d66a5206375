// test.h - a minimal test registry: TEST(name) { ... } with CHECK / CHECK_NEAR; the runner
// prints only failures and a one-line summary. A test prints nothing it does not assert.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace fltest {

struct Case {
    const char* name;
    std::function<void()> fn;
};
inline std::vector<Case>& registry() {
    static std::vector<Case> r;
    return r;
}
inline int& failures() {
    static int f = 0;
    return f;
}
struct Register {
    Register(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

inline void report(const char* file, int line, const std::string& msg) {
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, msg.c_str());
    failures()++;
}

// Relative error |a-b| / max(|b|, floor) - floor keeps tiny references from blowing up.
inline double rel_err(double a, double b, double floor = 1e-3) {
    return std::fabs(a - b) / std::fmax(std::fabs(b), floor);
}

} // namespace fltest

#define FL_CAT2(a, b) a##b
#define FL_CAT(a, b) FL_CAT2(a, b)
#define TEST(name)                                                                                                     \
    static void name();                                                                                                \
    static fltest::Register FL_CAT(reg_, name)(#name, name);                                                           \
    static void name()

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) fltest::report(__FILE__, __LINE__, #cond);                                                        \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                                           \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            char buf_[512];                                                                                            \
            std::snprintf(buf_, sizeof buf_, __VA_ARGS__);                                                             \
            fltest::report(__FILE__, __LINE__, std::string(#cond) + ": " + buf_);                                      \
        }                                                                                                              \
    } while (0)

// Fails the test and returns from it.
#define REQUIRE(cond)                                                                                                  \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fltest::report(__FILE__, __LINE__, #cond);                                                                 \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

#define TEST_MAIN()                                                                                                    \
    int main(int argc, char** argv) {                                                                                  \
        int run = 0;                                                                                                   \
        for (auto& c : fltest::registry()) {                                                                           \
            if (argc > 1 && std::string(c.name).find(argv[1]) == std::string::npos) continue;                          \
            int before = fltest::failures();                                                                           \
            c.fn();                                                                                                    \
            run++;                                                                                                     \
            if (fltest::failures() != before) std::fprintf(stderr, "[FAIL] %s\n", c.name);                             \
        }                                                                                                              \
        std::printf("%d tests, %d failed checks\n", run, fltest::failures());                                          \
        return fltest::failures() == 0 ? 0 : 1;                                                                        \
    }
