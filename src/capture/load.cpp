#include "capture/load.hpp"

#include "pintrace_compat.skel.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <optional>

namespace pintrace {
namespace {

// A verifier log may run long before its last line (older kernels keep the
// head of a log that overflows): room enough for the programs pintrace has.
// The buffers are not touched unless the kernel writes a log, which it does
// only for a program it refused.
constexpr size_t kLogBytes = 1u << 20;
// Too small for any verifier log: the kernel refuses the load (ENOSPC).
constexpr size_t kNoRoomLogBytes = 256;

struct Refusal {
    const bpf_program* prog;
    std::string why;
};

// One log buffer per program to be loaded. libbpf fills a program's buffer
// only when the kernel refused that program (it retries with a log), so
// the refused one is the one with text in it.
class ProgramLogs {
public:
    explicit ProgramLogs(pintrace_bpf* skel)
    {
        bpf_program* prog;
        bpf_object__for_each_program(prog, skel->obj)
        {
            if (!bpf_program__autoload(prog)) continue;
            auto& buf = bufs_.emplace_back(prog, std::unique_ptr<char[]>(new char[kLogBytes]));
            buf.second[0] = 0;
            bpf_program__set_log_buf(prog, buf.second.get(), kLogBytes);
        }
    }

    std::optional<Refusal> refused() const
    {
        for (const auto& [prog, buf] : bufs_)
            if (buf[0]) return Refusal{prog, refusal_line(std::string_view(buf.get(), strnlen(buf.get(), kLogBytes)))};
        return std::nullopt;
    }

private:
    std::vector<std::pair<bpf_program*, std::unique_ptr<char[]>>> bufs_;
};

// libbpf's warnings while it loads: a program refused before the kernel saw
// it (an attach target libbpf cannot find, say) is named only there.
class LibbpfWarnings {
public:
    LibbpfWarnings()
    {
        active_ = this;
        previous_ = libbpf_set_print(&LibbpfWarnings::print);
    }
    ~LibbpfWarnings()
    {
        libbpf_set_print(previous_);
        active_ = nullptr;
    }
    LibbpfWarnings(const LibbpfWarnings&) = delete;
    LibbpfWarnings& operator=(const LibbpfWarnings&) = delete;

    // libbpf names a program as "prog 'NAME': ..."; its first line about
    // the program says what went wrong, the later ones that loading failed.
    std::optional<Refusal> refused(pintrace_bpf* skel) const
    {
        bpf_program* prog;
        bpf_object__for_each_program(prog, skel->obj)
        {
            if (!bpf_program__autoload(prog)) continue;
            std::string tag = std::string("prog '") + bpf_program__name(prog) + "': ";
            for (const auto& line : lines_)
                if (auto at = line.find(tag); at != std::string::npos)
                    return Refusal{prog, line.substr(at + tag.size())};
        }
        return std::nullopt;
    }

private:
    static int print(enum libbpf_print_level level, const char* fmt, va_list args)
    {
        va_list copy;
        va_copy(copy, args);
        if (active_ && level == LIBBPF_WARN) {
            char line[512];
            std::vsnprintf(line, sizeof line, fmt, copy);
            std::string s = line;
            while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
            active_->lines_.push_back(std::move(s));
        }
        va_end(copy);
        return libbpf_print_when_debugging(level, fmt, args);
    }

    static inline LibbpfWarnings* active_ = nullptr;
    libbpf_print_fn_t previous_ = nullptr;
    std::vector<std::string> lines_;
};

void make_kernel_refuse(pintrace_bpf* skel, const std::string& name, std::vector<char>& tiny_log)
{
    bpf_program* prog = bpf_object__find_program_by_name(skel->obj, name.c_str());
    if (!prog || !bpf_program__autoload(prog)) return;
    tiny_log.assign(kNoRoomLogBytes, 0);
    bpf_program__set_log_buf(prog, tiny_log.data(), tiny_log.size());
    bpf_program__set_log_level(prog, 1);
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s;
}

// The verifier's closing statistics and libbpf's frame, not reasons.
bool is_log_trailer(std::string_view line)
{
    for (std::string_view prefix : {"processed ", "verification time", "stack depth", "-- END", "-- BEGIN"})
        if (line.starts_with(prefix)) return true;
    return line.empty();
}

}  // namespace

void CaptureSkelDeleter::operator()(pintrace_bpf* skel) const { pintrace_bpf__destroy(skel); }

// The skeleton's own __open_opts(), with the compat object's ELF put in
// before libbpf opens it: programs, maps and variables are found by name.
CaptureSkel open_capture(CaptureObject object)
{
    CaptureSkel skel(static_cast<pintrace_bpf*>(calloc(1, sizeof(pintrace_bpf))));
    if (!skel) return nullptr;
    if (pintrace_bpf__create_skeleton(skel.get()) != 0) return nullptr;
    if (object == CaptureObject::WithoutAtomics)
        skel->skeleton->data = const_cast<void*>(pintrace_compat_bpf__elf_bytes(&skel->skeleton->data_sz));
    if (bpf_object__open_skeleton(skel->skeleton, nullptr) != 0) return nullptr;
    return skel;
}

std::string refusal_line(std::string_view log)
{
    constexpr size_t kMax = 300;
    std::string_view last;
    size_t pos = 0;
    while (pos < log.size()) {
        size_t end = log.find('\n', pos);
        if (end == std::string_view::npos) end = log.size();
        std::string_view line = trim(log.substr(pos, end - pos));
        pos = end + 1;
        if (line.starts_with("failed to resolve CO-RE relocation")) return std::string(line.substr(0, kMax));
        if (!is_log_trailer(line)) last = line;
    }
    if (last.empty()) return "no reason in the verifier log";
    return std::string(last.substr(0, kMax));
}

Result<CaptureSkel> load_capture(std::vector<PlannedAttach>& plan, const KernelFacts& facts, const LoadOptions& options)
{
    // Each round takes one attach point down; the plan has that many (and
    // one more if pairing is given up).
    size_t extra_rounds = 0;
    for (size_t round = 0; round <= plan.size() + extra_rounds; ++round) {
        CaptureSkel skel = open_capture(options.object);
        if (!skel) return make_error(std::string("cannot open the capture programs: ") + std::strerror(errno));
        enable_planned(skel.get(), plan);
        if (options.configure) options.configure(skel.get());
        ProgramLogs logs(skel.get());
        std::vector<char> tiny_log;
        if (!options.refuse_for_test.empty()) make_kernel_refuse(skel.get(), options.refuse_for_test, tiny_log);

        int err;
        std::optional<Refusal> refused;
        {
            LibbpfWarnings warnings;
            err = pintrace_bpf__load(skel.get());
            if (err == 0) return skel;
            refused = logs.refused();
            if (!refused) refused = warnings.refused(skel.get());
        }
        std::string errtext = std::strerror(-err);
        if (refused && refused->why.find(errtext) == std::string::npos) refused->why += " (" + errtext + ")";
        if (options.stop_pairing &&
            options.stop_pairing(refused ? std::string(bpf_program__name(refused->prog)) + ": " + refused->why
                                         : errtext)) {
            ++extra_rounds;
            continue;
        }
        if (!refused || !refuse_program(plan, skel.get(), refused->prog, refused->why, facts))
            return make_error("the kernel refused the capture programs: " + errtext +
                              " (PINTRACE_DEBUG_LIBBPF=1 shows the verifier log)");
    }
    return make_error("the kernel refused every capture program");
}

}  // namespace pintrace
