// recipient_list: see recipient_list.hpp.
#include "backends/file/recipient_list.hpp"

#include "util/text.hpp"

namespace rcptguard {

namespace {

// The first token of a line: up to whitespace, but a quoted local part may
// contain spaces ("john doe"@example.com).
std::string_view first_token_of(std::string_view line) {
    std::size_t i = 0;
    if (!line.empty() && line.front() == '"') {
        for (i = 1; i < line.size(); ++i) {
            if (line[i] == '\\') {
                ++i;
                continue;
            }
            if (line[i] == '"') {
                ++i;
                break;
            }
        }
    }
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    return line.substr(0, i);
}

}  // namespace

ListLine parse_list_line(std::string_view line, const AddressOptions& opts) {
    ListLine out;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos || line[b] == '#') return out;
    out.entry = normalize_entry(first_token_of(line.substr(b)), opts, &out.problem);
    out.kind = out.entry.empty() ? ListLine::Kind::Bad : ListLine::Kind::Entry;
    return out;
}

bool parse_recipient_list(const std::string& text, const std::string& path, const AddressOptions& opts,
                          RecipientList* out, std::string* error) {
    bool ok = true;
    for_each_line(text, [&](std::string_view line, int lineno) {
        ListLine l = parse_list_line(line, opts);
        if (l.kind == ListLine::Kind::Bad) {
            *error = path + ":" + std::to_string(lineno) + ": " + l.problem;
            ok = false;
            return false;
        }
        if (l.kind == ListLine::Kind::Entry) out->entries.insert(std::move(l.entry));
        return true;
    });
    return ok;
}

}  // namespace rcptguard
