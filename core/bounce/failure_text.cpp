// failure_text: see failure_text.hpp.
#include "core/bounce/failure_text.hpp"

#include "core/bounce/text_fold.hpp"

namespace rcptguard::bounce {
namespace {

// Folded phrases. Each says that a message was not delivered; none is
// something an ordinary message would say about itself. Words an MTA uses in
// passing ("error", "failed", "returned") are not enough on their own.
constexpr const char* kPhrases[] = {
    // English
    "could not be delivered",
    "couldn't be delivered",
    "could not deliver",
    "couldn't deliver",
    "cannot be delivered",
    "can't be delivered",
    "was not delivered",
    "were not delivered",
    "not be delivered",
    "unable to deliver",
    "not able to deliver",
    "wasn't able to deliver",
    "failed to deliver",
    "undeliverable",
    "undelivered mail",
    "delivery failed",
    "delivery has failed",
    "delivery failure",
    "delivery to the following",
    "failed permanently",
    "permanent error",
    "permanent failure",
    "permanent fatal error",
    "could not be reached",
    "user unknown",
    "unknown user",
    "no such user",
    "no such recipient",
    "no such mailbox",
    "mailbox unavailable",
    "mailbox not found",
    "recipient address rejected",
    "non-delivery",
    "nondelivery",
    "message could not be sent",
    // German
    "nicht zugestellt",
    "unzustellbar",
    "zustellung fehlgeschlagen",
    "nicht ausgeliefert",
    "unbekannter empfanger",
    // French
    "n'a pas pu etre remis",
    "n'a pas pu etre delivre",
    "n'a pas pu etre distribue",
    "non remis",
    "echec de la remise",
    "impossible de remettre",
    "impossible de delivrer",
    "non distribuable",
    // Spanish
    "no pudo ser entregado",
    "no se pudo entregar",
    "no ha podido ser entregado",
    "no ha podido entregarse",
    "imposible entregar",
    "no entregado",
    // Italian
    "non recapitabile",
    "non e stato recapitato",
    "non e stato possibile recapitare",
    "impossibile recapitare",
    "mancato recapito",
    "non consegnato",
    // Dutch
    "onbestelbaar",
    "niet afgeleverd",
    "kon niet worden afgeleverd",
    "niet bezorgd",
    // Portuguese
    "nao foi entregue",
    "nao pode ser entregue",
    "nao foi possivel entregar",
    "falha na entrega",
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "5.1.1" etc. at s[i]: RFC 3463 class 5 (permanent), subject 0-7, detail 0-999.
bool enhanced_status_at(std::string_view s, std::size_t i) {
    if (i + 5 > s.size() || s[i] != '5' || s[i + 1] != '.' || s[i + 2] < '0' || s[i + 2] > '7' || s[i + 3] != '.' ||
        !is_digit(s[i + 4]))
        return false;
    std::size_t end = i + 5;
    while (end < s.size() && end < i + 7 && is_digit(s[end])) ++end;
    return end == s.size() || !is_digit(s[end]);
}

// An SMTP permanent failure as bounces quote it: a 5xx reply code followed by
// an enhanced status code ("550 5.1.1", "554-5.7.1"), or qmail's "#5.1.1".
bool names_smtp_failure(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        bool starts_word = i == 0 || !is_digit(s[i - 1]);
        if (s[i] == '#' && enhanced_status_at(s, i + 1)) return true;
        if (starts_word && s[i] == '5' && i + 4 < s.size() && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
            (s[i + 3] == ' ' || s[i + 3] == '-') && enhanced_status_at(s, i + 4))
            return true;
    }
    return false;
}

}  // namespace

bool line_names_failure(std::string_view folded_line) {
    for (std::string_view p : kPhrases)
        if (folded_line.find(p) != std::string_view::npos) return true;
    return names_smtp_failure(folded_line);
}

void FailureText::line(std::string_view text) {
    if (found_ || scanned_ >= kMaxScannedBytes) return;
    if (text.size() > kMaxLineBytes) text = text.substr(0, kMaxLineBytes);
    scanned_ += text.size() + 1;
    fold_text_line(text, &folded_);
    found_ = line_names_failure(folded_);
}

}  // namespace rcptguard::bounce
