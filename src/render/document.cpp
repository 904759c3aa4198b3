#include "render/document.hpp"

#include "render/safe_text.hpp"

namespace pintrace {
namespace {

// Breaks text at spaces so no line passes width, continuation lines further
// indented; a word longer than a line stays whole.
std::string wrap(const std::string& text, const std::string& first, const std::string& rest, size_t width)
{
    std::string out, line = first;
    size_t start = 0;
    bool empty = true;
    while (start <= text.size()) {
        size_t end = text.find(' ', start);
        if (end == std::string::npos) end = text.size();
        std::string word = text.substr(start, end - start);
        if (!empty && line.size() + 1 + word.size() > width) {
            out += line + "\n";
            line = rest + word;
        } else {
            line += (empty ? "" : " ") + word;
        }
        empty = false;
        start = end + 1;
    }
    return out + line + "\n";
}

constexpr size_t kWidth = 80;

}  // namespace

// Every block's text passes printable(): comm, exe and cgroup paths are
// any bytes a process chose, and must not reach a terminal as escapes.
std::string Document::text() const
{
    std::string out;
    for (const auto& block : blocks_) {
        Block b = block;
        b.text = printable(b.text, true);
        b.label = printable(b.label, true);
        std::string indent(2 * b.depth, ' ');
        switch (b.kind) {
        case Kind::Heading: out += wrap(b.text, "", "    ", kWidth); break;
        case Kind::Line:
            // Code-styled lines are preformatted (attach tables).
            if (b.style == Style::Code)
                out += indent + b.text + "\n";
            else
                out += wrap(b.text, indent, indent + "    ", kWidth);
            break;
        case Kind::Code:
            out += wrap(b.label + ": " + b.text, indent, indent + std::string(b.label.size() + 2, ' '), kWidth);
            break;
        case Kind::Table: out += b.table.text(indent); break;
        case Kind::Blank: out += "\n"; break;
        }
    }
    return out;
}

std::string Document::markdown() const
{
    std::string out;
    bool in_list = false;
    for (const auto& block : blocks_) {
        Block b = block;
        b.text = printable(b.text, true);
        b.label = printable(b.label, true);
        std::string bullet = b.depth > 0 ? std::string(2 * (b.depth - 1), ' ') + "- " : "";
        std::string text = b.style == Style::Strong ? "**" + b.text + "**" : b.text;
        if (b.kind != Kind::Line && b.kind != Kind::Code && in_list) {
            out += "\n";
            in_list = false;
        }
        switch (b.kind) {
        case Kind::Heading: out += "## " + b.text + "\n\n"; break;
        case Kind::Line:
            out += bullet + text + (b.depth ? "\n" : "\n\n");
            in_list = b.depth > 0;
            break;
        case Kind::Code:
            out += bullet + b.label + ": `" + b.text + "`\n";
            in_list = true;
            break;
        case Kind::Table: out += b.table.markdown() + "\n"; break;
        case Kind::Blank: break;
        }
    }
    return out;
}

}  // namespace pintrace
