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
        Case{"BounceOfABounce",
             dsn("Content-Type: message/rfc822\n",
                 "From: MAILER-DAEMON@relay.example\nSubject: failure\nContent-Type: multipart/report;\n"
                 " report-type=delivery-status; boundary=INNER\n\n--INNER\n\ninner report\n--INNER--\n"),
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
        Case{"ReportNestedInMixed",
             [] {
                 std::string s = kTop;
                 s += "Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\n"
                      "Content-Type: multipart/report; report-type=delivery-status; boundary=B1\n\n";
                 s += kReportStart;
                 s += "--B1\nContent-Type: message/rfc822\n\n";
                 s += inline_copy();
                 s += "--B1--\n--OUT--\n";
                 return s;
             }(),
             Action::Unchanged, "mixed-rfc822", "cannot parse: report nested in part 1", true},
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
