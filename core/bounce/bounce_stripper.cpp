// bounce_stripper: see bounce_stripper.hpp. This file is the exception
// firewall and the buffer; the decisions live in bounce_classifier (headers),
// multipart_scanner and inline_scanner (body), and rewrite (output).
#include "core/bounce/bounce_stripper.hpp"

#include <exception>
#include <optional>

#include "core/bounce/bounce_classifier.hpp"
#include "core/bounce/header_fields.hpp"
#include "core/bounce/inline_scanner.hpp"
#include "core/bounce/multipart_scanner.hpp"
#include "core/bounce/rewrite.hpp"
#include "util/text.hpp"

namespace rcptguard {

using bounce::ScanOutcome;

namespace {

constexpr const char* kTraceHeader = "X-Rcptguard-Bounce-Stripped";
// What a rewrite may add to the kept bytes: the new part headers and the
// close delimiter (the boundary is at most 200 bytes). A rewrite that grows
// more than this (a quoted-printable header block) counts against the cap.
constexpr std::size_t kRewriteSlackBytes = 1024;

}  // namespace

struct BounceStripper::Impl {
    explicit Impl(BounceOptions o) : options(o) {}

    BounceOptions options;
    bounce::HeaderClassifier classifier;
    bounce::TopLevel top;
    bool headers_done = false;
    std::string kept;            // body bytes from the start, at most max_kept_bytes
    std::size_t scan_pos = 0;    // start of the first line not yet scanned
    std::size_t lf_search = 0;   // kept[scan_pos, lf_search) holds no LF: a long line is searched once
    std::size_t body_bytes = 0;  // every body byte fed, kept or not
    ScanOutcome outcome;
    std::optional<StripResult> final_result;  // finish() answers the same if called again
    std::optional<bounce::MultipartScanner> multipart;
    std::optional<bounce::InlineScanner> inline_text;

    void fail(const char* what) {
        outcome = ScanOutcome{};
        outcome.unchanged(top.kind.empty() ? "unknown" : top.kind, std::string("internal error: ") + what, true);
        release();
    }
    void release() {
        std::string().swap(kept);
        multipart.reset();
        inline_text.reset();
    }

    void classify() {
        headers_done = true;
        top = classifier.classify();
        switch (top.shape) {
            case bounce::Shape::LeaveAlone: outcome.unchanged(top.kind, top.reason, top.could_not_parse); break;
            case bounce::Shape::Multipart: multipart.emplace(top, kept); break;
            case bounce::Shape::SinglePartText: inline_text.emplace(top.encoding, top.bounce_evidence); break;
        }
    }

    const ScanOutcome& dispatch(std::string_view content, std::size_t begin, std::size_t end) {
        if (multipart) return multipart->line(content, begin, end);
        return inline_text->line(content, begin, end);
    }

    void scan_lines() {
        while (!outcome.decided() && scan_pos < kept.size()) {
            std::size_t lf = kept.find('\n', lf_search > scan_pos ? lf_search : scan_pos);
            if (lf == std::string::npos) {
                lf_search = kept.size();
                return;
            }
            std::string_view content(kept.data() + scan_pos, lf - scan_pos);
            if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
            std::size_t begin = scan_pos;
            scan_pos = lf + 1;
            const ScanOutcome& o = dispatch(content, begin, scan_pos);
            if (o.decided()) decide(o);
        }
    }

    void decide(const ScanOutcome& o) {
        outcome = o;
        if (outcome.state != ScanOutcome::State::Strip) release();
    }

    void over_cap() {
        outcome.unchanged(top.kind, "over max_kept_bytes (" + std::to_string(options.max_kept_bytes) + ")", true);
        release();
    }

    bool feed(std::string_view chunk) {
        if (!headers_done) classify();
        body_bytes += chunk.size();
        if (outcome.decided()) return false;
        // Keep at most the cap: whether the bytes the decision needs fit is then
        // the same however the body was chunked.
        std::size_t room = options.max_kept_bytes - kept.size();
        kept.append(chunk.substr(0, chunk.size() < room ? chunk.size() : room));
        scan_lines();
        if (!outcome.decided() && body_bytes > options.max_kept_bytes) over_cap();
        return !outcome.decided();
    }

    void end_of_body() {
        if (!headers_done) classify();
        if (outcome.decided()) return;
        if (scan_pos < kept.size()) {  // a last line without a line break
            std::string_view content(kept.data() + scan_pos, kept.size() - scan_pos);
            if (content.back() == '\r') content.remove_suffix(1);
            std::size_t begin = scan_pos;
            scan_pos = kept.size();
            const ScanOutcome& o = dispatch(content, begin, scan_pos);
            if (o.decided()) return decide(o);
        }
        const ScanOutcome& o = multipart ? multipart->end_of_body() : inline_text->end_of_body();
        decide(o);
    }

    StripResult result(bool whole_body_seen) {
        StripResult r;
        r.kind = outcome.kind;
        if (outcome.state != ScanOutcome::State::Strip) {
            r.reason = outcome.reason.empty() ? "left alone" : outcome.reason;
            r.could_not_parse = outcome.could_not_parse;
            return r;
        }
        std::string what;
        if (multipart) {
            std::size_t prefix = multipart->prefix_end();
            bool eight_bit = top.eight_bit || bounce::has_eight_bit(std::string_view(kept).substr(0, prefix)) ||
                             multipart->returned().encoding == bounce::TransferEncoding::EightBit ||
                             multipart->returned().encoding == bounce::TransferEncoding::Binary;
            bounce::RewrittenPart part = bounce::rewrite_returned_part(multipart->returned(), eight_bit);
            std::string closing = bounce::close_delimiter(top.boundary);
            if (prefix + part.text.size() + closing.size() > options.max_kept_bytes + kRewriteSlackBytes) {
                over_cap();
                return result(whole_body_seen);
            }
            kept.resize(prefix);
            kept += part.text;
            kept += closing;
            r.kept_prefix_bytes = prefix;
            what = "headers kept as " + part.media_type;
            if (part.encoding == "quoted-printable") what += " (quoted-printable)";
        } else {
            kept.resize(inline_text->cut());
            r.kept_prefix_bytes = kept.size();
            what = "headers kept inline";
        }
        r.action = StripResult::Action::Replace;
        r.new_body = std::move(kept);
        release();
        r.bytes_removed = body_bytes > r.new_body.size() ? body_bytes - r.new_body.size() : 0;
        r.bytes_removed_exact = whole_body_seen;
        r.trace_header_name = kTraceHeader;
        r.trace_header_value = "returned message body removed";
        // The MTA's SKIP leaves the rest of a large body unseen: then the
        // count is what was seen, a lower bound.
        r.trace_header_value +=
            std::string(whole_body_seen ? " (" : " (at least ") + std::to_string(r.bytes_removed) + " bytes)";
        r.trace_header_value += "; " + what;
        return r;
    }
};

BounceStripper::BounceStripper(BounceOptions options) {
    try {
        impl_ = std::make_unique<Impl>(options);
    } catch (...) {
        // impl_ stays null; every call then answers Unchanged.
    }
}

BounceStripper::~BounceStripper() = default;

void BounceStripper::header(std::string_view name, std::string_view value) {
    if (!impl_ || impl_->headers_done) return;
    try {
        impl_->classifier.add(name, value);
    } catch (const std::exception& e) {
        impl_->headers_done = true;
        impl_->fail(e.what());
    } catch (...) {
        impl_->headers_done = true;
        impl_->fail("unknown exception");
    }
}

void BounceStripper::end_of_headers() {
    if (!impl_ || impl_->headers_done) return;
    try {
        impl_->classify();
    } catch (const std::exception& e) {
        impl_->fail(e.what());
    } catch (...) {
        impl_->fail("unknown exception");
    }
}

bool BounceStripper::wants_body() const { return impl_ && !impl_->outcome.decided(); }

bool BounceStripper::body(std::string_view chunk) {
    if (!impl_ || impl_->final_result) return false;
    try {
        return impl_->feed(chunk);
    } catch (const std::exception& e) {
        impl_->fail(e.what());
    } catch (...) {
        impl_->fail("unknown exception");
    }
    return false;
}

StripResult BounceStripper::finish(bool whole_body_seen) {
    StripResult unchanged;
    unchanged.kind = "unknown";
    unchanged.could_not_parse = true;
    unchanged.reason = "internal error: out of memory";
    if (!impl_) return unchanged;
    if (impl_->final_result) return *impl_->final_result;
    try {
        impl_->end_of_body();
        impl_->final_result = impl_->result(whole_body_seen);
        return *impl_->final_result;
    } catch (const std::exception& e) {
        unchanged.reason = std::string("internal error: ") + e.what();
    } catch (...) {
        unchanged.reason = "internal error: unknown exception";
    }
    impl_->release();
    impl_->outcome.unchanged(unchanged.kind, unchanged.reason, true);
    return unchanged;
}

}  // namespace rcptguard
