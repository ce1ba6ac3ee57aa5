// Unit tests for address normalisation (milter/address.hpp).
#include "util/address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rcptguard {
namespace {

struct NormCase {
    const char* name;
    std::string input;
    AddressStatus status;
    std::string canonical;  // for Mailbox/LocalOnly
    std::string domain;     // also the best guess for Invalid
};

class AddressNormalise : public ::testing::TestWithParam<NormCase> {};

TEST_P(AddressNormalise, Input_Normalised_AsExpected) {
    const NormCase& c = GetParam();
    AddressOptions opts;
    Address a = parse_address(c.input, opts);
    EXPECT_EQ(a.status, c.status) << "error: " << a.error;
    if (c.status == AddressStatus::Mailbox || c.status == AddressStatus::LocalOnly) {
        EXPECT_EQ(a.canonical(), c.canonical);
    }
    EXPECT_EQ(a.domain, c.domain);
}

INSTANTIATE_TEST_SUITE_P(
    Table, AddressNormalise,
    ::testing::Values(
        NormCase{"Brackets", "<user@example.com>", AddressStatus::Mailbox, "user@example.com", "example.com"},
        NormCase{"NoBrackets", "user@example.com", AddressStatus::Mailbox, "user@example.com", "example.com"},
        NormCase{"DomainCase", "<user@EXAMPLE.Com>", AddressStatus::Mailbox, "user@example.com", "example.com"},
        NormCase{"LocalCaseFolded", "<John.Smith@Example.com>", AddressStatus::Mailbox, "john.smith@example.com",
                 "example.com"},
        NormCase{"TrailingDot", "<user@example.com.>", AddressStatus::Mailbox, "user@example.com", "example.com"},
        NormCase{"Detail", "<user+tag@example.com>", AddressStatus::Mailbox, "user+tag@example.com", "example.com"},
        NormCase{"SourceRoute", "<@relay1.net,@relay2.net:user@example.com>", AddressStatus::Mailbox,
                 "user@example.com", "example.com"},
        NormCase{"QuotedNeedless", "<\"user\"@example.com>", AddressStatus::Mailbox, "user@example.com", "example.com"},
        NormCase{"QuotedSpace", "<\"John Doe\"@example.com>", AddressStatus::Mailbox, "\"john doe\"@example.com",
                 "example.com"},
        NormCase{"QuotedEscapes", "<\"a\\\"b\"@example.com>", AddressStatus::Mailbox, "\"a\\\"b\"@example.com",
                 "example.com"},
        NormCase{"QuotedAt", "<\"a@b\"@example.com>", AddressStatus::Mailbox, "\"a@b\"@example.com", "example.com"},
        NormCase{"PercentHack", "<user%other@example.com>", AddressStatus::Mailbox, "user%other@example.com",
                 "example.com"},
        NormCase{"Utf8Local", "<J\xC3\xBCrgen@example.com>", AddressStatus::Mailbox, "j\xC3\xBCrgen@example.com",
                 "example.com"},
        NormCase{"Utf8Domain", "<user@B\xC3\xBC\x63her.example>", AddressStatus::Mailbox,
                 "user@b\xC3\xBC\x63her.example", "b\xC3\xBC\x63her.example"},
        NormCase{"ALabel", "<user@XN--bcher-kva.example>", AddressStatus::Mailbox, "user@xn--bcher-kva.example",
                 "xn--bcher-kva.example"},
        NormCase{"AddressLiteral", "<user@[192.0.2.1]>", AddressStatus::Mailbox, "user@[192.0.2.1]", "[192.0.2.1]"},
        NormCase{"NullBrackets", "<>", AddressStatus::Null, "", ""},
        NormCase{"NullPostfixBounce", "\"\"", AddressStatus::Null, "", ""},
        NormCase{"NullEmpty", "", AddressStatus::Null, "", ""},
        NormCase{"BarePostmaster", "<Postmaster>", AddressStatus::LocalOnly, "postmaster", ""},
        NormCase{"Whitespace", "  <user@example.com>  ", AddressStatus::Mailbox, "user@example.com", "example.com"},
        NormCase{"InvalidInvalidUtf8", "<us\xC3(er@example.com>", AddressStatus::Invalid, "", "example.com"},
        NormCase{"InvalidSpace", "<us er@example.com>", AddressStatus::Invalid, "", "example.com"},
        NormCase{"InvalidUnterminatedQuote", "<\"user@example.com>", AddressStatus::Invalid, "", "example.com"},
        NormCase{"InvalidTwoAts", "<a@b@example.com>", AddressStatus::Invalid, "", "example.com"},
        NormCase{"InvalidEmptyLocal", "<@example.com>", AddressStatus::Invalid, "", "example.com"},
        NormCase{"InvalidEmptyDomain", "<user@>", AddressStatus::Invalid, "", ""},
        NormCase{"InvalidDomainChars", "<user@exa mple.com>", AddressStatus::Invalid, "", ""},
        NormCase{"InvalidEmptyLabel", "<user@example..com>", AddressStatus::Invalid, "", ""},
        NormCase{"InvalidUnbalanced", "<user@example.com", AddressStatus::Invalid, "", "example.com"},
        NormCase{"InvalidControl", "<us\ter@example.com>", AddressStatus::Invalid, "", "example.com"},
        NormCase{"InvalidNul", std::string("<us\0er@example.com>", 19), AddressStatus::Invalid, "", "example.com"},
        NormCase{"InvalidDoubledDot", "<bad..dots@example.org>", AddressStatus::Invalid, "", "example.org"},
        NormCase{"InvalidLeadingDot", "<.lead@example.org>", AddressStatus::Invalid, "", "example.org"},
        NormCase{"InvalidTrailingDot", "<trail.@example.org>", AddressStatus::Invalid, "", "example.org"},
        NormCase{"QuotedDoubledDot", "<\"bad..dots\"@example.org>", AddressStatus::Mailbox, "\"bad..dots\"@example.org",
                 "example.org"},
        NormCase{"InvalidTextAfterQuote", "<\"a\"b@example.com>", AddressStatus::Invalid, "", "example.com"}),
    [](const ::testing::TestParamInfo<NormCase>& i) { return std::string(i.param.name); });

TEST(Address, OverlongLocalPart_Invalid_DomainStillKnown) {
    std::string raw = "<" + std::string(1024, 'a') + "@example.com>";
    Address a = parse_address(raw, AddressOptions{});
    EXPECT_EQ(a.status, AddressStatus::Invalid);
    EXPECT_NE(a.error.find("longer"), std::string::npos);
    EXPECT_EQ(a.domain, "example.com");
}

TEST(Address, LongestAllowedAddress_Accepted) {
    std::string local(64, 'a');
    std::string domain = std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd');
    ASSERT_EQ(local.size() + 1 + domain.size(), kMaxAddressLength);
    Address a = parse_address("<" + local + "@" + domain + ">", AddressOptions{});
    EXPECT_EQ(a.status, AddressStatus::Mailbox) << a.error;
}

TEST(Address, CaseSensitiveOption_KeepsLocalCase_FoldsDomain) {
    AddressOptions o;
    o.fold_local_case = false;
    Address a = parse_address("<John@Example.COM>", o);
    EXPECT_EQ(a.canonical(), "John@example.com");
}

TEST(Address, LookupKeys_WithDetail_FullThenBaseThenCatchAll) {
    AddressOptions o;
    Address a = parse_address("<User+Lists@Example.com>", o);
    std::vector<std::string> want = {"user+lists@example.com", "user@example.com", "@example.com"};
    EXPECT_EQ(lookup_keys(a, o), want);
}

TEST(Address, LookupKeys_NoDetail_FullThenCatchAll) {
    AddressOptions o;
    Address a = parse_address("<user@example.com>", o);
    std::vector<std::string> want = {"user@example.com", "@example.com"};
    EXPECT_EQ(lookup_keys(a, o), want);
}

TEST(Address, LookupKeys_DelimiterOff_NoBaseKey) {
    AddressOptions o;
    o.recipient_delimiters = "";
    Address a = parse_address("<user+x@example.com>", o);
    std::vector<std::string> want = {"user+x@example.com", "@example.com"};
    EXPECT_EQ(lookup_keys(a, o), want);
}

TEST(Address, LookupKeys_SeveralDelimiters_FirstOneSplits) {
    AddressOptions o;
    o.recipient_delimiters = "+-";
    Address a = parse_address("<user-a+b@example.com>", o);
    std::vector<std::string> want = {"user-a+b@example.com", "user@example.com", "@example.com"};
    EXPECT_EQ(lookup_keys(a, o), want);
}

TEST(Address, StripDetail_LeadingDelimiter_Kept) {
    EXPECT_EQ(strip_detail("+foo", "+"), "+foo");
    EXPECT_EQ(strip_detail("a+", "+"), "a");
    EXPECT_EQ(strip_detail("\"a+b c\"", "+"), "\"a+b c\"");
}

TEST(Address, Postmaster_AnyCase_Recognised) {
    AddressOptions o;
    EXPECT_TRUE(is_postmaster(parse_address("<PostMaster@example.com>", o)));
    EXPECT_TRUE(is_postmaster(parse_address("<postmaster>", o)));
    EXPECT_FALSE(is_postmaster(parse_address("<postmaster2@example.com>", o)));
}

TEST(Address, NormalizeEntry_AcceptsAddressesAndCatchAll) {
    AddressOptions o;
    std::string err;
    EXPECT_EQ(normalize_entry("User@Example.COM", o, &err), "user@example.com");
    EXPECT_EQ(normalize_entry("@Example.COM", o, &err), "@example.com");
    EXPECT_EQ(normalize_entry("<user@example.com>", o, &err), "user@example.com");
    EXPECT_EQ(normalize_entry("user", o, &err), "");
    EXPECT_NE(err.find("no domain"), std::string::npos);
    EXPECT_EQ(normalize_entry("@bad..domain", o, &err), "");
    EXPECT_EQ(normalize_entry("a b@example.com", o, &err), "");
}

TEST(Address, CanonicalDomain_RejectsGarbage) {
    EXPECT_EQ(canonical_domain("Example.COM"), "example.com");
    EXPECT_EQ(canonical_domain(""), "");
    EXPECT_EQ(canonical_domain("."), "");
    EXPECT_EQ(canonical_domain("a_b.example"), "a_b.example");
    EXPECT_EQ(canonical_domain("[1.2.3.4"), "");
    EXPECT_EQ(canonical_domain(std::string(64, 'a') + ".com"), "");
}

}  // namespace
}  // namespace rcptguard
