// The trace file, version 1.3. See docs/trace-format.md.
//
//   FileHeader (32 bytes)
//   sections: { u16 id, u16 reserved, u32 length, payload, pad to 8 } ...
//   records:  kernel records exactly as bpf/pintrace.h lays them out, and
//             user-space records (type >= 0x100); every record starts with
//             u16 type, u16 size and is a multiple of 8 bytes long
//   a Finish record, written last: a file without one was not closed.
//
// From 1.3 the file is a run of blocks, each written by one write(2) and
// ended by a Seal record holding the CRC of every byte since the previous
// seal (the first block is the header): a reader checks a block before it
// believes any of it, and a recorder killed mid-write leaves at most one
// torn block.
//
// Readers skip section ids and record types they do not know, and refuse a
// newer major version.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pintrace::trace {

inline constexpr char kMagic[8] = {'P', 'I', 'N', 'T', 'R', 'A', 'C', 'E'};
inline constexpr uint16_t kMajor = 1;
inline constexpr uint16_t kMinor = 3;  // 1.1: process records; 1.2: snapshot records; 1.3: sealed blocks

struct FileHeader {
    char magic[8];
    uint16_t major;
    uint16_t minor;
    uint32_t sections_bytes;
    uint64_t reserved[2];
};
static_assert(sizeof(FileHeader) == 32);

enum SectionId : uint16_t {
    kSectionMeta = 1,  // key=value lines
    kSectionFlagLayout = 2,  // write=, get=, pin=, longterm=, source=
    kSectionAttach = 3,  // hook \t target \t mode \t detail \t hides
    kSectionMigrateReasons = 4,  // number=name lines
    kSectionPageFlags = 5,  // bit=name lines (enum pageflags)
};

struct SectionHeader {
    uint16_t id;
    uint16_t reserved;
    uint32_t length;
};

inline constexpr uint16_t kFirstUserRecord = 0x100;
inline constexpr uint32_t kMaxRecord = 0xfff8;

enum UserRecordType : uint16_t {
    kRecStack = 0x101,
    kRecLost = 0x102,
    kRecFinish = 0x103,
    kRecProcess = 0x104,  // 1.1
    kRecSnapshotPages = 0x105,  // 1.2: record --snapshot
    kRecSnapshotHolder = 0x106,
    kRecSnapshotEnd = 0x107,
    kRecSeal = 0x108,  // 1.3
    kRecPipeOpeners = 0x109,  // added within 1.3 (older readers skip it): who had a spliced-into pipe open
};

// Readers of format 1.0 decode any type they do not know as a kernel
// record, which must be long enough for a pt_header to be skipped: user
// records added since are padded to at least this size.
inline constexpr uint32_t kMinAddedRecord = 48;

struct UserRecordHeader {
    uint16_t type;
    uint16_t size;
    uint32_t reserved;
};

struct StackPayload {
    int32_t id;
    uint32_t kind;
    uint32_t tgid;
    uint32_t nframes;  // then nframes u64 addresses, then '\n'-separated symbols
};

struct LostPayload {
    uint64_t from_ns;
    uint64_t to_ns;
    uint64_t count;
};

// Then exe_len bytes of the executable's path and cgroup_len bytes of the
// cgroup v2 path, unterminated (either may be empty: not readable).
struct ProcessPayload {
    uint64_t ts_ns;
    uint32_t tgid;
    uint16_t exe_len;
    uint16_t cgroup_len;
};

// Then count PipeOpenerEntry.
struct PipeOpenersPayload {
    uint64_t ts_ns;
    uint64_t ino;
    uint32_t count;
    uint32_t reserved;
};
struct PipeOpenerEntry {
    uint32_t pid;
    uint32_t fd;
    char comm[16];  // NUL-padded
};
static_assert(sizeof(PipeOpenersPayload) == 24 && sizeof(PipeOpenerEntry) == 24);

// Then count SeedPageEntry.
struct SnapshotPagesPayload {
    uint64_t ts_ns;
    uint32_t count;
    uint32_t reserved;
};
struct SeedPageEntry {
    uint64_t pfn;
    int32_t refcount;  // -1: not read
    int32_t mapcount;
    uint8_t held_as;  // SeedClass
    uint8_t reserved[7];
};
static_assert(sizeof(SeedPageEntry) == 24);

// Then npfns u64 pfns, then comm, exe, evidence and origin, unterminated.
struct SnapshotHolderPayload {
    uint64_t ts_ns;
    uint32_t pid;
    uint8_t likely;
    uint8_t origin_len;
    uint16_t comm_len;
    uint16_t exe_len;
    uint16_t evidence_len;
    uint32_t npfns;
};
static_assert(sizeof(SnapshotHolderPayload) == 24);

// Then source, range and the notes ('\n'-separated), unterminated.
struct SnapshotEndPayload {
    uint64_t start_ns;
    uint64_t end_ns;
    uint64_t pages;
    uint64_t suspicious_total;
    uint64_t suspicious_kept;
    uint64_t processes;
    uint16_t source_len;
    uint16_t range_len;
    uint32_t notes_len;
};

// Readers take the prefix they know: 1.3 added error.
struct FinishPayload {
    uint64_t end_ns;
    uint64_t records;
    uint64_t lost;
    uint32_t reason;
    int32_t command_status;
    int32_t error;  // 1.3: the errno that stopped the recording (reason write_failed), else 0
    uint32_t reserved;  // 0 (older writers left their padding here: never read)
    // Runs of the capture's programs the kernel skipped (the program already
    // running on that CPU): their events are missing. Added within 1.3: an
    // older record ends before it, and reads as 0.
    uint64_t skipped_runs;
    // Short-term pins paired in the kernel with their releases, neither
    // recorded (docs/pairing.md). Added within 1.3, like skipped_runs.
    uint64_t paired_pins;
};
static_assert(sizeof(FinishPayload) == 56 && offsetof(FinishPayload, paired_pins) == 48);

inline constexpr char kSealMagic[8] = {'P', 'T', 'S', 'E', 'A', 'L', '1', '\n'};

// Ends a block. crc is zlib's CRC-32 (ISO-HDLC) of every byte from the
// block's first up to crc itself, this record's header and fields included.
struct SealPayload {
    char magic[8];  // kSealMagic: lets a reader tell a torn tail from corrupt framing
    uint64_t from;  // offset of the block's first byte: the end of the previous seal, or 0
    uint64_t records;  // records in the block, this seal not counted
    uint64_t ts_ns;  // CLOCK_MONOTONIC when the block was written
    uint32_t reason;  // SealReason
    uint32_t crc;
};
// The bytes of a seal record its own crc covers.
inline constexpr size_t kSealCovered = sizeof(UserRecordHeader) + offsetof(SealPayload, crc);
static_assert(sizeof(SealPayload) + sizeof(UserRecordHeader) == 48);

// Why a block was written when it was (kept for the post-mortem of a file).
enum class SealReason : uint32_t { Header = 0, Interval = 1, Size = 2, LostWindow = 3, Finish = 4, Abandoned = 5 };

// A writer's blocks stay below this, so a longer run of bytes after the last
// seal cannot be one torn write: it is corruption.
inline constexpr uint64_t kMaxBlock = (uint64_t{1} << 20) + 2 * kMaxRecord;

}  // namespace pintrace::trace
