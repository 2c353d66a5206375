// Fuzzes the safetensors reader through a real file descriptor (memfd): header length, JSON
// header, offsets, and reading every tensor it accepts.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "error.h"
#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    int fd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
    if (fd < 0) return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) break;
        off += size_t(w);
    }
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    try {
        fl::SafetensorsFile f(path);
        std::vector<char> buf;
        for (const auto& t : f.tensors()) {
            if (t.end - t.begin > (1u << 20)) continue;
            buf.resize(t.end - t.begin + 1);
            f.read(t, buf.data());
        }
    } catch (const fl::Error&) {}
    close(fd);
    return 0;
}
