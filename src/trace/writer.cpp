#include "trace/writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <vector>

#include "trace/format.hpp"

namespace pintrace {
namespace {

static_assert(trace::kMinAddedRecord >= sizeof(pt_header));

// Header values are single-line text fields: keep them that way.
std::string clean(std::string s)
{
    for (auto& c : s)
        if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    return s;
}

std::string hex(uint64_t v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

std::string encode_section_text(const TraceInfo& info, uint16_t section)
{
    std::string out;
    switch (section) {
    case trace::kSectionMeta:
        for (const auto& [k, v] : info.meta) out += clean(k) + "=" + clean(v) + "\n";
        break;
    case trace::kSectionFlagLayout:
        out += "write=" + hex(info.flags.write) + "\nget=" + hex(info.flags.get) + "\npin=" + hex(info.flags.pin) +
               "\nlongterm=" + hex(info.flags.longterm) + "\nsource=" + clean(info.flags.source) + "\n";
        break;
    case trace::kSectionAttach:
        for (const auto& a : info.attach)
            out += std::to_string(a.hook) + "\t" + clean(a.target) + "\t" + clean(a.mode) + "\t" + clean(a.detail) +
                   "\t" + clean(a.hides) + "\n";
        break;
    case trace::kSectionMigrateReasons:
        for (const auto& [n, name] : info.migrate_reasons) out += std::to_string(n) + "=" + clean(name) + "\n";
        break;
    case trace::kSectionPageFlags:
        for (const auto& [n, name] : info.page_flags) out += std::to_string(n) + "=" + clean(name) + "\n";
        break;
    }
    return out;
}

Result<TraceWriter> TraceWriter::create(const std::string& path, const TraceInfo& info)
{
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
    if (!file) return make_error("cannot create " + path + ": " + std::strerror(errno));
    std::setvbuf(file.get(), nullptr, _IOFBF, 1 << 20);

    std::vector<char> sections;
    for (uint16_t id : {trace::kSectionMeta, trace::kSectionFlagLayout, trace::kSectionAttach,
                        trace::kSectionMigrateReasons, trace::kSectionPageFlags}) {
        std::string text = encode_section_text(info, id);
        trace::SectionHeader sh{id, 0, static_cast<uint32_t>(text.size())};
        const char* p = reinterpret_cast<const char*>(&sh);
        sections.insert(sections.end(), p, p + sizeof sh);
        sections.insert(sections.end(), text.begin(), text.end());
        sections.resize((sections.size() + 7) & ~size_t{7}, '\0');
    }

    trace::FileHeader fh{};
    std::memcpy(fh.magic, trace::kMagic, sizeof fh.magic);
    fh.major = trace::kMajor;
    fh.minor = trace::kMinor;
    fh.sections_bytes = static_cast<uint32_t>(sections.size());

    TraceWriter writer(std::move(file), path);
    if (auto r = writer.write(&fh, sizeof fh); !r) return r.error();
    if (auto r = writer.write(sections.data(), sections.size()); !r) return r.error();
    return writer;
}

Result<void> TraceWriter::write(const void* data, size_t size)
{
    if (std::fwrite(data, 1, size, file_.get()) != size)
        return make_error("write to " + path_ + " failed: " + std::strerror(errno));
    return {};
}

Result<void> TraceWriter::append_kernel_record(std::span<const std::byte> record)
{
    ++records_;
    return write(record.data(), record.size());
}

Result<void> TraceWriter::write_user_record(uint16_t type, std::span<const std::byte> payload, size_t min_size)
{
    size_t size = (std::max(sizeof(trace::UserRecordHeader) + payload.size(), min_size) + 7) & ~size_t{7};
    if (size > trace::kMaxRecord) return make_error("record too large for the trace format");
    trace::UserRecordHeader h{type, static_cast<uint16_t>(size), 0};
    static const std::byte zeros[trace::kMinAddedRecord] = {};
    ++records_;
    if (auto r = write(&h, sizeof h); !r) return r;
    if (auto r = write(payload.data(), payload.size()); !r) return r;
    return write(zeros, size - sizeof h - payload.size());
}

Result<void> TraceWriter::append(const StackEvent& stack)
{
    trace::StackPayload p{stack.id, static_cast<uint32_t>(stack.kind), stack.tgid, 0};
    std::vector<uint64_t> addrs;
    std::string symbols;
    size_t budget = trace::kMaxRecord - 64;
    for (const auto& f : stack.frames) {
        std::string sym = clean(f.symbol).substr(0, 240);
        size_t cost = sizeof(uint64_t) + sym.size() + 1;
        if (cost > budget) break;  // absurdly deep: keep the innermost frames
        budget -= cost;
        addrs.push_back(f.addr);
        symbols += sym + "\n";
    }
    p.nframes = static_cast<uint32_t>(addrs.size());
    std::vector<std::byte> payload(sizeof p + addrs.size() * sizeof(uint64_t) + symbols.size());
    std::memcpy(payload.data(), &p, sizeof p);
    std::memcpy(payload.data() + sizeof p, addrs.data(), addrs.size() * sizeof(uint64_t));
    std::memcpy(payload.data() + sizeof p + addrs.size() * sizeof(uint64_t), symbols.data(), symbols.size());
    return write_user_record(trace::kRecStack, payload);
}

Result<void> TraceWriter::append(const LostEvent& lost)
{
    trace::LostPayload p{lost.from_ns, lost.to_ns, lost.count};
    return write_user_record(trace::kRecLost, std::as_bytes(std::span(&p, 1)));
}

// Paths are stored as they are, length-prefixed: unlike header text they
// may hold any byte.
Result<void> TraceWriter::append(const ProcessInfoEvent& process)
{
    if (process.exe.size() > UINT16_MAX || process.cgroup.size() > UINT16_MAX)
        return make_error("process record too large for the trace format");
    trace::ProcessPayload p{process.ts_ns, process.tgid, static_cast<uint16_t>(process.exe.size()),
                            static_cast<uint16_t>(process.cgroup.size())};
    std::vector<std::byte> payload(sizeof p + process.exe.size() + process.cgroup.size());
    std::memcpy(payload.data(), &p, sizeof p);
    std::memcpy(payload.data() + sizeof p, process.exe.data(), process.exe.size());
    std::memcpy(payload.data() + sizeof p + process.exe.size(), process.cgroup.data(), process.cgroup.size());
    return write_user_record(trace::kRecProcess, payload, trace::kMinAddedRecord);
}

namespace {

// A payload laid out as a fixed struct followed by byte runs.
template <typename Fixed>
std::vector<std::byte> pack(const Fixed& fixed, std::initializer_list<std::span<const std::byte>> runs)
{
    size_t size = sizeof fixed;
    for (auto run : runs) size += run.size();
    std::vector<std::byte> out(size);
    std::memcpy(out.data(), &fixed, sizeof fixed);
    size_t at = sizeof fixed;
    for (auto run : runs) {
        if (!run.empty()) std::memcpy(out.data() + at, run.data(), run.size());
        at += run.size();
    }
    return out;
}

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// Bytes a record has for its variable part once the header and the fixed
// payload are in.
template <typename Fixed>
constexpr size_t room_after()
{
    return trace::kMaxRecord - sizeof(trace::UserRecordHeader) - sizeof(Fixed);
}

}  // namespace

Result<void> TraceWriter::append(const SnapshotPagesEvent& pages)
{
    constexpr size_t kPerRecord = room_after<trace::SnapshotPagesPayload>() / sizeof(trace::SeedPageEntry);
    std::span<const SeedPage> left(pages.pages);
    do {
        auto chunk = left.first(std::min(left.size(), kPerRecord));
        left = left.subspan(chunk.size());
        std::vector<trace::SeedPageEntry> entries(chunk.size());
        for (size_t i = 0; i < chunk.size(); ++i)
            entries[i] = {chunk[i].pfn, chunk[i].refcount, chunk[i].mapcount, static_cast<uint8_t>(chunk[i].held_as), {}};
        trace::SnapshotPagesPayload p{pages.ts_ns, static_cast<uint32_t>(chunk.size()), 0};
        if (auto r = write_user_record(trace::kRecSnapshotPages, pack(p, {std::as_bytes(std::span(entries))}),
                                       trace::kMinAddedRecord);
            !r)
            return r;
    } while (!left.empty());
    return {};
}

Result<void> TraceWriter::append(const SnapshotHolderEvent& holder)
{
    // Evidence is one line for people; a longer one is cut, not refused.
    std::string_view comm = std::string_view(holder.comm).substr(0, 64);
    std::string_view exe = std::string_view(holder.exe).substr(0, 4096);
    std::string_view evidence = std::string_view(holder.evidence).substr(0, 4096);
    std::string_view origin = std::string_view(holder.origin).substr(0, 255);
    size_t strings = comm.size() + exe.size() + evidence.size() + origin.size();
    size_t per_record = (room_after<trace::SnapshotHolderPayload>() - strings) / sizeof(uint64_t);
    std::span<const uint64_t> left(holder.pfns);
    do {
        auto chunk = left.first(std::min(left.size(), per_record));
        left = left.subspan(chunk.size());
        trace::SnapshotHolderPayload p{holder.ts_ns,
                                       holder.pid,
                                       uint8_t{holder.likely},
                                       static_cast<uint8_t>(origin.size()),
                                       static_cast<uint16_t>(comm.size()),
                                       static_cast<uint16_t>(exe.size()),
                                       static_cast<uint16_t>(evidence.size()),
                                       static_cast<uint32_t>(chunk.size())};
        auto payload = pack(p, {std::as_bytes(chunk), bytes_of(comm), bytes_of(exe), bytes_of(evidence),
                                       bytes_of(origin)});
        if (auto r = write_user_record(trace::kRecSnapshotHolder, payload, trace::kMinAddedRecord); !r) return r;
    } while (!left.empty());
    return {};
}

Result<void> TraceWriter::append(const SnapshotEndEvent& end)
{
    std::string notes;
    for (const auto& n : end.notes) notes += (notes.empty() ? "" : "\n") + n.substr(0, 1024);
    std::string_view source = std::string_view(end.source).substr(0, 1024);
    std::string_view range = std::string_view(end.range).substr(0, 1024);
    notes.resize(std::min(notes.size(), room_after<trace::SnapshotEndPayload>() - source.size() - range.size()));
    trace::SnapshotEndPayload p{end.start_ns,
                                end.end_ns,
                                end.pages,
                                end.suspicious_total,
                                end.suspicious_kept,
                                end.processes,
                                static_cast<uint16_t>(source.size()),
                                static_cast<uint16_t>(range.size()),
                                static_cast<uint32_t>(notes.size())};
    return write_user_record(trace::kRecSnapshotEnd, pack(p, {bytes_of(source), bytes_of(range), bytes_of(notes)}),
                             trace::kMinAddedRecord);
}

Result<void> TraceWriter::finish(const FinishEvent& finish)
{
    trace::FinishPayload p{finish.end_ns, records_ + 1, finish.lost, static_cast<uint32_t>(finish.reason),
                           finish.command_status};
    if (auto r = write_user_record(trace::kRecFinish, std::as_bytes(std::span(&p, 1))); !r) return r;
    if (std::fflush(file_.get()) != 0 || fsync(fileno(file_.get())) != 0)
        return make_error("cannot flush " + path_ + ": " + std::strerror(errno));
    return {};
}

}  // namespace pintrace
