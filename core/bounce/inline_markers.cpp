// inline_markers: see inline_markers.hpp.
#include "core/bounce/inline_markers.hpp"

#include <array>
#include <string>

#include "core/bounce/text_fold.hpp"

namespace rcptguard::bounce {
namespace {

// Phrases as normalise_marker_line() leaves them. The distinctive ones
// (qmail's and Exim's wording) identify a bounce on their own; "original
// message" also opens quoted replies ("-----Original Message-----"), so the
// generic ones count only in a message that shows a second clue.
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

constexpr InlineMarker kQmailVariant{"inline-qmail", "qmail variant", false, true, true};
constexpr InlineMarker kQmailHeadersVariant{"inline-qmail", "qmail variant, headers only", true, true, true};
constexpr InlineMarker kEximVariant{"inline-exim", "Exim variant", false, true, true};
constexpr InlineMarker kEximHeadersVariant{"inline-exim", "Exim variant, headers only", true, true, true};
constexpr InlineMarker kGenericVariant{"inline-generic", "original message variant", false, true, true};
constexpr InlineMarker kGenericHeadersVariant{"inline-generic", "original headers variant", true, true, true};

bool decoration(char c) { return c == '-' || c == '=' || c == '|' || c == '*' || c == ' ' || c == '\t'; }

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

template <std::size_t N>
bool contains_any(std::string_view s, const std::array<std::string_view, N>& needles) {
    for (std::string_view n : needles)
        if (contains(s, n)) return true;
    return false;
}

// qmail's and Exim's markers open with a rule: "--- ", "------ ".
bool starts_with_rule(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t rule = 0;
    while (i + rule < line.size() &&
           (line[i + rule] == '-' || line[i + rule] == '=' || line[i + rule] == '*' || line[i + rule] == '|'))
        ++rule;
    return rule >= 2;
}

// The folded line without its decoration and without one final '.' or ':'.
std::string_view undecorated(std::string_view s) {
    while (!s.empty() && decoration(s.front())) s.remove_prefix(1);
    while (!s.empty() && decoration(s.back())) s.remove_suffix(1);
    if (!s.empty() && (s.back() == '.' || s.back() == ':')) s.remove_suffix(1);
    while (!s.empty() && decoration(s.back())) s.remove_suffix(1);
    return s;
}

// Words saying the copy is complete ("including all the headers") or only
// the headers, in the languages below.
constexpr std::array<std::string_view, 12> kIncluding{"includ",   "inklusive", "einschl",   "compris",
                                                      "incluy",   "inclu",     "con tutte", "inclusief",
                                                      "met alle", "com todos", "avec tous", "mit allen"};
constexpr std::array<std::string_view, 8> kHeaderWords{"header",   "kopfzeile",  "en-tete",     "entete",
                                                       "cabecera", "encabezado", "intestazion", "cabecalho"};

// qmail: "Below this line is a copy of the message", also "... the original
// message", "... the original bounce", "Below the next line is ...".
const InlineMarker* qmail_variant(std::string_view s) {
    for (std::string_view lead : {"below this line is ", "below the next line is "}) {
        if (!starts_with(s, lead)) continue;
        std::string_view rest = s.substr(lead.size());
        if (contains(rest, "header")) return &kQmailHeadersVariant;
        if (contains(rest, "message") || contains(rest, "original") || contains(rest, "bounce") ||
            contains(rest, "mail"))
            return &kQmailVariant;
    }
    return nullptr;
}

// Exim: "This is a copy of the message, including all the headers", cut
// short or translated.
const InlineMarker* exim_variant(std::string_view s) {
    // Exim's own text and the translations administrators put in its
    // bounce_message_file. Letters outside ISO-8859-1 are not folded, so the
    // Cyrillic and Polish ones are written as they arrive (UTF-8).
    static constexpr std::array<std::string_view, 26> kLeads{
        "this is a copy of the message",
        "this is a copy of your message",
        "dies ist eine kopie der nachricht",
        "dies ist eine kopie ihrer nachricht",
        "ceci est une copie du message",
        "ceci est une copie de votre message",
        "voici une copie du message",
        "esta es una copia del mensaje",
        "esta es una copia de su mensaje",
        "questa e una copia del messaggio",
        "dit is een kopie van het bericht",
        "dit is een kopie van uw bericht",
        "esta e uma copia da mensagem",
        "esta e uma copia da sua mensagem",
        "detta ar en kopia av meddelandet",
        "dette er en kopi af meddelelsen",
        "dette er en kopi av meldingen",
        "tama on kopio viestista",
        "toto je kopie zpravy",
        "to jest kopia wiadomo",
        "\xD1\x8D\xD1\x82\xD0\xBE \xD0\xBA\xD0\xBE\xD0\xBF\xD0\xB8\xD1\x8F "
        "\xD1\x81\xD0\xBE\xD0\xBE\xD0\xB1\xD1\x89\xD0\xB5\xD0\xBD\xD0\xB8\xD1\x8F",  // "это копия сообщения"
        "\xD0\xAD\xD1\x82\xD0\xBE \xD0\xBA\xD0\xBE\xD0\xBF\xD0\xB8\xD1\x8F "
        "\xD1\x81\xD0\xBE\xD0\xBE\xD0\xB1\xD1\x89\xD0\xB5\xD0\xBD\xD0\xB8\xD1\x8F",  // "Это копия сообщения"
        "this is a copy of the original message",
        "this is a copy of your original message",
        "this is the original message",
        "this is your original message",
    };
    for (std::string_view lead : kLeads) {
        if (!starts_with(s, lead)) continue;
        std::string_view rest = s.substr(lead.size());
        if (lead == "to jest kopia wiadomo") {  // "wiadomości", its "ś" not folded
            if (starts_with(rest,
                            "\xC5\x9B"
                            "ci"))
                rest.remove_prefix(4);
            else if (starts_with(rest, "sci"))
                rest.remove_prefix(3);
            else
                continue;
        }
        // Another word goes on ("... the messages", "... the message log"): not this marker.
        if (!rest.empty() && rest.front() != ',' && rest.front() != ' ' && rest.front() != '\'') continue;
        if (!contains_any(rest, kIncluding) && contains_any(rest, kHeaderWords)) return &kEximHeadersVariant;
        return &kEximVariant;
    }
    return nullptr;
}

// "[lead] noun [tail]" as the whole line: "The original message follows",
// "Below is a copy of your original message", "Original mail below", "The
// following is a copy of the message that could not be delivered".
const InlineMarker* generic_variant(std::string_view s) {
    static constexpr std::array<std::string_view, 23> kLeads{
        "",
        "the ",
        "your ",
        "a copy of the ",
        "a copy of your ",
        "copy of the ",
        "copy of your ",
        "here is a copy of the ",
        "here is a copy of your ",
        "here is the ",
        "here is your ",
        "below is the ",
        "below is your ",
        "below is a copy of the ",
        "below is a copy of your ",
        "below this line is the ",
        "below this line is a copy of the ",
        "below this line is a copy of your ",
        "following is the ",
        "following is a copy of the ",
        "the following is the ",
        "the following is a copy of the ",
        "the following is a copy of your ",
    };
    static constexpr std::array<std::string_view, 10> kNouns{
        "original message", "original mail",       "original e-mail",       "original email", "returned message",
        "returned mail",    "undelivered message", "undeliverable message", "unsent message", "original message text",
    };
    // Only after a lead that says "a copy of": "A copy of your message follows".
    static constexpr std::array<std::string_view, 4> kCopyNouns{"message", "mail", "e-mail", "email"};
    static constexpr std::array<std::string_view, 6> kHeaderNouns{
        "original headers",      "original message headers",        "original message header",
        "original mail headers", "headers of the original message", "header of the original message",
    };
    static constexpr std::array<std::string_view, 19> kTails{
        "",
        " follows",
        " follows below",
        " below",
        " is below",
        " is included below",
        " is enclosed below",
        " is quoted below",
        " is appended below",
        " as follows",
        " is as follows",
        " follow",
        " was",
        " that could not be delivered",
        " that was not delivered",
        " which could not be delivered",
        " that could not be sent",
        " that could not be delivered follows",
        " that was not delivered follows",
    };
    auto tail_ok = [&](std::string_view after_lead, std::string_view noun) {
        if (!starts_with(after_lead, noun)) return false;
        std::string_view tail = after_lead.substr(noun.size());
        for (std::string_view t : kTails)
            if (tail == t) return true;
        return false;
    };
    for (std::string_view lead : kLeads) {
        if (!starts_with(s, lead)) continue;
        std::string_view after_lead = s.substr(lead.size());
        for (std::string_view noun : kNouns)
            if (tail_ok(after_lead, noun)) return &kGenericVariant;
        if (contains(lead, "copy of"))
            for (std::string_view noun : kCopyNouns)
                if (tail_ok(after_lead, noun)) return &kGenericVariant;
        for (std::string_view noun : kHeaderNouns)
            if (tail_ok(after_lead, noun)) return &kGenericHeadersVariant;
    }
    return nullptr;
}

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

    std::string folded;
    fold_text_line(line, &folded);
    std::string_view s = undecorated(folded);
    if (s.empty()) return nullptr;
    if (starts_with_rule(line)) {
        if (const InlineMarker* m = qmail_variant(s)) return m;
        if (const InlineMarker* m = exim_variant(s)) return m;
    }
    return generic_variant(s);
}

}  // namespace rcptguard::bounce
