// The report's words are the product: traces recorded in the VM bench
// (tests/vm, real kernels) are rendered as text and markdown and compared,
// byte for byte, with the files beside them. A change of wording shows up
// here as a diff to read and accept:
//
//   PINTRACE_UPDATE_GOLDEN=1 build/unit_tests --gtest_filter='*Golden*'
//
// rewrites the expected files from what pintrace says now (then read the
// diff before committing it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "explain/explainer.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"
#include "trace/reader.hpp"

namespace pintrace {
namespace {

namespace fs = std::filesystem;

const std::string kDir = std::string(PINTRACE_TEST_DATA) + "/golden/";

struct GoldenCase {
    const char* trace;  // KERNEL-SCENARIO, recorded by tests/vm/run.sh
    int exit_code;  // what `pintrace report` exits with
};

// The kernels of the bench and what each scenario shows: pins, references,
// two holders of one page, a released pin, a gigantic page's isolation.
const GoldenCase kCases[] = {
    {"5.10-iouring_pin", 3}, {"5.10-vmsplice_ref", 3},   {"6.1-two_pinners", 3},  {"6.1-odirect_inflight", 3},
    {"7.3-two_pinners", 3},  {"7.3-gigantic_pinned", 3}, {"7.3-released_pin", 0},
};

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The first line where two texts differ, both sides, for a readable failure.
std::string first_difference(const std::string& want, const std::string& got)
{
    std::istringstream a(want), b(got);
    std::string la, lb;
    for (int line = 1;; ++line) {
        bool more_a = bool(std::getline(a, la)), more_b = bool(std::getline(b, lb));
        if (!more_a && !more_b) return "identical";
        if (!more_a || !more_b || la != lb)
            return "line " + std::to_string(line) + ":\n  expected: " + (more_a ? la : "(end)") +
                   "\n  now:      " + (more_b ? lb : "(end)");
    }
}

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, ReportTextAndMarkdownAreAsRecorded)
{
    std::string base = kDir + GetParam().trace;
    auto reader = TraceReader::open(base + ".pt");
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    Explainer ex(reader->info());
    auto read = reader->read([&](const Event& e) { ex.consume(e); });
    ASSERT_TRUE(read.ok()) << read.error().message;
    Report report = std::move(ex).finish();
    report.file = read.value();
    EXPECT_EQ(report_exit_code(report, nullptr), GetParam().exit_code);

    for (auto [ext, text] :
         {std::pair{".txt", render_report_text(report)}, std::pair{".md", render_report_markdown(report)}}) {
        std::string path = base + ext;
        if (std::getenv("PINTRACE_UPDATE_GOLDEN")) {
            std::ofstream(path, std::ios::binary) << text;
            continue;
        }
        std::string want = read_file(path);
        ASSERT_FALSE(want.empty()) << path << " is missing (PINTRACE_UPDATE_GOLDEN=1 writes it)";
        EXPECT_EQ(want, text) << path << " differs at " << first_difference(want, text);
    }
}

INSTANTIATE_TEST_SUITE_P(VmTraces, Golden, ::testing::ValuesIn(kCases), [](const auto& info) {
    std::string name = info.param.trace;
    std::replace_if(
        name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
    return name;
});

// Every trace in the folder is a case: one added without a line in kCases
// would never be compared.
TEST(GoldenFiles, EveryTraceIsACase)
{
    for (const auto& entry : fs::directory_iterator(kDir)) {
        if (entry.path().extension() != ".pt") continue;
        std::string stem = entry.path().stem().string();
        EXPECT_TRUE(
            std::any_of(std::begin(kCases), std::end(kCases), [&](const GoldenCase& c) { return stem == c.trace; }))
            << stem << ".pt is not in kCases";
    }
}

}  // namespace
}  // namespace pintrace
