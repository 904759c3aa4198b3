// Strings from a trace or from /proc (comm, exe, cgroup paths, symbols) are
// whatever a process chose: any bytes. Before they reach a JSON document or
// a terminal they pass through here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pintrace {

// Length of the well-formed UTF-8 sequence starting at s[i] (1 to 4), or 0
// if the bytes there are not one: a stray continuation byte, a truncated
// sequence, an overlong form, a surrogate, or past U+10FFFF.
size_t utf8_sequence_length(std::string_view s, size_t i);

// Every ill-formed byte as U+FFFD (one per byte), the rest unchanged.
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Printable ASCII that every caller writes as itself: a run of it is copied
// whole, not character by character (the text is almost always all of it,
// and a report escapes every key and string it prints).
inline bool is_plain_ascii(char c) { return c >= 0x20 && c <= 0x7E && c != '"' && c != '\\'; }

// Rewrites s character by character onto the end of out: every ill-formed
// byte becomes U+FFFD; each well-formed character goes to on_char(out,
// bytes, code), where code is its code point when below U+00C0 (ASCII, and
// the C1 controls that terminals act on) and 0x100 otherwise. How to write
// a control is the caller's: JSON escapes, a terminal shows. Plain ASCII
// (is_plain_ascii) never reaches on_char: it is copied as it is.
template <class OnChar>
void append_rewritten_utf8(std::string& out, std::string_view s, OnChar&& on_char)
{
    for (size_t i = 0; i < s.size();) {
        size_t plain = i;
        while (plain < s.size() && is_plain_ascii(s[plain])) ++plain;
        if (plain > i) {
            out.append(s.data() + i, plain - i);
            i = plain;
            continue;
        }
        size_t n = utf8_sequence_length(s, i);
        if (!n) {
            out += kReplacementCharacter;
            ++i;
            continue;
        }
        unsigned lead = static_cast<unsigned char>(s[i]);
        unsigned code = n == 1 ? lead : n == 2 && lead == 0xC2 ? static_cast<unsigned char>(s[i + 1]) : 0x100;
        on_char(out, s.substr(i, n), code);
        i += n;
    }
}

// The same, as a new string.
template <class OnChar>
std::string rewrite_utf8(std::string_view s, OnChar&& on_char)
{
    std::string out;
    out.reserve(s.size() + 2);
    append_rewritten_utf8(out, s, on_char);
    return out;
}

inline bool is_control(unsigned code) { return code < 0x20 || (code >= 0x7F && code <= 0x9F); }

// For a terminal or a markdown ticket: ill-formed bytes as U+FFFD, and
// control characters (C0, DEL, C1: what starts a terminal escape sequence)
// as visible \xNN, so a hostile comm cannot move the cursor or recolour.
// keep_newlines: a document's preformatted blocks hold line breaks of their
// own; a table cell is one line.
std::string printable(std::string_view s, bool keep_newlines = false);

}  // namespace pintrace
