// error.h - status + thread-local message, and the C++ exception that carries both inside
// the engine. The C API boundary (engine.cpp) turns every exception into an fl_status.
#pragma once

#include <cstdarg>
#include <stdexcept>
#include <string>

#include "flotilla_engine.h"

namespace fl {

// Thrown inside the engine; caught at the C API boundary.
class Error : public std::runtime_error {
public:
    Error(fl_status status, std::string message) : std::runtime_error(std::move(message)), status_(status) {}
    fl_status status() const { return status_; }

private:
    fl_status status_;
};

// printf-style message formatting.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

[[noreturn]] void fail(fl_status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Thread-local last error message.
void set_last_error(const std::string& message);
const char* last_error();

} // namespace fl
