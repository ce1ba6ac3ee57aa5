// multipart_scanner: see multipart_scanner.hpp.
#include "core/bounce/multipart_scanner.hpp"

#include "util/text.hpp"

namespace rcptguard::bounce {
namespace {

// The most header bytes kept of one part after a watched returned message.
constexpr std::size_t kMaxWatchHeaderBytes = 32 * 1024;

bool is_returned_type(const ContentType& ct) { return ct.is("message/rfc822") || ct.is("message/global"); }

// RFC 6522 text/rfc822-headers, RFC 6533 message/global-headers, and the
// non-standard message/rfc822-headers some MTAs write.
bool is_headers_only_type(const ContentType& ct) {
    return ct.is("text/rfc822-headers") || ct.is("message/global-headers") || ct.is("message/rfc822-headers");
}

bool is_status_type(const ContentType& ct) {
    return ct.is("message/delivery-status") || ct.is("message/global-delivery-status") ||
           ct.is("message/disposition-notification") || ct.is("message/global-disposition-notification");
}

// RFC 2045 6.4: a multipart entity is never encoded.
bool unencoded(TransferEncoding te) {
    return te == TransferEncoding::Identity || te == TransferEncoding::SevenBit || te == TransferEncoding::EightBit ||
           te == TransferEncoding::Binary;
}

std::string_view strip_cr(std::string_view s) {
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
}

}  // namespace

// --- the explanation part ---

void MultipartScanner::Explanation::start(TransferEncoding te) {
    active_ = true;
    te_ = te;
    base64_ = Base64Decoder{};
    pending_.clear();
    text_ = FailureText{};
}

void MultipartScanner::Explanation::line(std::string_view content) {
    if (!active_ || text_.found()) return;
    switch (te_) {
        case TransferEncoding::Base64: {
            if (base64_.failed() || !base64_.feed(content, &pending_)) return;
            std::size_t pos = 0;
            for (std::size_t lf; (lf = pending_.find('\n', pos)) != std::string::npos; pos = lf + 1)
                text_.line(strip_cr(std::string_view(pending_).substr(pos, lf - pos)));
            pending_.erase(0, pos);
            break;
        }
        case TransferEncoding::QuotedPrintable:
            if (!qp_decode_line(content, &pending_)) {
                text_.line(pending_);
                pending_.clear();
            }
            break;
        default: text_.line(content); return;
    }
    // A decoded line without end is looked at in pieces, so that it never
    // grows without bound.
    if (pending_.size() > FailureText::kMaxLineBytes) {
        text_.line(pending_);
        pending_.clear();
    }
}

bool MultipartScanner::Explanation::finish() {
    if (!active_) return false;
    active_ = false;
    if (te_ == TransferEncoding::Base64 && !base64_.failed()) base64_.finish(&pending_);
    if (!pending_.empty()) text_.line(strip_cr(pending_));
    pending_.clear();
    return text_.found();
}

// --- the scanner ---

MultipartScanner::MultipartScanner(const TopLevel& top, const std::string& body)
    : body_(body),
      header_says_bounce_(top.evidence.header_says_bounce()),
      auto_submitted_(top.evidence.has(Clue::AutoSubmitted)) {
    Level l;
    l.boundary = top.boundary;
    l.container = top.container;
    l.kind = top.kind;
    l.report_type_known = top.report_type_known;
    levels_.push_back(std::move(l));
}

std::string MultipartScanner::level_kind(const Level& l) const {
    if (l.kind == "report") {
        if (l.saw_delivery_status) return "dsn";
        if (l.saw_disposition) return "mdn";
    }
    return l.kind;
}

std::string MultipartScanner::current_kind() const {
    if (!kind_at_decision_.empty()) return kind_at_decision_;
    if (levels_.size() > 1) {
        const Level& in = levels_.back();
        return level_kind(in) + (in.via == Via::Message ? "-in-rfc822" : "-in-mixed");
    }
    if (!nested_kind_.empty()) return nested_kind_ + "-in-mixed";
    return level_kind(levels_.front());
}

MultipartScanner::Delimiter MultipartScanner::delimiter(std::string_view content, const std::string& boundary) const {
    if (content.size() < boundary.size() + 2 || content[0] != '-' || content[1] != '-' ||
        content.compare(2, boundary.size(), boundary) != 0)
        return Delimiter::None;
    std::string_view rest = content.substr(2 + boundary.size());
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

std::size_t MultipartScanner::delimiter_level(std::string_view content, Delimiter* d) const {
    *d = Delimiter::None;
    if (content.size() < 3 || content[0] != '-' || content[1] != '-') return std::string::npos;
    for (std::size_t i = levels_.size(); i-- > 0;) {
        *d = delimiter(content, levels_[i].boundary);
        if (*d != Delimiter::None) return i;
    }
    return std::string::npos;
}

const ScanOutcome& MultipartScanner::line(std::string_view content, std::size_t begin, std::size_t end) {
    if (outcome_.decided()) return outcome_;
    if (watching()) {
        watch_line(content);
        return outcome_;
    }
    Delimiter d = Delimiter::None;
    std::size_t level = delimiter_level(content, &d);
    bool is_delimiter = level != std::string::npos;
    switch (phase_) {
        case Phase::Preamble:
            if (is_delimiter) on_delimiter(level, d, end);
            break;
        case Phase::PartHeaders:
            if (is_delimiter) {
                part_headers_done(begin);
                if (outcome_.decided()) break;
                if (phase_ == Phase::Returned) {
                    end_of_returned_part();  // an empty returned part: decides
                    break;
                }
                on_delimiter(level, d, end);
            } else if (content.empty()) {
                part_headers_done(begin);
            } else if (!is_field_line(content) && !is_continuation_line(content)) {
                // A part whose headers run straight into its content: this line is content.
                part_headers_done(begin);
                if (outcome_.decided()) break;
                if (phase_ == Phase::Returned)
                    returned_line(content, begin, end);
                else if (phase_ == Phase::Preamble)
                    return line(content, begin, end);  // a nested report starts here, maybe with this delimiter
                else
                    explanation_.line(content);
            }
            break;
        case Phase::PartBody:
            if (is_delimiter)
                on_delimiter(level, d, end);
            else
                explanation_.line(content);
            break;
        case Phase::Returned:
            if (!is_delimiter) {
                returned_line(content, begin, end);
                break;
            }
            end_of_returned_part();
            if (!outcome_.decided() && watching()) watch_line(content);
            break;
        case Phase::Watch:
        case Phase::WatchHeaders: break;  // handled above
    }
    return outcome_;
}

void MultipartScanner::on_delimiter(std::size_t level, Delimiter d, std::size_t end) {
    end_of_part();
    // A delimiter of an outer multipart ends the nested ones too.
    while (levels_.size() - 1 > level)
        if (!pop_nested(/*explicit_close=*/false)) return;
    if (d == Delimiter::Open || levels_.size() == 1)
        next_part(d, end);
    else
        pop_nested(/*explicit_close=*/true);
}

void MultipartScanner::end_of_part() {
    if (explanation_.active() && explanation_.finish()) {
        levels_.back().failure_text = true;
        evidence_.add(Clue::FailureText);
    }
}

bool MultipartScanner::pop_nested(bool explicit_close) {
    const Level& in = levels_.back();
    if (in.part_index == 0) {
        cannot_parse("boundary of the nested report never used");
        return false;
    }
    if (in.via == Via::Message) {
        // The embedded report ended before any returned message of its own.
        outcome_.unchanged(current_kind(), "no returned message part", false);
        return false;
    }
    // A report in the first part of a multipart/mixed: what it showed counts
    // for the multipart/mixed, where a returned message may still follow.
    nested_kind_ = level_kind(in);
    bool confirmed = in.report_type_known || in.saw_delivery_status || in.saw_disposition;
    Level done = in;
    levels_.pop_back();
    Level& out = levels_.back();
    out.saw_delivery_status = out.saw_delivery_status || done.saw_delivery_status;
    out.saw_disposition = out.saw_disposition || done.saw_disposition;
    out.failure_text = out.failure_text || done.failure_text;
    out.report_inside = out.report_inside || confirmed;
    if (explicit_close) phase_ = Phase::PartBody;  // what follows is the nested report's epilogue
    return true;
}

void MultipartScanner::next_part(Delimiter d, std::size_t end) {
    Level& l = levels_.back();
    if (d == Delimiter::Close) {
        if (l.container == Container::Mixed && !header_says_bounce_ && !l.saw_delivery_status && !l.report_inside)
            outcome_.unchanged("not-a-bounce", "not a bounce: multipart/mixed without bounce evidence", false);
        else
            outcome_.unchanged(current_kind(), "no returned message part", false);
        return;
    }
    ++l.part_index;
    l.part_start = end;
    phase_ = Phase::PartHeaders;
}

bool MultipartScanner::bounce_confirmed(const char** why, bool* watch) {
    const Level& l = levels_.back();
    bool status = l.saw_delivery_status || l.saw_disposition;
    if (l.container == Container::Report) {
        if (l.report_type_known || status) return true;
        if (l.via == Via::Message) {
            *why = "returned report without report-type or status part";
            return false;
        }
        if (header_says_bounce_ || auto_submitted_ || l.failure_text) {
            *watch = true;
            return true;
        }
        *why = "multipart/report without report-type or status part, and no other evidence";
        return false;
    }
    if (header_says_bounce_ || status || l.report_inside) return true;
    if (l.failure_text) {
        *watch = true;
        return true;
    }
    *why = "multipart/mixed with an attached message but no sign of a bounce";
    return false;
}

bool MultipartScanner::push_nested(const ContentType& ct, TransferEncoding te, Via via, const std::string& where) {
    if (!unencoded(te)) {
        cannot_parse(std::string("report in ") + where + " with Content-Transfer-Encoding " +
                     transfer_encoding_name(te));
        return false;
    }
    const std::string* rt = ct.param("report-type");
    std::string type = rt ? to_lower_ascii(trim(*rt)) : std::string();
    if (type == "feedback-report") {
        outcome_.unchanged("arf", "contains an ARF feedback report (RFC 5965); left alone", false);
        return false;
    }
    const std::string* b = ct.param("boundary");
    if (!ct.error.empty() || !b || !usable_boundary(*b)) {
        cannot_parse("report in " + where + " without a usable boundary");
        return false;
    }
    for (const Level& l : levels_) {
        if (l.boundary == *b) {
            cannot_parse("report in " + where + " uses the boundary of the multipart around it");
            return false;
        }
    }
    Level in;
    in.boundary = *b;
    in.container = Container::Report;
    in.via = via;
    in.report_type_known = type == "delivery-status" || type == "disposition-notification";
    in.kind = type == "delivery-status" ? "dsn" : type == "disposition-notification" ? "mdn" : "report";
    if (in.report_type_known) evidence_.add(Clue::ReportType);
    levels_.push_back(std::move(in));
    phase_ = Phase::Preamble;
    return true;
}

void MultipartScanner::part_headers_done(std::size_t header_end) {
    Level& l = levels_.back();
    std::string n = std::to_string(l.part_index);
    auto fields = split_fields(std::string_view(body_).substr(l.part_start, header_end - l.part_start));
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

    if (ct.is("multipart/report")) {
        // Domino and some gateways wrap the whole DSN in a multipart/mixed.
        if (levels_.size() == 1 && l.container == Container::Mixed && l.part_index == 1)
            push_nested(ct, te, Via::FirstPart, "part 1");
        else
            cannot_parse("report nested in part " + n);
        return;
    }
    if (ct.is("message/feedback-report")) {
        outcome_.unchanged("arf", "contains an ARF feedback report (RFC 5965); left alone", false);
        return;
    }
    if (ct.is("message/delivery-status") || ct.is("message/global-delivery-status")) l.saw_delivery_status = true;
    if (ct.is("message/disposition-notification") || ct.is("message/global-disposition-notification"))
        l.saw_disposition = true;
    if (is_status_type(ct)) evidence_.add(Clue::StatusPart);

    const char* why = nullptr;
    bool watch = false;
    if (is_returned_type(ct)) {
        if (l.part_index == 1) {
            if (l.container == Container::Report) return cannot_parse("report starts with the returned message");
            outcome_.unchanged("not-a-bounce", "not a bounce: message attached as the first part", false);
            return;
        }
        if (!bounce_confirmed(&why, &watch)) {
            if (l.container == Container::Report) return cannot_parse(why);
            outcome_.unchanged("not-a-bounce", std::string("not a bounce: ") + why, false);
            return;
        }
        if (te == TransferEncoding::Unknown)
            return cannot_parse("returned part has an unknown Content-Transfer-Encoding");
        returned_ = ReturnedPart{};
        returned_.index = l.part_index;
        returned_.global = ct.is("message/global");
        returned_.encoding = te;
        returned_.other_fields = std::move(other_fields);
        returned_needs_watch_ = watch;
        prefix_end_ = l.part_start;
        collector_ = HeaderBlockCollector(/*skip_leading_blank_lines=*/false);
        base64_ = Base64Decoder{};
        decoded_.clear();
        decoded_scanned_ = 0;
        phase_ = Phase::Returned;
        return;
    }
    if (l.part_index >= 2 && is_headers_only_type(ct) && bounce_confirmed(&why, &watch)) {
        outcome_.unchanged(current_kind(), "already headers only (" + ct.type + "/" + ct.subtype + ")", false);
        return;
    }
    if (l.part_index >= 2 && ct.is("message/partial") && l.container == Container::Report) {
        outcome_.unchanged(current_kind(), "returned message is message/partial; left alone", false);
        return;
    }
    // The explanation: the first part, when it is text.
    if (l.part_index == 1 && (ct.type == "text" || ct.type == "multipart") && !is_headers_only_type(ct))
        explanation_.start(ct.type == "text" ? te : TransferEncoding::Identity);
    phase_ = Phase::PartBody;
}

void MultipartScanner::returned_line(std::string_view content, std::size_t begin, std::size_t end) {
    switch (returned_.encoding) {
        case TransferEncoding::Base64:
            if (!base64_.feed(content, &decoded_)) return cannot_parse("returned part is base64 and not decodable");
            return drain_decoded(false);
        case TransferEncoding::QuotedPrintable:
            if (!qp_decode_line(content, &decoded_)) decoded_.push_back('\n');
            return drain_decoded(false);
        default: return collector_event(collector_.line(content), content, begin, end);
    }
}

void MultipartScanner::drain_decoded(bool at_end) {
    // decoded_[0, decoded_scanned_) holds no LF: bytes are searched once, so
    // a long decoded line costs O(n), not O(n^2).
    std::size_t pos = 0;
    while (!outcome_.decided() && phase_ == Phase::Returned) {
        std::size_t lf = decoded_.find('\n', decoded_scanned_ > pos ? decoded_scanned_ : pos);
        if (lf == std::string::npos) break;
        std::string_view l = strip_cr(std::string_view(decoded_).substr(pos, lf - pos));
        pos = lf + 1;
        collector_event(collector_.line(l), l, std::string::npos, std::string::npos);
    }
    if (outcome_.decided() || phase_ != Phase::Returned) return;
    decoded_.erase(0, pos);
    decoded_scanned_ = decoded_.size();
    if (at_end && !decoded_.empty()) {
        std::string last = decoded_;
        decoded_.clear();
        decoded_scanned_ = 0;
        collector_event(collector_.line(strip_cr(last)), strip_cr(last), std::string::npos, std::string::npos);
    }
}

void MultipartScanner::collector_event(HeaderBlockCollector::Event ev, std::string_view content, std::size_t begin,
                                       std::size_t end) {
    using Event = HeaderBlockCollector::Event;
    if (ev == Event::NoHeaders) return cannot_parse("returned message does not start with a header field");
    if (ev != Event::BlockEndedBlank && ev != Event::BodyStarts && ev != Event::HasBody) return;
    if (ev != Event::HasBody) {
        // Is the returned message itself a report (a bounce forwarded as an
        // attachment, a bounce of a bounce)? Then its own returned message is
        // the one to strip, one level down, if its bytes are there as they are.
        ContentType inner = parse_content_type("text/plain");
        TransferEncoding inner_te = TransferEncoding::Identity;
        for (const RawField& f : split_fields(collector_.block())) {
            if (iequals_ascii(f.name, "Content-Type")) inner = parse_content_type(f.value);
            if (iequals_ascii(f.name, "Content-Transfer-Encoding")) inner_te = parse_transfer_encoding(f.value);
        }
        if (inner.is("multipart/report")) {
            if (levels_.size() > 1 || !unencoded(returned_.encoding)) {
                outcome_.unchanged(current_kind(),
                                   "returned message is itself a report (bounce of a bounce); left alone", false);
                return;
            }
            if (!push_nested(inner, inner_te, Via::Message, "the returned message")) return;
            // The line that started the embedded message's body belongs to it.
            if (ev == Event::BodyStarts) line(content, begin, end);
            return;
        }
        if (ev == Event::BlockEndedBlank) return;  // a body may follow
    }
    found_original();
}

void MultipartScanner::found_original() {
    returned_.header_block = collector_.block();
    kind_at_decision_ = current_kind();
    // "\r\n--boundary--\r\n" for each multipart, innermost first: the CRLF
    // before a delimiter belongs to it (RFC 2046 5.1.1).
    closing_.clear();
    for (std::size_t i = levels_.size(); i-- > 0;) {
        closing_ += "\r\n--";
        closing_ += levels_[i].boundary;
        closing_ += "--\r\n";
    }
    if (returned_needs_watch_) {
        watch_headers_.clear();
        returned_level_ = levels_.size() - 1;
        phase_ = Phase::Watch;
        return;
    }
    outcome_.strip(kind_at_decision_);
}

void MultipartScanner::end_of_returned_part() {
    if (returned_.encoding == TransferEncoding::Base64 && !base64_.finish(&decoded_))
        return cannot_parse("returned part is base64 and not decodable");
    drain_decoded(true);
    if (outcome_.decided() || phase_ != Phase::Returned) return;
    if (collector_.field_count() == 0)
        outcome_.unchanged(current_kind(), "returned part is empty", false);
    else
        outcome_.unchanged(current_kind(), "returned message has no body", false);
}

// --- after the returned part: nothing that belongs to the report may follow ---

void MultipartScanner::watch_line(std::string_view content) {
    events_ = WatchEvents{};
    Delimiter d = Delimiter::None;
    std::size_t level = delimiter_level(content, &d);
    if (phase_ == Phase::WatchHeaders) {
        if (level == std::string::npos && !content.empty() &&
            (is_field_line(content) || is_continuation_line(content))) {
            if (watch_headers_.size() + content.size() > kMaxWatchHeaderBytes)
                return cannot_parse("oversized header in a part after the returned message");
            watch_headers_.append(content);
            watch_headers_.append("\r\n");
            return;
        }
        watch_part_headers_done();
        if (outcome_.decided()) return;
        phase_ = Phase::Watch;
    }
    if (level == std::string::npos) return;
    while (levels_.size() - 1 > level) levels_.pop_back();
    if (d == Delimiter::Open) {
        watch_headers_.clear();
        watch_part_level_ = level;
        events_.part_opened = true;
        phase_ = Phase::WatchHeaders;
    } else if (levels_.size() == 1) {
        events_.top_close = true;
        outcome_.strip(kind_at_decision_);  // only the epilogue follows, and it is dropped
    } else {
        levels_.pop_back();
    }
}

void MultipartScanner::watch_part_headers_done() {
    ContentType ct = parse_content_type("text/plain");
    for (const RawField& f : split_fields(watch_headers_)) {
        if (!iequals_ascii(f.name, "Content-Type")) continue;
        ct = parse_content_type(f.value);
        if (!ct.valid) return cannot_parse("Content-Type of a part after the returned message: " + ct.error);
        break;
    }
    watch_headers_.clear();
    std::string what = ct.type + "/" + ct.subtype;
    if (is_status_type(ct) || ct.is("message/feedback-report") || ct.is("multipart/report")) {
        // RFC 6522 puts the status part before the returned message; some
        // MTAs put it after. It stays, byte for byte, if it is in the same
        // multipart as the returned message.
        if (watch_part_level_ != returned_level_)
            return cannot_parse(what + " part after the returned message, outside its multipart");
        if (is_status_type(ct)) evidence_.add(Clue::StatusPart);
        tail_kept_ = true;
        events_.keep = true;
    } else if (tail_kept_ && is_returned_type(ct)) {
        cannot_parse("another returned message after a report part that follows the returned one");
    } else {
        events_.drop = true;
    }
}

std::string MultipartScanner::closing_open_levels() const {
    std::string s;
    for (std::size_t i = levels_.size(); i-- > 0;) {
        s += "\r\n--";
        s += levels_[i].boundary;
        s += "--\r\n";
    }
    return s;
}

const ScanOutcome& MultipartScanner::end_of_body() {
    events_ = WatchEvents{};
    if (outcome_.decided()) return outcome_;
    switch (phase_) {
        case Phase::Preamble:
            cannot_parse(levels_.size() > 1 ? "boundary of the nested report never used" : "boundary never used");
            break;
        case Phase::PartHeaders:
        case Phase::PartBody:
            cannot_parse("closing boundary of part " + std::to_string(levels_.back().part_index) + " missing");
            break;
        case Phase::Returned:
            end_of_returned_part();
            if (!outcome_.decided() && watching()) outcome_.strip(kind_at_decision_);
            break;
        case Phase::WatchHeaders:
            watch_part_headers_done();
            if (!outcome_.decided()) outcome_.strip(kind_at_decision_);
            break;
        case Phase::Watch: outcome_.strip(kind_at_decision_); break;
    }
    return outcome_;
}

}  // namespace rcptguard::bounce
