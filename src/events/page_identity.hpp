// What a page was when an operation failed on it: anonymous, a file's page
// cache page (which file, which offset), a kernel page of some type. Read
// by the BPF program that saw the failure (bpf/pintrace.h struct
// pt_page_identity) and decoded here; kinds and types are pintrace's own
// numbers, the same on every kernel, named by the PT_PAGE_KINDS and
// PT_PAGE_TYPES rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pintrace.h"

namespace pintrace {

struct PageIdentity {
    // The file of a page cache page.
    struct File {
        uint32_t dev = 0;  // the kernel's encoding: major << 20 | minor
        uint64_t ino = 0;
        uint64_t index = 0;  // the page's offset in the file, in pages
        std::string fs;  // the filesystem type: "tmpfs", "ext4"
        // Inside its filesystem, from the dentry names the page's inode had:
        // "/dir/name" when the names reached the filesystem's root,
        // ".../dir/name" when they did not (the deepest
        // PT_IDENTITY_PATH_DEPTH of them), the bare name for a dentry in no
        // tree ("memfd:NAME"), "" when the inode had none.
        std::string path;

        uint32_t major() const { return dev >> 20; }
        uint32_t minor() const { return dev & 0xfffff; }
        bool operator==(const File&) const = default;
    };

    // The head page's flags (raw, named by the trace's page-flag layout)
    // and counts, as read with the rest.
    uint64_t flags = 0;
    int32_t refcount = 0;
    int32_t mapcount = 0;  // meaningless where type is set (the kernel keeps the type in that word)
    pt_page_kind kind = PT_PAGE_UNREAD;
    pt_page_type type = PT_TYPE_NONE;
    uint32_t raw_type = 0;  // the kernel's page_type word, for diagnosis
    std::optional<File> file;  // kind File
    std::string slab_cache;  // type Slab, where readable

    bool operator==(const PageIdentity&) const = default;
};

// The rows' names: "file", "page_table"; "" for PT_TYPE_NONE. A number no
// row has (a newer pintrace's) is "unknown".
std::string_view page_kind_name(pt_page_kind kind);
std::string_view page_type_name(pt_page_type type);

// Decodes the record's identity; a kind or type no row has becomes
// PT_PAGE_UNREAD / PT_TYPE_NONE (a newer pintrace's classes are unknown
// here, never mistaken for another).
PageIdentity decode_page_identity(const pt_page_identity& raw);

}  // namespace pintrace
