// The checksum of a sealed block (format 1.3): CRC-32 as zlib computes it
// (the gzip polynomial), on x86-64 with carry-less multiplication where the
// CPU has it: zlib's table-driven loop was a tenth of a replay's time
// (docs/performance.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pintrace::trace {

uint32_t block_crc(const void* data, size_t size);

// zlib's crc32_z(crc, data, size), whichever way it is computed here; for
// the tests, which hold the fast path to zlib's answers.
uint32_t crc32(uint32_t crc, const void* data, size_t size);
uint32_t crc32_portable(uint32_t crc, const void* data, size_t size);

inline uint32_t block_crc(const void* data, size_t size) { return crc32(0, data, size); }

}  // namespace pintrace::trace
