// multipart_scanner: see multipart_scanner.hpp.
#include "core/bounce/multipart_scanner.hpp"

#include "util/text.hpp"

namespace rcptguard::bounce {
namespace {

bool is_returned_type(const ContentType& ct) { return ct.is("message/rfc822") || ct.is("message/global"); }

// RFC 6522 text/rfc822-headers, RFC 6533 message/global-headers, and the
// non-standard message/rfc822-headers some MTAs write.
bool is_headers_only_type(const ContentType& ct) {
    return ct.is("text/rfc822-headers") || ct.is("message/global-headers") || ct.is("message/rfc822-headers");
}

std::string_view strip_cr(std::string_view s) {
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
}

}  // namespace

MultipartScanner::MultipartScanner(const TopLevel& top, const std::string& body)
    : body_(body),
      boundary_(top.boundary),
      container_(top.container),
      top_kind_(top.kind),
      report_type_known_(!top.report_type.empty()),
      header_evidence_(top.bounce_evidence) {}

std::string MultipartScanner::current_kind() const {
    if (top_kind_ == "report") {
        if (saw_delivery_status_) return "dsn";
        if (saw_disposition_) return "mdn";
    }
    return top_kind_;
}

MultipartScanner::Delimiter MultipartScanner::delimiter(std::string_view content) const {
    if (content.size() < boundary_.size() + 2 || content[0] != '-' || content[1] != '-' ||
        content.compare(2, boundary_.size(), boundary_) != 0)
        return Delimiter::None;
    std::string_view rest = content.substr(2 + boundary_.size());
    Delimiter d = Delimiter::Open;
    if (rest.size() >= 2 && rest[0] == '-' && rest[1] == '-') {
        d = Delimiter::Close;
        rest.remove_prefix(2);
    }
    // RFC 2046 5.1.1: transport padding (linear white space) may follow.
    for (char c : rest)
        if (c != ' ' && c != '\t') return Delimiter::None;
    return d;
}

const ScanOutcome& MultipartScanner::line(std::string_view content, std::size_t begin, std::size_t end) {
    if (outcome_.decided()) return outcome_;
    Delimiter d = delimiter(content);
    switch (phase_) {
        case Phase::Preamble:
            if (d == Delimiter::Open)
                next_part(d, end);
            else if (d == Delimiter::Close)
                cannot_parse("close delimiter before the first part");
            break;
        case Phase::PartHeaders:
            if (d != Delimiter::None) {
                part_headers_done(begin);
                if (outcome_.decided()) break;
                if (phase_ == Phase::Returned)
                    end_of_returned_part();
                else
                    next_part(d, end);
            } else if (content.empty()) {
                part_headers_done(begin);
            } else if (!is_field_line(content) && !is_continuation_line(content)) {
                // A part whose headers run straight into its content: this line is content.
                part_headers_done(begin);
                if (!outcome_.decided() && phase_ == Phase::Returned) returned_line(content);
            }
            break;
        case Phase::PartBody:
            if (d != Delimiter::None) next_part(d, end);
            break;
        case Phase::Returned:
            if (d != Delimiter::None)
                end_of_returned_part();
            else
                returned_line(content);
            break;
    }
    return outcome_;
}

void MultipartScanner::next_part(Delimiter d, std::size_t end) {
    if (d == Delimiter::Close) {
        if (container_ == Container::Mixed && !header_evidence_ && !saw_delivery_status_)
            outcome_.unchanged("not-a-bounce", "not a bounce: multipart/mixed without bounce evidence", false);
        else
            outcome_.unchanged(current_kind(), "no returned message part", false);
        return;
    }
    ++part_index_;
    part_start_ = end;
    phase_ = Phase::PartHeaders;
}

bool MultipartScanner::bounce_confirmed(const char** why) {
    if (container_ == Container::Report) {
        if (report_type_known_ || saw_delivery_status_ || saw_disposition_) return true;
        *why = "multipart/report without report-type or status part";
        return false;
    }
    if (header_evidence_ || saw_delivery_status_) return true;
    *why = "multipart/mixed with an attached message but no sign of a bounce";
    return false;
}

void MultipartScanner::part_headers_done(std::size_t header_end) {
    std::string n = std::to_string(part_index_);
    auto fields = split_fields(std::string_view(body_).substr(part_start_, header_end - part_start_));
    ContentType ct = parse_content_type("text/plain");  // RFC 2046 5.1.3 default
    TransferEncoding te = TransferEncoding::Identity;
    bool have_ct = false, have_te = false;
    std::string other_fields;
    for (const RawField& f : fields) {
        if (iequals_ascii(f.name, "Content-Type")) {
            ContentType c = parse_content_type(f.value);
            if (!c.valid) return cannot_parse("Content-Type of part " + n + ": " + c.error);
            if (have_ct && (c.type != ct.type || c.subtype != ct.subtype))
                return cannot_parse("conflicting Content-Type headers in part " + n);
            if (!have_ct) ct = std::move(c);
            have_ct = true;
        } else if (iequals_ascii(f.name, "Content-Transfer-Encoding")) {
            TransferEncoding e = parse_transfer_encoding(f.value);
            if (have_te && e != te) return cannot_parse("conflicting Content-Transfer-Encoding headers in part " + n);
            te = e;
            have_te = true;
        } else if (!iequals_ascii(f.name, "Content-Length") && !iequals_ascii(f.name, "Content-MD5")) {
            other_fields += f.lines;
        }
    }

    if (ct.is("multipart/report")) return cannot_parse("report nested in part " + n);
    if (ct.is("message/feedback-report")) {
        outcome_.unchanged("arf", "contains an ARF feedback report (RFC 5965); left alone", false);
        return;
    }
    if (ct.is("message/delivery-status") || ct.is("message/global-delivery-status")) saw_delivery_status_ = true;
    if (ct.is("message/disposition-notification") || ct.is("message/global-disposition-notification"))
        saw_disposition_ = true;

    const char* why = nullptr;
    if (is_returned_type(ct)) {
        if (part_index_ == 1) {
            if (container_ == Container::Report) return cannot_parse("report starts with the returned message");
            outcome_.unchanged("not-a-bounce", "not a bounce: message attached as the first part", false);
            return;
        }
        if (!bounce_confirmed(&why)) {
            if (container_ == Container::Report) return cannot_parse(why);
            outcome_.unchanged("not-a-bounce", std::string("not a bounce: ") + why, false);
            return;
        }
        if (te == TransferEncoding::Unknown)
            return cannot_parse("returned part has an unknown Content-Transfer-Encoding");
        returned_.index = part_index_;
        returned_.global = ct.is("message/global");
        returned_.encoding = te;
        returned_.other_fields = std::move(other_fields);
        phase_ = Phase::Returned;
        return;
    }
    if (part_index_ >= 2 && is_headers_only_type(ct) && bounce_confirmed(&why)) {
        outcome_.unchanged(current_kind(), "already headers only (" + ct.type + "/" + ct.subtype + ")", false);
        return;
    }
    if (part_index_ >= 2 && ct.is("message/partial") && container_ == Container::Report) {
        outcome_.unchanged(current_kind(), "returned message is message/partial; left alone", false);
        return;
    }
    phase_ = Phase::PartBody;
}

void MultipartScanner::returned_line(std::string_view content) {
    switch (returned_.encoding) {
        case TransferEncoding::Base64:
            if (!base64_.feed(content, &decoded_)) return cannot_parse("returned part is base64 and not decodable");
            return drain_decoded(false);
        case TransferEncoding::QuotedPrintable:
            if (!qp_decode_line(content, &decoded_)) decoded_.push_back('\n');
            return drain_decoded(false);
        default: return collector_event(collector_.line(content));
    }
}

void MultipartScanner::drain_decoded(bool at_end) {
    // decoded_[0, decoded_scanned_) holds no LF: bytes are searched once, so
    // a long decoded line costs O(n), not O(n^2).
    std::size_t pos = 0;
    while (!outcome_.decided()) {
        std::size_t lf = decoded_.find('\n', decoded_scanned_ > pos ? decoded_scanned_ : pos);
        if (lf == std::string::npos) break;
        std::string_view l = strip_cr(std::string_view(decoded_).substr(pos, lf - pos));
        pos = lf + 1;
        collector_event(collector_.line(l));
    }
    if (outcome_.decided()) return;
    decoded_.erase(0, pos);
    decoded_scanned_ = decoded_.size();
    if (at_end && !decoded_.empty()) {
        collector_event(collector_.line(strip_cr(decoded_)));
        decoded_.clear();
        decoded_scanned_ = 0;
    }
}

void MultipartScanner::collector_event(HeaderBlockCollector::Event ev) {
    using Event = HeaderBlockCollector::Event;
    if (ev == Event::NoHeaders) return cannot_parse("returned message does not start with a header field");
    if (ev != Event::BodyStarts && ev != Event::HasBody) return;
    // A bounce of a bounce (or a forwarded report): the returned message is
    // itself a report whose own returned part we would have to reason about.
    for (const RawField& f : split_fields(collector_.block())) {
        if (iequals_ascii(f.name, "Content-Type") && parse_content_type(f.value).is("multipart/report")) {
            outcome_.unchanged(current_kind(), "returned message is itself a report (bounce of a bounce); left alone",
                               false);
            return;
        }
    }
    returned_.header_block = collector_.block();
    outcome_.strip(current_kind());
}

void MultipartScanner::end_of_returned_part() {
    if (returned_.encoding == TransferEncoding::Base64 && !base64_.finish(&decoded_))
        return cannot_parse("returned part is base64 and not decodable");
    drain_decoded(true);
    if (outcome_.decided()) return;
    if (collector_.field_count() == 0)
        outcome_.unchanged(current_kind(), "returned part is empty", false);
    else
        outcome_.unchanged(current_kind(), "returned message has no body", false);
}

const ScanOutcome& MultipartScanner::end_of_body() {
    if (outcome_.decided()) return outcome_;
    switch (phase_) {
        case Phase::Preamble: cannot_parse("boundary never used"); break;
        case Phase::PartHeaders:
        case Phase::PartBody:
            cannot_parse("closing boundary of part " + std::to_string(part_index_) + " missing");
            break;
        case Phase::Returned: end_of_returned_part(); break;
    }
    return outcome_;
}

}  // namespace rcptguard::bounce
