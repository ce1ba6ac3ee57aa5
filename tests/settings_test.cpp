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
    testing::write_file(d.file("b.conf"), "domains = a.test\nbackends = u\n[backend u]\ntype = oracle\n");
    EXPECT_NE(runtime_error_of(d.file("b.conf")).find(":4: type: unknown backend type 'oracle'"), std::string::npos);
    testing::write_file(d.file("c.conf"),
                        "domains = a.test\nbackends = u\n[backend u]\ntype = sqlite\npath = /x.db\npool = 3\n");
    EXPECT_EQ(runtime_error_of(d.file("c.conf")),
              d.file("c.conf") +
                  ":6: pool: unknown key in [backend u] (it takes: domains, type, path, query, domain_query, "
                  "pool_size, busy_timeout, idle_timeout)");
    testing::write_file(d.file("d.conf"), "domains = a.test\nbackends = u\n[backend u]\ntype = file\npath = " +
                                              d.file("missing.txt") + "\n");
    EXPECT_NE(runtime_error_of(d.file("d.conf")).find(":5: path: "), std::string::npos);
    testing::write_file(d.file("e.conf"),
                        "domains = a.test\nbackends = u\n[backend u]\ntype = sqlite\npath = /x\n"
                        "query = DELETE FROM recipients WHERE address = ?\n");
    EXPECT_NE(runtime_error_of(d.file("e.conf")).find(":6: query: must be a SELECT"), std::string::npos);
}

TEST(Settings, DomainSections_CanonicalNames_GlobalValuesFilledIn) {
    Settings s = read_settings(parse_config_text(std::string("mode = monitor\nreject_message = Gone\n") + kMinimal +
                                                     "[backend v]\ntype = fail\n"
                                                     "[domain Example.TEST.]\nmode = enforce\nbackends = v\n"
                                                     "[domain other.test]\nreject_message = Nobody here\n",
                                                 "t"));
    ASSERT_EQ(s.recipients.per_domain.size(), 2u);
    const DomainSettings& a = s.recipients.per_domain[0];
    EXPECT_EQ(a.domain, "example.test");
    EXPECT_FALSE(a.monitor);
    EXPECT_EQ(a.reject_message, "Gone");
    EXPECT_EQ(a.backend_names, std::vector<std::string>{"v"});
    const DomainSettings& b = s.recipients.per_domain[1];
    EXPECT_TRUE(b.monitor);
    EXPECT_EQ(b.reject_message, "Nobody here");
    EXPECT_TRUE(b.backend_names.empty());
    // other.test is not in "domains": the section can never apply.
    bool warned = false;
    for (const auto& w : s.warnings)
        warned = warned || w.find("[domain other.test]: other.test is not in") != std::string::npos;
    EXPECT_TRUE(warned);
}

TEST(Settings, DomainsFromBackend_Parsed) {
    Settings s = read_settings(
        parse_config_text("domains = static.test backend:db\nbackends = db\n[backend db]\ntype = fail\n", "t"));
    EXPECT_TRUE(s.recipients.domains.contains("static.test"));
    EXPECT_FALSE(s.recipients.domains.contains("backend:db"));
    EXPECT_EQ(s.recipients.domain_backends, std::vector<std::string>{"db"});
    // A backend used only for its domains is in use.
    Settings t = read_settings(parse_config_text(
        "domains = backend:db\nbackends = u\n[backend u]\ntype = fail\n[backend db]\ntype = fail\n", "t"));
    EXPECT_TRUE(t.warnings.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Domains, SettingsBad,
    ::testing::Values(
        BadSetting{"DomainsBackendMissing", "domains = backend:nope\nbackends = u\n[backend u]\ntype = fail\n",
                   "rcptguard.conf:1: domains: 'backend:nope': no [backend nope] section"},
        BadSetting{"DomainsBackendTwice", "domains = backend:u backend:u\nbackends = u\n[backend u]\ntype = fail\n",
                   "rcptguard.conf:1: domains: 'backend:u' listed twice"},
        BadSetting{"DomainSectionUnknownKey", std::string(kMinimal) + "[domain example.test]\npath = /x\n",
                   "rcptguard.conf:6: path: unknown key in [domain example.test] (it takes: mode, backends, "
                   "reject_message)"},
        BadSetting{"DomainSectionBadMode", std::string(kMinimal) + "[domain example.test]\nmode = maybe\n",
                   "rcptguard.conf:6: mode: expected enforce or monitor"},
        BadSetting{"DomainSectionNoSuchBackend", std::string(kMinimal) + "[domain example.test]\nbackends = x\n",
                   "rcptguard.conf:6: backends: no [backend x] section"},
        BadSetting{"DomainSectionEmptyBackends", std::string(kMinimal) + "[domain example.test]\nbackends =\n",
                   "rcptguard.conf:6: backends: empty"},
        BadSetting{"DomainSectionBadText", std::string(kMinimal) + "[domain example.test]\nreject_message = \x01\n",
                   "rcptguard.conf:6: reject_message:"}),
    [](const ::testing::TestParamInfo<BadSetting>& i) { return std::string(i.param.name); });

TEST(Runtime, DomainsFromABackendWithoutDomainQuery_Error) {
    TempDir d;
    testing::write_file(d.file("a.conf"), "domains = backend:u\nbackends = u\n[backend u]\ntype = fail\n");
    EXPECT_EQ(runtime_error_of(d.file("a.conf")),
              d.file("a.conf") + ":1: domains: backend:u: [backend u] has no domain_query (type fail)");
}

TEST(Runtime, DomainsFromSqliteDomainQuery_AndPerDomainBackends_Built) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"alice@fromdb.test", "bob@special.test"});
    testing::write_file(
        d.file("a.conf"),
        "domains = backend:u special.test\nbackends = u\n[backend u]\ntype = sqlite\npath = " + d.file("r.db") +
            "\ndomain_query = SELECT 1 FROM recipients WHERE address LIKE '%@' || %d\n"
            "[backend drill]\ntype = fail\n"
            "[domain special.test]\nbackends = drill\nmode = monitor\n");
    auto rt = build_runtime(d.file("a.conf"), 1);
    EXPECT_TRUE(rt->query_problems.empty());
    EXPECT_EQ(rt->backends.size(), 2u);
    EXPECT_EQ(rt->rules->check("<alice@fromdb.test>").verdict, Verdict::Valid);
    EXPECT_EQ(rt->rules->check("<nobody@fromdb.test>").verdict, Verdict::Unknown);
    EXPECT_EQ(rt->rules->check("<x@elsewhere.test>").verdict, Verdict::NotOurs);
    RecipientCheck c = rt->rules->check("<bob@special.test>");
    EXPECT_EQ(c.verdict, Verdict::TempFail);  // special.test asks the drill backend only
    EXPECT_EQ(c.backend, "drill");
    EXPECT_TRUE(rt->rules->monitor_for(c));
}

TEST(Runtime, QueryTheDatabaseRefuses_AQueryProblemNotAWarning) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"alice@a.test"});
    testing::write_file(d.file("a.conf"), "domains = a.test\nbackends = u\n[backend u]\ntype = sqlite\npath = " +
                                              d.file("r.db") + "\nquery = SELECT 1 FROM mailbox WHERE username = %s\n");
    auto rt = build_runtime(d.file("a.conf"), 1);
    ASSERT_EQ(rt->query_problems.size(), 1u);
    EXPECT_NE(rt->query_problems[0].find("backend u: "), std::string::npos) << rt->query_problems[0];
    EXPECT_NE(rt->query_problems[0].find("no such table: mailbox"), std::string::npos) << rt->query_problems[0];
    EXPECT_EQ(rt->rules->check("<alice@a.test>").verdict, Verdict::TempFail);
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

TEST(Runtime, LookupsLocal_OnlyWhenEveryStoreIsOnThisHost) {
    // The policy service answers on its I/O thread only when no lookup can
    // wait on another server: a [domain] section's backend counts too.
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"alice@a.test"});
    testing::write_file(d.file("users.txt"), "bob@a.test\n");
    std::string local =
        "domains = a.test b.test\nbackends = s f\n[backend s]\ntype = sqlite\npath = " + d.file("r.db") +
        "\n[backend f]\ntype = file\npath = " + d.file("users.txt") +
        "\n[backend drill]\ntype = fail\n[domain b.test]\nbackends = drill\n";
    testing::write_file(d.file("local.conf"), local);
    EXPECT_TRUE(build_runtime(d.file("local.conf"), 1)->lookups_local);
    testing::write_file(d.file("remote.conf"), local +
                                                   "[domain c.test]\nbackends = downstream\n"
                                                   "[backend downstream]\ntype = smtp\nhost = 127.0.0.1:9\n");
    auto rt = build_runtime(d.file("remote.conf"), 1);
    EXPECT_EQ(rt->backends.size(), 4u);
    EXPECT_FALSE(rt->lookups_local);
}

TEST(Runtime, AllBackends_ForCtlStatus_DomainSectionsIncluded) {
    // rcptguard-ctl status lists every backend in use, not only the global
    // "backends": a [domain] section's backend that fails shows as FAILING.
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"alice@a.test"});
    testing::write_file(d.file("r.conf"),
                        "domains = a.test b.test\nbackends = s\n[backend s]\ntype = sqlite\npath = " + d.file("r.db") +
                            "\n[backend drill]\ntype = fail\nreason = drill\n"
                            "[domain b.test]\nbackends = drill\n");
    Metrics metrics;
    RuntimeContext ctx;
    ctx.metrics = &metrics;
    auto rt = build_runtime(d.file("r.conf"), 1, ctx);
    ASSERT_TRUE(rt->all_backends);
    std::vector<BackendHealth> before = rt->all_backends->health();
    ASSERT_EQ(before.size(), 2u);
    EXPECT_EQ(before[0].name, "s");
    EXPECT_EQ(before[1].name, "drill");
    EXPECT_FALSE(before[1].last_failure.failing);
    EXPECT_EQ(rt->rules->check("<x@b.test>").verdict, Verdict::TempFail);
    std::vector<BackendHealth> after = rt->all_backends->health();
    EXPECT_TRUE(after[1].last_failure.failing);
    EXPECT_EQ(after[1].failures, 1u);
    EXPECT_EQ(after[1].last_failure.reason, "drill");
    EXPECT_FALSE(after[0].last_failure.failing);
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
