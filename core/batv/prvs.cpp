// prvs: see prvs.hpp.
#include "core/batv/prvs.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/text.hpp"

namespace rcptguard {

namespace {

std::string hmac3_hex(const std::string& secret, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    for (int i = 0; i < 3; ++i) {
        hex.push_back(kHex[out[i] >> 4]);
        hex.push_back(kHex[out[i] & 15]);
    }
    OPENSSL_cleanse(out, sizeof out);
    return hex;
}

std::string ddd(unsigned day) {
    std::string s = std::to_string(day % 1000);
    return std::string(3 - s.size(), '0') + s;
}

bool is_tag(std::string_view t) {
    if (t.size() != 10) return false;
    for (std::size_t i = 0; i < 4; ++i)
        if (t[i] < '0' || t[i] > '9') return false;
    for (std::size_t i = 4; i < 10; ++i) {
        char c = t[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    }
    return true;
}

}  // namespace

const BatvKey* BatvKeyRing::find(int number) const {
    for (const auto& k : keys)
        if (k.number == number) return &k;
    return nullptr;
}

std::int64_t batv_day(std::int64_t unix_seconds) {
    return unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
}

std::string prvs_tag(const BatvKey& key, std::int64_t today, unsigned lifetime_days, std::string_view address) {
    unsigned expiry = static_cast<unsigned>(((today + lifetime_days) % 1000 + 1000) % 1000);
    std::string head = std::to_string(key.number) + ddd(expiry);
    std::string source = head + std::string(address);
    return head + hmac3_hex(key.secret, source);
}

TaggedAddress split_prvs(std::string_view local, std::string_view domain, char delim) {
    TaggedAddress t;
    std::string d(domain);
    // Prefix form: prvs=KDDDSSSSSS=loc-core
    if (starts_with_icase(local, "prvs=")) {
        std::string_view rest = local.substr(5);
        auto eq = rest.find('=');
        if (eq != std::string_view::npos && is_tag(rest.substr(0, eq)) && eq + 1 < rest.size()) {
            t.tag = std::string(rest.substr(0, eq));
            t.plain = std::string(rest.substr(eq + 1)) + "@" + d;
        } else {
            t.malformed = true;
            t.plain = std::string(local) + "@" + d;
        }
        return t;
    }
    // Sub-address form: loc-core+prvs=KDDDSSSSSS
    if (delim) {
        std::string marker = std::string(1, delim) + "prvs=";
        auto pos = std::string_view::npos;
        for (std::size_t i = 0; i + marker.size() <= local.size(); ++i)
            if (starts_with_icase(local.substr(i), marker)) pos = i;
        if (pos != std::string_view::npos && pos > 0) {
            std::string_view tag = local.substr(pos + marker.size());
            if (is_tag(tag)) {
                t.tag = std::string(tag);
                t.plain = std::string(local.substr(0, pos)) + "@" + d;
            } else {
                t.malformed = true;
                t.plain = std::string(local) + "@" + d;
            }
            return t;
        }
    }
    t.plain = std::string(local) + "@" + d;
    return t;
}

std::optional<std::string> tagged_sender(std::string_view local, std::string_view domain, const std::string& tag,
                                         TagForm form, char delim) {
    if (local.empty() || local.front() == '"') return std::nullopt;
    if (starts_with_icase(local, "prvs=")) return std::nullopt;
    if (delim && to_lower_ascii(local).find(std::string(1, delim) + "prvs=") != std::string::npos) return std::nullopt;
    std::string tagged =
        form == TagForm::Prefix ? "prvs=" + tag + "=" + std::string(local) : std::string(local) + delim + "prvs=" + tag;
    if (tagged.size() > 64) return std::nullopt;
    return tagged + "@" + std::string(domain);
}

const char* to_string(TagCheck c) {
    switch (c) {
        case TagCheck::Valid: return "valid";
        case TagCheck::Expired: return "expired";
        case TagCheck::BadSignature: return "bad signature";
        case TagCheck::UnknownKey: return "unknown key number";
        case TagCheck::Malformed: return "malformed tag";
    }
    return "malformed tag";
}

TagCheck check_prvs(const std::string& tag, std::string_view plain, const BatvKeyRing& keys, std::int64_t today,
                    unsigned lifetime_days) {
    if (!is_tag(tag)) return TagCheck::Malformed;
    int k = tag[0] - '0';
    const BatvKey* key = keys.find(k);
    if (!key) return TagCheck::UnknownKey;
    std::string head = tag.substr(0, 4);
    std::string want = hmac3_hex(key->secret, head + std::string(plain));
    std::string got = to_lower_ascii(tag.substr(4));
    bool same = CRYPTO_memcmp(want.data(), got.data(), 6) == 0;
    if (!same) return TagCheck::BadSignature;
    // The expiry day lies between today and today + lifetime (mod 1000).
    unsigned expiry = static_cast<unsigned>(std::stoi(tag.substr(1, 3)));
    long long ahead = ((static_cast<long long>(expiry) - today) % 1000 + 1000) % 1000;
    if (ahead > static_cast<long long>(lifetime_days)) return TagCheck::Expired;
    return TagCheck::Valid;
}

}  // namespace rcptguard
