// Unit tests for the LDAP filter template and RFC 4515 escaping
// (backends/ldap_filter.hpp).
#include "backends/ldap/ldap_filter.hpp"

#include <gtest/gtest.h>
#include <ldap.h>

#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {
namespace {

using namespace std::string_literals;

struct EscapeCase {
    const char* name;
    std::string input;
    std::string want;
};

class LdapFilterEscape : public ::testing::TestWithParam<EscapeCase> {};

TEST_P(LdapFilterEscape, Value_Escaped_PerRfc4515) {
    EXPECT_EQ(escape_filter_value(GetParam().input), GetParam().want);
}

// libldap's own escaper must agree byte for byte: the directory is the judge
// of what an escaped value means, and libldap is what it is tested against.
TEST_P(LdapFilterEscape, Value_Escaped_SameAsLibldap) {
    const std::string& in = GetParam().input;
    berval bin{};
    bin.bv_len = in.size();
    bin.bv_val = const_cast<char*>(in.data());
    berval bout{};
    ASSERT_EQ(ldap_bv2escaped_filter_value(&bin, &bout), 0);
    std::string theirs(bout.bv_val ? bout.bv_val : "", bout.bv_len);
    ldap_memfree(bout.bv_val);
    EXPECT_EQ(escape_filter_value(in), theirs);
}

INSTANTIATE_TEST_SUITE_P(Table, LdapFilterEscape,
                         ::testing::Values(EscapeCase{"Plain", "user@example.com", "user@example.com"},
                                           EscapeCase{"Empty", "", ""}, EscapeCase{"Star", "*", "\\2A"},
                                           EscapeCase{"Parens", "(a)", "\\28a\\29"},
                                           EscapeCase{"Backslash", "a\\b", "a\\5Cb"},
                                           EscapeCase{"Nul", "a\0b"s, "a\\00b"},
                                           EscapeCase{"Injection", "*)(uid=*", "\\2A\\29\\28uid=\\2A"},
                                           EscapeCase{"InjectionOr", ")(|(mail=*", "\\29\\28|\\28mail=\\2A"},
                                           EscapeCase{"Utf8", "j\xC3\xBCrgen@example.com", "j\\C3\\BCrgen@example.com"},
                                           EscapeCase{"HighBytes", "\xff\xfe\x80", "\\FF\\FE\\80"},
                                           EscapeCase{"KeptAsIs", "a=b&c|d!e~f<g>h%i\"j k", "a=b&c|d!e~f<g>h%i\"j k"},
                                           EscapeCase{"AlreadyEscapedLooking", "\\2A", "\\5C2A"}),
                         [](const ::testing::TestParamInfo<EscapeCase>& i) { return i.param.name; });

struct ExpandCase {
    const char* name;
    std::string templ;
    std::string key;
    std::string want;
};

class LdapFilterExpand : public ::testing::TestWithParam<ExpandCase> {};

TEST_P(LdapFilterExpand, Template_Expanded_ValuesEscaped) {
    const ExpandCase& c = GetParam();
    LdapFilterTemplate t;
    ASSERT_EQ(t.parse(c.templ), "");
    EXPECT_EQ(t.expand(c.key), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, LdapFilterExpand,
    ::testing::Values(
        ExpandCase{"Mail", "(mail=%s)", "user@example.com", "(mail=user@example.com)"},
        ExpandCase{"MailOrAlternate", "(|(mail=%s)(mailAlternateAddress=%s))", "a@b.c",
                   "(|(mail=a@b.c)(mailAlternateAddress=a@b.c))"},
        ExpandCase{"LocalAndDomain", "(&(uid=%u)(associatedDomain=%d))", "john@example.com",
                   "(&(uid=john)(associatedDomain=example.com))"},
        ExpandCase{"CatchAllKey", "(|(mail=%s)(uid=%u))", "@example.com", "(|(mail=@example.com)(uid=))"},
        ExpandCase{"NoAtSign", "(&(uid=%u)(o=%d))", "postmaster", "(&(uid=postmaster)(o=))"},
        ExpandCase{"SplitAtLastAt", "(&(uid=%u)(o=%d))", "\"a@b\"@example.com", "(&(uid=\"a@b\")(o=example.com))"},
        ExpandCase{"PercentLiteral", "(&(description=100%%)(mail=%s))", "x@y", "(&(description=100%)(mail=x@y))"},
        ExpandCase{"ProxyAddresses", "(proxyAddresses=smtp:%s)", "John@Example.com",
                   "(proxyAddresses=smtp:John@Example.com)"},
        ExpandCase{"InjectionStaysValue", "(mail=%s)", "*)(uid=*", "(mail=\\2A\\29\\28uid=\\2A)"},
        ExpandCase{"InjectionInParts", "(&(uid=%u)(o=%d))", "*)(|(a=*@x)(b=*",
                   "(&(uid=\\2A\\29\\28|\\28a=\\2A)(o=x\\29\\28b=\\2A))"},
        ExpandCase{"NulInKey", "(mail=%s)", "user@example.com\0evil"s, "(mail=user@example.com\\00evil)"},
        ExpandCase{"Utf8Key", "(mail=%s)", "j\xC3\xBC@example.com", "(mail=j\\C3\\BC@example.com)"},
        ExpandCase{"SubstringWithPlaceholder", "(mail=*%d)", "a@b", "(mail=*b)"},
        ExpandCase{"EscapeInTemplateKept", "(&(cn=a\\2ab)(mail=%s))", "x@y", "(&(cn=a\\2ab)(mail=x@y))"},
        ExpandCase{"Extensible", "(&(mail=%s)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))", "x@y",
                   "(&(mail=x@y)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"}),
    [](const ::testing::TestParamInfo<ExpandCase>& i) { return i.param.name; });

TEST(LdapFilterExpand, LongKey_ExpandedWhole) {
    LdapFilterTemplate t;
    ASSERT_EQ(t.parse("(mail=%s)"), "");
    std::string key = std::string(1024, 'a') + "@example.com";
    EXPECT_EQ(t.expand(key), "(mail=" + key + ")");
}

struct BadCase {
    const char* name;
    std::string templ;
    std::string problem_contains;
};

class LdapFilterBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(LdapFilterBad, Template_Rejected_WithReason) {
    LdapFilterTemplate t;
    std::string problem = t.parse(GetParam().templ);
    EXPECT_NE(problem.find(GetParam().problem_contains), std::string::npos) << "got: '" << problem << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Table, LdapFilterBad,
    ::testing::Values(BadCase{"Empty", "", "empty"},
                      BadCase{"NoPlaceholder", "(mail=someone@example.com)", "uses none of %s, %u, %d"},
                      BadCase{"OnlyPercentLiteral", "(mail=100%%)", "uses none of"},
                      BadCase{"UnknownPlaceholder", "(mail=%x)", "unknown placeholder '%x'"},
                      BadCase{"UpperCasePlaceholder", "(mail=%S)", "unknown placeholder '%S'"},
                      BadCase{"LonePercentAtEnd", "(mail=%s)%", "lone '%'"},
                      BadCase{"MissingClose", "(mail=%s", "unbalanced parentheses"},
                      BadCase{"MissingCloseNested", "(|(mail=%s)(uid=%u)", "unbalanced parentheses"},
                      BadCase{"ExtraClose", "(mail=%s))", "unbalanced parentheses"},
                      BadCase{"NoParens", "mail=%s", "parenthesised"},
                      BadCase{"TwoFilters", "(mail=%s)(uid=%u)", "one filter expected"},
                      BadCase{"MissingAttribute", "(=%s)", "missing attribute name"},
                      BadCase{"EmptyParens", "(|()(mail=%s))", "empty filter ()"},
                      BadCase{"NoEquals", "(mail%s)", "placeholders belong in values"},
                      BadCase{"NoEqualsNoPlaceholder", "(&(mail)(uid=%u))", "expected attribute=value"},
                      BadCase{"PlaceholderAsAttribute", "(%s=x)", "placeholders belong in values"},
                      BadCase{"AndWithoutFilters", "(&mail=%s)", "needs at least one (filter)"},
                      BadCase{"OpenParenInValue", "(mail=a(%s)", "unescaped '('"},
                      BadCase{"BadEscape", "(cn=a\\zz)(mail=%s)", "two hex digits"},
                      BadCase{"ShortEscape", "(mail=%s\\2)", "two hex digits"},
                      BadCase{"ControlChar", "(mail=%s)\n", "control character"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return i.param.name; });

TEST(LdapFilterTemplate, ParseFailure_LeavesNoPieces_ParseAgainWorks) {
    LdapFilterTemplate t;
    EXPECT_NE(t.parse("(mail=%q)"), "");
    EXPECT_EQ(t.parse("(mail=%s)"), "");
    EXPECT_EQ(t.expand("a@b"), "(mail=a@b)");
}

// --- one search per recipient: expand_any, matches, most_specific_match ----

TEST(LdapFilterExpandAny, EveryKeyEscaped_InOneOr) {
    LdapFilterTemplate t;
    ASSERT_EQ(t.parse("(mail=%s)"), "");
    std::string nul = "a\0b@x"s;
    std::vector<std::string_view> keys = {"*)(uid=*@x", "a\\b@x", "(c)@x", nul, "j\xC3\xBC@x", "@x"};
    EXPECT_EQ(t.expand_any(keys),
              "(|(mail=\\2A\\29\\28uid=\\2A@x)(mail=a\\5Cb@x)(mail=\\28c\\29@x)(mail=a\\00b@x)(mail=j\\C3\\BC@x)"
              "(mail=@x))");
}

TEST(LdapFilterExpandAny, OneKey_ItsFilterAlone) {
    LdapFilterTemplate t;
    ASSERT_EQ(t.parse("(|(mail=%s)(uid=%u))"), "");
    EXPECT_EQ(t.expand_any({"a@b"}), "(|(mail=a@b)(uid=a))");
}

TEST(LdapFilterExpandAny, ResultIsAValidTemplateShape_EveryPositionHostile) {
    // Whatever the keys, the joined filter parses as one filter whose values
    // hold no placeholders: the keys never change its shape.
    LdapFilterTemplate t;
    ASSERT_EQ(t.parse("(&(objectClass=person)(|(mail=%s)(uid=%u)(o=%d)))"), "");
    for (std::string_view hostile : {"*", ")", "(", "\\", "%s", "*)(|(objectClass=*"}) {
        std::string k = std::string(hostile) + "@" + std::string(hostile);
        std::string f = t.expand_any({k, "@" + std::string(hostile)});
        std::string escaped_percent;
        for (char c : f) escaped_percent += c == '%' ? std::string("%%") : std::string(1, c);
        LdapFilterTemplate check;
        // "uses none of %s..." is the only acceptable complaint: the shape is sound.
        EXPECT_NE(check.parse(escaped_percent).find("uses none of"), std::string::npos) << f;
    }
}

TEST(LdapFilterAttributes, NamedOnceEach_InTemplateOrder) {
    LdapFilterTemplate t;
    ASSERT_EQ(t.parse("(&(objectClass=user)(|(mail=%s)(MAIL=%s)(proxyAddresses=smtp:%s)(cn:dn:=%u)))"), "");
    EXPECT_EQ(t.attributes(), (std::vector<std::string>{"objectClass", "mail", "proxyAddresses", "cn"}));
}

struct MatchCase {
    const char* name;
    const char* templ;
    const char* key;
    LdapAttributes entry;
    FilterMatch want;
};

class LdapFilterMatch : public ::testing::TestWithParam<MatchCase> {};

TEST_P(LdapFilterMatch, Entry_JudgedLikeTheServer) {
    const MatchCase& c = GetParam();
    LdapFilterTemplate t;
    ASSERT_EQ(t.parse(c.templ), "");
    EXPECT_EQ(t.matches(c.key, c.entry), c.want);
}

const LdapAttributes kUser = {{"mail", {"John.Smith@Example.TEST"}},
                              {"mailAlternateAddress", {"js@example.test", "sales@example.test"}}};
const LdapAttributes kCatchAll = {{"mail", {"@example.test"}}};
const LdapAttributes kAd = {{"objectClass", {"top", "person", "user"}},
                            {"proxyAddresses", {"SMTP:Jane@Example.TEST", "smtp:jd@example.test"}},
                            {"userPrincipalName", {"jane@corp.test"}}};

INSTANTIATE_TEST_SUITE_P(
    Table, LdapFilterMatch,
    ::testing::Values(
        MatchCase{"MailCaseIgnored", "(mail=%s)", "john.smith@example.test", kUser, FilterMatch::Yes},
        MatchCase{"OtherAddress", "(mail=%s)", "john@example.test", kUser, FilterMatch::No},
        MatchCase{"CatchAllKeyOnUser", "(mail=%s)", "@example.test", kUser, FilterMatch::No},
        MatchCase{"CatchAllKeyOnCatchAll", "(mail=%s)", "@example.test", kCatchAll, FilterMatch::Yes},
        MatchCase{"AlternateInOr", "(|(mail=%s)(mailAlternateAddress=%s))", "sales@example.test", kUser,
                  FilterMatch::Yes},
        MatchCase{"AttributeNameCase", "(MAIL=%s)", "john.smith@example.test", kUser, FilterMatch::Yes},
        MatchCase{"MissingAttribute", "(uid=%u)", "john@example.test", kUser, FilterMatch::No},
        MatchCase{"AdPrefixAnyCase", "(&(objectClass=user)(proxyAddresses=smtp:%s))", "jane@example.test", kAd,
                  FilterMatch::Yes},
        MatchCase{"AdWrongClass", "(&(objectClass=group)(proxyAddresses=smtp:%s))", "jane@example.test", kAd,
                  FilterMatch::No},
        MatchCase{"Not", "(&(mail=%s)(!(mail=@example.test)))", "john.smith@example.test", kUser, FilterMatch::Yes},
        MatchCase{"NotExcludes", "(&(mail=%s)(!(mailAlternateAddress=js@example.test)))", "john.smith@example.test",
                  kUser, FilterMatch::No},
        MatchCase{"Presence", "(&(mailAlternateAddress=*)(mail=%s))", "john.smith@example.test", kUser,
                  FilterMatch::Yes},
        MatchCase{"PresenceMissing", "(&(uid=*)(mail=%s))", "john.smith@example.test", kUser, FilterMatch::No},
        MatchCase{"SubstringDomain", "(mail=*@%d)", "x@example.test", kUser, FilterMatch::Yes},
        MatchCase{"SubstringInitialAnyFinal", "(mail=j*sm*@%d)", "x@example.test", kUser, FilterMatch::Yes},
        MatchCase{"SubstringNoMatch", "(mail=x*@%d)", "x@example.test", kUser, FilterMatch::No},
        MatchCase{"StarInKeyIsData", "(mail=%s)", "*@example.test", kCatchAll, FilterMatch::No},
        MatchCase{"EscapedTemplateValue", "(&(mail=%s)(mailAlternateAddress=sales\\40example.test))",
                  "john.smith@example.test", kUser, FilterMatch::Yes},
        MatchCase{"Approximate_Unknown", "(mail~=%s)", "john.smith@example.test", kUser, FilterMatch::Unknown},
        MatchCase{"Ordering_Unknown", "(mail>=%s)", "a@b", kUser, FilterMatch::Unknown},
        MatchCase{"Extensible_Unknown", "(&(mail=%s)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
                  "john.smith@example.test", kUser, FilterMatch::Unknown},
        MatchCase{"UnknownButAndFalse_No", "(&(mail=%s)(mail~=x))", "nobody@example.test", kUser, FilterMatch::No},
        MatchCase{"UnknownButOrTrue_Yes", "(|(mail=%s)(mail~=x))", "john.smith@example.test", kUser, FilterMatch::Yes},
        MatchCase{"NonAsciiSameBytes_Yes", "(utf8MailAddress=%s)", "j\xC3\xBCrgen@example.test",
                  LdapAttributes{{"utf8MailAddress", {"J\xC3\xBCrgen@example.test"}}}, FilterMatch::Yes},
        // The directory folds Unicode case (caseIgnoreMatch): not ours to judge.
        MatchCase{"NonAsciiOtherCase_Unknown", "(utf8MailAddress=%s)", "J\xC3\x9CRGEN@example.test",
                  LdapAttributes{{"utf8MailAddress", {"j\xC3\xBCrgen@example.test"}}}, FilterMatch::Unknown},
        MatchCase{"NonAsciiOtherAddress_Unknown", "(utf8MailAddress=%s)", "ana@example.test",
                  LdapAttributes{{"utf8MailAddress", {"j\xC3\xBCrgen@example.test"}}}, FilterMatch::Unknown},
        // Insignificant spaces (RFC 4518): "a  b" may equal "a b" to the server.
        MatchCase{"SpacesDiffer_Unknown", "(cn=%u)", "a  b@example.test", LdapAttributes{{"cn", {"a b"}}},
                  FilterMatch::Unknown},
        MatchCase{"AsciiDiffers_No_EvenBesideOtherAttributes", "(mail=%s)", "x@example.test",
                  LdapAttributes{{"mail", {"y@example.test"}}, {"cn", {"J\xC3\xBCrgen Smith"}}}, FilterMatch::No},
        MatchCase{"LocalAndDomain", "(&(uid=%u)(o=%d))", "kim@example.test",
                  LdapAttributes{{"uid", {"kim"}}, {"o", {"example.test"}}}, FilterMatch::Yes},
        MatchCase{"LocalEmptyForCatchAll", "(&(uid=%u)(o=%d))", "@example.test",
                  LdapAttributes{{"uid", {"kim"}}, {"o", {"example.test"}}}, FilterMatch::No}),
    [](const ::testing::TestParamInfo<MatchCase>& i) { return i.param.name; });

std::size_t choose(const char* templ, const std::vector<std::string_view>& keys,
                   const std::vector<LdapAttributes>& entries, bool complete, std::size_t* unsure) {
    LdapFilterTemplate t;
    EXPECT_EQ(t.parse(templ), "");
    return most_specific_match(t, keys, entries, complete, unsure);
}

const std::vector<std::string_view> kKeys = {"john.smith+tag@example.test", "john.smith@example.test", "@example.test"};

TEST(LdapMostSpecificMatch, UserAndCatchAllReturned_UserKeyWins_InAnyOrder) {
    std::size_t unsure = 9;
    EXPECT_EQ(choose("(mail=%s)", kKeys, {kCatchAll, kUser}, true, &unsure), 1u);
    EXPECT_EQ(unsure, 0u);
    EXPECT_EQ(choose("(mail=%s)", kKeys, {kUser, kCatchAll}, true, &unsure), 1u);
    EXPECT_EQ(unsure, 0u);
}

TEST(LdapMostSpecificMatch, OnlyCatchAll_CatchAllKey) {
    std::size_t unsure = 9;
    EXPECT_EQ(choose("(mail=%s)", kKeys, {kCatchAll}, true, &unsure), 2u);
    EXPECT_EQ(unsure, 0u);
}

TEST(LdapMostSpecificMatch, DetailAddressListedItself_FirstKey) {
    LdapAttributes tagged = {{"mail", {"John.Smith+Tag@example.test"}}};
    std::size_t unsure = 9;
    EXPECT_EQ(choose("(mail=%s)", kKeys, {kCatchAll, kUser, tagged}, true, &unsure), 0u);
    EXPECT_EQ(unsure, 0u);
}

TEST(LdapMostSpecificMatch, ResultCutShort_KeysBeforeTheBestAreUnsure) {
    std::size_t unsure = 9;
    EXPECT_EQ(choose("(mail=%s)", kKeys, {kCatchAll}, false, &unsure), 2u);
    EXPECT_EQ(unsure, 2u);  // the user's entry may be the one left out
    EXPECT_EQ(choose("(mail=%s)", kKeys, {kUser}, false, &unsure), 1u);
    EXPECT_EQ(unsure, 1u);
}

TEST(LdapMostSpecificMatch, EntryNoKeyExplains_UnsureUpToTheBest) {
    // E.g. the template names an attribute by an alias the server returns
    // under another name: the server matched it, our reading cannot tell why.
    LdapAttributes odd = {{"userid", {"john.smith"}}};
    std::size_t unsure = 9;
    EXPECT_EQ(choose("(|(mail=%s)(uid=%u))", kKeys, {kCatchAll, odd}, true, &unsure), 2u);
    EXPECT_EQ(unsure, 2u);
    EXPECT_EQ(choose("(|(mail=%s)(uid=%u))", kKeys, {odd}, true, &unsure), 3u);  // nothing decided
    EXPECT_EQ(unsure, 3u);
}

TEST(LdapMostSpecificMatch, UnknownForAMoreSpecificKey_ThatKeyUnsure) {
    std::size_t unsure = 9;
    // (mail~=...) cannot be judged here; the catch-all matches by (mail=...).
    EXPECT_EQ(choose("(|(mail=%s)(cn~=%u))", kKeys, {kCatchAll}, true, &unsure), 2u);
    EXPECT_EQ(unsure, 2u);
}

TEST(LdapMostSpecificMatch, NoEntries_NothingFound) {
    std::size_t unsure = 9;
    EXPECT_EQ(choose("(mail=%s)", kKeys, {}, true, &unsure), 3u);
    EXPECT_EQ(unsure, 0u);
}

// --- several recipients in one search: most_specific_matches ----------------

// keys: john.smith+tag, john.smith, @example.test (shared), kim, @other.test
const std::vector<std::string_view> kBatchKeys = {"john.smith+tag@example.test",
                                                  "john.smith@example.test",
                                                  "@example.test",
                                                  "kim@example.test",
                                                  "nobody@other.test",
                                                  "@other.test"};
// recipients: john.smith+tag (3 keys), kim (kim, shared catch-all), nobody@other.test
const std::vector<std::vector<std::size_t>> kBatchRecipients = {{0, 1, 2}, {3, 2}, {4, 5}};
const LdapAttributes kKim = {{"mail", {"Kim@example.test"}}};

std::vector<KeyMatch> choose_batch(const char* templ, const std::vector<LdapAttributes>& entries, bool complete) {
    LdapFilterTemplate t;
    EXPECT_EQ(t.parse(templ), "");
    return most_specific_matches(t, kBatchKeys, kBatchRecipients, entries, complete);
}

TEST(LdapMostSpecificMatches, EachRecipientItsOwnBest_OthersEntriesExplained) {
    std::vector<KeyMatch> m = choose_batch("(mail=%s)", {kKim, kCatchAll, kUser}, true);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].best, 1u);  // john.smith's own entry, not the catch-all
    EXPECT_EQ(m[0].unsure_before, 0u);
    EXPECT_EQ(m[1].best, 0u);  // kim's own entry
    EXPECT_EQ(m[1].unsure_before, 0u);
    EXPECT_EQ(m[2].best, 2u);  // nothing for other.test: the other entries are explained by others' keys
    EXPECT_EQ(m[2].unsure_before, 0u);
}

TEST(LdapMostSpecificMatches, SharedCatchAll_ServesEveryRecipientOfItsDomain) {
    std::vector<KeyMatch> m = choose_batch("(mail=%s)", {kCatchAll}, true);
    EXPECT_EQ(m[0].best, 2u);
    EXPECT_EQ(m[1].best, 1u);
    EXPECT_EQ(m[2].best, 2u);
    for (const KeyMatch& k : m) EXPECT_EQ(k.unsure_before, 0u);
}

TEST(LdapMostSpecificMatches, EntryNoKeyExplains_EveryRecipientUnsureUpToItsBest) {
    LdapAttributes odd = {{"userid", {"someone"}}};
    std::vector<KeyMatch> m = choose_batch("(|(mail=%s)(uid=%u))", {kKim, odd}, true);
    EXPECT_EQ(m[0].best, 3u);
    EXPECT_EQ(m[0].unsure_before, 3u);
    EXPECT_EQ(m[1].best, 0u);  // its most specific key matched: nothing ahead of it to doubt
    EXPECT_EQ(m[1].unsure_before, 0u);
    EXPECT_EQ(m[2].best, 2u);
    EXPECT_EQ(m[2].unsure_before, 2u);
}

TEST(LdapMostSpecificMatches, ResultCutShort_EveryRecipientUnsureUpToItsBest) {
    std::vector<KeyMatch> m = choose_batch("(mail=%s)", {kKim}, false);
    EXPECT_EQ(m[0].unsure_before, 3u);
    EXPECT_EQ(m[1].best, 0u);
    EXPECT_EQ(m[1].unsure_before, 0u);
    EXPECT_EQ(m[2].unsure_before, 2u);
}

TEST(LdapMostSpecificMatches, EntryOfAnotherRecipientMayBeMineToo_Unsure) {
    // The directory matched the entry for one recipient's key; the other's key
    // differs only in a way the directory's rules may ignore (Unicode case):
    // that recipient cannot be told from this search and is asked alone.
    LdapFilterTemplate t;
    ASSERT_EQ(t.parse("(utf8MailAddress=%s)"), "");
    std::vector<std::string_view> keys = {"j\xC3\xBCrgen@example.test", "J\xC3\x9CRGEN@example.test", "@example.test"};
    LdapAttributes juergen = {{"utf8MailAddress", {"j\xC3\xBCrgen@example.test"}}};
    std::vector<KeyMatch> m = most_specific_matches(t, keys, {{0, 2}, {1, 2}}, {juergen}, true);
    EXPECT_EQ(m[0].best, 0u);
    EXPECT_EQ(m[0].unsure_before, 0u);
    EXPECT_EQ(m[1].best, 2u);
    // Both its keys unsure (a non-ASCII value may equal even an ASCII key
    // after the directory's normalisation): never a NotFound on our reading.
    EXPECT_EQ(m[1].unsure_before, 2u);
}

TEST(LdapMostSpecificMatches, OneRecipient_SameAsMostSpecificMatch) {
    // The single-recipient form is this one with one recipient: every case above
    // for most_specific_match holds for it; spot-check against a direct call.
    LdapFilterTemplate t;
    ASSERT_EQ(t.parse("(|(mail=%s)(cn~=%u))"), "");
    std::size_t unsure = 9;
    std::size_t best = most_specific_match(t, kKeys, {kCatchAll, kUser}, true, &unsure);
    std::vector<KeyMatch> m = most_specific_matches(t, kKeys, {{0, 1, 2}}, {kCatchAll, kUser}, true);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].best, best);
    EXPECT_EQ(m[0].unsure_before, unsure);
    EXPECT_EQ(best, 1u);
    EXPECT_EQ(unsure, 1u);  // (cn~=john.smith+tag) cannot be judged here
}

}  // namespace
}  // namespace rcptguard
