"""The lookup cache and the statistics through a real Postfix: answers are
cached, a user added with the sqlite3 shell is accepted at once (the cache
notices the change), a known user keeps being accepted while the database is
unreadable (serve-stale, logged) while an unknown one gets 451, the
metrics endpoint serves counters that match what happened, and a reload
(SIGUSR1) starts with an empty cache."""

import os
import re
import unittest
import urllib.request

import harness as h


class CacheAndMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        dbdir = os.path.join(cls.root, "db")
        os.makedirs(dbdir)
        os.chmod(dbdir, 0o777)
        cls.db = os.path.join(dbdir, "r.db")
        h.make_sqlite_db(cls.db, ["alice@example.test", "bob@example.test"])
        cls.port = h.free_port()
        cls.metrics_port = h.free_port()
        cls.rg = h.Rcptguard(cls.root, """\
socket = inet:{port}@127.0.0.1
user = nobody
pid_file = {root}/rcptguard.pid
metrics_listen = 127.0.0.1:{mport}
domains = example.test
backends = users
cache_positive_ttl = 10m
cache_negative_ttl = 10m
cache_stale_ttl = 1h
[backend users]
type = sqlite
path = {db}
""".format(port=cls.port, root=cls.root, mport=cls.metrics_port, db=cls.db)).start(wait_port=cls.port)
        cls.pf = h.Postfix(cls.root, main={"smtpd_milters": "inet:127.0.0.1:%d" % cls.port}).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as r:
            self.assertEqual(r.status, 200)
            return r.read().decode()

    def value(self, text, name):
        m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
        self.assertIsNotNone(m, "%s missing from metrics" % name)
        return float(m.group(1))

    def rcpt(self, addr):
        return h.rcpt_verdict(self.pf.port, addr)[0]

    def test_1_added_user_accepted_despite_cached_negative_answer(self):
        self.assertEqual(self.rcpt("<carol@example.test>"), 550)   # cached as not found for 10m
        h.sqlite_cli(self.db, "INSERT INTO recipients VALUES ('carol@example.test')")
        h.wait_until(lambda: self.rcpt("<carol@example.test>") == 250, 10, "carol accepted")
        h.sqlite_cli(self.db, "DELETE FROM recipients WHERE address = 'carol@example.test'")
        h.wait_until(lambda: self.rcpt("<carol@example.test>") == 550, 10, "carol rejected again")

    def test_2_serve_stale_during_outage_found_only(self):
        self.assertEqual(self.rcpt("<alice@example.test>"), 250)
        self.assertEqual(self.rcpt("<nosuch@example.test>"), 550)
        os.chmod(self.db, 0)
        try:
            self.rg.wait_log(r"database .* is unreadable", timeout=10)
            mark = self.rg.log_size()
            # Fresh cache entries are answered from the cache without asking the database.
            self.assertEqual(self.rcpt("<alice@example.test>"), 250)
            # Never seen: only the database could tell.
            self.assertEqual(self.rcpt("<bob@example.test>"), 451)
        finally:
            os.chmod(self.db, 0o644)
        h.wait_until(lambda: self.rcpt("<bob@example.test>") == 250, 10, "database back")
        self.assertNotIn("reject: 550", self.rg.log()[mark:])

    def test_3_metrics_count_what_happened(self):
        before = self.metrics()
        for addr in ("<alice@example.test>", "<ghost1@example.test>", "<ghost2@example.test>", "<x@other.test>"):
            self.rcpt(addr)
        after = self.metrics()
        delta = lambda n: self.value(after, n) - self.value(before, n)
        self.assertEqual(delta('rcptguard_recipients_total{verdict="unknown"}'), 2)
        self.assertEqual(delta('rcptguard_replies_total{code="550"}'), 2)
        self.assertGreaterEqual(delta('rcptguard_recipients_total{verdict="valid"}'), 1)
        self.assertGreaterEqual(delta('rcptguard_backend_lookups_total{backend="users",result="not_found"}'), 2)
        self.assertGreaterEqual(self.value(after, "rcptguard_connections_total"), 4)
        self.assertGreaterEqual(self.value(after, "rcptguard_cache_entries"), 1)
        self.assertIn("# TYPE rcptguard_replies_total counter", after)
        # The command line reads the same numbers.
        r = h.run_rcptguard("-s", "-c", self.rg.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('rcptguard_replies_total{code="550"}', r.stdout)

    def test_4_reload_starts_with_an_empty_cache(self):
        found = 'rcptguard_backend_lookups_total{backend="users",result="found"}'
        self.assertEqual(self.rcpt("<bob@example.test>"), 250)
        asked = self.value(self.metrics(), found)
        self.assertEqual(self.rcpt("<bob@example.test>"), 250)
        self.assertEqual(self.value(self.metrics(), found), asked)  # answered from the cache
        self.rg.reload()
        self.assertEqual(self.rcpt("<bob@example.test>"), 250)
        self.assertEqual(self.value(self.metrics(), found), asked + 1)  # the new cache had to ask


if __name__ == "__main__":
    unittest.main()
