"""The call-ahead backend (type = smtp) end to end: a real Postfix as the
downstream server (its own users, unknown recipients rejected at RCPT time),
rcptguard in front of a second real Postfix as the gateway. Verdicts and the
gateway's reply texts, only the full address probed, connection reuse and the
connection limit counted on the downstream's own log, Postfix's error limits,
outages (stopped, nothing listening, frozen with SIGSTOP, answering 421 and
450: 451 4.3.0 at the gateway, then verdicts again), STARTTLS with a
self-signed certificate, hostile replies from a raw server, and a downstream
that accepts everything (smtp-sink): the blind MX warning and counter.
"""

import os
import re
import signal
import socket
import socketserver
import sqlite3
import subprocess
import threading
import unittest
import urllib.request

import harness as h

USERS = ["alice@example.test", "bob@example.test"]
TEMPFAIL = "4.3.0 %s: Recipient address rejected: Temporary lookup failure"
UNKNOWN = "5.1.1 %s: Recipient address rejected: User unknown"


def rcptguard_config(root, port, host, extra="", metrics_port=None, backend="downstream"):
    return """\
socket = inet:{port}@127.0.0.1
user = {user}
pid_file = {root}/rcptguard.pid
log_level = debug
# Every recipient goes to the downstream server, so each RCPT is one probe.
cache = no
trusted_networks = 127.0.0.0/8
{metrics}
domains = example.test
backends = {backend}

[backend {backend}]
type = smtp
host = {host}
helo_name = gateway.example.test
connect_timeout = 1s
command_timeout = 2s
retry_after = 1s
{extra}
""".format(port=port, user=h.UNPRIVILEGED_USER, root=root, host=host, extra=extra, backend=backend,
           metrics="metrics_listen = 127.0.0.1:%d" % metrics_port if metrics_port else "")


def self_signed_cert(directory):
    """A self-signed certificate for 127.0.0.1 (its own CA), as a small
    Exchange or appliance has."""
    cert = os.path.join(directory, "selfsigned.pem")
    key = os.path.join(directory, "selfsigned.key")
    h._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
               "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
               "-addext", "subjectAltName=IP:127.0.0.1")
    os.chmod(cert, 0o644)
    return cert, key


def postfix_pids(pf):
    """The downstream Postfix's master and its children."""
    with open(os.path.join(pf.root, "spool", "pid", "master.pid")) as f:
        master = int(f.read().strip())
    pids = [master]
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == master:
            pids.append(int(d))
    return pids


def signal_quietly(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:  # a child that exited meanwhile
        pass


class CallAheadThroughPostfix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        tls_dir = os.path.join(cls.root, "tls")
        os.makedirs(tls_dir)
        cls.cert, key = self_signed_cert(tls_dir)
        cls.other_ca = h.TestCA(tls_dir, "other-ca")
        # The downstream's access table, read by Postfix at every lookup: rows
        # make it answer 421 (client) or 450 (recipient) while they exist.
        cls.access_db = os.path.join(cls.root, "access.db")
        con = sqlite3.connect(cls.access_db)
        con.execute("CREATE TABLE access (key TEXT PRIMARY KEY, action TEXT NOT NULL)")
        con.commit()
        con.close()
        os.chmod(cls.access_db, 0o644)
        access_cf = os.path.join(cls.root, "access.cf")
        with open(access_cf, "w") as f:
            f.write("dbpath = %s\nquery = SELECT action FROM access WHERE key = '%%s'\n" % cls.access_db)
        cls.down = h.Postfix(os.path.join(cls.root, "downstream"), main={
            "myhostname": "exchange.example.test",
            "relay_recipient_maps": "inline:{ %s }" % ", ".join("%s=ok" % u for u in USERS),
            "recipient_delimiter": "+",
            "smtpd_recipient_restrictions": "check_client_access sqlite:%s, check_recipient_access sqlite:%s"
                                            % (access_cf, access_cf),
            # Postfix's own defaults, which the harness relaxes: a session is
            # slowed down after 10 errors and cut off after 20.
            "smtpd_error_sleep_time": "1s",
            "smtpd_soft_error_limit": "10",
            "smtpd_hard_error_limit": "20",
            "smtpd_tls_cert_file": cls.cert,
            "smtpd_tls_key_file": key,
            "smtpd_tls_security_level": "may",
            "smtpd_tls_loglevel": "1",
            # Every accepted probe opens a queue file that RSET throws away;
            # with the default in_flow_delay (1s) Postfix makes each wait once
            # probes outrun deliveries (doc/platform.md §13.3).
            "in_flow_delay": "0s",
        }).start()
        cls.host = "127.0.0.1:%d" % cls.down.port
        cls.port = h.free_port()
        cls.base = rcptguard_config(cls.root, cls.port, cls.host)
        cls.rg = h.Rcptguard(cls.root, cls.base).start(wait_port=cls.port)
        cls.gw = h.Postfix(os.path.join(cls.root, "gateway"),
                           main={"smtpd_milters": "inet:127.0.0.1:%d" % cls.port}).start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.rg.kill()
        cls.down.stop()

    def setUp(self):
        if not self.down.running:
            self.down.start()

    # --- helpers -------------------------------------------------------------

    def rcpt(self, addr):
        return h.rcpt_verdict(self.gw.port, "<%s>" % addr)

    def assertVerdict(self, addr, code):
        got, msg = self.rcpt(addr)
        self.assertEqual(got, code, "%s: %s %s" % (addr, got, msg))
        return msg

    def assertTempFailed(self, addr):
        msg = self.assertVerdict(addr, 451)
        self.assertTrue(msg.startswith(TEMPFAIL % ("<%s>" % addr)), msg)

    def down_log_from(self, mark):
        return self.down.log()[mark:]

    def connects_since(self, mark):
        return len(re.findall(r"smtpd\[\d+\]: connect from unknown\[127\.0\.0\.1\]", self.down_log_from(mark)))

    def access(self, sql, *args):
        con = sqlite3.connect(self.access_db)
        con.execute(sql, args)
        con.commit()
        con.close()

    def wait_verdicts_again(self):
        h.wait_until(lambda: self.rcpt("alice@example.test")[0] == 250, 30, "alice accepted again")
        self.assertVerdict("nosuch@example.test", 550)

    def write_conf(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # --- verdicts --------------------------------------------------------------

    def test_known_250_unknown_550_with_rcptguards_text_and_the_downstreams_reply_logged(self):
        self.assertVerdict("alice@example.test", 250)
        self.assertVerdict("Bob@Example.TEST", 250)
        mark = self.rg.log_size()
        msg = self.assertVerdict("nosuch@example.test", 550)
        self.assertEqual(msg, UNKNOWN % "<nosuch@example.test>")
        self.assertNotIn("relay recipient table", msg)
        self.rg.wait_log(r"backend downstream: %s: <nosuch@example\.test>: 550 5\.1\.1 <nosuch@example\.test>: "
                         r"Recipient address rejected: User unknown in relay recipient table: unknown"
                         % re.escape(self.host), after=mark)

    def test_detail_decided_by_the_downstream_only_the_full_address_probed(self):
        mark = len(self.down.log())
        self.assertVerdict("alice+lists@example.test", 250)   # the downstream knows recipient_delimiter
        self.assertVerdict("nosuch+x@example.test", 550)
        h.wait_until(lambda: "to=<nosuch+x@example.test>" in self.down_log_from(mark), 10, "the probe logged")
        log = self.down_log_from(mark)
        self.assertNotIn("to=<nosuch@example.test>", log)
        self.assertNotIn("to=<@example.test>", log)

    def test_hundred_probes_use_at_most_max_connections(self):
        mark = len(self.down.log())
        self.rg.reload(self.base + "max_connections = 2\n")
        rg_mark = self.rg.log_size()
        try:
            verdicts = []

            def session(n):
                with h.Smtp(self.gw.port) as c:
                    c.mail("<sender@client.test>")
                    for i in range(25):
                        verdicts.append(c.rcpt("<%s>" % USERS[(n + i) % 2])[0])

            threads = [threading.Thread(target=session, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(verdicts, [250] * 100)
            probes = re.findall(r"backend downstream: [^ ]+: <(alice|bob)@example\.test>: 250 .*: found",
                                self.rg.log()[rg_mark:])
            self.assertEqual(len(probes), 100)
            h.wait_until(lambda: self.connects_since(mark) >= 1, 10, "the downstream to log its connections")
            self.assertLessEqual(self.connects_since(mark), 2, self.down_log_from(mark))
        finally:
            self.rg.reload(self.base)

    def test_unknown_flood_against_postfix_error_limits_never_slowed_or_cut_off(self):
        mark = len(self.down.log())
        with h.Smtp(self.gw.port) as c:
            c.mail("<sender@client.test>")
            for i in range(40):
                code, msg = c.rcpt("<flood%d@example.test>" % i)
                self.assertEqual(code, 550, msg)
        h.wait_until(lambda: "to=<flood39@example.test>" in self.down_log_from(mark), 10, "the last probe logged")
        log = self.down_log_from(mark)
        self.assertNotIn("too many errors", log)
        # refusals_per_connection = 8: a new connection before Postfix's 10.
        self.assertGreaterEqual(self.connects_since(mark), 5)

    # --- outages -----------------------------------------------------------------

    def test_downstream_stopped_451_never_550_then_back(self):
        self.assertVerdict("alice@example.test", 250)
        self.down.stop()
        mark = self.rg.log_size()
        for addr in ("alice@example.test", "nosuch@example.test"):
            self.assertTempFailed(addr)
        self.rg.wait_log(r"<nosuch@example\.test>: defer: 451 4\.3\.0 .*backend downstream: %s: "
                         % re.escape(self.host), after=mark)
        self.down.start()
        self.wait_verdicts_again()

    def test_nothing_listening_451_connection_refused_and_the_next_host_answers(self):
        dead = "127.0.0.1:%d" % h.free_port()
        mark = self.rg.log_size()
        self.rg.reload(rcptguard_config(self.root, self.port, dead))
        try:
            self.assertTempFailed("alice@example.test")
            self.rg.wait_log(r"<alice@example\.test>: defer: .*backend downstream: %s: connect: Connection refused"
                             % re.escape(dead), after=mark)
            self.rg.reload(rcptguard_config(self.root, self.port, dead + " " + self.host))
            self.assertVerdict("alice@example.test", 250)
            self.assertVerdict("nosuch@example.test", 550)
            self.rg.wait_log(r"warning: backend downstream: %s: connect: Connection refused; using %s"
                             % (re.escape(dead), re.escape(self.host)), after=mark)
        finally:
            self.rg.reload(self.base)
        self.wait_verdicts_again()

    def test_downstream_frozen_451_within_the_timeouts_then_back(self):
        self.assertVerdict("alice@example.test", 250)   # a connection waits in the pool
        pids = postfix_pids(self.down)
        mark = self.rg.log_size()
        try:
            for pid in pids:
                signal_quietly(pid, signal.SIGSTOP)
            h.wait_until(lambda: all(h._all_threads_stopped(p) or not os.path.exists("/proc/%d" % p) for p in pids),
                         10, "the downstream to stop")
            self.assertTempFailed("alice@example.test")
            self.assertTempFailed("nosuch@example.test")
            self.rg.wait_log(r"<alice@example\.test>: defer: .*backend downstream: %s: .*"
                             r"no reply within 2s \(command_timeout\)" % re.escape(self.host), after=mark)
        finally:
            for pid in pids:
                signal_quietly(pid, signal.SIGCONT)
        self.wait_verdicts_again()

    def test_downstream_answering_421_451_then_back(self):
        self.assertVerdict("alice@example.test", 250)
        mark = self.rg.log_size()
        self.access("INSERT INTO access VALUES ('127.0.0.1', '421 4.3.2 Service shutting down')")
        try:
            self.assertTempFailed("alice@example.test")
            self.assertTempFailed("nosuch@example.test")
            self.rg.wait_log(r"<alice@example\.test>: defer: .*backend downstream: %s: .*RCPT TO: 421 4\.3\.2 "
                             % re.escape(self.host), after=mark)
        finally:
            self.access("DELETE FROM access WHERE key = '127.0.0.1'")
        self.wait_verdicts_again()

    def test_downstream_answering_450_451_with_its_reply_logged_then_back(self):
        self.assertVerdict("alice@example.test", 250)
        mark = self.rg.log_size()
        self.access("INSERT INTO access VALUES ('example.test', '450 4.2.1 Mailbox busy, try later')")
        try:
            self.assertTempFailed("alice@example.test")
            self.assertTempFailed("nosuch@example.test")
            self.rg.wait_log(r"<nosuch@example\.test>: defer: .*backend downstream: %s: RCPT TO answered 450 4\.2\.1 "
                             r"<nosuch@example\.test>: Recipient address rejected: Mailbox busy, try later"
                             % re.escape(self.host), after=mark)
        finally:
            self.access("DELETE FROM access WHERE key = 'example.test'")
        self.wait_verdicts_again()

    # --- STARTTLS ---------------------------------------------------------------

    def test_starttls_required_self_signed_certificate_in_the_ca_file_verdicts(self):
        conf = self.write_conf("tls-good.conf", rcptguard_config(
            self.root, h.free_port(), self.host, "starttls = require\ntls_ca_file = %s\n" % self.cert))
        mark = len(self.down.log())
        r = h.run_rcptguard("-q", "alice@example.test", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = h.run_rcptguard("-q", "nosuch@example.test", "-c", conf)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        h.wait_until(lambda: "TLS connection established from unknown" in self.down_log_from(mark), 10,
                     "the downstream to log the TLS session")
        # And through the gateway.
        self.rg.reload(rcptguard_config(self.root, self.port, self.host,
                                        "starttls = require\ntls_ca_file = %s\n" % self.cert))
        try:
            self.assertVerdict("alice@example.test", 250)
            self.assertVerdict("nosuch@example.test", 550)
        finally:
            self.rg.reload(self.base)

    def test_starttls_required_certificate_not_trusted_tempfail_never_550(self):
        for name, ca in (("public CAs", None), ("another CA", self.other_ca.cert)):
            extra = "starttls = require\n" + ("tls_ca_file = %s\n" % ca if ca else "")
            conf = self.write_conf("tls-bad.conf", rcptguard_config(self.root, h.free_port(), self.host, extra))
            r = h.run_rcptguard("-q", "nosuch@example.test", "-c", conf)
            self.assertEqual(r.returncode, 2, "%s: %s %s" % (name, r.stdout, r.stderr))
            self.assertRegex(r.stdout, r"temporary failure: backend downstream: %s: STARTTLS: TLS handshake failed: "
                                       r"the server's certificate was not accepted: self.signed certificate"
                             % re.escape(self.host))
        self.rg.reload(rcptguard_config(self.root, self.port, self.host, "starttls = require\n"))
        try:
            self.assertTempFailed("alice@example.test")
            self.assertTempFailed("nosuch@example.test")
        finally:
            self.rg.reload(self.base)

    def test_starttls_opportunistic_encrypts_without_checking(self):
        conf = self.write_conf("tls-may.conf", rcptguard_config(self.root, h.free_port(), self.host,
                                                                "starttls = opportunistic\n"))
        mark = len(self.down.log())
        r = h.run_rcptguard("-q", "alice@example.test", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        h.wait_until(lambda: "TLS connection established from unknown" in self.down_log_from(mark), 10,
                     "the downstream to log the TLS session")

    def test_configuration_errors_reported_with_file_line_key(self):
        conf = self.write_conf("bad.conf", rcptguard_config(
            self.root, h.free_port(), "mail.example.test:25", "starttls = require\ntls_ca_file = /nonexistent.pem\n"))
        r = h.run_rcptguard("-n", "-c", conf)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertRegex(r.stderr, re.escape(conf) + r":\d+: host: 'mail\.example\.test:25' is not ADDRESS\[:PORT\]")
        self.assertRegex(r.stderr, re.escape(conf) + r":\d+: tls_ca_file: cannot read /nonexistent\.pem")

    def test_downstream_down_at_start_warned_then_used(self):
        dead = "127.0.0.1:%d" % h.free_port()
        r = h.run_rcptguard("-n", "-c", self.write_conf("down.conf", rcptguard_config(self.root, h.free_port(),
                                                                                         dead)))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("backend downstream: %s: connect: Connection refused: lookups answer temporary failure" % dead,
                      r.stderr)


class HostileServer:
    """A raw SMTP server on loopback that answers RCPT TO for chosen local
    parts with chosen bytes, and everything else as a server should."""

    REPLIES = {
        "mixed": b"250-2.1.5 fine\r\n550 5.1.1 not fine\r\n",
        "long": b"550 5.1.1 " + b"A" * 10240 + b"\r\n",
        "badcode": b"99 bottles of beer\r\n",
        "nul": b"550 5.1.1 no\0such\0user\r\n",
        "endless": b"550-5.1.1 unknown\r\n" * 500,
        "html": b"<html><body>500 Internal Server Error</body></html>\r\n",
        "closes": None,
    }

    def __init__(self):
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                try:
                    self.converse()
                except OSError:
                    pass  # rcptguard drops a connection that sent garbage, unread replies and all

            def converse(self):
                self.wfile.write(b"220 hostile.test ESMTP\r\n")
                while True:
                    line = self.rfile.readline(100000)
                    if not line:
                        return
                    cmd = line.decode("latin-1").strip()
                    verb = cmd[:4].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-hostile.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
                    elif verb == "RCPT":
                        local = cmd[cmd.find("<") + 1:cmd.find("@")]
                        if local in server.REPLIES:
                            if server.REPLIES[local] is None:
                                return
                            self.wfile.write(server.REPLIES[local])
                        elif local == "ok":
                            self.wfile.write(b"250 2.1.5 Ok\r\n")
                        else:
                            self.wfile.write(b"550 5.1.1 unknown\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 2.0.0 Bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 2.0.0 Ok\r\n")
                    self.wfile.flush()

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.port = h.free_port()
        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        h.on_cleanup(self.stop)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class HostileDownstream(unittest.TestCase):
    def test_hostile_replies_451_no_crash_no_verdict_then_answers_again(self):
        root = h.make_root()
        hostile = HostileServer()
        port = h.free_port()
        rg = h.Rcptguard(root, rcptguard_config(root, port, "127.0.0.1:%d" % hostile.port)).start(wait_port=port)
        gw = h.Postfix(root, main={"smtpd_milters": "inet:127.0.0.1:%d" % port}).start()
        try:
            pid = rg.pid()
            for local in HostileServer.REPLIES:
                addr = "<%s@example.test>" % local
                code, msg = h.rcpt_verdict(gw.port, addr)
                self.assertEqual(code, 451, "%s: %s %s" % (local, code, msg))
                self.assertTrue(msg.startswith(TEMPFAIL % addr), msg)
                # The server failed as a whole: skipped for retry_after, then asked again.
                h.wait_until(lambda: h.rcpt_verdict(gw.port, "<ok@example.test>")[0] == 250, 20,
                             "an answer after %s" % local)
                self.assertEqual(h.rcpt_verdict(gw.port, "<nobody@example.test>")[0], 550, local)
            self.assertEqual(rg.pid(), pid)
            self.assertIsNone(rg.proc.poll())
            log = rg.log()
            for want in ("reply line longer than 2048 bytes", "NUL byte", "not an SMTP reply", "more than 100 lines",
                         "different codes", "closed the connection"):
                self.assertIn(want, log)
            self.assertNotIn("\0", log)
        finally:
            gw.stop()
            rg.kill()


class BlindDownstream(unittest.TestCase):
    """smtp-sink accepts every recipient, as the Windows SMTP service does."""

    def test_accepts_everything_detected_recipients_accepted_warned_once_counted(self):
        root = h.make_root()
        sink_port = h.free_port()
        sink_log = open(os.path.join(root, "smtp-sink.log"), "wb")
        sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "127.0.0.1:%d" % sink_port, "100"],
                                stdout=sink_log, stderr=sink_log)
        h.on_cleanup(lambda: (sink.kill(), sink.wait()))
        h.wait_until(lambda: h.port_open(sink_port), 10, "smtp-sink to listen")
        port, metrics_port = h.free_port(), h.free_port()
        rg = h.Rcptguard(root, rcptguard_config(root, port, "127.0.0.1:%d" % sink_port, "blind_check_interval = 1h\n",
                                                metrics_port=metrics_port, backend="sink")).start(wait_port=port)
        gw = h.Postfix(root, main={"smtpd_milters": "inet:127.0.0.1:%d" % port}).start()
        try:
            for addr in ("<nosuch@example.test>", "<nobody-at-all@example.test>", "<alice@example.test>"):
                code, msg = h.rcpt_verdict(gw.port, addr)
                self.assertEqual(code, 250, "%s: %s %s" % (addr, code, msg))
            rg.wait_log(r"warning: backend sink: 127\.0\.0\.1:%d accepted <rcptguard-nx-[0-9a-f]{16}@example\.test>, "
                        r"an address that cannot exist \(250 2\.1\.5 Ok\): it accepts every recipient of example\.test "
                        r"\(a blind MX\), so asking it proves nothing; .*Recipient Filtering" % sink_port)
            self.assertEqual(len(re.findall(r"a blind MX", rg.log())), 1)
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5) as r:
                text = r.read().decode()
            self.assertRegex(text, r'(?m)^rcptguard_backend_unverified_total\{backend="sink"\} 3$')
            r = h.run_rcptguard("-q", "nosuch@example.test", "-c", rg.conf)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("a blind MX", r.stderr)
        finally:
            gw.stop()
            rg.kill()
            sink.kill()
            sink.wait()


if __name__ == "__main__":
    unittest.main()
