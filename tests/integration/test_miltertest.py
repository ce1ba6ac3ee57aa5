"""A second, independent milter client: miltertest (Lua) drives rcptguard
without an MTA: verdicts, bounce stripping, a backend that cannot answer
(451, never 550) and monitor mode. The reply texts it cannot see are checked
in rcptguard's log."""

import os
import subprocess
import unittest

import harness as h


class Miltertest(unittest.TestCase):
    def test_miltertest_script(self):
        root = h.make_root()
        db = os.path.join(root, "r.db")
        h.make_sqlite_db(db, ["alice@example.test", "@catchall.test"])
        port = h.free_port()
        rg = h.Rcptguard(root, """\
socket = inet:{port}@127.0.0.1
pid_file = {root}/rg.pid
log_level = debug
domains = example.test catchall.test
backends = users
[backend users]
type = sqlite
path = {db}
""".format(port=port, root=root, db=db)).start(wait_port=port)
        try:
            script = os.path.join(h.SOURCE_DIR, "tests", "miltertest", "rcptguard.lua")
            env = dict(os.environ, MILTER_SOCKET="inet:%d@127.0.0.1" % port)
            r = subprocess.run(["miltertest", "-s", script], capture_output=True, text=True, env=env, timeout=120)
            print(r.stdout)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r"miltertest: \d+ passed, 0 failed")
            log = rg.log()
            self.assertIn("rcpt: <nosuch@example.test>: reject: 550 5.1.1 <nosuch@example.test>: "
                          "Recipient address rejected: User unknown; client=client.test[192.0.2.10]", log)
            self.assertIn("reject: 501 5.1.3 <a b@example.test>: Recipient address rejected: Bad recipient address syntax", log)
            self.assertIn("<nosuch2@example.test>: reject: 550 5.1.1", log)
        finally:
            rg.kill()

    def run_modes_script(self, mode, extra):
        root = h.make_root()
        db = os.path.join(root, "r.db")
        h.make_sqlite_db(db, ["alice@example.test"])
        port = h.free_port()
        rg = h.Rcptguard(root, """\
socket = inet:{port}@127.0.0.1
pid_file = {root}/rg.pid
domains = example.test
{extra}
[backend users]
type = sqlite
path = {db}
[backend drill]
type = fail
reason = outage drill
""".format(port=port, root=root, db=db, extra=extra)).start(wait_port=port)
        try:
            script = os.path.join(h.SOURCE_DIR, "tests", "miltertest", "rcptguard_modes.lua")
            env = dict(os.environ, MILTER_SOCKET="inet:%d@127.0.0.1" % port, MILTER_MODE=mode)
            r = subprocess.run(["miltertest", "-s", script], capture_output=True, text=True, env=env, timeout=120)
            print(r.stdout)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r"miltertest: [1-9]\d* passed, 0 failed")
            return rg.log()
        finally:
            rg.kill()

    def test_backend_that_cannot_answer_451_never_550(self):
        log = self.run_modes_script("outage", "backends = users drill")
        self.assertIn("<nosuch@example.test>: defer: 451 4.3.0 <nosuch@example.test>: Recipient address rejected: Temporary lookup failure: "
                      "backend drill: outage drill", log)
        self.assertNotIn(" 550 ", log)

    def test_monitor_mode_only_logs(self):
        log = self.run_modes_script("monitor", "backends = users\nmode = monitor")
        self.assertIn("<nosuch@example.test>: would reject (monitor mode): 550 5.1.1", log)
        self.assertRegex(log, r"<a b@example\.test>: would reject \(monitor mode\): 501 5\.1\.3")


if __name__ == "__main__":
    unittest.main()
