// json.h - a small strict JSON parser (RFC 8259) for config and safetensors headers.
//
// Strict: UTF-8 validated, no trailing commas, no comments, no duplicate keys, no trailing
// garbage; nesting depth bounded (kMaxDepth) so hostile input cannot exhaust the stack.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fl {

class Json {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };
    static constexpr int kMaxDepth = 64;

    // Parses text; throws fl::Error(FL_FORMAT) with "<what>: <reason> at offset N".
    static Json parse(const char* data, size_t size, const std::string& what);

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }
    bool is_bool() const { return type_ == Type::Bool; }
    bool is_number() const { return type_ == Type::Number; }
    bool is_string() const { return type_ == Type::String; }
    bool is_array() const { return type_ == Type::Array; }
    bool is_object() const { return type_ == Type::Object; }

    bool as_bool() const { return bool_; }
    double as_double() const { return number_; }
    // True if the number is an integer exactly representable in int64 (no fraction/exponent loss).
    bool is_integer() const { return type_ == Type::Number && is_int_; }
    int64_t as_int() const { return int_; }
    const std::string& as_string() const { return string_; }
    const std::vector<Json>& items() const { return array_; }
    // Object members in document order.
    const std::vector<std::pair<std::string, Json>>& members() const { return object_; }
    // Object member or nullptr.
    const Json* find(const std::string& key) const;

private:
    friend class JsonParser;
    Type type_ = Type::Null;
    bool bool_ = false;
    bool is_int_ = false;
    double number_ = 0;
    int64_t int_ = 0;
    std::string string_;
    std::vector<Json> array_;
    std::vector<std::pair<std::string, Json>> object_;
    std::map<std::string, size_t> index_;
};

} // namespace fl
