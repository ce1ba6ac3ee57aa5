// Unit tests for util/text.hpp: UTF-8 validation and the log rendering of
// untrusted text (valid UTF-8 kept, controls and invalid bytes escaped).
#include "util/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rcptguard {
namespace {

struct Utf8Case {
    const char* name;
    std::string bytes;
    bool valid;
};

class Utf8Validity : public ::testing::TestWithParam<Utf8Case> {};

TEST_P(Utf8Validity, Bytes_ValidOrNot) { EXPECT_EQ(is_valid_utf8(GetParam().bytes), GetParam().valid); }

INSTANTIATE_TEST_SUITE_P(
    Table, Utf8Validity,
    ::testing::Values(
        Utf8Case{"Ascii", "user@example.test", true}, Utf8Case{"Empty", "", true},
        Utf8Case{"TwoByte", "j\xC3\xB6rg", true}, Utf8Case{"ThreeByte", "\xE2\x82\xAC", true},
        Utf8Case{"FourByte", "\xF0\x9F\x92\xA9", true}, Utf8Case{"HighestCodePoint", "\xF4\x8F\xBF\xBF", true},
        Utf8Case{"LoneContinuation", "\x80", false}, Utf8Case{"Truncated", "\xE2\x82", false},
        Utf8Case{"OverlongTwoByte", "\xC0\xAF", false}, Utf8Case{"OverlongC1", "\xC1\xBF", false},
        Utf8Case{"OverlongThreeByte", "\xE0\x80\xAF", false}, Utf8Case{"OverlongFourByte", "\xF0\x80\x80\xAF", false},
        Utf8Case{"Surrogate", "\xED\xA0\x80", false}, Utf8Case{"BeyondU10FFFF", "\xF4\x90\x80\x80", false},
        Utf8Case{"F5Byte", "\xF5\x80\x80\x80", false}, Utf8Case{"FfByte", "\xFF", false},
        Utf8Case{"Latin1", "j\xF6rg", false}),
    [](const ::testing::TestParamInfo<Utf8Case>& i) { return std::string(i.param.name); });

struct PrintCase {
    const char* name;
    std::string in;
    std::string want;
};

class Printable : public ::testing::TestWithParam<PrintCase> {};

TEST_P(Printable, Input_RenderedForLogs) { EXPECT_EQ(printable(GetParam().in), GetParam().want); }

INSTANTIATE_TEST_SUITE_P(
    Table, Printable,
    ::testing::Values(PrintCase{"Ascii", "user@example.test", "user@example.test"},
                      PrintCase{"Utf8Kept", "j\xC3\xB6rg@b\xC3\xBC\x63her.test", "j\xC3\xB6rg@b\xC3\xBC\x63her.test"},
                      PrintCase{"ChineseKept", "\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.test",
                                "\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.test"},
                      PrintCase{"ControlEscaped",
                                std::string("a\x01"
                                            "b\r\nc\x7f",
                                            7),
                                "a\\x01b\\x0d\\x0ac\\x7f"},
                      PrintCase{"NulEscaped", std::string("a\0b", 3), "a\\x00b"},
                      PrintCase{"InvalidByteEscaped", "j\xF6rg", "j\\xf6rg"},
                      PrintCase{"OverlongEscapedBytewise",
                                "a\xC0\xAF"
                                "b",
                                "a\\xc0\\xafb"},
                      PrintCase{"TruncatedSequenceEscaped", "a\xE2\x82", "a\\xe2\\x82"},
                      PrintCase{"C1ControlEscaped",
                                "a\xC2\x85"
                                "b",
                                "a\\xc2\\x85b"},
                      PrintCase{"LineSeparatorEscaped",
                                "a\xE2\x80\xA8"
                                "b",
                                "a\\xe2\\x80\\xa8b"},
                      PrintCase{"BidiOverrideEscaped", "user\xE2\x80\xAEtset.elpmaxe@x",
                                "user\\xe2\\x80\\xaetset.elpmaxe@x"},
                      PrintCase{"NoBreakSpaceKept",
                                "a\xC2\xA0"
                                "b",
                                "a\xC2\xA0"
                                "b"}),
    [](const ::testing::TestParamInfo<PrintCase>& i) { return std::string(i.param.name); });

TEST(Printable, CutAtLimit_NeverInsideACharacter) {
    // "ö" is two bytes: a limit of 4 keeps "aö" plus one byte at most, so it
    // must stop before the second "ö" rather than split it.
    EXPECT_EQ(printable("a\xC3\xB6\xC3\xB6", 4), "a\xC3\xB6...");
    EXPECT_EQ(printable("a\xC3\xB6\xC3\xB6", 5), "a\xC3\xB6\xC3\xB6");
    EXPECT_EQ(printable("abcdef", 3), "abc...");
    EXPECT_EQ(printable("abc", 3), "abc");
    // An escape is never cut either.
    EXPECT_EQ(printable("ab\x01", 4), "ab...");
}

TEST(Printable, Output_AlwaysValidUtf8AndSingleLine) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    all += "\xE2\x80\xA8\xC3\xB6\xF0\x9F\x92";
    std::string out = printable(all, 4096);
    EXPECT_TRUE(is_valid_utf8(out));
    EXPECT_EQ(out.find('\n'), std::string::npos);
    EXPECT_EQ(out.find('\r'), std::string::npos);
    EXPECT_EQ(out.find('\0'), std::string::npos);
}

TEST(Utf8Char, LengthAndCodePoint) {
    char32_t cp = 0;
    EXPECT_EQ(utf8_char("\xC3\xB6x", &cp), 2u);
    EXPECT_EQ(cp, U'\u00F6');
    EXPECT_EQ(utf8_char("\xF0\x9F\x92\xA9", &cp), 4u);
    EXPECT_EQ(cp, U'\U0001F4A9');
    EXPECT_EQ(utf8_char("\xC0\xAF", &cp), 0u);
    EXPECT_EQ(utf8_char("", &cp), 0u);
}

}  // namespace
}  // namespace rcptguard
