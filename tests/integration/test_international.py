"""International addresses (RFC 6530-6533) through a real Postfix with
smtputf8_enable = yes and SMTPUTF8 client sessions: an internationalised
domain listed once in rcptguard gets one verdict in both of its forms (U-label
"bücher.test", A-label "xn--bcher-kva.test"), whichever form the SQLite
database holds; UTF-8 local parts are case-folded with local_part_case =
insensitive; the log, rcptguard -q and rcptguard-ctl show addresses in UTF-8;
BATV signs a UTF-8 sender and lets the bounce to it through; and a bounce of
an SMTPUTF8 message (Postfix's own, returned as message/global) is stripped
and stays valid MIME.

Postfix itself does not convert between the two forms of a domain, so its
relay_domains and transport_maps list both.
"""

import email
import email.policy
import hashlib
import hmac
import os
import re
import subprocess
import time
import unittest

import harness as h

# As an administrator may have stored them with the sqlite3 shell: one mailbox
# under the U-label form, one under the A-label form of the same domain, and a
# UTF-8 local part.
USERS = ["jörg@bücher.test", "user@xn--bcher-kva.test", "üser@example.test", "alice@example.test"]
MARKER = "RETURNED-BODY-LINE-51f0"


def config(root, port, db, extra=""):
    return """\
socket = inet:{port}@127.0.0.1
user = {user}
pid_file = {root}/rcptguard.pid
log_level = debug
cache = no
trusted_networks = 127.0.0.1/32
# The internationalised domain listed once, in its UTF-8 form (and its
# subdomains, likewise).
domains = bücher.test .bücher.test example.test
backends = users
{extra}
[backend users]
type = sqlite
path = {db}
""".format(port=port, user=h.UNPRIVILEGED_USER, root=root, db=db, extra=extra)


def ctl(*args):
    return subprocess.run([h.binary("rcptguard-ctl")] + list(args), capture_output=True, text=True, timeout=60)


def sink_text(s):
    """The sink decodes commands as Latin-1; the bytes were UTF-8."""
    return s.encode("latin-1").decode("utf-8")


class International(unittest.TestCase):
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
        cls.sink = h.SmtpSink(reject_rcpt=r"@bounce\.test$")
        domains = ("bücher.test", "xn--bcher-kva.test", "example.test", "client.test", "bounce.test")
        routes = ", ".join("%s=smtp:[127.0.0.1]:%d" % (d, cls.sink.port) for d in domains)
        milter = "inet:127.0.0.1:%d" % cls.milter_port
        cls.pf = h.Postfix(cls.root, main={
            "smtputf8_enable": "yes",
            "relay_domains": " ".join(domains + (".bücher.test",)),
            "transport_maps": "inline:{ %s }" % routes,
            "smtpd_milters": milter,
            "non_smtpd_milters": milter,
            "internal_mail_filter_classes": "bounce",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    def rcpts(self, addrs, sender="<sender@client.test>", smtputf8=True):
        with h.Smtp(self.pf.port) as c:
            code, msg = c.mail(sender, smtputf8=smtputf8)
            self.assertEqual(code, 250, msg)
            return {a: c.rcpt(a) for a in addrs}

    def assertAccepted(self, addr, **kw):
        code, msg = self.rcpts([addr], **kw)[addr]
        self.assertEqual(code, 250, "%s: %s %s" % (addr, code, msg))

    def test_both_forms_of_idn_recipient_accepted_whichever_form_is_stored(self):
        got = self.rcpts(["<jörg@bücher.test>", "<jörg@xn--bcher-kva.test>", "<user@bücher.test>",
                          "<user@xn--bcher-kva.test>", "<JÖRG@BÜCHER.TEST>", "<jörg+news@XN--BCHER-KVA.test>"])
        self.assertEqual({a: c for a, (c, _) in got.items()}, {a: 250 for a in got}, got)

    def test_ascii_form_of_idn_recipient_accepted_without_smtputf8(self):
        self.assertAccepted("<user@xn--bcher-kva.test>", smtputf8=False)

    def test_unknown_recipient_in_either_form_rejected_550_511(self):
        # With "domains = bücher.test", the ASCII form is ours too: refused at
        # RCPT instead of accepted and bounced later.
        got = self.rcpts(["<nobody@xn--bcher-kva.test>", "<nobody@bücher.test>"])
        for addr, (code, msg) in got.items():
            self.assertEqual(code, 550, "%s: %s" % (addr, msg))
            self.assertTrue(msg.startswith("5.1.1 "), msg)

    def test_unknown_utf8_local_part_rejected_550_511_and_logged_in_utf8(self):
        mark = self.rg.log_size()
        code, msg = self.rcpts(["<überall@example.test>"])["<überall@example.test>"]
        self.assertEqual(code, 550, msg)
        # The reply stays ASCII; RFC 6533's \x{HEX} keeps the address legible.
        self.assertEqual(msg, r"5.1.1 <\x{FC}berall@example.test>: Recipient address rejected: User unknown")
        self.rg.wait_log(r"rcpt: <überall@example\.test>: reject: 550 5\.1\.1 .*from=<sender@client\.test>",
                         after=mark)

    def test_upper_case_utf8_local_part_accepted_when_folding_is_on(self):
        self.assertAccepted("<ÜSER@example.test>")
        self.assertAccepted("<Üser@Example.TEST>")

    def test_upper_case_utf8_local_part_rejected_when_case_sensitive(self):
        self.rg.reload(config(self.root, self.milter_port, self.db, "local_part_case = sensitive"))
        try:
            code, _ = self.rcpts(["<ÜSER@example.test>"])["<ÜSER@example.test>"]
            self.assertEqual(code, 550)
            self.assertAccepted("<üser@example.test>")
        finally:
            self.rg.reload(self.base_config)

    def test_accept_log_line_shows_address_and_stored_key_in_utf8(self):
        mark = self.rg.log_size()
        self.assertAccepted("<jörg@xn--bcher-kva.test>", sender="<jörg@client.test>")
        self.rg.wait_log(r"rcpt: <jörg@xn--bcher-kva\.test>: accept: found jörg@bücher\.test in backend users"
                         r"; client=\S+ from=<jörg@client\.test>", after=mark)
        self.assertNotIn("j??rg", self.rg.log())

    def test_invalid_idn_under_our_domain_501_not_550(self):
        # A disallowed character (U+2603) and an A-label that does not decode:
        # syntax errors in one of our domains - not unknown users, and not
        # "not ours". (Postfix 3.7 passes both on to the milter.)
        cases = [("<user@☃.bücher.test>", r"<user@\x{2603}.b\x{FC}cher.test>", "☃"),
                 ("<user@xn--zzzz.xn--bcher-kva.test>", "<user@xn--zzzz.xn--bcher-kva.test>", "xn--zzzz")]
        for addr, shown, label in cases:
            mark = self.rg.log_size()
            code, msg = self.rcpts([addr])[addr]
            self.assertEqual((code, msg), (501, "5.1.3 %s: Recipient address rejected: Bad recipient address syntax"
                                           % shown))
            self.rg.wait_log(re.escape("rcpt: %s: reject: 501 5.1.3 " % addr) +
                             r".*invalid domain: invalid international domain name label '%s'" % label, after=mark)

    def test_rcptguard_q_and_ctl_check_print_utf8(self):
        for cmd in ([h.binary("rcptguard"), "-c", self.rg.conf, "-q"], [h.binary("rcptguard-ctl"), "-c",
                                                                          self.rg.conf, "check"]):
            r = subprocess.run(cmd + ["JÖRG@xn--bcher-kva.test"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("<JÖRG@xn--bcher-kva.test>: valid: found jörg@bücher.test in backend users", r.stdout)
            r = subprocess.run(cmd + ["nobody@bücher.test"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("<nobody@bücher.test>: unknown: would reply 550 5.1.1", r.stdout)
            r = subprocess.run(cmd + ["x@straße.test"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            self.assertIn("domain straße.test (xn--strae-oqa.test) is not in 'domains'", r.stdout)

    def test_smtputf8_bounce_with_message_global_stripped_and_valid_mime(self):
        body = "\r\n".join("%s %d: Grüße aus Köln" % (MARKER, i) for i in range(40))
        message = ("From: Jörg <jörg@client.test>\r\nTo: opfer@bounce.test\r\nSubject: Grüße\r\n"
                   "Message-ID: <utf8-bounce-1@client.test>\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n" % body)
        with h.Smtp(self.pf.port) as c:
            self.assertEqual(c.mail("<jörg@client.test>", smtputf8=True)[0], 250)
            self.assertEqual(c.rcpt("<opfer@bounce.test>")[0], 250)
            code, msg = c.data(message.encode("utf-8"))
            self.assertEqual(code, 250, msg)
        got = self.sink.wait_for(lambda m: m["from"] == "" and b"utf8-bounce-1@client.test" in m["data"], 60,
                                 "Postfix's bounce of the SMTPUTF8 message")[-1]
        self.assertEqual([sink_text(r) for r in got["rcpts"]], ["jörg@client.test"])
        raw = got["data"]
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        types = [p.get_content_type() for p in msg.walk()]
        self.assertEqual(msg.get_content_type(), "multipart/report")
        # RFC 6533: the SMTPUTF8 original came back as message/global and
        # leaves as message/global-headers, the report kept as it was.
        self.assertIn("message/global-delivery-status", types)
        self.assertIn("message/global-headers", types)
        self.assertNotIn("message/global", types)
        self.assertIn("Subject: Grüße".encode("utf-8"), raw)
        self.assertNotIn(MARKER.encode(), raw)
        self.assertRegex(msg["X-Rcptguard-Bounce-Stripped"],
                         r"^returned message body removed \((at least )?[1-9][0-9]* bytes\); "
                         r"headers kept as message/global-headers")
        self.assertEqual([d for p in msg.walk() for d in p.defects], [])
        # The original's UTF-8 header fields are kept byte for byte. (Postfix
        # itself writes the UTF-8 sender in Return-Path and X-Postfix-Sender
        # with a backslash before each non-ASCII byte; that is left as it is.)
        self.assertIn("From: Jörg <jörg@client.test>\r\n".encode("utf-8"), raw)
        self.assertIn("To: jörg@client.test\r\n".encode("utf-8"), raw)


BATV_SECRET = "international-batv-secret-0021"


class InternationalBatv(unittest.TestCase):
    """BATV for a UTF-8 sender: the tag goes in front of the UTF-8 local part,
    the HMAC is over the canonical address (checked here independently), and a
    bounce to the tagged address is accepted and delivered to the plain one."""

    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        db = os.path.join(cls.root, "r.db")
        h.make_sqlite_db(db, ["jörg@bücher.test"])
        keys = os.path.join(cls.root, "batv.keys")
        with open(keys, "w") as f:
            f.write("5 %s\n" % BATV_SECRET)
        os.chmod(keys, 0o600)
        cls.port = h.free_port()
        cls.rg = h.Rcptguard(cls.root, """\
socket = inet:{port}@127.0.0.1
pid_file = {root}/rcptguard.pid
trusted_networks = 127.0.0.1/32
domains = bücher.test
backends = users
batv_domains = xn--bcher-kva.test
batv_key_file = {keys}
batv_mode = enforce
[backend users]
type = sqlite
path = {db}
""".format(port=cls.port, root=cls.root, keys=keys, db=db)).start(wait_port=cls.port)
        cls.sink = h.SmtpSink()
        regexp = os.path.join(cls.root, "batv.regexp")
        with open(regexp, "w") as f:
            f.write("/^prvs=[0-9]{4}[0-9a-fA-F]{6}=(.+)$/    ${1}\n")
        domains = ("bücher.test", "xn--bcher-kva.test", "remote.test")
        routes = ", ".join("%s=smtp:[127.0.0.1]:%d" % (d, cls.sink.port) for d in domains)
        cls.pf = h.Postfix(cls.root, main={
            "smtputf8_enable": "yes",
            "relay_domains": " ".join(domains),
            "transport_maps": "inline:{ %s }" % routes,
            "smtpd_milters": "inet:127.0.0.1:%d" % cls.port,
            "recipient_canonical_maps": "regexp:" + regexp,
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    def test_utf8_sender_signed_and_bounce_to_tag_delivered_to_plain_address(self):
        with h.Smtp(self.pf.port, source="127.0.0.1") as c:
            self.assertEqual(c.mail("<Jörg@bücher.test>", smtputf8=True)[0], 250)
            self.assertEqual(c.rcpt("<friend@remote.test>")[0], 250)
            self.assertEqual(c.data(b"Subject: hi\r\nMessage-ID: <batv-utf8-1@client.test>\r\n\r\nhello\r\n")[0], 250)
        m = self.sink.wait_for(lambda m: b"batv-utf8-1@client.test" in m["data"], 30, "signed mail")[-1]
        sender = sink_text(m["from"])
        match = re.fullmatch(r"prvs=(5\d{3})([0-9a-f]{6})=Jörg@bücher\.test", sender)
        self.assertIsNotNone(match, sender)
        # Independently: HMAC-SHA1 over "KDDD" + the canonical address.
        kddd, sig = match.groups()
        want = hmac.new(BATV_SECRET.encode(), (kddd + "jörg@xn--bcher-kva.test").encode("utf-8"),
                        hashlib.sha1).hexdigest()[:6]
        self.assertEqual(sig, want)
        self.assertLessEqual((int(kddd[1:]) - int(time.time()) // 86400) % 1000, 7)
        # The bounce comes back to the tagged address, here with the ASCII
        # form of the domain and the local part in upper case.
        tagged = "prvs=%s%s=JÖRG@xn--bcher-kva.test" % (kddd, sig)
        with h.Smtp(self.pf.port, source="127.0.0.61") as c:
            self.assertEqual(c.mail("<>", smtputf8=True)[0], 250)
            code, msg = c.rcpt("<%s>" % tagged)
            self.assertEqual(code, 250, msg)
            self.assertEqual(c.data(b"Subject: Undelivered Mail Returned to Sender\r\n"
                                    b"Message-ID: <bounce-of-batv-utf8-1@remote.test>\r\n\r\nsorry\r\n")[0], 250)
        m = self.sink.wait_for(lambda m: b"bounce-of-batv-utf8-1@remote.test" in m["data"], 30, "the bounce")[-1]
        self.assertEqual([sink_text(r) for r in m["rcpts"]], ["jörg@xn--bcher-kva.test"])
        self.assertEqual(m["from"], "")
        # A forged tag on the UTF-8 address is refused.
        with h.Smtp(self.pf.port, source="127.0.0.62") as c:
            self.assertEqual(c.mail("<>", smtputf8=True)[0], 250)
            code, msg = c.rcpt("<prvs=5123abcdef=jörg@bücher.test>")
            self.assertEqual(code, 550, msg)
            self.assertTrue(msg.startswith("5.7.1 "), msg)


class InternationalCtl(unittest.TestCase):
    """rcptguard-ctl stores the canonical form (A-label domain, folded local
    part) and treats a row in the other form of the domain as the same entry."""

    def setUp(self):
        self.root = h.make_root()
        self.db = os.path.join(self.root, "r.db")
        h.make_sqlite_db(self.db, ["jörg@bücher.test"])
        self.conf = os.path.join(self.root, "rcptguard.conf")
        with open(self.conf, "w") as f:
            f.write("domains = bücher.test\nbackends = users\n[backend users]\ntype = sqlite\npath = %s\n" % self.db)

    def c(self, *args):
        return ctl("-c", self.conf, *args)

    def rows(self):
        r = subprocess.run(["sqlite3", self.db, "SELECT address FROM recipients ORDER BY address"],
                           capture_output=True, text=True, check=True)
        return r.stdout.split()

    def test_add_stores_canonical_form_other_form_counts_as_present(self):
        r = self.c("add", "Neu@BÜCHER.test", "ÜSER@bücher.test", "@bücher.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("added 3", r.stdout)
        self.assertEqual(self.rows(), ["@xn--bcher-kva.test", "jörg@bücher.test", "neu@xn--bcher-kva.test",
                                       "üser@xn--bcher-kva.test"])
        r = self.c("add", "JÖRG@xn--bcher-kva.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("jörg@xn--bcher-kva.test (as jörg@bücher.test): already present", r.stderr)
        self.assertIn("added 0", r.stdout)
        r = self.c("add", "x@☃.test")
        self.assertEqual(r.returncode, 1)
        self.assertIn("x@☃.test: invalid domain", r.stderr)

    def test_del_removes_either_form_list_and_domains_see_both(self):
        self.c("add", "neu@bücher.test")
        self.assertEqual(self.c("list", "*@bücher.test").stdout.split(), ["jörg@bücher.test", "neu@xn--bcher-kva.test"])
        r = self.c("domains")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "bücher.test (xn--bcher-kva.test)\t2 addresses\n")
        r = self.c("del", "jörg@xn--bcher-kva.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("removed 1", r.stdout)
        self.assertEqual(self.rows(), ["neu@xn--bcher-kva.test"])
        r = self.c("check", "neu@bücher.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("<neu@bücher.test>: valid: found neu@xn--bcher-kva.test in backend users", r.stdout)


if __name__ == "__main__":
    unittest.main()
