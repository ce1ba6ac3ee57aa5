// slapd_fixture: a real, throwaway OpenLDAP server for the unit tests of the
// LDAP backend (recipe: doc/testing.md, "A throwaway slapd").
//
// Each instance has its own slapd.conf, mdb database and log in a temporary
// directory and listens on a free port on 127.0.0.1 only. slapd runs in the
// foreground as our child ("-d 0") with a parent-death signal, so even a
// crashed test binary leaves no daemon behind. Schemas: core, cosine,
// inetorgperson and tests/ldap/rcptguard-test.schema (mailAlternateAddress,
// proxyAddresses, userPrincipalName).
//
// shared() is one instance for the whole test binary, started on first use
// and stopped when the tests end; tests that stop, restart or freeze a server
// make their own. Entries are added online over LDAP as the root DN.
// Thread-safety: drive a fixture from the test's main thread; lookups against
// it may come from any thread. Errors throw std::runtime_error.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/test_support.hpp"

namespace rcptguard::testing {

struct LdapEntry {
    std::string dn;
    std::vector<std::pair<std::string, std::vector<std::string>>> attributes;
};

class SlapdFixture {
public:
    static constexpr const char* kSuffix = "dc=example,dc=test";
    static constexpr const char* kRootDn = "cn=admin,dc=example,dc=test";
    static constexpr const char* kRootPassword = "fixture-root-secret";

    SlapdFixture();  // configured, started, suffix entry created
    ~SlapdFixture();
    SlapdFixture(const SlapdFixture&) = delete;
    SlapdFixture& operator=(const SlapdFixture&) = delete;

    static SlapdFixture& shared();
    // A loopback port nothing listened on a moment ago.
    static int free_port();

    std::string uri() const;
    int port() const { return port_; }
    const TempDir& dir() const { return dir_; }

    void start();   // again after stop(): same port, same data
    void stop();    // SIGINT, as an admin would; waits for the exit
    void pause();   // SIGSTOP: a hung server (the kernel still accepts connections)
    void resume();  // SIGCONT

    void add(const std::vector<LdapEntry>& entries);
    // A fresh organizational unit under kSuffix, so tests sharing the server
    // never see each other's entries. Returns its DN.
    std::string new_ou();
    // Adds one inetOrgPerson per address (mail = address) under ou_dn; an
    // address with UTF-8 in it goes into utf8MailAddress instead, because
    // mail (IA5String) holds ASCII only.
    void add_mail_entries(const std::string& ou_dn, const std::vector<std::string>& addresses);

private:
    void write_config();
    void wait_ready();

    TempDir dir_;
    int port_ = 0;
    pid_t pid_ = -1;
    bool paused_ = false;
    int next_ou_ = 0;
    int next_entry_ = 0;
};

}  // namespace rcptguard::testing
