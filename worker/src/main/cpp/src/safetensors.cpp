#include "safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "error.h"
#include "json.h"

namespace fl {

namespace {
struct DTypeName {
    const char* name;
    StDType type;
    size_t size;
};
const DTypeName kDTypes[] = {
    {"BOOL", StDType::BOOL, 1}, {"U8", StDType::U8, 1},           {"I8", StDType::I8, 1},
    {"I16", StDType::I16, 2},   {"U16", StDType::U16, 2},         {"F16", StDType::F16, 2},
    {"BF16", StDType::BF16, 2}, {"I32", StDType::I32, 4},         {"U32", StDType::U32, 4},
    {"F32", StDType::F32, 4},   {"F64", StDType::F64, 8},         {"I64", StDType::I64, 8},
    {"U64", StDType::U64, 8},   {"F8_E4M3", StDType::F8_E4M3, 1}, {"F8_E5M2", StDType::F8_E5M2, 1},
};
} // namespace

size_t st_dtype_size(StDType t) {
    for (const auto& d : kDTypes)
        if (d.type == t) return d.size;
    return 0;
}

const char* st_dtype_name(StDType t) {
    for (const auto& d : kDTypes)
        if (d.type == t) return d.name;
    return "?";
}

int64_t StTensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d; // bounded at parse time
    return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail(FL_IO, "%s: cannot open: %s", path.c_str(), std::strerror(errno));
    try {
        struct stat st;
        if (fstat(fd_, &st) != 0) fail(FL_IO, "%s: cannot stat: %s", path.c_str(), std::strerror(errno));
        if (!S_ISREG(st.st_mode)) fail(FL_IO, "%s: not a regular file", path.c_str());
        uint64_t file_size = static_cast<uint64_t>(st.st_size);
        if (file_size < 8)
            fail(FL_FORMAT, "%s: file of %llu bytes is shorter than the 8-byte header length", path.c_str(),
                 (unsigned long long)file_size);
        unsigned char len_bytes[8];
        if (pread(fd_, len_bytes, 8, 0) != 8) fail(FL_IO, "%s: cannot read header length", path.c_str());
        uint64_t header_len = 0;
        for (int i = 7; i >= 0; i--) header_len = (header_len << 8) | len_bytes[i];
        if (header_len > kMaxHeaderBytes)
            fail(FL_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes", path.c_str(),
                 (unsigned long long)header_len, (unsigned long long)kMaxHeaderBytes);
        if (header_len > file_size - 8)
            fail(FL_FORMAT, "%s: header length %llu is past the end of the file (%llu bytes)", path.c_str(),
                 (unsigned long long)header_len, (unsigned long long)file_size);
        std::string header(header_len, '\0');
        size_t got = 0;
        while (got < header_len) {
            ssize_t r = pread(fd_, &header[got], header_len - got, 8 + got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) fail(FL_IO, "%s: cannot read header", path.c_str());
            got += static_cast<size_t>(r);
        }
        parse_header(header.data(), header.size(), file_size);
    } catch (...) {
        ::close(fd_);
        fd_ = -1;
        throw;
    }
}

SafetensorsFile SafetensorsFile::from_header(const std::string& name, const char* header, size_t header_len,
                                             uint64_t file_size) {
    SafetensorsFile f;
    f.path_ = name;
    if (header_len > kMaxHeaderBytes || file_size < 8 || header_len > file_size - 8)
        fail(FL_FORMAT, "%s: header length %zu does not fit the file", name.c_str(), header_len);
    f.parse_header(header, header_len, file_size);
    return f;
}

SafetensorsFile::~SafetensorsFile() {
    if (fd_ >= 0) ::close(fd_);
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)), fd_(o.fd_), data_start_(o.data_start_), tensors_(std::move(o.tensors_)),
      index_(std::move(o.index_)) {
    o.fd_ = -1;
}

void SafetensorsFile::parse_header(const char* header, size_t header_len, uint64_t file_size) {
    const char* p = path_.c_str();
    data_start_ = 8 + header_len;
    uint64_t data_size = file_size - data_start_;
    Json root = Json::parse(header, header_len, path_ + " header");
    if (!root.is_object()) fail(FL_FORMAT, "%s: header is not a JSON object", p);
    for (const auto& member : root.members()) {
        const std::string& name = member.first;
        const Json& v = member.second;
        if (name == "__metadata__") {
            if (!v.is_object()) fail(FL_FORMAT, "%s: __metadata__ is not an object", p);
            for (const auto& m : v.members())
                if (!m.second.is_string())
                    fail(FL_FORMAT, "%s: __metadata__ value '%s' is not a string", p, m.first.c_str());
            continue;
        }
        const char* tn = name.c_str();
        if (!v.is_object()) fail(FL_FORMAT, "%s: tensor '%s' entry is not an object", p, tn);
        if (v.members().size() != 3)
            fail(FL_FORMAT, "%s: tensor '%s' must have exactly dtype, shape, data_offsets", p, tn);
        const Json* dt = v.find("dtype");
        const Json* shape = v.find("shape");
        const Json* offs = v.find("data_offsets");
        if (!dt || !dt->is_string()) fail(FL_FORMAT, "%s: tensor '%s' has no string dtype", p, tn);
        if (!shape || !shape->is_array()) fail(FL_FORMAT, "%s: tensor '%s' has no shape array", p, tn);
        if (!offs || !offs->is_array() || offs->items().size() != 2)
            fail(FL_FORMAT, "%s: tensor '%s' data_offsets is not [begin, end]", p, tn);
        StTensorInfo t;
        t.name = name;
        bool known = false;
        for (const auto& d : kDTypes) {
            if (dt->as_string() == d.name) {
                t.dtype = d.type;
                known = true;
            }
        }
        if (!known) fail(FL_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", p, tn, dt->as_string().c_str());
        if (shape->items().size() > 8)
            fail(FL_FORMAT, "%s: tensor '%s' has rank %zu > 8", p, tn, shape->items().size());
        uint64_t numel = 1;
        for (const Json& d : shape->items()) {
            if (!d.is_integer() || d.as_int() < 0)
                fail(FL_FORMAT, "%s: tensor '%s' shape has a non-integer or negative dimension", p, tn);
            uint64_t dim = static_cast<uint64_t>(d.as_int());
            if (dim > (1ull << 40) || (dim != 0 && numel > (1ull << 48) / dim))
                fail(FL_FORMAT, "%s: tensor '%s' shape is too large", p, tn);
            numel *= dim;
            t.shape.push_back(d.as_int());
        }
        for (const Json& o : offs->items())
            if (!o.is_integer() || o.as_int() < 0)
                fail(FL_FORMAT, "%s: tensor '%s' data_offsets are not non-negative integers", p, tn);
        t.begin = static_cast<uint64_t>(offs->items()[0].as_int());
        t.end = static_cast<uint64_t>(offs->items()[1].as_int());
        if (t.end < t.begin)
            fail(FL_FORMAT, "%s: tensor '%s' data_offsets end %llu < begin %llu", p, tn, (unsigned long long)t.end,
                 (unsigned long long)t.begin);
        if (t.end > data_size)
            fail(FL_FORMAT, "%s: tensor '%s' data_offsets end %llu is past the end of the data (%llu bytes)", p, tn,
                 (unsigned long long)t.end, (unsigned long long)data_size);
        uint64_t expect = numel * st_dtype_size(t.dtype);
        if (t.end - t.begin != expect)
            fail(FL_FORMAT, "%s: tensor '%s' has %llu bytes but shape x %s needs %llu", p, tn,
                 (unsigned long long)(t.end - t.begin), st_dtype_name(t.dtype), (unsigned long long)expect);
        index_[name] = tensors_.size();
        tensors_.push_back(std::move(t));
    }
    // The tensors must tile the data section: sorted by begin, contiguous, ending at its end.
    std::vector<const StTensorInfo*> sorted;
    for (const auto& t : tensors_) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(), [](const StTensorInfo* a, const StTensorInfo* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t cursor = 0;
    for (const StTensorInfo* t : sorted) {
        if (t->begin < cursor)
            fail(FL_FORMAT, "%s: tensor '%s' data_offsets [%llu, %llu) overlap another tensor", p, t->name.c_str(),
                 (unsigned long long)t->begin, (unsigned long long)t->end);
        if (t->begin > cursor)
            fail(FL_FORMAT, "%s: tensor '%s' data_offsets begin %llu leaves a gap after offset %llu", p,
                 t->name.c_str(), (unsigned long long)t->begin, (unsigned long long)cursor);
        cursor = t->end;
    }
    if (cursor != data_size)
        fail(FL_FORMAT, "%s: tensors cover %llu bytes but the data section has %llu", p, (unsigned long long)cursor,
             (unsigned long long)data_size);
}

const StTensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::read_range(const StTensorInfo& t, uint64_t offset, uint64_t n, void* dst) const {
    if (fd_ < 0) fail(FL_IO, "%s: no file to read tensor '%s' from", path_.c_str(), t.name.c_str());
    if (offset > t.end - t.begin || n > t.end - t.begin - offset)
        fail(FL_INTERNAL, "%s: read of %llu bytes at %llu is outside tensor '%s'", path_.c_str(), (unsigned long long)n,
             (unsigned long long)offset, t.name.c_str());
    uint64_t got = 0;
    char* out = static_cast<char*>(dst);
    while (got < n) {
        size_t chunk = static_cast<size_t>(std::min<uint64_t>(n - got, 1ull << 30));
        ssize_t r = pread(fd_, out + got, chunk, static_cast<off_t>(data_start_ + t.begin + offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            fail(FL_IO, "%s: short read of tensor '%s' (%llu of %llu bytes)", path_.c_str(), t.name.c_str(),
                 (unsigned long long)got, (unsigned long long)n);
        got += static_cast<uint64_t>(r);
    }
}

} // namespace fl
