#!/usr/bin/env python3
"""Runs the integration tests (tests/integration/test_*.py) with unittest and
ends with one line CI can read: "N passed, N failed, N skipped".

usage: run.py [-k PATTERN] [MODULE ...]   (RCPTGUARD_BUILD picks the build)
"""

import argparse
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.stream.write("  (%.1fs)\n" % (time.monotonic() - self._t0))


def stop_on_signal(signum, _frame):
    """SIGTERM/SIGHUP (a CI timeout, a closed terminal): stop the Postfix,
    slapd and rcptguard instances the tests started, as a normal exit does,
    rather than leaving them running."""
    import harness
    print("\nintegration: stopped by signal %d; cleaning up" % signum, flush=True)
    harness._run_cleanups()
    os._exit(128 + signum)


def enter_network_namespace():
    """As root, runs this script again in a network namespace of its own whose
    one interface is its loopback (tools/run-tests enters it already for the
    unit tests too): no test and no server it starts can send a packet off
    the machine, and nothing depends on the host's network."""
    if os.environ.get("RCPTGUARD_TEST_NETNS") == "1" or os.geteuid() != 0:
        return
    env = dict(os.environ, RCPTGUARD_TEST_NETNS="1")
    os.execvpe("unshare", ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
                           sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)


def main():
    enter_network_namespace()
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGHUP, stop_on_signal)
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", dest="pattern", action="append", help="only tests matching this substring")
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = ["*%s*" % p for p in args.pattern]
    if args.modules:
        suite = unittest.TestSuite(loader.loadTestsFromName(m.replace(".py", "")) for m in args.modules)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=Result, stream=sys.stdout)
    t0 = time.monotonic()
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped
    print("integration: %d passed, %d failed, %d skipped (%.0fs)" % (passed, failed, skipped,
                                                                       time.monotonic() - t0))
    sys.exit(0 if failed == 0 and skipped == 0 else 1)


if __name__ == "__main__":
    main()
