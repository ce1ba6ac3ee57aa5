// bounce_classifier: see bounce_classifier.hpp.
#include "core/bounce/bounce_classifier.hpp"

#include "util/text.hpp"

namespace rcptguard::bounce {
namespace {

bool contains_any(std::string_view haystack, std::initializer_list<std::string_view> needles) {
    for (auto n : needles)
        if (haystack.find(n) != std::string_view::npos) return true;
    return false;
}

// What decides the shape: two Content-Type headers that agree on these are
// harmless duplicates; if they disagree, which one a reader honours is
// anybody's guess, so the message is left alone.
std::string shape_key(const ContentType& ct) {
    std::string key = ct.type + "/" + ct.subtype;
    for (const char* p : {"boundary", "report-type"}) {
        const std::string* v = ct.param(p);
        key += "\n";
        key += v ? *v : std::string("\x01");
    }
    return key;
}

TopLevel leave_alone(TopLevel t, std::string kind, std::string reason, bool could_not_parse = false) {
    t.shape = Shape::LeaveAlone;
    t.kind = std::move(kind);
    t.reason = std::move(reason);
    t.could_not_parse = could_not_parse;
    return t;
}

bool known_non_bounce_multipart(std::string_view subtype) {
    for (std::string_view s : {"alternative", "related", "signed", "encrypted", "digest", "parallel", "form-data",
                               "byteranges", "x-mixed-replace"})
        if (subtype == s) return true;
    return false;
}

}  // namespace

// RFC 2046 5.1.1 says 1 to 70 characters, not ending in a space. Real MTAs
// stay within that.
bool usable_boundary(std::string_view b) {
    if (b.empty() || b.size() > 200) return false;
    for (char c : b)
        if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
}

bool from_looks_like_mailer_daemon(std::string_view from_value) {
    std::string v = to_lower_ascii(decode_encoded_words(unfold(from_value)));
    return contains_any(v, {"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "postmaster",
                            "mail delivery", "mail deliver system"});
}

bool subject_looks_like_bounce(std::string_view subject_value) {
    std::string v = to_lower_ascii(decode_encoded_words(unfold(subject_value)));
    return contains_any(v, {"undeliver",
                            "returned mail",
                            "delivery status notification",
                            "delivery failure",
                            "delivery failed",
                            "failure notice",
                            "delivery has failed",
                            "could not be delivered",
                            "non-delivery",
                            "nondelivery",
                            "returned to sender",
                            "mail delivery",
                            "delivery notification",
                            "mail system error",
                            "returned message",
                            "delivery problem",
                            "not delivered",
                            "error sending your mail",
                            "delivery status",
                            "failed delivery",
                            "delivery error"});
}

bool subject_looks_like_auto_reply(std::string_view subject_value) {
    std::string v = to_lower_ascii(trim(decode_encoded_words(unfold(subject_value))));
    for (std::string_view p :
         {"auto:", "auto reply", "auto-reply", "autoreply", "autorespon", "auto response", "automatic reply",
          "automatische antwort", "out of office", "out of the office", "away until", "vacation", "abwesenheit"})
        if (v.rfind(p, 0) == 0) return true;
    return false;
}

void HeaderClassifier::add(std::string_view name, std::string_view value) {
    if (has_eight_bit(name) || has_eight_bit(value)) eight_bit_ = true;
    if (iequals_ascii(name, "Content-Type"))
        content_types_.emplace_back(value);
    else if (iequals_ascii(name, "Content-Transfer-Encoding"))
        transfer_encodings_.emplace_back(value);
    else if (iequals_ascii(name, "From") && from_.empty())
        from_ = std::string(value);
    else if (iequals_ascii(name, "Subject") && subject_.empty())
        subject_ = std::string(value);
    else if (iequals_ascii(name, "X-Failed-Recipients"))
        failed_recipients_ = true;
    else if (iequals_ascii(name, "Auto-Submitted")) {
        std::string v = to_lower_ascii(trim(unfold(value)));
        auto_submitted_ = !v.empty() && v.rfind("no", 0) != 0;
        auto_submitted_replied_ = v.rfind("auto-replied", 0) == 0;
    } else if (iequals_ascii(name, "X-Autoreply") || iequals_ascii(name, "X-Autorespond") ||
               iequals_ascii(name, "X-Autoresponse"))
        autoreply_header_ = true;
}

TopLevel HeaderClassifier::classify() const {
    TopLevel t;
    if (failed_recipients_) t.evidence.add(Clue::FailedRecipients);
    if (from_looks_like_mailer_daemon(from_)) t.evidence.add(Clue::FromMailerDaemon);
    if (subject_looks_like_bounce(subject_)) t.evidence.add(Clue::BounceSubject);
    if (auto_submitted_) t.evidence.add(Clue::AutoSubmitted);
    const bool header_says_bounce = t.evidence.header_says_bounce();

    // Content-Transfer-Encoding: duplicates must agree.
    TransferEncoding cte = TransferEncoding::Identity;
    for (std::size_t i = 0; i < transfer_encodings_.size(); ++i) {
        TransferEncoding e = parse_transfer_encoding(transfer_encodings_[i]);
        if (i > 0 && e != cte)
            return leave_alone(t, "unknown", "cannot parse: conflicting Content-Transfer-Encoding headers", true);
        cte = e;
    }
    t.encoding = cte;
    t.eight_bit = eight_bit_ || cte == TransferEncoding::EightBit || cte == TransferEncoding::Binary;

    // Content-Type: RFC 2045 5.2 default text/plain; duplicates must agree.
    ContentType ct = parse_content_type("text/plain");
    for (std::size_t i = 0; i < content_types_.size(); ++i) {
        ContentType c = parse_content_type(content_types_[i]);
        if (!c.valid) return leave_alone(t, "unknown", "cannot parse: top-level Content-Type: " + c.error, true);
        if (i > 0 && shape_key(c) != shape_key(ct))
            return leave_alone(t, "unknown", "cannot parse: conflicting Content-Type headers", true);
        if (i == 0) ct = std::move(c);
    }

    if (ct.type == "multipart") {
        if (ct.subtype == "report") {
            const std::string* rt = ct.param("report-type");
            t.report_type = rt ? to_lower_ascii(trim(*rt)) : std::string();
            t.container = Container::Report;
            if (t.report_type == "feedback-report")
                return leave_alone(t, "arf", "ARF feedback report (RFC 5965); left alone");
            t.report_type_known = t.report_type == "delivery-status" || t.report_type == "disposition-notification";
            if (t.report_type_known) t.evidence.add(Clue::ReportType);
            if (t.report_type == "delivery-status")
                t.kind = "dsn";
            else if (t.report_type == "disposition-notification")
                t.kind = "mdn";
            else if (t.report_type.empty())
                t.kind = "report";
            else if (t.report_type == "tlsrpt" || (!header_says_bounce && !t.evidence.has(Clue::AutoSubmitted)))
                // RFC 8460 TLS reports, and reports of types nobody told us about.
                return leave_alone(t, "report", "report-type " + printable(t.report_type, 64) + " is not a bounce");
            else
                t.kind = "report";
        } else if (known_non_bounce_multipart(ct.subtype)) {
            return leave_alone(t, "not-a-bounce", "multipart/" + ct.subtype + " is not a bounce shape");
        } else {
            // multipart/mixed, and (RFC 2046 5.1.7) unknown subtypes treated as mixed.
            t.container = Container::Mixed;
            t.kind = "mixed-rfc822";
        }
        if (!ct.error.empty()) return leave_alone(t, t.kind, "cannot parse: top-level Content-Type: " + ct.error, true);
        const std::string* b = ct.param("boundary");
        if (!b || !usable_boundary(*b))
            return leave_alone(t, t.kind, "cannot parse: multipart without a usable boundary", true);
        // RFC 2045 6.4: a multipart entity is never encoded.
        if (cte != TransferEncoding::Identity && cte != TransferEncoding::SevenBit &&
            cte != TransferEncoding::EightBit && cte != TransferEncoding::Binary)
            return leave_alone(
                t, t.kind,
                std::string("cannot parse: multipart with Content-Transfer-Encoding ") + transfer_encoding_name(cte),
                true);
        t.boundary = *b;
        t.shape = Shape::Multipart;
        return t;
    }

    if (ct.is("text/plain")) {
        if ((auto_submitted_replied_ || autoreply_header_ || subject_looks_like_auto_reply(subject_)) &&
            !header_says_bounce)
            return leave_alone(t, "auto-reply", "auto-reply (RFC 3834); left alone");
        if (cte == TransferEncoding::Base64 || cte == TransferEncoding::Unknown) {
            if (!header_says_bounce) return leave_alone(t, "not-a-bounce", "single-part text without bounce evidence");
            return leave_alone(t, "inline",
                               std::string("cannot parse: single-part bounce with Content-Transfer-Encoding ") +
                                   transfer_encoding_name(cte) + " not handled",
                               true);
        }
        t.kind = "inline";
        t.shape = Shape::SinglePartText;
        return t;
    }
    return leave_alone(t, "not-a-bounce", ct.type + "/" + ct.subtype + " is not a bounce shape");
}

}  // namespace rcptguard::bounce
