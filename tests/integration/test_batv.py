"""BATV end to end through a real Postfix: mail from a trusted client leaves
with a tagged envelope sender (checked at the sink with an independent HMAC in
Python), a bounce to the tagged address is accepted and delivered to the
plain address, and bounces to untagged or forged addresses get 550 5.7.1 in
enforce mode and are only logged in monitor mode. Postfix runs with the
recipient_canonical_maps line the man page recommends; a second Postfix that
validates recipients itself shows that the line is what lets tagged bounces
through."""

import hashlib
import hmac
import os
import re
import subprocess
import time
import unittest

import harness as h

SECRET = "integration-batv-secret-0042"


def independent_tag_ok(tag, address, lifetime=7):
    k, ddd, sig = tag[0], tag[1:4], tag[4:].lower()
    want = hmac.new(SECRET.encode(), (k + ddd + address).encode(), hashlib.sha1).hexdigest()[:6]
    today = int(time.time()) // 86400
    return sig == want and (int(ddd) - today) % 1000 <= lifetime


class Batv(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        db = os.path.join(cls.root, "r.db")
        h.make_sqlite_db(db, ["alice@example.test", "bob@example.test"])
        keys = os.path.join(cls.root, "batv.keys")
        with open(keys, "w") as f:
            f.write("# test keys\n4 %s\n" % SECRET)
        os.chmod(keys, 0o600)
        cls.port = h.free_port()
        cls.base = """\
socket = inet:{port}@127.0.0.1
pid_file = {root}/rcptguard.pid
trusted_networks = 127.0.0.1/32
domains = example.test
backends = users
batv_domains = example.test
batv_key_file = {keys}
{{mode}}
[backend users]
type = sqlite
path = {db}
""".format(port=cls.port, root=cls.root, keys=keys, db=db)
        cls.rg = h.Rcptguard(cls.root, cls.base.format(mode="batv_mode = enforce")).start(wait_port=cls.port)
        cls.sink = h.SmtpSink()
        regexp = os.path.join(cls.root, "batv.regexp")
        with open(regexp, "w") as f:
            f.write("/^prvs=[0-9]{4}[0-9a-fA-F]{6}=(.+)$/    ${1}\n")
        routes = ", ".join("%s=smtp:[127.0.0.1]:%d" % (d, cls.sink.port) for d in ("example.test", "remote.test"))
        cls.pf = h.Postfix(cls.root, main={
            "relay_domains": "example.test remote.test",
            "transport_maps": "inline:{ %s }" % routes,
            "smtpd_milters": "inet:127.0.0.1:%d" % cls.port,
            "recipient_canonical_maps": "regexp:" + regexp,
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    def sign_one(self, msgid):
        with h.Smtp(self.pf.port, source="127.0.0.1") as c:
            self.assertEqual(c.mail("<Alice@example.test>")[0], 250)
            self.assertEqual(c.rcpt("<friend@remote.test>")[0], 250)
            self.assertEqual(c.data("Subject: hi\r\nMessage-ID: <%s@example.test>\r\n\r\nhello\r\n" % msgid)[0], 250)
        m = self.sink.wait_for(lambda m: ("%s@example.test" % msgid).encode() in m["data"], 30, "signed mail")[-1]
        return m["from"]

    def test_outbound_signed_and_bounce_to_tag_delivered_to_plain_address(self):
        sender = self.sign_one("batv-out-1")
        match = re.fullmatch(r"prvs=(\d{4}[0-9a-f]{6})=Alice@example\.test", sender)
        self.assertIsNotNone(match, sender)
        self.assertTrue(independent_tag_ok(match.group(1), "alice@example.test"))
        # The remote end bounces: to the tagged address, from anywhere.
        with h.Smtp(self.pf.port, source="127.0.0.60") as c:
            self.assertEqual(c.mail("<>")[0], 250)
            code, msg = c.rcpt("<%s>" % sender)
            self.assertEqual(code, 250, msg)
            self.assertEqual(c.data("Subject: Undelivered Mail Returned to Sender\r\n"
                                    "Message-ID: <bounce-of-batv-out-1@remote.test>\r\n\r\nsorry\r\n")[0], 250)
        m = self.sink.wait_for(lambda m: b"bounce-of-batv-out-1@remote.test" in m["data"], 30, "the bounce")[-1]
        self.assertEqual(m["rcpts"], ["alice@example.test"])
        self.assertEqual(m["from"], "")

    def test_postfix_checking_recipients_itself_needs_the_documented_canonical_map(self):
        # A site whose Postfix validates recipients itself (here
        # relay_recipient_maps) refuses prvs= recipients before rcptguard
        # sees them; the recipient_canonical_maps line of rcptguard.conf(5)
        # lets the tagged bounce through.
        sender = self.sign_one("batv-rrm-1")
        root = os.path.join(self.root, "pf-rrm")
        os.makedirs(root)
        pf = h.Postfix(root, main={
            "relay_domains": "example.test",
            "transport_maps": "inline:{ example.test=smtp:[127.0.0.1]:%d }" % self.sink.port,
            "smtpd_milters": "inet:127.0.0.1:%d" % self.port,
            "relay_recipient_maps": "inline:{ alice@example.test=ok, bob@example.test=ok }",
        }).start()
        try:
            code, msg = h.rcpt_verdict(pf.port, "<%s>" % sender, sender="<>", source="127.0.0.64")
            self.assertEqual(code, 550, msg)
            self.assertIn("User unknown in relay recipient table", msg)  # Postfix's own refusal
            pf.reconfigure(recipient_canonical_maps="regexp:" + os.path.join(self.root, "batv.regexp"))
            h.wait_until(lambda: h.rcpt_verdict(pf.port, "<%s>" % sender, sender="<>", source="127.0.0.64")[0] == 250,
                         20, "the tagged bounce accepted once the canonical map is in place")
            # The map does not open the door to forged tags: rcptguard still refuses them.
            code, msg = h.rcpt_verdict(pf.port, "<prvs=4123abcdef=bob@example.test>", sender="<>", source="127.0.0.64")
            self.assertEqual(code, 550, msg)
            self.assertIn("5.7.1", msg)
        finally:
            pf.stop()

    def test_bounce_to_untagged_or_forged_address_550_571(self):
        with h.Smtp(self.pf.port, source="127.0.0.61") as c:
            self.assertEqual(c.mail("<>")[0], 250)
            code, msg = c.rcpt("<bob@example.test>")
            self.assertEqual((code, msg), (550, "5.7.1 <bob@example.test>: Recipient address rejected: Bounce to an "
                                                "address we never used as a "
                                                "sender (BATV)"))
            code, msg = c.rcpt("<prvs=4123abcdef=bob@example.test>")
            self.assertEqual(code, 550)
            self.assertIn("5.7.1", msg)
            self.assertIn("Invalid bounce address tag (BATV): bad signature", msg)
            self.assertEqual(c.rcpt("<postmaster@example.test>")[0], 250)
        # Ordinary mail to the same user is not affected.
        self.assertEqual(h.rcpt_verdict(self.pf.port, "<bob@example.test>", source="127.0.0.61")[0], 250)

    def test_subaddress_form_signed_and_accepted(self):
        self.rg.reload(self.base.format(mode="batv_mode = enforce\nbatv_tag_form = subaddress"))
        try:
            sender = self.sign_one("batv-sub-1")
            match = re.fullmatch(r"Alice\+prvs=(\d{4}[0-9a-f]{6})@example\.test", sender)
            self.assertIsNotNone(match, sender)
            self.assertTrue(independent_tag_ok(match.group(1), "alice@example.test"))
            code, msg = h.rcpt_verdict(self.pf.port, "<%s>" % sender, sender="<>", source="127.0.0.63")
            self.assertEqual(code, 250, msg)
        finally:
            self.rg.reload(self.base.format(mode="batv_mode = enforce"))

    def test_query_checks_tags_like_the_rcpt_path(self):
        sender = self.sign_one("batv-query-1")  # a tag the running daemon made
        ctl = [h.binary("rcptguard-ctl"), "-c", self.rg.conf, "check"]
        for run in (lambda a: h.run_rcptguard("-q", a, "-c", self.rg.conf),
                    lambda a: subprocess.run(ctl + [a], capture_output=True, text=True, timeout=30)):
            r = run(sender)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("BATV tag valid: recipient rewritten to <alice@example.test>", r.stdout)
            r = run("prvs=4123abcdef=alice@example.test")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("BATV tag invalid (bad signature): a bounce would get 550 5.7.1", r.stdout)
            r = run("bob@example.test")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("a bounce (MAIL FROM:<>) to this untagged address would get 550 5.7.1", r.stdout)

    def test_query_with_sender_agrees_with_postfix(self):
        # rcptguard -q ADDRESS -S SENDER (and rcptguard-ctl check ADDRESS SENDER)
        # answers as the RCPT of that sender's message does.
        forged = "prvs=4123abcdef=alice@example.test"
        for addr, sender, code, exit_code in (("bob@example.test", "<>", 550, 1),
                                              ("bob@example.test", "<x@remote.test>", 250, 0),
                                              (forged, "<>", 550, 1),
                                              (forged, "<x@remote.test>", 250, 0)):
            got = h.rcpt_verdict(self.pf.port, "<%s>" % addr, sender=sender, source="127.0.0.63")
            self.assertEqual(got[0], code, (addr, sender, got))
            ctl = [h.binary("rcptguard-ctl"), "-c", self.rg.conf, "check", addr, sender]
            for r in (h.run_rcptguard("-q", addr, "-S", sender, "-c", self.rg.conf),
                      subprocess.run(ctl, capture_output=True, text=True, timeout=30)):
                self.assertEqual(r.returncode, exit_code, (addr, sender, r.stdout + r.stderr))
                if code == 550:
                    self.assertIn("would reply 550 5.7.1", r.stdout)
            if code == 550:
                self.assertTrue(got[1].startswith("5.7.1"), got)
        r = h.run_rcptguard("-S", "<>", "-c", self.rg.conf)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("-S goes with -q", r.stderr)

    def test_monitor_mode_accepts_and_logs(self):
        self.rg.reload(self.base.format(mode="batv_mode = monitor"))
        try:
            mark = self.rg.log_size()
            self.assertEqual(h.rcpt_verdict(self.pf.port, "<bob@example.test>", sender="<>", source="127.0.0.62")[0],
                             250)
            self.rg.wait_log(r"<bob@example\.test>: would reject \(BATV monitor mode\): 550 5\.7\.1", after=mark)
        finally:
            self.rg.reload(self.base.format(mode="batv_mode = enforce"))


if __name__ == "__main__":
    unittest.main()
