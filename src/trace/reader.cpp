#include "trace/reader.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "events/decode.hpp"
#include "trace/format.hpp"

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
            info.attach.push_back({std::string(f[1]), static_cast<uint16_t>(parse_u64(f[0])), std::string(f[2]),
                                   std::string(f[3]), std::string(f[4])});
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        auto key = line.substr(0, eq), value = line.substr(eq + 1);
        if (id == trace::kSectionMeta) {
            info.meta[std::string(key)] = std::string(value);
        } else if (id == trace::kSectionFlagLayout) {
            if (key == "write") info.flags.write = parse_u64(value);
            else if (key == "get") info.flags.get = parse_u64(value);
            else if (key == "pin") info.flags.pin = parse_u64(value);
            else if (key == "longterm") info.flags.longterm = parse_u64(value);
            else if (key == "source") info.flags.source = std::string(value);
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
        char hex[24];
        std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(pfn));
        return make_error("corrupt " + std::string(what) + " record " + at(offset) + ": pfn " + hex + " " +
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
        trace::FinishPayload p;
        if (auto r = need(sizeof p); !r) return r.error();
        std::memcpy(&p, payload.data(), sizeof p);
        out = FinishEvent{p.end_ns, p.records, p.lost, static_cast<StopReason>(p.reason), p.command_status};
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
    case trace::kRecSnapshotEnd: {
        trace::SnapshotEndPayload p;
        if (auto r = need(sizeof p); !r) return r.error();
        std::memcpy(&p, payload.data(), sizeof p);
        if (auto r = need(sizeof p + size_t{p.source_len} + p.range_len + p.notes_len); !r) return r.error();
        const char* text = reinterpret_cast<const char*>(payload.data()) + sizeof p;
        SnapshotEndEvent e{p.start_ns, p.end_ns, p.pages, p.suspicious_total, p.suspicious_kept, p.processes,
                           std::string(text, p.source_len), std::string(text + p.source_len, p.range_len), {}};
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
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error("not a regular file");
    }
    TraceReader reader;
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
    if (end > data_.size()) return make_error("truncated: the header says " + std::to_string(end) +
                                              " bytes of sections but the file has " + std::to_string(data_.size()));
    size_t off = sizeof fh;
    while (off < end) {
        trace::SectionHeader sh;
        if (end - off < sizeof sh) return make_error("corrupt header section " + at(off));
        std::memcpy(&sh, data_.data() + off, sizeof sh);
        size_t body = off + sizeof sh;
        if (sh.length > end - body) return make_error("corrupt header section " + at(off) + ": length past header");
        parse_section(info_, sh.id,
                      std::string_view(reinterpret_cast<const char*>(data_.data()) + body, sh.length));
        off = (body + sh.length + 7) & ~size_t{7};
    }
    if (!info_.flags.valid()) return make_error("corrupt header: no FOLL_* flag layout");
    if (auto ram = info_.meta.find("ram_pfns"); ram != info_.meta.end()) {
        auto bounds = PfnBounds::parse(ram->second);
        if (!bounds) return make_error("corrupt header: " + bounds.error().message);
        pfns_ = std::move(bounds.value());
    }
    records_offset_ = end;
    return {};
}

Result<ReadSummary> TraceReader::read(const std::function<void(const Event&)>& sink, ReadOptions options) const
{
    ReadSummary summary;
    Event event;
    size_t off = records_offset_;
    while (off < data_.size()) {
        size_t left = data_.size() - off;
        uint16_t type, size;
        if (left < 4) return make_error("truncated " + at(off) + ": a partial record header");
        std::memcpy(&type, data_.data() + off, 2);
        std::memcpy(&size, data_.data() + off + 2, 2);
        if (size < 8 || size % 8 != 0)
            return make_error("corrupt record " + at(off) + ": size " + std::to_string(size));
        if (size > left)
            return make_error("truncated " + at(off) + ": record of " + std::to_string(size) + " bytes, " +
                              std::to_string(left) + " left in the file");
        auto rec = data_.subspan(off, size);
        ++summary.records;
        if (type >= trace::kFirstUserRecord) {
            auto known = decode_user_record(type, rec, off, event, pfns_);
            if (!known) return known.error();
            if (!known.value()) {
                ++summary.unknown_records;
            } else {
                sink(event);
                if (type == trace::kRecFinish) {
                    summary.finished = true;
                    return summary;
                }
            }
        } else {
            auto known = decode_kernel_record(rec, info_.flags, event, pfns_);
            if (!known) return make_error("corrupt " + known.error().message + " " + at(off));
            if (known.value()) sink(event);
            else ++summary.unknown_records;
        }
        off += size;
    }
    if (!options.allow_incomplete)
        return make_error("incomplete: the file ends after " + std::to_string(summary.records) +
                          " records without its closing record (the recorder was killed or the file was cut); "
                          "--allow-incomplete reads it anyway");
    return summary;
}

}  // namespace pintrace
