// Unit tests for reply texts (core/reply.hpp, and the libmilter door's
// rendering in milter/milter_reply.hpp): exact strings, class matching, '%'
// doubling - a malformed reply makes Postfix drop the milter.
#include "core/reply.hpp"

#include <gtest/gtest.h>

#include "milter/milter_reply.hpp"

namespace rcptguard {
namespace {

TEST(Reply, UnknownUser_ExactText) {
    Reply r = unknown_user_reply("nosuch@example.test", "User unknown");
    EXPECT_EQ(r.code, "550");
    EXPECT_EQ(r.xcode, "5.1.1");
    EXPECT_EQ(r.number(), 550);
    EXPECT_EQ(r.phrase, "User unknown");
    EXPECT_EQ(milter_reply_text(r), "<nosuch@example.test>: Recipient address rejected: User unknown");
    EXPECT_EQ(r.to_string(), "550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown");
    EXPECT_TRUE(reply_is_well_formed(r));
}

TEST(Reply, TempFail_ExactText) {
    Reply r = lookup_tempfail_reply("user@example.test", "Temporary lookup failure");
    EXPECT_EQ(r.to_string(), "451 4.3.0 <user@example.test>: Recipient address rejected: Temporary lookup failure");
    EXPECT_TRUE(reply_is_well_formed(r));
    EXPECT_TRUE(r.is_temporary());
}

TEST(Reply, BadSyntax_ExactText) {
    Reply r = bad_syntax_reply("a b@example.test");
    EXPECT_EQ(r.to_string(), "501 5.1.3 <a b@example.test>: Recipient address rejected: Bad recipient address syntax");
    EXPECT_TRUE(reply_is_well_formed(r));
}

TEST(Reply, Percent_DoubledOnTheWire) {
    Reply r = unknown_user_reply("user%host@example.test", "100% gone");
    EXPECT_EQ(milter_reply_text(r), "<user%%host@example.test>: Recipient address rejected: 100%% gone");
    EXPECT_EQ(r.to_string(), "550 5.1.1 <user%host@example.test>: Recipient address rejected: 100% gone");
}

TEST(Reply, PlainText_AtEachLimit_WholeOrCutAsBefore) {
    const std::string domain = "@example.test";
    // An address of 256 characters is kept whole; one more and it is cut.
    std::string a256 = std::string(256 - domain.size(), 'a') + domain;
    Reply whole = unknown_user_reply(a256, "User unknown");
    EXPECT_EQ(whole.text(), "<" + a256 + ">: Recipient address rejected: User unknown");
    std::string a257 = "b" + a256;
    Reply cut = unknown_user_reply(a257, "User unknown");
    EXPECT_EQ(cut.text(), "<" + a257.substr(0, 256) + "...>: Recipient address rejected: User unknown");
    // The whole text is bounded too: a long phrase is cut at the budget.
    Reply long_phrase = unknown_user_reply(a256, std::string(400, 'p'));
    std::string t = long_phrase.text();
    EXPECT_EQ(t.substr(0, a256.size() + 2), "<" + a256 + ">");
    EXPECT_EQ(t.substr(t.size() - 3), "...");
    EXPECT_LE(t.size(), kMaxReplyText / 2);
    // append_to() appends exactly to_string().
    std::string line = "prefix: ";
    whole.append_to(line);
    EXPECT_EQ(line, "prefix: " + whole.to_string());
    EXPECT_EQ(whole.to_string(), "550 5.1.1 " + whole.text());
}

TEST(Reply, HostileBytes_MadePrintableAndBounded) {
    std::string evil = std::string("a\r\nb\0c\x80", 7) + std::string(2000, 'x');
    Reply r = unknown_user_reply(evil, "gone");
    std::string w = milter_reply_text(r);
    EXPECT_EQ(w.find('\r'), std::string::npos);
    EXPECT_EQ(w.find('\n'), std::string::npos);
    EXPECT_EQ(w.find('\0'), std::string::npos);
    EXPECT_LE(w.size(), kMaxReplyText);
    EXPECT_TRUE(reply_is_well_formed(r));
}

TEST(Reply, Utf8Address_AsciiOnTheWire_Rfc6533Escapes) {
    Reply r = unknown_user_reply("j\xC3\xB6rg@b\xC3\xBC\x63her.test", "User unknown");
    EXPECT_EQ(r.to_string(), "550 5.1.1 <j\\x{F6}rg@b\\x{FC}cher.test>: Recipient address rejected: User unknown");
    EXPECT_EQ(milter_reply_text(r), "<j\\x{F6}rg@b\\x{FC}cher.test>: Recipient address rejected: User unknown");
    EXPECT_TRUE(reply_is_well_formed(r));
    // The log shows the address itself.
    EXPECT_EQ(display_address("j\xC3\xB6rg@b\xC3\xBC\x63her.test"), "<j\xC3\xB6rg@b\xC3\xBC\x63her.test>");
}

struct AsciiCase {
    const char* name;
    std::string in;
    std::string want;
};

class AsciiReplyText : public ::testing::TestWithParam<AsciiCase> {};

TEST_P(AsciiReplyText, Input_PrintableAsciiOnly) {
    std::string out = ascii_reply_text(GetParam().in, 256);
    EXPECT_EQ(out, GetParam().want);
    for (char c : out) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << static_cast<int>(static_cast<unsigned char>(c));
}

INSTANTIATE_TEST_SUITE_P(Table, AsciiReplyText,
                         ::testing::Values(AsciiCase{"Ascii", "user@example.test", "user@example.test"},
                                           AsciiCase{"TwoByte", "j\xC3\xB6rg", "j\\x{F6}rg"},
                                           AsciiCase{"ThreeByte", "\xE7\x94\xA8", "\\x{7528}"},
                                           AsciiCase{"FourByte", "\xF0\x9F\x92\xA9", "\\x{1F4A9}"},
                                           AsciiCase{"Controls", std::string("a\r\nb\0c\x7f", 7), "a??b?c?"},
                                           AsciiCase{"C1Control",
                                                     "a\xC2\x85"
                                                     "b",
                                                     "a?b"},
                                           AsciiCase{"InvalidBytes", "j\xF6rg\xC0\xAF", "j?rg??"},
                                           AsciiCase{"BidiOverrideVisible",
                                                     "a\xE2\x80\xAE"
                                                     "b",
                                                     "a\\x{202E}b"}),
                         [](const ::testing::TestParamInfo<AsciiCase>& i) { return std::string(i.param.name); });

TEST(Reply, AsciiReplyText_CutBetweenEscapes) {
    EXPECT_EQ(ascii_reply_text("a\xC3\xB6\xC3\xB6", 7), "a\\x{F6}...");
    EXPECT_EQ(ascii_reply_text("abcdef", 3), "abc...");
}

TEST(Reply, AllPercents_StillWithinLimit) {
    Reply r = unknown_user_reply(std::string(300, '%'), std::string(400, '%'));
    EXPECT_LE(milter_reply_text(r).size(), kMaxReplyText);
    EXPECT_TRUE(reply_is_well_formed(r));
}

struct FormCase {
    Reply r;
    bool ok;
};

class ReplyForm : public ::testing::TestWithParam<FormCase> {};

TEST_P(ReplyForm, ClassMismatchOrGarbage_NotWellFormed) {
    EXPECT_EQ(reply_is_well_formed(GetParam().r), GetParam().ok) << GetParam().r.to_string();
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReplyForm,
    ::testing::Values(FormCase{{"550", "5.1.1", "", "x"}, true}, FormCase{{"421", "4.7.0", "a@b", "x"}, true},
                      FormCase{{"550", "4.1.1", "", "x"}, false}, FormCase{{"451", "5.3.0", "", "x"}, false},
                      FormCase{{"250", "2.0.0", "", "x"}, false}, FormCase{{"55", "5.1.1", "", "x"}, false},
                      FormCase{{"550", "5.1", "", "x"}, false}, FormCase{{"550", "5.01.1", "", "x"}, false},
                      FormCase{{"550", "5.1.1", "a@b", ""}, false}));

TEST(Reply, WithoutAddress_PhraseAlone) {
    Reply r{"421", "4.7.0", "", "Service shutting down"};
    EXPECT_EQ(r.text(), "Service shutting down");
    EXPECT_EQ(milter_reply_text(r), "Service shutting down");
}

TEST(Reply, CheckReplyText_RejectsControlsAndNonAscii) {
    EXPECT_EQ(check_reply_text("User unknown"), "");
    EXPECT_NE(check_reply_text(""), "");
    EXPECT_NE(check_reply_text("a\tb"), "");
    EXPECT_NE(check_reply_text("caf\xC3\xA9"), "");
    EXPECT_NE(check_reply_text(std::string(401, 'a')), "");
}

}  // namespace
}  // namespace rcptguard
