"""rcptguard-ctl end to end on temporary databases: every subcommand, bad input
(nothing imported, every bad line reported), and use while a running rcptguard
answers through a real Postfix: a user added with the CLI is accepted without a
restart, a removed one is rejected again."""

import os
import subprocess
import unittest

import harness as h


def ctl(*args, stdin=None):
    return subprocess.run([h.binary("rcptguard-ctl")] + list(args), input=stdin, capture_output=True, text=True,
                          timeout=60)


class CtlCommands(unittest.TestCase):
    def setUp(self):
        self.root = h.make_root()
        self.db = os.path.join(self.root, "lib", "recipients.db")
        self.conf = os.path.join(self.root, "rcptguard.conf")
        with open(self.conf, "w") as f:
            f.write("domains = example.test .example.test\nbackends = users\nuser = nobody\n"
                    "[backend users]\ntype = sqlite\npath = %s\n" % self.db)

    def c(self, *args, stdin=None):
        return ctl("-c", self.conf, *args, stdin=stdin)

    def test_init_creates_database_owned_by_daemon_user(self):
        r = self.c("init")
        self.assertEqual(r.returncode, 0, r.stderr)
        st = os.stat(self.db)
        self.assertEqual(st.st_uid, h.pwd.getpwnam("nobody").pw_uid)
        self.assertEqual(st.st_mode & 0o777, 0o640)
        self.assertEqual(os.stat(os.path.dirname(self.db)).st_uid, h.pwd.getpwnam("nobody").pw_uid)
        r = subprocess.run(["sqlite3", self.db, "PRAGMA journal_mode"], capture_output=True, text=True)
        self.assertEqual(r.stdout.strip(), "wal")
        r = self.c("init")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists (not touched)", r.stderr)

    def test_add_normalises_reports_duplicates_and_refuses_bad_addresses(self):
        self.c("init")
        r = self.c("add", "Alice@Example.TEST", "<bob@example.test>", "@catchall.example.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("added 3", r.stdout)
        r = self.c("add", "alice@example.test", "carol@example.test")
        self.assertEqual(r.returncode, 0)
        self.assertIn("alice@example.test: already present", r.stderr)
        self.assertIn("added 1", r.stdout)
        r = self.c("add", "dave@example.test", "not an address", "eve@")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not an address: invalid character in local part", r.stderr)
        self.assertIn("eve@: empty domain", r.stderr)
        self.assertIn("nothing changed", r.stderr)
        self.assertNotIn("dave@example.test", self.c("export").stdout)
        self.assertEqual(self.c("export").stdout.split(),
                         ["@catchall.example.test", "alice@example.test", "bob@example.test", "carol@example.test"])

    def test_add_outside_domains_refused_unless_forced(self):
        self.c("init")
        r = self.c("add", "alice@example.test", "kim@other.test", "@elsewhere.test")
        self.assertEqual(r.returncode, 1)
        self.assertIn("kim@other.test: domain other.test is not in 'domains' of %s (rcptguard never looks it up): "
                      "add it there first, or use --force" % self.conf, r.stderr)
        self.assertIn("@elsewhere.test: domain elsewhere.test is not in 'domains'", r.stderr)
        self.assertIn("nothing changed", r.stderr)
        self.assertNotIn("added", r.stdout)
        self.assertEqual(self.c("export").stdout, "")
        # Subdomains listed as .example.test count.
        self.assertIn("added 1", self.c("add", "x@sub.example.test").stdout)
        r = self.c("add", "kim@other.test", "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: kim@other.test: domain other.test is not in 'domains'", r.stderr)
        self.assertIn("added 1", r.stdout)
        # import: the same rule, every such line reported, nothing imported.
        r = self.c("import", "-", stdin="bob@example.test\nzed@third.test\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("<stdin>:2: zed@third.test: domain third.test is not in 'domains'", r.stderr)
        self.assertNotIn("bob@example.test", self.c("export").stdout)
        r = self.c("--force", "import", "-", stdin="bob@example.test\nzed@third.test\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("imported 2 new recipients", r.stdout)

    def test_domains_from_a_database_are_not_second_guessed(self):
        # domains = backend:NAME: the database says which domains are ours,
        # which rcptguard-ctl cannot know, so it stores any domain.
        with open(self.conf, "w") as f:
            f.write("domains = example.test backend:users\nbackends = users\nuser = nobody\n"
                    "[backend users]\ntype = sqlite\npath = %s\n"
                    "domain_query = SELECT 1 FROM recipients WHERE address = '@' || %%d\n" % self.db)
        self.c("init")
        r = self.c("add", "kim@hosted.test", "alice@example.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("added 2", r.stdout)
        self.assertNotIn("not in 'domains'", r.stderr + self.c("domains").stdout)

    def test_del_list_domains_export(self):
        self.c("init")
        self.c("add", "--force", "a@example.test", "b@example.test", "x@other.test", "@example.test")
        r = self.c("del", "b@example.test", "zz@example.test")
        self.assertEqual(r.returncode, 0)
        self.assertIn("removed 1", r.stdout)
        self.assertIn("zz@example.test: not present", r.stderr)
        self.assertEqual(self.c("list", "*@EXAMPLE.test").stdout.split(), ["@example.test", "a@example.test"])
        self.assertEqual(self.c("list", "?*@example.test").stdout.split(), ["a@example.test"])
        self.assertEqual(self.c("list").stdout.split(), ["@example.test", "a@example.test", "x@other.test"])
        r = self.c("domains")
        self.assertIn("example.test\t1 address, catch-all", r.stdout)
        self.assertIn("other.test\t1 address\t(not in 'domains': never consulted)", r.stdout)

    def test_import_all_or_nothing_every_bad_line_reported(self):
        self.c("init")
        bad = "ok1@example.test\n# comment\n\nbroken line\nok2@example.test  OK\n<x@>\n"
        path = os.path.join(self.root, "bad.txt")
        with open(path, "w") as f:
            f.write(bad)
        r = self.c("import", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:4: broken line: address has no domain" % path, r.stderr)
        self.assertIn("%s:6: <x@>: empty domain" % path, r.stderr)
        self.assertIn("2 bad lines: nothing imported", r.stderr)
        self.assertEqual(self.c("export").stdout, "")
        r = self.c("import", "-", stdin="ok1@example.test\nOK2@Example.test\nok1@example.test\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("imported 2 new recipients (1 already present)", r.stdout)
        # export | import round-trips
        exported = self.c("export").stdout
        other = os.path.join(self.root, "copy.db")
        self.assertEqual(ctl("--db", other, "init").returncode, 0)
        self.assertEqual(ctl("--db", other, "import", "-", stdin=exported).returncode, 0)
        self.assertEqual(ctl("--db", other, "export").stdout, exported)

    def test_errors_are_clear(self):
        r = self.c("list")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such file (create it with: rcptguard-ctl init)", r.stderr)
        r = self.c("add")
        self.assertEqual(r.returncode, 64)
        r = self.c("frobnicate")
        self.assertEqual(r.returncode, 64)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        r = ctl("-c", os.path.join(self.root, "none.conf"), "list")
        self.assertEqual(r.returncode, 78)
        junk = os.path.join(self.root, "junk.db")
        with open(junk, "w") as f:
            f.write("x" * 5000)
        r = ctl("--db", junk, "list")
        self.assertEqual(r.returncode, 1)
        self.assertIn("junk.db", r.stderr)
        r = ctl("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: rcptguard-ctl", r.stdout)

    def test_check_same_verdicts_and_exit_codes_as_rcptguard_q(self):
        self.c("init")
        self.c("add", "alice@example.test")
        for addr, code in (("alice+x@example.test", 0), ("nosuch@example.test", 1), ("x@other.test", 3)):
            r = self.c("check", addr)
            q = h.run_rcptguard("-q", addr, "-c", self.conf)
            self.assertEqual((r.returncode, r.stdout), (q.returncode, q.stdout))
            self.assertEqual(r.returncode, code)
        os.chmod(self.db, 0)
        os.chmod(os.path.dirname(self.db), 0)
        try:
            r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                h.binary("rcptguard-ctl"), "-c", self.conf, "check", "alice@example.test"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        finally:
            os.chmod(os.path.dirname(self.db), 0o750)
            os.chmod(self.db, 0o640)


class CtlWhileDaemonRuns(unittest.TestCase):
    def test_changes_seen_by_running_daemon_through_postfix(self):
        root = h.make_root()
        db = os.path.join(root, "lib", "recipients.db")
        port = h.free_port()
        rg = h.Rcptguard(root, """\
socket = inet:{port}@127.0.0.1
user = nobody
pid_file = {root}/rcptguard.pid
domains = example.test
backends = users
cache_negative_ttl = 10m
[backend users]
type = sqlite
path = {db}
""".format(port=port, root=root, db=db))
        self.assertEqual(ctl("-c", rg.conf, "init").returncode, 0)
        self.assertEqual(ctl("-c", rg.conf, "add", "alice@example.test").returncode, 0)
        rg.start(wait_port=port)
        pf = h.Postfix(root, main={"smtpd_milters": "inet:127.0.0.1:%d" % port}).start()
        try:
            rcpt = lambda a: h.rcpt_verdict(pf.port, a)[0]
            self.assertEqual(rcpt("<alice@example.test>"), 250)
            self.assertEqual(rcpt("<newbie@example.test>"), 550)  # now cached as unknown for 10m
            self.assertEqual(ctl("-c", rg.conf, "add", "newbie@example.test").returncode, 0)
            h.wait_until(lambda: rcpt("<newbie@example.test>") == 250, 10, "newbie accepted without restart")
            self.assertEqual(ctl("-c", rg.conf, "del", "alice@example.test").returncode, 0)
            h.wait_until(lambda: rcpt("<alice@example.test>") == 550, 10, "alice rejected after removal")
            # Many writes while the daemon reads: never a wrong verdict for the user that stays.
            for i in range(30):
                ctl("-c", rg.conf, "add", "bulk%d@example.test" % i)
                self.assertEqual(rcpt("<newbie@example.test>"), 250)
            self.assertNotIn("defer", rg.log())
        finally:
            pf.stop()
            rg.kill()


if __name__ == "__main__":
    unittest.main()
