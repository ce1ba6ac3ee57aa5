"""The harvest defence through a real Postfix: a client sending many unknown
recipients is slowed down (seen in rcptguard's log, never by timing), cut off
with 421, and remembered across connections; a trusted client is never slowed;
recipients Postfix rejects itself count too. Each test plays a different client
address (127.0.0.x) because the tarpit remembers clients by address."""

import os
import re
import smtplib
import unittest

import harness as h

TARPIT = """\
trusted_networks =
tarpit_after = 2
tarpit_delay = 100ms
tarpit_max_delay = 300ms
mta_timeout = 10s
max_bad_recipients = 5
ban_threshold = 8
ban_window = 10m
ban_time = 1h
"""


def config(root, port, db, extra=""):
    return """\
socket = inet:{port}@127.0.0.1
pid_file = {root}/rcptguard.pid
domains = example.test
backends = users
{tarpit}{extra}
[backend users]
type = sqlite
path = {db}
""".format(port=port, root=root, db=db, tarpit=TARPIT, extra=extra)


class Tarpit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        cls.db = os.path.join(cls.root, "r.db")
        h.make_sqlite_db(cls.db, ["alice@example.test"])
        cls.port = h.free_port()
        cls.base = config(cls.root, cls.port, cls.db)
        cls.rg = h.Rcptguard(cls.root, cls.base).start(wait_port=cls.port)
        cls.pf = h.Postfix(cls.root, main={"smtpd_milters": "inet:127.0.0.1:%d" % cls.port}).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    def harvest(self, source, count, start=0):
        """One connection probing count unknown recipients; returns the replies
        until the server hangs up."""
        replies = []
        c = h.Smtp(self.pf.port, source=source)
        try:
            c.mail("<harvester@spam.test>")
            for i in range(start, start + count):
                try:
                    replies.append(c.rcpt("<guess%d@example.test>" % i))
                except smtplib.SMTPServerDisconnected:
                    replies.append((None, "disconnected"))
                    break
        finally:
            c.close()
        return replies

    def test_harvester_delayed_then_421_then_banned_across_connections(self):
        src = "127.0.0.21"
        mark = self.rg.log_size()
        replies = self.harvest(src, 8)
        codes = [r[0] for r in replies]
        self.assertEqual(codes[:5], [550, 550, 550, 550, 421], replies)
        self.assertEqual(replies[4][1], "4.7.0 <guess4@example.test>: Recipient address rejected: Too many invalid recipients, closing "
                                       "connection")
        # Postfix hangs up after a 421.
        self.assertEqual(codes[5:], [None])
        log = self.rg.log()[mark:]
        delays = re.findall(r"client \S+\[127\.0\.0\.21\]: delayed reply by (\S+): (\d+) bad", log)
        self.assertEqual(delays, [("100ms", "3"), ("200ms", "4")])
        # A second connection adds 3 more bad recipients: 8 within the window -> banned.
        replies = self.harvest(src, 5, start=100)
        self.assertEqual([r[0] for r in replies][:4], [550, 550, 550, 421], replies)
        self.assertEqual(replies[3][1], "4.7.0 <guess103@example.test>: Recipient address rejected: Too many invalid recipients "
                                       "from your address, try again later")
        self.rg.wait_log(r"client 127\.0\.0\.21: banned for 1h: 8 bad recipients within 10m", after=mark)
        # A new connection inside ban_time is refused at its first recipient, even a valid one.
        code, msg = h.rcpt_verdict(self.pf.port, "<alice@example.test>", source=src)
        self.assertEqual(code, 421, msg)
        # Another client is not affected.
        self.assertEqual(h.rcpt_verdict(self.pf.port, "<alice@example.test>", source="127.0.0.22")[0], 250)

    def test_legitimate_client_with_one_typo_not_slowed(self):
        src = "127.0.0.23"
        mark = self.rg.log_size()
        with h.Smtp(self.pf.port, source=src) as c:
            c.mail("<friend@client.test>")
            self.assertEqual(c.rcpt("<alice@example.test>")[0], 250)
            self.assertEqual(c.rcpt("<alcie@example.test>")[0], 550)
            self.assertEqual(c.rcpt("<alice@example.test>")[0], 250)
            self.assertEqual(c.data("Subject: hi\r\n\r\nhello\r\n")[0], 250)
        self.assertNotIn("127.0.0.23]: delayed", self.rg.log()[mark:])

    def test_trusted_client_never_delayed_or_cut_off(self):
        self.rg.reload(self.base.replace("trusted_networks =", "trusted_networks = 127.0.0.24/32"))
        try:
            mark = self.rg.log_size()
            replies = self.harvest("127.0.0.24", 12)
            self.assertEqual([r[0] for r in replies], [550] * 12)
            log = self.rg.log()[mark:]
            self.assertNotIn("127.0.0.24]: delayed", log)
            self.assertNotIn("refuse", log)
        finally:
            self.rg.reload(self.base)

    def test_recipients_postfix_rejects_itself_are_counted(self):
        src = "127.0.0.25"
        with h.Smtp(self.pf.port, source=src) as c:
            c.mail("<harvester@spam.test>")
            for i in range(5):
                code, msg = c.rcpt("<x%d@not-relayed.test>" % i)
                self.assertEqual(code, 554, msg)  # Postfix: Relay access denied
            code, msg = c.rcpt("<alice@example.test>")
            self.assertEqual(code, 421, msg)
        self.assertRegex(self.rg.log(), r"client unknown\[127\.0\.0\.25\]: refuse: 421 4\.7\.0 <[^>]+>: Recipient "
                                        r"address rejected: Too many invalid recipients, closing connection: 5 bad "
                                        r"recipients")

    def test_monitor_mode_only_logs(self):
        out = self.rg.reload(config(self.root, self.port, self.db, "mode = monitor"))
        self.assertIn("reload: configuration", out)
        try:
            mark = self.rg.log_size()
            replies = self.harvest("127.0.0.26", 7)
            self.assertEqual([r[0] for r in replies], [250] * 7)
            log = self.rg.log()[mark:]
            self.assertIn("would delay reply (monitor mode)", log)
            self.assertIn("would refuse (monitor mode): 421 4.7.0", log)
        finally:
            self.rg.reload(self.base)


if __name__ == "__main__":
    unittest.main()
