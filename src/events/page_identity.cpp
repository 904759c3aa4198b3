#include "events/page_identity.hpp"

#include <cstring>
#include <span>

namespace pintrace {
namespace {

struct Row {
    unsigned number;
    std::string_view name;
};

constexpr Row kKinds[] = {
#define PT_PAGE_KIND_ROW(name, number, label) {number, label},
    PT_PAGE_KINDS(PT_PAGE_KIND_ROW)
#undef PT_PAGE_KIND_ROW
};

constexpr Row kTypes[] = {
#define PT_PAGE_TYPE_ROW(name, number, label) {number, label},
    PT_PAGE_TYPES(PT_PAGE_TYPE_ROW)
#undef PT_PAGE_TYPE_ROW
};

const Row* row_of(std::span<const Row> rows, unsigned number)
{
    for (const Row& r : rows)
        if (r.number == number) return &r;
    return nullptr;
}

// A fixed-size, NUL-padded kernel string (cut by the BPF side, which may
// have left it unterminated at the limit).
template <size_t N>
std::string fixed_string(const char (&s)[N])
{
    return std::string(s, strnlen(s, N));
}

std::string file_path(const pt_page_identity& raw)
{
    unsigned depth = std::min<unsigned>(raw.path_depth, PT_IDENTITY_PATH_DEPTH);
    if (depth == 0) return "";
    // Leaf first. A chain that ends at a filesystem's root ends with its
    // name, "/"; one that ends at a dentry that is its own parent but not
    // named "/" is outside any tree (memfd, pipe, anonymous inodes).
    bool rooted = raw.path_complete && fixed_string(raw.path[depth - 1]) == "/";
    unsigned names = rooted ? depth - 1 : depth;
    std::string path;
    for (unsigned i = names; i-- > 0;) path += "/" + fixed_string(raw.path[i]);
    if (rooted) return path.empty() ? "/" : path;
    if (raw.path_complete) return path.substr(1);
    return "..." + path;
}

}  // namespace

std::string_view page_kind_name(pt_page_kind kind)
{
    const Row* r = row_of(kKinds, kind);
    return r ? r->name : "unknown";
}

std::string_view page_type_name(pt_page_type type)
{
    const Row* r = row_of(kTypes, type);
    return r ? r->name : "unknown";
}

PageIdentity decode_page_identity(const pt_page_identity& raw)
{
    PageIdentity id;
    id.kind = row_of(kKinds, raw.kind) ? static_cast<pt_page_kind>(raw.kind) : PT_PAGE_UNREAD;
    id.type = row_of(kTypes, raw.type) ? static_cast<pt_page_type>(raw.type) : PT_TYPE_NONE;
    id.flags = raw.flags;
    id.refcount = raw.refcount;
    id.mapcount = raw.mapcount;
    id.raw_type = raw.page_type;
    if (id.kind == PT_PAGE_FILE)
        id.file = PageIdentity::File{raw.dev, raw.ino, raw.index, fixed_string(raw.fs), file_path(raw)};
    if (id.type == PT_TYPE_SLAB) id.slab_cache = fixed_string(raw.slab_cache);
    return id;
}

}  // namespace pintrace
