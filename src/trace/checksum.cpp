#include "trace/checksum.hpp"

#include <zlib.h>

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pintrace::trace {

uint32_t crc32_portable(uint32_t crc, const void* data, size_t size)
{
    return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), size));
}

#if defined(__x86_64__)

namespace {

// Folding (Intel, "Fast CRC Computation for Generic Polynomials Using
// PCLMULQDQ"): four 128-bit lanes are carried forward 512 bits at a time
// by multiplying each half by x^(512±32) mod P, then folded into one lane
// (x^(128±32) mod P). What is left, 16 bytes and the tail, has the same
// CRC as the whole once the start value is folded in, and zlib finishes
// it. The constants are those powers of x, bit-reflected and shifted left
// by one as the reflected algorithm needs; tests/unit/checksum_test.cpp
// holds the result to zlib's over every length and alignment it tries.
constexpr uint64_t kFold512Low = 0x154442bd4;  // x^(4*128+32) mod P
constexpr uint64_t kFold512High = 0x1c6e41596;  // x^(4*128-32) mod P
constexpr uint64_t kFold128Low = 0x1751997d0;  // x^(128+32) mod P
constexpr uint64_t kFold128High = 0x0ccaa009e;  // x^(128-32) mod P

__attribute__((target("pclmul,sse4.1"))) inline __m128i fold(__m128i x, __m128i k)
{
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target("pclmul,sse4.1"))) uint32_t crc32_clmul(uint32_t crc, const unsigned char* p, size_t n)
{
    auto load = [](const unsigned char* at) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at)); };
    __m128i x0 = load(p), x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
    // zlib starts from the complement of crc, which is the same as xoring
    // it into the first four bytes and starting from zero.
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128(static_cast<int>(~crc)));
    p += 64;
    n -= 64;
    const __m128i k512 = _mm_set_epi64x(static_cast<long long>(kFold512High), static_cast<long long>(kFold512Low));
    for (; n >= 64; p += 64, n -= 64) {
        x0 = _mm_xor_si128(fold(x0, k512), load(p));
        x1 = _mm_xor_si128(fold(x1, k512), load(p + 16));
        x2 = _mm_xor_si128(fold(x2, k512), load(p + 32));
        x3 = _mm_xor_si128(fold(x3, k512), load(p + 48));
    }
    const __m128i k128 = _mm_set_epi64x(static_cast<long long>(kFold128High), static_cast<long long>(kFold128Low));
    __m128i x = _mm_xor_si128(fold(x0, k128), x1);
    x = _mm_xor_si128(fold(x, k128), x2);
    x = _mm_xor_si128(fold(x, k128), x3);
    for (; n >= 16; p += 16, n -= 16) x = _mm_xor_si128(fold(x, k128), load(p));
    // The lane and the tail (under 16 bytes) from a zero register: zlib's
    // crc32 of them with a start value whose complement is zero.
    unsigned char rest[32];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(rest), x);
    std::memcpy(rest + 16, p, n);
    return crc32_portable(0xffffffffu, rest, 16 + n);
}

bool has_clmul()
{
    static const bool yes = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    return yes;
}

}  // namespace

uint32_t crc32(uint32_t crc, const void* data, size_t size)
{
    // Below 64 bytes there is nothing to fold.
    if (size < 64 || !has_clmul()) return crc32_portable(crc, data, size);
    return crc32_clmul(crc, static_cast<const unsigned char*>(data), size);
}

#else

uint32_t crc32(uint32_t crc, const void* data, size_t size) { return crc32_portable(crc, data, size); }

#endif

}  // namespace pintrace::trace
