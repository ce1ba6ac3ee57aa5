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
        NormCase{"Utf8Domain_ToALabel", "<user@B\xC3\xBC\x63her.example>", AddressStatus::Mailbox,
                 "user@xn--bcher-kva.example", "xn--bcher-kva.example"},
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
        NormCase{"InvalidTextAfterQuote", "<\"a\"b@example.com>", AddressStatus::Invalid, "", "example.com"},
        // An invalid IDN label: a syntax error, with the rest of the domain
        // still known (so a subdomain of ours gets 501, not "not ours").
        NormCase{"InvalidIdnLabel_GuessKeepsParent", "<user@\xE2\x98\x83.b\xC3\xBC\x63her.example>",
                 AddressStatus::Invalid, "", "\xE2\x98\x83.xn--bcher-kva.example"},
        NormCase{"InvalidALabel_GuessKeepsParent", "<user@XN--ZZZZ.b\xC3\xBC\x63her.example>", AddressStatus::Invalid,
                 "", "xn--zzzz.xn--bcher-kva.example"},
        // An A-label that decodes to a character IDNA does not allow (U+1FDE,
        // found by the fuzzer): not one domain in its two forms, so invalid.
        NormCase{"ALabelOfADisallowedULabel_Invalid", "<jg@xn--ptg.example>", AddressStatus::Invalid, "",
                 "xn--ptg.example"},
        NormCase{"InvalidUtf8Domain_NoGuess",
                 "<user@b\xC3\x28"
                 "cher.example>",
                 AddressStatus::Invalid, "", ""},
        NormCase{"InvalidIdnAndBadAsciiLabel_NoGuess", "<user@\xE2\x98\x83.exa mple.example>", AddressStatus::Invalid,
                 "", ""}),
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

// --- International domain names (IDNA2008, UTS #46 non-transitional) ---

struct DomainCase {
    const char* name;
    std::string input;
    std::string canonical;  // "" = invalid
    std::string unicode;    // unicode_domain(canonical), for valid ones
};

class IdnDomain : public ::testing::TestWithParam<DomainCase> {};

TEST_P(IdnDomain, Input_CanonicalALabel_AndUnicodeForm) {
    const DomainCase& c = GetParam();
    std::string error;
    EXPECT_EQ(canonical_domain(c.input, &error), c.canonical) << "error: " << error;
    if (c.canonical.empty()) {
        EXPECT_FALSE(error.empty());
        return;
    }
    EXPECT_EQ(unicode_domain(c.canonical), c.unicode);
    // Both forms are the same domain.
    EXPECT_EQ(canonical_domain(c.unicode), c.canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Table, IdnDomain,
    ::testing::Values(
        DomainCase{"ULabel", "b\xC3\xBC\x63her.test", "xn--bcher-kva.test", "b\xC3\xBC\x63her.test"},
        DomainCase{"ALabel", "xn--bcher-kva.test", "xn--bcher-kva.test", "b\xC3\xBC\x63her.test"},
        DomainCase{"ALabelUpperCase", "XN--BCHER-KVA.TEST", "xn--bcher-kva.test", "b\xC3\xBC\x63her.test"},
        DomainCase{"ULabelMixedCase", "B\xC3\x9C\x43HER.Test", "xn--bcher-kva.test", "b\xC3\xBC\x63her.test"},
        DomainCase{"ULabelNfd", "bu\xCC\x88\x63her.test", "xn--bcher-kva.test", "b\xC3\xBC\x63her.test"},
        DomainCase{"TrailingDot", "b\xC3\xBC\x63her.test.", "xn--bcher-kva.test", "b\xC3\xBC\x63her.test"},
        DomainCase{"ALabelTrailingDot", "xn--bcher-kva.test.", "xn--bcher-kva.test", "b\xC3\xBC\x63her.test"},
        // Non-transitional: sharp s and final sigma are kept, not mapped.
        DomainCase{"SharpS_Kept", "stra\xC3\x9F\x65.de", "xn--strae-oqa.de", "stra\xC3\x9F\x65.de"},
        DomainCase{"SharpSUpper_IsAnotherDomain", "STRASSE.de", "strasse.de", "strasse.de"},
        DomainCase{"FinalSigma_Kept", "\xCE\xB2\xCF\x8C\xCE\xBB\xCE\xBF\xCF\x82.gr", "xn--nxasmm1c.gr",
                   "\xCE\xB2\xCF\x8C\xCE\xBB\xCE\xBF\xCF\x82.gr"},
        DomainCase{"CapitalSigma_MapsToMedialSigma", "\xCE\x92\xCE\x8C\xCE\x9B\xCE\x9F\xCE\xA3.gr", "xn--nxasmq6b.gr",
                   "\xCE\xB2\xCF\x8C\xCE\xBB\xCE\xBF\xCF\x83.gr"},
        DomainCase{"SeveralIdnLabels", "m\xC3\xBCnchen.XN--BCHER-KVA.test", "xn--mnchen-3ya.xn--bcher-kva.test",
                   "m\xC3\xBCnchen.b\xC3\xBC\x63her.test"},
        DomainCase{"IdeographicFullStop", "b\xC3\xBC\x63her\xE3\x80\x82test", "xn--bcher-kva.test",
                   "b\xC3\xBC\x63her.test"},
        DomainCase{"FullwidthAscii_MapsToAscii", "\xEF\xBC\xA5xample.test", "example.test", "example.test"},
        DomainCase{"Arabic", "\xD8\xA8\xD8\xA7\xDB\x8C.test", "xn--mgbb70c.test", "\xD8\xA8\xD8\xA7\xDB\x8C.test"},
        DomainCase{"PlainAscii_Unchanged", "Mail.Example.COM", "mail.example.com", "mail.example.com"},
        DomainCase{"AsciiDoubleHyphen_StillAllowed", "r3---sn-abc.example", "r3---sn-abc.example",
                   "r3---sn-abc.example"},
        // Invalid IDNs.
        DomainCase{"Symbol_Disallowed", "\xE2\x98\x83.test", "", ""},
        DomainCase{"Emoji_Disallowed", "\xF0\x9F\x92\xA9.la", "", ""},
        DomainCase{"ALabelOfDisallowed", "xn--53h.test", "", ""}, DomainCase{"BadPunycode", "xn--zzzz.test", "", ""},
        DomainCase{"ALabelOfControl", "xn--a.test", "", ""},
        DomainCase{"ZeroWidthJoinerAlone", "\xE2\x80\x8D.test", "", ""},
        DomainCase{"ULabelLeadingHyphen", "-b\xC3\xBC\x63her.test", "", ""},
        DomainCase{"InvalidUtf8",
                   "b\xC3\x28"
                   "cher.test",
                   "", ""},
        DomainCase{"OverlongDot", "b\xC3\xBC\x63her\xC0\xAEtest", "", ""},
        DomainCase{"EmptyLabel", "b\xC3\xBC\x63her..test", "", ""}),
    [](const ::testing::TestParamInfo<DomainCase>& i) { return std::string(i.param.name); });

TEST(Address, LabelTooLongAsALabel_Invalid) {
    // 62 octets in UTF-8, but its A-label (xn--, 60 letters, '-', the
    // encoded ü) is longer than the 63 octets a label may have.
    std::string label = std::string(60, 'a') + "\xC3\xBC";
    EXPECT_EQ(canonical_domain(label + ".test"), "");
    EXPECT_EQ(canonical_domain(std::string(63, 'a') + ".test"), std::string(63, 'a') + ".test");
    EXPECT_EQ(canonical_domain(std::string(64, 'a') + ".test"), "");
}

TEST(Address, BothDomainForms_SameCanonicalAddress) {
    AddressOptions o;
    Address u = parse_address("<J\xC3\xB6rg@B\xC3\xBC\x63her.test>", o);
    Address a = parse_address("<j\xC3\xB6rg@xn--bcher-kva.test>", o);
    ASSERT_EQ(u.status, AddressStatus::Mailbox);
    ASSERT_EQ(a.status, AddressStatus::Mailbox);
    EXPECT_EQ(u.canonical(), "j\xC3\xB6rg@xn--bcher-kva.test");
    EXPECT_EQ(u.canonical(), a.canonical());
    // Written back in the form the writer used.
    EXPECT_EQ(domain_as_written(u), "b\xC3\xBC\x63her.test");
    EXPECT_EQ(domain_as_written(a), "xn--bcher-kva.test");
}

TEST(Address, InvalidIdnDomain_SyntaxErrorSaysWhy) {
    Address a = parse_address("<user@xn--zzzz.test>", AddressOptions{});
    EXPECT_EQ(a.status, AddressStatus::Invalid);
    EXPECT_NE(a.error.find("invalid domain"), std::string::npos) << a.error;
    EXPECT_NE(a.error.find("xn--zzzz"), std::string::npos) << a.error;
}

// --- Local parts: Unicode case folding and NFC ---

struct LocalCase {
    const char* name;
    std::string a;
    std::string b;
    bool same_when_folded;
};

class LocalFold : public ::testing::TestWithParam<LocalCase> {};

TEST_P(LocalFold, Insensitive_FullFoldingAndNfc) {
    const LocalCase& c = GetParam();
    AddressOptions o;
    Address x = parse_address("<" + c.a + "@example.test>", o);
    Address y = parse_address("<" + c.b + "@example.test>", o);
    ASSERT_EQ(x.status, AddressStatus::Mailbox) << x.error;
    ASSERT_EQ(y.status, AddressStatus::Mailbox) << y.error;
    EXPECT_EQ(x.canonical() == y.canonical(), c.same_when_folded) << x.canonical() << " vs " << y.canonical();
}

TEST_P(LocalFold, Sensitive_BytesKept) {
    const LocalCase& c = GetParam();
    AddressOptions o;
    o.fold_local_case = false;
    Address x = parse_address("<" + c.a + "@example.test>", o);
    EXPECT_EQ(x.local, c.a);
    EXPECT_EQ(parse_address("<" + c.a + "@example.test>", o).canonical() ==
                  parse_address("<" + c.b + "@example.test>", o).canonical(),
              c.a == c.b);
}

INSTANTIATE_TEST_SUITE_P(Table, LocalFold,
                         ::testing::Values(LocalCase{"Umlaut", "\xC3\x9C\x53\x45R", "\xC3\xBCser", true},
                                           LocalCase{"AsciiStillFolded", "John.Smith", "john.smith", true},
                                           LocalCase{"SharpS_FullFoldingToSs", "Stra\xC3\x9F\x65", "STRASSE", true},
                                           LocalCase{"SharpS_Lower", "stra\xC3\x9F\x65", "strasse", true},
                                           LocalCase{"CapitalSigma_Sigma", "\xCE\xA3\xCE\x9F\xCE\xA6\xCE\x9F\xCE\xA3",
                                                     "\xCF\x83\xCE\xBF\xCF\x86\xCE\xBF\xCF\x83", true},
                                           LocalCase{"FinalSigma_Sigma", "\xCF\x83\xCE\xBF\xCF\x86\xCE\xBF\xCF\x82",
                                                     "\xCF\x83\xCE\xBF\xCF\x86\xCE\xBF\xCF\x83", true},
                                           LocalCase{"Nfd_Nfc", "ju\xCC\x88rgen", "j\xC3\xBCrgen", true},
                                           LocalCase{"NfdUpper_NfcLower", "JU\xCC\x88RGEN", "j\xC3\xBCrgen", true},
                                           // Turkish: default (not Turkic) folding keeps dotless i
                                           // apart from i, and dotted capital I folds to i + U+0307.
                                           LocalCase{"DotlessI_NotI", "\xC4\xB1nci", "inci", false},
                                           LocalCase{"DotlessI_NotCapitalI", "\xC4\xB1nci", "INCI", false},
                                           LocalCase{"CapitalDottedI_NotI", "\xC4\xB0nci", "inci", false},
                                           LocalCase{"CapitalDottedI_IPlusCombiningDot", "\xC4\xB0nci", "i\xCC\x87nci",
                                                     true},
                                           LocalCase{"Different_StayDifferent", "j\xC3\xB6rg", "jorg", false}),
                         [](const ::testing::TestParamInfo<LocalCase>& i) { return std::string(i.param.name); });

TEST(Address, FoldedLocalPart_IsNfcLowerCase) {
    Address a = parse_address("<\xC3\x9C\x53\x45R@example.test>", AddressOptions{});
    EXPECT_EQ(a.local, "\xC3\xBCser");
    a = parse_address("<STRA\xC3\x9F\x45@example.test>", AddressOptions{});
    EXPECT_EQ(a.local, "strasse");
}

struct BadUtf8Case {
    const char* name;
    std::string local;
};

class InvalidUtf8Local : public ::testing::TestWithParam<BadUtf8Case> {};

TEST_P(InvalidUtf8Local, Invalid_DomainStillKnown) {
    for (bool fold : {true, false}) {
        AddressOptions o;
        o.fold_local_case = fold;
        Address a = parse_address("<" + GetParam().local + "@b\xC3\xBC\x63her.test>", o);
        EXPECT_EQ(a.status, AddressStatus::Invalid);
        EXPECT_EQ(a.domain, "xn--bcher-kva.test");
    }
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidUtf8Local,
    ::testing::Values(BadUtf8Case{"LoneContinuation", "a\x80z"}, BadUtf8Case{"TruncatedTwoByte", "a\xC3"},
                      BadUtf8Case{"TruncatedThreeByte", "a\xE2\x82z"}, BadUtf8Case{"OverlongSlash", "a\xC0\xAFz"},
                      BadUtf8Case{"OverlongNul", "a\xC0\x80z"}, BadUtf8Case{"OverlongThreeByte", "a\xE0\x80\xAFz"},
                      BadUtf8Case{"OverlongFourByte", "a\xF0\x80\x80\xAFz"}, BadUtf8Case{"Surrogate", "a\xED\xA0\x80z"},
                      BadUtf8Case{"BeyondU10FFFF", "a\xF4\x90\x80\x80z"}, BadUtf8Case{"FeByte", "a\xFEz"},
                      BadUtf8Case{"Latin1", "j\xF6rg"}),
    [](const ::testing::TestParamInfo<BadUtf8Case>& i) { return std::string(i.param.name); });

TEST(Address, LookupKeys_IdnDomain_BothFormsMostSpecificFirst) {
    AddressOptions o;
    Address a = parse_address("<J\xC3\xB6rg+News@B\xC3\xBC\x63her.test>", o);
    std::vector<std::string> want = {"j\xC3\xB6rg+news@xn--bcher-kva.test",
                                     "j\xC3\xB6rg+news@b\xC3\xBC\x63her.test",
                                     "j\xC3\xB6rg@xn--bcher-kva.test",
                                     "j\xC3\xB6rg@b\xC3\xBC\x63her.test",
                                     "@xn--bcher-kva.test",
                                     "@b\xC3\xBC\x63her.test"};
    EXPECT_EQ(lookup_keys(a, o), want);
    EXPECT_EQ(want.size(), kMaxLookupKeys);  // the most there can be: stores size their statements by it
    // Asked in the ASCII form: the same keys.
    EXPECT_EQ(lookup_keys(parse_address("<j\xC3\xB6rg+news@xn--bcher-kva.test>", o), o), want);
}

TEST(Address, LookupKeys_AsciiDomain_OneFormOnly) {
    AddressOptions o;
    Address a = parse_address("<j\xC3\xB6rg@example.test>", o);
    std::vector<std::string> want = {"j\xC3\xB6rg@example.test", "@example.test"};
    EXPECT_EQ(lookup_keys(a, o), want);
}

TEST(Address, EntryForms_IdnDomain_CanonicalThenUnicode) {
    std::vector<std::string> want = {"j\xC3\xB6rg@xn--bcher-kva.test", "j\xC3\xB6rg@b\xC3\xBC\x63her.test"};
    EXPECT_EQ(entry_forms("j\xC3\xB6rg@xn--bcher-kva.test"), want);
    want = {"@xn--bcher-kva.test", "@b\xC3\xBC\x63her.test"};
    EXPECT_EQ(entry_forms("@xn--bcher-kva.test"), want);
    want = {"user@example.test"};
    EXPECT_EQ(entry_forms("user@example.test"), want);
}

TEST(Address, NormalizeEntry_IdnInEitherForm_StoredCanonical) {
    AddressOptions o;
    std::string err;
    EXPECT_EQ(normalize_entry("J\xC3\xB6rg@B\xC3\xBC\x63her.test", o, &err), "j\xC3\xB6rg@xn--bcher-kva.test");
    EXPECT_EQ(normalize_entry("user@XN--BCHER-KVA.test", o, &err), "user@xn--bcher-kva.test");
    EXPECT_EQ(normalize_entry("@B\xC3\xBC\x63her.test", o, &err), "@xn--bcher-kva.test");
    EXPECT_EQ(normalize_entry("@\xE2\x98\x83.test", o, &err), "");
    EXPECT_NE(err.find("catch-all"), std::string::npos) << err;
    EXPECT_EQ(normalize_entry("user@xn--zzzz.test", o, &err), "");
    EXPECT_NE(err.find("invalid domain"), std::string::npos) << err;
}

TEST(Address, CanonicalDomain_RejectsGarbage) {
    EXPECT_EQ(canonical_domain("Example.COM"), "example.com");
    EXPECT_EQ(canonical_domain(""), "");
    EXPECT_EQ(canonical_domain("."), "");
    EXPECT_EQ(canonical_domain("a_b.example"), "a_b.example");
    EXPECT_EQ(canonical_domain("[1.2.3.4"), "");
    EXPECT_EQ(canonical_domain(std::string(64, 'a') + ".com"), "");
}

// Plain ASCII domains take a one-pass path; its edges must give what the
// label-by-label path gives.
TEST(Address, CanonicalDomain_PlainAsciiEdges) {
    std::string error;
    std::string label63(63, 'L');
    EXPECT_EQ(canonical_domain(label63 + ".Test", &error), std::string(63, 'l') + ".test");
    std::string long253 =
        std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd');
    ASSERT_EQ(long253.size(), 253u);
    EXPECT_EQ(canonical_domain(long253), long253);
    EXPECT_EQ(canonical_domain(long253 + "d", &error), "");
    EXPECT_EQ(error, "domain longer than 253 octets");
    EXPECT_EQ(canonical_domain("Mail-1.EXAMPLE.test."), "mail-1.example.test");
    EXPECT_EQ(canonical_domain("a..b", &error), "");
    EXPECT_EQ(error, "empty label in domain");
    EXPECT_EQ(canonical_domain(".a", &error), "");
    EXPECT_EQ(canonical_domain("a b.test", &error), "");
    EXPECT_EQ(error, "invalid character in domain");
    // An A-label in any case is checked by libidn2, not just lower-cased.
    EXPECT_EQ(canonical_domain("XN--BCHER-KVA.test"), "xn--bcher-kva.test");
    EXPECT_EQ(canonical_domain("mail.Xn--bcher-kva.test"), "mail.xn--bcher-kva.test");
    EXPECT_EQ(canonical_domain("xn--zzzz.test", &error), "");
    EXPECT_NE(error.find("international domain name"), std::string::npos) << error;
    // "xn-" or "xn" alone, or "xn--" later in a label, is a plain label.
    EXPECT_EQ(canonical_domain("xn-a.XN.axn--b.test"), "xn-a.xn.axn--b.test");
}

}  // namespace
}  // namespace rcptguard
