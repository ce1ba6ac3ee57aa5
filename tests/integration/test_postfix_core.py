"""End to end through a real Postfix: recipients of a relay domain whose users
only rcptguard knows (SQLite backend), judged at RCPT time.
"""

import os
import re
import sqlite3
import unittest

import harness as h

USERS = ["alice@example.test", "Bob@Example.TEST", "sales@example.test", "@catchall.test",
         '"john doe"@example.test', "percent%hack@example.test"]


def config(root, port, db, extra=""):
    return """\
socket = inet:{port}@127.0.0.1
user = {user}
pid_file = {root}/rcptguard.pid
log_level = debug
# The cache has its own tests (test_cache_metrics.py); here every recipient
# goes to the backend.
cache = no
domains = example.test catchall.test
backends = users
{extra}
[backend users]
type = sqlite
path = {db}
""".format(port=port, user=h.UNPRIVILEGED_USER, root=root, db=db, extra=extra)


class PostfixCore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        cls.dbdir = os.path.join(cls.root, "db")
        os.makedirs(cls.dbdir)
        os.chmod(cls.dbdir, 0o777)  # WAL: the reader creates the -shm file
        cls.db = os.path.join(cls.dbdir, "recipients.db")
        h.make_sqlite_db(cls.db, USERS)
        cls.milter_port = h.free_port()
        cls.base_config = config(cls.root, cls.milter_port, cls.db)
        cls.rg = h.Rcptguard(cls.root, cls.base_config).start(wait_port=cls.milter_port)
        cls.pf = h.Postfix(cls.root, main={
            "relay_domains": "example.test catchall.test other.test",
            "transport_maps": "inline:{ example.test=discard:, catchall.test=discard:, other.test=discard: }",
            "smtpd_milters": "inet:127.0.0.1:%d" % cls.milter_port,
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    def setUp(self):
        # Every test starts from the base configuration and an intact database.
        os.chmod(self.db, 0o644)

    def rcpt(self, addr):
        return h.rcpt_verdict(self.pf.port, addr)

    def assertAccepted(self, addr):
        code, msg = self.rcpt(addr)
        self.assertEqual(code, 250, "%s: %s %s" % (addr, code, msg))

    def test_known_user_accepted(self):
        self.assertAccepted("<alice@example.test>")

    def test_unknown_user_rejected_550_511_with_our_text(self):
        code, msg = self.rcpt("<nosuch@example.test>")
        self.assertEqual(code, 550)
        self.assertEqual(msg, "5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown")
        self.rg.wait_log(r"rcpt: <nosuch@example\.test>: reject: 550 5\.1\.1")

    def test_case_insensitive(self):
        self.assertAccepted("<ALICE@EXAMPLE.TEST>")
        self.assertAccepted("<bob@example.test>")  # stored as Bob@Example.TEST

    def test_detail_found_through_base_address(self):
        self.assertAccepted("<alice+newsletters@example.test>")
        code, _ = self.rcpt("<nosuch+x@example.test>")
        self.assertEqual(code, 550)

    def test_catch_all(self):
        self.assertAccepted("<anything-at-all@catchall.test>")

    def test_quoted_local_part(self):
        self.assertAccepted('<"John Doe"@example.test>')

    def test_percent_in_reply_text_reaches_client_intact(self):
        # Postfix itself refuses user%host addresses as relay attempts, so the
        # '%' comes from a configured reject_message: it must survive libmilter
        # and Postfix's %-expansion unchanged (and not poison the milter).
        self.rg.reload(config(self.root, self.milter_port, self.db, "reject_message = No such user (100% sure)"))
        try:
            code, msg = self.rcpt("<nosuch@example.test>")
            self.assertEqual((code, msg),
                             (550, "5.1.1 <nosuch@example.test>: Recipient address rejected: No such user (100% sure)"))
            self.assertAccepted("<alice@example.test>")
        finally:
            self.rg.reload(self.base_config)

    def test_postmaster_always_accepted(self):
        self.assertAccepted("<postmaster@example.test>")
        self.assertAccepted("<PostMaster@catchall.test>")

    def test_other_domain_not_judged(self):
        mark = self.rg.log_size()
        self.assertAccepted("<nobody-here@other.test>")
        self.rg.wait_log(r"<nobody-here@other\.test>: no opinion", after=mark)

    def test_many_recipients_one_transaction_each_verdict_right(self):
        want = {
            "<alice@example.test>": 250, "<nosuch1@example.test>": 550, "<sales+x@example.test>": 250,
            "<x@catchall.test>": 250, "<nosuch2@example.test>": 550, "<elsewhere@other.test>": 250,
            "<bob@example.test>": 250, "<postmaster@example.test>": 250,
        }
        for i in range(40):
            want["<gone%d@example.test>" % i] = 550
        with h.Smtp(self.pf.port) as c:
            self.assertEqual(c.mail("<sender@client.test>")[0], 250)
            got = {a: c.rcpt(a)[0] for a in want}
            self.assertEqual(got, want)
            code, _ = c.data("Subject: t\r\n\r\nhello\r\n")
            self.assertEqual(code, 250)

    def test_database_unreadable_451_never_550(self):
        os.chmod(self.db, 0)
        try:
            mark = self.rg.log_size()
            self.rg.wait_log(r"database .* is unreadable", after=mark, timeout=10)
            for addr in ("<alice@example.test>", "<nosuch@example.test>"):
                code, msg = self.rcpt(addr)
                self.assertEqual(code, 451, "%s: %s %s" % (addr, code, msg))
                self.assertTrue(msg.startswith("4.3.0 %s: Recipient address rejected: Temporary lookup failure" % addr), msg)
        finally:
            os.chmod(self.db, 0o644)
        h.wait_until(lambda: self.rcpt("<alice@example.test>")[0] == 250, 10, "database back")

    def test_database_removed_451_then_back(self):
        moved = self.db + ".away"
        os.rename(self.db, moved)
        try:
            h.wait_until(lambda: self.rcpt("<alice@example.test>")[0] == 451, 10, "451 while missing")
            self.assertEqual(self.rcpt("<nosuch@example.test>")[0], 451)
        finally:
            os.rename(moved, self.db)
        h.wait_until(lambda: self.rcpt("<alice@example.test>")[0] == 250, 10, "database back")

    def test_user_added_with_sqlite3_shell_accepted_without_restart(self):
        # cache = no here: the change counts once the daemon's read
        # transaction (at most 10 ms) or its next check (a second) has passed.
        self.assertEqual(self.rcpt("<newbie@example.test>")[0], 550)
        h.sqlite_cli(self.db, "INSERT INTO recipients(address) VALUES ('newbie@example.test')")
        try:
            h.wait_until(lambda: self.rcpt("<newbie@example.test>")[0] == 250, 10, "newbie accepted")
        finally:
            h.sqlite_cli(self.db, "DELETE FROM recipients WHERE address = 'newbie@example.test'")
        h.wait_until(lambda: self.rcpt("<newbie@example.test>")[0] == 550, 10, "newbie refused again")

    def test_monitor_mode_accepts_and_logs_would_reject(self):
        out = self.rg.reload(config(self.root, self.milter_port, self.db, "mode = monitor"))
        self.assertIn("reload: configuration", out)
        try:
            mark = self.rg.log_size()
            self.assertAccepted("<nosuch-monitored@example.test>")
            self.rg.wait_log(r"<nosuch-monitored@example\.test>: would reject \(monitor mode\): 550 5\.1\.1",
                             after=mark)
        finally:
            self.rg.reload(self.base_config)
        self.assertEqual(self.rcpt("<nosuch-monitored@example.test>")[0], 550)

    def test_broken_reload_keeps_running_configuration(self):
        out = self.rg.reload(self.base_config + "\nbogus_key = 1\n")
        self.assertRegex(out, r"reload failed: .*rcptguard\.conf:\d+: bogus_key: unknown key")
        self.assertEqual(self.rcpt("<nosuch@example.test>")[0], 550)
        self.assertAccepted("<alice@example.test>")
        self.rg.reload(self.base_config)

    def test_on_backend_error_accept(self):
        self.rg.reload(config(self.root, self.milter_port, self.db, "on_backend_error = accept"))
        os.chmod(self.db, 0)
        try:
            h.wait_until(lambda: "is unreadable" in self.rg.log(), 10, "unreadable noticed")
            mark = self.rg.log_size()
            self.assertAccepted("<alice@example.test>")
            self.rg.wait_log(r"accept despite lookup failure", after=mark)
        finally:
            os.chmod(self.db, 0o644)
            self.rg.reload(self.base_config)

    def test_runs_as_unprivileged_user(self):
        with open("/proc/%d/status" % self.rg.pid()) as f:
            status = f.read()
        uid = int(re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M).group(2))
        self.assertEqual(uid, h.pwd.getpwnam(h.UNPRIVILEGED_USER).pw_uid)

    def test_mail_to_valid_user_delivered(self):
        with h.Smtp(self.pf.port) as c:
            c.mail("<sender@client.test>")
            self.assertEqual(c.rcpt("<alice@example.test>")[0], 250)
            code, msg = c.data("Subject: delivery\r\nMessage-ID: <core-delivery@client.test>\r\n\r\nhi\r\n")
            self.assertEqual(code, 250, msg)
        h.wait_until(lambda: re.search(r"to=<alice@example\.test>.*status=sent", self.pf.log()), 20,
                     "delivery logged by postfix")


class MilterDown(unittest.TestCase):
    """With rcptguard not running, Postfix's milter_default_action (tempfail)
    applies: no recipient is accepted unchecked, none is rejected for good."""

    def test_milter_down_tempfails(self):
        root = h.make_root()
        port = h.free_port()  # nothing listens here
        pf = h.Postfix(root, main={"smtpd_milters": "inet:127.0.0.1:%d" % port}).start()
        try:
            with h.Smtp(pf.port) as c:
                code, msg = c.mail("<sender@client.test>")
                if code == 250:
                    code, msg = c.rcpt("<alice@example.test>")
                self.assertEqual(code // 100, 4, msg)
        finally:
            pf.stop()


if __name__ == "__main__":
    unittest.main()
