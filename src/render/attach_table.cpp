#include "render/attach_table.hpp"

#include <algorithm>
#include <cstdio>

namespace pintrace {

std::string render_attach_table(const std::vector<AttachPoint>& attach, const std::string& indent)
{
    size_t width = 0;
    for (const auto& a : attach) width = std::max(width, a.target.size());
    std::string out;
    for (const auto& a : attach) {
        char line[256];
        std::snprintf(line, sizeof line, "%s%-*s  %-16s", indent.c_str(), int(width), a.target.c_str(),
                      std::string(a.mode()).c_str());
        out += line;
        if (a.state == AttachState::Absent) out += " (" + a.detail + ")";
        out += "\n";
        if (!a.attached()) {
            out += indent + std::string(width + 2, ' ') + "why:   " + a.detail + "\n";
            out += indent + std::string(width + 2, ' ') + "hides: " + a.hides + "\n";
        }
    }
    return out;
}

}  // namespace pintrace
