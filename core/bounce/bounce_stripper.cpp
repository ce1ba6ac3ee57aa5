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
    // Watching (multipart_scanner.hpp): kept holds only the prefix; lines are
    // assembled here, each cut to kWatchLineBytes.
    bool watching = false;
    std::string watch_line;
    bool watch_line_cut = false;  // the current line was longer and has been passed on already
    // The bytes from the delimiter line of a part after the returned one:
    // held while its headers are read, kept for good from a report part on
    // (tail_kept), counted against the cap.
    bool capturing = false;
    bool tail_kept = false;
    std::string capture;
    ScanOutcome outcome;
    std::optional<StripResult> final_result;  // finish() answers the same if called again
    bounce::Evidence found;                   // the body's clues, kept when the scanners are released
    std::optional<bounce::MultipartScanner> multipart;
    std::optional<bounce::InlineScanner> inline_text;

    void fail(const char* what) {
        outcome = ScanOutcome{};
        outcome.unchanged(top.kind.empty() ? "unknown" : top.kind, std::string("internal error: ") + what, true);
        release();
    }
    void release() {
        if (multipart) found.add(multipart->evidence());
        if (inline_text) found.add(inline_text->evidence());
        std::string().swap(kept);
        std::string().swap(watch_line);
        std::string().swap(capture);
        multipart.reset();
        inline_text.reset();
    }

    void classify() {
        headers_done = true;
        top = classifier.classify();
        if (!options.null_sender) {
            outcome.unchanged("not-a-bounce", "not a bounce: the envelope sender is not null", false);
            return;
        }
        switch (top.shape) {
            case bounce::Shape::LeaveAlone: outcome.unchanged(top.kind, top.reason, top.could_not_parse); break;
            case bounce::Shape::Multipart: multipart.emplace(top, kept); break;
            case bounce::Shape::SinglePartText: inline_text.emplace(top.encoding, top.evidence); break;
        }
    }

    const ScanOutcome& dispatch(std::string_view content, std::size_t begin, std::size_t end) {
        if (multipart) return multipart->line(content, begin, end);
        return inline_text->line(content, begin, end);
    }

    bounce::Evidence evidence() const {
        bounce::Evidence e = found;
        if (options.null_sender) e.add(bounce::Clue::NullSender);
        e.add(top.evidence);
        if (multipart) e.add(multipart->evidence());
        if (inline_text) e.add(inline_text->evidence());
        return e;
    }

    void scan_lines() {
        while (!outcome.decided() && !watching && scan_pos < kept.size()) {
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
            if (o.decided())
                decide(o);
            else if (multipart && multipart->watching())
                start_watching(begin);
        }
    }

    // From here on only lines are looked at; the bytes after the prefix are
    // not kept, so a returned message of any size costs nothing. The line
    // that started it (at line_begin) may already have opened the next part
    // (the end of an encoded returned part is only known at its delimiter).
    void start_watching(std::size_t line_begin) {
        watching = true;
        if (multipart->watch_events().part_opened) {
            capturing = true;
            capture.assign(kept, line_begin, scan_pos - line_begin);
        }
        std::string rest = kept.substr(scan_pos);
        kept.resize(multipart->prefix_end());
        watch(rest);
    }

    void watch(std::string_view chunk) {
        constexpr std::size_t kMax = bounce::MultipartScanner::kWatchLineBytes;
        std::size_t pos = 0;
        while (pos < chunk.size() && !outcome.decided()) {
            std::size_t lf = chunk.find('\n', pos);
            std::size_t stop = lf == std::string_view::npos ? chunk.size() : lf;
            std::size_t next = lf == std::string_view::npos ? chunk.size() : lf + 1;
            if (capturing) {
                capture.append(chunk.substr(pos, next - pos));
                if (kept.size() + capture.size() > options.max_kept_bytes) return over_cap();
            }
            if (!watch_line_cut) {
                std::size_t room = kMax - watch_line.size();
                std::size_t n = stop - pos;
                watch_line.append(chunk.substr(pos, n < room ? n : room));
                if (n > room) {  // longer than kMax: pass on its start, whatever the chunking
                    watch_line_cut = true;
                    watched(watch_line, true, false);
                    watch_line.clear();
                }
            }
            pos = next;
            if (lf == std::string_view::npos) return;
            if (!watch_line_cut) {
                std::string_view content(watch_line);
                if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
                watched(content, false, true);
            }
            watch_line.clear();
            watch_line_cut = false;
        }
    }

    // One line while watching; watch_line holds its bytes (unless cut),
    // which is what to keep if it opens a part. `ended`: it ended in LF.
    void watched(std::string_view content, bool cut, bool ended) {
        const ScanOutcome& o = multipart->line(content, 0, 0);
        const auto& ev = multipart->watch_events();
        if ((ev.part_opened || ev.top_close) && cut) {
            // A delimiter line longer than 4 KiB of padding: not worth the trouble.
            outcome.unchanged(o.decided() ? o.kind : top.kind, "cannot parse: overlong delimiter line", true);
            return release();
        }
        if (ev.keep) tail_kept = true;
        if (ev.drop && !tail_kept) {
            capturing = false;
            capture.clear();
        }
        if (ev.part_opened && !capturing) {
            capturing = true;
            capture.assign(watch_line);  // a delimiter line, never cut
            if (ended) capture += '\n';
        }
        if (ev.top_close && tail_kept) {
            // The rewrite writes the close delimiter anew; the line break
            // before it belongs to it (RFC 2046 5.1.1).
            capture.resize(capture.size() - watch_line.size() - (ended ? 1 : 0));
            if (!capture.empty() && capture.back() == '\n') capture.pop_back();
            if (!capture.empty() && capture.back() == '\r') capture.pop_back();
        }
        if (o.decided()) decide(o);
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
        if (watching) {
            watch(chunk);
            return !outcome.decided();
        }
        // Keep at most the cap: whether the bytes the decision needs fit is then
        // the same however the body was chunked.
        std::size_t room = options.max_kept_bytes - kept.size();
        std::size_t take = chunk.size() < room ? chunk.size() : room;
        kept.append(chunk.substr(0, take));
        scan_lines();
        if (watching && !outcome.decided()) watch(chunk.substr(take));
        if (!outcome.decided() && !watching && body_bytes > options.max_kept_bytes) over_cap();
        return !outcome.decided();
    }

    void end_of_body() {
        if (!headers_done) classify();
        if (outcome.decided()) return;
        if (watching) {
            if (!watch_line.empty() && !watch_line_cut) {
                std::string_view content(watch_line);
                if (content.back() == '\r') content.remove_suffix(1);
                watched(content, false, false);
                if (outcome.decided()) return;
            }
            const ScanOutcome& o = multipart->end_of_body();
            if (multipart->watch_events().keep) tail_kept = true;
            return decide(o);
        }
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
        r.evidence = evidence().text();
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
            // After a kept tail (a report part after the returned one), the
            // multiparts still open are closed; otherwise all of them.
            std::string closing = tail_kept ? multipart->closing_open_levels() : multipart->closing();
            std::size_t tail = tail_kept ? 2 + capture.size() : 0;
            if (prefix + part.text.size() + tail + closing.size() > options.max_kept_bytes + kRewriteSlackBytes) {
                over_cap();
                return result(whole_body_seen);
            }
            kept.resize(prefix);
            kept += part.text;
            if (tail_kept) {
                kept += "\r\n";
                kept += capture;
            }
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
