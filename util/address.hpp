// address: turns an envelope address as an MTA hands it to us into the one
// canonical form every backend is queried with, and lists the lookup keys.
//
// Accepts what Postfix and Sendmail pass in milter argv[0]: "<a@b>", "a@b"
// (Postfix's non-SMTP path), "<>" or "" (null sender), "<@r1,@r2:a@b>" (RFC 5321
// source route, dropped), quoted local parts ("john doe"@x), UTF-8 (RFC 6531).
// Canonical form: domain lower-cased (ASCII) without a trailing dot; local part
// unquoted when quoting is not needed, case-folded (ASCII) unless configured
// case-sensitive. Stored entries (files, rcptguard-ctl) use the same function, so
// the daemon and the tools always agree.
//
// Thread-safety: pure functions. Errors are values (AddressStatus), never
// exceptions: hostile input yields Invalid with a reason.
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
    std::string domain;    // canonical domain; for Invalid: best guess (after the last '@')
    std::string original;  // input without the surrounding <>
    std::string error;     // why it is Invalid

    std::string canonical() const;  // local@domain, or local for LocalOnly
};

Address parse_address(std::string_view raw, const AddressOptions& opts);

// The address as the MTA passed it, without surrounding blanks and one
// balanced pair of angle brackets ("<a@b>" -> "a@b"); for replies and logs.
std::string_view without_brackets(std::string_view raw);

// The canonical domain of a domain string (lower-cased, trailing dot dropped),
// or "" if it is not a syntactically valid domain.
std::string canonical_domain(std::string_view domain);

// Keys to look up, most specific first: the full address, the address without
// its +detail (if there is one), then the "@domain" catch-all.
std::vector<std::string> lookup_keys(const Address& a, const AddressOptions& opts);

// The local part without +detail (the whole local part if there is none).
std::string strip_detail(std::string_view local, std::string_view delimiters);

// RFC 5321 4.5.1: "postmaster" (any case) must always be accepted.
bool is_postmaster(const Address& a);

// Normalises one stored entry: "user@domain" or the catch-all "@domain".
// Returns "" and sets *error for anything else.
std::string normalize_entry(std::string_view text, const AddressOptions& opts, std::string* error);

}  // namespace rcptguard
