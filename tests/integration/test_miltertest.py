"""A second, independent milter client: miltertest (Lua) drives rcptguard
without an MTA. The reply texts it cannot see are checked in rcptguard's log."""

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
            self.assertIn("reject: 501 5.1.3 <a b@example.test>: Bad recipient address syntax", log)
            self.assertIn("<nosuch2@example.test>: reject: 550 5.1.1", log)
        finally:
            rg.kill()


if __name__ == "__main__":
    unittest.main()
