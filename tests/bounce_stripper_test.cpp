// Unit tests for the bounce stripper (milter/bounce/bounce_stripper.hpp) on
// hand-made edge cases. Every case is also run byte by byte, in random chunk
// sizes and with SKIP, and must give the same result.
#include "core/bounce/bounce_stripper.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// From the sanitizer runtime's allocator interface (GCC ships no header for it).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

#include "core/bounce/multipart_scanner.hpp"
#include "tests/bounce_test_util.hpp"

namespace rcptguard {
namespace {

using testing::crlf;
using testing::expect_chunking_invariant;
using testing::message;
using testing::strip_whole;
using Action = StripResult::Action;

const char* const kTop =
    "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
    "To: victim@example.org\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "MIME-Version: 1.0\n";

const char* const kOriginalHeaders =
    "Received: from client.example.org by mx.example.org\n"
    "\tfor <nobody@example.net>; Mon, 1 Jan 2024 00:00:00 +0000\n"
    "Message-ID: <orig@example.org>\n"
    "From: Spammer <spam@example.org>\n"
    "Subject: Cheap pills\n"
    "Date: Mon, 1 Jan 2024 00:00:00 +0000\n";

const char* const kOriginalBody =
    "ORIGINAL-BODY-LINE-1\n"
    "ORIGINAL-BODY-LINE-2\n";

const char* const kReportStart =
    "This is a MIME-encapsulated message.\n"
    "\n"
    "--B1\n"
    "Content-Description: Notification\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "Your message could not be delivered.\n"
    "\n"
    "--B1\n"
    "Content-Description: Delivery report\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx.example.net\n"
    "\n"
    "Final-Recipient: rfc822; nobody@example.net\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "\n";

// A Postfix-style DSN; the returned part's headers and content can be varied.
std::string dsn(std::string_view returned_part_headers = "Content-Type: message/rfc822\n",
                std::string_view returned_content = "", std::string_view tail = "\n--B1--\n",
                std::string_view content_type = "multipart/report; report-type=delivery-status;\n\tboundary=\"B1\"") {
    std::string s = kTop;
    s += "Content-Type: ";
    s += content_type;
    s += "\n\n";
    s += kReportStart;
    s += "--B1\n";
    s += returned_part_headers;
    s += "\n";
    s +=
        returned_content.empty() ? std::string(kOriginalHeaders) + "\n" + kOriginalBody : std::string(returned_content);
    s += tail;
    return s;
}

// The body a correct rewrite of dsn() gives.
std::string stripped_dsn_body(std::string_view new_part_headers = "Content-Type: text/rfc822-headers\n",
                              std::string_view header_block = kOriginalHeaders) {
    std::string s = kReportStart;
    s += "--B1\n";
    s += new_part_headers;
    s += "\n";
    s += header_block;
    s += "\n--B1--\n";
    return crlf(s);
}

std::string base64(std::string_view in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t col = 0;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
        out += t[(v >> 18) & 63];
        out += t[(v >> 12) & 63];
        out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
        out += i + 2 < in.size() ? t[v & 63] : '=';
        if ((col += 4) == 76) {
            out += "\n";
            col = 0;
        }
    }
    if (col) out += "\n";
    return out;
}

// Bytes currently allocated on the heap (the sanitizers replace malloc and
// keep their own count).
std::size_t heap_in_use() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

// --- the whole table: shape, verdict, what must and must not be in the output ---

struct Case {
    const char* name;
    std::string text;  // the message, "\n" line endings
    Action action;
    std::string kind;
    std::string reason;  // substring of StripResult::reason ("" for Replace)
    bool could_not_parse = false;
    std::string kept = "";  // for Replace: must still be in the output
    std::string gone = "";  // for Replace: must no longer be in the output
};

class BounceStripperTable : public ::testing::TestWithParam<Case> {};

TEST_P(BounceStripperTable, Message_Stripped_AsExpectedWhateverTheChunking) {
    const Case& c = GetParam();
    testing::MilterMessage m = message(c.text);
    StripResult r = strip_whole(m);
    EXPECT_EQ(r.action, c.action) << r.reason;
    EXPECT_EQ(r.kind, c.kind);
    if (c.action == Action::Unchanged) {
        EXPECT_NE(r.reason.find(c.reason), std::string::npos) << r.reason;
        EXPECT_FALSE(r.reason.empty());
        EXPECT_EQ(r.could_not_parse, c.could_not_parse) << r.reason;
        EXPECT_TRUE(r.new_body.empty());
    } else {
        EXPECT_TRUE(r.reason.empty());
        EXPECT_FALSE(r.could_not_parse);
        EXPECT_EQ(r.new_body.substr(0, r.kept_prefix_bytes), m.body.substr(0, r.kept_prefix_bytes));
        EXPECT_LT(r.new_body.size(), m.body.size());
        EXPECT_EQ(r.trace_header_name, "X-Rcptguard-Bounce-Stripped");
        EXPECT_NE(r.new_body.find(crlf(c.kept)), std::string::npos) << r.new_body;
        EXPECT_EQ(r.new_body.find(crlf(c.gone)), std::string::npos) << r.new_body;
        EXPECT_EQ(r.new_body.find('\n'), r.new_body.find("\r\n") + 1) << "CRLF line endings";
    }
    expect_chunking_invariant(m, r);
}

std::string inline_bounce(std::string_view top, std::string_view text, std::string_view marker, std::string_view copy) {
    std::string s(top);
    s += "\n";
    s += text;
    s += marker;
    s += copy;
    return s;
}

const char* const kQmailTop =
    "From: MAILER-DAEMON@mx.example.net\n"
    "To: victim@example.org\n"
    "Subject: failure notice\n";

const char* const kQmailText =
    "Hi. This is the qmail-send program at mx.example.net.\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
    "\n"
    "<nobody@example.net>:\n"
    "Sorry, no mailbox here by that name. (#5.1.1)\n"
    "\n";

std::string inline_copy() { return std::string(kOriginalHeaders) + "\n" + kOriginalBody; }

const char* const kPlainTop =
    "From: reports@mx.example.net\n"
    "To: victim@example.org\n"
    "Subject: Report\n"
    "MIME-Version: 1.0\n";

// A multipart/report without report-type: an explanation part and the
// returned message, then `tail`.
std::string typeless_report(std::string_view top,
                            std::string_view explanation = "Your message could not be delivered.\n",
                            std::string_view explanation_headers = "", std::string_view tail = "\n--R--\n",
                            std::string_view content_type = "multipart/report; boundary=R") {
    std::string s(top);
    s += "Content-Type: ";
    s += content_type;
    s += "\n\n--R\nContent-Type: text/plain; charset=us-ascii\n";
    s += explanation_headers;
    s += "\n";
    s += explanation;
    s += "\n--R\nContent-Type: message/rfc822\n\n";
    s += inline_copy();
    s += tail;
    return s;
}

// A multipart/mixed from an older MTA: no From/Subject clue, the failure is
// named in the first part only.
std::string mixed_bounce(std::string_view explanation, std::string_view tail = "\n--M--\n") {
    std::string s =
        "From: Mail Administrator <mailer@mx.example.net>\nTo: victim@example.org\nSubject: Your message\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=M\n\n--M\nContent-Type: text/plain\n\n";
    s += explanation;
    s += "\n--M\nContent-Type: message/rfc822\n\n";
    s += inline_copy();
    s += tail;
    return s;
}

// A DSN wrapped in the first part of a multipart/mixed (as Domino does);
// inner_close is the nested report's close delimiter line.
std::string nested_in_mixed(std::string_view inner_close = "--B1--\n") {
    std::string s = kTop;
    s += "Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\n"
         "Content-Type: multipart/report; report-type=delivery-status; boundary=B1\n\n";
    s += kReportStart;
    s += "--B1\nContent-Type: message/rfc822\n\n";
    s += inline_copy();
    s += inner_close;
    s += "--OUT--\n";
    return s;
}

// A bounce (multipart/mixed from MAILER-DAEMON) whose returned message is
// itself a DSN that returns the original.
std::string forwarded_bounce() {
    std::string s = kTop;
    s += "Content-Type: multipart/mixed; boundary=FWD\n\n--FWD\nContent-Type: text/plain\n\n"
         "Please see the attached report.\n\n--FWD\nContent-Type: message/rfc822\n\n"
         "From: MAILER-DAEMON@relay.example.net\nSubject: Undelivered Mail Returned to Sender\n"
         "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n"
         "\tboundary=\"B1\"\n\n";
    s += kReportStart;
    s += "--B1\nContent-Type: message/rfc822\n\n";
    s += inline_copy();
    s += "\n--B1--\n\n--FWD--\n";
    return s;
}

INSTANTIATE_TEST_SUITE_P(
    BounceCases, BounceStripperTable,
    ::testing::Values(
        Case{"PostfixDsn", dsn(), Action::Replace, "dsn", "", false, "Subject: Cheap pills\n", "ORIGINAL-BODY-LINE-1"},
        Case{"DsnMissingCloseDelimiter", dsn("Content-Type: message/rfc822\n", "", ""), Action::Replace, "dsn", "",
             false, "Message-ID: <orig@example.org>\n", "ORIGINAL-BODY-LINE-2"},
        Case{"DsnTransportPadding",
             [] {
                 std::string s = dsn();
                 s.replace(s.rfind("--B1\nContent-Type: message/rfc822"), 5, "--B1 \t\n");
                 return s;
             }(),
             Action::Replace, "dsn", "", false, "--B1 \t\nContent-Type: text/rfc822-headers\n", "ORIGINAL-BODY"},
        Case{"BoundaryPrefixNotADelimiter",
             dsn("Content-Type: message/rfc822\n",
                 std::string(kOriginalHeaders) + "\n--B1X\nnot a delimiter\n" + kOriginalBody),
             Action::Replace, "dsn", "", false, "Subject: Cheap pills\n", "not a delimiter"},
        Case{"Mdn",
             [] {
                 std::string s = dsn("Content-Type: message/rfc822\n", "", "\n--B1--\n",
                                     "multipart/report; report-type=disposition-notification; boundary=B1");
                 s.replace(s.find("message/delivery-status"), 23, "message/disposition-notification");
                 return s;
             }(),
             Action::Replace, "mdn", "", false, "From: Spammer", "ORIGINAL-BODY"},
        Case{"MessageGlobal", dsn("Content-Type: message/global\n"), Action::Replace, "dsn", "", false,
             "Content-Type: message/global-headers\n\nReceived:", "ORIGINAL-BODY"},
        Case{"ReportWithoutReportTypeButStatusPart",
             dsn("Content-Type: message/rfc822\n", "", "\n--B1--\n", "multipart/report; boundary=B1"), Action::Replace,
             "dsn", "", false, "Subject: Cheap pills", "ORIGINAL-BODY"},
        Case{"ReportWithoutStatusPartWithReportType",
             [] {
                 std::string s = dsn();
                 s.replace(s.find("message/delivery-status"), 23, "text/plain");
                 return s;
             }(),
             Action::Replace, "dsn", "", false, "Subject: Cheap pills", "ORIGINAL-BODY"},
        Case{"PartsAfterReturnedPartDropped",
             dsn("Content-Type: message/rfc822\n", "",
                 "\n--B1\nContent-Type: application/ms-tnef\n\nWINMAIL-DAT-CONTENT\n--B1--\n"),
             Action::Replace, "dsn", "", false, "Subject: Cheap pills", "WINMAIL-DAT-CONTENT"},
        Case{"OriginalBodyStartsWithoutEmptyLine",
             dsn("Content-Type: message/rfc822\n", std::string(kOriginalHeaders) + "not a header line\nmore\n"),
             Action::Replace, "dsn", "", false, "Date: Mon, 1 Jan 2024", "not a header line"},
        Case{"MixedBounceWithAttachedMessage",
             dsn("Content-Type: message/rfc822\nContent-Disposition: attachment\n", "", "\n--B1--\n",
                 "multipart/mixed; boundary=B1"),
             Action::Replace, "mixed-rfc822", "", false,
             "Content-Type: text/rfc822-headers\nContent-Disposition: attachment\n", "ORIGINAL-BODY"},

        Case{"AlreadyHeadersOnly", dsn("Content-Type: text/rfc822-headers\n", std::string(kOriginalHeaders) + "\n"),
             Action::Unchanged, "dsn", "already headers only"},
        Case{"ReturnedMessageHasNoBody",
             dsn("Content-Type: message/rfc822\n", std::string(kOriginalHeaders) + "\n\n\n"), Action::Unchanged, "dsn",
             "returned message has no body"},
        Case{"NoReturnedPart",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/report; report-type=delivery-status; boundary=B1\n\n";
                 s += kReportStart;
                 s += "--B1--\n";
                 return s;
             }(),
             Action::Unchanged, "dsn", "no returned message part"},
        Case{"ClosingBoundaryOfPart2Missing",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/report; report-type=delivery-status; boundary=B1\n\n";
                 s += kReportStart;
                 return s;
             }(),
             Action::Unchanged, "dsn", "cannot parse: closing boundary of part 2 missing", true},
        Case{"BoundaryNeverUsed",
             dsn("Content-Type: message/rfc822\n", "", "\n--B1--\n",
                 "multipart/report; report-type=delivery-status; boundary=OTHER"),
             Action::Unchanged, "dsn", "cannot parse: boundary never used", true},
        Case{"BounceOfABounceWithoutInnerReturnedMessage",
             dsn("Content-Type: message/rfc822\n",
                 "From: MAILER-DAEMON@relay.example\nSubject: failure\nContent-Type: multipart/report;\n"
                 " report-type=delivery-status; boundary=INNER\n\n--INNER\n\ninner report\n--INNER--\n"),
             Action::Unchanged, "dsn-in-rfc822", "no returned message part"},
        Case{"BounceOfABounceInBase64",
             dsn("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n",
                 base64("From: MAILER-DAEMON@relay.example\nSubject: failure\nContent-Type: multipart/report;\n"
                        " report-type=delivery-status; boundary=INNER\n\n--INNER\n\ninner report\n--INNER--\n")),
             Action::Unchanged, "dsn", "bounce of a bounce"},
        Case{"ConflictingTopLevelContentTypes",
             [] {
                 std::string s = dsn();
                 s.insert(s.find("MIME-Version"), "Content-Type: multipart/mixed; boundary=B2\n");
                 return s;
             }(),
             Action::Unchanged, "unknown", "cannot parse: conflicting Content-Type headers", true},
        Case{"IdenticalDuplicateContentTypes",
             [] {
                 std::string s = dsn();
                 s.insert(s.find("MIME-Version"),
                          "Content-Type: multipart/report; boundary=\"B1\"; report-type=delivery-status\n");
                 return s;
             }(),
             Action::Replace, "dsn", "", false, "Subject: Cheap pills", "ORIGINAL-BODY"},
        Case{"ConflictingContentTypesInReturnedPart", dsn("Content-Type: message/rfc822\nContent-Type: text/plain\n"),
             Action::Unchanged, "dsn", "cannot parse: conflicting Content-Type headers in part 3", true},
        Case{"UndecodableBase64ReturnedPart",
             dsn("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n", "This is not base64!\n"),
             Action::Unchanged, "dsn", "returned part is base64 and not decodable", true},
        Case{"UnknownEncodingOfReturnedPart",
             dsn("Content-Type: message/rfc822\nContent-Transfer-Encoding: x-uuencode\n"), Action::Unchanged, "dsn",
             "unknown Content-Transfer-Encoding", true},
        Case{"EncodedMultipart",
             [] {
                 std::string s = dsn();
                 s.insert(s.find("MIME-Version"), "Content-Transfer-Encoding: base64\n");
                 return s;
             }(),
             Action::Unchanged, "dsn", "multipart with Content-Transfer-Encoding base64", true},
        Case{"ArfLeftAlone",
             dsn("Content-Type: message/rfc822\n", "", "\n--B1--\n",
                 "multipart/report; report-type=feedback-report; boundary=B1"),
             Action::Unchanged, "arf", "ARF feedback report"},
        Case{"ReportNestedInMixed", nested_in_mixed(), Action::Replace, "dsn-in-mixed", "", false,
             "Content-Type: text/rfc822-headers\n\n" + std::string(kOriginalHeaders) + "\n--B1--\n\n--OUT--\n",
             "ORIGINAL-BODY"},
        Case{"ReportNestedInMixedWithoutInnerClose", nested_in_mixed(""), Action::Replace, "dsn-in-mixed", "", false,
             "Subject: Cheap pills\n", "ORIGINAL-BODY"},
        Case{"ReportNestedInSecondPartOfMixed",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\nContent-Type: text/plain\n\nhello\n"
                      "--OUT\nContent-Type: multipart/report; report-type=delivery-status; boundary=B1\n\n";
                 s += kReportStart;
                 s += "--B1\nContent-Type: message/rfc822\n\n" + inline_copy() + "--B1--\n--OUT--\n";
                 return s;
             }(),
             Action::Unchanged, "mixed-rfc822", "cannot parse: report nested in part 2", true},
        Case{"ReportInMixedThenReturnedMessageInMixed",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\n"
                      "Content-Type: multipart/report; report-type=delivery-status; boundary=B1\n\n";
                 s += kReportStart;
                 s += "--B1--\n\n--OUT\nContent-Type: message/rfc822\n\n" + inline_copy() + "--OUT--\n";
                 return s;
             }(),
             Action::Replace, "dsn-in-mixed", "", false, "--B1--\n\n--OUT\nContent-Type: text/rfc822-headers\n",
             "ORIGINAL-BODY"},
        Case{"NestedReportBoundaryNeverUsed",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\n"
                      "Content-Type: multipart/report; report-type=delivery-status; boundary=B1\n\n"
                      "nothing here\n--OUT\nContent-Type: message/rfc822\n\n" +
                      inline_copy() + "--OUT--\n";
                 return s;
             }(),
             Action::Unchanged, "dsn-in-mixed", "cannot parse: boundary of the nested report never used", true},
        Case{"NestedReportReusesOuterBoundary",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/mixed; boundary=B1\n\n--B1\n"
                      "Content-Type: multipart/report; report-type=delivery-status; boundary=B1\n\n";
                 s += kReportStart;
                 s += "--B1\nContent-Type: message/rfc822\n\n" + inline_copy() + "--B1--\n";
                 return s;
             }(),
             Action::Unchanged, "mixed-rfc822", "uses the boundary of the multipart around it", true},
        Case{"ArfNestedInMixed",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\n"
                      "Content-Type: multipart/report; report-type=feedback-report; boundary=B1\n\n--B1\n\nx\n"
                      "--B1--\n--OUT--\n";
                 return s;
             }(),
             Action::Unchanged, "arf", "ARF feedback report"},
        Case{"BounceForwardedInsideMessageRfc822", forwarded_bounce(), Action::Replace, "dsn-in-rfc822", "", false,
             "Content-Type: text/rfc822-headers\n\n" + std::string(kOriginalHeaders) + "\n--B1--\n\n--FWD--\n",
             "ORIGINAL-BODY"},
        Case{"BounceForwardedByNonBounce",
             [] {
                 std::string s = forwarded_bounce();
                 s.replace(0, s.find("Content-Type:"), "From: alice@example.org\nSubject: see attached\n");
                 std::string_view text = "Please see the attached report.";
                 s.replace(s.find(text), text.size(), "Here is the thing you asked me for, Bob.");
                 return s;
             }(),
             Action::Unchanged, "not-a-bounce", "no sign of a bounce"},
        Case{"ForwardedReportWithoutReportTypeOrStatus",
             [] {
                 std::string s = forwarded_bounce();
                 s.replace(s.find(" report-type=delivery-status;"), 29, "");
                 s.replace(s.find("Content-Type: message/delivery-status"), 37, "Content-Type: text/plain");
                 return s;
             }(),
             Action::Unchanged, "report-in-rfc822", "cannot parse: returned report without report-type", true},
        Case{"ForwardedBounceInsideForwardedBounce",
             [] {
                 std::string s = forwarded_bounce();
                 std::string inner = "From: MAILER-DAEMON@deep.example\nContent-Type: multipart/report; "
                                     "report-type=delivery-status; boundary=DEEP\n\n--DEEP\n\nx\n--DEEP--\n";
                 s.replace(s.find(kOriginalHeaders), std::string(kOriginalHeaders).size() + 1 +
                                                           std::string(kOriginalBody).size(), inner);
                 return s;
             }(),
             Action::Unchanged, "dsn-in-rfc822", "bounce of a bounce"},
        Case{"MixedWithoutBounceEvidence",
             "From: alice@example.org\nSubject: the message you asked for\n"
             "Content-Type: multipart/mixed; boundary=M\n\n--M\nContent-Type: text/plain\n\nHere it is.\n"
             "--M\nContent-Type: message/rfc822\n\n" +
                 inline_copy() + "--M--\n",
             Action::Unchanged, "not-a-bounce", "no sign of a bounce"},
        Case{"AutoReplyLeftAlone",
             "From: bob@example.org\nSubject: Out of Office: Cheap pills\nAuto-Submitted: auto-replied\n\n"
             "I am away until Monday.\n",
             Action::Unchanged, "auto-reply", "auto-reply"},
        Case{"OrdinaryMultipartAlternative",
             "From: bob@example.org\nSubject: hello\nContent-Type: multipart/alternative; boundary=A\n\n"
             "--A\nContent-Type: text/plain\n\nhi\n--A--\n",
             Action::Unchanged, "not-a-bounce", "multipart/alternative is not a bounce shape"},
        Case{"EmptyBody",
             std::string(kTop) + "Content-Type: multipart/report; report-type=delivery-status; "
                                 "boundary=B1\n\n",
             Action::Unchanged, "dsn", "cannot parse: boundary never used", true},

        Case{"ReportWithoutTypeTextAndMessage", typeless_report(kTop), Action::Replace, "report", "", false,
             "Your message could not be delivered.\n\n--R\nContent-Type: text/rfc822-headers\n", "ORIGINAL-BODY"},
        Case{"ReportWithoutTypeNoEvidence", typeless_report(kPlainTop, "Here is a report.\n"), Action::Unchanged,
             "report", "cannot parse: multipart/report without report-type or status part", true},
        Case{"ReportWithoutTypeFailureTextOnly",
             typeless_report(kPlainTop, "550 5.1.1 <nobody@example.net>: "
                                        "unknown\n"),
             Action::Replace, "report", "", false, "Subject: Cheap pills\n", "ORIGINAL-BODY"},
        Case{"ReportWithoutTypeFailureTextInBase64",
             typeless_report(kPlainTop, base64("Delivery to the following recipient failed permanently.\n"),
                             "Content-Transfer-Encoding: base64\n"),
             Action::Replace, "report", "", false, "Subject: Cheap pills\n", "ORIGINAL-BODY"},
        Case{"ReportWithoutTypeFailureTextInQuotedPrintable",
             typeless_report(kPlainTop, "The message could not be deli=\nvered.\n",
                             "Content-Transfer-Encoding: quoted-printable\n"),
             Action::Replace, "report", "", false, "Subject: Cheap pills\n", "ORIGINAL-BODY"},
        Case{"ReportWithoutTypeStatusPartAfterReturnedMessage",
             typeless_report(kTop, "Your message could not be delivered.\n", "",
                             "\n--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n--R--\n"),
             Action::Replace, "report", "", false,
             "--R\nContent-Type: text/rfc822-headers\n\n" + std::string(kOriginalHeaders) +
                 "\n--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n--R--\n",
             "ORIGINAL-BODY"},
        Case{"ReportWithoutTypeStatusPartAfterAnotherPart",
             typeless_report(kTop, "Your message could not be delivered.\n", "",
                             "\n--R\nContent-Type: application/ms-tnef\n\nWINMAIL-DAT\n"
                             "--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n"),
             Action::Replace, "report", "", false,
             std::string(kOriginalHeaders) +
                 "\n--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n--R--\n",
             "WINMAIL-DAT"},
        Case{"ReportWithoutTypeBase64ReturnedPartEndsAtStatusPart",
             [] {
                 // The original's body is one line without a line break, so
                 // it is only seen when the part ends, at the status part's
                 // delimiter.
                 std::string s = kTop;
                 s += "Content-Type: multipart/report; boundary=R\n\n--R\nContent-Type: text/plain\n\n"
                      "Undeliverable.\n\n--R\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n";
                 s += base64(std::string(kOriginalHeaders) + "\nORIGINAL-BODY");
                 s += "--R\nContent-Type: message/delivery-status\n\nAction: failed\n--R--\n";
                 return s;
             }(),
             Action::Replace, "report", "", false,
             std::string(kOriginalHeaders) + "\n--R\nContent-Type: message/delivery-status\n\nAction: failed\n--R--\n",
             "ORIGINAL-BODY"},
        Case{"ReportWithoutTypeSecondReturnedMessageAfterStatusPart",
             typeless_report(kTop, "Your message could not be delivered.\n", "",
                             "\n--R\nContent-Type: message/delivery-status\n\nAction: failed\n"
                             "--R\nContent-Type: message/rfc822\n\n" + inline_copy() + "--R--\n"),
             Action::Unchanged, "report", "cannot parse: another returned message after a report part", true},
        Case{"NestedReportWithoutTypeStatusPartOutsideIt",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\nContent-Type: multipart/report; "
                      "boundary=R\n\n--R\nContent-Type: text/plain\n\nUndeliverable.\n"
                      "--R\nContent-Type: message/rfc822\n\n" +
                      inline_copy() +
                      "--R--\n--OUT\nContent-Type: message/delivery-status\n\nAction: failed\n--OUT--\n";
                 return s;
             }(),
             Action::Unchanged, "report-in-mixed", "part after the returned message, outside its multipart", true},
        Case{"NestedReportWithoutTypeAttachmentOutsideIt",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\nContent-Type: multipart/report; "
                      "boundary=R\n\n--R\nContent-Type: text/plain\n\nUndeliverable.\n"
                      "--R\nContent-Type: message/rfc822\n\n" +
                      inline_copy() + "--R--\n--OUT\nContent-Type: text/plain\n\nDISCLAIMER\n--OUT--\n";
                 return s;
             }(),
             Action::Replace, "report-in-mixed", "", false,
             std::string(kOriginalHeaders) + "\n--R--\n\n--OUT--\n", "DISCLAIMER"},
        Case{"ReportWithoutTypeAttachmentAfterReturnedMessage",
             typeless_report(kTop, "Your message could not be delivered.\n", "",
                             "\n--R\nContent-Type: application/ms-tnef\n\nWINMAIL-DAT\n--R--\nepilogue\n"),
             Action::Replace, "report", "", false, "Subject: Cheap pills\n", "WINMAIL-DAT"},
        Case{"ReportWithoutTypeNeverClosed", typeless_report(kTop, "Undeliverable.\n", "", "\n"), Action::Replace,
             "report", "", false, "Subject: Cheap pills\n", "ORIGINAL-BODY"},
        Case{"ChallengeResponseReport",
             typeless_report("From: Sam Sender <sam@example.net>\nSubject: Please confirm your message\n"
                             "Auto-Submitted: auto-replied\n",
                             "To get your message delivered, reply to this notice.\n", "", "\n--R--\n",
                             "multipart/report; report-type=x-challenge-response; boundary=R"),
             Action::Replace, "report", "", false, "reply to this notice", "ORIGINAL-BODY"},
        Case{"UnknownReportTypeWithoutEvidence",
             typeless_report(kPlainTop, "Please confirm.\n", "", "\n--R--\n",
                             "multipart/report; report-type=x-challenge-response; boundary=R"),
             Action::Unchanged, "report", "report-type x-challenge-response is not a bounce"},
        Case{"MixedWithFailureTextOnly",
             mixed_bounce("Your message was not delivered: the mailbox of <nobody@example.net> is full.\n"),
             Action::Replace, "mixed-rfc822", "", false, "Content-Type: text/rfc822-headers\n", "ORIGINAL-BODY"},
        Case{"MixedWithFailureTextInGerman",
             mixed_bounce("Ihre Nachricht an <nobody@example.net> konnte nicht zugestellt werden.\n"), Action::Replace,
             "mixed-rfc822", "", false, "Subject: Cheap pills\n", "ORIGINAL-BODY"},
        Case{"MixedWithFailureTextThenStatusPart",
             mixed_bounce("Your message could not be delivered.\n",
                          "\n--M\nContent-Type: message/delivery-status\n\nAction: failed\n--M--\n"),
             Action::Replace, "mixed-rfc822", "", false,
             "\n--M\nContent-Type: message/delivery-status\n\nAction: failed\n--M--\n", "ORIGINAL-BODY"},
        Case{"MixedWithoutFailureText", mixed_bounce("Here is the message you asked me to keep.\n"),
             Action::Unchanged, "not-a-bounce", "no sign of a bounce"},
        Case{"MixedFailureTextInSecondPartOnly",
             [] {
                 std::string s = mixed_bounce("Hello.\n");
                 s.replace(s.find("--M\nContent-Type: message/rfc822"), 0,
                           "--M\nContent-Type: text/plain\n\nYour message could not be delivered.\n");
                 return s;
             }(),
             Action::Unchanged, "not-a-bounce", "no sign of a bounce"},

        Case{"QmailInline",
             inline_bounce(kQmailTop, kQmailText, "--- Below this line is a copy of the message.\n\n", inline_copy()),
             Action::Replace, "inline-qmail", "", false,
             "--- Below this line is a copy of the message.\n\nReceived: from client", "ORIGINAL-BODY-LINE-1"},
        Case{
            "EximInline",
            inline_bounce("From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
                          "Subject: Mail delivery failed: returning message to sender\n",
                          "This message was created automatically by mail delivery software.\n\n",
                          "------ This is a copy of the message, including all the headers. ------\n\n", inline_copy()),
            Action::Replace, "inline-exim", "", false, "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n", "ORIGINAL-BODY"},
        Case{"EximHeadersOnlyInline",
             inline_bounce("From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nSubject: Mail delivery failed\n",
                           "Delivery failed.\n\n", "------ This is a copy of the message's headers. ------\n\n",
                           std::string(kOriginalHeaders)),
             Action::Unchanged, "inline-exim", "already headers only"},
        Case{"GenericMarkerNeedsBounceEvidence",
             inline_bounce("From: alice@example.org\nSubject: Re: lunch\n", "See below.\n\n",
                           "-----Original Message-----\n", inline_copy()),
             Action::Unchanged, "not-a-bounce", "not a bounce"},
        Case{"SendmailV5InlineWithoutEmptyLineAfterMarker",
             inline_bounce("From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
                           "Subject: Returned mail: User unknown\n",
                           "   ----- Transcript of session follows -----\n550 nobody... User unknown\n\n",
                           "   ----- Unsent message follows -----\n", inline_copy()),
             Action::Replace, "inline-sendmail", "", false, "Unsent message follows -----\nReceived:", "ORIGINAL-BODY"},
        Case{"InlineCopyWithoutBody",
             inline_bounce(kQmailTop, kQmailText, "--- Below this line is a copy of the message.\n\n",
                           std::string(kOriginalHeaders)),
             Action::Unchanged, "inline-qmail", "returned message has no body"},
        Case{"InlineMarkerFollowedByText",
             inline_bounce(kQmailTop, kQmailText, "--- Below this line is a copy of the message.\n\n",
                           "(the message was too big to include)\n"),
             Action::Unchanged, "inline-qmail", "cannot parse: no header block after the inline copy marker", true},
        Case{"TextBounceWithoutCopy", inline_bounce(kQmailTop, kQmailText, "", ""), Action::Unchanged, "inline",
             "no copy of the returned message found"},
        Case{"QmailVariantWithOtherSpacing",
             inline_bounce(kQmailTop, kQmailText, "---  Below  this line is a copy of the message:\n\n", inline_copy()),
             Action::Replace, "inline-qmail", "", false, "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n", "ORIGINAL-BODY"},
        Case{"QmailVariantOtherWordingFailureTextOnly",
             inline_bounce("From: bounces@mx.example.net\nSubject: your mail\n", kQmailText,
                           "--- Below this line is the original message.\n\n", inline_copy()),
             Action::Replace, "inline-qmail", "", false, "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n", "ORIGINAL-BODY"},
        Case{"QmailVariantWithoutAnyOtherClue",
             inline_bounce("From: bounces@mx.example.net\nSubject: your mail\n", "Hello.\n\n",
                           "--- Below this line is the original message.\n\n", inline_copy()),
             Action::Unchanged, "not-a-bounce", "not a bounce"},
        Case{"EximCutShort",
             inline_bounce("From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nSubject: Mail delivery failed\n",
                           "A message that you sent could not be delivered.\n\n",
                           "------ This is a copy of the message, including all the\n\n", inline_copy()),
             Action::Replace, "inline-exim", "", false, "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n", "ORIGINAL-BODY"},
        Case{"EximInGerman",
             inline_bounce("From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
                           "Subject: Zustellung fehlgeschlagen\n",
                           "Diese Nachricht wurde automatisch erzeugt.\n\n",
                           "------ Dies ist eine Kopie der Nachricht, einschlie\xC3\x9F"
                           "lich aller Kopfzeilen. ------\n\n",
                           inline_copy()),
             Action::Replace, "inline-exim", "", false, "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n", "ORIGINAL-BODY"},
        Case{"OriginalMessageFollowsWithFailureText",
             inline_bounce("From: mail@mx.example.net\nSubject: Notice\n",
                           "Your message to <nobody@example.net> could not be delivered.\n\n",
                           "The original message follows:\n\n", inline_copy()),
             Action::Replace, "inline-generic", "", false, "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n", "ORIGINAL-BODY"},
        Case{"VariantMarkerInRunningTextThenRealMarker",
             inline_bounce(kQmailTop, "Delivery failed.\n\nOriginal mail below\nand more words here.\n\n",
                           "----- Original message follows -----\n\n", inline_copy()),
             Action::Replace, "inline-generic", "", false, "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n", "ORIGINAL-BODY"},
        Case{"TicketAutoAckQuotingTheOriginal",
             inline_bounce("From: Help Desk <help@example.net>\nSubject: [Ticket #123] received\n"
                           "Auto-Submitted: auto-generated\n",
                           "Thank you, we have opened ticket #123 for you.\n\n", "-----Original Message-----\n",
                           inline_copy()),
             Action::Unchanged, "not-a-bounce", "not a bounce"},
        Case{"Base64TextBounce",
             "From: MAILER-DAEMON@mx.example.net\nSubject: failure notice\nContent-Transfer-Encoding: base64\n\n" +
                 base64("--- Below this line is a copy of the message.\n\n" + inline_copy()),
             Action::Unchanged, "inline", "Content-Transfer-Encoding base64 not handled", true}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

// --- exact output ---

TEST(BounceStripper, PostfixDsn_ReturnedPartBecomesHeadersOnly_ExactBody) {
    testing::MilterMessage m =
        message(dsn("Content-Description: Undelivered Message\nContent-Type: message/rfc822\n"
                    "Content-Length: 12345\n"));
    StripResult r = strip_whole(m);
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.new_body,
              stripped_dsn_body("Content-Type: text/rfc822-headers\nContent-Description: Undelivered Message\n"));
    EXPECT_EQ(r.kept_prefix_bytes, crlf(std::string(kReportStart) + "--B1\n").size());
    EXPECT_EQ(r.bytes_removed, m.body.size() - r.new_body.size());
    EXPECT_TRUE(r.bytes_removed_exact);
    EXPECT_EQ(r.trace_header_value, "returned message body removed (" + std::to_string(r.bytes_removed) +
                                        " bytes); headers kept as text/rfc822-headers");
}

TEST(BounceStripper, QuotedPrintableReturnedPart_DecodedFirst) {
    std::string qp =
        "Received: from client.example.org by mx.example.org=\n"
        "\n"
        "\tfor <nobody@example.net>; Mon, 1 Jan 2024 00:00:00 +0000\n"
        "Message-ID: <orig@example.org>\n"
        "From: Spammer <spam=40example.org>\n"
        "Subject: Cheap pills\n"
        "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
        "\n"
        "ORIGINAL-BODY-LINE-1=3D\n";
    StripResult r =
        strip_whole(message(dsn("Content-Type: message/rfc822\nContent-Transfer-Encoding: "
                                "quoted-printable\n",
                                qp)));
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.new_body, stripped_dsn_body());
}

TEST(BounceStripper, Base64ReturnedPart_DecodedFirst) {
    std::string encoded = base64(std::string(kOriginalHeaders) + "\n" + kOriginalBody);
    testing::MilterMessage m =
        message(dsn("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n", encoded));
    StripResult r = strip_whole(m);
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.new_body, stripped_dsn_body());
    expect_chunking_invariant(m, r);
}

TEST(BounceStripper, Base64ReturnedPartWithCrlfInside_DecodedFirst) {
    std::string encoded = base64(crlf(std::string(kOriginalHeaders) + "\n" + kOriginalBody));
    StripResult r =
        strip_whole(message(dsn("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n", encoded)));
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.new_body, stripped_dsn_body());
}

const char* const kEightBitHeaders =
    "From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\n"
    "Subject: Gr\xC3\xBC\xC3\x9F"
    "e\n";

TEST(BounceStripper, Base64EightBitHeadersInSevenBitMessage_KeptSevenBitAsQuotedPrintable) {
    std::string encoded = base64(std::string(kEightBitHeaders) + "\nbody\n");
    StripResult r =
        strip_whole(message(dsn("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n", encoded)));
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.new_body, stripped_dsn_body("Content-Type: text/rfc822-headers\n"
                                            "Content-Transfer-Encoding: quoted-printable\n",
                                            "From: =3D?utf-8?q?J=3DC3=3DBCrgen?=3D <j@example.org>\n"
                                            "Subject: Gr=C3=BC=C3=9Fe\n"));
    for (char c : r.new_body) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
    EXPECT_NE(r.trace_header_value.find("(quoted-printable)"), std::string::npos);
}

TEST(BounceStripper, Base64EightBitHeadersInEightBitMessage_Kept8bit) {
    std::string encoded = base64(std::string(kEightBitHeaders) + "\nbody\n");
    std::string text = dsn("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n", encoded);
    text.insert(text.find("MIME-Version"), "Content-Transfer-Encoding: 8bit\n");
    StripResult r = strip_whole(message(text));
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.new_body, stripped_dsn_body("Content-Type: text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n",
                                            kEightBitHeaders));
}

TEST(BounceStripper, RawEightBitHeaders_CopiedAndLabelled8bit) {
    StripResult r = strip_whole(message(dsn("Content-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n",
                                            std::string(kEightBitHeaders) + "\nbody\n")));
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.new_body, stripped_dsn_body("Content-Type: text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n",
                                            kEightBitHeaders));
}

TEST(BounceStripper, InlineQuotedPrintableGmailBounce_CutBetweenEncodedLines) {
    std::string text =
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "Subject: Delivery Status Notification (Failure)\n"
        "Content-Type: text/plain; charset=ISO-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "Delivery to the following recipient failed permanently:\n"
        "\n"
        "     nobody@example.net\n"
        "\n"
        "----- Original message -----\n"
        "\n"
        "Received: by 10.0.0.1 with SMTP id abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwx=\n"
        "yz;\n"
        "        Mon, 1 Jan 2024 00:00:00 +0000\n"
        "Subject: Cheap pills\n"
        "From: Spammer <spam@example.org>\n"
        "=\n"
        "\n"
        "ORIGINAL-BODY-LINE-1=3D=\n"
        "more\n";
    testing::MilterMessage m = message(text);
    StripResult r = strip_whole(m);
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.kind, "inline-generic");
    // The empty decoded line is "=" + "" : the cut falls after the encoded
    // line that ends it, never inside a soft line break.
    EXPECT_EQ(r.new_body, m.body.substr(0, m.body.find("ORIGINAL-BODY")));
    expect_chunking_invariant(m, r);
}

TEST(BounceStripper, NestedDsn_BothMultipartsClosed_ExactBody) {
    testing::MilterMessage m = message(nested_in_mixed(""));
    StripResult r = strip_whole(m);
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    std::string want = "--OUT\nContent-Type: multipart/report; report-type=delivery-status; boundary=B1\n\n";
    want += kReportStart;
    want += "--B1\nContent-Type: text/rfc822-headers\n\n";
    want += kOriginalHeaders;
    want += "\n--B1--\n\n--OUT--\n";
    EXPECT_EQ(r.new_body, crlf(want));
    EXPECT_EQ(r.evidence, "null-sender,report-type,status-part,from-mailer-daemon,bounce-subject,failure-text");
}

TEST(BounceStripper, ForwardedBounce_OuterAndEmbeddedReportKept_ExactBody) {
    testing::MilterMessage m = message(forwarded_bounce());
    StripResult r = strip_whole(m);
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    std::string body = crlf(forwarded_bounce());
    body = body.substr(body.find("\r\n\r\n") + 4);
    std::size_t returned = body.find("--B1\r\nContent-Type: message/rfc822") + 6;
    EXPECT_EQ(r.kept_prefix_bytes, returned);
    EXPECT_EQ(r.new_body, body.substr(0, returned) + crlf("Content-Type: text/rfc822-headers\n\n" +
                                                          std::string(kOriginalHeaders) + "\n--B1--\n\n--FWD--\n"));
}

TEST(BounceStripper, Evidence_NamesTheCluesOfEachShape) {
    struct {
        std::string text;
        std::string evidence;
    } cases[] = {
        {dsn(), "null-sender,report-type,status-part,from-mailer-daemon,bounce-subject,failure-text"},
        {typeless_report(kPlainTop, "550 5.1.1 unknown\n"), "null-sender,failure-text"},
        {inline_bounce(kQmailTop, kQmailText, "--- Below this line is a copy of the message.\n\n", inline_copy()),
         "null-sender,marker-line,from-mailer-daemon,bounce-subject,failure-text"},
        {"From: bob@example.org\nSubject: hello\n\nhi\n", "null-sender"},
    };
    for (const auto& c : cases) {
        StripResult r = strip_whole(message(c.text));
        EXPECT_EQ(r.evidence, c.evidence) << r.reason;
    }
}

TEST(BounceStripper, SenderNotNull_LeftAlone) {
    BounceOptions o;
    o.null_sender = false;
    StripResult r = strip_whole(message(dsn()), o);
    EXPECT_EQ(r.action, Action::Unchanged);
    EXPECT_EQ(r.kind, "not-a-bounce");
    EXPECT_EQ(r.reason, "not a bounce: the envelope sender is not null");
    EXPECT_EQ(r.evidence, "report-type,from-mailer-daemon,bounce-subject");
}

TEST(BounceStripper, WatchedReport_LongLinesAndCrlfSplitAcrossChunks_SameResult) {
    std::string long_line(3 * bounce::MultipartScanner::kWatchLineBytes, 'y');
    std::string text = typeless_report(
        kTop, "Undeliverable.\n", "",
        "\n" + long_line + "\n--R\nContent-Type: text/plain; name=\"" + long_line + "\"\n\nnote\n--R--\n");
    testing::MilterMessage m = message(text);
    StripResult r = strip_whole(m);
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    expect_chunking_invariant(m, r);
    std::string with_status = typeless_report(
        kTop, "Undeliverable.\n", "",
        "\n" + long_line + "\n--R\nX-Long: " + long_line + "\nContent-Type: message/delivery-status\n\nx\n--R--\n");
    testing::MilterMessage ms = message(with_status);
    StripResult rs = strip_whole(ms);
    ASSERT_EQ(rs.action, Action::Replace) << rs.reason;
    EXPECT_NE(
        rs.new_body.find(crlf("--R\nX-Long: " + long_line + "\nContent-Type: message/delivery-status\n\nx\n--R--\n")),
        std::string::npos);
    expect_chunking_invariant(ms, rs);
}

// --- streaming, the cap, SKIP ---

TEST(BounceStripper, Body_ReturnsFalseRightAfterTheOriginalsHeaderBlockAndFirstBodyLine) {
    testing::MilterMessage m = message(dsn());
    std::size_t needed = m.body.find("ORIGINAL-BODY-LINE-1\r\n") + 22;
    BounceStripper s;
    for (const auto& [name, value] : m.fields) s.header(name, value);
    s.end_of_headers();
    EXPECT_TRUE(s.wants_body());
    std::size_t fed = 0;
    while (fed < m.body.size() && s.body(std::string_view(m.body).substr(fed, 1))) ++fed;
    EXPECT_EQ(fed + 1, needed);
    EXPECT_FALSE(s.wants_body());
    StripResult r = s.finish(/*whole_body_seen=*/false);
    ASSERT_EQ(r.action, Action::Replace);
    EXPECT_EQ(r.new_body, stripped_dsn_body());
    EXPECT_FALSE(r.bytes_removed_exact);
    EXPECT_EQ(r.trace_header_value, "returned message body removed (at least " + std::to_string(r.bytes_removed) +
                                        " bytes); headers kept as text/rfc822-headers");
    EXPECT_EQ(r.bytes_removed, fed + 1 - stripped_dsn_body().size());  // what was seen, less what is kept
}

TEST(BounceStripper, ArfOrAutoReply_NoBodyWantedAfterHeaders) {
    for (std::string text : {dsn("Content-Type: message/rfc822\n", "", "\n--B1--\n",
                                 "multipart/report; report-type=feedback-report; boundary=B1"),
                             std::string("From: bob@example.org\nSubject: Automatic reply: hi\n\naway\n")}) {
        testing::MilterMessage m = message(text);
        BounceStripper s;
        for (const auto& [name, value] : m.fields) s.header(name, value);
        s.end_of_headers();
        EXPECT_FALSE(s.wants_body());
        EXPECT_FALSE(s.body(m.body));
        EXPECT_EQ(s.finish(true).action, Action::Unchanged);
    }
}

TEST(BounceStripper, Cap_NeededBytesDecideWhateverTheChunking) {
    testing::MilterMessage m = message(dsn());
    std::size_t needed = m.body.find("ORIGINAL-BODY-LINE-1\r\n") + 22;
    BounceOptions fits{needed};
    StripResult ok = strip_whole(m, fits);
    EXPECT_EQ(ok.action, Action::Replace) << ok.reason;
    expect_chunking_invariant(m, ok, fits);

    BounceOptions too_small{needed - 1};
    StripResult over = strip_whole(m, too_small);
    EXPECT_EQ(over.action, Action::Unchanged);
    EXPECT_EQ(over.reason, "over max_kept_bytes (" + std::to_string(needed - 1) + ")");
    EXPECT_TRUE(over.could_not_parse);
    expect_chunking_invariant(m, over, too_small);
}

TEST(BounceStripper, Cap_LargeTextWithoutMarker_StopsAtTheCap) {
    std::string text = std::string(kQmailTop) + "\n";
    std::string line(99, 'x');
    line += "\n";
    while (text.size() < 300000) text += line;
    testing::MilterMessage m = message(text);
    BounceStripper s(BounceOptions{100000});
    for (const auto& [name, value] : m.fields) s.header(name, value);
    s.end_of_headers();
    std::size_t fed = 0;
    while (fed < m.body.size() && s.body(std::string_view(m.body).substr(fed, 4096))) fed += 4096;
    EXPECT_LT(fed, 110000u);
    StripResult r = s.finish(false);
    EXPECT_EQ(r.action, Action::Unchanged);
    EXPECT_EQ(r.reason, "over max_kept_bytes (100000)");
}

// Feeds `head` and then 50 MB of body lines through one 64 KB buffer, the
// way a milter that cannot SKIP would; returns the result and how much heap
// the stripper held on to (measured before finish()).
StripResult feed_fifty_megabytes(const testing::MilterMessage& m, const std::string& head, BounceOptions o,
                                 std::size_t* total, std::size_t* chunks_wanted, std::size_t* heap_growth) {
    std::string chunk;
    while (chunk.size() < 65535 - 80) chunk += "ORIGINAL-BODY-LINE: lorem ipsum dolor sit amet, consectetur\r\n";
    std::size_t before = heap_in_use();
    BounceStripper s(o);
    for (const auto& [name, value] : m.fields) s.header(name, value);
    s.end_of_headers();
    s.body(head);
    *total = head.size();
    *chunks_wanted = 0;
    std::size_t peak = before;
    while (*total < 50u * 1024 * 1024) {
        *chunks_wanted += s.body(chunk);
        *total += chunk.size();
        peak = std::max(peak, heap_in_use());
    }
    *heap_growth = peak - before;
    return s.finish(true);
}

TEST(BounceStripper, FiftyMegabyteDsn_KeepsOnlyWhatItNeeds) {
    testing::MilterMessage m = message(dsn());
    std::string head = m.body.substr(0, m.body.find("ORIGINAL-BODY-LINE-1"));
    std::size_t total = 0, chunks_wanted = 0, growth = 0;
    StripResult r = feed_fifty_megabytes(m, head, {}, &total, &chunks_wanted, &growth);
    EXPECT_EQ(chunks_wanted, 0u);  // SKIP from the first chunk of the original's body on
    EXPECT_LT(growth, 256u * 1024);
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.new_body, stripped_dsn_body());
    EXPECT_EQ(r.bytes_removed, total - r.new_body.size());
    EXPECT_TRUE(r.bytes_removed_exact);
}

TEST(BounceStripper, FiftyMegabyteTextWithoutMarker_BoundedByTheCap) {
    testing::MilterMessage m = message(inline_bounce(kQmailTop, kQmailText, "", ""));
    std::size_t total = 0, chunks_wanted = 0, growth = 0;
    StripResult r = feed_fifty_megabytes(m, m.body, BounceOptions{1 << 20}, &total, &chunks_wanted, &growth);
    EXPECT_LE(chunks_wanted, 17u);        // 1 MB of 64 KB chunks, then SKIP
    EXPECT_LT(growth, 3u * 1024 * 1024);  // about the cap, never the message
    EXPECT_EQ(r.action, Action::Unchanged);
    EXPECT_EQ(r.reason, "over max_kept_bytes (1048576)");
}

TEST(BounceStripper, FiftyMegabyteReportWithoutReportType_ReadToTheEndInBoundedMemory) {
    // Accepted on weaker clues, so the stripper reads on to the end to see
    // that no status part follows; it keeps none of the returned body.
    std::string text = typeless_report(kTop, "Your message could not be delivered.\n", "", "");
    testing::MilterMessage m = message(text);
    std::string head = m.body.substr(0, m.body.find("ORIGINAL-BODY-LINE-1"));
    std::size_t total = 0, chunks_wanted = 0, growth = 0;
    std::string chunk;
    while (chunk.size() < 65535 - 80) chunk += "ORIGINAL-BODY-LINE: lorem ipsum dolor sit amet, consectetur\r\n";
    std::size_t before = heap_in_use();
    BounceStripper s;
    for (const auto& [name, value] : m.fields) s.header(name, value);
    s.end_of_headers();
    s.body(head);
    total = head.size();
    std::size_t peak = before;
    while (total < 50u * 1024 * 1024) {
        chunks_wanted += s.body(chunk);
        total += chunk.size();
        peak = std::max(peak, heap_in_use());
    }
    const std::string_view close = "\r\n--R--\r\n";
    EXPECT_FALSE(s.body(close));  // the close delimiter decides
    growth = peak - before;
    StripResult r = s.finish(true);
    EXPECT_EQ(chunks_wanted, (total - head.size()) / chunk.size());
    EXPECT_LT(growth, 256u * 1024);
    ASSERT_EQ(r.action, Action::Replace) << r.reason;
    EXPECT_EQ(r.kind, "report");
    EXPECT_EQ(r.new_body.find("ORIGINAL-BODY"), std::string::npos);
    EXPECT_EQ(r.bytes_removed, total + close.size() - r.new_body.size());
}

// --- other properties ---

TEST(BounceStripper, StrippedOutput_StrippedAgain_IsUnchanged) {
    for (std::string text :
         {dsn(),
          inline_bounce(kQmailTop, kQmailText, "--- Below this line is a copy of the message.\n\n", inline_copy())}) {
        testing::MilterMessage m = message(text);
        StripResult first = strip_whole(m);
        ASSERT_EQ(first.action, Action::Replace);
        StripResult second = strip_whole(message(testing::assemble(m, first)));
        EXPECT_EQ(second.action, Action::Unchanged);
        EXPECT_FALSE(second.could_not_parse) << second.reason;
    }
}

TEST(BounceStripper, HeaderValuesWithOrWithoutLeadingSpaceAndCrlfFolds_SameResult) {
    testing::MilterMessage m = message(dsn());
    StripResult plain = strip_whole(m);
    for (auto& [name, value] : m.fields) {
        std::string v = " ";
        for (char c : value) v += c == '\n' ? std::string("\r\n") : std::string(1, c);
        value = v;
    }
    expect_chunking_invariant(m, plain);
}

TEST(BounceStripper, FinishTwice_SameAnswer) {
    testing::MilterMessage m = message(dsn());
    BounceStripper s;
    for (const auto& [name, value] : m.fields) s.header(name, value);
    s.end_of_headers();
    s.body(m.body);
    StripResult a = s.finish(true);
    StripResult b = s.finish(true);
    testing::expect_same_result(a, b, "second finish");
    EXPECT_FALSE(s.body("more"));
}

TEST(BounceStripper, BodyWithoutEndOfHeaders_ClassifiesOnFirstChunk) {
    testing::MilterMessage m = message(dsn());
    BounceStripper s;
    for (const auto& [name, value] : m.fields) s.header(name, value);
    s.body(m.body);
    StripResult r = s.finish(true);
    EXPECT_EQ(r.action, Action::Replace) << r.reason;
}

}  // namespace
}  // namespace rcptguard
