// address: turns an envelope address as an MTA hands it to us into the one
// canonical form every backend is queried with, and lists the lookup keys.
//
// Accepts what Postfix and Sendmail pass in milter argv[0]: "<a@b>", "a@b"
// (Postfix's non-SMTP path), "<>" or "" (null sender), "<@r1,@r2:a@b>" (RFC 5321
// source route, dropped), quoted local parts ("john doe"@x), UTF-8 (RFC 6531).
//
// Canonical form, the one every comparison and every lookup key uses:
// - Domain: without a trailing dot, in ASCII: an internationalised domain
//   name (IDN, RFC 5890) in its A-label form ("xn--bcher-kva.test"), whether
//   it was written with U-labels ("Bücher.test", NFC or NFD) or A-labels in
//   any case. The conversion is IDNA2008 with the UTS #46 non-transitional
//   mapping (libidn2, as Postfix >= 3.2 and current browsers do it): "ß" and
//   the final sigma "ς" are kept, so straße.de and strasse.de are two
//   domains. Plain ASCII labels are lower-cased as they are ('_' allowed). A
//   domain that cannot be converted (a disallowed character, a broken
//   A-label) is invalid. unicode_domain() gives the U-label form for display
//   and for stores that hold that form.
// - Local part: unquoted when quoting is not needed; with fold_local_case,
//   ASCII letters lower-cased and a local part holding UTF-8 given full
//   Unicode case folding and NFC (libunistring's u8_casefold: "ÜSER" and
//   "üser" are one mailbox, so are "Straße" and "STRASSE", and "Σ", "σ", "ς");
//   without it, the bytes as written.
// Stored entries (files, rcptguard-ctl) use the same functions, so the daemon
// and the tools always agree.
//
// Thread-safety: pure functions (libidn2 and libunistring keep no state).
// Errors are values (AddressStatus), never exceptions: hostile input yields
// Invalid with a reason.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

// RFC 5321 4.5.3.1.3: a path is at most 256 octets including the brackets.
constexpr std::size_t kMaxAddressLength = 254;

struct AddressOptions {
    bool fold_local_case = true;             // local_part_case = insensitive
    std::string recipient_delimiters = "+";  // any of these chars starts +detail; empty = off
};

enum class AddressStatus {
    Mailbox,    // local@domain
    Null,       // <> or ""
    LocalOnly,  // no domain, e.g. <postmaster>
    Invalid,    // syntax error (see error)
};

struct Address {
    AddressStatus status = AddressStatus::Invalid;
    std::string local;     // canonical local part
    std::string domain;    // canonical domain; for Invalid: best guess (after the last '@'), see parse_address
    std::string original;  // input without the surrounding <>
    std::string error;     // why it is Invalid

    std::string canonical() const;  // local@domain, or local for LocalOnly
};

// For an Invalid address whose domain is an invalid IDN, domain is still the
// best guess (the labels that convert in canonical form, the others
// lower-cased), so that "user@☃.bücher.test" is known to be under bücher.test
// and gets a syntax error, not "not ours".
Address parse_address(std::string_view raw, const AddressOptions& opts);

// The address as the MTA passed it, without surrounding blanks and one
// balanced pair of angle brackets ("<a@b>" -> "a@b"); for replies and logs.
std::string_view without_brackets(std::string_view raw);

// The canonical domain of a domain string (see above: A-labels, lower case,
// trailing dot dropped; an address literal "[...]" lower-cased as written),
// or "" if it is not a valid domain, with *error (if given) saying why.
std::string canonical_domain(std::string_view domain, std::string* error = nullptr);

// The U-label form of a canonical domain ("bücher.test" for
// "xn--bcher-kva.test"), for display and for lookups in stores that hold that
// form; the domain itself when it has no A-label.
std::string unicode_domain(std::string_view canonical);

// The address's domain in the form its writer used: the U-label form if the
// domain was written with non-ASCII characters, else the canonical form.
// Used where rcptguard writes an address back (BATV), so a UTF-8 address
// stays UTF-8 and an ASCII one ASCII.
std::string domain_as_written(const Address& a);

// Keys to look up, most specific first: the full address, the address without
// its +detail (if there is one), then the "@domain" catch-all. When the
// domain has IDN labels, each key is followed by the same key with the
// U-label domain, so a store holding either form answers:
// jörg@xn--bcher-kva.test, jörg@bücher.test, @xn--bcher-kva.test, @bücher.test.
// At most kMaxLookupKeys of them (an IDN address with a +detail: three keys in
// two forms each); stores that ask for all keys in one statement prepare one
// per count up to this.
constexpr std::size_t kMaxLookupKeys = 6;
std::vector<std::string> lookup_keys(const Address& a, const AddressOptions& opts);

// The forms a store may hold a canonical entry ("user@domain" or "@domain")
// in: the entry itself, then, when its domain has IDN labels, the entry with
// the U-label domain.
std::vector<std::string> entry_forms(std::string_view canonical_entry);

// The local part without +detail (the whole local part if there is none).
std::string strip_detail(std::string_view local, std::string_view delimiters);

// RFC 5321 4.5.1: "postmaster" (any case) must always be accepted.
bool is_postmaster(const Address& a);

// Normalises one stored entry: "user@domain" or the catch-all "@domain".
// Returns "" and sets *error for anything else.
std::string normalize_entry(std::string_view text, const AddressOptions& opts, std::string* error);

}  // namespace rcptguard
