// safetensors.h - safetensors reader: header parsed once, tensor bytes read with pread into
// process memory (never mmap: idle mmap'd pages get reclaimed on the serving machines).
//
// File layout: [u64 LE header_len][header_len bytes of JSON][data]. The JSON maps tensor names to
// {"dtype", "shape", "data_offsets": [begin, end)} relative to the data section; "__metadata__"
// is a string->string map. Like the reference implementation we require the tensors to tile the
// data section exactly: sorted by offset they are contiguous from 0 to its end, no overlap, no gap.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fl {

enum class StDType { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2 };

struct StTensorInfo {
    std::string name;
    StDType dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0; // offset in the data section
    uint64_t end = 0;
    int64_t numel() const;
};

class SafetensorsFile {
public:
    static constexpr uint64_t kMaxHeaderBytes = 100ull << 20; // 100 MiB, as the reference library

    // Opens and parses the header; throws fl::Error (FL_IO / FL_FORMAT).
    explicit SafetensorsFile(const std::string& path);
    // Parses a header from memory (for tests and fuzzing); file_size is the whole file's size.
    static SafetensorsFile from_header(const std::string& name, const char* header, size_t header_len,
                                       uint64_t file_size);
    ~SafetensorsFile();
    SafetensorsFile(SafetensorsFile&& o) noexcept;
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const StTensorInfo* find(const std::string& name) const;
    const std::vector<StTensorInfo>& tensors() const { return tensors_; }

    // Reads a tensor's bytes (end - begin) into dst with pread; throws FL_IO on a short read.
    void read(const StTensorInfo& t, void* dst) const { read_range(t, 0, t.end - t.begin, dst); }
    // Reads bytes [offset, offset + n) of a tensor's data into dst; the range lies inside the tensor.
    void read_range(const StTensorInfo& t, uint64_t offset, uint64_t n, void* dst) const;

private:
    SafetensorsFile() = default;
    void parse_header(const char* header, size_t header_len, uint64_t file_size);

    std::string path_;
    int fd_ = -1;
    uint64_t data_start_ = 0;
    std::vector<StTensorInfo> tensors_;
    std::map<std::string, size_t> index_;
};

size_t st_dtype_size(StDType t);
const char* st_dtype_name(StDType t);

} // namespace fl
