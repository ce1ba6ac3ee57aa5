// state_file: see state_file.hpp.
#include "core/tarpit/state_file.hpp"

#include <charconv>

#include "util/network.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

constexpr std::string_view kHeader = "rcptguard-state 1";

template <typename T>
bool parse_number(std::string_view s, T* out) {
    if (s.empty() || s.size() > 20) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && end == s.data() + s.size();
}

std::vector<std::string_view> fields_of(std::string_view line) {
    std::vector<std::string_view> f;
    std::size_t pos = 0;
    while (pos < line.size() && f.size() < 8) {
        std::size_t start = line.find_first_not_of(" \t", pos);
        if (start == std::string_view::npos) break;
        std::size_t end = line.find_first_of(" \t", start);
        if (end == std::string_view::npos) end = line.size();
        f.push_back(line.substr(start, end - start));
        pos = end;
    }
    return f;
}

}  // namespace

std::string format_state_file(const std::vector<SavedBan>& bans) {
    std::string out =
        "# rcptguard's bans, kept across restarts (rcptguard.conf(5): state_file).\n"
        "# Written by rcptguard; one line per ban: ban CLIENT UNTIL BAD\n"
        "# (UNTIL in seconds since 1970 UTC, BAD = bad recipients when banned).\n";
    out += kHeader;
    out += "\n";
    for (const auto& b : bans)
        out += "ban " + b.key + " " + std::to_string(b.until_unix) + " " + std::to_string(b.bad) + "\n";
    return out;
}

std::string parse_state_file(std::string_view text, std::int64_t now_unix, std::int64_t longest_ban_seconds,
                             std::size_t max_bans, std::vector<SavedBan>* bans) {
    std::vector<SavedBan> out;
    std::string problem;
    bool header = false;
    std::size_t seen = 0;
    for_each_line(text, [&](std::string_view raw, int number) {
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#') return true;
        auto fail = [&](const std::string& what) {
            problem = "line " + std::to_string(number) + ": " + what;
            return false;
        };
        if (!header) {
            if (line != kHeader)
                return fail("expected '" + std::string(kHeader) + "', not '" + printable(line, 60) + "'");
            header = true;
            return true;
        }
        std::vector<std::string_view> f = fields_of(line);
        if (f.size() != 4 || f[0] != "ban")
            return fail("expected 'ban CLIENT UNTIL BAD', not '" + printable(line, 80) + "'");
        auto net = parse_network(f[1]);
        if (!net || f[1].size() > 64) return fail("'" + printable(f[1], 64) + "' is not an address or prefix");
        SavedBan b;
        b.key = std::string(f[1]);
        if (!parse_number(f[2], &b.until_unix) || b.until_unix < 0) return fail("the end of the ban is not a number");
        if (!parse_number(f[3], &b.bad) || b.bad > 10000000) return fail("the count is not a number");
        if (b.until_unix - now_unix > longest_ban_seconds)
            return fail("a ban of " + printable(f[1], 64) + " lasting longer than ban_time allows");
        if (++seen > max_bans) return fail("more bans than ban_table_size holds");
        if (b.until_unix > now_unix) out.push_back(std::move(b));
        return true;
    });
    if (problem.empty() && !header) problem = "empty (no '" + std::string(kHeader) + "' line)";
    if (!problem.empty()) return problem;
    *bans = std::move(out);
    return "";
}

}  // namespace rcptguard
