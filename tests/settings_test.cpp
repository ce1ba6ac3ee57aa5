// Unit tests for the global settings (milter/settings.hpp) and for building a
// runtime from a whole configuration file (milter/runtime.hpp).
#include "core/settings.hpp"

#include <gtest/gtest.h>

#include "core/runtime.hpp"
#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

using testing::TempDir;

std::string settings_error(const std::string& text) {
    try {
        read_settings(parse_config_text(text, "/etc/rcptguard/rcptguard.conf"));
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

const char* kMinimal = "domains = example.test\nbackends = u\n[backend u]\ntype = fail\n";

TEST(Settings, Minimal_Defaults) {
    Settings s = read_settings(parse_config_text(kMinimal, "t"));
    EXPECT_EQ(s.socket, "inet:8894@127.0.0.1");
    EXPECT_EQ(s.socket_mode, 0660u);
    EXPECT_FALSE(s.recipients.monitor);
    EXPECT_FALSE(s.recipients.accept_on_backend_error);
    EXPECT_EQ(s.recipients.address.recipient_delimiters, "+");
    EXPECT_TRUE(s.recipients.address.fold_local_case);
    EXPECT_TRUE(s.recipients.domains.contains("example.test"));
    EXPECT_EQ(s.backend_names, std::vector<std::string>{"u"});
    EXPECT_EQ(s.log.level, LogLevel::Info);
}

struct BadSetting {
    const char* name;
    std::string text;
    std::string want;
};

class SettingsBad : public ::testing::TestWithParam<BadSetting> {};

TEST_P(SettingsBad, Error_NamesFileLineKey) {
    std::string e = settings_error(GetParam().text);
    EXPECT_NE(e.find(GetParam().want), std::string::npos) << "got: " << e;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SettingsBad,
    ::testing::Values(
        BadSetting{"NoDomains", "backends = u\n[backend u]\ntype = fail\n",
                   "/etc/rcptguard/rcptguard.conf: domains: missing"},
        BadSetting{"BadDomain", "domains = exa mple\nbackends = u\n[backend u]\ntype=fail\n", ""},
        BadSetting{"BadDomain2", "domains = [1.2.3.4]\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: domains: '[1.2.3.4]' is not a domain name"},
        BadSetting{"NoBackends", "domains = a.test\n", "rcptguard.conf: backends: missing"},
        BadSetting{"UnknownBackend", "domains = a.test\nbackends = nope\n",
                   "rcptguard.conf:2: backends: no [backend nope] section"},
        BadSetting{"TwiceBackend", "domains = a.test\nbackends = u u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:2: backends: 'u' listed twice"},
        BadSetting{"Mode", std::string(kMinimal) + "", ""},
        BadSetting{"BadMode", "mode = strict\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: mode: expected enforce or monitor, got 'strict'"},
        BadSetting{"BadOnError", "on_backend_error = reject\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: on_backend_error: expected tempfail or accept"},
        BadSetting{"BadSocket",
                   "socket = inet:127.0.0.1:8894\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: socket: port must be a number"},
        BadSetting{"SocketAllInterfaces",
                   "socket = inet:8894\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: socket: name the address"},
        BadSetting{"RelativeUnix", "socket = unix:x.sock\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: socket: unix socket path must be absolute"},
        BadSetting{"Delimiter", "recipient_delimiter = @\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: recipient_delimiter:"},
        BadSetting{"RejectText",
                   "reject_message = caf\xC3\xA9\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: reject_message: only printable ASCII"},
        BadSetting{"Typo", "domians = a.test\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: domians: unknown key in the global section"},
        BadSetting{"LogLevel", "log_level = loud\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: log_level: expected error"},
        BadSetting{"Facility", "syslog_facility = kern\ndomains = a.test\nbackends = u\n[backend u]\ntype=fail\n",
                   "rcptguard.conf:1: syslog_facility:"}),
    [](const ::testing::TestParamInfo<BadSetting>& i) { return std::string(i.param.name); });

TEST(Settings, UnlistedBackendSection_Warning) {
    Settings s = read_settings(parse_config_text(std::string(kMinimal) + "[backend spare]\ntype = fail\n", "t"));
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("t:5: [backend spare] is defined but not listed"), std::string::npos);
}

std::string runtime_error_of(const std::string& path) {
    try {
        build_runtime(path, 1);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(Runtime, BackendKeyErrors_NameFileLineKey) {
    TempDir d;
    testing::write_file(d.file("a.conf"), "domains = a.test\nbackends = u\n[backend u]\ntype = sqlite\n");
    EXPECT_EQ(runtime_error_of(d.file("a.conf")), d.file("a.conf") + ":3: path: missing: required in [backend u]");
    testing::write_file(d.file("b.conf"), "domains = a.test\nbackends = u\n[backend u]\ntype = mysql\n");
    EXPECT_NE(runtime_error_of(d.file("b.conf")).find(":4: type: unknown backend type 'mysql'"), std::string::npos);
    testing::write_file(d.file("c.conf"),
                        "domains = a.test\nbackends = u\n[backend u]\ntype = sqlite\npath = /x.db\npool = 3\n");
    EXPECT_EQ(runtime_error_of(d.file("c.conf")),
              d.file("c.conf") +
                  ":6: pool: unknown key in [backend u] (it takes: type, path, query, pool_size, "
                  "busy_timeout, idle_timeout)");
    testing::write_file(d.file("d.conf"), "domains = a.test\nbackends = u\n[backend u]\ntype = file\npath = " +
                                              d.file("missing.txt") + "\n");
    EXPECT_NE(runtime_error_of(d.file("d.conf")).find(":5: path: "), std::string::npos);
    testing::write_file(d.file("e.conf"),
                        "domains = a.test\nbackends = u\n[backend u]\ntype = sqlite\npath = /x\n"
                        "query = DELETE FROM recipients WHERE address = ?\n");
    EXPECT_NE(runtime_error_of(d.file("e.conf")).find(":6: query: must be a SELECT"), std::string::npos);
}

TEST(Runtime, MissingSqliteDatabase_NotFatal_Warned_TempFail) {
    TempDir d;
    testing::write_file(d.file("r.conf"), "domains = a.test\nbackends = u\n[backend u]\ntype = sqlite\npath = " +
                                              d.file("none.db") + "\n");
    auto rt = build_runtime(d.file("r.conf"), 1);
    ASSERT_EQ(rt->warnings.size(), 1u);
    EXPECT_NE(rt->warnings[0].find("backend u: cannot open"), std::string::npos) << rt->warnings[0];
    EXPECT_EQ(rt->rules->check("<x@a.test>").verdict, Verdict::TempFail);
}

TEST(Runtime, SampleConfig_Parses) {
    // etc/rcptguard.conf as shipped must be a valid configuration (its
    // database does not exist here: that is only a warning).
    auto rt = build_runtime(testing::source_dir() + "/etc/rcptguard.conf", 1);
    EXPECT_EQ(rt->backends.size(), 1u);
    EXPECT_EQ(rt->settings->user, "rcptguard");
}

TEST(Runtime, RestartOnlyChanges_Listed) {
    Settings a, b;
    b.socket = "unix:/x";
    b.user = "nobody";
    std::vector<std::string> want = {"socket", "user"};
    EXPECT_EQ(restart_only_changes(a, b), want);
}

}  // namespace
}  // namespace rcptguard
