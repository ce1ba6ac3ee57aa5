// prvs: BATV "simple private signature" tags (draft-levine-smtp-batv-01):
//   prvs=KDDDSSSSSS=loc-core@domain      (the draft's form)
//   loc-core+prvs=KDDDSSSSSS@domain      (sub-address form, survives Postfix's
//                                         smtpd_reject_unlisted_recipient)
// K is the key number (0-9), DDD the expiry day (days since 1970-01-01, modulo
// 1000) and SSSSSS the first three bytes, in hex, of HMAC-SHA1(key, "KDDD" +
// "loc-core@domain"), the address in rcptguard's canonical form (lower-case
// domain, local part folded as configured) so signer and verifier agree.
// HMAC-SHA1 comes from OpenSSL's libcrypto (a well-kept implementation beats a
// hand-written one); the comparison is constant-time.
// Thread-safety: pure functions over immutable keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

struct BatvKey {
    int number = 0;      // K: 0-9
    std::string secret;  // never logged
};

// Keys by number; the signing key is the one added last (see batv_keys.hpp).
struct BatvKeyRing {
    std::vector<BatvKey> keys;
    const BatvKey* signing() const { return keys.empty() ? nullptr : &keys.back(); }
    const BatvKey* find(int number) const;
};

enum class TagForm { Prefix, Subaddress };

// Days since 1970-01-01 for a Unix time.
std::int64_t batv_day(std::int64_t unix_seconds);

// The ten characters KDDDSSSSSS for a canonical address ("loc-core@domain").
std::string prvs_tag(const BatvKey& key, std::int64_t today, unsigned lifetime_days, std::string_view address);

// A recipient split into its tag and the plain address it stands for.
struct TaggedAddress {
    std::string tag;         // "KDDDSSSSSS" as written (any case); "" if untagged
    std::string plain;       // canonical plain address (local@domain)
    bool malformed = false;  // looks like a prvs tag but is not a valid one
};

// Splits a canonical address; recognises both forms whatever form we sign with.
TaggedAddress split_prvs(std::string_view canonical_local, std::string_view domain, char subaddress_delimiter);

// The tagged form of a canonical sender, or nullopt if it must not be tagged:
// quoted local part, already tagged, or a local part that would exceed the 64
// octets RFC 5321 4.5.3.1.1 allows.
std::optional<std::string> tagged_sender(std::string_view local, std::string_view domain, const std::string& tag,
                                         TagForm form, char subaddress_delimiter);

enum class TagCheck { Valid, Expired, BadSignature, UnknownKey, Malformed };
const char* to_string(TagCheck c);

TagCheck check_prvs(const std::string& tag, std::string_view plain_address, const BatvKeyRing& keys, std::int64_t today,
                    unsigned lifetime_days);

}  // namespace rcptguard
