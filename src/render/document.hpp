// A report as blocks (headings, nested lines, tables), built once and
// rendered as terminal text or as markdown for an incident ticket: the two
// formats cannot drift apart.
#pragma once

#include <string>
#include <vector>

#include "render/table.hpp"

namespace pintrace {

class Document {
public:
    enum class Style { Plain, Strong, Code };

    void heading(std::string text) { blocks_.push_back({Kind::Heading, 0, Style::Plain, std::move(text), {}}); }
    // depth 0 is a paragraph; deeper lines nest under the one before
    // (indented in text, nested bullets in markdown).
    void line(int depth, std::string text, Style style = Style::Plain)
    {
        blocks_.push_back({Kind::Line, depth, style, std::move(text), {}});
    }
    // A labelled code path: "kernel: a <- b" (in markdown the path is code).
    void code(int depth, std::string label, std::string text)
    {
        blocks_.push_back({Kind::Code, depth, Style::Code, std::move(text), {}, std::move(label)});
    }
    void table(Table t, int depth = 1) { blocks_.push_back({Kind::Table, depth, Style::Plain, "", std::move(t)}); }
    void blank() { blocks_.push_back({Kind::Blank, 0, Style::Plain, "", {}}); }

    std::string text() const;
    std::string markdown() const;

private:
    enum class Kind { Heading, Line, Code, Table, Blank };
    struct Block {
        Kind kind;
        int depth;
        Style style;
        std::string text;
        Table table;
        std::string label;
    };
    std::vector<Block> blocks_;
};

}  // namespace pintrace
