// failure_text: recognises the explanation a bounce gives in words: "could
// not be delivered", "user unknown", "550 5.1.1", and the same in the
// languages localised MTAs write (German, French, Spanish, Italian, Dutch,
// Portuguese). It is one clue among several (bounce_evidence.hpp): it makes a
// multipart/mixed or a multipart/report without report-type, or a generic
// inline marker, count as a bounce, and is only ever looked for in the
// explanation, never in a returned message.
// Bounded: only the first kMaxScannedBytes of text are looked at, so the
// answer depends on the text alone, not on its size or how it was fed.
// Thread-safety: one FailureText per part; not thread-safe.
// Failure: cannot fail; found() stays false for text that names no failure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rcptguard::bounce {

// True if one folded line (text_fold.hpp) says delivery failed.
bool line_names_failure(std::string_view folded_line);

class FailureText {
public:
    static constexpr std::size_t kMaxScannedBytes = 64 * 1024;
    static constexpr std::size_t kMaxLineBytes = 1000;

    // One decoded line of the explanation, without its line break.
    void line(std::string_view text);
    bool found() const { return found_; }

private:
    bool found_ = false;
    std::size_t scanned_ = 0;
    std::string folded_;
};

}  // namespace rcptguard::bounce
