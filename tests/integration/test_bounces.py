"""Bounce stripping through a real Postfix: Postfix's own bounces (through
non_smtpd_milters with internal_mail_filter_classes = bounce) and a
third-party DSN relayed through smtpd leave without the returned original's
body - delivery-status and the original's headers kept, valid MIME (checked
by Python's email package, not our code) - while ordinary mail, untrusted
inbound bounces (by default) and monitor mode leave messages untouched, and
a large bounce costs rcptguard no more memory than its cap."""

import email
import email.policy
import os
import re
import time
import unittest

import harness as h

MARKER = "RETURNED-BODY-LINE-0f9d2c"


def third_party_dsn(boundary="=_dsn_3", body_lines=30, msgid="<orig-3p@client.test>"):
    body = "\r\n".join("%s %d: buy cheap watches" % (MARKER, i) for i in range(body_lines))
    return (
        "From: MAILER-DAEMON@internal.client.test\r\n"
        "To: sender@client.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%(b)s\"\r\n"
        "\r\n"
        "This is a MIME-encapsulated message.\r\n"
        "\r\n--%(b)s\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "\r\n--%(b)s\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; internal.client.test\r\n\r\n"
        "Final-Recipient: rfc822; gone@internal.client.test\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--%(b)s\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
        "Received: from spammer.example ([192.0.2.66])\r\n"
        "From: forged@client.test\r\n"
        "To: gone@internal.client.test\r\n"
        "Subject: cheap watches\r\n"
        "Message-ID: %(m)s\r\n\r\n"
        "%(body)s\r\n"
        "\r\n--%(b)s--\r\n" % {"b": boundary, "m": msgid, "body": body})


def parts(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return msg, [p.get_content_type() for p in msg.walk()]


class Bounces(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        db = os.path.join(cls.root, "r.db")
        h.make_sqlite_db(db, ["alice@example.test"])
        cls.port = h.free_port()
        cls.base = """\
socket = inet:{port}@127.0.0.1
pid_file = {root}/rcptguard.pid
trusted_networks = 127.0.0.1/32
domains = example.test
backends = users
{{extra}}
[backend users]
type = sqlite
path = {db}
""".format(port=cls.port, root=cls.root, db=db)
        cls.rg = h.Rcptguard(cls.root, cls.base.format(extra="")).start(wait_port=cls.port)
        cls.sink = h.SmtpSink(reject_rcpt=r"@bounce\.test$")
        routes = ", ".join("%s=smtp:[127.0.0.1]:%d" % (d, cls.sink.port)
                           for d in ("example.test", "client.test", "bounce.test"))
        milter = "inet:127.0.0.1:%d" % cls.port
        cls.pf = h.Postfix(cls.root, main={
            "relay_domains": "example.test client.test bounce.test",
            "transport_maps": "inline:{ %s }" % routes,
            "smtpd_milters": milter,
            "non_smtpd_milters": milter,
            "internal_mail_filter_classes": "bounce",
            "message_size_limit": "60000000",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    def send(self, sender, rcpt, data, source=None):
        with h.Smtp(self.pf.port, source=source) as c:
            self.assertEqual(c.mail(sender)[0], 250)
            self.assertEqual(c.rcpt(rcpt)[0], 250)
            code, msg = c.data(data)
            self.assertEqual(code, 250, msg)

    def at_sink(self, pred, what):
        return self.sink.wait_for(pred, 60, what)[-1]["data"]

    def test_postfix_own_bounce_leaves_without_the_original_body(self):
        body = "\r\n".join("%s own-%d" % (MARKER, i) for i in range(50))
        self.send("<sender@client.test>", "<victim@bounce.test>",
                  "From: sender@client.test\r\nTo: victim@bounce.test\r\nSubject: will bounce here\r\n"
                  "Message-ID: <pf-own-1@client.test>\r\n\r\n%s\r\n" % body)
        raw = self.at_sink(lambda m: m["from"] == "" and b"pf-own-1@client.test" in m["data"], "Postfix's bounce")
        msg, types = parts(raw)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertIn("message/delivery-status", types)
        self.assertIn("text/rfc822-headers", types)
        self.assertNotIn("message/rfc822", types)
        self.assertIn(b"Subject: will bounce here", raw)
        self.assertNotIn(MARKER.encode(), raw)
        self.assertRegex(msg["X-Rcptguard-Bounce-Stripped"],
                             r"^returned message body removed \((at least )?[1-9][0-9]* bytes\); headers kept")
        self.assertEqual([d for p in msg.walk() for d in p.defects], [])
        self.assertRegex(self.rg.log(), r"bounce: from=<> client=\S+: stripped the returned original's body \(dsn")

    def test_third_party_dsn_relayed_through_smtpd_is_stripped(self):
        dsn = third_party_dsn()
        self.send("<>", "<sender@client.test>", dsn)
        raw = self.at_sink(lambda m: m["from"] == "" and b"orig-3p@client.test" in m["data"], "relayed DSN")
        msg, types = parts(raw)
        self.assertEqual([p.get_content_type() for p in msg.get_payload()],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        self.assertNotIn(MARKER.encode(), raw)
        self.assertIn(b"Subject: cheap watches", raw)
        self.assertIn(b"Received: from spammer.example ([192.0.2.66])", raw)
        # The delivery-status part is byte-identical.
        want = re.search(rb"Content-Type: message/delivery-status\r?\n\r?\n(.*?)\r?\n--=_dsn_3", dsn.encode(), re.S)
        got = re.search(rb"Content-Type: message/delivery-status\r?\n\r?\n(.*?)\r?\n--=_dsn_3", raw, re.S)
        self.assertEqual(got.group(1).replace(b"\r\n", b"\n"), want.group(1).replace(b"\r\n", b"\n"))

    def test_ordinary_mail_untouched(self):
        body = "\r\n".join("%s normal-%d" % (MARKER, i) for i in range(20))
        self.send("<someone@client.test>", "<alice@example.test>",
                  "Subject: hello\r\nMessage-ID: <normal-1@client.test>\r\n\r\n%s\r\n" % body)
        raw = self.at_sink(lambda m: b"normal-1@client.test" in m["data"], "ordinary mail")
        self.assertIn(MARKER.encode(), raw)
        self.assertNotIn(b"X-Rcptguard", raw)

    def test_untrusted_inbound_bounce_untouched_by_default(self):
        dsn = third_party_dsn(msgid="<orig-inbound@client.test>")
        self.send("<>", "<alice@example.test>", dsn, source="127.0.0.77")
        raw = self.at_sink(lambda m: b"orig-inbound@client.test" in m["data"], "inbound bounce")
        self.assertIn(MARKER.encode(), raw)
        self.assertNotIn(b"X-Rcptguard", raw)

    def test_monitor_mode_only_logs(self):
        self.rg.reload(self.base.format(extra="mode = monitor"))
        try:
            mark = self.rg.log_size()
            self.send("<>", "<sender@client.test>", third_party_dsn(msgid="<orig-monitor@client.test>"))
            raw = self.at_sink(lambda m: b"orig-monitor@client.test" in m["data"], "monitored DSN")
            self.assertIn(MARKER.encode(), raw)
            self.rg.wait_log(r"would strip \(monitor mode\) the returned original's body", after=mark)
        finally:
            self.rg.reload(self.base.format(extra=""))

    def test_large_bounce_memory_bounded(self):
        pid = self.rg.pid()
        before = rss(pid)
        # About 20 MB of returned body: rcptguard skips what it does not need.
        dsn = third_party_dsn(msgid="<orig-large@client.test>", body_lines=350000)
        self.assertGreater(len(dsn), 15000000)
        self.send("<>", "<sender@client.test>", dsn)
        raw = self.at_sink(lambda m: b"orig-large@client.test" in m["data"], "large DSN")
        self.assertLess(len(raw), 10000)
        self.assertNotIn(MARKER.encode(), raw)
        self.assertLess(rss(pid) - before, 8 * 1024)  # KiB: far below the message size


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    unittest.main()
