// A trace file's bytes, for tests that cut, flip or count them.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "trace/format.hpp"

namespace pintrace::test {

inline std::string slurp(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The oracle readers are held against: whole records by their framing
// alone (docs/trace-format.md), seals apart, up to the end of `bytes`.
struct Framing {
    uint64_t records = 0;
    uint64_t end = 0;  // where the last whole record ends
};
inline Framing walk_framing(const std::string& bytes)
{
    Framing w;
    trace::FileHeader fh;
    if (bytes.size() < sizeof fh) return w;
    std::memcpy(&fh, bytes.data(), sizeof fh);
    size_t off = sizeof fh + fh.sections_bytes;
    w.end = off;
    while (off + 4 <= bytes.size()) {
        uint16_t type, size;
        std::memcpy(&type, bytes.data() + off, 2);
        std::memcpy(&size, bytes.data() + off + 2, 2);
        if (size < 8 || off + size > bytes.size()) break;
        if (type != trace::kRecSeal) ++w.records;
        off += size;
        w.end = off;
    }
    return w;
}

}  // namespace pintrace::test
