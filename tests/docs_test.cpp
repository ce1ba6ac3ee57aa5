// Documentation ships with the behaviour: every key the configuration parser
// reads must be described in man/rcptguard.conf.5 and shown in the sample
// etc/rcptguard.conf, and every key in the sample must be one the parser
// accepts. The sample is loaded with all its commented-out keys switched on and
// all its backend sections in use, so every reader reads all of its keys.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "backends/registry.hpp"
#include "core/runtime.hpp"
#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

using testing::TempDir;

// The sample with every "#key = value" line and "#[backend ...]" header
// enabled, file-backend paths pointed at a real file, LDAP and the call-ahead
// backend at a loopback port where nothing listens (tests talk to loopback
// only), and all sections listed.
std::string everything_enabled(const std::string& sample, const std::string& users_file,
                               const std::string& secret_file) {
    // (Plain string handling: std::regex trips a GCC 12 false warning under
    // the sanitizer builds' -Werror.)
    auto is_key_line = [](const std::string& l) {  // "key = value", key of [a-z_]
        auto eq = l.find(" = ");
        if (eq == std::string::npos || eq == 0) return false;
        for (std::size_t i = 0; i < eq; ++i)
            if (!((l[i] >= 'a' && l[i] <= 'z') || l[i] == '_')) return false;
        return true;
    };
    std::istringstream in(sample);
    std::ostringstream out;
    std::vector<std::string> names, lines;
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > 1 && line[0] == '#' &&
            (is_key_line(line.substr(1)) || line.rfind("#[backend ", 0) == 0 || line.rfind("#[domain ", 0) == 0))
            line = line.substr(1);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
        if (line.rfind("[backend ", 0) == 0) names.push_back(line.substr(9, line.size() - 10));
        lines.push_back(line);
    }
    std::string current_type;
    for (auto& l : lines) {
        if (l.rfind("[backend ", 0) == 0) current_type.clear();
        if (l.rfind("type = ", 0) == 0) current_type = l.substr(7);
        if (current_type == "file" && l.rfind("path = ", 0) == 0) l = "path = " + users_file;
        if (current_type == "ldap" && l.rfind("uri = ", 0) == 0) l = "uri = ldap://127.0.0.1:9";
        if (current_type == "smtp" && l.rfind("host = ", 0) == 0) l = "host = 127.0.0.1:9";
        if (current_type == "ldap" && l.rfind("bind_password_file = ", 0) == 0)
            l = "bind_password_file = " + secret_file;
        // SQL servers: nothing listens on the discard port of loopback.
        if ((current_type == "pgsql" || current_type == "mysql") && l.rfind("hosts = ", 0) == 0)
            l = "hosts = 127.0.0.1:9";
        if ((current_type == "pgsql" || current_type == "mysql") && l.rfind("password_file = ", 0) == 0)
            l = "password_file = " + secret_file;
        if (l.rfind("[domain ", 0) == 0) current_type.clear();
        if (l.rfind("batv_key_file = ", 0) == 0) l = "batv_key_file = " + secret_file + ".batv";
        if (l.rfind("redis_password_file = ", 0) == 0) l = "redis_password_file = " + secret_file;
        if (l.rfind("backends = ", 0) == 0) {
            l = "backends =";
            for (const auto& n : names) l += " " + n;
        }
        out << l << "\n";
    }
    return out.str();
}

// True if the sample names the key as a setting, commented out or not.
bool sample_has_key(const std::string& sample, const std::string& key) {
    for (const std::string& form : {"\n" + key + " =", "\n#" + key + " ="})
        if (sample.find(form) != std::string::npos) return true;
    return sample.rfind(key + " =", 0) == 0;
}

TEST(Docs, SampleConfigWithEverythingEnabled_IsAccepted_AndEveryKeyDocumented) {
    TempDir d;
    testing::write_file(d.file("users.txt"), "alice@example.com\n");
    testing::write_file(d.file("secret"), "not-a-real-password\n");
    chmod(d.file("secret").c_str(), 0600);
    testing::write_file(d.file("secret.batv"), "1 a-batv-test-secret-0001\n");
    chmod(d.file("secret.batv").c_str(), 0600);
    std::string sample = testing::read_file(testing::source_dir() + "/etc/rcptguard.conf");
    std::string text = everything_enabled(sample, d.file("users.txt"), d.file("secret"));
    ConfigFile file;
    try {
        file = parse_config_text(text, "etc/rcptguard.conf (all keys enabled)");
        file.keys_read = std::make_shared<std::map<std::string, std::set<std::string>>>();
        build_runtime_from(file, 1);
    } catch (const ConfigError& e) {
        FAIL() << "the sample configuration uses a key or value the parser refuses: " << e.what() << "\n" << text;
    }
    std::string man = testing::read_file(testing::source_dir() + "/man/rcptguard.conf.5");
    std::size_t total = 0;
    ASSERT_TRUE(file.keys_read->count("global"));
    for (const auto& [kind, keys] : *file.keys_read) {
        for (const auto& key : keys) {
            ++total;
            EXPECT_NE(man.find("\n.B " + key + "\n"), std::string::npos)
                << kind << " key '" << key << "' is not described in man/rcptguard.conf.5 (as .B " << key << ")";
            EXPECT_TRUE(sample_has_key(sample, key))
                << kind << " key '" << key << "' is missing from etc/rcptguard.conf";
        }
    }
    EXPECT_GT(total, 40u);  // the readers really ran
    for (const char* kind : {"backend:sqlite", "backend:file", "backend:fail", "backend:ldap", "backend:pgsql",
                             "backend:mysql", "backend:smtp", "domain"})
        EXPECT_TRUE(file.keys_read->count(kind)) << kind << " has no example section in etc/rcptguard.conf";
}

// The man page text of one backend type's subsection (".SS ... (type = NAME)").
std::string man_section_of(const std::string& man, std::string_view type) {
    std::string head = "(type = " + std::string(type) + ")\n";
    auto at = man.find(head);
    if (at == std::string::npos) return "";
    auto end = man.find("\n.S", at);  // the next .SS or .SH
    return man.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// A key's paragraph in a man section: from ".B key" to the next item.
std::string man_item(const std::string& section, std::string_view key) {
    auto at = section.find("\n.TP\n.B " + std::string(key) + "\n");
    if (at == std::string::npos) return "";
    auto end = section.find("\n.TP", at + 4);
    auto pp = section.find("\n.PP", at + 1);
    if (pp < end) end = pp;
    std::string item = section.substr(at, end == std::string::npos ? std::string::npos : end - at);
    for (std::size_t p; (p = item.find("\\-")) != std::string::npos;) item.replace(p, 2, "-");
    return item;
}

// Each backend type declares its keys once (name, default, help): every one
// is described in that type's section of rcptguard.conf(5), with the same
// default, and shown in the sample configuration.
TEST(Docs, EveryDeclaredBackendKey_InItsManSection_WithItsDefault) {
    std::string man = testing::read_file(testing::source_dir() + "/man/rcptguard.conf.5");
    std::string sample = testing::read_file(testing::source_dir() + "/etc/rcptguard.conf");
    ASSERT_GE(backend_types().size(), 5u);
    for (const BackendType* t : backend_types()) {
        std::string section = man_section_of(man, t->name);
        ASSERT_FALSE(section.empty()) << "man/rcptguard.conf.5 has no section \"(type = " << t->name << ")\"";
        EXPECT_FALSE(t->summary.empty()) << t->name;
        for (const KeySpec& k : t->keys) {
            std::string item = man_item(section, k.name);
            EXPECT_FALSE(item.empty()) << "backend type " << t->name << ": key " << k.name
                                       << " is not described in its section of man/rcptguard.conf.5";
            EXPECT_FALSE(k.help.empty()) << t->name << " " << k.name;
            if (!k.default_value.empty() && !item.empty()) {
                EXPECT_NE(item.find(std::string(k.default_value)), std::string::npos)
                    << "backend type " << t->name << ": key " << k.name << ": the man page does not give the default '"
                    << k.default_value << "':" << item;
            }
            EXPECT_TRUE(sample_has_key(sample, std::string(k.name)))
                << "backend type " << t->name << ": key " << k.name << " is missing from etc/rcptguard.conf";
        }
    }
}

}  // namespace
}  // namespace rcptguard
