// Turning stack addresses into names at record time, while the processes
// are alive, so the trace file is self-contained.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pintrace {

class KernelSymbols {
public:
    // Reads a kallsyms-format text ("addr type name [module]" per line).
    static KernelSymbols from_kallsyms(std::string_view text);
    static KernelSymbols load();  // /proc/kallsyms; empty when unreadable

    std::string resolve(uint64_t addr) const;  // "func+0x1a", "" if unknown
    size_t size() const { return syms_.size(); }
    // Compiler clones of func: "func.isra.0", "func.constprop.1". Their
    // arguments were dropped or reordered, so nothing may read them by the
    // declared positions.
    std::vector<std::string> compiler_clones(std::string_view func) const;

private:
    std::vector<std::pair<uint64_t, std::string>> syms_;  // sorted by address
};

// Symbols of one ELF file, by file-relative virtual address.
class ElfSymbols {
public:
    static std::shared_ptr<const ElfSymbols> load(const std::string& path);
    // A file offset inside a mapped segment -> "func+0x10", or "".
    std::string resolve_offset(uint64_t file_offset) const;
    bool empty() const { return syms_.empty(); }

private:
    struct Segment {
        uint64_t offset, vaddr, filesz;
    };
    struct Sym {
        uint64_t start, size;
        std::string name;
    };
    std::vector<Segment> segments_;
    std::vector<Sym> syms_;  // sorted by start
};

class UserSymbols {
public:
    // "func+0x10 (binary)" or "binary+0x1234"; "" when the address is in no
    // file mapping of the process (or the process is gone).
    std::string resolve(uint32_t tgid, uint64_t addr);
    // How many of a stack's frames, leaf first, to keep: a frame-pointer
    // walk that runs through a function without a frame pointer goes on
    // through whatever the stack holds (0x3030303030303030, say). It stops
    // before the first frame in no executable mapping of the process; all
    // are kept when the process's maps cannot be read (it is gone).
    size_t plausible_frames(uint32_t tgid, std::span<const uint64_t> ips);
    // Whether resolve() would use maps already read rather than read them.
    bool has_maps(uint32_t tgid) const { return maps_.contains(tgid); }
    void forget(uint32_t tgid) { maps_.erase(tgid); }

private:
    struct Mapping {
        uint64_t start, end, offset;
        std::string path;
    };
    const std::vector<Mapping>& maps_of(uint32_t tgid);

    std::unordered_map<uint32_t, std::vector<Mapping>> maps_;
    std::unordered_map<std::string, std::shared_ptr<const ElfSymbols>> elves_;
};

}  // namespace pintrace
