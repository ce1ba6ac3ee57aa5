"""The rcptguard command line as an admin uses it: -n, -q, -V, -h, bad options,
config errors at start, detaching with a pid file, a second instance, unix
socket ownership and stale sockets, SIGUSR1 and SIGTERM."""

import grp
import os
import pwd
import signal
import socket
import stat
import subprocess
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
        rg = h.Rcptguard(self.root, base(self.root, self.db, "unix:" + sock,
                                         "socket_mode = 0660\nsocket_group = %s" % group))
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
