"""Several MX hosts, one defence: two rcptguard daemons in front of two real
Postfix instances share one real redis-server (started by this module on
loopback, its own config, port and directory).

- A harvester alternating between the two MX hosts is delayed and cut off with
  421 per connection as before, and banned at the combined threshold; a ban
  made through MX 1 refuses the client at MX 2; rcptguard-ctl unban lifts it
  on both.
- Redis killed, frozen with SIGSTOP and restarted mid-run: valid recipients
  still get 250 and unknown ones 550 (never a 4xx, never a reply cut off by
  Postfix's milter timeout), one warning per outage, and the shared counts
  resume once Redis answers again. The slowest reply is printed, not asserted
  (timing belongs to make bench).
- Hostile values in Redis (counts that are not numbers, huge counts, bans
  without an end, keys of the wrong type) neither crash nor ban anyone.
- A Redis that refuses the login, and a server that answers garbage: the
  daemon goes on with its own counts at once.

Each test plays its own client address (127.0.0.x): the tarpit remembers
clients by address, and here it remembers them on both hosts.
"""

import os
import re
import smtplib
import socket
import socketserver
import threading
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

PASSWORD = "redis-test-password-7"


def config(root, name, port, db, redis_servers, extra=""):
    return """\
socket = inet:{port}@127.0.0.1
pid_file = {root}/{name}.pid
control_socket = {root}/{name}.ctl
host_name = {name}.example.test
domains = example.test
backends = users
{tarpit}
shared_state = redis
redis_servers = {servers}
redis_user = rcptguard
redis_password_file = {root}/redis.secret
redis_timeout = 1s
redis_retry_after = 1s
{extra}
[backend users]
type = sqlite
path = {db}
""".format(port=port, root=root, name=name, db=db, tarpit=TARPIT, servers=redis_servers, extra=extra)


class Mx:
    """One MX host: a Postfix with its own rcptguard in front."""

    def __init__(self, root, name, db, redis_servers, extra=""):
        self.name = name
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.milter_port = h.free_port()
        self.rg = h.Rcptguard(self.dir, config(root, name, self.milter_port, db, redis_servers, extra), name=name)
        self.pf = h.Postfix(self.dir, main={"smtpd_milters": "inet:127.0.0.1:%d" % self.milter_port})

    def start(self):
        self.rg.start(wait_port=self.milter_port)
        self.pf.start()
        return self

    def ctl(self, *args):
        return h.rcptguard_ctl(self.rg.conf, *args)


def harvest(port, source, count, start=0):
    """One connection probing count unknown recipients; the replies until the
    server hangs up."""
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


def slice_counts(redis, client):
    """The bad-recipient count Redis holds for a client (sum of its slices)."""
    out = redis.raw("HGETALL", "rcptguard:bad:" + client).split("\n")
    pairs = dict(zip(out[0::2], out[1::2]))
    return sum(int(v) for k, v in pairs.items() if k.startswith("b:"))


class SharedState(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        with open(os.path.join(cls.root, "redis.secret"), "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(os.path.join(cls.root, "redis.secret"), 0o640)
        cls.redis = h.Redis(cls.root, users=["user rcptguard on >%s ~rcptguard:* +@all" % PASSWORD]).start()
        cls.db = os.path.join(cls.root, "r.db")
        h.make_sqlite_db(cls.db, ["alice@example.test"])
        cls.mx1 = Mx(cls.root, "mx1", cls.db, cls.redis.address).start()
        cls.mx2 = Mx(cls.root, "mx2", cls.db, cls.redis.address).start()
        for mx in (cls.mx1, cls.mx2):
            mx.rg.wait_log(r"shared state: 127\.0\.0\.1:%d \(keys rcptguard:\*\): answers" % cls.redis.port)

    @classmethod
    def tearDownClass(cls):
        for mx in (cls.mx1, cls.mx2):
            mx.pf.stop()
            mx.rg.kill()
        cls.redis.kill()

    def test_harvester_alternating_between_mx_hosts_banned_at_combined_threshold(self):
        src = "127.0.0.31"
        m1, m2 = self.mx1.rg.log_size(), self.mx2.rg.log_size()
        # MX 2: five guesses on one connection - delayed from the third on, cut off at the fifth.
        replies = harvest(self.mx2.pf.port, src, 6)
        self.assertEqual([r[0] for r in replies], [550, 550, 550, 550, 421, None], replies)
        self.assertIn("Too many invalid recipients, closing connection", replies[4][1])
        delays = re.findall(r"client \S+\[127\.0\.0\.31\]: delayed reply by (\S+): (\d+) bad",
                            self.mx2.rg.log()[m2:])
        self.assertEqual(delays, [("100ms", "3"), ("200ms", "4")])
        # MX 1: three more. Neither host saw 8 on its own; together they did.
        replies = harvest(self.mx1.pf.port, src, 4, start=100)
        self.assertEqual([r[0] for r in replies], [550, 550, 550, 421], replies)
        self.assertIn("Too many invalid recipients from your address", replies[3][1])
        self.mx1.rg.wait_log(r"client 127\.0\.0\.31: banned for 1h: 8 bad recipients within 10m on all hosts "
                             r"sharing the state", after=m1)
        self.assertNotIn("127.0.0.31: banned", self.mx2.rg.log()[m2:])
        self.assertEqual(self.redis.raw("HGET", "rcptguard:ban:127.0.0.31", "host").strip(), "mx1.example.test")
        # The ban made through MX 1 refuses the client at MX 2, even for a valid
        # recipient (once MX 2's short cache of the client's standing runs out).
        h.wait_until(lambda: h.rcpt_verdict(self.mx2.pf.port, "<alice@example.test>", source=src)[0] == 421, 20,
                     "MX 2 to refuse the client banned through MX 1")
        code, msg = h.rcpt_verdict(self.mx1.pf.port, "<alice@example.test>", source=src)
        self.assertEqual(code, 421, msg)
        self.assertIn("Too many invalid recipients from your address", msg)
        # Another client is not affected.
        self.assertEqual(h.rcpt_verdict(self.mx2.pf.port, "<alice@example.test>", source="127.0.0.32")[0], 250)

        # rcptguard-ctl bans, through either host, shows the one shared record.
        for mx in (self.mx1, self.mx2):
            r = mx.ctl("bans")
            self.assertEqual(r.returncode, 0, r.stderr)
            rows = [line.split() for line in r.stdout.splitlines() if line.startswith("  127.0.0.31 ")]
            self.assertEqual(len(rows), 1, r.stdout)
            self.assertEqual(rows[0][1], "8")
            self.assertRegex(rows[0][2], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertEqual(rows[0][3], "mx1.example.test")
            self.assertIn("# state: redis 127.0.0.1:%d" % self.redis.port, r.stdout)

        # rcptguard-ctl unban through MX 2 lifts it on both hosts.
        r = self.mx2.ctl("unban", src)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("lifted: 1 client matching 127.0.0.31", r.stdout)
        self.assertIn("on every host sharing the state", r.stdout)
        self.assertEqual(self.redis.raw("EXISTS", "rcptguard:ban:127.0.0.31").strip(), "0")
        for mx in (self.mx1, self.mx2):
            h.wait_until(lambda: h.rcpt_verdict(mx.pf.port, "<alice@example.test>", source=src)[0] == 250, 20,
                         "%s to accept 127.0.0.31 again" % mx.name)
        self.assertNotIn("  127.0.0.31 ", self.mx1.ctl("bans").stdout)

    def test_unban_of_a_prefix_and_of_nothing(self):
        for i, mx in enumerate((self.mx1, self.mx2, self.mx1)):
            harvest(mx.pf.port, "127.0.3.%d" % (i + 1), 2)
        bans = self.mx1.ctl("bans").stdout
        for i in (1, 2, 3):
            self.assertIn("  127.0.3.%d " % i, bans)
        r = self.mx1.ctl("unban", "127.0.3.0/24")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("lifted: 3 clients matching 127.0.3.0/24", r.stdout)
        self.assertNotIn("127.0.3.", self.mx2.ctl("bans").stdout)
        r = self.mx1.ctl("unban", "127.0.4.4")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("nothing to lift", r.stdout)
        r = self.mx1.ctl("unban", "not-an-address")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not an address or prefix", r.stderr)

    def test_bans_lists_the_worst_clients_however_many_redis_holds(self):
        # More clients than a listing shows (10,000): 20,000 that count
        # nothing and 100 banned ones. SCAN returns keys in its hash order;
        # every banned client must still be listed, first.
        fill = ("for i = 0, 19999 do redis.call('HSET', 'rcptguard:bad:10.9.' .. math.floor(i / 256) .. '.' .. "
                "(i % 256), 'host', 'filler.example.test') end "
                "for i = 1, 100 do local k = 'rcptguard:ban:127.0.9.' .. i "
                "redis.call('HSET', k, 'host', 'mx9.example.test', 'bad', 50, 'since', 0) "
                "redis.call('PEXPIRE', k, 3600000) end return 1")
        self.assertEqual(self.redis.raw("EVAL", fill, "0").strip(), "1")
        try:
            for r in (self.mx1.ctl("bans"), h.rcptguard_ctl(self.mx1.rg.conf, "--redis", "bans")):
                self.assertEqual(r.returncode, 0, r.stderr)
                rows = [line.split() for line in r.stdout.splitlines() if line.startswith("  ")]
                banned = [row[0] for row in rows if row[0].startswith("127.0.9.")]
                self.assertEqual(sorted(banned), sorted("127.0.9.%d" % i for i in range(1, 101)), r.stdout[-2000:])
                self.assertFalse(any(row[0].startswith("10.9.") for row in rows))  # counting nothing: not listed
                self.assertTrue(all(row[0].startswith("127.0.9.") for row in rows[:100]))
        finally:
            self.redis.raw("EVAL", "for _, k in ipairs(redis.call('KEYS', 'rcptguard:ba[nd]:10.9.*')) do "
                                   "redis.call('DEL', k) end return 1", "0")
            r = self.mx1.ctl("unban", "127.0.9.0/24")
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_ctl_asks_redis_directly_when_the_daemon_does_not_answer(self):
        src = "127.0.5.1"
        harvest(self.mx1.pf.port, src, 2)
        harvest(self.mx2.pf.port, src, 1, start=10)
        nowhere = os.path.join(self.root, "nobody-listens.ctl")
        # No daemon at this socket: bans and unban fall back to Redis and say so.
        r = h.rcptguard_ctl(self.mx1.rg.conf, "--socket", nowhere, "bans")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("# state: redis 127.0.0.1:%d (keys rcptguard:*)" % self.redis.port, r.stdout)
        self.assertIn("# note: asked redis directly: rcptguard does not answer at", r.stdout)
        rows = [line.split() for line in r.stdout.splitlines() if line.startswith("  " + src + " ")]
        self.assertEqual(len(rows), 1, r.stdout)
        self.assertEqual(rows[0][1], "3")
        self.assertEqual(rows[0][3], "mx2.example.test")
        # --redis asks Redis even though the daemon answers.
        r = h.rcptguard_ctl(self.mx2.rg.conf, "--redis", "unban", src)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("lifted: 1 client matching %s in redis (every host sharing it)" % src, r.stdout)
        self.assertEqual(self.redis.raw("EXISTS", "rcptguard:bad:" + src).strip(), "0")
        self.assertNotIn("  %s " % src, self.mx1.ctl("bans").stdout)
        # status and flush-cache need the daemon; --redis does not go with them.
        r = h.rcptguard_ctl(self.mx1.rg.conf, "--socket", nowhere, "status")
        self.assertEqual(r.returncode, 1)
        self.assertIn("rcptguard does not answer at", r.stderr)
        r = h.rcptguard_ctl(self.mx1.rg.conf, "--redis", "status")
        self.assertEqual(r.returncode, 64)
        self.assertIn("--redis goes with bans and unban", r.stderr)

    def test_status_names_generation_backends_and_shared_state(self):
        r = self.mx1.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"uptime: \S+ \(started \d{4}-")
        self.assertRegex(r.stdout, r"configuration: %s, generation \d+, loaded " % re.escape(self.mx1.rg.conf))
        self.assertIn("backend users (sqlite): ok", r.stdout)
        self.assertIn("shared state: redis 127.0.0.1:%d (keys rcptguard:*): answering" % self.redis.port, r.stdout)

    def test_hostile_values_in_redis_neither_crash_nor_ban(self):
        now_slice = int(self.redis.raw("TIME").split("\n")[0]) * 1000 // (600000 // 8)
        # Counts that are not numbers, out of range, negative, fractional, in
        # a slice of the far future; a ban that never ends; a ban far too long;
        # a count key of the wrong type.
        self.redis.cli("HSET", "rcptguard:bad:127.0.0.61", "b:%d" % now_slice, "99999999999999999999",
                       "b:%d" % (now_slice - 1), "not-a-number", "b:%d" % (now_slice - 2), "-5",
                       "b:%d" % (now_slice - 3), "2.5", "b:99999999999999999999999", "7", "b:x", "9",
                       "host", "x" * 5000)
        self.redis.cli("SET", "rcptguard:ban:127.0.0.61", "forever")
        self.redis.cli("HSET", "rcptguard:ban:127.0.0.62", "host", "nowhere", "bad", "99")
        self.redis.cli("HSET", "rcptguard:ban:127.0.0.63", "host", "nowhere", "bad", "99")
        self.redis.cli("PEXPIRE", "rcptguard:ban:127.0.0.63", str(10 * 365 * 86400 * 1000))
        self.redis.cli("SET", "rcptguard:bad:127.0.0.64", "a string where a hash belongs")
        self.redis.cli("SET", "rcptguard:ban:not-an-address", "junk")
        self.redis.cli("HSET", "rcptguard:bad:2001:db8::/999", "b:1", "1")
        marks = [mx.rg.log_size() for mx in (self.mx1, self.mx2)]
        for src in ("127.0.0.61", "127.0.0.62", "127.0.0.63", "127.0.0.64"):
            for mx in (self.mx1, self.mx2):
                with h.Smtp(mx.pf.port, source=src) as c:
                    c.mail("<someone@client.test>")
                    self.assertEqual(c.rcpt("<alice@example.test>")[0], 250, src)
                    self.assertEqual(c.rcpt("<nobody-%s@example.test>" % mx.name)[0], 550, src)
                    self.assertEqual(c.rcpt("<alice@example.test>")[0], 250, src)
        # Counting repaired what it found: two bad recipients, nothing else.
        self.assertEqual(slice_counts(self.redis, "127.0.0.61"), 2)
        self.assertEqual(slice_counts(self.redis, "127.0.0.64"), 2)
        for mx, mark in zip((self.mx1, self.mx2), marks):
            self.assertIsNone(mx.rg.proc.poll(), "%s died" % mx.name)
            log = mx.rg.log()[mark:]
            self.assertNotIn("going on with this host's own", log)
            self.assertNotIn("banned", log)
        r = self.mx1.ctl("bans")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("not-an-address", r.stdout)
        self.assertNotIn("/999", r.stdout)
        self.assertRegex(r.stdout, r"\n  127\.0\.0\.61 +2 +- ")

    def test_redis_killed_frozen_restarted_mail_flows_and_counts_resume(self):
        slowest = [0.0]
        sources = iter("127.0.1.%d" % i for i in range(1, 250))

        def sessions(rounds):
            for i in range(rounds):
                mx = (self.mx1, self.mx2)[i % 2]
                with h.Smtp(mx.pf.port, source=next(sources)) as c:
                    c.mail("<someone@client.test>")
                    for addr, want in (("<alice@example.test>", 250), ("<nobody%d@example.test>" % i, 550),
                                       ("<alice@example.test>", 250)):
                        t0 = time.monotonic()
                        code, msg = c.rcpt(addr)
                        slowest[0] = max(slowest[0], time.monotonic() - t0)
                        self.assertEqual(code, want, "%s at %s: %s %s" % (addr, mx.name, code, msg))

        def outage_warnings(mx):
            return len(re.findall(r"shared state: .*going on with this host's own counts", mx.rg.log()))

        sessions(4)
        before = [outage_warnings(mx) for mx in (self.mx1, self.mx2)]
        # Killed: connections refused.
        self.redis.kill()
        sessions(8)
        for mx, n in zip((self.mx1, self.mx2), before):
            self.assertEqual(outage_warnings(mx), n + 1, "one warning per outage at %s" % mx.name)
        # Restarted (empty): both hosts notice and share again.
        marks = [mx.rg.log_size() for mx in (self.mx1, self.mx2)]
        self.redis.start()
        for mx, mark in zip((self.mx1, self.mx2), marks):
            mx.rg.wait_log(r"shared state: .*answers again after", timeout=30, after=mark)
        sessions(2)
        # Frozen: the kernel still accepts connections, nothing answers.
        before = [outage_warnings(mx) for mx in (self.mx1, self.mx2)]
        self.redis.pause()
        try:
            sessions(8)
        finally:
            marks = [mx.rg.log_size() for mx in (self.mx1, self.mx2)]
            self.redis.resume()
        for mx, n in zip((self.mx1, self.mx2), before):
            self.assertEqual(outage_warnings(mx), n + 1, "one warning per outage at %s" % mx.name)
        for mx, mark in zip((self.mx1, self.mx2), marks):
            mx.rg.wait_log(r"shared state: .*answers again after", timeout=30, after=mark)
        print("\n    slowest RCPT reply while Redis was killed, frozen or restarting: %.0f ms "
              "(redis_timeout 1s, no tarpit delay for these clients)" % (slowest[0] * 1000))
        # The shared counts resume: three guesses at each host, six in Redis.
        src = "127.0.0.71"
        harvest(self.mx1.pf.port, src, 3)
        harvest(self.mx2.pf.port, src, 3, start=10)
        self.assertEqual(slice_counts(self.redis, src), 6)
        rows = [line.split() for line in self.mx2.ctl("bans").stdout.splitlines() if line.startswith("  " + src + " ")]
        self.assertEqual(rows and rows[0][1], "6")
        status = self.mx1.ctl("status").stdout
        self.assertIn("answering (counts and bans shared)", status)
        for mx in (self.mx1, self.mx2):
            metrics = mx.rg.log()  # the daemon is alive and its log is readable
            self.assertIsNone(mx.rg.proc.poll())
            self.assertIn("starting rcptguard", metrics)


class GarbageServer:
    """A TCP server on loopback that answers every connection with bytes that
    are not the Redis protocol."""

    def __init__(self):
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    self.request.recv(4096)
                    self.request.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n" + bytes(range(256)) * 4)
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        h.on_cleanup(self.stop)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class BrokenRedis(unittest.TestCase):
    """A Redis that refuses the login, and a server that answers garbage:
    mail flows on this host's own state, with one warning."""

    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        with open(os.path.join(cls.root, "redis.secret"), "w") as f:
            f.write("the-wrong-password\n")
        os.chmod(os.path.join(cls.root, "redis.secret"), 0o640)
        cls.redis = h.Redis(cls.root, users=["user rcptguard on >%s ~rcptguard:* +@all" % PASSWORD]).start()
        cls.garbage = GarbageServer()
        cls.db = os.path.join(cls.root, "r.db")
        h.make_sqlite_db(cls.db, ["alice@example.test"])

    @classmethod
    def tearDownClass(cls):
        cls.redis.kill()

    def check_mail_flows_on_local_state(self, name, servers, why, src):
        mx = Mx(self.root, name, self.db, servers).start()
        try:
            mx.rg.wait_log(r"shared state: .*" + why + r".*going on with this host's own counts and bans")
            replies = harvest(mx.pf.port, src, 6)
            # The tarpit works on local state: 550s, then the cut-off.
            self.assertEqual([r[0] for r in replies], [550, 550, 550, 550, 421, None], replies)
            self.assertEqual(h.rcpt_verdict(mx.pf.port, "<alice@example.test>", source="127.0.2.99")[0], 250)
            status = mx.ctl("status").stdout
            self.assertIn("NOT answering", status)
            self.assertIn("this host uses its own counts and bans", status)
            self.assertEqual(len(re.findall(r"going on with this host's own", mx.rg.log())), 1)
        finally:
            mx.pf.stop()
            mx.rg.kill()

    def test_login_refused_local_state_used(self):
        self.check_mail_flows_on_local_state("mx-auth", self.redis.address, "refused the login", "127.0.2.1")

    def test_garbage_answers_local_state_used(self):
        self.check_mail_flows_on_local_state("mx-garbage", "127.0.0.1:%d" % self.garbage.port, "not a Redis answer",
                                            "127.0.2.2")


if __name__ == "__main__":
    unittest.main()
