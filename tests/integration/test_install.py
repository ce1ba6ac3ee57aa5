"""make install / uninstall as an admin runs them (into a DESTDIR): exactly the
expected tree, stripped programs and no benchmark or test programs, an
existing configuration kept, the systemd unit pointing at the installed
binary, and the installed binary starting with the installed sample
configuration against a temporary database; uninstall removes the
directories install created and names the lines of Postfix's main.cf that
still point at rcptguard; another PREFIX and SYSCONFDIR reach the programs'
default configuration path, the systemd unit and the man pages. Also: the
man pages render without warnings."""

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
    "usr/local/share/rcptguard/installed-directories",
    "usr/local/share/rcptguard/postfix-main.cf.snippet",
    "usr/local/share/rcptguard/rcptguard.conf.sample",
    "usr/local/share/rcptguard/schema.sql",
    "usr/local/share/rcptguard/sendmail.mc.snippet",
    "usr/local/share/rcptguard/users.txt",
])


def make(*args, env=None):
    build = os.path.relpath(h.BUILD_DIR, h.SOURCE_DIR)
    config = os.path.basename(h.BUILD_DIR)
    return subprocess.run(["make", "-s", "-C", h.SOURCE_DIR, "CONFIG=" + config, "BUILD=" + build] + list(args),
                          capture_output=True, text=True, timeout=600, env=dict(os.environ, **(env or {})))


def has_symbols(path):
    r = subprocess.run(["readelf", "-S", "-W", path], capture_output=True, text=True, check=True)
    return " .symtab " in r.stdout


def dirs(root):
    out = []
    for dirpath, subdirs, _ in os.walk(root):
        out += [os.path.relpath(os.path.join(dirpath, d), root) for d in subdirs]
    return sorted(out)


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
        # Stripped by install (the build keeps its symbols for debugging).
        for prog in ("rcptguard", "rcptguard-ctl"):
            self.assertTrue(has_symbols(h.binary(prog)), prog)
            self.assertFalse(has_symbols(os.path.join(dest, "usr/local/sbin", prog)), prog)
        # Every directory install had to make is on record for uninstall.
        created = open(os.path.join(dest, "usr/local/share/rcptguard/installed-directories")).read().split()
        self.assertEqual(sorted(d.lstrip("/") for d in created), dirs(dest))
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

        # The installed binaries run with the installed sample configuration,
        # its 'user' swapped for one every system has: -n checks that the
        # user exists (an unknown one is an error, see test_daemon_cli), and
        # the test must not depend on this machine's accounts.
        sbin = os.path.join(dest, "usr/local/sbin")
        checked = os.path.join(dest, "checked.conf")
        with open(checked, "w") as f:
            f.write(open(conf).read().replace("user = rcptguard", "user = nobody"))
        r = subprocess.run([os.path.join(sbin, "rcptguard"), "-n", "-c", checked], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)  # the database does not exist yet: a warning only
        self.assertIn("backend users", r.stderr)
        db = os.path.join(dest, "var/lib/rcptguard/recipients.db")
        port = h.free_port()
        text = open(conf).read()
        text = text.replace("/var/lib/rcptguard/recipients.db", db)
        text = text.replace("socket = inet:8894@127.0.0.1", "socket = inet:%d@127.0.0.1" % port)
        text = text.replace("user = rcptguard", "user = nobody")
        text = re.sub(r"(?m)^domains = example\.com$", "domains = example.com\npid_file = %s/rcptguard.pid" % dest, text)
        # The sample's control socket and state file live in /run and /var/lib: keep them in the tree.
        text = text.replace("control_socket = /run/rcptguard/control.sock", "control_socket = %s/run/control.sock" % dest)
        text = text.replace("state_file = /var/lib/rcptguard/state", "state_file = %s/state" % dest)
        self.assertNotRegex(text, r"(?m)^\w+ = /(run|var/lib)/")
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

        # Uninstall while Postfix still names rcptguard's socket (a main.cf of
        # the test's own, through MAIL_CONFIG): it says which lines to remove.
        postfix_dir = h.make_root("rcptguard-install-postfix-")
        with open(os.path.join(postfix_dir, "main.cf"), "w") as f:
            f.write("smtpd_milters = inet:127.0.0.1:%d, inet:127.0.0.1:1\nnon_smtpd_milters = inet:127.0.0.1:1\n"
                    % port)
        r = make("uninstall", "DESTDIR=" + dest, "PREFIX=/usr/local", env={"MAIL_CONFIG": postfix_dir})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("still sends mail through rcptguard", r.stdout)
        self.assertIn("main.cf: smtpd_milters = inet:127.0.0.1:%d, inet:127.0.0.1:1" % port, r.stdout)
        self.assertNotIn("non_smtpd_milters", r.stdout)  # names another milter only
        # Gone: every file and every directory install made, except the
        # configuration's directory, which still holds the configuration.
        # (The database and the test's own files are not install's.)
        self.assertEqual([p for p in tree(dest) if p.startswith(("usr/", "etc/"))], ["etc/rcptguard/rcptguard.conf"])
        self.assertEqual([d for d in dirs(dest) if d.startswith(("usr", "etc"))], ["etc", "etc/rcptguard"])
        self.assertTrue(os.path.exists(db))

    def test_install_builds_only_the_two_programs(self):
        # A dry run against an empty build directory lists everything install
        # would build: the programs and their objects, no benchmark or test
        # program.
        fresh = h.make_root("rcptguard-install-build-")
        r = subprocess.run(["make", "-n", "-C", h.SOURCE_DIR, "BUILD=" + fresh, "install", "DESTDIR=" + fresh],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        linked = re.findall(r" -o %s/([^/\s]+)\s" % re.escape(fresh), r.stdout)
        self.assertEqual(sorted(linked), ["rcptguard", "rcptguard-ctl"])
        self.assertEqual(re.findall(r" -c ((?:bench|tests)/\S+)", r.stdout), [])

    def test_other_prefix_and_sysconfdir_reach_binaries_unit_and_man_pages(self):
        dest = h.make_root("rcptguard-install-opt-")
        opt = ["DESTDIR=" + dest, "PREFIX=/opt/rg", "SYSCONFDIR=/opt/rg/etc", "STRIP="]
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
            for prog in ("rcptguard", "rcptguard-ctl"):  # STRIP= installs them as built
                self.assertTrue(has_symbols(os.path.join(dest, "opt/rg/sbin", prog)), prog)
            # No Postfix configuration names rcptguard: uninstall lists the
            # snippet's lines to look for.
            empty = h.make_root("rcptguard-install-postfix-")
            open(os.path.join(empty, "main.cf"), "w").close()
            r = make("uninstall", *opt, env={"MAIL_CONFIG": empty})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("remove its lines from main.cf", r.stdout)
            self.assertIn("smtpd_milters = inet:127.0.0.1:8894", r.stdout)
            self.assertEqual(tree(dest), ["opt/rg/etc/rcptguard/rcptguard.conf"])
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
