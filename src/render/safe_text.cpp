#include "render/safe_text.hpp"

#include <cstdio>

namespace pintrace {

size_t utf8_sequence_length(std::string_view s, size_t i)
{
    auto byte = [&](size_t k) -> unsigned { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100; };
    auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) { return byte(k) >= lo && byte(k) <= hi; };
    unsigned b = byte(0);
    if (b < 0x80) return 1;
    // The ranges of the Unicode standard's table 3-7: the second byte's
    // bounds exclude overlong forms, surrogates and code points > U+10FFFF.
    if (b >= 0xC2 && b <= 0xDF) return cont(1) ? 2 : 0;
    if (b == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
    if (b == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    if (b >= 0xE1 && b <= 0xEF) return cont(1) && cont(2) ? 3 : 0;
    if (b == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (b >= 0xF1 && b <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (b == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

std::string printable(std::string_view s, bool keep_newlines)
{
    return rewrite_utf8(s, [&](std::string& out, std::string_view bytes, unsigned code) {
        if (is_control(code) && !(keep_newlines && code == '\n')) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", code);
            out += buf;
        } else {
            out += bytes;
        }
    });
}

}  // namespace pintrace
