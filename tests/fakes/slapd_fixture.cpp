// slapd_fixture: see tests/fakes/slapd_fixture.hpp.
#include "tests/fakes/slapd_fixture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ldap.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include "backends/ldap/ldap_connection.hpp"

namespace rcptguard::testing {

namespace {

constexpr char kSlapd[] = "/usr/sbin/slapd";

int find_free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) close(fd);
        throw std::runtime_error("slapd fixture: no free port");
    }
    close(fd);
    return ntohs(a.sin_port);
}

bool port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

// Stops the shared instance when the test binary's tests are done.
class SharedSlapdEnvironment : public ::testing::Environment {
public:
    void TearDown() override { instance().reset(); }
    static std::unique_ptr<SlapdFixture>& instance() {
        static std::unique_ptr<SlapdFixture> fixture;
        return fixture;
    }
};

[[maybe_unused]] ::testing::Environment* const g_environment =
    ::testing::AddGlobalTestEnvironment(new SharedSlapdEnvironment);

// An admin connection as the root DN, closed at scope exit.
struct AdminConn {
    explicit AdminConn(const std::string& uri) {
        if (ldap_initialize(&ld, uri.c_str()) != LDAP_SUCCESS) throw std::runtime_error("ldap_initialize " + uri);
        int v3 = LDAP_VERSION3;
        ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
        berval cred{};
        std::string pw = SlapdFixture::kRootPassword;
        cred.bv_val = pw.data();
        cred.bv_len = pw.size();
        int rc = ldap_sasl_bind_s(ld, SlapdFixture::kRootDn, LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) {
            ldap_unbind_ext(ld, nullptr, nullptr);
            throw std::runtime_error(std::string("slapd fixture: admin bind: ") + ldap_err2string(rc));
        }
    }
    ~AdminConn() { ldap_unbind_ext(ld, nullptr, nullptr); }
    LDAP* ld = nullptr;
};

}  // namespace

SlapdFixture::SlapdFixture() {
    // libldap's one-time initialisation, before any test thread uses it.
    ldap_global_init();
    // As in the daemon (main.cpp): a write to a connection the server closed
    // must be an error code, not a SIGPIPE that kills the test binary.
    signal(SIGPIPE, SIG_IGN);
    port_ = find_free_port();
    mkdir(dir_.file("db").c_str(), 0700);
    write_config();
    start();
    add({{kSuffix, {{"objectClass", {"dcObject", "organization"}}, {"dc", {"example"}}, {"o", {"rcptguard tests"}}}}});
}

SlapdFixture::~SlapdFixture() {
    try {
        stop();
    } catch (...) {}
}

int SlapdFixture::free_port() { return find_free_port(); }

SlapdFixture& SlapdFixture::shared() {
    auto& f = SharedSlapdEnvironment::instance();
    if (!f) f = std::make_unique<SlapdFixture>();
    return *f;
}

std::string SlapdFixture::uri() const { return "ldap://127.0.0.1:" + std::to_string(port_) + "/"; }

void SlapdFixture::write_config() {
    std::string schema_dir = "/etc/ldap/schema/";
    std::string text;
    for (const char* s : {"core", "cosine", "inetorgperson"}) text += "include " + schema_dir + s + ".schema\n";
    text += "include " + source_dir() + "/tests/ldap/rcptguard-test.schema\n";
    text += "pidfile " + dir_.file("slapd.pid") + "\n";
    text += "argsfile " + dir_.file("slapd.args") + "\n";
    text += "modulepath /usr/lib/ldap\nmoduleload back_mdb\n";
    text += "database mdb\nmaxsize 67108864\ndbnosync\n";
    text += std::string("suffix \"") + kSuffix + "\"\n";
    text += std::string("rootdn \"") + kRootDn + "\"\n";
    text += std::string("rootpw ") + kRootPassword + "\n";
    text += "directory " + dir_.file("db") + "\n";
    text += "index objectClass eq\nindex mail eq\nindex mailAlternateAddress eq\nindex proxyAddresses eq\n";
    write_file(dir_.file("slapd.conf"), text);
}

void SlapdFixture::start() {
    if (pid_ > 0) return;
    std::string conf = dir_.file("slapd.conf");
    std::string listen = uri();
    std::string log = dir_.file("slapd.log");
    std::vector<std::string> args = {kSlapd, "-d", "0", "-f", conf, "-h", listen};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("slapd fixture: fork failed");
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        signal(SIGPIPE, SIG_DFL);
        execv(kSlapd, argv.data());
        _exit(127);
    }
    pid_ = pid;
    paused_ = false;
    wait_ready();
}

void SlapdFixture::wait_ready() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        if (port_open(port_)) return;
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("slapd fixture: slapd exited at start:\n" + read_file(dir_.file("slapd.log")));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("slapd fixture: slapd did not listen on port " + std::to_string(port_));
}

void SlapdFixture::stop() {
    if (pid_ <= 0) return;
    if (paused_) resume();
    kill(pid_, SIGINT);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
}

void SlapdFixture::pause() {
    if (pid_ <= 0 || kill(pid_, SIGSTOP) != 0) return;
    paused_ = true;
    // kill() only queues the stop: a slapd thread already busy may still
    // answer one more request. Wait until every thread is stopped.
    auto all_stopped = [this] {
        std::error_code ec;
        std::string task_dir = "/proc/" + std::to_string(pid_) + "/task";
        for (const auto& t : std::filesystem::directory_iterator(task_dir, ec)) {
            std::string stat = read_file(t.path().string() + "/stat");
            std::size_t paren = stat.rfind(')');
            if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'T') return false;
        }
        return !ec;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!all_stopped()) {
        if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("slapd fixture: slapd did not stop");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void SlapdFixture::resume() {
    if (pid_ > 0 && kill(pid_, SIGCONT) == 0) paused_ = false;
}

void SlapdFixture::add(const std::vector<LdapEntry>& entries) {
    AdminConn admin(uri());
    for (const auto& e : entries) {
        // LDAPMod wants mutable C arrays; keep their storage alive for the call.
        std::vector<std::vector<std::string>> values;
        std::vector<std::vector<char*>> value_ptrs;
        std::vector<std::string> types;
        std::vector<LDAPMod> mods(e.attributes.size());
        std::vector<LDAPMod*> mod_ptrs;
        values.reserve(e.attributes.size());
        value_ptrs.reserve(e.attributes.size());
        types.reserve(e.attributes.size());
        for (std::size_t i = 0; i < e.attributes.size(); ++i) {
            types.push_back(e.attributes[i].first);
            values.push_back(e.attributes[i].second);
            value_ptrs.emplace_back();
            for (auto& v : values.back()) value_ptrs.back().push_back(v.data());
            value_ptrs.back().push_back(nullptr);
            mods[i].mod_op = LDAP_MOD_ADD;
            mods[i].mod_type = types.back().data();
            mods[i].mod_values = value_ptrs.back().data();
            mod_ptrs.push_back(&mods[i]);
        }
        mod_ptrs.push_back(nullptr);
        int rc = ldap_add_ext_s(admin.ld, e.dn.c_str(), mod_ptrs.data(), nullptr, nullptr);
        if (rc != LDAP_SUCCESS) throw std::runtime_error("slapd fixture: add " + e.dn + ": " + ldap_err2string(rc));
    }
}

std::string SlapdFixture::new_ou() {
    std::string dn = "ou=t" + std::to_string(++next_ou_) + "," + kSuffix;
    add({{dn, {{"objectClass", {"organizationalUnit"}}, {"ou", {"t" + std::to_string(next_ou_)}}}}});
    return dn;
}

void SlapdFixture::add_mail_entries(const std::string& ou_dn, const std::vector<std::string>& addresses) {
    std::vector<LdapEntry> entries;
    for (const auto& a : addresses) {
        std::string cn = "e" + std::to_string(++next_entry_);
        bool ascii = true;
        for (char c : a) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
        if (ascii)
            entries.push_back({"cn=" + cn + "," + ou_dn,
                               {{"objectClass", {"inetOrgPerson"}}, {"cn", {cn}}, {"sn", {cn}}, {"mail", {a}}}});
        else
            entries.push_back({"cn=" + cn + "," + ou_dn,
                               {{"objectClass", {"inetOrgPerson", "rcptguardTestMailRecipient"}},
                                {"cn", {cn}},
                                {"sn", {cn}},
                                {"utf8MailAddress", {a}}}});
    }
    add(entries);
}

}  // namespace rcptguard::testing
