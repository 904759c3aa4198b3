// The checksum of a sealed block (format 1.3): zlib's CRC-32, which the
// static binary links anyway and which runs at memory speed.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>

namespace pintrace::trace {

inline uint32_t block_crc(const void* data, size_t size)
{
    return static_cast<uint32_t>(crc32_z(0, static_cast<const Bytef*>(data), size));
}

}  // namespace pintrace::trace
