#include "render/table.hpp"

#include <algorithm>

#include "render/safe_text.hpp"

namespace pintrace {

// Cells hold what processes named themselves: printable() before any width
// is measured, so no control character reaches the terminal.
std::string Table::text(const std::string& indent) const
{
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : this->rows) {
        rows.emplace_back();
        for (const auto& v : row) rows.back().push_back(printable(v));
    }
    std::vector<size_t> width(columns.size());
    for (size_t c = 0; c < columns.size(); ++c) {
        width[c] = columns[c].title.size();
        for (const auto& row : rows) width[c] = std::max(width[c], c < row.size() ? row[c].size() : 0);
    }
    auto line = [&](auto cell) {
        std::string out = indent;
        for (size_t c = 0; c < columns.size(); ++c) {
            std::string v = cell(c);
            bool last = c + 1 == columns.size();
            size_t pad = width[c] - std::min(width[c], v.size());
            if (columns[c].right)
                out += std::string(pad, ' ') + v;
            else
                out += last ? v : v + std::string(pad, ' ');
            if (!last) out += "  ";
        }
        while (!out.empty() && out.back() == ' ') out.pop_back();
        return out + "\n";
    };
    std::string out = line([&](size_t c) { return columns[c].title; });
    for (const auto& row : rows) out += line([&](size_t c) { return c < row.size() ? row[c] : std::string(); });
    return out;
}

std::string Table::markdown() const
{
    auto escape = [](const std::string& cell) {
        std::string out, v = printable(cell);
        for (char ch : v) {
            if (ch == '|') out += '\\';
            out += ch;
        }
        return out;
    };
    std::string out = "|";
    for (const auto& c : columns) out += " " + escape(c.title) + " |";
    out += "\n|";
    for (const auto& c : columns) out += c.right ? " ---: |" : " --- |";
    out += "\n";
    for (const auto& row : rows) {
        out += "|";
        for (size_t c = 0; c < columns.size(); ++c) out += " " + escape(c < row.size() ? row[c] : "") + " |";
        out += "\n";
    }
    return out;
}

}  // namespace pintrace
