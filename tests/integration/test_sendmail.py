"""rcptguard behind a real Sendmail 8.17 (Debian's, unpacked, not installed),
driven by a real SMTP client: verdicts and texts, backend failure, monitor
mode, the tarpit within Sendmail's T=R: timeout, 421 after too many bad
recipients, and Sendmail's own DSNs, which never pass through milters, made
body-less with PrivacyOptions=nobodyreturn."""

import email
import email.policy
import os
import smtplib
import subprocess
import unittest

import harness as h

TARPIT = """\
trusted_networks =
tarpit_after = 2
tarpit_delay = 1s
tarpit_max_delay = 5s
mta_timeout = 10s
max_bad_recipients = 5
ban_threshold = 0
"""


def config(root, port, db, extra="", backend=None):
    return """\
socket = inet:{port}@127.0.0.1
user = nobody
pid_file = {root}/rcptguard.pid
log_level = debug
cache = no
domains = example.test
backends = users
{tarpit}{extra}
[backend users]
{backend}
""".format(port=port, root=root, tarpit=TARPIT, extra=extra,
           backend=backend or "type = sqlite\npath = %s" % db)


class Sendmail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        dbdir = os.path.join(cls.root, "db")
        os.makedirs(dbdir)
        os.chmod(dbdir, 0o777)
        cls.db = os.path.join(dbdir, "r.db")
        h.make_sqlite_db(cls.db, ["alice@example.test", "@catchall.example.test"])
        cls.port = h.free_port()
        cls.base = config(cls.root, cls.port, cls.db)
        cls.rg = h.Rcptguard(cls.root, cls.base).start(wait_port=cls.port)
        cls.sink = h.SmtpSink(reject_rcpt=r"@bounce\.test$")
        cls.sm = h.Sendmail(cls.root, cls.port, cls.sink.port,
                            routes=("example.test", "client.test", "bounce.test"),
                            privacy="authwarnings,nobodyreturn").start()

    @classmethod
    def tearDownClass(cls):
        cls.sm.stop()
        cls.rg.kill()

    def test_known_user_250_unknown_550_with_our_text(self):
        code, msg = h.rcpt_verdict(self.sm.port, "<alice@example.test>", source="127.0.5.1")
        self.assertEqual(code, 250, msg)
        code, msg = h.rcpt_verdict(self.sm.port, "<nosuch@example.test>", source="127.0.5.1")
        self.assertEqual(code, 550)
        # Sendmail puts "<address>... " before the milter's text.
        self.assertEqual(msg, "5.1.1 <nosuch@example.test>... <nosuch@example.test>: "
                              "Recipient address rejected: User unknown")
        self.assertEqual(h.rcpt_verdict(self.sm.port, "<Alice+tag@EXAMPLE.test>", source="127.0.5.1")[0], 250)

    def test_backend_failure_4xx_never_5xx(self):
        self.rg.reload(config(self.root, self.port, self.db, backend="type = fail\nreason = drill"))
        try:
            for addr in ("<alice@example.test>", "<nosuch@example.test>"):
                code, msg = h.rcpt_verdict(self.sm.port, addr, source="127.0.5.2")
                self.assertEqual(code, 451, msg)
                self.assertIn("4.3.0", msg)
                self.assertIn("Temporary lookup failure", msg)
        finally:
            self.rg.reload(self.base)

    def test_monitor_mode(self):
        self.rg.reload(config(self.root, self.port, self.db, "mode = monitor"))
        try:
            mark = self.rg.log_size()
            self.assertEqual(h.rcpt_verdict(self.sm.port, "<ghost@example.test>", source="127.0.5.3")[0], 250)
            self.rg.wait_log(r"<ghost@example\.test>: would reject \(monitor mode\): 550 5\.1\.1", after=mark)
        finally:
            self.rg.reload(self.base)

    def test_tarpit_within_sendmails_reply_timeout_then_421(self):
        mark = self.rg.log_size()
        replies = []
        c = h.Smtp(self.sm.port, source="127.0.5.4")
        c.mail("<h@spam.test>")
        for i in range(7):
            try:
                replies.append(c.rcpt("<guess%d@example.test>" % i))
            except smtplib.SMTPServerDisconnected:
                replies.append((None, "disconnected"))
                break
        c.close()
        codes = [r[0] for r in replies]
        # Delays of 1s and 2s (third and fourth bad recipient) stay inside T=R:10s:
        # the replies are rcptguard's, not Sendmail's "451 4.3.2" for a timed-out milter.
        self.assertEqual(codes, [550, 550, 550, 550, 421, None], replies)
        for code, msg in replies[:4]:
            self.assertIn("Recipient address rejected: User unknown", msg)
        self.assertIn("Too many invalid recipients", replies[4][1])
        log = self.rg.log()[mark:]
        self.assertIn("delayed reply by 1s", log)
        self.assertIn("delayed reply by 2s", log)

    def test_delay_near_sendmails_timeout_refused_by_config_check(self):
        path = os.path.join(self.root, "near.conf")
        with open(path, "w") as f:
            f.write(config(self.root, self.port, self.db).replace("tarpit_max_delay = 5s", "tarpit_max_delay = 9s"))
        r = h.run_rcptguard("-n", "-c", path)
        self.assertEqual(r.returncode, 78)
        self.assertIn("tarpit_max_delay: 9s is too close to mta_timeout 10s", r.stderr)

    def test_relayed_third_party_bounce_is_stripped(self):
        from test_bounces import MARKER, third_party_dsn
        self.rg.reload(config(self.root, self.port, self.db, "strip_bounce_sources = local trusted inbound"))
        try:
            with h.Smtp(self.sm.port, source="127.0.5.6") as c:
                self.assertEqual(c.mail("<>")[0], 250)
                self.assertEqual(c.rcpt("<sender@client.test>")[0], 250)
                code, msg = c.data(third_party_dsn(msgid="<orig-via-sendmail@client.test>"))
                self.assertEqual(code, 250, msg)
            raw = self.sink.wait_for(lambda m: b"orig-via-sendmail@client.test" in m["data"], 60,
                                     "the relayed DSN at the sink")[-1]["data"]
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            self.assertEqual([p.get_content_type() for p in msg.get_payload()],
                             ["text/plain", "message/delivery-status", "text/rfc822-headers"])
            self.assertNotIn(MARKER.encode(), raw)
            self.assertIn(b"Subject: cheap watches", raw)
            self.assertRegex(msg["X-Rcptguard-Bounce-Stripped"],
                             r"^returned message body removed \((at least )?[1-9][0-9]* bytes\); headers kept")
        finally:
            self.rg.reload(self.base)

    def test_own_dsn_bypasses_milter_and_nobodyreturn_makes_it_bodyless(self):
        mark = self.rg.log_size()
        body_marker = "SPAM-PAYLOAD-LINE-7f3a91"
        with h.Smtp(self.sm.port, source="127.0.5.5") as c:
            self.assertEqual(c.mail("<sender@client.test>")[0], 250)
            self.assertEqual(c.rcpt("<someone@bounce.test>")[0], 250)
            code, msg = c.data("Subject: will bounce\r\nMessage-ID: <sm-dsn-1@client.test>\r\n"
                               "From: sender@client.test\r\n\r\n%s\r\n" % body_marker)
            self.assertEqual(code, 250, msg)
        dsns = self.sink.wait_for(lambda m: m["from"] == "" and "sender@client.test" in m["rcpts"], 60,
                                  "Sendmail's DSN at the sink")
        raw = dsns[0]["data"]
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        types = [p.get_content_type() for p in msg.walk()]
        self.assertIn("message/delivery-status", types)
        self.assertIn("text/rfc822-headers", types)
        self.assertNotIn("message/rfc822", types)
        self.assertIn(b"Subject: will bounce", raw)
        self.assertNotIn(body_marker.encode(), raw)
        # The DSN never went through rcptguard: no null-sender session in its log.
        self.assertNotIn("from=<>", self.rg.log()[mark:])


if __name__ == "__main__":
    unittest.main()
