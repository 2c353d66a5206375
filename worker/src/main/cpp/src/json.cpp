#include "json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "error.h"

namespace fl {

const Json* Json::find(const std::string& key) const {
    if (type_ != Type::Object) return nullptr;
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &object_[it->second].second;
}

class JsonParser {
public:
    JsonParser(const char* data, size_t size, const std::string& what)
        : p_(reinterpret_cast<const unsigned char*>(data)), n_(size), what_(what) {}

    Json parse_document() {
        Json v = parse_value(0);
        skip_ws();
        if (i_ != n_) error("trailing characters after the JSON value");
        return v;
    }

private:
    const unsigned char* p_;
    size_t n_;
    size_t i_ = 0;
    const std::string& what_;

    [[noreturn]] void error(const char* reason) {
        fail(FL_FORMAT, "%s: invalid JSON: %s at offset %zu", what_.c_str(), reason, i_);
    }

    void skip_ws() {
        while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) i_++;
    }

    bool consume_literal(const char* lit) {
        size_t k = 0;
        while (lit[k]) {
            if (i_ + k >= n_ || p_[i_ + k] != static_cast<unsigned char>(lit[k])) return false;
            k++;
        }
        i_ += k;
        return true;
    }

    Json parse_value(int depth) {
        if (depth > Json::kMaxDepth) error("nesting too deep");
        skip_ws();
        if (i_ >= n_) error("unexpected end of input");
        Json v;
        unsigned char c = p_[i_];
        if (c == '{') {
            parse_object(v, depth);
        } else if (c == '[') {
            parse_array(v, depth);
        } else if (c == '"') {
            v.type_ = Json::Type::String;
            v.string_ = parse_string();
        } else if (c == 't') {
            if (!consume_literal("true")) error("invalid literal");
            v.type_ = Json::Type::Bool;
            v.bool_ = true;
        } else if (c == 'f') {
            if (!consume_literal("false")) error("invalid literal");
            v.type_ = Json::Type::Bool;
        } else if (c == 'n') {
            if (!consume_literal("null")) error("invalid literal");
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            parse_number(v);
        } else {
            error("unexpected character");
        }
        return v;
    }

    void parse_object(Json& v, int depth) {
        v.type_ = Json::Type::Object;
        i_++; // {
        skip_ws();
        if (i_ < n_ && p_[i_] == '}') {
            i_++;
            return;
        }
        for (;;) {
            skip_ws();
            if (i_ >= n_ || p_[i_] != '"') error("expected a string key");
            std::string key = parse_string();
            if (v.index_.count(key)) error("duplicate key");
            skip_ws();
            if (i_ >= n_ || p_[i_] != ':') error("expected ':'");
            i_++;
            Json member = parse_value(depth + 1);
            v.index_[key] = v.object_.size();
            v.object_.emplace_back(std::move(key), std::move(member));
            skip_ws();
            if (i_ >= n_) error("unexpected end of input in object");
            if (p_[i_] == ',') {
                i_++;
                continue;
            }
            if (p_[i_] == '}') {
                i_++;
                return;
            }
            error("expected ',' or '}'");
        }
    }

    void parse_array(Json& v, int depth) {
        v.type_ = Json::Type::Array;
        i_++; // [
        skip_ws();
        if (i_ < n_ && p_[i_] == ']') {
            i_++;
            return;
        }
        for (;;) {
            v.array_.push_back(parse_value(depth + 1));
            skip_ws();
            if (i_ >= n_) error("unexpected end of input in array");
            if (p_[i_] == ',') {
                i_++;
                continue;
            }
            if (p_[i_] == ']') {
                i_++;
                return;
            }
            error("expected ',' or ']'");
        }
    }

    static void append_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }

    uint32_t parse_hex4() {
        if (n_ - i_ < 4) error("truncated \\u escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = p_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= c - '0';
            else if (c >= 'a' && c <= 'f')
                v |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                v |= c - 'A' + 10;
            else
                error("invalid hex digit in \\u escape");
        }
        return v;
    }

    // Validates one UTF-8 sequence starting at i_ (first byte >= 0x80) and appends it.
    void copy_utf8(std::string& out) {
        unsigned char c = p_[i_];
        int len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else
            error("invalid UTF-8");
        if (n_ - i_ < static_cast<size_t>(len)) error("truncated UTF-8");
        for (int k = 1; k < len; k++) {
            unsigned char cc = p_[i_ + k];
            if ((cc & 0xc0) != 0x80) error("invalid UTF-8");
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            error("invalid UTF-8 (overlong or surrogate)");
        out.append(reinterpret_cast<const char*>(p_ + i_), len);
        i_ += len;
    }

    std::string parse_string() {
        i_++; // opening quote
        std::string out;
        for (;;) {
            if (i_ >= n_) error("unterminated string");
            unsigned char c = p_[i_];
            if (c == '"') {
                i_++;
                return out;
            }
            if (c < 0x20) error("control character in string");
            if (c == '\\') {
                i_++;
                if (i_ >= n_) error("unterminated escape");
                unsigned char e = p_[i_++];
                switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    uint32_t cp = parse_hex4();
                    if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (n_ - i_ < 2 || p_[i_] != '\\' || p_[i_ + 1] != 'u') error("lone surrogate");
                        i_ += 2;
                        uint32_t lo = parse_hex4();
                        if (lo < 0xdc00 || lo > 0xdfff) error("invalid surrogate pair");
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                        error("lone surrogate");
                    }
                    append_utf8(out, cp);
                    break;
                }
                default:
                    error("invalid escape");
                }
            } else if (c < 0x80) {
                out += static_cast<char>(c);
                i_++;
            } else {
                copy_utf8(out);
            }
        }
    }

    void parse_number(Json& v) {
        size_t start = i_;
        bool integral = true;
        if (p_[i_] == '-') i_++;
        if (i_ >= n_) error("truncated number");
        if (p_[i_] == '0') {
            i_++;
        } else if (p_[i_] >= '1' && p_[i_] <= '9') {
            while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') i_++;
        } else {
            error("invalid number");
        }
        if (i_ < n_ && p_[i_] == '.') {
            integral = false;
            i_++;
            if (i_ >= n_ || p_[i_] < '0' || p_[i_] > '9') error("invalid number fraction");
            while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') i_++;
        }
        if (i_ < n_ && (p_[i_] == 'e' || p_[i_] == 'E')) {
            integral = false;
            i_++;
            if (i_ < n_ && (p_[i_] == '+' || p_[i_] == '-')) i_++;
            if (i_ >= n_ || p_[i_] < '0' || p_[i_] > '9') error("invalid number exponent");
            while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') i_++;
        }
        std::string text(reinterpret_cast<const char*>(p_ + start), i_ - start);
        v.type_ = Json::Type::Number;
        v.number_ = std::strtod(text.c_str(), nullptr);
        if (integral) {
            errno = 0;
            long long iv = std::strtoll(text.c_str(), nullptr, 10);
            if (errno == 0) {
                v.is_int_ = true;
                v.int_ = iv;
            }
        } else if (std::isfinite(v.number_) && v.number_ == std::floor(v.number_) && std::fabs(v.number_) < 9.0e15) {
            v.is_int_ = true; // e.g. 1e4 or 4096.0
            v.int_ = static_cast<int64_t>(v.number_);
        }
    }
};

Json Json::parse(const char* data, size_t size, const std::string& what) {
    JsonParser parser(data, size, what);
    return parser.parse_document();
}

} // namespace fl
