// What a trace's header says about the recording: the kernel, the clocks,
// the FOLL_* layout, migrate-reason names and which attach points were live.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "events/gup_flags.hpp"

namespace pintrace {

struct AttachPoint {
    std::string target;  // kernel function or tracepoint
    uint16_t hook = 0;   // enum pt_hook
    // fentry, fexit, fentry+fexit, kprobe, kretprobe, kprobe+kretprobe,
    // tracepoint, absent (nothing to watch on this kernel), missing (no way
    // to attach), refused (the kernel refused to load its program)
    std::string mode;
    std::string detail;  // why it is absent, missing or refused
    std::string hides;   // what the report cannot see without it

    bool attached() const { return mode != "missing" && mode != "refused"; }
};

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
