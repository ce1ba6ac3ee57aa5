"""make install / uninstall as an admin runs them (into a DESTDIR): exactly the
expected tree, an existing configuration kept, the systemd unit pointing at
the installed binary, and the installed binary starting with the installed
sample configuration against a temporary database; another PREFIX and
SYSCONFDIR reach the programs' default configuration path, the systemd unit
and the man pages. Also: the man pages render without warnings."""

import glob
import os
import re
import subprocess
import unittest

import harness as h

EXPECTED = sorted([
    "etc/rcptguard/rcptguard.conf",
    "usr/local/lib/systemd/system/rcptguard.service",
    "usr/local/sbin/rcptguard",
    "usr/local/sbin/rcptguard-ctl",
    "usr/local/share/man/man5/rcptguard.conf.5",
    "usr/local/share/man/man8/rcptguard-ctl.8",
    "usr/local/share/man/man8/rcptguard.8",
    "usr/local/share/rcptguard/postfix-main.cf.snippet",
    "usr/local/share/rcptguard/rcptguard.conf.sample",
    "usr/local/share/rcptguard/schema.sql",
    "usr/local/share/rcptguard/sendmail.mc.snippet",
    "usr/local/share/rcptguard/users.txt",
])


def make(*args):
    build = os.path.relpath(h.BUILD_DIR, h.SOURCE_DIR)
    config = os.path.basename(h.BUILD_DIR)
    return subprocess.run(["make", "-s", "-C", h.SOURCE_DIR, "CONFIG=" + config, "BUILD=" + build] + list(args),
                          capture_output=True, text=True, timeout=600)


def tree(root):
    out = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(out)


class Install(unittest.TestCase):
    def test_install_tree_start_and_uninstall(self):
        dest = h.make_root("rcptguard-install-")
        r = make("install", "DESTDIR=" + dest, "PREFIX=/usr/local")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(tree(dest), EXPECTED)
        self.assertEqual(os.stat(os.path.join(dest, "usr/local/sbin/rcptguard")).st_mode & 0o777, 0o755)
        unit = open(os.path.join(dest, "usr/local/lib/systemd/system/rcptguard.service")).read()
        self.assertIn("ExecStart=/usr/local/sbin/rcptguard -c /etc/rcptguard/rcptguard.conf", unit)
        self.assertIn("ExecReload=/bin/kill -USR1 $MAINPID", unit)
        self.assertNotIn("@", re.sub(r"#.*", "", unit).replace("multi-user", ""))

        # An admin's configuration survives a second install.
        conf = os.path.join(dest, "etc/rcptguard/rcptguard.conf")
        with open(conf, "a") as f:
            f.write("# local change\n")
        r = make("install", "DESTDIR=" + dest, "PREFIX=/usr/local")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kept", r.stdout)
        self.assertTrue(open(conf).read().endswith("# local change\n"))

        # The installed binaries run with the installed sample configuration.
        sbin = os.path.join(dest, "usr/local/sbin")
        r = subprocess.run([os.path.join(sbin, "rcptguard"), "-n", "-c", conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)  # the database does not exist yet: a warning only
        self.assertIn("backend users", r.stderr)
        db = os.path.join(dest, "var/lib/rcptguard/recipients.db")
        port = h.free_port()
        text = open(conf).read()
        text = text.replace("/var/lib/rcptguard/recipients.db", db)
        text = text.replace("socket = inet:8894@127.0.0.1", "socket = inet:%d@127.0.0.1" % port)
        text = text.replace("user = rcptguard", "user = nobody")
        text = re.sub(r"(?m)^domains = example\.com$", "domains = example.com\npid_file = %s/rcptguard.pid" % dest, text)
        with open(conf, "w") as f:
            f.write(text)
        ctl = os.path.join(sbin, "rcptguard-ctl")
        r = subprocess.run([ctl, "-c", conf, "init"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([ctl, "-c", conf, "import", os.path.join(dest, "usr/local/share/rcptguard/users.txt")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        rg = h.Rcptguard(dest, text, name="installed", binary_path=os.path.join(sbin, "rcptguard"))
        rg.start(wait_port=port)
        try:
            self.assertTrue(h.rcpt_verdict_milter_ok(port))
            r = subprocess.run([os.path.join(sbin, "rcptguard"), "-q", "alice@example.com", "-c", conf],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            rg.kill()

        r = make("uninstall", "DESTDIR=" + dest, "PREFIX=/usr/local")
        self.assertEqual(r.returncode, 0, r.stderr)
        left = [p for p in tree(dest) if p.startswith("usr/")]
        self.assertEqual(left, [])
        self.assertTrue(os.path.exists(conf))
        self.assertTrue(os.path.exists(db))

    def test_other_prefix_and_sysconfdir_reach_binaries_unit_and_man_pages(self):
        dest = h.make_root("rcptguard-install-opt-")
        opt = ["DESTDIR=" + dest, "PREFIX=/opt/rg", "SYSCONFDIR=/opt/rg/etc"]
        try:
            r = make("install", *opt)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            conf = "/opt/rg/etc/rcptguard/rcptguard.conf"
            self.assertTrue(os.path.exists(dest + conf))
            # Run without -c, both programs look where the configuration went.
            for prog in ("rcptguard", "rcptguard-ctl"):
                r = subprocess.run([os.path.join(dest, "opt/rg/sbin", prog), "-h"], capture_output=True, text=True)
                self.assertIn("(default %s)" % conf, r.stdout + r.stderr, prog)
            unit = open(os.path.join(dest, "opt/rg/lib/systemd/system/rcptguard.service")).read()
            self.assertIn("ExecStart=/opt/rg/sbin/rcptguard -c %s" % conf, unit)
            page = open(os.path.join(dest, "opt/rg/share/man/man8/rcptguard.8")).read()
            self.assertIn("/opt/rg/etc/rcptguard/", page)
            self.assertIn("/opt/rg/share/rcptguard/", page)
            self.assertNotIn("/usr/local/", page)
            self.assertNotIn("/etc/rcptguard/", page.replace("/opt/rg/etc/rcptguard/", ""))
            r = make("uninstall", *opt)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            # The build directory's programs go back to the default (/etc).
            r = make("programs")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run([h.binary("rcptguard"), "-h"], capture_output=True, text=True)
        self.assertIn("(default /etc/rcptguard/rcptguard.conf)", r.stdout)


class ManPages(unittest.TestCase):
    def test_man_pages_lint_clean_and_render_without_warnings(self):
        pages = sorted(glob.glob(os.path.join(h.SOURCE_DIR, "man", "*.[58]")))
        self.assertGreaterEqual(len(pages), 3)
        r = subprocess.run(["mandoc", "-T", "lint", "-W", "style"] + pages, capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        for p in pages:
            r = subprocess.run(["man", "--warnings", "-l", p], capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80", MAN_DISABLE_SECCOMP="1"))
            self.assertEqual(r.returncode, 0, p)
            self.assertEqual(r.stderr, "", p)
            self.assertIn("NAME", r.stdout)


if __name__ == "__main__":
    unittest.main()
