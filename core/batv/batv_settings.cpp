// batv_settings: see batv_settings.hpp.
#include "core/batv/batv_settings.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/address.hpp"
#include "util/text.hpp"

namespace rcptguard {

std::string parse_batv_keys(const std::string& text, const std::string& path, BatvKeyRing* out) {
    std::string problem;
    for_each_line(text, [&](std::string_view line, int n) {
        std::string_view t = trim(line);
        if (t.empty() || t.front() == '#') return true;
        auto sp = t.find_first_of(" \t");
        std::string_view k = t.substr(0, sp);
        std::string_view secret = sp == std::string_view::npos ? std::string_view() : trim(t.substr(sp));
        std::string where = path + ":" + std::to_string(n) + ": ";
        if (k.size() != 1 || k[0] < '0' || k[0] > '9')
            problem = where + "expected a key number 0-9, then the secret";
        else if (secret.size() < 16 || secret.find_first_of(" \t") != std::string_view::npos)
            problem = where + "the secret must be at least 16 characters without blanks";
        else if (out->find(k[0] - '0'))
            problem = where + "key number " + std::string(k) + " used twice";
        if (!problem.empty()) return false;
        int number = k[0] - '0';
        out->keys.push_back({number, std::string(secret)});
        return true;
    });
    if (!problem.empty()) return problem;
    if (out->keys.empty()) return path + ": no keys (lines \"K SECRET\")";
    return "";
}

BatvSettings read_batv_settings(SectionReader& r, const std::string& delimiters) {
    BatvSettings s;
    std::vector<std::string> domains = r.list("batv_domains", {});
    s.enabled = !domains.empty();
    if (std::string e = build_domain_set(domains, &s.domains); !e.empty()) r.error("batv_domains", e);
    std::string key_file = r.string("batv_key_file", "");
    s.lifetime_days = static_cast<unsigned>(
        r.duration("batv_lifetime", std::chrono::hours(24 * 7), std::chrono::hours(24), std::chrono::hours(24 * 100))
            .count() /
        86400000);
    s.enforce = r.choice("batv_mode", "monitor", {"monitor", "enforce"}) == "enforce";
    s.sign = r.boolean("batv_sign", s.sign);
    std::string form = r.choice("batv_tag_form", "prefix", {"prefix", "subaddress"});
    s.form = form == "prefix" ? TagForm::Prefix : TagForm::Subaddress;
    if (s.form == TagForm::Subaddress && delimiters.empty())
        r.error("batv_tag_form", "subaddress needs a recipient_delimiter");
    s.verify_all_senders = r.boolean("batv_verify_all_senders", s.verify_all_senders);
    AddressOptions ao;
    ao.recipient_delimiters = delimiters;
    for (const auto& e : r.list("batv_exempt_destinations", {})) {
        if (e.find('@') == std::string::npos) {
            if (std::string err = build_domain_set({e}, &s.exempt_destination_domains); !err.empty())
                r.error("batv_exempt_destinations", err);
            continue;
        }
        std::string problem;
        std::string a = normalize_entry(e, ao, &problem);
        if (a.empty()) r.error("batv_exempt_destinations", "'" + printable(e, 80) + "': " + problem);
        s.exempt_destination_addresses.push_back(a);
    }
    for (const auto& e : r.list("batv_exempt_recipients", {})) {
        std::string problem;
        std::string a = normalize_entry(e, ao, &problem);
        if (a.empty()) r.error("batv_exempt_recipients", "'" + printable(e, 80) + "': " + problem);
        s.exempt_recipients.push_back(a);
    }
    if (!s.enabled) return s;
    if (key_file.empty()) {
        r.error("batv_key_file", "missing: BATV needs keys (batv_domains is set)");
        return s;
    }
    struct stat st;
    if (stat(key_file.c_str(), &st) != 0) {
        r.error("batv_key_file", key_file + ": " + std::strerror(errno));
        return s;
    }
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        r.error("batv_key_file", key_file + " is readable or writable by every user: chmod 0640 (or 0600)");
        return s;
    }
    std::ifstream in(key_file);
    if (!in) {
        r.error("batv_key_file", key_file + ": " + std::strerror(errno));
        return s;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (std::string e = parse_batv_keys(ss.str(), key_file, &s.keys); !e.empty()) r.error("batv_key_file", e);
    return s;
}

}  // namespace rcptguard
