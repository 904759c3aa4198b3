#include "trace/writer.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "trace/checksum.hpp"
#include "trace/format.hpp"
#include "util/clock.hpp"
#include "util/hex.hpp"

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
            out += std::to_string(a.hook) + "\t" + clean(a.target) + "\t" + clean(std::string(a.mode())) + "\t" +
                   clean(a.detail) + "\t" + clean(a.hides) + "\n";
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

namespace {

std::string errno_text(int err) { return std::strerror(err); }

Error os_error(const std::string& what, const std::string& path, int err)
{
    return make_error(what + " " + path + ": " + errno_text(err));
}

// write(2) until done: a regular file takes it all unless the disk is full
// or a signal arrives mid-copy.
int write_all(int fd, const std::byte* data, size_t size)
{
    while (size) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return ENOSPC;
        data += n;
        size -= static_cast<size_t>(n);
    }
    return 0;
}

}  // namespace

Result<TraceFile> TraceFile::claim(const std::string& path, TraceFileOptions options)
{
    // Special files are refused before they are opened (O_NONBLOCK: the
    // open of a FIFO for writing would wait for a reader).
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return make_error(path + " is not a regular file");
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600));
    if (fd.get() < 0) return os_error("cannot create", path, errno);
    if (fstat(fd.get(), &st) != 0) return os_error("cannot stat", path, errno);
    if (!S_ISREG(st.st_mode)) return make_error(path + " is not a regular file");
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return make_error(path + " is being written by another pintrace record: choose another -o");
        return os_error("cannot lock", path, errno);
    }
    std::string previous;
    if (st.st_size > 0 && options.keep_previous) {
        previous = path + ".old";
        if (::rename(path.c_str(), previous.c_str()) != 0) return os_error("cannot keep the previous", path, errno);
        // The lock stays with the old file; the new one must not exist yet,
        // or another recorder got there first.
        Fd fresh(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (fresh.get() < 0) return os_error("cannot create", path, errno);
        if (flock(fresh.get(), LOCK_EX | LOCK_NB) != 0) return os_error("cannot lock", path, errno);
        fd = std::move(fresh);
    } else if (ftruncate(fd.get(), 0) != 0) {
        return os_error("cannot truncate", path, errno);
    }
    // An existing file keeps its mode on open: this one is private whatever it was.
    if (fchmod(fd.get(), 0600) != 0) return os_error("cannot chmod", path, errno);
    int flags = fcntl(fd.get(), F_GETFL);
    if (flags >= 0) fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    return TraceFile(std::move(fd), path, std::move(previous));
}

Result<TraceWriter> TraceWriter::create(const std::string& path, const TraceInfo& info)
{
    auto file = TraceFile::claim(path);
    if (!file) return file.error();
    return create(std::move(file.value()), info);
}

Result<TraceWriter> TraceWriter::create(TraceFile file, const TraceInfo& info, TraceWriterOptions options)
{
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
    if (sections.size() > UINT32_MAX) return make_error("trace header too large");

    trace::FileHeader fh{};
    std::memcpy(fh.magic, trace::kMagic, sizeof fh.magic);
    fh.major = trace::kMajor;
    fh.minor = trace::kMinor;
    fh.sections_bytes = static_cast<uint32_t>(sections.size());

    // The header is a block of its own, on disk before any record is taken:
    // a recorder killed in its first second still leaves a readable file.
    TraceWriter writer(std::move(file), options);
    writer.put(&fh, sizeof fh);
    writer.put(sections.data(), sections.size());
    if (auto r = writer.write_block(trace::SealReason::Header); !r) return r.error();
    if (fdatasync(writer.file_.fd_.get()) != 0) return os_error("cannot sync", writer.path(), errno);
    return writer;
}

TraceWriter::~TraceWriter()
{
    // Not finished (an error return, an exception): keep what was taken.
    if (file_.fd_.get() >= 0 && !finished_ && !write_errno_ && block_records_)
        (void)write_block(trace::SealReason::Abandoned);
}

void TraceWriter::put(const void* data, size_t size)
{
    auto bytes = static_cast<const std::byte*>(data);
    block_.insert(block_.end(), bytes, bytes + size);
}

Error TraceWriter::write_error() const { return os_error("cannot write", path(), write_errno_); }

Result<void> TraceWriter::end_record()
{
    ++records_;
    if (!block_records_++) block_first_ns_ = monotonic_now_ns();
    if (block_.size() >= options_.block_bytes) return write_block(trace::SealReason::Size);
    // One drain can last long on a busy machine (libbpf consumes the ring
    // buffer for as long as it keeps filling), so the age of a block is also
    // checked here, every 64 records, not only at the checkpoint after it.
    if (block_records_ % 64 == 0 && monotonic_now_ns() - block_first_ns_ >= options_.flush_interval_ns)
        return write_block(trace::SealReason::Interval);
    return {};
}

// One write(2) per block, its seal last: a reader trusts nothing of a block
// whose seal it has not checked, so a torn write is at most one block.
Result<void> TraceWriter::write_block(trace::SealReason reason)
{
    if (write_errno_) return write_error();
    trace::UserRecordHeader h{trace::kRecSeal, sizeof(trace::UserRecordHeader) + sizeof(trace::SealPayload), 0};
    trace::SealPayload seal{};
    std::memcpy(seal.magic, trace::kSealMagic, sizeof seal.magic);
    seal.from = file_end_;
    seal.records = block_records_;
    seal.ts_ns = monotonic_now_ns();
    seal.reason = static_cast<uint32_t>(reason);
    put(&h, sizeof h);
    put(&seal, sizeof seal);
    seal.crc = trace::block_crc(block_.data(), block_.size() - sizeof seal.crc);
    std::memcpy(block_.data() + block_.size() - sizeof seal.crc, &seal.crc, sizeof seal.crc);

    int fd = file_.fd_.get();
    // Room for this block and a closing one, or none of it is written: a
    // full disk then still takes the Finish record (where the file system
    // can reserve; elsewhere a failed write is cut off below).
    int err = 0;
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(file_end_), static_cast<off_t>(block_.size() + 4096)) !=
            0 &&
        (errno == ENOSPC || errno == EDQUOT || errno == EFBIG))
        err = errno;
    if (!err) err = write_all(fd, block_.data(), block_.size());
    if (err) {
        // Cut back to the last whole block, so the file stays readable.
        (void)!ftruncate(fd, static_cast<off_t>(file_end_));
        write_errno_ = err;
        block_.clear();
        block_records_ = 0;
        return write_error();
    }
    file_end_ += block_.size();
    block_.clear();
    block_records_ = 0;
    return {};
}

Result<void> TraceWriter::checkpoint()
{
    if (write_errno_) return write_error();
    if (block_records_ && monotonic_now_ns() - block_first_ns_ >= options_.flush_interval_ns)
        return write_block(trace::SealReason::Interval);
    return {};
}

Result<void> TraceWriter::append_kernel_record(std::span<const std::byte> record)
{
    if (write_errno_) return write_error();
    put(record.data(), record.size());
    return end_record();
}

Result<void> TraceWriter::write_user_record(uint16_t type, std::span<const std::byte> payload, size_t min_size)
{
    if (write_errno_) return write_error();
    size_t size = (std::max(sizeof(trace::UserRecordHeader) + payload.size(), min_size) + 7) & ~size_t{7};
    if (size > trace::kMaxRecord) return make_error("record too large for the trace format");
    trace::UserRecordHeader h{type, static_cast<uint16_t>(size), 0};
    static const std::byte zeros[trace::kMinAddedRecord] = {};
    put(&h, sizeof h);
    put(payload.data(), payload.size());
    put(zeros, size - sizeof h - payload.size());
    return end_record();
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

// A lost-event window ends a block: what came before it is on disk before
// whatever made the kernel drop records gets any worse.
Result<void> TraceWriter::append(const LostEvent& lost)
{
    trace::LostPayload p{lost.from_ns, lost.to_ns, lost.count};
    if (auto r = write_user_record(trace::kRecLost, std::as_bytes(std::span(&p, 1))); !r) return r;
    return write_block(trace::SealReason::LostWindow);
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

Result<void> TraceWriter::append(const PipeOpenersEvent& pipe)
{
    // A record is at most kMaxRecord bytes: a pipe open in more places than
    // that holds is cut (the report names the first ones).
    size_t count = std::min(pipe.openers.size(), (trace::kMaxRecord - sizeof(trace::UserRecordHeader) -
                                                  sizeof(trace::PipeOpenersPayload)) /
                                                     sizeof(trace::PipeOpenerEntry));
    trace::PipeOpenersPayload p{pipe.ts_ns, pipe.ino, static_cast<uint32_t>(count), 0};
    std::vector<std::byte> payload(sizeof p + count * sizeof(trace::PipeOpenerEntry));
    std::memcpy(payload.data(), &p, sizeof p);
    for (size_t i = 0; i < count; ++i) {
        trace::PipeOpenerEntry entry{pipe.openers[i].pid, pipe.openers[i].fd, {}};
        pipe.openers[i].comm.copy(entry.comm, sizeof entry.comm);
        std::memcpy(payload.data() + sizeof p + i * sizeof entry, &entry, sizeof entry);
    }
    return write_user_record(trace::kRecPipeOpeners, payload, trace::kMinAddedRecord);
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
            entries[i] = {
                chunk[i].pfn, chunk[i].refcount, chunk[i].mapcount, static_cast<uint8_t>(chunk[i].held_as), {}};
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
        auto payload =
            pack(p, {std::as_bytes(chunk), bytes_of(comm), bytes_of(exe), bytes_of(evidence), bytes_of(origin)});
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

// After a failed write the file ends at its last whole block; the Finish
// record is still tried there (the failed block's space, or the reserve,
// usually takes it), so the reader learns why the recording stopped.
Result<void> TraceWriter::finish(const FinishEvent& finish)
{
    if (finished_) return make_error("trace already finished");
    finished_ = true;
    int failed = write_errno_;
    write_errno_ = 0;
    trace::FinishPayload p{finish.end_ns,         records_ + 1, finish.lost, static_cast<uint32_t>(finish.reason),
                           finish.command_status, finish.error, 0,           finish.skipped_runs,
                           finish.paired_pins};
    if (failed) {
        p.reason = static_cast<uint32_t>(StopReason::WriteFailed);
        p.error = failed;
    }
    auto written = write_user_record(trace::kRecFinish, std::as_bytes(std::span(&p, 1)));
    if (written) written = write_block(trace::SealReason::Finish);
    if (!written)
        return make_error(written.error().message + " (the file ends at byte " + std::to_string(file_end_) +
                          ", unclosed)");
    closed_ = true;
    if (fsync(file_.fd_.get()) != 0) return os_error("cannot sync", path(), errno);
    if (failed) {
        write_errno_ = failed;
        return write_error();
    }
    return {};
}

}  // namespace pintrace
