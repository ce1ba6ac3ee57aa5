// Unit tests for this host's own client memory (LocalClientState) and its
// state file (core/tarpit/state_file): the format read back as written, every
// kind of damage refused as a whole, bans kept across a "restart" (a second
// instance reading the file) with the time they had left, writes only after a
// change and at stop, and a file that cannot be written.
#include "core/tarpit/local_client_state.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/tarpit/state_file.hpp"
#include "tests/fakes/fake_clock.hpp"
#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

using testing::FakeClock;
using testing::TempDir;

constexpr std::int64_t kNow = 1'800'000'000;

bool exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}
constexpr std::int64_t kLongest = 30 * 86400 + 3600;

BanSettings bans(unsigned threshold = 3) {
    BanSettings b;
    b.ban_threshold = threshold;
    b.window = Millis(600000);
    b.ban_time = Millis(3600000);
    return b;
}

TEST(StateFile, WrittenThenRead_SameBans_ExpiredOnesDropped) {
    std::vector<SavedBan> bans{
        {"192.0.2.7", kNow + 100, 12}, {"2001:db8:1:2::/64", kNow + 3600, 31}, {"198.51.100.1", kNow - 1, 5}};
    std::string text = format_state_file(bans);
    std::vector<SavedBan> back;
    ASSERT_EQ(parse_state_file(text, kNow, kLongest, 100, &back), "");
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].key, "192.0.2.7");
    EXPECT_EQ(back[0].until_unix, kNow + 100);
    EXPECT_EQ(back[0].bad, 12u);
    EXPECT_EQ(back[1].key, "2001:db8:1:2::/64");
}

struct Damage {
    const char* name;
    std::string text;
    const char* problem;
};

class DamagedStateFile : public ::testing::TestWithParam<Damage> {};

TEST_P(DamagedStateFile, RefusedAsAWhole_WithLineAndProblem) {
    std::vector<SavedBan> bans{{"keep-me", 1, 1}};
    std::string problem = parse_state_file(GetParam().text, kNow, kLongest, 3, &bans);
    EXPECT_NE(problem.find(GetParam().problem), std::string::npos) << problem;
    EXPECT_EQ(bans.size(), 1u);  // untouched
    EXPECT_EQ(bans[0].key, "keep-me");
}

const std::string kGood = "ban 192.0.2.7 " + std::to_string(kNow + 60) + " 3\n";

INSTANTIATE_TEST_SUITE_P(
    Table, DamagedStateFile,
    ::testing::Values(
        Damage{"empty", "", "empty"}, Damage{"only_comments", "# nothing\n\n", "empty"},
        Damage{"no_header", kGood, "line 1: expected 'rcptguard-state 1'"},
        Damage{"other_version", "rcptguard-state 2\n" + kGood, "line 1: expected"},
        Damage{"binary", std::string("\x00\xff\xfe", 3) + "\n", "line 1: expected"},
        Damage{"unknown_line", "rcptguard-state 1\n" + kGood + "unban 192.0.2.7\n", "line 3: expected 'ban CLIENT"},
        Damage{"missing_field", "rcptguard-state 1\nban 192.0.2.7 " + std::to_string(kNow + 60) + "\n",
               "line 2: expected 'ban CLIENT"},
        Damage{"extra_field", "rcptguard-state 1\nban 192.0.2.7 1 2 3\n", "line 2: expected 'ban CLIENT"},
        Damage{"not_an_address", "rcptguard-state 1\nban mail.example.com " + std::to_string(kNow + 60) + " 3\n",
               "line 2: 'mail.example.com' is not an address or prefix"},
        Damage{"bad_prefix", "rcptguard-state 1\nban 2001:db8::/129 " + std::to_string(kNow + 60) + " 3\n",
               "is not an address or prefix"},
        Damage{"time_not_a_number", "rcptguard-state 1\nban 192.0.2.7 soon 3\n", "the end of the ban is not a number"},
        Damage{"time_huge", "rcptguard-state 1\nban 192.0.2.7 99999999999999999999999 3\n",
               "the end of the ban is not a number"},
        Damage{"time_negative", "rcptguard-state 1\nban 192.0.2.7 -5 3\n", "the end of the ban is not a number"},
        Damage{"ban_too_long", "rcptguard-state 1\nban 192.0.2.7 " + std::to_string(kNow + 40 * 86400) + " 3\n",
               "lasting longer than ban_time allows"},
        Damage{"count_not_a_number", "rcptguard-state 1\nban 192.0.2.7 " + std::to_string(kNow + 60) + " x\n",
               "the count is not a number"},
        Damage{"count_huge", "rcptguard-state 1\nban 192.0.2.7 " + std::to_string(kNow + 60) + " 99999999\n",
               "the count is not a number"},
        Damage{"too_many", "rcptguard-state 1\n" + kGood + kGood + kGood + kGood, "line 5: more bans than"}),
    [](const ::testing::TestParamInfo<Damage>& i) { return std::string(i.param.name); });

TEST(StateFile, CommentsBlankLinesAndCrlf_Accepted) {
    std::string text = "# saved\r\n\r\nrcptguard-state 1\r\n  # a comment\r\n" + kGood;
    std::vector<SavedBan> bans;
    ASSERT_EQ(parse_state_file(text, kNow, kLongest, 10, &bans), "");
    EXPECT_EQ(bans.size(), 1u);
}

class LocalState : public ::testing::Test {
protected:
    LocalStateOptions options(const std::string& file) {
        return LocalStateOptions{1000, "mx1.example.test", file, [this] { return unix_now_; }};
    }
    TempDir dir_;
    FakeClock clock_;
    std::int64_t unix_now_ = kNow;
};

TEST_F(LocalState, BanSurvivesRestart_WithTheTimeItHadLeft) {
    std::string file = dir_.file("state");
    {
        LocalClientState a(options(file), clock_);
        EXPECT_EQ(a.load(bans()), "");  // no file yet: nothing to restore, no problem
        for (int i = 0; i < 3; ++i) a.add_bad("192.0.2.7", 1, bans());
        a.add_bad("192.0.2.8", 1, bans());  // counted, not banned: not saved
        clock_.advance(Millis(600000));
        unix_now_ += 600;
        a.save(bans());
        struct stat st {};
        ASSERT_EQ(stat(file.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0640u);
    }
    unix_now_ += 60;  // the restart took a minute
    FakeClock later;
    LocalClientState b(options(file), later);
    EXPECT_EQ(b.load(bans()), "");
    ClientStatus st = b.connection_status("192.0.2.7", bans());
    EXPECT_TRUE(st.banned);
    EXPECT_EQ(st.ban_left, Millis((3600 - 600 - 60) * 1000));
    EXPECT_FALSE(b.connection_status("192.0.2.8", bans()).banned);
    std::string note;
    auto records = b.list(bans(), 10, &note);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].host, "mx1.example.test");
}

TEST_F(LocalState, DamagedFile_Refused_NobodyBanned) {
    std::string file = dir_.file("state");
    testing::write_file(file, "rcptguard-state 1\nban 192.0.2.7 " + std::to_string(kNow + 60) + " 3\nban x 1 1\n");
    LocalClientState s(options(file), clock_);
    std::string problem = s.load(bans());
    EXPECT_EQ(problem, "state file " + file +
                           ": line 3: 'x' is not an address or prefix: ignored, no bans restored "
                           "from it");
    EXPECT_FALSE(s.connection_status("192.0.2.7", bans()).banned);
    testing::write_file(file, std::string(100, '\0'));
    EXPECT_NE(s.load(bans()).find("ignored"), std::string::npos);
    mkdir(dir_.file("a-directory").c_str(), 0700);
    LocalClientState d(options(dir_.file("a-directory")), clock_);
    EXPECT_NE(d.load(bans()).find("not a regular file"), std::string::npos);
}

TEST_F(LocalState, Maintain_WritesAfterAChangeOnly_AtMostEveryTenSeconds) {
    std::string file = dir_.file("state");
    LocalClientState s(options(file), clock_);
    s.maintain(bans());
    EXPECT_FALSE(exists(file));
    for (int i = 0; i < 3; ++i) s.add_bad("192.0.2.7", 1, bans());
    s.maintain(bans());
    EXPECT_NE(testing::read_file(file).find("ban 192.0.2.7 "), std::string::npos);
    for (int i = 0; i < 3; ++i) s.add_bad("192.0.2.9", 1, bans());
    s.maintain(bans());
    EXPECT_EQ(testing::read_file(file).find("192.0.2.9"), std::string::npos);  // too soon
    clock_.advance(Millis(10000));
    s.maintain(bans());
    EXPECT_NE(testing::read_file(file).find("ban 192.0.2.9 "), std::string::npos);
    std::size_t lifted = 0;
    std::string error;
    ASSERT_TRUE(s.forget(*parse_network("192.0.2.0/24"), &lifted, &error));
    EXPECT_EQ(lifted, 2u);
    clock_.advance(Millis(10000));
    s.maintain(bans());
    EXPECT_EQ(testing::read_file(file).find("\nban "), std::string::npos);
}

TEST_F(LocalState, UnwritableFile_ReportedInDescribe_NothingElseBreaks) {
    LocalClientState s(options("/nonexistent-dir/state"), clock_);
    for (int i = 0; i < 3; ++i) s.add_bad("192.0.2.7", 1, bans());
    s.maintain(bans());
    EXPECT_NE(s.describe().find("last write failed: cannot create /nonexistent-dir/state.tmp"), std::string::npos)
        << s.describe();
    EXPECT_TRUE(s.known_status("192.0.2.7", bans()).banned);
    s.save(bans());
}

TEST_F(LocalState, NoStateFile_DescribeSaysBansAreForgotten) {
    LocalClientState s(options(""), clock_);
    EXPECT_EQ(s.load(bans()), "");
    s.save(bans());
    EXPECT_EQ(s.describe(), "local (this host only), bans are forgotten at a restart (no state_file)");
}

}  // namespace
}  // namespace rcptguard
