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

// For a terminal or a markdown ticket: ill-formed bytes as U+FFFD, and
// control characters (C0, DEL, C1: what starts a terminal escape sequence)
// as visible \xNN, so a hostile comm cannot move the cursor or recolour.
// keep_newlines: a document's preformatted blocks hold line breaks of their
// own; a table cell is one line.
std::string printable(std::string_view s, bool keep_newlines = false);

}  // namespace pintrace
