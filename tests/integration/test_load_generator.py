"""A short smoke run of the benchmark's load generators (bench/milter_load,
bench/policy_load): a few hundred RCPTs or policy requests over several
concurrent connections, checked verdict by verdict, against rcptguard and
against the no-lookup yardsticks, so the figures make bench prints come from
clients that speak the protocols right; and --check does fail on wrong
verdicts."""

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

    def run_policy_load(self, port, users, expect_ok=True):
        r = subprocess.run([h.binary("policy_load"), "--server", "127.0.0.1:%d" % port, "--requests", "600",
                            "--connections", "6", "--valid-ratio", "0.5", "--users", str(users), "--check"],
                           capture_output=True, text=True, timeout=120)
        fields = dict(kv.split("=") for kv in r.stdout.split())
        self.assertEqual(int(fields["requests"]), 600, r.stdout + r.stderr)
        self.assertEqual(int(fields["errors"]), 0, r.stdout + r.stderr)
        self.assertEqual(int(fields["accept"]) + int(fields["reject"]) + int(fields["tempfail"]), 600)
        if expect_ok:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(int(fields["wrong"]), 0)
            self.assertEqual(int(fields["tempfail"]), 0)
            self.assertGreater(int(fields["accept"]), 150)
            self.assertGreater(int(fields["reject"]), 150)
        else:
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertGreater(int(fields["wrong"]), 0)
            self.assertIn("expected accept, got action=550 5.1.1", r.stderr)
        return fields

    def start_rcptguard(self, known):
        root = h.make_root()
        users = os.path.join(root, "users.txt")
        with open(users, "w") as f:
            f.write("".join("u%d@example.test\n" % i for i in range(known)))
        port, policy_port = h.free_port(), h.free_port()
        rg = h.Rcptguard(root, """\
socket = inet:{port}@127.0.0.1
policy_socket = inet:127.0.0.1:{policy_port}
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
""".format(port=port, policy_port=policy_port, root=root, users=users)).start(wait_port=port)
        h.on_cleanup(rg.kill)
        h.wait_until(lambda: h.port_open(policy_port), 10, "policy service")
        return port, policy_port

    def test_against_rcptguard_every_verdict_right(self):
        port, policy_port = self.start_rcptguard(100)
        self.run_load(port, 100)
        self.run_policy_load(policy_port, 100)

    def test_policy_check_catches_wrong_verdicts(self):
        # Only u0..u9 exist: most "valid" recipients the generator sends are
        # rejected, and --check must say so.
        port, policy_port = self.start_rcptguard(10)
        self.run_policy_load(policy_port, 100, expect_ok=False)

    def test_against_null_policy(self):
        port = h.free_port()
        p = subprocess.Popen([h.binary("null_policy"), str(port)])
        h.on_cleanup(lambda: (p.kill(), p.wait()))
        h.wait_until(lambda: h.port_open(port), 10, "null policy server")
        self.run_policy_load(port, 100)

    def test_against_null_milter(self):
        port = h.free_port()
        p = subprocess.Popen([h.binary("null_milter"), "-p", "inet:%d@127.0.0.1" % port])
        h.on_cleanup(lambda: (p.kill(), p.wait()))
        h.wait_until(lambda: h.port_open(port), 10, "null milter")
        self.run_load(port, 100)


if __name__ == "__main__":
    unittest.main()
