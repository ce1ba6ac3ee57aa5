// Unit tests for the pieces of the bounce stripper: MIME header-field parsing
// (milter/bounce/header_fields.hpp), transfer decoding (transfer_decoding.hpp),
// the original's header block (header_block.hpp), inline markers
// (inline_markers.hpp), text folding and failure phrases (text_fold.hpp,
// failure_text.hpp), the evidence names (bounce_evidence.hpp) and the
// top-level classification (bounce_classifier.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/bounce/bounce_classifier.hpp"
#include "core/bounce/bounce_evidence.hpp"
#include "core/bounce/failure_text.hpp"
#include "core/bounce/header_block.hpp"
#include "core/bounce/header_fields.hpp"
#include "core/bounce/inline_markers.hpp"
#include "core/bounce/text_fold.hpp"
#include "core/bounce/transfer_decoding.hpp"

namespace rcptguard::bounce {
namespace {

// --- Content-Type ---

struct CtCase {
    const char* name;
    std::string value;
    bool valid;
    std::string type_subtype;
    std::string boundary;  // "-" when absent
    bool param_error;
};

class BounceContentType : public ::testing::TestWithParam<CtCase> {};

TEST_P(BounceContentType, Value_Parsed_AsExpected) {
    const CtCase& c = GetParam();
    ContentType ct = parse_content_type(c.value);
    EXPECT_EQ(ct.valid, c.valid) << ct.error;
    if (!c.valid) return;
    EXPECT_EQ(ct.type + "/" + ct.subtype, c.type_subtype);
    const std::string* b = ct.param("boundary");
    EXPECT_EQ(b ? *b : std::string("-"), c.boundary);
    EXPECT_EQ(!ct.error.empty(), c.param_error) << ct.error;
}

INSTANTIATE_TEST_SUITE_P(
    BounceTable, BounceContentType,
    ::testing::Values(
        CtCase{"Simple", "text/plain", true, "text/plain", "-", false},
        CtCase{"CaseFolded", "Multipart/REPORT; Boundary=Abc", true, "multipart/report", "Abc", false},
        CtCase{"Quoted", "multipart/report; report-type=delivery-status;\n\tboundary=\"=_a b/c\"", true,
               "multipart/report", "=_a b/c", false},
        CtCase{"QuotedEscape", "multipart/mixed; boundary=\"a\\\"b\"", true, "multipart/mixed", "a\"b", false},
        CtCase{"BareWithSpecials", "multipart/mixed; boundary=----=_Part_1/2.3", true, "multipart/mixed",
               "----=_Part_1/2.3", false},
        CtCase{"Comments", "multipart/mixed (a comment); boundary=x (another)", true, "multipart/mixed", "x", false},
        CtCase{"SpacesAroundSlashAndEquals", "multipart / mixed ; boundary = \"x\"", true, "multipart/mixed", "x",
               false},
        CtCase{"TrailingSemicolon", "text/plain; charset=us-ascii;", true, "text/plain", "-", false},
        CtCase{"CrlfFolding", "multipart/report;\r\n boundary=\"b\"", true, "multipart/report", "b", false},
        CtCase{"ConflictingBoundaries", "multipart/mixed; boundary=a; boundary=b", true, "multipart/mixed", "a", true},
        CtCase{"RepeatedSameBoundary", "multipart/mixed; boundary=a; boundary=\"a\"", true, "multipart/mixed", "a",
               false},
        CtCase{"UnterminatedQuote", "multipart/mixed; boundary=\"abc", true, "multipart/mixed", "abc", true},
        CtCase{"MissingSemicolon", "text/plain\n charset=us-ascii", true, "text/plain", "-", true},
        CtCase{"NoSubtype", "text", false, "", "", false}, CtCase{"Empty", "", false, "", "", false},
        CtCase{"SlashOnly", "/plain", false, "", "", false}),
    [](const ::testing::TestParamInfo<CtCase>& i) { return std::string(i.param.name); });

TEST(BounceTransferEncoding, Values_Recognised) {
    EXPECT_EQ(parse_transfer_encoding(""), TransferEncoding::Identity);
    EXPECT_EQ(parse_transfer_encoding(" 7BIT "), TransferEncoding::SevenBit);
    EXPECT_EQ(parse_transfer_encoding("8bit"), TransferEncoding::EightBit);
    EXPECT_EQ(parse_transfer_encoding("Binary"), TransferEncoding::Binary);
    EXPECT_EQ(parse_transfer_encoding("Quoted-Printable"), TransferEncoding::QuotedPrintable);
    EXPECT_EQ(parse_transfer_encoding("base64 (encoded)"), TransferEncoding::Base64);
    EXPECT_EQ(parse_transfer_encoding("x-uuencode"), TransferEncoding::Unknown);
}

TEST(BounceHeaderLines, FieldAndContinuation_AsPythonSeesThem) {
    EXPECT_TRUE(is_field_line("Subject: x"));
    EXPECT_TRUE(is_field_line("X-Weird.Name_1:"));
    EXPECT_FALSE(is_field_line("Subject : x"));  // no space before the colon
    EXPECT_FALSE(is_field_line(": x"));
    EXPECT_FALSE(is_field_line("no colon here"));
    EXPECT_FALSE(is_field_line("Caf\xC3\xA9: x"));
    EXPECT_TRUE(is_continuation_line(" more"));
    EXPECT_TRUE(is_continuation_line("\tmore"));
    EXPECT_FALSE(is_continuation_line("more"));
    EXPECT_EQ(field_name("Content-Type: text/plain"), "Content-Type");
}

TEST(BounceHeaderLines, SplitFields_GroupsContinuations) {
    auto f = split_fields("Content-Type: message/rfc822;\r\n\tname=x\r\nContent-Description: a\nnot a field\r\n");
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].name, "Content-Type");
    EXPECT_EQ(f[0].value, "message/rfc822;\tname=x");
    EXPECT_EQ(f[0].lines, "Content-Type: message/rfc822;\r\n\tname=x\r\n");
    EXPECT_EQ(f[1].lines, "Content-Description: a\r\n");
}

TEST(BounceEncodedWords, QAndB_DecodedForKeywordMatching) {
    EXPECT_EQ(decode_encoded_words("=?iso-8859-15?Q?Delivery_Status_Notification_=28Failure=29?="),
              "Delivery Status Notification (Failure)");
    EXPECT_EQ(decode_encoded_words("x =?utf-8?B?VW5kZWxpdmVyYWJsZQ==?= y"), "x Undeliverable y");
    EXPECT_EQ(decode_encoded_words("=?broken"), "=?broken");
    EXPECT_EQ(decode_encoded_words("=?utf-8?B?!!!?="), "=?utf-8?B?!!!?=");
}

// --- transfer decoding ---

TEST(BounceBase64Decoder, ValidInputAcrossLines_Decoded) {
    Base64Decoder d;
    std::string out;
    EXPECT_TRUE(d.feed("SGVsbG8s", &out));
    EXPECT_TRUE(d.feed("IHdvcmxk\r\n", &out));
    EXPECT_TRUE(d.feed("IQ==", &out));
    EXPECT_TRUE(d.finish(&out));
    EXPECT_EQ(out, "Hello, world!");
}

TEST(BounceBase64Decoder, QuantumSplitAcrossFeeds_Decoded) {
    Base64Decoder d;
    std::string out;
    for (char c : std::string("TWFu TWE= ")) EXPECT_TRUE(d.feed(std::string(1, c), &out));
    EXPECT_TRUE(d.finish(&out));
    EXPECT_EQ(out, "ManMa");
}

TEST(BounceBase64Decoder, MissingPadding_FlushedAtFinish) {
    Base64Decoder d;
    std::string out;
    EXPECT_TRUE(d.feed("TWE", &out));
    EXPECT_TRUE(d.finish(&out));
    EXPECT_EQ(out, "Ma");
}

TEST(BounceBase64Decoder, InvalidInput_Rejected) {
    for (const char* bad : {"TW!u", "TWE=TWFu", "T===", "=AAA"}) {
        Base64Decoder d;
        std::string out;
        EXPECT_FALSE(d.feed(bad, &out) && d.finish(&out)) << bad;
    }
    Base64Decoder one;
    std::string out;
    EXPECT_TRUE(one.feed("TWFuT", &out));
    EXPECT_FALSE(one.finish(&out));  // a single sextet cannot be a byte
}

TEST(BounceQuotedPrintable, DecodeLine_SoftBreaksHexAndTrailingWhitespace) {
    std::string out;
    EXPECT_TRUE(qp_decode_line("abc=3D=", &out));
    EXPECT_EQ(out, "abc=");
    out.clear();
    EXPECT_FALSE(qp_decode_line("caf=C3=a9 \t", &out));
    EXPECT_EQ(out, "caf\xC3\xA9");
    out.clear();
    EXPECT_FALSE(qp_decode_line("50% =ZZ off", &out));  // malformed escapes kept
    EXPECT_EQ(out, "50% =ZZ off");
    out.clear();
    EXPECT_TRUE(qp_decode_line("trailing = ", &out));
    EXPECT_EQ(out, "trailing ");
}

TEST(BounceQuotedPrintable, Encode_SevenBitShortLinesAndRoundTrips) {
    std::string text =
        "Subject: Gr\xC3\xBC\xC3\x9F"
        "e \r\nX-Long: " +
        std::string(200, 'a') + "=b\t\r\nNul: a" + std::string(1, '\0') + "b\r\n";
    std::string enc = qp_encode(text);
    std::string decoded;
    std::size_t pos = 0;
    while (pos < enc.size()) {
        std::size_t eol = enc.find("\r\n", pos);
        ASSERT_NE(eol, std::string::npos);
        std::string_view line(enc.data() + pos, eol - pos);
        EXPECT_LE(line.size(), 76u) << line;
        for (char c : line) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
        if (!qp_decode_line(line, &decoded)) decoded += "\r\n";
        pos = eol + 2;
    }
    EXPECT_EQ(decoded, text);
    EXPECT_NE(enc.find("Subject: Gr=C3=BC=C3=9Fe=20\r\n"), std::string::npos) << enc;
}

// --- the original's header block ---

using Event = HeaderBlockCollector::Event;

TEST(BounceHeaderBlock, FieldsThenEmptyLineThenBody_BlockAndBody) {
    HeaderBlockCollector c(false);
    EXPECT_EQ(c.line("From x"), Event::Continue);  // mbox envelope line dropped
    EXPECT_EQ(c.line("Subject: a"), Event::Continue);
    EXPECT_EQ(c.line("\tb"), Event::Continue);
    EXPECT_EQ(c.line(""), Event::BlockEndedBlank);
    EXPECT_EQ(c.line(""), Event::Continue);
    EXPECT_EQ(c.line("body"), Event::HasBody);
    EXPECT_EQ(c.block(), "Subject: a\r\n\tb\r\n");
    EXPECT_EQ(c.field_count(), 1u);
}

TEST(BounceHeaderBlock, NonHeaderLine_StartsTheBody) {
    HeaderBlockCollector c(false);
    EXPECT_EQ(c.line("Subject: a"), Event::Continue);
    EXPECT_EQ(c.line("this is body"), Event::BodyStarts);
    EXPECT_EQ(c.block(), "Subject: a\r\n");
}

TEST(BounceHeaderBlock, FirstLineNotAField_NoHeaders) {
    HeaderBlockCollector strict(false);
    EXPECT_EQ(strict.line(""), Event::NoHeaders);
    HeaderBlockCollector inline_copy(true);
    EXPECT_EQ(inline_copy.line(""), Event::Continue);
    EXPECT_EQ(inline_copy.line(" continuation first"), Event::NoHeaders);
}

// --- inline markers ---

struct MarkerCase {
    const char* line;
    const char* kind;  // nullptr: no marker
    bool headers_only;
    bool needs_evidence = true;
};

class BounceInlineMarker : public ::testing::TestWithParam<MarkerCase> {};

TEST_P(BounceInlineMarker, Line_Matched_AsExpected) {
    const MarkerCase& c = GetParam();
    const InlineMarker* m = match_inline_marker(c.line);
    if (!c.kind) {
        EXPECT_EQ(m, nullptr) << c.line;
        return;
    }
    ASSERT_NE(m, nullptr) << c.line;
    EXPECT_STREQ(m->kind, c.kind);
    EXPECT_EQ(m->headers_only, c.headers_only);
    EXPECT_EQ(m->needs_bounce_evidence, c.needs_evidence) << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    BounceCorpus, BounceInlineMarker,
    ::testing::Values(
        MarkerCase{"--- Below this line is a copy of the message.", "inline-qmail", false, false},
        MarkerCase{"--- Below this line is a copy of the message. ", "inline-qmail", false, false},
        MarkerCase{"------ This is a copy of the message, including all the headers. ------", "inline-exim", false,
                   false},
        MarkerCase{"------ This is a copy of your message, including all the headers. ------", "inline-exim", false,
                   false},
        MarkerCase{"------ This is a copy of the message's headers. ------", "inline-exim", true, false},
        MarkerCase{"----- Original message -----", "inline-generic", false},
        MarkerCase{"-------original message", "inline-generic", false},
        MarkerCase{"   ----- Unsent message follows -----", "inline-sendmail", false},
        MarkerCase{"------- Returned Message --------", "inline-lotus", false},
        MarkerCase{"    Below is a copy of the original message:", "inline-opensmtpd", false},
        MarkerCase{"Original message follows.", "inline-generic", false},
        MarkerCase{"|------------------------- Message text follows: ------------------------|", "inline-generic",
                   false},
        MarkerCase{"--- The header of the original message is following. ---", "inline-generic", true},
        MarkerCase{"Message headers follow.", "inline-generic", true},
        MarkerCase{"Original message headers:", "inline-generic", true},
        MarkerCase{"This is a copy of the message", nullptr, false},
        MarkerCase{"The original message was received at Mon, 1 Jan 2024", nullptr, false},
        MarkerCase{"The original message follows as a separate attachment.", nullptr, false},
        MarkerCase{"Begin forwarded message:", nullptr, false},
        // qmail with other spacing and wording
        MarkerCase{"---  Below  this line is a copy of the message.", "inline-qmail", false},
        MarkerCase{"--- Below this line is the original message.", "inline-qmail", false},
        MarkerCase{"---- below the next line is a copy of the message:", "inline-qmail", false},
        MarkerCase{"--- Below this line is a copy of the mail header.", "inline-qmail", true},
        MarkerCase{"Below this line is the message we got.", nullptr, false},  // no rule: running text
        // Exim cut short, or in other languages (UTF-8 and ISO-8859-1)
        MarkerCase{"------ This is a copy of the message, including all the", "inline-exim", false},
        MarkerCase{"------ This is a copy of the message", "inline-exim", false},
        MarkerCase{"------ This is a copy of the messages you sent ------", nullptr, false},
        MarkerCase{"------ Dies ist eine Kopie der Nachricht, einschlie\xC3\x9Flich aller Kopfzeilen. ------",
                   "inline-exim", false},
        MarkerCase{"------ Dies ist eine Kopie der Nachricht, einschlie\xDFlich aller Kopfzeilen. ------",
                   "inline-exim", false},
        MarkerCase{"------ Ceci est une copie du message, incluant tous les en-t\xC3\xAAtes. ------", "inline-exim",
                   false},
        MarkerCase{"------ Esta es una copia del mensaje, incluyendo todas las cabeceras. ------", "inline-exim",
                   false},
        MarkerCase{"------ Questa \xC3\xA8 una copia del messaggio, incluse tutte le intestazioni. ------",
                   "inline-exim", false},
        MarkerCase{"------ Dit is een kopie van het bericht, inclusief alle headers. ------", "inline-exim", false},
        MarkerCase{"------ Dies ist eine Kopie der Kopfzeilen der Nachricht ------", nullptr, false},
        MarkerCase{"------ Ceci est une copie du message, en-t\xC3\xAAtes seulement ------", "inline-exim", true},
        MarkerCase{"------ Detta \xC3\xA4r en kopia av meddelandet, inklusive alla huvuden. ------", "inline-exim",
                   false},
        MarkerCase{"------ To jest kopia wiadomo\xC5\x9B"
                   "ci, wraz ze wszystkimi nag\xC5\x82\xC3\xB3wkami. ------",
                   "inline-exim", false},
        MarkerCase{"------ \xD0\xAD\xD1\x82\xD0\xBE \xD0\xBA\xD0\xBE\xD0\xBF\xD0\xB8\xD1\x8F "
                   "\xD1\x81\xD0\xBE\xD0\xBE\xD0\xB1\xD1\x89\xD0\xB5\xD0\xBD\xD0\xB8\xD1\x8F. ------",
                   "inline-exim", false},
        MarkerCase{"------ To jest kopia wiadomo\xC5\x9B"
                   "ciami ------",
                   nullptr, false},
        // generic "original message" forms
        MarkerCase{"--- The original message follows ---", "inline-generic", false},
        MarkerCase{"Below is a copy of your original message:", "inline-generic", false},
        MarkerCase{"A copy of the original message is included below.", "inline-generic", false},
        MarkerCase{"*** Original mail follows ***", "inline-generic", false},
        MarkerCase{"==== Undelivered message below ====", "inline-generic", false},
        MarkerCase{"Original message headers follow:", "inline-generic", true},
        MarkerCase{"The original message follows, thank you for your patience", nullptr, false},
        MarkerCase{"----- The following is a copy of the message that could not be delivered -----", "inline-generic",
                   false},
        MarkerCase{"A copy of your message follows:", "inline-generic", false},
        MarkerCase{"Below this line is the original message:", "inline-generic", false},
        MarkerCase{"The original message was:", "inline-generic", false},
        MarkerCase{"Your message follows", nullptr, false}, MarkerCase{"The message follows", nullptr, false},
        MarkerCase{"", nullptr, false}));

// --- classification from the top-level headers ---

TopLevel classify(std::vector<std::pair<std::string, std::string>> headers) {
    HeaderClassifier c;
    for (const auto& [n, v] : headers) c.add(n, v);
    return c.classify();
}

TEST(BounceClassifier, Dsn_MultipartWithBoundary) {
    TopLevel t = classify({{"From", "MAILER-DAEMON@x"},
                           {"Content-Type", "multipart/report; report-type=delivery-status;\n\tboundary=\"b\""}});
    EXPECT_EQ(t.shape, Shape::Multipart);
    EXPECT_EQ(t.container, Container::Report);
    EXPECT_EQ(t.kind, "dsn");
    EXPECT_EQ(t.boundary, "b");
    EXPECT_TRUE(t.report_type_known);
    EXPECT_EQ(t.evidence.text(), "report-type,from-mailer-daemon");
    EXPECT_FALSE(t.eight_bit);
}

TEST(BounceClassifier, LeaveAloneShapes_ReasonGiven) {
    EXPECT_EQ(classify({{"Content-Type", "multipart/report; report-type=feedback-report; boundary=b"}}).kind, "arf");
    EXPECT_EQ(classify({{"Content-Type", "multipart/report; report-type=tlsrpt; boundary=b"}}).kind, "report");
    EXPECT_EQ(classify({{"Content-Type", "multipart/report; report-type=tlsrpt; boundary=b"}}).shape,
              Shape::LeaveAlone);
    EXPECT_EQ(classify({{"Content-Type", "multipart/report; report-type=x-challenge; boundary=b"}}).shape,
              Shape::LeaveAlone);
    EXPECT_EQ(classify({{"Content-Type", "text/html"}}).kind, "not-a-bounce");
    TopLevel no_boundary = classify({{"Content-Type", "multipart/report; report-type=delivery-status"}});
    EXPECT_EQ(no_boundary.shape, Shape::LeaveAlone);
    EXPECT_TRUE(no_boundary.could_not_parse);
    TopLevel bad = classify({{"Content-Type", "garbage"}});
    EXPECT_TRUE(bad.could_not_parse);
    TopLevel two_te = classify({{"Content-Transfer-Encoding", "7bit"}, {"Content-Transfer-Encoding", "base64"}});
    EXPECT_TRUE(two_te.could_not_parse);
}

TEST(BounceClassifier, EightBitHeaderOrEncoding_MessageIsEightBit) {
    EXPECT_TRUE(classify({{"Subject",
                           "Gr\xC3\xBC\xC3\x9F"
                           "e"}})
                    .eight_bit);
    EXPECT_TRUE(classify({{"Content-Transfer-Encoding", "8bit"}}).eight_bit);
    EXPECT_FALSE(classify({{"Subject", "plain"}}).eight_bit);
}

TEST(BounceClassifier, BounceAndAutoReplyKeywords) {
    EXPECT_TRUE(from_looks_like_mailer_daemon("Mail Delivery Subsystem <MAILER-DAEMON@example.com>"));
    EXPECT_TRUE(from_looks_like_mailer_daemon("postmaster@example.com"));
    EXPECT_FALSE(from_looks_like_mailer_daemon("post_master@vtext.example.com"));
    EXPECT_TRUE(subject_looks_like_bounce("=?iso-8859-15?Q?Delivery_Status_Notification_=28Failure=29?="));
    EXPECT_TRUE(subject_looks_like_bounce("Undeliverable: Nyaan"));
    EXPECT_TRUE(subject_looks_like_bounce("failure notice"));
    EXPECT_FALSE(subject_looks_like_bounce("Re: lunch"));
    EXPECT_TRUE(subject_looks_like_auto_reply("Automatic reply: Nyaan"));
    EXPECT_TRUE(subject_looks_like_auto_reply("Out of Office: hello"));
    EXPECT_FALSE(subject_looks_like_auto_reply("Returned mail: see transcript"));
    EXPECT_EQ(classify({{"Subject", "Auto reply: x"}}).kind, "auto-reply");
    // A bounce marked auto-replied (as Postfix does) is still a bounce.
    EXPECT_EQ(classify({{"Subject", "Undelivered Mail Returned to Sender"}, {"Auto-Submitted", "auto-replied"}}).shape,
              Shape::SinglePartText);
}

TEST(BounceClassifier, ReportWithoutReportType_ScannedAsReport) {
    TopLevel t = classify({{"Content-Type", "multipart/report; boundary=b"}});
    EXPECT_EQ(t.shape, Shape::Multipart);
    EXPECT_EQ(t.kind, "report");
    EXPECT_FALSE(t.report_type_known);
    EXPECT_EQ(t.evidence.text(), "none");
}

TEST(BounceClassifier, UnknownReportTypeWithAutoSubmitted_ScannedAsReport) {
    TopLevel t = classify({{"Auto-Submitted", "auto-replied (challenge)"},
                           {"Content-Type", "multipart/report; report-type=x-challenge; boundary=b"}});
    EXPECT_EQ(t.shape, Shape::Multipart);
    EXPECT_EQ(t.kind, "report");
    EXPECT_FALSE(t.report_type_known);
    EXPECT_EQ(t.evidence.text(), "auto-submitted");
    EXPECT_FALSE(classify({{"Auto-Submitted", "no"}}).evidence.has(Clue::AutoSubmitted));
    EXPECT_EQ(classify({{"Auto-Submitted", "auto-replied"},
                        {"Content-Type", "multipart/report; report-type=tlsrpt; boundary=b"}})
                  .shape,
              Shape::LeaveAlone);
}

TEST(BounceClassifier, HeaderClues_EachNamed) {
    TopLevel t = classify({{"From", "Mail Delivery System <MAILER-DAEMON@example.net>"},
                           {"Subject", "Undelivered Mail Returned to Sender"},
                           {"X-Failed-Recipients", "nobody@example.org"},
                           {"Auto-Submitted", "auto-generated (failure)"}});
    EXPECT_EQ(t.evidence.text(), "auto-submitted,from-mailer-daemon,bounce-subject,x-failed-recipients");
    EXPECT_TRUE(t.evidence.header_says_bounce());
}

// --- evidence, folding, failure phrases ---

TEST(BounceEvidence, Text_FixedOrderAndNames) {
    Evidence e;
    EXPECT_EQ(e.text(), "none");
    e.add(Clue::FailureText);
    e.add(Clue::NullSender);
    e.add(Clue::MarkerLine);
    EXPECT_EQ(e.text(), "null-sender,marker-line,failure-text");
    EXPECT_FALSE(e.header_says_bounce());
    Evidence all;
    for (Clue c : {Clue::NullSender, Clue::ReportType, Clue::StatusPart, Clue::MarkerLine, Clue::AutoSubmitted,
                   Clue::FromMailerDaemon, Clue::BounceSubject, Clue::FailedRecipients, Clue::FailureText})
        all.add(c);
    EXPECT_EQ(all.text(),
              "null-sender,report-type,status-part,marker-line,auto-submitted,from-mailer-daemon,bounce-subject,"
              "x-failed-recipients,failure-text");
}

std::string fold(std::string_view s) {
    std::string out;
    fold_text_line(s, &out);
    return out;
}

TEST(BounceTextFold, CaseAccentsApostrophesAndSpaces) {
    EXPECT_EQ(fold("  Hello\t  WORLD  "), "hello world");
    EXPECT_EQ(fold("Gr\xC3\xBC\xC3\x9F"
                   "e \xC3\x89T\xC3\x89"),
              "grusse ete");  // UTF-8
    EXPECT_EQ(fold("Gr\xFC\xDF"
                   "e \xC9T\xC9"),
              "grusse ete");  // ISO-8859-1
    EXPECT_EQ(fold("couldn\xE2\x80\x99t"), "couldn't");
    EXPECT_EQ(fold("\xD7x"), "x");                    // a sign folds to nothing
    EXPECT_EQ(fold("\xE3\x81\x82"), "\xE3\x81\x82");  // other bytes stay
    EXPECT_EQ(fold(""), "");
}

struct FailureCase {
    const char* line;
    bool names_failure;
};

class BounceFailureText : public ::testing::TestWithParam<FailureCase> {};

TEST_P(BounceFailureText, Line_Recognised_AsExpected) {
    FailureText t;
    t.line(GetParam().line);
    EXPECT_EQ(t.found(), GetParam().names_failure) << GetParam().line;
}

INSTANTIATE_TEST_SUITE_P(
    BounceTable, BounceFailureText,
    ::testing::Values(FailureCase{"Your message could not be delivered to the following recipients:", true},
                      FailureCase{"Your message to jane@example.org couldn\xE2\x80\x99t be delivered.", true},
                      FailureCase{"I'm afraid I wasn't able to deliver your message to the following addresses.", true},
                      FailureCase{"<nobody@example.net>... User unknown", true},
                      FailureCase{"    Remote server said: 550 5.1.1 mailbox unavailable", true},
                      FailureCase{"Sorry, no mailbox here by that name. (#5.1.1)", true},
                      FailureCase{"554-5.7.1 rejected", true},
                      FailureCase{"Ihre Nachricht konnte nicht zugestellt werden.", true},
                      FailureCase{"Votre message n'a pas pu \xC3\xAAtre remis.", true},
                      FailureCase{"Votre message n'a pas pu \xEAtre remis.", true},
                      FailureCase{"El mensaje no pudo ser entregado.", true},
                      FailureCase{"Il messaggio non \xC3\xA8 stato recapitato.", true},
                      FailureCase{"Het bericht kon niet worden afgeleverd.", true},
                      FailureCase{"A mensagem n\xC3\xA3o foi entregue.", true},
                      FailureCase{"Your message was delivered to the following recipients.", false},
                      FailureCase{"Please confirm your message by replying.", false},
                      FailureCase{"Version 5.1.1 of the manual is attached.", false},
                      FailureCase{"Call 555 5.1.1234", false}, FailureCase{"Error 1550 5.1.1", false},
                      FailureCase{"The original message was received at Mon, 1 Jan 2024", false},
                      FailureCase{"", false}));

TEST(BounceFailureText, OnlyTheFirstBytesAreRead) {
    FailureText t;
    std::string filler(FailureText::kMaxLineBytes + 500, 'x');
    for (std::size_t i = 0; i * (FailureText::kMaxLineBytes + 1) < FailureText::kMaxScannedBytes; ++i) t.line(filler);
    t.line("could not be delivered");
    EXPECT_FALSE(t.found());
    FailureText late_in_line;
    late_in_line.line(filler + " could not be delivered");
    EXPECT_FALSE(late_in_line.found());
}

}  // namespace
}  // namespace rcptguard::bounce
