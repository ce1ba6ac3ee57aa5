"""The LDAP backend end to end: a real slapd (StartTLS with a test CA, a bound
service account, OpenLDAP-style and Active Directory-style entries), rcptguard,
and a real Postfix. Outages: slapd killed and restarted, slapd frozen.
"""

import os
import pwd
import re
import socket
import time
import unittest

import harness as h

SERVICE_DN = "cn=rcptguard,ou=services,dc=example,dc=test"
SERVICE_PW = "svc-Pa55-w0rd"

LDIF = """\
dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
dc: example
o: rcptguard integration tests

dn: ou=services,dc=example,dc=test
objectClass: organizationalUnit
ou: services

dn: {service}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: rcptguard
userPassword: {password}

dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: rcptguardTestMailRecipient
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.test
mailAlternateAddress: a.liddell@example.test

dn: uid=bob,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: Bob.Builder@Example.TEST

dn: cn=catch-all catchall.test,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
cn: catch-all catchall.test
sn: catch-all
mail: @catchall.test

dn: ou=ad,dc=example,dc=test
objectClass: organizationalUnit
ou: ad

dn: cn=Jane Doe,ou=ad,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: rcptguardTestMailRecipient
cn: Jane Doe
sn: Doe
proxyAddresses: SMTP:Jane.Doe@Example.test
proxyAddresses: smtp:jdoe@example.test
proxyAddresses: X400:c=US;a= ;p=Example;o=Exchange;s=Doe;g=Jane;
userPrincipalName: jane.upn@example.test
""".format(service=SERVICE_DN, password=SERVICE_PW)

# Only the service account may read; anonymous clients may only bind.
ACL = [
    "access to attrs=userPassword by anonymous auth by * none",
    'access to * by dn.exact="%s" read by * none' % SERVICE_DN,
]


def config(root, port, slapd, pwfile, ca, extra_directory="", uri=None):
    return """\
socket = inet:{port}@127.0.0.1
# The cache has its own tests (test_cache_metrics.py); here every recipient
# goes to the directory, so an outage shows at once.
cache = no
user = {user}
pid_file = {root}/rcptguard.pid
log_level = debug
domains = example.test catchall.test
backends = directory, ad

[backend directory]
type = ldap
uri = {uri}
base = ou=people,dc=example,dc=test
filter = (|(mail=%s)(mailAlternateAddress=%s))
bind_dn = {service}
bind_password_file = {pwfile}
start_tls = yes
tls_ca_file = {ca}
connect_timeout = 1s
search_timeout = 1s
{extra}
[backend ad]
type = ldap
uri = {uri}
base = ou=ad,dc=example,dc=test
filter = (|(proxyAddresses=smtp:%s)(userPrincipalName=%s))
bind_dn = {service}
bind_password_file = {pwfile}
start_tls = yes
tls_ca_file = {ca}
connect_timeout = 1s
search_timeout = 1s
""".format(port=port, user=h.UNPRIVILEGED_USER, root=root, uri=uri or slapd.uri, service=SERVICE_DN,
           pwfile=pwfile, ca=ca, extra=extra_directory)


def write_password_file(path, mode=0o640):
    with open(path, "w") as f:
        f.write(SERVICE_PW + "\n")
    # root:nobody's group, 0640: rcptguard re-reads it as that user on reload.
    os.chown(path, 0, pwd.getpwnam(h.UNPRIVILEGED_USER).pw_gid)
    os.chmod(path, mode)


class LdapEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        tls_dir = os.path.join(cls.root, "tls")
        cls.ca = h.TestCA(tls_dir)
        cls.wrong_ca = h.TestCA(tls_dir, "wrong-ca")
        cert, key = cls.ca.server_cert()
        # Simple binds only over TLS: a bind that worked proves StartTLS did.
        cls.slapd = h.Slapd(cls.root, tls=(cert, key), global_lines=["security simple_bind=128"], acl=ACL)
        cls.slapd.load(LDIF)
        cls.pwfile = os.path.join(cls.root, "ldap-password")
        write_password_file(cls.pwfile)
        cls.milter_port = h.free_port()
        cls.base_config = config(cls.root, cls.milter_port, cls.slapd, cls.pwfile, cls.ca.cert)
        # rcptguard first, the directory later: starting without it is not fatal.
        cls.rg = h.Rcptguard(cls.root, cls.base_config).start(wait_port=cls.milter_port)
        cls.slapd.start()
        cls.pf = h.Postfix(cls.root, main={
            "relay_domains": "example.test catchall.test",
            "transport_maps": "inline:{ example.test=discard:, catchall.test=discard: }",
            "smtpd_milters": "inet:127.0.0.1:%d" % cls.milter_port,
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()
        cls.slapd.stop()

    def setUp(self):
        self.slapd.resume()
        if self.slapd.proc.poll() is not None:
            self.slapd.start()

    def rcpt(self, addr):
        return h.rcpt_verdict(self.pf.port, addr)

    def assertAccepted(self, addr):
        code, msg = self.rcpt(addr)
        self.assertEqual(code, 250, "%s: %s %s" % (addr, code, msg))

    def assertTempFailed(self, addr):
        code, msg = self.rcpt(addr)
        self.assertEqual(code, 451, "%s: %s %s" % (addr, code, msg))
        self.assertTrue(msg.startswith("4.3.0 %s: Recipient address rejected: Temporary lookup failure" % addr), msg)

    def query(self, addr, conf=None):
        return h.run_rcptguard("-q", addr, "-c", conf or self.rg.conf)

    def write_conf(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # --- verdicts through Postfix -------------------------------------------

    def test_user_known_only_to_ldap_accepted(self):
        self.assertAccepted("<alice@example.test>")

    def test_unknown_user_rejected_550_511(self):
        code, msg = self.rcpt("<nosuch@example.test>")
        self.assertEqual((code, msg), (550, "5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown"))

    def test_alias_in_mail_alternate_address_accepted(self):
        self.assertAccepted("<a.liddell@example.test>")

    def test_entry_in_mixed_case_and_detail_accepted(self):
        self.assertAccepted("<bob.builder@example.test>")
        self.assertAccepted("<BOB.BUILDER+news@EXAMPLE.TEST>")

    def test_active_directory_proxy_addresses_and_upn_accepted(self):
        self.assertAccepted("<jane.doe@example.test>")  # SMTP:Jane.Doe@Example.test, the primary
        self.assertAccepted("<jdoe@example.test>")      # smtp:, a secondary
        self.assertAccepted("<jane.upn@example.test>")  # userPrincipalName
        self.assertEqual(self.rcpt("<doe@example.test>")[0], 550)

    def test_catch_all_entry_accepts_its_domain(self):
        self.assertAccepted("<anyone-at-all@catchall.test>")

    def test_filter_metacharacters_in_recipient_never_match(self):
        # Escaped per RFC 4515, these are plain values no entry holds.
        for addr in ("<*@example.test>", '<"*)(mail=*"@example.test>', '<"a*"@example.test>',
                     '<")(|(mail=*"@example.test>', '<"\\\\"@example.test>'):
            code, msg = self.rcpt(addr)
            self.assertEqual(code // 100, 5, "%s: %s %s" % (addr, code, msg))

    def test_started_before_the_directory_logged_clearly(self):
        self.rg.wait_log(r"backend directory: ldap://127\.0\.0\.1:%d/: connect: Can't contact LDAP server: "
                         r"lookups answer temporary failure until this is fixed" % self.slapd.port)

    # --- outages --------------------------------------------------------------

    def test_directory_killed_451_never_550_then_back_without_restart(self):
        pid = self.rg.pid()
        self.assertAccepted("<alice@example.test>")
        self.slapd.kill()
        mark = self.rg.log_size()
        for addr in ("<alice@example.test>", "<nosuch@example.test>", "<x@catchall.test>"):
            self.assertTempFailed(addr)
        self.rg.wait_log(r"<nosuch@example\.test>: .*backend directory: .*Can't contact LDAP server", after=mark)
        self.slapd.start()
        h.wait_until(lambda: self.rcpt("<alice@example.test>")[0] == 250, 20, "lookups to succeed again")
        self.assertEqual(self.rcpt("<nosuch@example.test>")[0], 550)
        self.assertEqual(self.rg.pid(), pid)
        self.assertIsNone(self.rg.proc.poll())

    def test_directory_hung_451_with_timeout_in_log_then_back(self):
        self.assertAccepted("<alice@example.test>")
        self.slapd.pause()
        try:
            mark = self.rg.log_size()
            self.assertTempFailed("<alice@example.test>")
            self.assertTempFailed("<nosuch@example.test>")
            self.rg.wait_log(r"<nosuch@example\.test>: .*backend directory: .*Timed out", after=mark)
            # The first lookup waited out the timeouts; later ones skip the
            # hung server for retry_after and say why.
            self.rg.wait_log(r"<nosuch@example\.test>: .*backend directory: %s: not tried: it failed [0-9.]+m?s ago "
                             r"\([^;]*Timed out[^;]*\); next try in [0-9.]+m?s \(retry_after\)"
                             % re.escape(self.slapd.uri), after=mark)
        finally:
            self.slapd.resume()
        h.wait_until(lambda: self.rcpt("<alice@example.test>")[0] == 250, 20, "lookups to succeed again")

    def test_policy_service_answers_cached_recipients_while_the_directory_hangs(self):
        # One policy worker, busy with a search the frozen directory does not
        # answer: recipients whose answers are cached are still answered at
        # once (on the I/O thread), the others wait for the directory.
        root = h.make_root()
        pp = h.free_port()
        cfg = config(root, h.free_port(), self.slapd, self.pwfile, self.ca.cert)
        cfg = cfg.replace("cache = no\n", "cache = yes\npolicy_socket = inet:127.0.0.1:%d\npolicy_workers = 1\n" % pp)
        cfg = cfg.replace("search_timeout = 1s", "search_timeout = 20s")
        rg = h.Rcptguard(root, cfg).start(wait_port=pp)
        req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.8.1\nclient_port=1\n"
               "client_name=x\nsender=s@x.test\ninstance=i%d\nrecipient=%s\n\n")
        unknown = b"action=550 5.1.1 User unknown\n\n"
        waiting = None
        try:
            with socket.create_connection(("127.0.0.1", pp), timeout=30) as warm:
                warm.sendall((req % (1, "alice@example.test")).encode())
                self.assertEqual(warm.recv(200), b"action=DUNNO\n\n")
                warm.sendall((req % (2, "nosuch@example.test")).encode())
                self.assertEqual(warm.recv(200), unknown)
            self.slapd.pause()
            waiting = socket.create_connection(("127.0.0.1", pp), timeout=30)
            waiting.sendall((req % (3, "not-asked-yet@example.test")).encode())
            time.sleep(0.3)  # the worker takes that search before the requests below arrive
            with socket.create_connection(("127.0.0.1", pp), timeout=30) as other:
                other.sendall((req % (4, "alice@example.test")).encode())
                self.assertEqual(other.recv(200), b"action=DUNNO\n\n")
                other.sendall((req % (5, "nosuch@example.test")).encode())
                self.assertEqual(other.recv(200), unknown)
            waiting.setblocking(False)
            with self.assertRaises(BlockingIOError):
                waiting.recv(200)  # its worker still waits on the directory
            waiting.setblocking(True)
            self.slapd.resume()
            self.assertEqual(waiting.recv(200), unknown)
        finally:
            self.slapd.resume()
            if waiting:
                waiting.close()
            rg.kill()

    def test_recipients_waiting_for_a_busy_directory_go_in_one_search(self):
        # One connection (pool_size = 1), busy with a search the frozen
        # directory holds: the recipients asked meanwhile wait and, once the
        # directory is back, are looked up together in one search, each with
        # its own verdict.
        root = h.make_root()
        pp = h.free_port()
        cfg = config(root, h.free_port(), self.slapd, self.pwfile, self.ca.cert, extra_directory="pool_size = 1\n")
        cfg = cfg.replace("cache = no\n", "cache = no\npolicy_socket = inet:127.0.0.1:%d\npolicy_workers = 8\n" % pp)
        cfg = cfg.replace("search_timeout = 1s", "search_timeout = 30s")
        rg = h.Rcptguard(root, cfg).start(wait_port=pp)
        req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.8.1\nclient_port=1\n"
               "client_name=x\nsender=s@x.test\ninstance=b%d\nrecipient=%s\n\n")
        dunno, unknown = b"action=DUNNO\n\n", b"action=550 5.1.1 User unknown\n\n"
        later = [("alice@example.test", dunno), ("a.liddell+news@example.test", dunno),
                 ("bob.builder@example.test", dunno), ("nosuch@example.test", unknown),
                 ("anyone@catchall.test", dunno), ('"*)(mail=*"@example.test', unknown),
                 ("jdoe@example.test", dunno)]  # not in this backend: the next one (ad) knows it
        socks = []
        try:
            with socket.create_connection(("127.0.0.1", pp), timeout=30) as warm:
                warm.sendall((req % (0, "alice@example.test")).encode())
                self.assertEqual(warm.recv(200), dunno)  # the connection is open
            mark = rg.log_size()
            self.slapd.pause()
            first = socket.create_connection(("127.0.0.1", pp), timeout=60)
            socks.append(first)
            first.sendall((req % (1, "first@example.test")).encode())
            time.sleep(0.5)  # its search holds the one connection before the others arrive
            for i, (rcpt, _) in enumerate(later):
                s = socket.create_connection(("127.0.0.1", pp), timeout=60)
                socks.append(s)
                s.sendall((req % (i + 2, rcpt)).encode())
            time.sleep(1)  # they wait for the connection
            self.slapd.resume()
            self.assertEqual(first.recv(200), unknown)
            for (rcpt, want), s in zip(later, socks[1:]):
                self.assertEqual(s.recv(200), want, rcpt)
            batched = [int(n) for n in re.findall(r"backend directory: (\d+) recipients in one search",
                                                  rg.log()[mark:])]
            self.assertTrue(batched, "no search for several recipients")
            self.assertGreaterEqual(max(batched), 2)
        finally:
            self.slapd.resume()
            for s in socks:
                s.close()
            rg.kill()

    def test_first_uri_down_second_answers_and_the_failed_one_is_logged(self):
        dead = "ldap://127.0.0.1:%d/" % h.free_port()
        mark = self.rg.log_size()
        self.rg.reload(config(self.root, self.milter_port, self.slapd, self.pwfile, self.ca.cert,
                              uri=dead + " " + self.slapd.uri))
        try:
            self.assertAccepted("<alice@example.test>")
            self.assertEqual(self.rcpt("<nosuch@example.test>")[0], 550)
            self.rg.wait_log(r"warning: backend directory: %s: connect: Can't contact LDAP server; using %s"
                             % (re.escape(dead), re.escape(self.slapd.uri)), after=mark)
        finally:
            self.rg.reload(self.base_config)
        self.assertAccepted("<alice@example.test>")

    # --- rcptguard -q -----------------------------------------------------------

    def test_query_exit_codes(self):
        r = self.query("alice@example.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("found alice@example.test in backend directory", r.stdout)
        r = self.query("jdoe@example.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("in backend ad", r.stdout)
        r = self.query("nosuch@example.test")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("unknown: would reply 550 5.1.1", r.stdout)
        dead = "ldap://127.0.0.1:%d/" % h.free_port()
        conf = self.write_conf("dead.conf", config(self.root, h.free_port(), self.slapd, self.pwfile,
                                                   self.ca.cert, uri=dead))
        r = self.query("alice@example.test", conf)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("temporary failure: backend directory: %s: connect: Can't contact LDAP server" % dead, r.stdout)
        self.assertIn("warning: backend directory: %s: connect" % dead, r.stderr)

    # --- TLS --------------------------------------------------------------------

    def test_starttls_wrong_ca_tempfails_with_clear_reason(self):
        conf = self.write_conf("wrong-ca.conf", config(self.root, h.free_port(), self.slapd, self.pwfile,
                                                       self.wrong_ca.cert))
        r = self.query("alice@example.test", conf)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("temporary failure: backend directory: %s: StartTLS: Connect error (TLS handshake failed: the "
                      "server's certificate is not signed by a CA in tls_ca_file %s" % (self.slapd.uri, self.wrong_ca.cert),
                      r.stdout)
        self.assertRegex(r.stderr, r"warning: backend directory: .*StartTLS: Connect error")

    def test_starttls_wrong_ca_in_daemon_451_and_logged(self):
        out = self.rg.reload(config(self.root, self.milter_port, self.slapd, self.pwfile, self.wrong_ca.cert))
        try:
            self.assertRegex(out, r"backend directory: .*StartTLS: Connect error")
            mark = self.rg.log_size()
            self.assertTempFailed("<alice@example.test>")
            self.rg.wait_log(r"<alice@example\.test>: .*backend directory: .*StartTLS: Connect error \(.*certificate",
                             after=mark)
        finally:
            self.rg.reload(self.base_config)
        self.assertAccepted("<alice@example.test>")

    def test_ldaps_uri_verified_and_wrong_ca_tempfails(self):
        good = self.base_config.replace(self.slapd.uri, self.slapd.ldaps_uri).replace("start_tls = yes", "")
        r = self.query("alice@example.test", self.write_conf("ldaps.conf", good))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wrong = good.replace(self.ca.cert, self.wrong_ca.cert)
        r = self.query("alice@example.test", self.write_conf("ldaps-wrong.conf", wrong))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("%s: connect: Can't contact LDAP server (TLS handshake failed: the server's certificate is not "
                      "signed by a CA in tls_ca_file %s" % (self.slapd.ldaps_uri, self.wrong_ca.cert), r.stdout)

    def test_bind_without_tls_refused_by_directory_tempfail(self):
        # The directory takes simple binds only over TLS (security simple_bind=128).
        text = self.base_config.replace("start_tls = yes", "start_tls = no")
        r = self.query("alice@example.test", self.write_conf("plain.conf", text))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("bind: Confidentiality required", r.stdout)

    def test_tls_verify_no_warns(self):
        text = self.base_config.replace("tls_ca_file = %s" % self.ca.cert, "tls_verify = no")
        r = h.run_rcptguard("-n", "-c", self.write_conf("noverify.conf", text))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("tls_verify = no: the directory's certificate is not checked", r.stderr)

    # --- configuration --------------------------------------------------------------

    def test_bad_settings_are_config_errors_with_file_line_key(self):
        cases = [("filter = (|(mail=%s)(mailAlternateAddress=%s))",
                  "filter = (|(mail=%s)(mailAlternateAddress=%s)", r"filter: unbalanced parentheses"),
                 ("filter = (|(mail=%s)(mailAlternateAddress=%s))", "filter = (mail=%x)",
                  r"filter: unknown placeholder '%x'"),
                 ("base = ou=people,dc=example,dc=test", "base = ou=people,,dc=example",
                  r"base: 'ou=people,,dc=example' is not a valid DN"),
                 ("bind_password_file = %s" % self.pwfile, "bind_password_file = %s.absent" % self.pwfile,
                  r"bind_password_file: cannot read .*: No such file or directory")]
        for old, new, want in cases:
            path = self.write_conf("bad.conf", self.base_config.replace(old, new, 1))
            r = h.run_rcptguard("-n", "-c", path)
            self.assertEqual(r.returncode, 78, "%s: %s" % (new, r.stderr))
            self.assertRegex(r.stderr, re.escape(path) + r":\d+: " + want)

    def test_world_readable_password_file_warns_never_shows_password(self):
        pw = os.path.join(self.root, "open-password")
        write_password_file(pw, 0o644)
        path = self.write_conf("open.conf", self.base_config.replace(self.pwfile, pw))
        r = h.run_rcptguard("-n", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("bind_password_file %s is accessible to every user" % pw, r.stderr)
        self.assertNotIn(SERVICE_PW, r.stdout + r.stderr)
        self.assertNotIn(SERVICE_PW, self.rg.log())


if __name__ == "__main__":
    unittest.main()
