// The blocks' CRC-32 is zlib's, whichever way it is computed: the files
// are read by other pintrace builds, on other CPUs.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "trace/checksum.hpp"

namespace pintrace {
namespace {

TEST(Checksum, IsZlibsCrc32ForEveryLengthAlignmentAndStart)
{
    std::mt19937_64 rng(7);
    std::vector<unsigned char> buf(4096 + 64);
    for (auto& b : buf) b = static_cast<unsigned char>(rng());
    for (size_t offset = 0; offset < 16; ++offset)
        for (size_t size = 0; size <= 600; ++size)
            for (uint32_t start : {0u, 0xffffffffu, static_cast<uint32_t>(rng())})
                ASSERT_EQ(trace::crc32(start, buf.data() + offset, size),
                          trace::crc32_portable(start, buf.data() + offset, size))
                    << "offset " << offset << ", " << size << " bytes, start " << start;
    for (size_t size : {1023u, 1024u, 1025u, 4096u, 4111u})
        ASSERT_EQ(trace::crc32(0, buf.data() + 3, size), trace::crc32_portable(0, buf.data() + 3, size)) << size;
}

TEST(Checksum, KnownValue)
{
    // The check value of CRC-32 (the gzip polynomial): "123456789".
    const char* nine = "123456789";
    EXPECT_EQ(trace::block_crc(nine, 9), 0xCBF43926u);
    std::vector<unsigned char> zeros(1000, 0);
    EXPECT_EQ(trace::block_crc(zeros.data(), zeros.size()), trace::crc32_portable(0, zeros.data(), zeros.size()));
}

}  // namespace
}  // namespace pintrace
