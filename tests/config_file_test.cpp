// Unit tests for the configuration file parser and typed reader
// (milter/config_file.hpp).
#include "util/config_file.hpp"

#include <gtest/gtest.h>

namespace rcptguard {
namespace {

std::string error_of(const std::string& text) {
    try {
        parse_config_text(text, "/etc/t.conf").throw_if_problems();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(ConfigFile, GlobalAndSections_Parsed) {
    ConfigFile f = parse_config_text(
        "# comment\n"
        "domains = a.test b.test\n"
        "\n"
        "[backend users]\n"
        "type = sqlite\n"
        "  # indented comment\n"
        "path = /var/lib/x.db\n",
        "/etc/t.conf");
    ASSERT_EQ(f.global.values.size(), 1u);
    EXPECT_EQ(f.global.values[0].key, "domains");
    EXPECT_EQ(f.global.values[0].value, "a.test b.test");
    EXPECT_EQ(f.global.values[0].line, 2);
    ASSERT_EQ(f.sections.size(), 1u);
    EXPECT_EQ(f.sections[0].type, "backend");
    EXPECT_EQ(f.sections[0].name, "users");
    EXPECT_EQ(f.sections[0].line, 4);
    ASSERT_EQ(f.sections[0].values.size(), 2u);
    EXPECT_EQ(f.sections[0].values[1].value, "/var/lib/x.db");
}

TEST(ConfigFile, ContinuationLine_AppendsToValue) {
    ConfigFile f = parse_config_text("domains = a.test,\n    b.test\n\tc.test\n", "t");
    EXPECT_EQ(f.global.values[0].value, "a.test, b.test c.test");
}

TEST(ConfigFile, ValueMayContainHash_AndCRLF) {
    ConfigFile f = parse_config_text("reject_message = no #1 here\r\n", "t");
    EXPECT_EQ(f.global.values[0].value, "no #1 here");
}

struct BadCase {
    const char* name;
    std::string text;
    std::string want;  // substring of what()
};

class ConfigFileBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigFileBad, BrokenText_ErrorNamesFileLineKey) {
    std::string e = error_of(GetParam().text);
    EXPECT_NE(e.find(GetParam().want), std::string::npos) << "got: " << e;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigFileBad,
    ::testing::Values(
        BadCase{"NoEquals", "a = 1\nnonsense\n", "/etc/t.conf:2: nonsense: expected 'key = value'"},
        BadCase{"BadKey", "Bad-Key = 1\n", "/etc/t.conf:1: Bad-Key: not a valid key name"},
        BadCase{"Duplicate", "mode = enforce\nmode = monitor\n", "/etc/t.conf:2: mode: set twice (first on line 1)"},
        BadCase{"UnknownSection", "[database x]\n", "/etc/t.conf:1: unknown section type"},
        BadCase{"NoName", "[backend]\n", "/etc/t.conf:1: section needs a name"},
        BadCase{"Unclosed", "[backend x\n", "/etc/t.conf:1: section header must end with ']'"},
        BadCase{"TwiceSection", "[backend x]\n[backend x]\n", "/etc/t.conf:2: [backend x] defined twice"},
        BadCase{"ContinuationFirst", "  a = b\n", "/etc/t.conf:1: continuation line"},
        BadCase{"Nul", std::string("a = b\0c\n", 8), "/etc/t.conf:1: NUL byte"},
        BadCase{"DomainNotADomain", "[domain not a domain!]\n", "/etc/t.conf:1: [domain NAME] needs a domain name"},
        BadCase{"DomainTwiceInOtherCase", "[domain A.test]\n[domain a.TEST.]\n",
                "/etc/t.conf:2: [domain a.test] defined twice (first on line 1)"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

TEST(ConfigFile, MissingFile_ErrorNamesPath) {
    try {
        load_config_file("/nonexistent/rcptguard.conf");
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), "/nonexistent/rcptguard.conf: cannot read: No such file or directory");
    }
}

struct DurCase {
    const char* text;
    long long ms;  // -1 = invalid
};

class Durations : public ::testing::TestWithParam<DurCase> {};

TEST_P(Durations, Parse_MatchesPostfixUnits) {
    auto d = parse_duration(GetParam().text);
    if (GetParam().ms < 0) {
        EXPECT_FALSE(d.has_value());
    } else {
        ASSERT_TRUE(d.has_value());
        EXPECT_EQ(d->count(), GetParam().ms);
    }
}

INSTANTIATE_TEST_SUITE_P(Table, Durations,
                         ::testing::Values(DurCase{"500ms", 500}, DurCase{"5s", 5000}, DurCase{"5", 5000},
                                           DurCase{"10m", 600000}, DurCase{"1h", 3600000}, DurCase{"7d", 604800000},
                                           DurCase{"2w", 1209600000}, DurCase{"0", 0}, DurCase{"5S", 5000},
                                           DurCase{"", -1}, DurCase{"s", -1}, DurCase{"5x", -1}, DurCase{"-5s", -1},
                                           DurCase{"1.5s", -1}, DurCase{"99999999999s", -1}));

TEST(Durations, Format_AsAnAdminWritesThem) {
    using std::chrono::milliseconds;
    EXPECT_EQ(format_duration(milliseconds(0)), "0s");
    EXPECT_EQ(format_duration(milliseconds(500)), "500ms");
    EXPECT_EQ(format_duration(milliseconds(1500)), "1.5s");
    EXPECT_EQ(format_duration(milliseconds(2000)), "2s");
    EXPECT_EQ(format_duration(milliseconds(30000)), "30s");
    EXPECT_EQ(format_duration(milliseconds(52999)), "53s");
    EXPECT_EQ(format_duration(milliseconds(3595998)), "59m56s");
    EXPECT_EQ(format_duration(milliseconds(3600000)), "1h");
    EXPECT_EQ(format_duration(milliseconds(7 * 86400000LL)), "7d");
    EXPECT_EQ(format_duration(milliseconds(86400000LL + 3 * 3600000LL + 60000)), "1d3h1m");
    EXPECT_EQ(format_duration(milliseconds(-1500)), "-1.5s");
}

TEST(Durations, Format_ParsesBack) {
    using std::chrono::milliseconds;
    for (long long ms : {0LL, 250LL, 1000LL, 30000LL, 60000LL, 3600000LL, 86400000LL, 7 * 86400000LL}) {
        auto back = parse_duration(format_duration(milliseconds(ms)));
        ASSERT_TRUE(back) << ms;
        EXPECT_EQ(back->count(), ms);
    }
}

class ReaderTest : public ::testing::Test {
protected:
    std::string fail_of(const std::string& text, const std::function<void(SectionReader&)>& use) {
        ConfigFile f = parse_config_text(text, "r.conf");
        SectionReader r(f, f.global);
        try {
            use(r);
            r.finish();
            f.throw_if_problems();
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "";
    }
};

TEST_F(ReaderTest, UnknownKey_Rejected) {
    EXPECT_EQ(fail_of("domians = x\n", [](SectionReader& r) { r.string("domains", ""); }),
              "r.conf:1: domians: unknown key in the global section");
}

TEST_F(ReaderTest, Boolean_BadValue) {
    EXPECT_EQ(fail_of("x = maybe\n", [](SectionReader& r) { r.boolean("x", false); }),
              "r.conf:1: x: expected yes or no, got 'maybe'");
}

TEST_F(ReaderTest, Integer_OutOfRange) {
    EXPECT_EQ(fail_of("\nn = 100\n", [](SectionReader& r) { r.integer("n", 1, 1, 64); }),
              "r.conf:2: n: must be between 1 and 64, got 100");
}

TEST_F(ReaderTest, Duration_OutOfRange) {
    EXPECT_EQ(fail_of("t = 1h\n",
                      [](SectionReader& r) {
                          r.duration("t", std::chrono::seconds(1), std::chrono::seconds(0), std::chrono::seconds(10));
                      }),
              "r.conf:1: t: must be between 0s and 10s, got 1h");
}

TEST_F(ReaderTest, Choice_ListsAllowed) {
    EXPECT_EQ(fail_of("mode = loose\n",
                      [](SectionReader& r) {
                          r.choice("mode", "enforce", {"enforce", "monitor"});
                      }),
              "r.conf:1: mode: expected enforce or monitor, got 'loose'");
}

TEST_F(ReaderTest, Mode_Octal) {
    ConfigFile f = parse_config_text("m = 0660\n", "r");
    SectionReader r(f, f.global);
    EXPECT_EQ(r.mode("m", 0), 0660u);
    EXPECT_NE(fail_of("m = 0999\n", [](SectionReader& rr) { rr.mode("m", 0); }).find("octal"), std::string::npos);
}

TEST_F(ReaderTest, Required_Missing_NamesSection) {
    ConfigFile f = parse_config_text("[backend b]\ntype = file\n", "r.conf");
    SectionReader r(f, f.sections[0]);
    try {
        EXPECT_EQ(r.required("path"), "");
        EXPECT_FALSE(r.ok());
        f.throw_if_problems();
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), "r.conf:1: path: missing: required in [backend b]");
    }
}

TEST_F(ReaderTest, SeveralProblems_AllReportedInFileOrder) {
    ConfigFile f = parse_config_text(
        "n = 100\n"
        "log_levle = debug\n"
        "b = maybe\n"
        "nonsense\n"
        "t = 1h\n",
        "r.conf");
    SectionReader r(f, f.global);
    // Read in another order than the file's: the report is still in file order.
    EXPECT_EQ(r.duration("t", std::chrono::seconds(5), std::chrono::seconds(1), std::chrono::seconds(10)).count(),
              5000);
    EXPECT_TRUE(r.boolean("b", true));
    EXPECT_EQ(r.integer("n", 7, 1, 64), 7);
    r.finish();
    try {
        f.throw_if_problems();
        FAIL();
    } catch (const ConfigErrors& e) {
        EXPECT_EQ(std::string(e.what()),
                  "r.conf:1: n: must be between 1 and 64, got 100\n"
                  "r.conf:2: log_levle: unknown key in the global section\n"
                  "r.conf:3: b: expected yes or no, got 'maybe'\n"
                  "r.conf:4: nonsense: expected 'key = value'\n"
                  "r.conf:5: t: must be between 1s and 10s, got 1h");
        ASSERT_EQ(e.all().size(), 5u);
        EXPECT_EQ(e.line(), 1);
    }
}

TEST_F(ReaderTest, DeclaredKeys_DefaultsFromTable_UnknownKeyNamesTheKnownOnes) {
    static const KeySpec kKeys[] = {{"size", "4", "how many"}, {"wait", "2s", "how long"}, {"on", "yes", "switch"}};
    ConfigFile f = parse_config_text("[backend b]\ntype = x\nsiez = 5\n", "r.conf");
    SectionReader r(f, f.sections[0]);
    r.string("type", "");
    r.declare(kKeys);
    EXPECT_EQ(r.integer("size", 1, 10), 4);
    EXPECT_EQ(r.duration("wait", std::chrono::seconds(0), std::chrono::seconds(9)).count(), 2000);
    EXPECT_TRUE(r.boolean("on"));
    EXPECT_THROW(r.string("undeclared"), std::logic_error);
    r.finish();
    try {
        f.throw_if_problems();
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), "r.conf:3: siez: unknown key in [backend b] (it takes: type, size, wait, on)");
    }
}

}  // namespace
}  // namespace rcptguard

namespace rcptguard {
namespace {

TEST(ConfigChanges, ChangedAddedRemovedKeysAndSections_DescribedInFileOrder) {
    ConfigFile before = parse_config_text(
        "mode = enforce\n"
        "tarpit_delay = 1s\n"
        "log_level = debug\n"
        "[backend users]\ntype = sqlite\npath = /a.db\n"
        "[backend old]\ntype = file\npath = /x\n",
        "r.conf");
    ConfigFile after = parse_config_text(
        "mode = monitor\n"
        "tarpit_delay = 1s\n"
        "reject_message = No such user here\n"
        "[backend users]\ntype = sqlite\npath = /b.db\n"
        "[backend dir]\ntype = ldap\n",
        "r.conf");
    std::vector<std::string> got;
    for (const auto& c : config_changes(before, after)) got.push_back(describe(c));
    std::vector<std::string> want = {"mode: enforce -> monitor",      "reject_message: (default) -> No such user here",
                                     "log_level: debug -> (default)", "[backend users] path: /a.db -> /b.db",
                                     "[backend dir]: added",          "[backend old]: removed"};
    EXPECT_EQ(got, want);
}

TEST(ConfigChanges, SameFile_NoChange) {
    const char* text = "mode = enforce\n[backend users]\ntype = sqlite\npath = /a.db\n";
    EXPECT_TRUE(config_changes(parse_config_text(text, "a"), parse_config_text(text, "b")).empty());
}

TEST(ConfigChanges, HostileValue_PrintableAndBounded) {
    ConfigChange c{"", "reject_message", std::string("a\x01") + std::string(500, 'x'), std::nullopt};
    std::string d = describe(c);
    EXPECT_EQ(d.find('\x01'), std::string::npos);
    EXPECT_LT(d.size(), 200u);
}

}  // namespace
}  // namespace rcptguard
