// header_block: collects the header block at the start of a returned
// original, one line at a time, and tells whether a body follows it. Header
// lines end at the first empty line, or at the first line that is neither a
// field nor a continuation (that line is the start of the body, as in
// Python's email parser and most MUAs). A leading mbox "From " line is
// envelope, not header, and is dropped.
// Thread-safety: a value type; one per returned part.
// Failure: cannot fail; a block that does not start with a field is reported
// as Event::NoHeaders. Lines are copied, so the caller's buffer may move.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rcptguard::bounce {

class HeaderBlockCollector {
public:
    enum class Event {
        Continue,         // keep feeding lines
        BlockEndedBlank,  // this empty line ended the header block (it belongs to the block)
        BodyStarts,       // the header block ended before this line, which starts a non-empty body
        HasBody,          // a non-empty line after the block: the original has a body
        NoHeaders,        // the first line is not a header field
    };
    // skip_leading_blank_lines: for inline copies, where blank lines separate
    // the marker from the copy; a message/rfc822 part must start with a field.
    explicit HeaderBlockCollector(bool skip_leading_blank_lines) : skip_leading_blank_(skip_leading_blank_lines) {}

    // Feeds one line without its line terminator.
    Event line(std::string_view content);

    bool block_ended() const { return state_ == State::AfterBlock; }
    // The header lines collected, each ending in CRLF.
    const std::string& block() const { return block_; }
    std::size_t field_count() const { return fields_; }

private:
    enum class State { Start, InBlock, AfterBlock };
    bool skip_leading_blank_;
    State state_ = State::Start;
    std::string block_;
    std::size_t fields_ = 0;
};

}  // namespace rcptguard::bounce
