// "0x1a2b": how pintrace writes pfns, addresses and flag values, in files
// and in messages alike.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace pintrace {

inline std::string hex(uint64_t v)
{
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace pintrace
