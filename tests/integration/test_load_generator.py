"""A short smoke run of the benchmark's load generator (bench/milter_load):
a few hundred RCPTs over several concurrent milter connections, checked
verdict by verdict, against rcptguard and against the null milter, so the
figures make bench prints come from a client that speaks the protocol right."""

import os
import subprocess
import unittest

import harness as h


class LoadGenerator(unittest.TestCase):
    def run_load(self, port, users):
        r = subprocess.run([h.binary("milter_load"), "--socket", "inet:%d@127.0.0.1" % port, "--rcpts", "600",
                            "--connections", "6", "--rcpts-per-message", "5", "--messages-per-connection", "4",
                            "--valid-ratio", "0.5", "--users", str(users), "--check"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        fields = dict(kv.split("=") for kv in r.stdout.split())
        self.assertEqual(int(fields["rcpts"]), 600)
        self.assertEqual(int(fields["wrong"]), 0)
        self.assertEqual(int(fields["errors"]), 0)
        self.assertEqual(int(fields["accept"]) + int(fields["reject"]), 600)
        self.assertGreater(int(fields["accept"]), 150)
        self.assertGreater(int(fields["reject"]), 150)
        return fields

    def test_against_rcptguard_every_verdict_right(self):
        root = h.make_root()
        users = os.path.join(root, "users.txt")
        with open(users, "w") as f:
            f.write("".join("u%d@example.test\n" % i for i in range(100)))
        port = h.free_port()
        rg = h.Rcptguard(root, """\
socket = inet:{port}@127.0.0.1
pid_file = {root}/rcptguard.pid
log_level = warning
# The load generator plays many clients with many unknown recipients: keep
# the tarpit out of this protocol check.
trusted_networks = 0.0.0.0/0
domains = example.test
backends = users
[backend users]
type = file
path = {users}
""".format(port=port, root=root, users=users)).start(wait_port=port)
        try:
            self.run_load(port, 100)
        finally:
            rg.kill()

    def test_against_null_milter(self):
        port = h.free_port()
        p = subprocess.Popen([h.binary("null_milter"), "-p", "inet:%d@127.0.0.1" % port])
        h.on_cleanup(lambda: (p.kill(), p.wait()))
        h.wait_until(lambda: h.port_open(port), 10, "null milter")
        self.run_load(port, 100)


if __name__ == "__main__":
    unittest.main()
