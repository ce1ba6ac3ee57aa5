// config_file: reads rcptguard.conf into sections of key = value pairs, and
// gives typed, validated access to them (SectionReader).
//
// Format (see rcptguard.conf(5)): global "key = value" lines, then one
// "[backend NAME]" section per backend and, optionally, "[domain NAME]"
// sections (NAME a domain, kept in canonical form: lower case, no trailing
// dot). '#' starts a comment only at the
// beginning of a line (values may contain '#'). A line that begins with
// whitespace continues the previous value, as in Postfix's main.cf.
//
// Errors: every problem is reported, not only the first. Parsing and the
// SectionReaders record each problem in the file's ConfigProblems and go on
// (a bad value reads as its default meanwhile); whoever builds a
// configuration from the file calls ConfigFile::throw_if_problems() at the
// end, which throws ConfigErrors listing all of them in file order, one
// "file:line: key: problem" per line, so an admin fixes everything in one go.
//
// Declared keys: a section type may declare its keys in one table (KeySpec:
// name, default, help - see backends/). The reader then takes each default
// from the table, refuses to read an undeclared key (a programming error) and
// names the declared keys when the file holds an unknown one; the docs test
// checks the man page and the sample configuration against the same tables.
// Thread-safety: values are immutable after parsing; a SectionReader is used by
// one thread while a configuration is being built.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "util/duration.hpp"

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

// Several problems at once. what() is every problem's "file:line: key:
// problem", one per line, in file order; file()/line()/key()/problem() are
// those of the first.
class ConfigErrors : public ConfigError {
public:
    explicit ConfigErrors(std::vector<ConfigError> all);
    const std::vector<ConfigError>& all() const { return all_; }
    const char* what() const noexcept override { return text_.c_str(); }

private:
    std::vector<ConfigError> all_;
    std::string text_;
};

// The problems found so far in one file, in the order they were found.
struct ConfigProblems {
    std::vector<ConfigError> list;
};

// One key a section accepts.
struct KeySpec {
    std::string_view name;
    std::string_view default_value;  // as written in the file; "" = no default
    std::string_view help;           // one line, for the man page and messages
};
using KeyTable = std::span<const KeySpec>;

struct ConfigValue {
    std::string key;
    std::string value;
    int line = 0;
};

struct ConfigSection {
    std::string type;  // "" for the global section, else "backend" or "domain"
    std::string name;
    int line = 0;
    std::vector<ConfigValue> values;
};

struct ConfigFile {
    std::string path;
    ConfigSection global;
    std::vector<ConfigSection> sections;
    // Every problem found while parsing and reading (see above).
    std::shared_ptr<ConfigProblems> problems = std::make_shared<ConfigProblems>();
    // When set, every key a SectionReader asks for is recorded here, per
    // section kind ("global", "backend:TYPE"): how the tests prove that the
    // man page and the sample configuration name every key the parser reads.
    std::shared_ptr<std::map<std::string, std::set<std::string>>> keys_read;

    void add_problem(int line, const std::string& key, const std::string& problem) const;
    bool has_problems() const { return !problems->list.empty(); }
    // Throws ConfigErrors (all problems, sorted by line) if there are any.
    void throw_if_problems() const;
};

// Parses configuration text; path is used in messages only. Syntax problems
// are recorded in the result's problems (the bad line is skipped).
ConfigFile parse_config_text(std::string_view text, const std::string& path);
// Reads and parses a file; an unreadable file throws ConfigError (line 0).
ConfigFile load_config_file(const std::string& path);

// One difference between two versions of a configuration file, for the log
// of a reload. section is "" for the global section, else e.g. "[backend
// users]"; key is "" when the whole section was added or removed. A value that
// is not set (the default applies) is nullopt.
struct ConfigChange {
    std::string section;
    std::string key;
    std::optional<std::string> before;
    std::optional<std::string> after;
};

// Every key whose value differs between the two files, and every section
// added or removed, in the order of the new file (removed ones last).
// Compares the values as written, so "5s" and "5000ms" differ.
std::vector<ConfigChange> config_changes(const ConfigFile& before, const ConfigFile& after);
// "mode: enforce -> monitor", "[backend users] path: /a.db -> /b.db",
// "tarpit_delay: (default) -> 100ms", "[backend old]: removed"; values made
// printable and bounded.
std::string describe(const ConfigChange& c);

// Typed access to one section. Every key read is remembered; finish() reports
// keys nobody asked for, so a typo is an error rather than a silent default.
// A bad value is recorded as a problem and the fallback is returned.
class SectionReader {
public:
    SectionReader(const ConfigFile& file, const ConfigSection& section, KeyTable declared = {});
    // Declares the section's keys once a first key (e.g. "type") has told
    // which table applies; the keys read so far stay accepted.
    void declare(KeyTable keys);

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

    // The same, with the default from the declared table.
    std::string string(const std::string& key);
    bool boolean(const std::string& key);
    std::int64_t integer(const std::string& key, std::int64_t min, std::int64_t max);
    std::chrono::milliseconds duration(const std::string& key, std::chrono::milliseconds min,
                                       std::chrono::milliseconds max);
    std::vector<std::string> list(const std::string& key);
    std::string choice(const std::string& key, const std::vector<std::string>& allowed);

    // Records a problem with key (at the key's line, or the section header's
    // when the key is absent) and returns: the caller goes on reading.
    void error(const std::string& key, const std::string& problem);
    // True while no problem was recorded in this section.
    bool ok() const { return problems_ == 0; }
    // Line of a key, or of the section header when the key is absent.
    int line_of(const std::string& key) const;
    // Records every key of the section nobody read as unknown.
    void finish();
    const std::string& file_path() const { return file_.path; }
    const ConfigSection& section() const { return section_; }
    // "the global section" or "[backend NAME]".
    std::string where() const;

private:
    const ConfigValue* find(const std::string& key) const;
    const KeySpec& declared(const std::string& key) const;

    const ConfigFile& file_;
    const ConfigSection& section_;
    KeyTable declared_;
    std::set<std::string> used_;
    std::vector<std::string> read_before_declare_;
    int problems_ = 0;
};

}  // namespace rcptguard
