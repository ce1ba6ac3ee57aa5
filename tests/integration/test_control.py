"""One host on its own (shared_state = local), through a real Postfix:

- a ban survives a restart through state_file, and rcptguard-ctl unban lifts
  it (and the file forgets it);
- a damaged state file is logged and ignored as a whole: it bans nobody;
- rcptguard-ctl status, flush-cache and bans over the control socket
  (mode 0660);
- hostile clients of the control socket (silent, too many, too long, binary)
  neither hang nor crash the daemon.
"""

import os
import re
import smtplib
import socket
import stat
import time
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
control_socket = {root}/run/control.sock
state_file = {root}/state
host_name = mx.example.test
domains = example.test
backends = users
{tarpit}{extra}
[backend users]
type = sqlite
path = {db}
""".format(port=port, root=root, db=db, tarpit=TARPIT, extra=extra)


def harvest(port, source, count, start=0):
    replies = []
    c = h.Smtp(port, source=source)
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


def ask(path, data, read_timeout=15):
    """Sends raw bytes to the control socket; returns what came back until the
    daemon closed the connection (or the timeout)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(read_timeout)
    s.connect(path)
    try:
        if data:
            s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode(errors="replace")
            out += chunk
    finally:
        s.close()


class LocalStateAndControl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        cls.db = os.path.join(cls.root, "r.db")
        h.make_sqlite_db(cls.db, ["alice@example.test"])
        cls.port = h.free_port()
        cls.state = os.path.join(cls.root, "state")
        # run/ does not exist yet: the daemon makes it (as /run/rcptguard after a boot).
        cls.sock = os.path.join(cls.root, "run", "control.sock")
        cls.rg = h.Rcptguard(cls.root, config(cls.root, cls.port, cls.db)).start(wait_port=cls.port)
        cls.pf = h.Postfix(cls.root, main={"smtpd_milters": "inet:127.0.0.1:%d" % cls.port}).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    def ctl(self, *args):
        return h.rcptguard_ctl(self.rg.conf, *args)

    def restart(self):
        """An orderly stop (which writes the state file) and a new start."""
        self.assertEqual(self.rg.stop(), 0, self.rg.log()[-2000:])
        h.wait_until(lambda: not h.port_open(self.port), 20, "the milter port to close")
        mark = self.rg.log_size()
        self.rg.start(wait_port=self.port)
        return mark

    def test_ban_survives_restart_through_state_file_and_unban_lifts_it(self):
        src = "127.0.0.41"
        harvest(self.pf.port, src, 6)
        replies = harvest(self.pf.port, src, 4, start=10)
        self.assertEqual([r[0] for r in replies], [550, 550, 550, 421], replies)
        mark = self.restart()
        self.rg.wait_log(r"state file %s: 1 bans restored" % re.escape(self.state), after=mark)
        with open(self.state) as f:
            saved = f.read()
        self.assertRegex(saved, r"\nrcptguard-state 1\nban 127\.0\.0\.41 \d+ 8\n")
        code, msg = h.rcpt_verdict(self.pf.port, "<alice@example.test>", source=src)
        self.assertEqual(code, 421, msg)
        rows = [line.split() for line in self.ctl("bans").stdout.splitlines() if line.startswith("  " + src + " ")]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][3], "mx.example.test")
        self.assertNotEqual(rows[0][2], "-")
        r = self.ctl("unban", src)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("lifted: 1 client matching 127.0.0.41 (ban and count forgotten on this host)", r.stdout)
        self.assertEqual(h.rcpt_verdict(self.pf.port, "<alice@example.test>", source=src)[0], 250)

        def forgotten():
            with open(self.state) as f:
                return "127.0.0.41" not in f.read()
        h.wait_until(forgotten, 30, "the state file to forget the lifted ban")

    def test_damaged_state_file_logged_and_ignored(self):
        for content, problem in [
                ("rcptguard-state 1\nban 127.0.0.42 %d 9\nban 127.0.0.43 soon 1\n" % (time.time() + 3600),
                 "line 3: the end of the ban is not a number"),
                ("rcptguard-state 1\nban 127.0.0.42 %d 9\n" % (time.time() + 400 * 86400),
                 "line 2: a ban of 127.0.0.42 lasting longer than ban_time allows"),
                ("\x00\xff\x01garbage\nban 127.0.0.42 1 1\n", "line 1: expected 'rcptguard-state 1'"),
        ]:
            self.assertEqual(self.rg.stop(), 0)
            h.wait_until(lambda: not h.port_open(self.port), 20, "the milter port to close")
            with open(self.state, "w", encoding="latin-1") as f:
                f.write(content)
            mark = self.rg.log_size()
            self.rg.start(wait_port=self.port)
            self.rg.wait_log(r"state file %s: %s.*: ignored, no bans restored from it" % (
                re.escape(self.state), re.escape(problem)), after=mark)
            self.assertEqual(h.rcpt_verdict(self.pf.port, "<alice@example.test>", source="127.0.0.42")[0], 250)
            self.assertIsNone(self.rg.proc.poll())

    def test_status_flush_cache_and_socket_mode(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.sock).st_mode), 0o660)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.sock)).st_mode), 0o750)
        self.assertEqual(h.rcpt_verdict(self.pf.port, "<alice@example.test>", source="127.0.0.44")[0], 250)
        r = self.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("shared state: local (this host only), bans kept in %s" % self.state, r.stdout)
        self.assertIn("backend users (sqlite): ok", r.stdout)
        self.assertRegex(r.stdout, r"lookup cache: [1-9]\d* entries")
        r = self.ctl("flush-cache", "Alice@Example.TEST")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("forgot 1 cached answer for <alice@example.test>", r.stdout)
        r = self.ctl("flush-cache")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"lookup cache emptied \(\d+ entries\)")
        self.assertRegex(self.ctl("status").stdout, r"lookup cache: 0 entries")
        r = self.ctl("flush-cache", "127.0.0.0/8")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ctl("flush-cache", "no-such-thing")
        self.assertEqual(r.returncode, 1)
        self.assertIn("neither a recipient address nor a client address or prefix", r.stderr)
        self.assertEqual(self.ctl("status", "extra").returncode, 64)

    def test_hostile_control_clients_neither_hang_nor_crash(self):
        self.assertIn("error: unknown command 'shutdown'", ask(self.sock, b"shutdown now\n"))
        self.assertIn("error: request too long", ask(self.sock, b"x" * 5000))
        self.assertIn("error: requests are printable ASCII", ask(self.sock, b"bans\x00\xff\x1b[2J\n"))
        self.assertIn("error: empty request", ask(self.sock, b"\r\n"))
        # More silent clients than the daemon serves at once: the extra ones
        # are told it is busy; nothing waits for them.
        silent = []
        try:
            for _ in range(16):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock)
                silent.append(s)
            h.wait_until(lambda: "error: busy" in ask(self.sock, b"status\n"), 10, "the daemon to say it is busy")
        finally:
            for s in silent:
                s.close()
        h.wait_until(lambda: ask(self.sock, b"status\n").startswith("ok\n"), 15, "the control socket to serve again")
        # A client that sends half a request and goes quiet is closed.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.sock)
        s.sendall(b"sta")
        self.assertEqual(s.recv(100), b"")
        s.close()
        # Mail went on meanwhile, and the daemon lives.
        self.assertEqual(h.rcpt_verdict(self.pf.port, "<alice@example.test>", source="127.0.0.45")[0], 250)
        self.assertIsNone(self.rg.proc.poll())
        r = self.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_ctl_without_control_socket_says_so(self):
        conf = os.path.join(self.root, "no-socket.conf")
        with open(conf, "w") as f:
            f.write(config(self.root, self.port, self.db).replace("control_socket", "#control_socket"))
        r = h.rcptguard_ctl(conf, "status")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no control_socket in %s" % conf, r.stderr)
        r = h.rcptguard_ctl(conf, "--socket", os.path.join(self.root, "nothing-here.sock"), "bans")
        self.assertEqual(r.returncode, 1)
        self.assertIn("rcptguard does not answer at", r.stderr)


if __name__ == "__main__":
    unittest.main()
