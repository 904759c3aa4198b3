#include "capture/kernel_info.hpp"

#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace pintrace {
namespace {

std::string read_first_line(const char* path)
{
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// The FOLL_* enumerators exist in BTF from 6.6 on (an anonymous enum).
std::optional<FlagLayout> flags_from_btf(const btf* vmlinux)
{
    FlagLayout layout;
    layout.source = "btf";
    int n = btf__type_cnt(vmlinux);
    for (int id = 1; id < n; ++id) {
        const btf_type* t = btf__type_by_id(vmlinux, id);
        if (!btf_is_enum(t)) continue;
        const struct btf_enum* e = btf_enum(t);
        for (int i = 0; i < btf_vlen(t); ++i) {
            std::string_view name = btf__name_by_offset(vmlinux, e[i].name_off);
            uint32_t v = static_cast<uint32_t>(e[i].val);
            if (name == "FOLL_WRITE")
                layout.write = v;
            else if (name == "FOLL_GET")
                layout.get = v;
            else if (name == "FOLL_PIN")
                layout.pin = v;
            else if (name == "FOLL_LONGTERM")
                layout.longterm = v;
        }
        if (layout.valid()) return layout;
    }
    return std::nullopt;
}

// Before 6.6 FOLL_* are #defines, invisible in BTF; their values changed
// once, in 6.3, so the release is the only witness left.
FlagLayout flags_from_release(const std::string& release)
{
    int major = 0, minor = 0;
    std::sscanf(release.c_str(), "%d.%d", &major, &minor);
    return (major > 6 || (major == 6 && minor >= 3)) ? FlagLayout::since_6_3() : FlagLayout::before_6_3();
}

const btf_type* resolve_typedefs(const btf* b, int id)
{
    const btf_type* t = btf__type_by_id(b, id);
    while (t && (btf_is_typedef(t) || btf_is_const(t) || btf_is_volatile(t))) t = btf__type_by_id(b, t->type);
    return t;
}

const btf_type* function_proto(const btf* b, const char* func)
{
    int id = btf__find_by_name_kind(b, func, BTF_KIND_FUNC);
    if (id < 0) return nullptr;
    const btf_type* f = btf__type_by_id(b, id);
    const btf_type* proto = btf__type_by_id(b, f->type);
    return proto && btf_is_func_proto(proto) ? proto : nullptr;
}

}  // namespace

Result<BtfPtr> load_kernel_btf()
{
    BtfPtr b(btf__load_vmlinux_btf());
    if (!b) {
        int err = errno;
        return make_error(std::string("the kernel exposes no BTF (/sys/kernel/btf/vmlinux: ") + std::strerror(err) +
                          "); pintrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
    }
    return b;
}

std::optional<int> function_arg_count(const btf* vmlinux, const char* func)
{
    const btf_type* proto = function_proto(vmlinux, func);
    if (!proto) return std::nullopt;
    return btf_vlen(proto);
}

namespace {

// f(name, value) for each enumerator of the named enum, if the kernel has it.
template <class F>
void for_each_enumerator(const btf* vmlinux, const char* enum_name, F&& f)
{
    int id = btf__find_by_name_kind(vmlinux, enum_name, BTF_KIND_ENUM);
    if (id <= 0) return;
    const btf_type* t = btf__type_by_id(vmlinux, id);
    const struct btf_enum* e = btf_enum(t);
    for (int i = 0; i < btf_vlen(t); ++i) f(std::string(btf__name_by_offset(vmlinux, e[i].name_off)), int(e[i].val));
}

}  // namespace

std::string migrate_reason_label(const std::string& enumerator)
{
    if (enumerator == "MR_SYSCALL") return "syscall_or_cpuset";
    std::string s = enumerator.starts_with("MR_") ? enumerator.substr(3) : enumerator;
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

uint64_t kallsyms_address(std::string_view name)
{
    std::ifstream in("/proc/kallsyms");
    std::string line;
    while (std::getline(in, line)) {
        // "ffffffff81234560 t page_cache_pipe_buf_release": text symbols only.
        auto sp1 = line.find(' ');
        if (sp1 == std::string::npos || line.size() < sp1 + 3 || line[sp1 + 2] != ' ') continue;
        char type = line[sp1 + 1];
        if (type != 't' && type != 'T') continue;
        std::string_view sym = std::string_view(line).substr(sp1 + 3);
        if (auto tab = sym.find('\t'); tab != std::string_view::npos) sym = sym.substr(0, tab);  // "[module]"
        if (sym != name) continue;
        uint64_t addr = 0;
        std::from_chars(line.data(), line.data() + sp1, addr, 16);
        return addr;
    }
    return 0;
}

Result<KernelInfo> read_kernel_info(const btf* vmlinux)
{
    KernelInfo k;
    utsname u{};
    uname(&u);
    k.release = u.release;
    k.hostname = u.nodename;
    k.boot_id = read_first_line("/proc/sys/kernel/random/boot_id");

    if (auto layout = flags_from_btf(vmlinux))
        k.flags = *layout;
    else
        k.flags = flags_from_release(k.release);

    for_each_enumerator(vmlinux, "migrate_reason", [&](const std::string& name, int value) {
        if (name != "MR_TYPES") k.migrate_reasons[value] = migrate_reason_label(name);
    });
    // enum pageflags renumbers between releases (PG_writeback is bit 15 in
    // 5.10, bit 1 in 6.12): a stuck page's flags are named by this kernel's.
    for_each_enumerator(vmlinux, "pageflags", [&](const std::string& name, int value) {
        // Aliases (PG_checked = PG_owner_priv_1, ...) and the count come
        // after the real bits: the first name of a bit stays.
        if (name.starts_with("PG_") && value >= 0 && value < 64) k.page_flags.try_emplace(value, name);
    });

    for_each_enumerator(vmlinux, "bpf_func_id", [&](const std::string& name, int) {
        if (name == "BPF_FUNC_loop") k.can_pair_in_kernel = true;
    });
    k.pipe_buf_release_fn = kallsyms_address("page_cache_pipe_buf_release");

    if (const btf_type* proto = function_proto(vmlinux, "try_grab_page")) {
        const btf_type* ret = resolve_typedefs(vmlinux, proto->type);
        k.try_grab_page_returns_errno = !(ret && btf_is_int(ret) && (btf_int_encoding(ret) & BTF_INT_BOOL));
    }
    return k;
}

Result<std::string> ensure_tracefs()
{
    struct stat st;
    if (stat("/sys/kernel/tracing/events", &st) == 0 || stat("/sys/kernel/debug/tracing/events", &st) == 0)
        return std::string();
    if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
        return make_error(std::string("tracefs is not mounted and mounting it failed (") + std::strerror(errno) +
                          "); run: mount -t tracefs tracefs /sys/kernel/tracing");
    return std::string("mounted tracefs on /sys/kernel/tracing");
}

bool tracepoint_exists(std::string_view group_event)
{
    std::string rel(group_event);
    if (auto colon = rel.find(':'); colon != std::string::npos) rel[colon] = '/';
    struct stat st;
    for (const char* root : {"/sys/kernel/tracing/events/", "/sys/kernel/debug/tracing/events/"})
        if (stat((root + rel).c_str(), &st) == 0) return true;
    return false;
}

std::string missing_privileges()
{
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data) != 0) return "cannot read this process's capabilities";
    auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
    if (has(CAP_SYS_ADMIN)) return "";
    if (has(CAP_BPF) && has(CAP_PERFMON)) return "";
    return "pintrace needs root, or CAP_BPF and CAP_PERFMON (run it with sudo)";
}

}  // namespace pintrace
