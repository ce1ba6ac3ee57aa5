// config_file: see config_file.hpp.
#include "util/config_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/address.hpp"
#include "util/text.hpp"

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

const ConfigValue* find_value(const ConfigSection& s, const std::string& key) {
    for (const auto& v : s.values)
        if (v.key == key) return &v;
    return nullptr;
}

}  // namespace

ConfigError::ConfigError(std::string file, int line, std::string key, std::string problem)
    : std::runtime_error(where(file, line) + ": " + (key.empty() ? "" : key + ": ") + problem),
      file_(std::move(file)),
      line_(line),
      key_(std::move(key)),
      problem_(std::move(problem)) {}

namespace {

std::string join_lines(const std::vector<ConfigError>& all) {
    std::string out;
    for (const auto& e : all) out += (out.empty() ? "" : "\n") + std::string(e.what());
    return out;
}

}  // namespace

ConfigErrors::ConfigErrors(std::vector<ConfigError> all)
    : ConfigError(all.empty() ? ConfigError("", 0, "", "no problem") : all.front()),
      all_(std::move(all)),
      text_(join_lines(all_)) {}

void ConfigFile::add_problem(int line, const std::string& key, const std::string& problem) const {
    problems->list.emplace_back(path, line, key, problem);
}

void ConfigFile::throw_if_problems() const {
    if (problems->list.empty()) return;
    std::vector<ConfigError> all = problems->list;
    std::stable_sort(all.begin(), all.end(),
                     [](const ConfigError& a, const ConfigError& b) { return a.line() < b.line(); });
    if (all.size() == 1) throw all.front();
    throw ConfigErrors(std::move(all));
}

ConfigFile parse_config_text(std::string_view text, const std::string& path) {
    ConfigFile f;
    f.path = path;
    ConfigSection* cur = &f.global;
    ConfigSection discarded;  // the keys under a broken section header
    ConfigValue* last = nullptr;
    for_each_line(text, [&](std::string_view raw, int lineno) {
        if (raw.find('\0') != std::string_view::npos) {
            f.add_problem(lineno, "", "NUL byte in configuration");
            last = nullptr;
            return true;
        }
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#') return true;
        if (raw.front() == ' ' || raw.front() == '\t') {
            if (!last) {
                f.add_problem(lineno, "", "continuation line without a key before it");
                return true;
            }
            last->value += " ";
            last->value += std::string(line);
            return true;
        }
        last = nullptr;
        if (line.front() == '[') {
            cur = &discarded;
            if (line.back() != ']') {
                f.add_problem(lineno, "", "section header must end with ']'");
                return true;
            }
            auto inner = trim(line.substr(1, line.size() - 2));
            auto sp = inner.find_first_of(" \t");
            std::string type(sp == std::string_view::npos ? inner : inner.substr(0, sp));
            std::string name(sp == std::string_view::npos ? std::string_view{} : trim(inner.substr(sp)));
            if (type != "backend" && type != "domain") {
                f.add_problem(
                    lineno, "",
                    "unknown section type '" + printable(type, 40) + "' (expected [backend NAME] or [domain NAME])");
                return true;
            }
            if (type == "domain") {
                // Domains compare in canonical form: [domain Example.ORG.] is
                // the section of example.org, and a second one is "twice".
                std::string canonical = canonical_domain(name);
                if (canonical.empty() || canonical.front() == '[') {
                    f.add_problem(lineno, "", "[domain NAME] needs a domain name, got '" + printable(name, 80) + "'");
                    return true;
                }
                name = canonical;
            } else if (!valid_section_name(name)) {
                f.add_problem(lineno, "",
                              "section needs a name of letters, digits, '_', '-', '.': [" + type + " NAME]");
                return true;
            }
            bool twice = false;
            for (const auto& s : f.sections)
                if (s.type == type && s.name == name) {
                    f.add_problem(
                        lineno, "",
                        "[" + type + " " + name + "] defined twice (first on line " + std::to_string(s.line) + ")");
                    twice = true;
                }
            if (twice) return true;
            f.sections.push_back(ConfigSection{type, name, lineno, {}});
            cur = &f.sections.back();
            return true;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            f.add_problem(lineno, std::string(printable(trim(line), 40)), "expected 'key = value'");
            return true;
        }
        std::string key(trim(line.substr(0, eq)));
        if (!valid_key(key)) {
            f.add_problem(lineno, printable(key, 40), "not a valid key name (lower-case letters, digits, '_')");
            return true;
        }
        ConfigValue v{key, std::string(trim(line.substr(eq + 1))), lineno};
        if (const ConfigValue* old = find_value(*cur, key)) {
            f.add_problem(lineno, key, "set twice (first on line " + std::to_string(old->line) + ")");
            return true;
        }
        cur->values.push_back(std::move(v));
        last = &cur->values.back();
        return true;
    });
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

SectionReader::SectionReader(const ConfigFile& file, const ConfigSection& section, KeyTable declared)
    : file_(file), section_(section), declared_(declared) {}

void SectionReader::declare(KeyTable keys) {
    declared_ = keys;
    read_before_declare_.assign(used_.begin(), used_.end());
}

const ConfigValue* SectionReader::find(const std::string& key) const { return find_value(section_, key); }

const KeySpec& SectionReader::declared(const std::string& key) const {
    for (const KeySpec& k : declared_)
        if (k.name == key) return k;
    // A reader asking for a key its table does not declare is a bug in
    // rcptguard, not in the configuration.
    throw std::logic_error("configuration key '" + key + "' is read but not declared for " + where());
}

bool SectionReader::has(const std::string& key) const { return find(key) != nullptr; }

int SectionReader::line_of(const std::string& key) const {
    const ConfigValue* v = find(key);
    return v ? v->line : section_.line;
}

std::string SectionReader::where() const {
    return section_.type.empty() ? std::string("the global section") : "[" + section_.type + " " + section_.name + "]";
}

void SectionReader::error(const std::string& key, const std::string& problem) {
    ++problems_;
    file_.add_problem(line_of(key), key, problem);
}

std::optional<std::string> SectionReader::get(const std::string& key) {
    if (!declared_.empty()) declared(key);
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
        error(key, "missing: required in " + where());
        return "";
    }
    return *v;
}

bool SectionReader::boolean(const std::string& key, bool fallback) {
    auto v = get(key);
    if (!v) return fallback;
    std::string s = to_lower_ascii(*v);
    if (s == "yes" || s == "true" || s == "on" || s == "1") return true;
    if (s == "no" || s == "false" || s == "off" || s == "0") return false;
    error(key, "expected yes or no, got '" + printable(*v, 40) + "'");
    return fallback;
}

namespace {

// A whole number of at most 18 digits, optionally negative.
bool parse_integer(const std::string& s, std::int64_t* out) {
    if (s.empty() || s.size() > 18) return false;
    std::int64_t n = 0;
    std::size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        n = n * 10 + (s[i] - '0');
    }
    *out = s[0] == '-' ? -n : n;
    return true;
}

}  // namespace

std::int64_t SectionReader::integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
    auto v = get(key);
    if (!v) return fallback;
    std::int64_t n = 0;
    if (!parse_integer(*v, &n)) {
        error(key, "expected a whole number, got '" + printable(*v, 40) + "'");
        return fallback;
    }
    if (n < min || n > max) {
        error(key,
              "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + std::to_string(n));
        return fallback;
    }
    return n;
}

std::chrono::milliseconds SectionReader::duration(const std::string& key, std::chrono::milliseconds fallback,
                                                  std::chrono::milliseconds min, std::chrono::milliseconds max) {
    auto v = get(key);
    if (!v) return fallback;
    auto d = parse_duration(*v);
    if (!d) {
        error(key, "expected a duration such as 500ms, 5s, 10m, 1h or 7d, got '" + printable(*v, 40) + "'");
        return fallback;
    }
    if (*d < min || *d > max) {
        error(key, "must be between " + format_duration(min) + " and " + format_duration(max) + ", got " +
                       format_duration(*d));
        return fallback;
    }
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
    error(key, msg + ", got '" + printable(*v, 40) + "'");
    return fallback;
}

unsigned SectionReader::mode(const std::string& key, unsigned fallback) {
    auto v = get(key);
    if (!v) return fallback;
    const std::string& s = *v;
    unsigned m = 0;
    bool octal = !s.empty() && s.size() <= 4;
    for (char c : s) {
        if (c < '0' || c > '7')
            octal = false;
        else
            m = m * 8 + static_cast<unsigned>(c - '0');
    }
    if (!octal) {
        error(key, "expected octal permission bits such as 0660");
        return fallback;
    }
    if (m > 0777) {
        error(key, "only permission bits (at most 0777) are allowed");
        return fallback;
    }
    return m;
}

std::string SectionReader::string(const std::string& key) {
    return string(key, std::string(declared(key).default_value));
}

bool SectionReader::boolean(const std::string& key) { return boolean(key, declared(key).default_value == "yes"); }

std::int64_t SectionReader::integer(const std::string& key, std::int64_t min, std::int64_t max) {
    std::int64_t fallback = 0;
    parse_integer(std::string(declared(key).default_value), &fallback);
    return integer(key, fallback, min, max);
}

std::chrono::milliseconds SectionReader::duration(const std::string& key, std::chrono::milliseconds min,
                                                  std::chrono::milliseconds max) {
    auto fallback = parse_duration(declared(key).default_value);
    return duration(key, fallback ? *fallback : std::chrono::milliseconds(0), min, max);
}

std::vector<std::string> SectionReader::list(const std::string& key) {
    return list(key, split_list(declared(key).default_value));
}

std::string SectionReader::choice(const std::string& key, const std::vector<std::string>& allowed) {
    return choice(key, std::string(declared(key).default_value), allowed);
}

void SectionReader::finish() {
    for (const auto& v : section_.values) {
        if (used_.count(v.key)) continue;
        std::string known;
        for (const std::string& k : read_before_declare_) known += (known.empty() ? "" : ", ") + k;
        for (const KeySpec& k : declared_) known += (known.empty() ? "" : ", ") + std::string(k.name);
        ++problems_;
        file_.add_problem(v.line, v.key,
                          "unknown key in " + where() + (declared_.empty() ? "" : " (it takes: " + known + ")"));
    }
}

namespace {

std::string section_label(const ConfigSection& s) {
    return s.type.empty() ? std::string() : "[" + s.type + " " + s.name + "]";
}

const ConfigSection* find_section(const ConfigFile& f, const ConfigSection& like) {
    if (like.type.empty()) return &f.global;
    for (const auto& s : f.sections)
        if (s.type == like.type && s.name == like.name) return &s;
    return nullptr;
}

void compare_sections(const ConfigSection& before, const ConfigSection& after, std::vector<ConfigChange>* out) {
    std::string label = section_label(after);
    for (const auto& v : after.values) {
        const ConfigValue* old = find_value(before, v.key);
        if (old && old->value == v.value) continue;
        out->push_back({label, v.key, old ? std::optional<std::string>(old->value) : std::nullopt, v.value});
    }
    for (const auto& v : before.values)
        if (!find_value(after, v.key)) out->push_back({label, v.key, v.value, std::nullopt});
}

}  // namespace

std::vector<ConfigChange> config_changes(const ConfigFile& before, const ConfigFile& after) {
    std::vector<ConfigChange> out;
    compare_sections(before.global, after.global, &out);
    for (const auto& s : after.sections) {
        if (const ConfigSection* old = find_section(before, s))
            compare_sections(*old, s, &out);
        else
            out.push_back({section_label(s), "", std::nullopt, std::string("added")});
    }
    for (const auto& s : before.sections)
        if (!find_section(after, s)) out.push_back({section_label(s), "", std::string("present"), std::nullopt});
    return out;
}

std::string describe(const ConfigChange& c) {
    std::string who = c.section.empty() ? c.key : c.key.empty() ? c.section : c.section + " " + c.key;
    if (c.key.empty()) return who + ": " + (c.after ? "added" : "removed");
    auto shown = [](const std::optional<std::string>& v) {
        if (!v) return std::string("(default)");
        if (v->empty()) return std::string("(empty)");
        return printable(*v, 120);
    };
    return who + ": " + shown(c.before) + " -> " + shown(c.after);
}

}  // namespace rcptguard
