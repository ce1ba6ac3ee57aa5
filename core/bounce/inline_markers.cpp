// inline_markers: see inline_markers.hpp.
#include "core/bounce/inline_markers.hpp"

#include <array>
#include <cstring>

namespace rcptguard::bounce {
namespace {

// Phrases as normalise_marker_line() leaves them. The distinctive ones
// (qmail's and Exim's wording) identify a bounce on their own; "original
// message" also opens quoted replies ("-----Original Message-----"), so the
// generic ones count only in a message whose From/Subject say "bounce".
constexpr std::array<InlineMarker, 17> kMarkers{{
    {"inline-qmail", "below this line is a copy of the message", false, false},
    {"inline-exim", "this is a copy of the message, including all the headers", false, false},
    {"inline-exim", "this is a copy of your message, including all the headers", false, false},
    {"inline-exim", "this is a copy of the message's headers", true, false},
    {"inline-exim", "this is a copy of your message's headers", true, false},
    {"inline-generic", "original message", false, true},
    {"inline-sendmail", "unsent message follows", false, true},
    {"inline-sendmail", "message header follows", true, true},
    {"inline-generic", "original message follows", false, true},
    {"inline-generic", "message text follows", false, true},
    {"inline-lotus", "returned message", false, true},
    {"inline-opensmtpd", "below is a copy of the original message", false, true},
    {"inline-generic", "the header of the original message is following", true, true},
    {"inline-generic", "message headers follow", true, true},
    {"inline-generic", "included is a copy of the message header", true, true},
    {"inline-generic", "original message headers", true, true},
    {"inline-generic", "headers of the original message", true, true},
}};

bool decoration(char c) { return c == '-' || c == '=' || c == '|' || c == '*' || c == ' ' || c == '\t'; }

}  // namespace

std::string_view normalise_marker_line(std::string_view line, char* scratch, std::size_t scratch_size) {
    while (!line.empty() && decoration(line.front())) line.remove_prefix(1);
    while (!line.empty() && decoration(line.back())) line.remove_suffix(1);
    if (!line.empty() && (line.back() == '.' || line.back() == ':')) line.remove_suffix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.size() > scratch_size) return {};
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        scratch[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return {scratch, line.size()};
}

const InlineMarker* match_inline_marker(std::string_view line) {
    // Markers are short; anything long is text, and skipping it early keeps
    // the scan cheap on large non-bounce bodies.
    if (line.size() > 160) return nullptr;
    char buf[160];
    std::string_view n = normalise_marker_line(line, buf, sizeof buf);
    if (n.empty()) return nullptr;
    for (const InlineMarker& m : kMarkers)
        if (n == m.phrase) return &m;
    return nullptr;
}

}  // namespace rcptguard::bounce
