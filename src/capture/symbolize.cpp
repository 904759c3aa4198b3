#include "capture/symbolize.hpp"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace pintrace {
namespace {

std::string with_offset(const std::string& name, uint64_t off)
{
    if (off == 0) return name;
    char buf[32];
    std::snprintf(buf, sizeof buf, "+0x%" PRIx64, off);
    return name + buf;
}

std::string basename_of(const std::string& path)
{
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

KernelSymbols KernelSymbols::from_kallsyms(std::string_view text)
{
    KernelSymbols ks;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        uint64_t addr = 0;
        char type = 0;
        char name[256];
        if (std::sscanf(line.c_str(), "%" SCNx64 " %c %255s", &addr, &type, name) != 3 || addr == 0) continue;
        if (type != 't' && type != 'T' && type != 'w' && type != 'W') continue;  // code only
        ks.syms_.emplace_back(addr, name);
    }
    std::sort(ks.syms_.begin(), ks.syms_.end());
    return ks;
}

KernelSymbols KernelSymbols::load()
{
    std::ifstream in("/proc/kallsyms");
    std::stringstream ss;
    ss << in.rdbuf();
    return from_kallsyms(ss.str());
}

std::vector<std::string> KernelSymbols::compiler_clones(std::string_view func) const
{
    std::vector<std::string> out;
    for (const auto& [addr, name] : syms_) {
        std::string_view n = name;
        if (n.size() <= func.size() || !n.starts_with(func) || n[func.size()] != '.') continue;
        std::string_view suffix = n.substr(func.size());
        if (suffix.starts_with(".isra.") || suffix.starts_with(".constprop.")) out.push_back(name);
    }
    return out;
}

std::string KernelSymbols::resolve(uint64_t addr) const
{
    auto it = std::upper_bound(syms_.begin(), syms_.end(), addr, [](uint64_t a, const auto& s) { return a < s.first; });
    if (it == syms_.begin()) return "";
    --it;
    // Far past the last symbol is not "in" it.
    if (addr - it->first > (1u << 20)) return "";
    return with_offset(it->second, addr - it->first);
}

std::shared_ptr<const ElfSymbols> ElfSymbols::load(const std::string& path)
{
    auto out = std::make_shared<ElfSymbols>();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    elf_version(EV_CURRENT);
    Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
    if (elf) {
        size_t nphdr = 0;
        elf_getphdrnum(elf, &nphdr);
        for (size_t i = 0; i < nphdr; ++i) {
            GElf_Phdr ph;
            if (gelf_getphdr(elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
                out->segments_.push_back({ph.p_offset, ph.p_vaddr, ph.p_filesz});
        }
        Elf_Scn* scn = nullptr;
        while ((scn = elf_nextscn(elf, scn))) {
            GElf_Shdr sh;
            if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)) continue;
            Elf_Data* data = elf_getdata(scn, nullptr);
            size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
            for (size_t i = 0; data && i < n; ++i) {
                GElf_Sym sym;
                if (!gelf_getsym(data, static_cast<int>(i), &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
                    sym.st_value == 0)
                    continue;
                const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
                if (name && *name) out->syms_.push_back({sym.st_value, sym.st_size, name});
            }
        }
        elf_end(elf);
    }
    ::close(fd);
    std::sort(out->syms_.begin(), out->syms_.end(), [](const Sym& a, const Sym& b) { return a.start < b.start; });
    return out;
}

std::string ElfSymbols::resolve_offset(uint64_t file_offset) const
{
    for (const auto& seg : segments_) {
        if (file_offset < seg.offset || file_offset >= seg.offset + seg.filesz) continue;
        uint64_t vaddr = file_offset - seg.offset + seg.vaddr;
        auto it =
            std::upper_bound(syms_.begin(), syms_.end(), vaddr, [](uint64_t a, const Sym& s) { return a < s.start; });
        if (it == syms_.begin()) return "";
        --it;
        if (it->size && vaddr >= it->start + it->size) return "";
        return with_offset(it->name, vaddr - it->start);
    }
    return "";
}

const std::vector<UserSymbols::Mapping>& UserSymbols::maps_of(uint32_t tgid)
{
    auto [it, fresh] = maps_.try_emplace(tgid);
    if (!fresh) return it->second;
    std::ifstream in("/proc/" + std::to_string(tgid) + "/maps");
    std::string line;
    while (std::getline(in, line)) {
        uint64_t start, end, offset;
        char perms[8], path[4096] = "";
        unsigned dev_major, dev_minor;
        unsigned long inode;
        int n = std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %lu %4095[^\n]", &start, &end,
                            perms, &offset, &dev_major, &dev_minor, &inode, path);
        if (n >= 7 && perms[2] == 'x') {
            std::string p = path;
            p.erase(0, p.find_first_not_of(' '));
            it->second.push_back({start, end, offset, p});
        }
    }
    return it->second;
}

size_t UserSymbols::plausible_frames(uint32_t tgid, std::span<const uint64_t> ips)
{
    const auto& maps = maps_of(tgid);
    if (maps.empty()) return ips.size();
    auto executable = [&](uint64_t ip) {
        return std::any_of(maps.begin(), maps.end(), [&](const Mapping& m) { return ip >= m.start && ip < m.end; });
    };
    size_t n = 0;
    while (n < ips.size() && executable(ips[n])) ++n;
    return n;
}

std::string UserSymbols::resolve(uint32_t tgid, uint64_t addr)
{
    for (const auto& m : maps_of(tgid)) {
        if (addr < m.start || addr >= m.end) continue;
        if (m.path.empty() || m.path[0] != '/') return m.path.empty() ? "" : with_offset(m.path, addr - m.start);
        uint64_t file_offset = addr - m.start + m.offset;
        auto& elf = elves_[m.path];
        if (!elf) {
            // Through the process's root (containers); its own path once it is gone.
            elf = ElfSymbols::load("/proc/" + std::to_string(tgid) + "/root" + m.path);
            if (elf->empty()) elf = ElfSymbols::load(m.path);
        }
        std::string sym = elf->resolve_offset(file_offset);
        if (!sym.empty()) return sym + " (" + basename_of(m.path) + ")";
        return with_offset(basename_of(m.path), file_offset);
    }
    return "";
}

}  // namespace pintrace
