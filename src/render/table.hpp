// A table of cells, rendered aligned for terminals or as a markdown table
// for incident tickets: the views fill it once for both.
#pragma once

#include <string>
#include <vector>

namespace pintrace {

struct Table {
    struct Column {
        std::string title;
        bool right = false;  // numbers align right
    };
    std::vector<Column> columns;
    std::vector<std::vector<std::string>> rows;

    void add(std::vector<std::string> row) { rows.push_back(std::move(row)); }
    // Columns padded to their widest cell, two spaces apart, each line
    // indented; the last column is not padded (it may be long).
    std::string text(const std::string& indent = "  ") const;
    std::string markdown() const;
};

}  // namespace pintrace
