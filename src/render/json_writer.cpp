#include "render/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "render/safe_text.hpp"

namespace pintrace {

// The output is always valid UTF-8 (RFC 8259 requires it; Python's json
// rejects anything else): an ill-formed byte becomes U+FFFD, one per byte,
// as docs/report-json.md says. Control characters, DEL and the C1 controls
// are escaped, so a document piped to a terminal cannot drive it.
void append_json_escaped(std::string& out, std::string_view s)
{
    append_rewritten_utf8(out, s, [](std::string& out, std::string_view bytes, unsigned code) {
        switch (code) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
            if (is_control(code)) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", code);
                out += buf;
            } else {
                out += bytes;
            }
        }
    });
}

std::string json_escape(std::string_view s)
{
    std::string out;
    out.reserve(s.size() + 2);
    append_json_escaped(out, s);
    return out;
}

void JsonWriter::before_value()
{
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        if (!first_.back()) out_ += ',';
        first_.back() = false;
    }
}

JsonWriter& JsonWriter::begin_object()
{
    before_value();
    out_ += '{';
    first_.push_back(true);
    return *this;
}

JsonWriter& JsonWriter::end_object()
{
    out_ += '}';
    first_.pop_back();
    return *this;
}

JsonWriter& JsonWriter::begin_array()
{
    before_value();
    out_ += '[';
    first_.push_back(true);
    return *this;
}

JsonWriter& JsonWriter::end_array()
{
    out_ += ']';
    first_.pop_back();
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view k)
{
    before_value();
    out_ += '"';
    append_json_escaped(out_, k);
    out_ += "\":";
    after_key_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view s)
{
    before_value();
    out_ += '"';
    append_json_escaped(out_, s);
    out_ += '"';
    return *this;
}

JsonWriter& JsonWriter::value(bool b)
{
    before_value();
    out_ += b ? "true" : "false";
    return *this;
}

namespace {

template <class Int>
void append_integer(std::string& out, Int v)
{
    char buf[24];  // 20 digits and a sign
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

}  // namespace

JsonWriter& JsonWriter::value(int64_t v)
{
    before_value();
    append_integer(out_, v);
    return *this;
}

JsonWriter& JsonWriter::value(uint64_t v)
{
    before_value();
    append_integer(out_, v);
    return *this;
}

JsonWriter& JsonWriter::value(double v)
{
    if (!std::isfinite(v)) return null();
    before_value();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    out_ += buf;
    return *this;
}

JsonWriter& JsonWriter::null()
{
    before_value();
    out_ += "null";
    return *this;
}

}  // namespace pintrace
