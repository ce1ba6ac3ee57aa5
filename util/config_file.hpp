// config_file: reads rcptguard.conf into sections of key = value pairs, and
// gives typed, validated access to them (SectionReader).
//
// Format (see rcptguard.conf(5)): global "key = value" lines, then one
// "[backend NAME]" section per backend. '#' starts a comment only at the
// beginning of a line (values may contain '#'). A line that begins with
// whitespace continues the previous value, as in Postfix's main.cf.
//
// Errors: every problem throws ConfigError, whose what() reads
// "file:line: key: problem" so an admin can go straight to it.
// Thread-safety: values are immutable after parsing; a SectionReader is used by
// one thread while a configuration is being built.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string file, int line, std::string key, std::string problem);
    const std::string& file() const { return file_; }
    int line() const { return line_; }
    const std::string& key() const { return key_; }
    const std::string& problem() const { return problem_; }

private:
    std::string file_;
    int line_;
    std::string key_;
    std::string problem_;
};

struct ConfigValue {
    std::string key;
    std::string value;
    int line = 0;
};

struct ConfigSection {
    std::string type;  // "" for the global section, else e.g. "backend"
    std::string name;
    int line = 0;
    std::vector<ConfigValue> values;
};

struct ConfigFile {
    std::string path;
    ConfigSection global;
    std::vector<ConfigSection> sections;
    // When set, every key a SectionReader asks for is recorded here, per
    // section kind ("global", "backend:TYPE"): how the tests prove that the
    // man page and the sample configuration name every key the parser reads.
    std::shared_ptr<std::map<std::string, std::set<std::string>>> keys_read;
};

// Parses configuration text; path is used in error messages only.
ConfigFile parse_config_text(std::string_view text, const std::string& path);
// Reads and parses a file; an unreadable file is a ConfigError (line 0).
ConfigFile load_config_file(const std::string& path);

// Parses "500ms", "5s", "10m", "1h", "7d", "2w" (a bare number means seconds).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);

// Typed access to one section. Every key read is remembered; finish() rejects
// keys nobody asked for, so a typo is an error rather than a silent default.
class SectionReader {
public:
    SectionReader(const ConfigFile& file, const ConfigSection& section);

    bool has(const std::string& key) const;
    std::optional<std::string> get(const std::string& key);
    std::string string(const std::string& key, const std::string& fallback);
    std::string required(const std::string& key);
    bool boolean(const std::string& key, bool fallback);
    std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max);
    std::chrono::milliseconds duration(const std::string& key, std::chrono::milliseconds fallback,
                                       std::chrono::milliseconds min, std::chrono::milliseconds max);
    std::vector<std::string> list(const std::string& key, const std::vector<std::string>& fallback);
    std::string choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed);
    // File permission bits given in octal, e.g. "0660".
    unsigned mode(const std::string& key, unsigned fallback);

    [[noreturn]] void fail(const std::string& key, const std::string& problem) const;
    // Line of a key, or of the section header when the key is absent.
    int line_of(const std::string& key) const;
    void finish() const;
    const std::string& file_path() const { return file_.path; }
    const ConfigSection& section() const { return section_; }

private:
    const ConfigValue* find(const std::string& key) const;

    const ConfigFile& file_;
    const ConfigSection& section_;
    std::set<std::string> used_;
};

}  // namespace rcptguard
