"""The SQL backends end to end: a real PostgreSQL 15 and a real MariaDB (each
started once for this module), a PostfixAdmin-shaped schema of our own
(mailbox, alias, alias_domain, domain, with active flags, a catch-all, an alias
domain, a backup-MX domain), rcptguard, and a real Postfix.

An admin's configuration: one backend section, "domains = backend:pfa".
Known recipients get 250, unknown ones 550 5.1.1, an inactive mailbox is
unknown, a domain only the database names is ours, any other domain gets no
opinion. While the database is killed, frozen or refuses the login: 451,
never 5xx; afterwards it answers again without a restart of anything. Two
hosts with the first one dead: the second answers. TLS prefer/require with a
test CA, "-n" naming a query the server refuses, "-q" naming the backend and
the key, per-domain mode, and the policy service.
"""

import os
import pwd
import unittest

import harness as h

PASSWORD = "sql-Pa55-w0rd"
TLS_ONLY_PASSWORD = "tls-Pa55-w0rd"
DOMAINS = "pfa.test catch.test aliasdom.test off.test backup.test other.test"

# The same rows on both servers. PostfixAdmin keeps an alias row for every
# mailbox; carol has none (the query must find mailboxes on their own).
PG_SCHEMA = """
CREATE TABLE domain (domain varchar(255) PRIMARY KEY, active boolean NOT NULL DEFAULT true,
                     backupmx boolean NOT NULL DEFAULT false);
CREATE TABLE mailbox (username varchar(255) PRIMARY KEY, local_part varchar(255) NOT NULL,
                      domain varchar(255) NOT NULL, active boolean NOT NULL DEFAULT true);
CREATE TABLE alias (address varchar(255) PRIMARY KEY, goto text NOT NULL, domain varchar(255) NOT NULL,
                    active boolean NOT NULL DEFAULT true);
CREATE TABLE alias_domain (alias_domain varchar(255) PRIMARY KEY, target_domain varchar(255) NOT NULL,
                           active boolean NOT NULL DEFAULT true);
"""
MY_SCHEMA = PG_SCHEMA.replace("boolean NOT NULL DEFAULT true", "tinyint(1) NOT NULL DEFAULT 1").replace(
    "boolean NOT NULL DEFAULT false", "tinyint(1) NOT NULL DEFAULT 0")
DATA = """
INSERT INTO domain (domain, active, backupmx) VALUES ('pfa.test', {t}, {f}), ('catch.test', {t}, {f}),
  ('off.test', {f}, {f}), ('backup.test', {t}, {t});
INSERT INTO mailbox (username, local_part, domain, active) VALUES
  ('alice@pfa.test', 'alice', 'pfa.test', {t}), ('bob@pfa.test', 'bob', 'pfa.test', {f}),
  ('carol@pfa.test', 'carol', 'pfa.test', {t}), ('dave@off.test', 'dave', 'off.test', {t});
INSERT INTO alias (address, goto, domain, active) VALUES
  ('alice@pfa.test', 'alice@pfa.test', 'pfa.test', {t}), ('bob@pfa.test', 'bob@pfa.test', 'pfa.test', {f}),
  ('sales@pfa.test', 'alice@pfa.test', 'pfa.test', {t}), ('@catch.test', 'alice@pfa.test', 'catch.test', {t});
INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES ('aliasdom.test', 'pfa.test', {t});
"""

PG_QUERY = ("SELECT 1 FROM alias WHERE address = %s AND active\n"
            "  UNION ALL SELECT 1 FROM mailbox WHERE username = %s AND active\n"
            "  UNION ALL SELECT 1 FROM alias_domain ad JOIN alias a ON a.address = %u || '@' || ad.target_domain\n"
            "    WHERE ad.alias_domain = %d AND ad.active AND a.active")
MY_QUERY = PG_QUERY.replace("%u || '@' || ad.target_domain", "CONCAT(%u, '@', ad.target_domain)")
DOMAIN_QUERY = ("SELECT 1 FROM domain WHERE domain = %d AND active AND NOT backupmx\n"
                "  UNION ALL SELECT 1 FROM alias_domain WHERE alias_domain = %d AND active")

ENV = None


class Env:
    """Both servers, the test CA and the secret files, once for the module."""

    def __init__(self):
        self.root = h.make_root()
        tls_dir = os.path.join(self.root, "tls")
        self.ca = h.TestCA(tls_dir)
        self.wrong_ca = h.TestCA(tls_dir, "wrong-ca")
        cert, key = self.ca.server_cert()
        self.pg = h.Postgres(self.root, tls=(cert, key)).start()
        self.pg.psql("CREATE ROLE rcptguard LOGIN PASSWORD '%s';"
                     "CREATE ROLE tlsonly LOGIN PASSWORD '%s';"
                     "CREATE DATABASE postfixadmin;" % (PASSWORD, TLS_ONLY_PASSWORD))
        self.pg.psql(PG_SCHEMA + DATA.format(t="true", f="false") +
                     "GRANT SELECT ON domain, mailbox, alias, alias_domain TO rcptguard, tlsonly;", db="postfixadmin")
        # tlsonly may log in over TLS only.
        hba = os.path.join(self.pg.data, "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write("hostnossl all tlsonly 127.0.0.1/32 reject\n" + rules)
        self.pg.psql("SELECT pg_reload_conf();")
        self.my = h.MariaDB(self.root, tls=(cert, key, self.ca.cert)).start()
        self.my.sql("CREATE DATABASE postfixadmin;"
                    "CREATE USER 'rcptguard'@'127.0.0.1' IDENTIFIED BY '%s';"
                    "CREATE USER 'tlsonly'@'127.0.0.1' IDENTIFIED BY '%s' REQUIRE SSL;" % (PASSWORD, TLS_ONLY_PASSWORD))
        self.my.sql(MY_SCHEMA + DATA.format(t="1", f="0") +
                    "GRANT SELECT ON postfixadmin.* TO 'rcptguard'@'127.0.0.1';"
                    "GRANT SELECT ON postfixadmin.* TO 'tlsonly'@'127.0.0.1';", db="postfixadmin")
        self.pwfile = self.secret("password", PASSWORD)
        self.tls_pwfile = self.secret("tls-password", TLS_ONLY_PASSWORD)

    def secret(self, name, value):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(value + "\n")
        # root:nobody's group, 0640: rcptguard reads it again, as nobody, on reload.
        os.chown(path, 0, pwd.getpwnam(h.UNPRIVILEGED_USER).pw_gid)
        os.chmod(path, 0o640)
        return path

    def server(self, kind):
        return self.pg if kind == "pgsql" else self.my

    def backend(self, kind, name="pfa", hosts=None, user="rcptguard", pwfile=None, tls="off", ca=None, query=None,
                extra=""):
        srv = self.server(kind)
        return """\
[backend {name}]
type = {kind}
hosts = {hosts}
dbname = postfixadmin
user = {user}
password_file = {pwfile}
tls = {tls}
tls_ca_file = {ca}
query = {query}
domain_query = {dq}
connect_timeout = 1s
query_timeout = 1s
retry_after = 1s
{extra}
""".format(name=name, kind=kind, hosts=hosts or "127.0.0.1:%d" % srv.port, user=user,
           pwfile=pwfile or self.pwfile, tls=tls, ca=ca or self.ca.cert,
           query=(query or (PG_QUERY if kind == "pgsql" else MY_QUERY)).replace("\n", "\n "),
           dq=DOMAIN_QUERY.replace("\n", "\n "), extra=extra)


def setUpModule():
    global ENV
    ENV = Env()


def tearDownModule():
    ENV.pg.stop()
    ENV.my.stop()


def config(port, policy_port, backend, extra=""):
    return """\
socket = inet:{port}@127.0.0.1
policy_socket = inet:127.0.0.1:{policy}
user = {user}
pid_file = {root}/rcptguard-{port}.pid
log_level = debug
# Every recipient goes to the database here, so an outage shows at once
# (the cache has its own tests).
cache = no
trusted_networks = 127.0.0.0/8
domains = backend:pfa
backends = pfa
{extra}
{backend}""".format(port=port, policy=policy_port, user=h.UNPRIVILEGED_USER, root=ENV.root, extra=extra,
                    backend=backend)


class _ThroughPostfix:
    """The same tests for both servers (kind = "pgsql" or "mysql")."""

    kind = None

    @classmethod
    def setUpClass(cls):
        cls.port = h.free_port()
        cls.policy_port = h.free_port()
        cls.config = config(cls.port, cls.policy_port, ENV.backend(cls.kind))
        cls.rg = h.Rcptguard(ENV.root, cls.config, name="rg-" + cls.kind).start(wait_port=cls.port)
        cls.sink = h.SmtpSink()
        routes = ", ".join("%s=smtp:[127.0.0.1]:%d" % (d, cls.sink.port) for d in DOMAINS.split())
        cls.pf = h.Postfix(os.path.join(ENV.root, cls.kind), main={
            "relay_domains": DOMAINS,
            "transport_maps": "inline:{ %s }" % routes,
            "smtpd_milters": "inet:127.0.0.1:%d" % cls.port,
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    def setUp(self):
        srv = ENV.server(self.kind)
        srv.resume()
        if not srv.running():
            srv.start()

    def rcpt(self, addr):
        return h.rcpt_verdict(self.pf.port, addr)

    def assertAccepted(self, addr):
        code, msg = self.rcpt(addr)
        self.assertEqual(code, 250, "%s: %s %s\n%s" % (addr, code, msg, self.rg.log()[-3000:]))

    def assertUnknown(self, addr):
        code, msg = self.rcpt(addr)
        self.assertEqual((code, msg), (550, "5.1.1 %s: Recipient address rejected: User unknown" % addr))

    def assertTempFailed(self, addr):
        code, msg = self.rcpt(addr)
        self.assertEqual(code, 451, "%s: %s %s" % (addr, code, msg))
        self.assertTrue(msg.startswith("4.3.0 %s: Recipient address rejected: Temporary lookup failure" % addr), msg)

    def query(self, addr, conf=None):
        return h.run_rcptguard("-q", addr, "-c", conf or self.rg.conf)

    def write_conf(self, name, text):
        path = os.path.join(ENV.root, "%s-%s.conf" % (self.kind, name))
        with open(path, "w") as f:
            f.write(text)
        return path

    # --- verdicts through Postfix -------------------------------------------

    def test_postfixadmin_mailbox_alias_and_catch_all_accepted(self):
        for a in ("<alice@pfa.test>", "<alice+news@pfa.test>", "<ALICE@PFA.TEST>", "<sales@pfa.test>",
                  "<carol@pfa.test>", "<anything@catch.test>"):
            self.assertAccepted(a)

    def test_alias_domain_maps_to_the_target_domain(self):
        self.assertAccepted("<alice@aliasdom.test>")
        self.assertAccepted("<sales@aliasdom.test>")
        self.assertUnknown("<nobody@aliasdom.test>")

    def test_unknown_and_inactive_mailbox_rejected_550(self):
        self.assertUnknown("<nobody@pfa.test>")
        self.assertUnknown("<bob@pfa.test>")

    def test_domains_the_database_does_not_serve_get_no_opinion(self):
        # other.test is not in the database, off.test is disabled, backup.test
        # is a backup MX: Postfix (relay_domains) accepts, rcptguard says nothing.
        for a in ("<nobody@other.test>", "<dave@off.test>", "<nobody@backup.test>"):
            self.assertAccepted(a)
        self.assertRegex(self.rg.log(), r"<nobody@other\.test>: no opinion")

    def test_hostile_addresses_are_data(self):
        # (A '%' in the local part is Postfix's to refuse, as a relay attempt.)
        for a in ("<\"' OR 1=1 --\"@pfa.test>", "<\"x' OR 'a'='a\"@pfa.test>", "<\"a\\\\b\"@pfa.test>",
                  "<_lice@pfa.test>", "<alic_@pfa.test>", "<" + "a" * 64 + "@pfa.test>"):
            code, msg = self.rcpt(a)
            self.assertIn(code, (550, 501), "%s: %s %s" % (a, code, msg))
        self.assertAccepted("<alice@pfa.test>")

    def test_message_to_known_recipient_delivered(self):
        with h.Smtp(self.pf.port) as c:
            self.assertEqual(c.mail("<sender@client.test>")[0], 250)
            self.assertEqual(c.rcpt("<sales@pfa.test>")[0], 250)
            self.assertEqual(c.rcpt("<nobody@pfa.test>")[0], 550)
            self.assertEqual(c.data("Subject: sql %s\r\n\r\nhello\r\n" % self.kind)[0], 250)
        got = self.sink.wait_for(lambda m: b"Subject: sql " + self.kind.encode() in m["data"])
        self.assertEqual(got[0]["rcpts"], ["sales@pfa.test"])

    def test_policy_service_gives_the_same_verdicts(self):
        self.pf.reconfigure(smtpd_milters="", smtpd_recipient_restrictions=(
            "reject_unauth_destination, check_policy_service inet:127.0.0.1:%d" % self.policy_port))
        try:
            self.assertAccepted("<alice@aliasdom.test>")
            self.assertUnknown("<bob@pfa.test>")
            self.assertAccepted("<nobody@other.test>")
        finally:
            self.pf.reconfigure(smtpd_milters="inet:127.0.0.1:%d" % self.port, smtpd_recipient_restrictions="")

    # --- outages -------------------------------------------------------------

    def test_server_killed_451_never_550_then_back_without_restart(self):
        srv = ENV.server(self.kind)
        self.assertAccepted("<alice@pfa.test>")
        srv.kill()
        try:
            self.assertTempFailed("<alice@pfa.test>")
            self.assertTempFailed("<nobody@pfa.test>")
            self.assertTempFailed("<someone@other.test>")  # is the domain ours? unknown: 451
        finally:
            srv.start()
        h.wait_until(lambda: self.rcpt("<alice@pfa.test>")[0] == 250, 30, "the database to answer again")
        self.assertUnknown("<nobody@pfa.test>")

    def test_server_frozen_451_never_550_then_back(self):
        srv = ENV.server(self.kind)
        self.assertAccepted("<carol@pfa.test>")
        srv.pause()
        try:
            for a in ("<carol@pfa.test>", "<nobody@pfa.test>", "<alice@pfa.test>"):
                self.assertTempFailed(a)
        finally:
            srv.resume()
        h.wait_until(lambda: self.rcpt("<carol@pfa.test>")[0] == 250, 30, "the database to answer again")
        self.assertRegex(self.rg.log(), r"(no answer within|not tried)")

    def test_first_host_dead_second_answers(self):
        dead = "127.0.0.1:%d" % h.free_port()
        conf = self.write_conf("twohosts", config(
            self.port, self.policy_port,
            ENV.backend(self.kind, hosts="%s 127.0.0.1:%d" % (dead, ENV.server(self.kind).port))))
        r = self.query("alice@pfa.test", conf)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.query("nobody@pfa.test", conf)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        # The daemon too, through Postfix.
        self.rg.reload(open(conf).read())
        try:
            self.assertAccepted("<alice@pfa.test>")
            self.assertUnknown("<nobody@pfa.test>")
        finally:
            self.rg.reload(self.config)

    def test_wrong_password_451_and_reason_logged_without_the_password(self):
        wrong = ENV.secret("wrong-%s" % self.kind, "not-the-password")
        conf = self.write_conf("wrongpw", config(self.port, self.policy_port, ENV.backend(self.kind, pwfile=wrong)))
        r = self.query("alice@pfa.test", conf)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"temporary failure: backend pfa: .*(password authentication failed|Access denied)")
        self.assertNotIn("not-the-password", r.stdout + r.stderr)

    # --- the command line ----------------------------------------------------

    def test_check_reports_a_query_the_server_refuses_naming_the_backend(self):
        bad = self.write_conf("badquery", config(self.port, self.policy_port, ENV.backend(
            self.kind, query="SELECT 1 FROM mailboxes WHERE username = %s")))
        r = h.run_rcptguard("-n", "-c", bad)
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"rcptguard: backend pfa: query: 127\.0\.0\.1:\d+: .*mailboxes")
        good = h.run_rcptguard("-n", "-c", self.rg.conf)
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        # A reload with the broken query keeps the running configuration.
        out = self.rg.reload(open(bad).read())
        self.assertIn("reload failed", out)
        self.rg.write_config(self.config)
        self.assertAccepted("<alice@pfa.test>")

    def test_check_refuses_a_quoted_placeholder(self):
        bad = self.write_conf("quoted", config(self.port, self.policy_port, ENV.backend(
            self.kind, query="SELECT 1 FROM mailbox WHERE username = '%s'")))
        r = h.run_rcptguard("-n", "-c", bad)
        self.assertEqual(r.returncode, 78)
        self.assertRegex(r.stderr, r"%s:\d+: query: a placeholder is inside quotes" % bad)

    def test_query_names_the_backend_the_key_and_the_domain_source(self):
        r = self.query("alice+x@aliasdom.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("<alice+x@aliasdom.test>: valid: found alice@aliasdom.test in backend pfa "
                      "(domain aliasdom.test found by backend pfa's domain_query)", r.stdout)
        r = self.query("someone@catch.test")
        self.assertIn("found @catch.test in backend pfa", r.stdout)
        self.assertEqual(self.query("bob@pfa.test").returncode, 1)
        self.assertEqual(self.query("x@other.test").returncode, 3)

    # --- TLS -----------------------------------------------------------------

    def tls_query(self, tls, ca=None):
        conf = self.write_conf("tls-" + tls, config(self.port, self.policy_port, ENV.backend(
            self.kind, user="tlsonly", pwfile=ENV.tls_pwfile, tls=tls, ca=ca)))
        return h.run_rcptguard("-q", "alice@pfa.test", "-c", conf)

    def test_tls_require_with_the_right_ca_works_wrong_ca_451(self):
        r = self.tls_query("require")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.tls_query("require", ca=ENV.wrong_ca.cert)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

    def test_tls_prefer_encrypts_when_offered_off_does_not(self):
        # The tlsonly user may log in over TLS only.
        self.assertEqual(self.tls_query("prefer").returncode, 0)
        r = self.tls_query("off")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)


class PgsqlThroughPostfix(_ThroughPostfix, unittest.TestCase):
    kind = "pgsql"


class MysqlThroughPostfix(_ThroughPostfix, unittest.TestCase):
    kind = "mysql"


class PerDomainMode(unittest.TestCase):
    """mode = monitor for one domain while another enforces, through Postfix."""

    def test_monitor_for_one_domain_enforce_for_another(self):
        port, policy = h.free_port(), h.free_port()
        text = config(port, policy, ENV.backend("pgsql"))
        text += "\n[domain pfa.test]\nmode = monitor\n\n[domain aliasdom.test]\nreject_message = No such alias\n"
        rg = h.Rcptguard(ENV.root, text, name="rg-domains").start(wait_port=port)
        pf = h.Postfix(os.path.join(ENV.root, "pf-domains"), main={
            "relay_domains": DOMAINS, "transport_maps": "inline:{ pfa.test=discard:, aliasdom.test=discard: }",
            "smtpd_milters": "inet:127.0.0.1:%d" % port}).start()
        try:
            self.assertEqual(h.rcpt_verdict(pf.port, "<nobody@pfa.test>")[0], 250)
            rg.wait_log(r"<nobody@pfa\.test>: would reject \(monitor mode\): 550 5\.1\.1")
            self.assertEqual(h.rcpt_verdict(pf.port, "<nobody@aliasdom.test>"),
                             (550, "5.1.1 <nobody@aliasdom.test>: Recipient address rejected: No such alias"))
            self.assertEqual(h.rcpt_verdict(pf.port, "<alice@aliasdom.test>")[0], 250)
        finally:
            pf.stop()
            rg.kill()


if __name__ == "__main__":
    unittest.main()
