// What a trace's header says about the recording: the kernel, the clocks,
// the FOLL_* layout, migrate-reason names and which attach points were live.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/gup_flags.hpp"

namespace pintrace {

// Whether an attach point is watched. Absent is no loss: the kernel has
// nothing there to watch (the function does not exist on it).
enum class AttachState { Attached, Absent, Missing, Refused };

struct AttachPoint {
    std::string target;  // kernel function or tracepoint
    uint16_t hook = 0;  // enum pt_hook
    AttachState state = AttachState::Missing;
    // Attached: which programs run there: fentry, fexit, fentry+fexit,
    // kprobe, kretprobe, kprobe+kretprobe or tracepoint.
    std::string how;
    std::string detail;  // why it is absent, missing or refused
    std::string hides;  // what the report cannot see without it

    // Nothing it should see is lost (attached, or absent).
    bool attached() const { return state == AttachState::Attached || state == AttachState::Absent; }
    // The one word a trace's attach section, the JSON and the attach table
    // use: `how` when attached, else "absent", "missing" or "refused".
    std::string_view mode() const;
    // The inverse, for a trace's attach section: an unknown word (a newer
    // pintrace's kind of program) reads as attached that way.
    void set_mode(std::string_view word);
};

// An attach point as a trace's attach section (or a test) spells it.
AttachPoint attach_point(std::string target, uint16_t hook, std::string_view mode, std::string detail = {},
                         std::string hides = {});

// Attach points that could not attach (absent functions do not count).
size_t missing_attach_points(const std::vector<AttachPoint>& attach);

struct TraceInfo {
    std::map<std::string, std::string> meta;
    FlagLayout flags;
    std::vector<AttachPoint> attach;
    std::map<int, std::string> migrate_reasons;
    std::map<int, std::string> page_flags;  // bit -> "PG_locked", as the recording kernel numbers them

    // "PG_locked", "PG_writeback", ... for a page's flags word; empty when
    // the trace does not carry the kernel's layout.
    std::vector<std::string> page_flag_names(uint64_t flags) const;

    std::string get(const std::string& key, const std::string& fallback = "") const;
    std::optional<uint64_t> get_u64(const std::string& key) const;
    bool hook_attached(uint16_t hook) const;
    std::string reason_name(int reason) const;
};

}  // namespace pintrace
