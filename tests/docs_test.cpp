// Documentation ships with the behaviour: every key the configuration parser
// reads must be described in man/rcptguard.conf.5 and shown in the sample
// etc/rcptguard.conf, and every key in the sample must be one the parser
// accepts. The sample is loaded with all its commented-out keys switched on and
// all its backend sections in use, so every reader reads all of its keys.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <sstream>

#include "milter/runtime.hpp"
#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

using testing::TempDir;

// The sample with every "#key = value" line and "#[backend ...]" header
// enabled, file-backend paths pointed at a real file, LDAP at a loopback port
// where nothing listens (tests talk to loopback only), and all sections listed.
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
        if (line.size() > 1 && line[0] == '#' && (is_key_line(line.substr(1)) || line.rfind("#[backend ", 0) == 0))
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
        if (current_type == "ldap" && l.rfind("bind_password_file = ", 0) == 0)
            l = "bind_password_file = " + secret_file;
        if (l.rfind("batv_key_file = ", 0) == 0) l = "batv_key_file = " + secret_file + ".batv";
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
    for (const char* kind : {"backend:sqlite", "backend:file", "backend:fail", "backend:ldap"})
        EXPECT_TRUE(file.keys_read->count(kind)) << kind << " has no example section in etc/rcptguard.conf";
}

}  // namespace
}  // namespace rcptguard
