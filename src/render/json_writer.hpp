// A small streaming JSON writer: commas and escaping handled in one place.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pintrace {

class JsonWriter {
public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);

    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b);
    JsonWriter& value(int64_t v);
    JsonWriter& value(uint64_t v);
    JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
    JsonWriter& value(unsigned v) { return value(static_cast<uint64_t>(v)); }
    JsonWriter& value(double v);  // finite, shortest round-trip form; non-finite as null
    JsonWriter& null();

    template <class T>
    JsonWriter& field(std::string_view k, const T& v)
    {
        key(k);
        return value(v);
    }
    template <class Range>
    JsonWriter& string_array(std::string_view k, const Range& items)
    {
        key(k).begin_array();
        for (const auto& s : items) value(std::string_view(s));
        return end_array();
    }

    const std::string& str() const { return out_; }

private:
    void before_value();
    std::string out_;
    std::vector<bool> first_;  // per open container: nothing written yet
    bool after_key_ = false;
};

std::string json_escape(std::string_view s);
// The same onto the end of out: how the writer escapes every key and
// string straight into its document.
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace pintrace
