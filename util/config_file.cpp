// config_file: see config_file.hpp.
#include "config_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "text.hpp"

namespace rcptguard {

namespace {

std::string where(const std::string& file, int line) { return line > 0 ? file + ":" + std::to_string(line) : file; }

bool valid_key(std::string_view k) {
    if (k.empty()) return false;
    for (char c : k)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

bool valid_section_name(std::string_view n) {
    if (n.empty() || n.size() > 64) return false;
    for (char c : n)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return false;
    return true;
}

void check_no_duplicate(const ConfigFile& f, const ConfigSection& s, const ConfigValue& v) {
    for (const auto& old : s.values)
        if (old.key == v.key)
            throw ConfigError(f.path, v.line, v.key, "set twice (first on line " + std::to_string(old.line) + ")");
}

}  // namespace

ConfigError::ConfigError(std::string file, int line, std::string key, std::string problem)
    : std::runtime_error(where(file, line) + ": " + (key.empty() ? "" : key + ": ") + problem),
      file_(std::move(file)),
      line_(line),
      key_(std::move(key)),
      problem_(std::move(problem)) {}

ConfigFile parse_config_text(std::string_view text, const std::string& path) {
    ConfigFile f;
    f.path = path;
    ConfigSection* cur = &f.global;
    ConfigValue* last = nullptr;
    int lineno = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = (nl == std::string_view::npos) ? text.size() + 1 : nl + 1;
        ++lineno;
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        if (raw.find('\0') != std::string_view::npos) throw ConfigError(path, lineno, "", "NUL byte in configuration");
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#') continue;
        if (raw.front() == ' ' || raw.front() == '\t') {
            if (!last) throw ConfigError(path, lineno, "", "continuation line without a key before it");
            last->value += " ";
            last->value += std::string(line);
            continue;
        }
        if (line.front() == '[') {
            if (line.back() != ']') throw ConfigError(path, lineno, "", "section header must end with ']'");
            auto inner = trim(line.substr(1, line.size() - 2));
            auto sp = inner.find_first_of(" \t");
            std::string type(sp == std::string_view::npos ? inner : inner.substr(0, sp));
            std::string name(sp == std::string_view::npos ? std::string_view{} : trim(inner.substr(sp)));
            if (type != "backend")
                throw ConfigError(path, lineno, "",
                                  "unknown section type '" + printable(type, 40) + "' (expected [backend NAME])");
            if (!valid_section_name(name))
                throw ConfigError(path, lineno, "",
                                  "section needs a name of letters, digits, '_', '-', '.': [" + type + " NAME]");
            for (const auto& s : f.sections)
                if (s.type == type && s.name == name)
                    throw ConfigError(
                        path, lineno, "",
                        "[" + type + " " + name + "] defined twice (first on line " + std::to_string(s.line) + ")");
            f.sections.push_back(ConfigSection{type, name, lineno, {}});
            cur = &f.sections.back();
            last = nullptr;
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos)
            throw ConfigError(path, lineno, std::string(printable(trim(line), 40)), "expected 'key = value'");
        std::string key(trim(line.substr(0, eq)));
        if (!valid_key(key))
            throw ConfigError(path, lineno, printable(key, 40),
                              "not a valid key name (lower-case letters, digits, '_')");
        ConfigValue v{key, std::string(trim(line.substr(eq + 1))), lineno};
        check_no_duplicate(f, *cur, v);
        cur->values.push_back(std::move(v));
        last = &cur->values.back();
    }
    return f;
}

ConfigFile load_config_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path, 0, "", std::string("cannot read: ") + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw ConfigError(path, 0, "", std::string("read error: ") + std::strerror(errno));
    return parse_config_text(ss.str(), path);
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    text = trim(text);
    std::size_t i = 0;
    std::uint64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        n = n * 10 + static_cast<unsigned>(text[i] - '0');
        if (n > 100000000ULL) return std::nullopt;  // > 3 years in seconds: surely a typo
        ++i;
    }
    if (i == 0) return std::nullopt;
    std::string unit = to_lower_ascii(text.substr(i));
    std::uint64_t ms_per;
    if (unit == "ms")
        ms_per = 1;
    else if (unit.empty() || unit == "s")
        ms_per = 1000;
    else if (unit == "m")
        ms_per = 60'000;
    else if (unit == "h")
        ms_per = 3'600'000;
    else if (unit == "d")
        ms_per = 86'400'000;
    else if (unit == "w")
        ms_per = 7 * 86'400'000ULL;
    else
        return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(n * ms_per));
}

std::string format_duration(std::chrono::milliseconds d) {
    auto ms = d.count();
    if (ms == 0) return "0s";
    struct U {
        std::int64_t n;
        const char* s;
    };
    for (U u : {U{86'400'000, "d"}, U{3'600'000, "h"}, U{60'000, "m"}, U{1000, "s"}})
        if (ms % u.n == 0) return std::to_string(ms / u.n) + u.s;
    return std::to_string(ms) + "ms";
}

SectionReader::SectionReader(const ConfigFile& file, const ConfigSection& section) : file_(file), section_(section) {}

const ConfigValue* SectionReader::find(const std::string& key) const {
    for (const auto& v : section_.values)
        if (v.key == key) return &v;
    return nullptr;
}

bool SectionReader::has(const std::string& key) const { return find(key) != nullptr; }

int SectionReader::line_of(const std::string& key) const {
    const ConfigValue* v = find(key);
    return v ? v->line : section_.line;
}

void SectionReader::fail(const std::string& key, const std::string& problem) const {
    throw ConfigError(file_.path, line_of(key), key, problem);
}

std::optional<std::string> SectionReader::get(const std::string& key) {
    used_.insert(key);
    if (file_.keys_read) {
        std::string kind = "global";
        if (!section_.type.empty()) {
            kind = section_.type;
            for (const auto& v : section_.values)
                if (v.key == "type") kind += ":" + v.value;
        }
        (*file_.keys_read)[kind].insert(key);
    }
    const ConfigValue* v = find(key);
    if (!v) return std::nullopt;
    return v->value;
}

std::string SectionReader::string(const std::string& key, const std::string& fallback) {
    auto v = get(key);
    return v ? *v : fallback;
}

std::string SectionReader::required(const std::string& key) {
    auto v = get(key);
    if (!v || v->empty()) {
        std::string where =
            section_.type.empty() ? std::string("the global section") : "[" + section_.type + " " + section_.name + "]";
        fail(key, "missing: required in " + where);
    }
    return *v;
}

bool SectionReader::boolean(const std::string& key, bool fallback) {
    auto v = get(key);
    if (!v) return fallback;
    std::string s = to_lower_ascii(*v);
    if (s == "yes" || s == "true" || s == "on" || s == "1") return true;
    if (s == "no" || s == "false" || s == "off" || s == "0") return false;
    fail(key, "expected yes or no, got '" + printable(*v, 40) + "'");
}

std::int64_t SectionReader::integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
    auto v = get(key);
    if (!v) return fallback;
    const std::string& s = *v;
    if (s.empty() || s.size() > 18) fail(key, "expected a whole number, got '" + printable(s, 40) + "'");
    std::int64_t n = 0;
    std::size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == s.size()) fail(key, "expected a whole number, got '" + printable(s, 40) + "'");
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') fail(key, "expected a whole number, got '" + printable(s, 40) + "'");
        n = n * 10 + (s[i] - '0');
    }
    if (neg) n = -n;
    if (n < min || n > max)
        fail(key,
             "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + std::to_string(n));
    return n;
}

std::chrono::milliseconds SectionReader::duration(const std::string& key, std::chrono::milliseconds fallback,
                                                  std::chrono::milliseconds min, std::chrono::milliseconds max) {
    auto v = get(key);
    if (!v) return fallback;
    auto d = parse_duration(*v);
    if (!d) fail(key, "expected a duration such as 500ms, 5s, 10m, 1h or 7d, got '" + printable(*v, 40) + "'");
    if (*d < min || *d > max)
        fail(key, "must be between " + format_duration(min) + " and " + format_duration(max) + ", got " +
                      format_duration(*d));
    return *d;
}

std::vector<std::string> SectionReader::list(const std::string& key, const std::vector<std::string>& fallback) {
    auto v = get(key);
    if (!v) return fallback;
    return split_list(*v);
}

std::string SectionReader::choice(const std::string& key, const std::string& fallback,
                                  const std::vector<std::string>& allowed) {
    auto v = get(key);
    if (!v) return fallback;
    std::string s = to_lower_ascii(*v);
    for (const auto& a : allowed)
        if (s == a) return s;
    std::string msg = "expected ";
    for (std::size_t i = 0; i < allowed.size(); ++i) {
        if (i) msg += (i + 1 == allowed.size()) ? " or " : ", ";
        msg += allowed[i];
    }
    fail(key, msg + ", got '" + printable(*v, 40) + "'");
}

unsigned SectionReader::mode(const std::string& key, unsigned fallback) {
    auto v = get(key);
    if (!v) return fallback;
    const std::string& s = *v;
    if (s.empty() || s.size() > 4) fail(key, "expected octal permission bits such as 0660");
    unsigned m = 0;
    for (char c : s) {
        if (c < '0' || c > '7') fail(key, "expected octal permission bits such as 0660");
        m = m * 8 + static_cast<unsigned>(c - '0');
    }
    if (m > 0777) fail(key, "only permission bits (at most 0777) are allowed");
    return m;
}

void SectionReader::finish() const {
    for (const auto& v : section_.values)
        if (!used_.count(v.key)) {
            std::string where = section_.type.empty() ? std::string("in the global section")
                                                      : "in [" + section_.type + " " + section_.name + "]";
            throw ConfigError(file_.path, v.line, v.key, "unknown key " + where);
        }
}

}  // namespace rcptguard
