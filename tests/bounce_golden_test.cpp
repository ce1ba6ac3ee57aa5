// Golden-file tests for the bounce stripper: each tests/golden/bounce/NAME.eml
// is prepared as an MTA hands it to a milter, stripped, and the delivered
// message must equal NAME.out and the verdict NAME.verdict ("action kind" or
// "action kind: reason", then "; evidence=" and the clues). There is one case
// or more for every shape the stripper knows, both stripped and left
// unchanged; the corpus test (tests/integration/test_bounce_corpus.py) also
// checks these inputs with an independent MIME parser. The golden files are
// stored with LF line endings and compared as CRLF. RCPTGUARD_UPDATE_GOLDEN=1
// rewrites them; review the diff before committing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/bounce_test_util.hpp"
#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

std::string golden_dir() { return testing::source_dir() + "/tests/golden/bounce"; }

std::vector<std::string> golden_names() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(golden_dir()))
        if (e.path().extension() == ".eml") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::string to_lf(std::string s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) out.push_back(s[i]);
    return out;
}

std::string verdict_line(const StripResult& r) {
    std::string v = r.action == StripResult::Action::Replace ? "replace " : "unchanged ";
    v += r.kind;
    if (!r.reason.empty()) v += ": " + r.reason;
    return v + "; evidence=" + r.evidence + "\n";
}

TEST(BounceGolden, Directory_HasCases) { EXPECT_GE(golden_names().size(), 20u); }

class BounceGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(BounceGolden, Input_Stripped_EqualsGoldenOutput) {
    const std::string base = golden_dir() + "/" + GetParam();
    testing::MilterMessage m =
        testing::split_for_milter(testing::normalise_for_milter(testing::read_file(base + ".eml")));
    StripResult r = testing::strip_chunked(m, 65535);
    std::string out = testing::assemble(m, r);
    if (std::getenv("RCPTGUARD_UPDATE_GOLDEN")) {
        testing::write_file(base + ".out", to_lf(out));
        testing::write_file(base + ".verdict", verdict_line(r));
    }
    EXPECT_EQ(out, testing::normalise_for_milter(testing::read_file(base + ".out")));
    EXPECT_EQ(verdict_line(r), testing::read_file(base + ".verdict"));
    testing::expect_chunking_invariant(m, r);
}

INSTANTIATE_TEST_SUITE_P(BounceFiles, BounceGolden, ::testing::ValuesIn(golden_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                             std::string n = i.param;
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });

}  // namespace
}  // namespace rcptguard
