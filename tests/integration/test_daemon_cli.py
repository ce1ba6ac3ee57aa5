"""The rcptguard command line as an admin uses it: -n, -q, -V, -h, bad options,
config errors at start (all of them, in file order), start failures on the
terminal with and without -f (second instance, busy ports, also after
detaching), detaching with a pid file, unix socket ownership and stale
sockets, SIGUSR1 (what changed) and SIGTERM (a prompt stop while Postfix
defers)."""

import grp
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import unittest

import harness as h


def base(root, db, socket_spec, extra=""):
    return """\
socket = {sock}
pid_file = {root}/rcptguard.pid
domains = example.test .example.test
backends = users
{extra}
[backend users]
type = sqlite
path = {db}
""".format(sock=socket_spec, root=root, db=db, extra=extra)


class CommandLine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        cls.db = os.path.join(cls.root, "r.db")
        h.make_sqlite_db(cls.db, ["alice@example.test", "@catchall.example.test"])
        cls.conf = os.path.join(cls.root, "good.conf")
        with open(cls.conf, "w") as f:
            f.write(base(cls.root, cls.db, "inet:%d@127.0.0.1" % h.free_port(),
                         "domains_extra_placeholder = 1").replace("domains_extra_placeholder = 1\n", ""))

    def write(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_check_good_config_exit_0(self):
        r = h.run_rcptguard("-n", "-c", self.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration is valid", r.stdout)

    def test_check_bad_config_names_file_line_key(self):
        path = self.write("bad.conf", base(self.root, self.db, "inet:1@127.0.0.1", "mode = strict"))
        r = h.run_rcptguard("-n", "-c", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("%s:5: mode: expected enforce or monitor, got 'strict'" % path, r.stderr)

    def several_errors(self, name):
        return self.write(name, base(self.root, self.db, "inet:1@127.0.0.1",
                                     "tarpit_max_delay = 1h\nlog_levle = debug\nmode = strict") +
                          "pool_size = 0\nbogus = 1\n")

    SEVERAL = ["5: tarpit_max_delay: 1h is too close to mta_timeout 10s",
               "6: log_levle: unknown key in the global section",
               "7: mode: expected enforce or monitor, got 'strict'",
               "11: pool_size: must be between 1 and 64, got 0",
               "12: bogus: unknown key in [backend users]"]

    def assertAllInOrder(self, text, path):
        lines = [l for l in text.splitlines() if path + ":" in l]
        self.assertEqual(len(lines), len(self.SEVERAL), text)
        for line, want in zip(lines, self.SEVERAL):
            self.assertIn("%s:%s" % (path, want), line)

    def test_check_several_errors_all_printed_in_file_order(self):
        path = self.several_errors("several.conf")
        r = h.run_rcptguard("-n", "-c", path)
        self.assertEqual(r.returncode, 78)
        self.assertEqual(r.stdout, "")
        self.assertAllInOrder(r.stderr, path)

    def test_start_with_several_errors_prints_all_with_and_without_f(self):
        path = self.several_errors("several-start.conf")
        for args in (["-f"], []):
            r = subprocess.run([h.binary("rcptguard")] + args + ["-c", path], capture_output=True, text=True,
                               timeout=20)
            self.assertEqual(r.returncode, 78, args)
            self.assertAllInOrder(r.stderr, path)

    def test_check_unknown_user_and_groups_all_reported(self):
        path = self.write("names.conf", base(self.root, self.db, "inet:1@127.0.0.1",
                                             "socket_group = no-such-group-here\nuser = no-such-user-here"))
        r = h.run_rcptguard("-n", "-c", path)
        self.assertEqual(r.returncode, 78)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 2, r.stderr)
        self.assertIn("%s:5: socket_group: no such group 'no-such-group-here'" % path, lines[0])
        self.assertIn("%s:6: user: no such user 'no-such-user-here'" % path, lines[1])

    def test_check_unreadable_config(self):
        r = h.run_rcptguard("-n", "-c", os.path.join(self.root, "absent.conf"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("absent.conf: cannot read: No such file or directory", r.stderr)

    def test_check_missing_database_is_a_warning_not_an_error(self):
        path = self.write("nodb.conf", base(self.root, os.path.join(self.root, "none.db"), "inet:1@127.0.0.1"))
        r = h.run_rcptguard("-n", "-c", path)
        self.assertEqual(r.returncode, 0)
        self.assertIn("warning: backend users: cannot open", r.stderr)

    def test_query_exit_codes(self):
        cases = [("alice@example.test", 0, "valid"), ("<Alice+tag@EXAMPLE.test>", 0, "valid"),
                 ("nosuch@example.test", 1, "unknown: would reply 550 5.1.1"),
                 ("a b@example.test", 1, "would reply 501 5.1.3"),
                 ("x@other.test", 3, "not ours"),
                 ("anyone@catchall.example.test", 0, "found @catchall.example.test")]
        for addr, code, text in cases:
            r = h.run_rcptguard("-q", addr, "-c", self.conf)
            self.assertEqual(r.returncode, code, "%s: %s %s" % (addr, r.stdout, r.stderr))
            self.assertIn(text, r.stdout)

    def test_query_tempfail_exit_2(self):
        path = self.write("gone.conf", base(self.root, os.path.join(self.root, "none.db"), "inet:1@127.0.0.1"))
        r = h.run_rcptguard("-q", "alice@example.test", "-c", path)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("temporary failure", r.stdout)
        self.assertIn("would reply 451 4.3.0", r.stdout)

    def test_wal_database_in_unwritable_directory_explained(self):
        # SQLite readers of a WAL database must create db-shm next to it: the
        # admin gets the reason, not only SQLite's "readonly database".
        d = os.path.join(self.root, "walro")
        os.makedirs(d)
        db = os.path.join(d, "r.db")
        h.make_sqlite_db(db, ["alice@example.test"])
        os.chmod(d, 0o755)
        path = self.write("walro.conf", base(self.root, db, "inet:1@127.0.0.1"))
        os.chmod(path, 0o644)
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            h.binary("rcptguard"), "-q", "alice@example.test", "-c", path],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("is in WAL mode and uid %d may not create %s-shm" % (pwd.getpwnam("nobody").pw_uid, db),
                      r.stdout)

    def test_query_with_broken_config_is_not_a_verdict(self):
        path = self.write("broken.conf", "domains = example.test\n")
        r = h.run_rcptguard("-q", "alice@example.test", "-c", path)
        self.assertNotIn(r.returncode, (0, 1, 2, 3))
        self.assertIn("backends: missing", r.stderr)

    def test_version_help_and_bad_option(self):
        r = h.run_rcptguard("-V")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^rcptguard \d+\.\d+\.\d+")
        r = h.run_rcptguard("-h")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: rcptguard", r.stdout)
        r = h.run_rcptguard("-Z")
        self.assertEqual(r.returncode, 64)
        self.assertIn("unknown option -Z", r.stderr)
        r = h.run_rcptguard("-q")
        self.assertEqual(r.returncode, 64)

    def test_start_with_config_error_fails_with_message(self):
        path = self.write("startbad.conf", base(self.root, self.db, "inet:1@127.0.0.1") + "pool_size = 0\n")
        r = subprocess.run([h.binary("rcptguard"), "-f", "-c", path], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 78)
        self.assertIn("%s:9: pool_size: must be between 1 and 64, got 0" % path, r.stderr)

    def test_start_with_unknown_user_fails(self):
        path = self.write("nouser.conf", base(self.root, self.db, "inet:%d@127.0.0.1" % h.free_port(),
                                              "user = no-such-user-here"))
        r = subprocess.run([h.binary("rcptguard"), "-f", "-c", path], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 78)
        self.assertIn(":5: user: no such user 'no-such-user-here'", r.stderr)


class Daemon(unittest.TestCase):
    def setUp(self):
        self.root = h.make_root()
        self.db = os.path.join(self.root, "r.db")
        h.make_sqlite_db(self.db, ["alice@example.test"])

    def test_detaches_writes_pid_reloads_and_stops(self):
        port = h.free_port()
        conf = os.path.join(self.root, "d.conf")
        with open(conf, "w") as f:
            f.write(base(self.root, self.db, "inet:%d@127.0.0.1" % port, "user = " + h.UNPRIVILEGED_USER))
        os.chmod(self.root, 0o777)
        r = subprocess.run([h.binary("rcptguard"), "-c", conf], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        pidfile = os.path.join(self.root, "rcptguard.pid")
        h.wait_until(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 10, "pid file")
        pid = int(open(pidfile).read())
        h.on_cleanup(lambda: _kill(pid))
        h.wait_until(lambda: h.port_open(port), 10, "daemon listening")
        # A second copy refuses to start and leaves the first one alone.
        r2 = subprocess.run([h.binary("rcptguard"), "-f", "-c", conf], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r2.returncode, 0)
        self.assertIn("another rcptguard is running (pid %d" % pid, r2.stderr)
        self.assertTrue(h.port_open(port))
        # SIGUSR1 reloads (the config path was made absolute before detaching).
        os.kill(pid, signal.SIGUSR1)
        self.assertEqual(h.rcpt_verdict_milter_ok(port), True)
        os.kill(pid, signal.SIGTERM)
        h.wait_until(lambda: not _alive(pid), 20, "daemon to stop")

    def test_unix_socket_mode_group_and_stale_socket(self):
        sock = os.path.join(self.root, "run", "rg.sock")
        os.makedirs(os.path.dirname(sock))
        # A stale socket left behind by a crash is replaced.
        s = socket.socket(socket.AF_UNIX)
        s.bind(sock)
        s.close()
        group = grp.getgrgid(pwd.getpwnam("postfix").pw_gid).gr_name
        policy_sock = os.path.join(self.root, "run", "policy.sock")
        rg = h.Rcptguard(self.root, base(self.root, self.db, "unix:" + sock,
                                         "socket_mode = 0660\nsocket_group = %s\npolicy_socket = unix:%s" %
                                         (group, policy_sock)))
        rg.start(wait_socket=sock)
        try:
            st = os.stat(sock)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
            self.assertEqual(st.st_gid, grp.getgrnam(group).gr_gid)
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock)
            c.close()
            # A live socket is never taken over by a second instance.
            other = h.Rcptguard(self.root, base(self.root, self.db, "unix:" + sock, "pid_file = " +
                                                os.path.join(self.root, "other.pid")).replace(
                "pid_file = %s/rcptguard.pid\n" % self.root, ""), name="other")
            r = subprocess.run([other.binary, "-f", "-c", other.conf], capture_output=True, text=True, timeout=20)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("is in use by another running process", r.stderr)
            # Stopped, it removes its socket files (a successor needs no clean-up).
            self.assertTrue(stat.S_ISSOCK(os.stat(policy_sock).st_mode))
            self.assertEqual(rg.stop(), 0, rg.log())
            self.assertFalse(os.path.exists(sock), "milter socket left behind at stop")
            self.assertFalse(os.path.exists(policy_sock), "policy socket left behind at stop")
        finally:
            rg.kill()

    def test_regular_file_at_socket_path_is_not_removed(self):
        path = os.path.join(self.root, "notasocket")
        with open(path, "w") as f:
            f.write("precious")
        rg = h.Rcptguard(self.root, base(self.root, self.db, "unix:" + path))
        r = subprocess.run([rg.binary, "-f", "-c", rg.conf], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("exists and is not a socket", r.stderr)
        self.assertEqual(open(path).read(), "precious")


class StartFailures(unittest.TestCase):
    """Every fatal start error is on the terminal, with or without -f, before
    or after the daemon detached, and no daemon or pid file is left behind."""

    def setUp(self):
        self.root = h.make_root()
        self.db = os.path.join(self.root, "r.db")
        h.make_sqlite_db(self.db, ["alice@example.test"])

    def conf(self, name, port, extra=""):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(base(self.root, self.db, "inet:%d@127.0.0.1" % port, extra))
        return path

    def start(self, args, conf):
        return subprocess.run([h.binary("rcptguard")] + args + ["-c", conf], capture_output=True, text=True,
                              timeout=30)

    def test_second_instance_prints_reason_with_and_without_f(self):
        conf = self.conf("one.conf", h.free_port())
        first = h.Rcptguard(self.root, open(conf).read(), name="first")
        first.start()
        try:
            for args in ([], ["-f"]):
                r = self.start(args, conf)
                self.assertEqual(r.returncode, 70, args)
                self.assertIn("another rcptguard is running (pid %d, pid file %s/rcptguard.pid)"
                              % (first.pid(), self.root), r.stderr)
            self.assertIsNone(first.proc.poll(), "the running daemon must be left alone")
        finally:
            first.kill()

    def test_busy_milter_port_prints_reason_with_and_without_f(self):
        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        try:
            conf = self.conf("busy.conf", port)
            for args in ([], ["-f"]):
                r = self.start(args, conf)
                self.assertEqual(r.returncode, 70, args)
                self.assertIn("fatal: socket inet:%d@127.0.0.1: cannot listen: Address already in use" % port,
                              r.stderr)
                self.assertFalse(os.path.exists(os.path.join(self.root, "rcptguard.pid")))
        finally:
            busy.close()

    def test_busy_metrics_port_after_detaching_reason_reaches_the_terminal(self):
        # metrics_listen opens after the fork: the detached daemon hands its
        # reason to the waiting parent, which prints it and exits non-zero.
        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        mport = busy.getsockname()[1]
        milter_port = h.free_port()
        try:
            conf = self.conf("metrics.conf", milter_port, "metrics_listen = 127.0.0.1:%d" % mport)
            for args in ([], ["-f"]):
                r = self.start(args, conf)
                self.assertEqual(r.returncode, 70, (args, r.stderr))
                self.assertIn("fatal: metrics_listen: cannot listen on 127.0.0.1:%d: Address already in use" % mport,
                              r.stderr)
                # Nothing left behind: no daemon on the milter port, no pid file.
                h.wait_until(lambda: not h.port_open(milter_port), 10, "milter port closed")
                self.assertFalse(os.path.exists(os.path.join(self.root, "rcptguard.pid")))
        finally:
            busy.close()

    def test_detached_start_success_exit_0_only_once_serving(self):
        port = h.free_port()
        conf = self.conf("ok.conf", port)
        r = self.start([], conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        pid = int(open(os.path.join(self.root, "rcptguard.pid")).read())
        h.on_cleanup(lambda: _kill(pid))
        # The parent returned only after the daemon was ready: no waiting needed.
        self.assertTrue(h.rcpt_verdict_milter_ok(port))
        os.kill(pid, signal.SIGTERM)
        h.wait_until(lambda: not _alive(pid), 20, "daemon to stop")


class ReloadLog(unittest.TestCase):
    def test_reload_logs_changed_keys_then_every_problem_of_a_broken_file(self):
        root = h.make_root()
        dbdir = os.path.join(root, "db")
        os.makedirs(dbdir)
        os.chmod(dbdir, 0o777)
        db = os.path.join(dbdir, "r.db")
        h.make_sqlite_db(db, ["alice@example.test"])
        port = h.free_port()
        first = base(root, db, "inet:%d@127.0.0.1" % port, "user = nobody\ncache_negative_ttl = 1m")
        rg = h.Rcptguard(root, first).start(wait_port=port)
        try:
            out = rg.reload(first.replace("cache_negative_ttl = 1m", "mode = monitor\nreject_message = Nope")
                            .replace("domains = example.test .example.test", "domains = example.test"))
            self.assertIn("reload: changed domains: example.test .example.test -> example.test", out)
            self.assertIn("reload: changed mode: (default) -> monitor", out)
            self.assertIn("reload: changed reject_message: (default) -> Nope", out)
            self.assertIn("reload: changed cache_negative_ttl: 1m -> (default)", out)
            self.assertRegex(out, r"reload: configuration \S+ loaded \(1 backends, generation 2, 4 changes\)")
            out = rg.reload()
            self.assertIn("generation 3, nothing changed", out)
            self.assertNotIn("reload: changed", out)
            broken = open(rg.conf).read() + "log_levle = debug\npool_size = 0\n"
            out = rg.reload(broken.replace("mode = monitor", "mode = strict"))
            rg.wait_log("reload failed: keeping the running configuration", after=0)
            out = rg.log()[-3000:]
            problems = [l for l in out.splitlines() if "reload failed: " + rg.conf in l]
            self.assertEqual(len(problems), 3, out)
            self.assertIn("mode: expected enforce or monitor", problems[0])
            self.assertIn("log_levle: unknown key", problems[1])
            self.assertIn("pool_size: must be between 1 and 64", problems[2])
        finally:
            rg.kill()


class StopUnderPostfix(unittest.TestCase):
    """SIGTERM while Postfix uses rcptguard: the daemon exits (libmilter's
    listener is stopped actively, not after its 5-second poll) and Postfix
    meanwhile defers, never bounces. The stop time is printed, not asserted."""

    def test_sigterm_daemon_exits_and_postfix_defers_never_bounces(self):
        root = h.make_root()
        dbdir = os.path.join(root, "db")
        os.makedirs(dbdir)
        os.chmod(dbdir, 0o777)
        db = os.path.join(dbdir, "r.db")
        h.make_sqlite_db(db, ["alice@example.test", "bob@example.test"])
        port = h.free_port()
        rg = h.Rcptguard(root, base(root, db, "inet:%d@127.0.0.1" % port, "user = nobody"))
        rg.start(wait_port=port)
        os.makedirs(os.path.join(root, "pf"))
        pf = h.Postfix(os.path.join(root, "pf"), main={
            "relay_domains": "example.test",
            "transport_maps": "inline:{ example.test=discard: }",
            "smtpd_milters": "inet:127.0.0.1:%d" % port,
            "non_smtpd_milters": "inet:127.0.0.1:%d" % port,
        }).start()
        try:
            open_session = h.Smtp(pf.port)
            self.assertEqual(open_session.mail("<s@client.test>")[0], 250)
            self.assertEqual(open_session.rcpt("<alice@example.test>")[0], 250)

            t0 = time.monotonic()
            rg.proc.send_signal(signal.SIGTERM)
            rg.proc.wait(30)
            stop_seconds = time.monotonic() - t0
            sys.stdout.write("[rcptguard exited %.3fs after SIGTERM] " % stop_seconds)
            sys.stdout.flush()
            self.assertEqual(rg.proc.returncode, 0, rg.log())
            self.assertIn("stopping rcptguard: SIGTERM received", rg.log())
            self.assertRegex(rg.log(), r"stopped rcptguard in \S+: sessions still open are dropped")
            self.assertFalse(h.port_open(port))

            # Meanwhile Postfix defers: the open session and new ones get 4xx
            # for valid and unknown recipients alike, never a 5xx.
            code, msg = open_session.rcpt("<bob@example.test>")
            self.assertTrue(400 <= code < 500, (code, msg))
            open_session.close()
            for rcpt in ("<alice@example.test>", "<nosuch@example.test>"):
                with h.Smtp(pf.port) as c:
                    # Postfix finds the milter gone at connect and answers
                    # MAIL (or RCPT) with milter_default_action's 4xx.
                    code, msg = c.mail("<s@client.test>")
                    if code == 250:
                        code, msg = c.rcpt(rcpt)
                self.assertTrue(400 <= code < 500, (rcpt, code, msg))
            # Mail submitted locally waits in the queue; nothing bounces.
            pf.sendmail("s@mx.example.test", ["alice@example.test"],
                        "Subject: during the stop\n\nheld, not bounced\n")
            h.wait_until(lambda: re.search(r"cleanup\[\d+\]: \w+: milter-reject: .* 4\.7\.1 .*from=<s@mx\.example\.test>",
                                           pf.log()), 20, "cleanup to hold the message back (4.7.1)")
            self.assertFalse(pf.queue_empty(), "the message must wait in the queue")
            self.assertNotIn("status=bounced", pf.log())

            # Back: everything flows again; nothing was bounced meanwhile.
            rg2 = h.Rcptguard(root, open(rg.conf).read(), name="again").start(wait_port=port)
            self.assertEqual(h.rcpt_verdict(pf.port, "<alice@example.test>")[0], 250)
            self.assertEqual(h.rcpt_verdict(pf.port, "<nosuch@example.test>")[0], 550)
            rg2.kill()
            self.assertNotIn("status=bounced", pf.log())
        finally:
            pf.stop()
            rg.kill()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def _kill(pid):
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    unittest.main()
