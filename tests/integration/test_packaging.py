"""The packaging's pieces that can be checked without installing anything
(make check-deb installs the package itself):

- One version: debian/changelog's top entry and the man pages name the
  release in util/version.hpp (debian/rules also refuses to build otherwise).
- debian/control's Build-Depends names the Debian package of every library
  the Makefile links the programs with, so a backend that adds a library
  cannot be forgotten there.
- tools/mta-references, which make uninstall and the package's prerm use to
  warn that Postfix or Sendmail still send mail through rcptguard, finds the
  milter and the policy service in each notation and nothing else.

Standard library only; starts nothing but postconf.
"""

import glob
import os
import re
import subprocess
import unittest

import harness as h


def read(*parts):
    with open(os.path.join(h.SOURCE_DIR, *parts)) as f:
        return f.read()


def version_hpp():
    return re.search(r'#define RCPTGUARD_VERSION "([^"]+)"', read("util", "version.hpp")).group(1)


class OneVersion(unittest.TestCase):
    def test_changelog_names_the_version_in_version_hpp(self):
        r = subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(h.SOURCE_DIR, "debian", "changelog"),
                            "-S", "Version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), version_hpp(),
                         "add a debian/changelog entry for %s (dch -v %s)" % (version_hpp(), version_hpp()))

    def test_man_pages_name_the_version_in_version_hpp(self):
        pages = sorted(glob.glob(os.path.join(h.SOURCE_DIR, "man", "*.[58]")))
        self.assertGreaterEqual(len(pages), 3)
        for page in pages:
            th = re.search(r'(?m)^\.TH .*"rcptguard ([^"]+)"', open(page).read())
            self.assertIsNotNone(th, page)
            self.assertEqual(th.group(1), version_hpp(), page)


class BuildDepends(unittest.TestCase):
    def test_every_linked_library_comes_from_a_build_dependency(self):
        makefile = read("Makefile")
        libs = []
        for var in ("LIBS_UTIL", "LIBS_BACKENDS", "LIBS_CORE", "LIBS_MILTER"):
            m = re.search(r"(?m)^%s\s*:?=(.*)$" % var, makefile)
            self.assertIsNotNone(m, var)
            libs += re.findall(r"-l(\S+)", m.group(1))
        self.assertIn("milter", libs)
        control = read("debian", "control")
        m = re.search(r"(?ms)^Build-Depends:(.*?)^\S", control)
        build_depends = set(re.findall(r"^\s*([a-z0-9][a-z0-9+.-]+)", m.group(1).replace(",", "\n"), re.M))
        missing = []
        for lib in libs:
            path = ""
            for name in ("lib%s.so" % lib, "lib%s.a" % lib):
                out = subprocess.run(["g++", "-print-file-name=" + name], capture_output=True, text=True).stdout
                if os.path.isabs(out.strip()):
                    path = os.path.normpath(out.strip())
                    break
            self.assertTrue(path, "-l%s: the linker does not find lib%s" % (lib, lib))
            r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if r.returncode != 0 and path.startswith("/usr/lib/"):  # merged /usr: dpkg may know /lib/...
                r = subprocess.run(["dpkg", "-S", path[len("/usr"):]], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, "%s: %s" % (path, r.stderr))
            packages = {p.strip().split(":")[0] for p in r.stdout.split(":", 1)[0].split(",")}
            if not packages & build_depends:
                missing.append("-l%s (%s, from %s)" % (lib, path, ", ".join(sorted(packages))))
        self.assertEqual(missing, [], "add to Build-Depends in debian/control")


class MtaReferences(unittest.TestCase):
    def setUp(self):
        self.root = h.make_root("rcptguard-mta-refs-")

    def refs(self, conf, main_cf, sendmail_cf=""):
        for name, text in (("rcptguard.conf", conf), ("main.cf", main_cf), ("sendmail.cf", sendmail_cf)):
            with open(os.path.join(self.root, name), "w") as f:
                f.write(text)
        env = dict(os.environ, MAIL_CONFIG=self.root, SENDMAIL_CF=os.path.join(self.root, "sendmail.cf"))
        r = subprocess.run([os.path.join(h.SOURCE_DIR, "tools", "mta-references"),
                            os.path.join(self.root, "rcptguard.conf")], capture_output=True, text=True, env=env)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        self.assertEqual(r.returncode == 0, bool(r.stdout), r.stdout)
        return r.stdout.splitlines()

    def test_default_inet_socket_in_postfix_and_sendmail_notation(self):
        got = self.refs("domains = example.com\n",
                        "smtpd_milters = { inet:127.0.0.1:8894, default_action=tempfail }, inet:127.0.0.1:8891\n"
                        "non_smtpd_milters = inet:127.0.0.1:8891\n",
                        "O Foo=bar\nXrcptguard, S=inet:8894@127.0.0.1, F=T, T=R:10s\n"
                        "Xopendkim, S=inet:8891@127.0.0.1, F=T\n")
        self.assertEqual(got, ["main.cf: smtpd_milters = { inet:127.0.0.1:8894, default_action=tempfail }, "
                               "inet:127.0.0.1:8891",
                               "sendmail.cf: Xrcptguard, S=inet:8894@127.0.0.1, F=T, T=R:10s"])

    def test_unix_socket_below_postfix_chroot_and_the_policy_service(self):
        conf = ("socket = unix:/var/spool/postfix/rcptguard/rcptguard.sock\n"
                "policy_socket = inet:127.0.0.1:10040\n"
                "[backend users]\nsocket = inet:1@127.0.0.1\n")
        got = self.refs(conf, "smtpd_milters = unix:/rcptguard/rcptguard.sock\n"
                              "smtpd_recipient_restrictions = reject_unauth_destination,\n"
                              "    check_policy_service inet:127.0.0.1:10040\n")
        self.assertEqual(got, ["main.cf: smtpd_milters = unix:/rcptguard/rcptguard.sock",
                               "main.cf: smtpd_recipient_restrictions = reject_unauth_destination, "
                               "check_policy_service inet:127.0.0.1:10040"])

    def test_other_milters_and_ports_are_not_reported(self):
        got = self.refs("socket = inet:9000@127.0.0.1\n",
                        "smtpd_milters = inet:127.0.0.1:8894, unix:/opendkim/opendkim.sock\n"
                        "smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:9000\n",
                        "Xother, S=inet:8894@127.0.0.1, F=T\n")
        self.assertEqual(got, [])


if __name__ == "__main__":
    unittest.main()
