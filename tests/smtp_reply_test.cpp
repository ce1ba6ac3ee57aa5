// Reading a downstream server's SMTP replies (backends/smtp/smtp_reply.hpp):
// well-formed replies, hostile ones (overlong lines, NUL bytes, invalid codes,
// inconsistent or endless multi-line replies), and what a reply to RCPT TO
// says about the recipient.
#include "backends/smtp/smtp_reply.hpp"

#include <gtest/gtest.h>

namespace rcptguard {
namespace {

struct ReadCase {
    std::string name;
    std::string input;
    SmtpReplyReader::Step want;
    int code = 0;
    std::string enhanced;
    std::size_t lines = 0;
    std::string problem;  // a part of the reason, for Malformed
};

class SmtpReplyRead : public ::testing::TestWithParam<ReadCase> {};

TEST_P(SmtpReplyRead, WholeInput_ExpectedStep) {
    const ReadCase& c = GetParam();
    SmtpReplyReader reader;
    reader.feed(c.input);
    SmtpReply r;
    std::string problem;
    SmtpReplyReader::Step step = reader.next(&r, &problem);
    ASSERT_EQ(step, c.want) << problem;
    if (step == SmtpReplyReader::Step::Done) {
        EXPECT_EQ(r.code, c.code);
        EXPECT_EQ(r.enhanced, c.enhanced);
        EXPECT_EQ(r.lines.size(), c.lines);
    }
    if (step == SmtpReplyReader::Step::Malformed) {
        EXPECT_NE(problem.find(c.problem), std::string::npos) << problem;
    }
}

TEST_P(SmtpReplyRead, FedByteByByte_SameStep) {
    const ReadCase& c = GetParam();
    SmtpReplyReader reader;
    SmtpReply r;
    std::string problem;
    SmtpReplyReader::Step step = SmtpReplyReader::Step::More;
    for (char ch : c.input) {
        reader.feed(std::string_view(&ch, 1));
        step = reader.next(&r, &problem);
        if (step != SmtpReplyReader::Step::More) break;
    }
    EXPECT_EQ(step, c.want) << problem;
    if (step == SmtpReplyReader::Step::Done) {
        EXPECT_EQ(r.code, c.code);
    }
}

std::string many_lines(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "250-line " + std::to_string(i) + "\r\n";
    return s + "250 last\r\n";
}

using Step = SmtpReplyReader::Step;
const ReadCase kReadCases[] = {
    {"one_line", "250 2.1.5 Ok\r\n", Step::Done, 250, "2.1.5", 1, ""},
    {"multi_line", "250-fake.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", Step::Done, 250, "", 3, ""},
    {"multi_line_refusal", "550-5.1.1 no such user\r\n550 5.1.1 try another\r\n", Step::Done, 550, "5.1.1", 2, ""},
    {"code_alone", "354\r\n", Step::Done, 354, "", 1, ""},
    {"bare_lf", "550 5.1.1 unknown\n", Step::Done, 550, "5.1.1", 1, ""},
    {"eight_bit_text", "550 5.1.1 Empf\xe4nger unbekannt\r\n", Step::Done, 550, "5.1.1", 1, ""},
    {"enhanced_of_other_class", "550 2.1.5 odd\r\n", Step::Done, 550, "", 1, ""},
    {"incomplete_line", "250 2.1.5 O", Step::More},
    {"incomplete_multi_line", "250-a\r\n250-b\r\n", Step::More},
    {"ten_kilobyte_line", "250 " + std::string(10240, 'x') + "\r\n", Step::Malformed, 0, "", 0, "longer than"},
    {"ten_kilobytes_without_line_end", "250 " + std::string(10240, 'x'), Step::Malformed, 0, "", 0, "longer than"},
    {"nul_byte", std::string("250 2.1.5 Ok\0 550 5.1.1\r\n", 25), Step::Malformed, 0, "", 0, "NUL"},
    {"letters_for_code", "2x0 Ok\r\n", Step::Malformed, 0, "", 0, "not an SMTP reply"},
    {"code_600", "600 what\r\n", Step::Malformed, 0, "", 0, "not an SMTP reply"},
    {"code_199", "199 hm\r\n", Step::Malformed, 0, "", 0, "not an SMTP reply"},
    {"code_260", "260 hm\r\n", Step::Malformed, 0, "", 0, "not an SMTP reply"},
    {"two_digits", "25\r\n", Step::Malformed, 0, "", 0, "not an SMTP reply"},
    {"bad_separator", "250_Ok\r\n", Step::Malformed, 0, "", 0, "not an SMTP reply"},
    {"empty_line", "\r\n", Step::Malformed, 0, "", 0, "not an SMTP reply"},
    {"html", "<html><body>hello</body></html>\r\n", Step::Malformed, 0, "", 0, "not an SMTP reply"},
    {"codes_differ", "250-fine\r\n550 5.1.1 not fine\r\n", Step::Malformed, 0, "", 0, "different codes"},
    {"endless_continuation", many_lines(150), Step::Malformed, 0, "", 0, "more than 100 lines"},
    {"hundred_lines_is_fine", many_lines(99), Step::Done, 250, "", 100, ""},
};

INSTANTIATE_TEST_SUITE_P(Table, SmtpReplyRead, ::testing::ValuesIn(kReadCases),
                         [](const ::testing::TestParamInfo<ReadCase>& i) { return i.param.name; });

TEST(SmtpReplyReader, TwoRepliesInOneRead_BothHandedOut) {
    SmtpReplyReader reader;
    reader.feed("250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n550 5.1.1 gone\r\n");
    SmtpReply r;
    std::string problem;
    ASSERT_EQ(reader.next(&r, &problem), Step::Done);
    EXPECT_EQ(r.enhanced, "2.0.0");
    ASSERT_EQ(reader.next(&r, &problem), Step::Done);
    EXPECT_EQ(r.enhanced, "2.1.0");
    EXPECT_TRUE(reader.has_pending());
    ASSERT_EQ(reader.next(&r, &problem), Step::Done);
    EXPECT_EQ(r.code, 550);
    EXPECT_FALSE(reader.has_pending());
    EXPECT_EQ(reader.next(&r, &problem), Step::More);
}

TEST(SmtpReply, Summary_JoinsLines_PrintableAndBounded) {
    SmtpReplyReader reader;
    reader.feed("550-5.1.1 first\x1b[31m\r\n550 5.1.1 second\r\n");
    SmtpReply r;
    std::string problem;
    ASSERT_EQ(reader.next(&r, &problem), Step::Done);
    EXPECT_EQ(r.summary(), "550 5.1.1 first\\x1b[31m / 5.1.1 second");
    r.lines = {std::string(1000, 'y')};
    EXPECT_LE(r.summary(100).size(), 103u);
}

struct CodeCase {
    std::string text;
    int code;
    std::string want;
};

TEST(SmtpReply, EnhancedCode_Table) {
    const CodeCase cases[] = {
        {"5.1.1 <a@b>: unknown", 550, "5.1.1"},
        {"5.1.10", 550, "5.1.10"},
        {"2.1.5 Ok", 250, "2.1.5"},
        {"4.7.1 try later", 450, "4.7.1"},
        {"5.1.1", 450, ""},
        {"5.1.1000 x", 550, ""},
        {"5.1. x", 550, ""},
        {"5..1 x", 550, ""},
        {"5.1.1x", 550, ""},
        {"unknown user", 550, ""},
        {"3.1.1 x", 354, ""},
        {"", 550, ""},
        {"5.123.456 long", 550, "5.123.456"},
    };
    for (const auto& c : cases) EXPECT_EQ(enhanced_code(c.text, c.code), c.want) << c.text << " / " << c.code;
}

struct VerdictCase {
    std::string reply;
    RcptVerdict want;
};

TEST(SmtpReply, ClassifyRcpt_OnlyMailboxRefusalsAreUnknown) {
    const VerdictCase cases[] = {
        {"250 2.1.5 Ok\r\n", RcptVerdict::Accepted},
        {"250 Ok\r\n", RcptVerdict::Accepted},
        {"251 2.1.5 User not local; will forward\r\n", RcptVerdict::Accepted},
        {"550 5.1.1 <x@y>: Recipient address rejected: User unknown\r\n", RcptVerdict::Unknown},
        {"551 5.1.6 User not local; please try <x@z>\r\n", RcptVerdict::Unknown},
        {"553 5.1.3 Bad address syntax\r\n", RcptVerdict::Unknown},
        {"550-5.1.1 The email account that you tried to reach\r\n550 5.1.1 does not exist\r\n", RcptVerdict::Unknown},
        {"550 User unknown\r\n", RcptVerdict::Other},  // no enhanced code: not sure enough
        {"550 5.7.1 Relaying denied\r\n", RcptVerdict::Other},
        {"550 5.3.0 System failure\r\n", RcptVerdict::Other},
        {"552 5.2.2 Mailbox full\r\n", RcptVerdict::Other},
        {"554 5.1.1 Rejected\r\n", RcptVerdict::Other},
        {"550 4.1.1 wrong class\r\n", RcptVerdict::Other},
        {"450 4.1.1 <x@y>: Recipient address rejected: unverified\r\n", RcptVerdict::Other},
        {"451 4.3.0 Temporary lookup failure\r\n", RcptVerdict::Other},
        {"421 4.3.2 Shutting down\r\n", RcptVerdict::Other},
        {"252 2.1.5 Cannot VRFY\r\n", RcptVerdict::Other},
        {"503 5.5.1 Error: need MAIL command\r\n", RcptVerdict::Other},
    };
    for (const auto& c : cases) {
        SmtpReplyReader reader;
        reader.feed(c.reply);
        SmtpReply r;
        std::string problem;
        ASSERT_EQ(reader.next(&r, &problem), Step::Done) << c.reply;
        EXPECT_EQ(classify_rcpt_reply(r), c.want) << c.reply;
    }
}

TEST(SmtpReply, EhloReply_ExtensionsFromLaterLines) {
    SmtpReplyReader reader;
    reader.feed(
        "250-mx.example.test STARTTLS PIPELINING\r\n250-pipelining\r\n250-SIZE 1000\r\n250-STARTTLS\r\n"
        "250 SMTPUTF8\r\n");
    SmtpReply r;
    std::string problem;
    ASSERT_EQ(reader.next(&r, &problem), Step::Done);
    SmtpExtensions e = parse_ehlo_reply(r);
    EXPECT_TRUE(e.pipelining);
    EXPECT_TRUE(e.starttls);
    EXPECT_TRUE(e.smtputf8);
    reader.feed("250-mx.example.test PIPELINING STARTTLS\r\n250 8BITMIME\r\n");
    ASSERT_EQ(reader.next(&r, &problem), Step::Done);
    e = parse_ehlo_reply(r);  // the greeting line's words are not extensions
    EXPECT_FALSE(e.pipelining);
    EXPECT_FALSE(e.starttls);
}

}  // namespace
}  // namespace rcptguard
