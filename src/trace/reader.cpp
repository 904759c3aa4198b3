#include "trace/reader.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "events/decode.hpp"
#include "trace/checksum.hpp"
#include "trace/format.hpp"
#include "util/hex.hpp"

namespace pintrace {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep)
{
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto pos = text.find(sep);
        out.push_back(text.substr(0, pos));
        if (pos == std::string_view::npos) break;
        text.remove_prefix(pos + 1);
    }
    return out;
}

uint64_t parse_u64(std::string_view s)
{
    int base = 10;
    if (s.starts_with("0x")) {
        s.remove_prefix(2);
        base = 16;
    }
    uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v, base);
    return v;
}

void parse_section(TraceInfo& info, uint16_t id, std::string_view text)
{
    for (auto line : split(text, '\n')) {
        if (line.empty()) continue;
        if (id == trace::kSectionAttach) {
            auto f = split(line, '\t');
            f.resize(5);
            info.attach.push_back(attach_point(std::string(f[1]), static_cast<uint16_t>(parse_u64(f[0])), f[2],
                                               std::string(f[3]), std::string(f[4])));
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        auto key = line.substr(0, eq), value = line.substr(eq + 1);
        if (id == trace::kSectionMeta) {
            info.meta[std::string(key)] = std::string(value);
        } else if (id == trace::kSectionFlagLayout) {
            if (key == "write")
                info.flags.write = parse_u64(value);
            else if (key == "get")
                info.flags.get = parse_u64(value);
            else if (key == "pin")
                info.flags.pin = parse_u64(value);
            else if (key == "longterm")
                info.flags.longterm = parse_u64(value);
            else if (key == "source")
                info.flags.source = std::string(value);
        } else if (id == trace::kSectionMigrateReasons) {
            info.migrate_reasons[static_cast<int>(parse_u64(key))] = std::string(value);
        } else if (id == trace::kSectionPageFlags) {
            info.page_flags[static_cast<int>(parse_u64(key))] = std::string(value);
        }
        // Unknown sections: skipped, so older readers open newer files.
    }
}

std::string at(size_t offset) { return "at byte " + std::to_string(offset); }

// Like decode_kernel_record: false for a type from a newer pintrace
// (skipped, not an error).
// Every count a payload carries is checked against the record's own size
// before anything is allocated (need), and every pfn against the recorded
// RAM (pfns_ok): a record is at most kMaxRecord bytes, so no payload costs
// more than its size.
Result<bool> decode_user_record(uint16_t type, std::span<const std::byte> rec, size_t offset, Event& out,
                                const PfnBounds& bounds)
{
    auto payload = rec.subspan(sizeof(trace::UserRecordHeader));
    auto need = [&](size_t n) -> Result<void> {
        if (payload.size() < n)
            return make_error("corrupt record " + at(offset) + ": its counts need " + std::to_string(n) +
                              " bytes of payload, it has " + std::to_string(payload.size()));
        return {};
    };
    auto pfns_ok = [&](const char* what, uint64_t pfn) -> Result<void> {
        if (bounds.contains(pfn)) return {};
        return make_error("corrupt " + std::string(what) + " record " + at(offset) + ": pfn " + hex(pfn) + " " +
                          bounds.describe());
    };
    switch (type) {
    case trace::kRecStack: {
        trace::StackPayload p;
        if (auto r = need(sizeof p); !r) return r.error();
        std::memcpy(&p, payload.data(), sizeof p);
        size_t addr_bytes = size_t{p.nframes} * sizeof(uint64_t);
        if (auto r = need(sizeof p + addr_bytes); !r) return r.error();
        StackEvent s{p.id, static_cast<StackKind>(p.kind), p.tgid, {}};
        std::string_view text(reinterpret_cast<const char*>(payload.data()) + sizeof p + addr_bytes,
                              payload.size() - sizeof p - addr_bytes);
        auto names = split(text, '\n');
        for (uint32_t i = 0; i < p.nframes; ++i) {
            uint64_t addr;
            std::memcpy(&addr, payload.data() + sizeof p + i * sizeof addr, sizeof addr);
            s.frames.push_back({addr, i < names.size() ? std::string(names[i]) : std::string()});
        }
        out = std::move(s);
        return true;
    }
    case trace::kRecLost: {
        trace::LostPayload p;
        if (auto r = need(sizeof p); !r) return r.error();
        std::memcpy(&p, payload.data(), sizeof p);
        out = LostEvent{p.from_ns, p.to_ns, p.count};
        return true;
    }
    case trace::kRecFinish: {
        // 1.3 added error: an older file's record ends before it.
        trace::FinishPayload p{};
        constexpr size_t kBefore13 = offsetof(trace::FinishPayload, error);
        if (auto r = need(kBefore13); !r) return r.error();
        std::memcpy(&p, payload.data(), std::min(payload.size(), sizeof p));
        out = FinishEvent{p.end_ns,         p.records, p.lost,        static_cast<StopReason>(p.reason),
                          p.command_status, p.error,   p.skipped_runs, p.paired_pins};
        return true;
    }
    case trace::kRecProcess: {
        trace::ProcessPayload p;
        if (auto r = need(sizeof p); !r) return r.error();
        std::memcpy(&p, payload.data(), sizeof p);
        if (auto r = need(sizeof p + size_t{p.exe_len} + p.cgroup_len); !r) return r.error();
        const char* text = reinterpret_cast<const char*>(payload.data()) + sizeof p;
        out = ProcessInfoEvent{p.ts_ns, p.tgid, std::string(text, p.exe_len),
                               std::string(text + p.exe_len, p.cgroup_len)};
        return true;
    }
    case trace::kRecSnapshotPages: {
        trace::SnapshotPagesPayload p;
        if (auto r = need(sizeof p); !r) return r.error();
        std::memcpy(&p, payload.data(), sizeof p);
        if (auto r = need(sizeof p + size_t{p.count} * sizeof(trace::SeedPageEntry)); !r) return r.error();
        SnapshotPagesEvent e{p.ts_ns, std::vector<SeedPage>(p.count)};
        for (uint32_t i = 0; i < p.count; ++i) {
            trace::SeedPageEntry entry;
            std::memcpy(&entry, payload.data() + sizeof p + i * sizeof entry, sizeof entry);
            if (entry.held_as > static_cast<uint8_t>(SeedClass::ExtraRefs))
                return make_error("corrupt record " + at(offset) + ": snapshot page class " +
                                  std::to_string(entry.held_as));
            if (auto r = pfns_ok("snapshot page", entry.pfn); !r) return r.error();
            e.pages[i] = {entry.pfn, entry.refcount, entry.mapcount, static_cast<SeedClass>(entry.held_as)};
        }
        out = std::move(e);
        return true;
    }
    case trace::kRecSnapshotHolder: {
        trace::SnapshotHolderPayload p;
        if (auto r = need(sizeof p); !r) return r.error();
        std::memcpy(&p, payload.data(), sizeof p);
        size_t pfn_bytes = size_t{p.npfns} * sizeof(uint64_t);
        if (auto r = need(sizeof p + pfn_bytes + p.comm_len + p.exe_len + p.evidence_len + p.origin_len); !r)
            return r.error();
        SnapshotHolderEvent e{p.ts_ns, p.pid, p.likely != 0, {}, {}, {}, {}, std::vector<uint64_t>(p.npfns)};
        if (pfn_bytes) std::memcpy(e.pfns.data(), payload.data() + sizeof p, pfn_bytes);
        for (uint64_t pfn : e.pfns)
            if (auto r = pfns_ok("snapshot holder", pfn); !r) return r.error();
        const char* text = reinterpret_cast<const char*>(payload.data()) + sizeof p + pfn_bytes;
        e.comm.assign(text, p.comm_len);
        e.exe.assign(text + p.comm_len, p.exe_len);
        e.evidence.assign(text + p.comm_len + p.exe_len, p.evidence_len);
        e.origin.assign(text + p.comm_len + p.exe_len + p.evidence_len, p.origin_len);
        out = std::move(e);
        return true;
    }
    case trace::kRecPipeOpeners: {
        trace::PipeOpenersPayload p;
        if (auto r = need(sizeof p); !r) return r.error();
        std::memcpy(&p, payload.data(), sizeof p);
        if (auto r = need(sizeof p + size_t{p.count} * sizeof(trace::PipeOpenerEntry)); !r) return r.error();
        PipeOpenersEvent e{p.ts_ns, p.ino, std::vector<PipeOpener>(p.count)};
        for (uint32_t i = 0; i < p.count; ++i) {
            trace::PipeOpenerEntry entry;
            std::memcpy(&entry, payload.data() + sizeof p + i * sizeof entry, sizeof entry);
            e.openers[i] = {entry.pid, entry.fd, std::string(entry.comm, strnlen(entry.comm, sizeof entry.comm))};
        }
        out = std::move(e);
        return true;
    }
    case trace::kRecSnapshotEnd: {
        trace::SnapshotEndPayload p;
        if (auto r = need(sizeof p); !r) return r.error();
        std::memcpy(&p, payload.data(), sizeof p);
        if (auto r = need(sizeof p + size_t{p.source_len} + p.range_len + p.notes_len); !r) return r.error();
        const char* text = reinterpret_cast<const char*>(payload.data()) + sizeof p;
        SnapshotEndEvent e{p.start_ns,
                           p.end_ns,
                           p.pages,
                           p.suspicious_total,
                           p.suspicious_kept,
                           p.processes,
                           std::string(text, p.source_len),
                           std::string(text + p.source_len, p.range_len),
                           {}};
        for (auto line : split(std::string_view(text + p.source_len + p.range_len, p.notes_len), '\n'))
            if (!line.empty()) e.notes.emplace_back(line);
        out = std::move(e);
        return true;
    }
    }
    return false;
}

}  // namespace

Result<TraceReader> TraceReader::open(const std::string& path)
{
    // Special files are refused before anything is read: O_NONBLOCK keeps
    // the open of a FIFO from waiting for a writer.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return make_error("not a regular file");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return make_error(std::strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error("not a regular file");
    }
    TraceReader reader;
    // A recorder holds an exclusive lock for as long as it writes.
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) reader.being_written_ = true;
    size_t size = static_cast<size_t>(st.st_size);
    if (size > 0) {
        void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            ::close(fd);
            return make_error(std::string("cannot map: ") + std::strerror(errno));
        }
        reader.owner_ = std::shared_ptr<const void>(map, [size](const void* p) { munmap(const_cast<void*>(p), size); });
        reader.data_ = {static_cast<const std::byte*>(map), size};
    }
    ::close(fd);
    if (auto r = reader.parse_header(); !r) return r.error();
    return reader;
}

Result<TraceReader> TraceReader::from_bytes(std::string bytes)
{
    TraceReader reader;
    auto owned = std::make_shared<std::string>(std::move(bytes));
    reader.data_ = std::as_bytes(std::span(owned->data(), owned->size()));
    reader.owner_ = owned;
    if (auto r = reader.parse_header(); !r) return r.error();
    return reader;
}

Result<void> TraceReader::parse_header()
{
    trace::FileHeader fh;
    if (data_.empty())
        return make_error("empty: the recorder stopped before it wrote the trace header (nothing was recorded)");
    if (data_.size() < sizeof fh)
        return make_error("not a pintrace trace: " + std::to_string(data_.size()) + " bytes is too short for a header");
    std::memcpy(&fh, data_.data(), sizeof fh);
    if (std::memcmp(fh.magic, trace::kMagic, sizeof fh.magic) != 0)
        return make_error("not a pintrace trace (bad magic)");
    if (fh.major > trace::kMajor)
        return make_error("trace format " + std::to_string(fh.major) + "." + std::to_string(fh.minor) +
                          " is newer than this pintrace reads (" + std::to_string(trace::kMajor) +
                          ".x): use a newer pintrace");
    if (fh.major == 0) return make_error("corrupt header: format version 0");
    size_t end = sizeof fh + size_t{fh.sections_bytes};
    if (end > data_.size())
        return make_error("truncated: the header says " + std::to_string(end) + " bytes of sections but the file has " +
                          std::to_string(data_.size()));
    size_t off = sizeof fh;
    while (off < end) {
        trace::SectionHeader sh;
        if (end - off < sizeof sh) return make_error("corrupt header section " + at(off));
        std::memcpy(&sh, data_.data() + off, sizeof sh);
        size_t body = off + sizeof sh;
        if (sh.length > end - body) return make_error("corrupt header section " + at(off) + ": length past header");
        parse_section(info_, sh.id, std::string_view(reinterpret_cast<const char*>(data_.data()) + body, sh.length));
        off = (body + sh.length + 7) & ~size_t{7};
    }
    if (!info_.flags.valid()) return make_error("corrupt header: no FOLL_* flag layout");
    if (auto ram = info_.meta.find("ram_pfns"); ram != info_.meta.end()) {
        auto bounds = PfnBounds::parse(ram->second);
        if (!bounds) return make_error("corrupt header: " + bounds.error().message);
        pfns_ = std::move(bounds.value());
    }
    records_offset_ = end;
    minor_ = fh.major > 1 ? UINT16_MAX : fh.minor;
    return {};
}

namespace {

struct Framing {
    uint16_t type = 0;
    uint16_t size = 0;
};

// The record header at off, if the file holds one whole record there.
enum class RecordFit { Whole, Partial, Bad };
RecordFit frame_at(std::span<const std::byte> data, size_t off, Framing& f)
{
    size_t left = data.size() - off;
    if (left < sizeof f) return RecordFit::Partial;
    std::memcpy(&f.type, data.data() + off, 2);
    std::memcpy(&f.size, data.data() + off + 2, 2);
    if (f.size < 8 || f.size % 8 != 0) return RecordFit::Bad;
    return f.size > left ? RecordFit::Partial : RecordFit::Whole;
}

bool all_zero(std::span<const std::byte> bytes)
{
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

bool is_seal(std::span<const std::byte> data, size_t off, const Framing& f)
{
    return f.type == trace::kRecSeal && f.size >= sizeof(trace::UserRecordHeader) + sizeof(trace::SealPayload) &&
           std::memcmp(data.data() + off + sizeof(trace::UserRecordHeader), trace::kSealMagic,
                       sizeof trace::kSealMagic) == 0;
}

std::string incomplete_message(const ReadSummary& s)
{
    return "incomplete: the file ends after " + std::to_string(s.records) +
           " records without its closing record (the recorder was killed, the disk filled, or the file was cut); "
           "--allow-incomplete reads it anyway";
}

}  // namespace

Result<ReadSummary> TraceReader::read(const std::function<void(const Event&)>& sink, ReadOptions options) const
{
    auto summary = minor_ >= 3 ? read_sealed(sink, options) : read_legacy(sink, options);
    if (summary) {
        summary->file_bytes = data_.size();
        summary->being_written = being_written_;
    }
    return summary;
}

// Decodes and passes on the records in [from, to), whose framing is known
// good; true once a Finish record was passed on.
Result<bool> TraceReader::deliver(size_t from, size_t to, const std::function<void(const Event&)>& sink,
                                  ReadSummary& summary) const
{
    Event event;
    for (size_t off = from; off < to;) {
        Framing f;
        frame_at(data_, off, f);
        auto rec = data_.subspan(off, f.size);
        if (f.type == trace::kRecSeal) {
            off += f.size;
            continue;
        }
        ++summary.records;
        if (f.type >= trace::kFirstUserRecord) {
            auto known = decode_user_record(f.type, rec, off, event, pfns_);
            if (!known) return known.error();
            if (!known.value()) {
                ++summary.unknown_records;
            } else {
                sink(event);
                if (f.type == trace::kRecFinish) {
                    summary.finished = true;
                    summary.end_offset = off + f.size;
                    return true;
                }
            }
        } else {
            DecodeNotes notes;
            auto known = decode_kernel_record(rec, info_.flags, event, pfns_, &notes);
            if (!known) return make_error("corrupt " + known.error().message + " " + at(off));
            summary.outside_ram_records += notes.outside_ram;
            if (known.value())
                sink(event);
            else
                ++summary.unknown_records;
        }
        off += f.size;
        summary.end_offset = off;
    }
    return false;
}

// 1.3: block by block, each checked against its seal before any of it is
// passed on. After the last seal there can only be one torn block.
Result<ReadSummary> TraceReader::read_sealed(const std::function<void(const Event&)>& sink, ReadOptions options) const
{
    ReadSummary summary;
    summary.sealed = true;
    size_t block = 0, off = records_offset_;
    summary.end_offset = off;
    while (off < data_.size()) {
        Framing f;
        RecordFit frame = frame_at(data_, off, f);
        if (frame == RecordFit::Whole && is_seal(data_, off, f)) {
            trace::SealPayload seal;
            std::memcpy(&seal, data_.data() + off + sizeof(trace::UserRecordHeader), sizeof seal);
            uint32_t crc = trace::block_crc(data_.data() + block, off + trace::kSealCovered - block);
            if (seal.from != block || crc != seal.crc)
                return make_error("corrupt: checksum mismatch in bytes " + std::to_string(block) + "-" +
                                  std::to_string(off) + (block == 0 ? " (the header)" : "") +
                                  ": the file was damaged after it was written");
            auto done = deliver(std::max(block, records_offset_), off, sink, summary);
            if (!done) return done.error();
            ++summary.blocks;
            summary.last_block_ns = seal.ts_ns;
            off += f.size;
            block = off;
            summary.end_offset = off;
            if (done.value()) return summary;
            continue;
        }
        if (frame == RecordFit::Whole) {
            off += f.size;
            continue;
        }
        // The framing stops here: a torn last block ends in a partial record
        // or a zero fill; anything else is damage.
        if (frame == RecordFit::Bad && !all_zero(data_.subspan(off)))
            return make_error("corrupt record " + at(off) + ": size " + std::to_string(f.size));
        break;
    }
    // After the last seal: one torn block at most, and no seal within it.
    size_t tail = data_.size() - block;
    if (tail > trace::kMaxBlock)
        return make_error("corrupt: " + std::to_string(tail) + " bytes after the last checksum " + at(block) +
                          ", more than one write: the framing is damaged");
    for (size_t at8 = block; at8 + 48 <= data_.size(); at8 += 8) {
        Framing f;
        if (frame_at(data_, at8, f) == RecordFit::Whole && is_seal(data_, at8, f))
            return make_error("corrupt: a checksum record " + at(at8) + " is out of step with the records before it");
    }
    if (!options.allow_incomplete) return make_error(incomplete_message(summary));
    uint64_t before = summary.records;
    auto done = deliver(block, off, sink, summary);
    if (!done) return done.error();
    summary.unverified_records = summary.records - before;
    summary.end_offset = off;
    summary.torn_bytes = data_.size() - off;
    return summary;
}

std::string reseal(std::string bytes)
{
    auto data = std::as_bytes(std::span(bytes.data(), bytes.size()));
    trace::FileHeader fh;
    if (bytes.size() < sizeof fh) return bytes;
    std::memcpy(&fh, bytes.data(), sizeof fh);
    size_t block = 0, off = sizeof fh + size_t{fh.sections_bytes};
    Framing f;
    while (off < bytes.size() && frame_at(data, off, f) == RecordFit::Whole) {
        if (is_seal(data, off, f)) {
            trace::SealPayload seal;
            char* at = bytes.data() + off + sizeof(trace::UserRecordHeader);
            std::memcpy(&seal, at, sizeof seal);
            seal.from = block;
            std::memcpy(at, &seal, sizeof seal);
            seal.crc = trace::block_crc(bytes.data() + block, off + trace::kSealCovered - block);
            std::memcpy(at, &seal, sizeof seal);
            block = off + f.size;
        }
        off += f.size;
    }
    return bytes;
}

// 1.0-1.2: no checksums; a partial last record is the torn end of a killed
// recording.
Result<ReadSummary> TraceReader::read_legacy(const std::function<void(const Event&)>& sink, ReadOptions options) const
{
    ReadSummary summary;
    size_t off = records_offset_;
    summary.end_offset = off;
    while (off < data_.size()) {
        Framing f;
        RecordFit frame = frame_at(data_, off, f);
        if (frame == RecordFit::Bad && !all_zero(data_.subspan(off)))
            return make_error("corrupt record " + at(off) + ": size " + std::to_string(f.size));
        if (frame != RecordFit::Whole) break;
        // A seal is 1.3's: a header that says otherwise was damaged.
        if (is_seal(data_, off, f))
            return make_error("corrupt header: it says format 1." + std::to_string(minor_) +
                              " but the records are sealed, as from 1.3 " + at(off));
        auto done = deliver(off, off + f.size, sink, summary);
        if (!done) return done.error();
        off += f.size;
        if (done.value()) return summary;
    }
    if (!options.allow_incomplete) return make_error(incomplete_message(summary));
    summary.end_offset = off;
    summary.torn_bytes = data_.size() - off;
    return summary;
}

}  // namespace pintrace
