"""The Postfix policy-delegation front end through a real Postfix
(check_policy_service): the same verdicts and reply texts as the milter,
backend failure 451, monitor mode, 421 after too many bad recipients, a ban
across connections, and a raw client that misbehaves."""

import os
import smtplib
import socket
import threading
import time
import unittest

import harness as h

RECIPIENTS = ["<alice@example.test>", "<ALICE+tag@example.test>", "<nosuch@example.test>", "<x@catchall.test>",
              "<postmaster@example.test>", "<nobody@other.test>", "<a b@example.test>", "<nosuch2@example.test>",
              "<bad..dots@example.test>", "<o'brien@example.test>"]


def config(root, milter_port, policy_port, db, extra=""):
    return """\
socket = inet:{mp}@127.0.0.1
policy_socket = inet:127.0.0.1:{pp}
user = nobody
pid_file = {root}/rcptguard.pid
cache = no
trusted_networks =
tarpit_after = 2
tarpit_delay = 100ms
tarpit_max_delay = 200ms
max_bad_recipients = 5
ban_threshold = 9
domains = example.test catchall.test
backends = users
{extra}
[backend users]
type = sqlite
path = {db}
""".format(mp=milter_port, pp=policy_port, root=root, db=db, extra=extra)


class PolicyService(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        dbdir = os.path.join(cls.root, "db")
        os.makedirs(dbdir)
        os.chmod(dbdir, 0o777)
        cls.db = os.path.join(dbdir, "r.db")
        h.make_sqlite_db(cls.db, ["alice@example.test", "@catchall.test"])
        cls.milter_port = h.free_port()
        cls.policy_port = h.free_port()
        cls.base = config(cls.root, cls.milter_port, cls.policy_port, cls.db)
        cls.rg = h.Rcptguard(cls.root, cls.base).start(wait_port=cls.policy_port)
        common = {"relay_domains": "example.test catchall.test other.test",
                  "transport_maps": "inline:{ example.test=discard:, catchall.test=discard:, other.test=discard: }"}
        policy = dict(common, smtpd_recipient_restrictions="reject_unauth_destination, "
                      "check_policy_service inet:127.0.0.1:%d" % cls.policy_port,
                      smtpd_policy_service_timeout="100s")
        cls.pf = h.Postfix(os.path.join(cls.root, "p"), main=policy)
        os.makedirs(os.path.join(cls.root, "p"), exist_ok=True)
        cls.pf = h.Postfix(os.path.join(cls.root, "p"), main=policy).start()
        os.makedirs(os.path.join(cls.root, "m"), exist_ok=True)
        cls.pf_milter = h.Postfix(os.path.join(cls.root, "m"),
                                  main=dict(common, smtpd_milters="inet:127.0.0.1:%d" % cls.milter_port)).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.pf_milter.stop()
        cls.rg.kill()

    def both_doors(self, net):
        """Every recipient through the policy door and the milter door, each
        from a fresh client address so the tarpit stays out of the comparison."""
        got_policy, got_milter = [], []
        for i, rcpt in enumerate(RECIPIENTS):
            got_policy.append(h.rcpt_verdict(self.pf.port, rcpt, source="127.%d.1.%d" % (net, i + 1)))
            got_milter.append(h.rcpt_verdict(self.pf_milter.port, rcpt, source="127.%d.2.%d" % (net, i + 1)))
        return got_policy, got_milter

    def test_same_verdicts_and_texts_as_the_milter(self):
        got_policy, got_milter = self.both_doors(0)
        # The client reads the very same replies, texts included: Postfix
        # builds "<address>: Recipient address rejected: " itself for policy
        # replies, and the milter sends exactly that.
        self.assertEqual(got_policy, got_milter)
        codes = [c for c, _ in got_policy]
        self.assertEqual(codes, [250, 250, 550, 250, 250, 250, 501, 550, 501, 550])
        self.assertEqual(got_policy[2][1], "5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown")
        self.assertEqual(got_policy[8][1], "5.1.3 <bad..dots@example.test>: Recipient address rejected: "
                                           "Bad recipient address syntax")

    def test_custom_messages_identical_through_both_doors(self):
        self.rg.reload(config(self.root, self.milter_port, self.policy_port, self.db,
                              "reject_message = No such user here (100% sure)\n"
                              "tempfail_message = Directory busy, try again"))
        try:
            got_policy, got_milter = self.both_doors(5)
            self.assertEqual(got_policy, got_milter)
            self.assertEqual(got_policy[2], (550, "5.1.1 <nosuch@example.test>: Recipient address rejected: "
                                                  "No such user here (100% sure)"))
            # Postfix refuses user%host addresses itself (relay attempts), so the
            # '%' that must survive both doors comes from the configured text.
            self.assertEqual(got_policy[9], (550, "5.1.1 <o'brien@example.test>: Recipient address rejected: "
                                                  "No such user here (100% sure)"))
            mark = self.rg.log_size()
            os.chmod(self.db, 0)
            try:
                self.rg.wait_log("is unreadable", timeout=10, after=mark)
                p = h.rcpt_verdict(self.pf.port, "<alice@example.test>", source="127.6.1.1")
                m = h.rcpt_verdict(self.pf_milter.port, "<alice@example.test>", source="127.6.2.1")
                self.assertEqual(p, m)
                self.assertEqual(p, (451, "4.3.0 <alice@example.test>: Recipient address rejected: "
                                          "Directory busy, try again"))
            finally:
                os.chmod(self.db, 0o644)
        finally:
            self.rg.reload(self.base)

    def test_backend_failure_451(self):
        os.chmod(self.db, 0)
        try:
            self.rg.wait_log("is unreadable", timeout=10)
            code, msg = h.rcpt_verdict(self.pf.port, "<alice@example.test>", source="127.0.3.1")
            self.assertEqual((code, msg),
                             (451, "4.3.0 <alice@example.test>: Recipient address rejected: Temporary lookup failure"))
        finally:
            os.chmod(self.db, 0o644)
        h.wait_until(lambda: h.rcpt_verdict(self.pf.port, "<alice@example.test>", source="127.0.3.1")[0] == 250,
                     10, "database back")

    def test_monitor_mode(self):
        self.rg.reload(config(self.root, self.milter_port, self.policy_port, self.db, "mode = monitor"))
        try:
            mark = self.rg.log_size()
            self.assertEqual(h.rcpt_verdict(self.pf.port, "<ghost@example.test>", source="127.0.3.2")[0], 250)
            self.rg.wait_log(r"<ghost@example\.test>: would reject \(monitor mode\)", after=mark)
        finally:
            self.rg.reload(self.base)

    def test_harvester_delayed_cut_off_and_banned(self):
        src = "127.0.3.3"
        mark = self.rg.log_size()
        codes = []
        c = h.Smtp(self.pf.port, source=src)
        c.mail("<h@spam.test>")
        for i in range(8):
            try:
                codes.append(c.rcpt("<guess%d@example.test>" % i)[0])
            except smtplib.SMTPServerDisconnected:
                codes.append(None)
                break
        c.close()
        self.assertEqual(codes, [550, 550, 550, 550, 421, None])
        self.assertRegex(self.rg.log()[mark:], r"client \S+\[127\.0\.3\.3\]: delayed reply by 100ms")
        c = h.Smtp(self.pf.port, source=src)
        c.mail("<h@spam.test>")
        codes = []
        for i in range(6):
            try:
                codes.append(c.rcpt("<again%d@example.test>" % i)[0])
            except smtplib.SMTPServerDisconnected:
                break
        c.close()
        # 5 bad recipients before; the 4th of this session reaches ban_threshold 9,
        # so the 5th is refused as coming from a banned client.
        self.assertEqual(codes, [550, 550, 550, 550, 421])
        code, msg = h.rcpt_verdict(self.pf.port, "<alice@example.test>", source=src)
        self.assertEqual(code, 421, msg)
        self.assertIn("Too many invalid recipients from your address, try again later", msg)

    def test_raw_clients_cannot_break_the_service(self):
        # Half a request, then gone.
        s = socket.create_connection(("127.0.0.1", self.policy_port))
        s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=x@exa")
        s.close()
        # A protocol error closes only that connection.
        s = socket.create_connection(("127.0.0.1", self.policy_port))
        s.sendall(b"this is not the policy protocol\n\n")
        self.assertEqual(s.recv(100), b"")
        s.close()
        # A huge attribute value is refused the same way.
        s = socket.create_connection(("127.0.0.1", self.policy_port))
        try:
            s.sendall(b"recipient=" + b"a" * 200000 + b"\n\n")
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass  # closed while data was still unread: just as good
        s.close()
        # Many requests on one connection, answered in order.
        s = socket.create_connection(("127.0.0.1", self.policy_port))
        req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.4.1\nclient_port=1\n"
               "client_name=x\nsender=s@x.test\ninstance=i%d\nrecipient=%s\n\n")
        batch = "".join(req % (i, "alice@example.test" if i % 2 else "ghost%d@example.test" % i) for i in range(4))
        s.sendall(batch.encode())
        data = b""
        while data.count(b"\n\n") < 4:
            chunk = s.recv(4096)
            self.assertTrue(chunk)
            data += chunk
        answers = [a for a in data.decode().split("\n\n") if a]
        self.assertEqual(answers[0], "action=550 5.1.1 User unknown")
        self.assertEqual(answers[1], "action=DUNNO")
        s.close()
        # And Postfix is still served.
        self.assertEqual(h.rcpt_verdict(self.pf.port, "<alice@example.test>", source="127.0.4.2")[0], 250)

    def test_thousands_of_requests_at_once_answered_in_order(self):
        # SQLite is on this host, so the I/O thread answers these itself, one
        # after the other from the connection's queue (a loop, not a recursion).
        req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.6.%d.%d\nclient_port=1\n"
               "client_name=x\nsender=s@x.test\ninstance=p%d\nrecipient=%s\n\n")
        n = 3000
        batch = "".join(req % (i // 250, i % 250 + 1, i, "alice@example.test" if i % 2 else "ghost%d@example.test" % i)
                        for i in range(n))
        with socket.create_connection(("127.0.0.1", self.policy_port), timeout=60) as s:
            s.sendall(batch.encode())
            data = b""
            while data.count(b"\n\n") < n:
                chunk = s.recv(65536)
                self.assertTrue(chunk, "closed after %d answers" % data.count(b"\n\n"))
                data += chunk
        answers = [a for a in data.decode().split("\n\n") if a]
        expected = ["action=DUNNO" if i % 2 else "action=550 5.1.1 User unknown" for i in range(n)]
        self.assertEqual(answers, expected)
        self.assertIsNone(self.rg.proc.poll())


class PolicyServiceRemoteLookups(unittest.TestCase):
    """A lookup that waits on another server (here a call-ahead downstream
    that accepts the connection and never speaks) goes to a worker thread:
    every other connection is still answered meanwhile, and the waiting one
    gets a 451 when the server fails, never a 550."""

    def test_a_hung_server_stalls_no_other_connection(self):
        root = h.make_root()
        hung = socket.socket()
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        pp = h.free_port()
        cfg = ("socket = inet:%d@127.0.0.1\npolicy_socket = inet:127.0.0.1:%d\nuser = nobody\n"
               "pid_file = %s/rcptguard.pid\ncache = no\ndomains = example.test\nbackends = downstream\n"
               "[backend downstream]\ntype = smtp\nhost = 127.0.0.1:%d\nconnect_timeout = 60s\n"
               "blind_check_interval = 0\nretry_after = 0\n" % (h.free_port(), pp, root, hung.getsockname()[1]))
        # rcptguard checks the downstream at start: that one connection is
        # refused at once (a warning; lookups try again, retry_after = 0).
        hung.settimeout(30)
        first = threading.Thread(target=lambda: hung.accept()[0].close())
        first.start()
        rg = h.Rcptguard(root, cfg).start(wait_port=pp)
        first.join()
        req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.7.%d\nclient_port=1\n"
               "client_name=x\nsender=s@x.test\ninstance=h%d\nrecipient=%s\n\n")
        waiting = socket.create_connection(("127.0.0.1", pp), timeout=30)
        try:
            waiting.sendall((req % (1, 1, "someone@example.test")).encode())
            probe, _ = hung.accept()  # the lookup is under way, and gets no greeting
            with socket.create_connection(("127.0.0.1", pp), timeout=30) as other:
                other.sendall(b"request=junk\n\n")
                self.assertEqual(other.recv(200), b"action=DUNNO\n\n")
                other.sendall((req % (2, 2, "nobody@other.test")).encode())
                self.assertEqual(other.recv(200), b"action=DUNNO\n\n")  # not our domain
            waiting.setblocking(False)
            with self.assertRaises(BlockingIOError):
                waiting.recv(200)  # still waiting on the downstream
            waiting.setblocking(True)
            probe.close()  # the downstream fails: temporary, never 550
            self.assertEqual(waiting.recv(200), b"action=451 4.3.0 Temporary lookup failure\n\n")
        finally:
            waiting.close()
            hung.close()
            rg.kill()


class PolicyServiceUnderPressure(unittest.TestCase):
    """Failures of the listener itself: the port is taken, or the process has
    no file descriptors left for another connection."""

    def setUp(self):
        self.root = h.make_root()
        dbdir = os.path.join(self.root, "db")
        os.makedirs(dbdir)
        os.chmod(dbdir, 0o777)
        self.db = os.path.join(dbdir, "r.db")
        h.make_sqlite_db(self.db, ["alice@example.test"])

    def test_port_in_use_start_fails_with_the_reason(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        try:
            rg = h.Rcptguard(self.root, config(self.root, h.free_port(), port, self.db))
            r = h.run_rcptguard("-f", "-c", rg.conf, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("policy_socket inet:127.0.0.1:%d: cannot listen: bind: Address already in use" % port,
                          r.stderr)
        finally:
            busy.close()

    def test_out_of_descriptors_refuses_then_serves_again(self):
        pp = h.free_port()
        rg = h.Rcptguard(self.root, config(self.root, h.free_port(), pp, self.db))
        # A limit a few dozen descriptors above what the daemon holds once
        # started (which differs between builds: the sanitizers hold more),
        # so that idle connections exhaust it. (Measured on a first start: a
        # running daemon's limit cannot be changed from outside without
        # CAP_SYS_RESOURCE once it runs as another user.)
        rg.start(wait_port=pp)
        held = len(os.listdir("/proc/%d/fd" % rg.proc.pid))
        rg.stop()
        h.wait_until(lambda: not h.port_open(pp), 10, "policy port closed")
        limit = held + 24
        rg.start(wait_port=pp, prefix=["prlimit", "--nofile=%d:%d" % (limit, limit), "--"])
        request = (b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.5.1\n"
                   b"client_port=1\nclient_name=x\nsender=s@x.test\ninstance=i1\n"
                   b"recipient=nosuch@example.test\n\n")
        socks = []
        refused = 0
        try:
            for _ in range(80):
                socks.append(socket.create_connection(("127.0.0.1", pp), timeout=10))
            # Each connection asks once: those the daemon could take answer,
            # the others were closed at once (Postfix would reconnect later).
            for s in socks:
                try:
                    s.sendall(request)
                    answer = s.recv(200)
                except (ConnectionResetError, BrokenPipeError):
                    answer = b""
                if answer == b"":
                    refused += 1
                else:
                    # Without descriptors even the database may not open: then
                    # a 451, never a wrong verdict.
                    self.assertIn(answer, (b"action=550 5.1.1 User unknown\n\n",
                                           b"action=451 4.3.0 Temporary lookup failure\n\n"))
            self.assertGreater(refused, 0, "the limit was never reached")
            self.assertLess(refused, len(socks), "no connection was served at all (limit %d, %d held at start):\n%s"
                            % (limit, held, rg.log()[-3000:]))
            rg.wait_log(r"policy service: cannot accept a connection: Too many open files: out of file descriptors")
        finally:
            for s in socks:
                s.close()
        # Descriptors free again: served as before, the daemon never stopped.
        time.sleep(0.5)
        with socket.create_connection(("127.0.0.1", pp), timeout=10) as s:
            s.sendall(request)
            self.assertEqual(s.recv(200), b"action=550 5.1.1 User unknown\n\n")
        self.assertIsNone(rg.proc.poll())
        rg.stop()


if __name__ == "__main__":
    unittest.main()
