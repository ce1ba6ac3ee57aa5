// Unit tests for the control socket's commands (core/control), on a runtime
// built from configuration text and this host's client memory: the exact
// shape of every answer, bans listed and lifted, the caches flushed, status,
// and hostile requests answered with an error, never an exception.
#include "core/control.hpp"

#include <gtest/gtest.h>

#include "tests/fakes/fake_clock.hpp"
#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

using testing::FakeClock;
using testing::TempDir;

constexpr std::int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z

class Control : public ::testing::Test {
protected:
    void SetUp() override {
        testing::write_file(dir_.file("users"), "alice@example.test\n");
        std::string conf =
            "domains = example.test\nbackends = users\nban_threshold = 3\n[backend users]\n"
            "type = file\npath = " +
            dir_.file("users") + "\n";
        rt_ = build_runtime_from(parse_config_text(conf, dir_.file("rcptguard.conf")), 4);
        holder_.publish(rt_);
        ctx_ = ControlContext{&holder_, &clients_, kNow - 3700, [] { return kNow; }};
    }
    const BanSettings& bans() const { return rt_->settings->tarpit.ban; }
    std::string ask(std::string_view request) { return control_answer(request, ctx_); }

    TempDir dir_;
    FakeClock clock_;
    LocalClientState clients_{LocalStateOptions{1000, "mx1.example.test", "", nullptr}, clock_};
    std::shared_ptr<const Runtime> rt_;
    RuntimeHolder holder_;
    ControlContext ctx_;
};

TEST_F(Control, FormatUtc) {
    EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(format_utc(kNow), "2027-01-15T08:00:00Z");
}

TEST_F(Control, Bans_EmptyThenOneBannedOneCounted_ExactLines) {
    EXPECT_EQ(ask("bans"),
              "ok\n"
              "# state: local (this host only), bans are forgotten at a restart (no state_file)\n"
              "# CLIENT                                BAD    BANNED UNTIL          LAST HOST\n"
              "# 0 clients, 0 banned\n"
              ".\n");
    for (int i = 0; i < 3; ++i) clients_.add_bad("192.0.2.7", 1, bans());
    clients_.add_bad("2001:db8:1:2::/64", 1, bans());
    EXPECT_EQ(ask("bans"),
              "ok\n"
              "# state: local (this host only), bans are forgotten at a restart (no state_file)\n"
              "# CLIENT                                BAD    BANNED UNTIL          LAST HOST\n"
              "  192.0.2.7                             3      2027-01-15T09:00:00Z  mx1.example.test\n"
              "  2001:db8:1:2::/64                     1      -                     mx1.example.test\n"
              "# 2 clients, 1 banned\n"
              ".\n");
}

TEST_F(Control, Unban_AddressPrefixNothingAndNonsense) {
    for (int i = 0; i < 3; ++i) clients_.add_bad("192.0.2.7", 1, bans());
    clients_.add_bad("192.0.2.8", 1, bans());
    EXPECT_EQ(ask("unban 192.0.2.7"),
              "ok\nlifted: 1 client matching 192.0.2.7 (ban and count forgotten on this host)\n.\n");
    EXPECT_FALSE(clients_.known_status("192.0.2.7", bans()).banned);
    EXPECT_EQ(ask("unban 192.0.2.0/24"),
              "ok\nlifted: 1 client matching 192.0.2.0/24 (ban and count forgotten on this host)\n.\n");
    EXPECT_EQ(ask("unban 192.0.2.0/24"),
              "ok\nnothing to lift: no client matching 192.0.2.0/24 is banned or counted\n.\n");
    EXPECT_EQ(ask("unban mx.example.com"),
              "error: 'mx.example.com' is not an address or prefix (e.g. 192.0.2.7, 2001:db8:1:2::/64)\n.\n");
    EXPECT_EQ(ask("unban"), "error: usage: bans | unban ADDRESS|PREFIX | flush-cache [ADDRESS] | status\n.\n");
}

TEST_F(Control, FlushCache_AllOneRecipientOrAClient) {
    ASSERT_TRUE(rt_->cache);
    rt_->rules->check("<alice@example.test>");
    rt_->rules->check("<bob@example.test>");
    EXPECT_GT(rt_->cache->size(), 0u);
    EXPECT_EQ(ask("flush-cache Alice@EXAMPLE.test"), "ok\nforgot 1 cached answer for <alice@example.test>\n.\n");
    EXPECT_EQ(ask("flush-cache alice@example.test"), "ok\nforgot 0 cached answers for <alice@example.test>\n.\n");
    std::size_t left = rt_->cache->size();
    EXPECT_EQ(ask("flush-cache"),
              "ok\nlookup cache emptied (" + std::to_string(left) + " entries); cached client standings dropped\n.\n");
    EXPECT_EQ(rt_->cache->size(), 0u);
    EXPECT_EQ(ask("flush-cache 192.0.2.0/24"), "ok\ndropped the cached standing of clients matching 192.0.2.0/24\n.\n");
    EXPECT_EQ(ask("flush-cache @@"),
              "error: '@@' is not an address: " + parse_address("@@", rt_->rules->settings().address).error + "\n.\n");
    EXPECT_EQ(ask("flush-cache what"),
              "error: 'what' is neither a recipient address nor a client address or prefix\n.\n");
}

TEST_F(Control, Status_UptimeGenerationBackendsState) {
    std::string s = ask("status");
    EXPECT_EQ(s.rfind("ok\nversion: rcptguard ", 0), 0u) << s;
    EXPECT_NE(s.find("\nuptime: 1h1m40s (started 2027-01-15T06:58:20Z)\n"), std::string::npos) << s;
    EXPECT_NE(s.find("\nconfiguration: " + dir_.file("rcptguard.conf") + ", generation 4, loaded "), std::string::npos)
        << s;
    EXPECT_NE(s.find("\nbackend users (file): ok\n"), std::string::npos) << s;
    EXPECT_NE(s.find("\nshared state: local (this host only), bans are forgotten at a restart (no state_file)\n"),
              std::string::npos)
        << s;
    EXPECT_NE(s.find("\nclients in this host's table: 0 (0 banned here)\n"), std::string::npos) << s;
    EXPECT_NE(s.find("\nlookup cache: 0 entries\n.\n"), std::string::npos) << s;
}

TEST_F(Control, Status_FailingBackend_ShowsLastError) {
    std::string conf = "domains = example.test\nbackends = broken\n[backend broken]\ntype = fail\n";
    holder_.publish(build_runtime_from(parse_config_text(conf, "t.conf"), 5));
    holder_.get()->rules->check("<alice@example.test>");
    std::string s = ask("status");
    EXPECT_NE(s.find("\nbackend broken (fail): FAILING; 1 temporary failures since loaded; last error "),
              std::string::npos)
        << s;
    EXPECT_NE(s.find("generation 5"), std::string::npos);
}

struct Hostile {
    const char* name;
    std::string request;
    const char* answer;
};

class HostileRequest : public Control, public ::testing::WithParamInterface<Hostile> {};

TEST_P(HostileRequest, AnsweredWithAnError) { EXPECT_EQ(ask(GetParam().request), GetParam().answer); }

INSTANTIATE_TEST_SUITE_P(
    Table, HostileRequest,
    ::testing::Values(
        Hostile{"empty", "", "error: empty request (bans, unban, flush-cache, status)\n.\n"},
        Hostile{"blanks", "  \t ", "error: empty request (bans, unban, flush-cache, status)\n.\n"},
        Hostile{"unknown", "shutdown", "error: unknown command 'shutdown' (bans, unban, flush-cache, status)\n.\n"},
        Hostile{"upper_case", "BANS", "error: unknown command 'BANS' (bans, unban, flush-cache, status)\n.\n"},
        Hostile{"nul", std::string("bans\0x", 6), "error: requests are printable ASCII\n.\n"},
        Hostile{"escape", "status \x1b[2J", "error: requests are printable ASCII\n.\n"},
        Hostile{"utf8", "unban 192.0.2.7\xc2\xa0", "error: requests are printable ASCII\n.\n"},
        Hostile{"too_long", "unban " + std::string(2000, '1'), "error: request too long\n.\n"},
        Hostile{"extra_args", "status now please",
                "error: usage: bans | unban ADDRESS|PREFIX | flush-cache [ADDRESS] | status\n.\n"},
        Hostile{"commas", "unban ,,,",
                "error: usage: bans | unban ADDRESS|PREFIX | flush-cache [ADDRESS] | status\n.\n"}),
    [](const ::testing::TestParamInfo<Hostile>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace rcptguard
