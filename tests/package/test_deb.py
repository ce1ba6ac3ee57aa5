#!/usr/bin/env python3
"""The Debian package as an administrator meets it, on this machine (root; no
systemd needed - CI runs in a container whose PID 1 is not an init system).

    tests/package/test_deb.py [DEB_DIR]      (default build/deb; make check-deb)

One scenario, in order: install the .deb with apt-get, check the system user,
the conffile, the man pages, the examples, the stripped programs and that the
daemon was started in monitor mode; stop it and start it again through the
init script in enforce mode and ask it about two recipients over the milter
protocol; upgrade onto itself while it runs (conffile kept, daemon restarted),
with a broken configuration (not restarted, keeps answering) and while it is
stopped (stays stopped); remove it while Postfix's main.cf still names its
socket (a loud warning; configuration and data kept), install it again
(started), remove it again, purge it, and check that nothing of it is left
but the system user.

The machine is left as it was found, also when a check fails: rcptguard is
purged at the end, the system user removed again if this test created it,
and /usr/sbin/policy-rc.d restored. For the length of the test that file lets
invoke-rc.d act on rcptguard (and on nothing else): the maintainer scripts go
through invoke-rc.d, as Debian requires, and a container's policy-rc.d
usually forbids every service. The test refuses to start if rcptguard is
installed, configured or running already.

Standard library only. Ends with "package: N passed, N failed".
"""

import glob
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CONF = "/etc/rcptguard/rcptguard.conf"
DATA = "/var/lib/rcptguard"
RUN = "/run/rcptguard"
PIDFILE = RUN + "/rcptguard.pid"
INIT = "/etc/init.d/rcptguard"
POLICY = "/usr/sbin/policy-rc.d"
DEFAULT_PORT = 8894
# Where the package may leave traces, searched for names containing "rcptguard"
# before and after (the temporary directories of other test suites live in
# /tmp and are not searched).
TRACE_ROOTS = ["/etc", "/usr", "/var", "/run", "/opt", "/srv"]
TRACE_SKIP = {"/var/tmp", "/var/cache/apt/archives/partial"}

TEST_POLICY = """#!/bin/sh
# Written by rcptguard's tests/package/test_deb.py for the length of the test
# (the machine's own policy is restored afterwards): invoke-rc.d may act on
# rcptguard, on nothing else.
for a in "$@"; do
    case "$a" in
        --*) ;;
        rcptguard) exit 0 ;;
        *) exit 101 ;;
    esac
done
exit 101
"""

passed = 0
failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok      %s" % what, flush=True)
    else:
        failed += 1
        print("FAILED  %s%s" % (what, ("\n        " + str(detail).strip().replace("\n", "\n        ")) if detail else ""),
              flush=True)
    return ok


class Abort(Exception):
    """A step failed that later steps depend on."""


def require(what, ok, detail=""):
    if not check(what, ok, detail):
        raise Abort(what)


def run(*cmd, env=None, timeout=300):
    e = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8")
    if env:
        e.update(env)
    r = subprocess.run(list(cmd), capture_output=True, text=True, env=e, timeout=timeout)
    r.output = r.stdout + r.stderr
    return r


# A signal (a CI timeout, ^C) must not kill apt-get halfway: dpkg would leave
# the package half-configured and hold its lock. While apt-get runs, a signal
# only takes note; the test stops (and cleans up) when apt-get is done.
# Nor may one cut the clean-up short.
_in_apt = False
_cleaning = False
_signal_pending = None


def on_signal(signum, _frame):
    global _signal_pending
    if _in_apt or _cleaning:
        _signal_pending = signum
        return
    raise SystemExit(128 + signum)


def apt(*args, env=None):
    global _in_apt
    _in_apt = True
    try:
        # Waits for the dpkg lock rather than failing at once.
        return run("apt-get", "-y", "-q", "-o", "Dpkg::Use-Pty=0", "-o", "DPkg::Lock::Timeout=300", *args,
                   env=env, timeout=900)
    finally:
        _in_apt = False
        if _signal_pending is not None and not _cleaning:
            raise SystemExit(128 + _signal_pending)


def package_status():
    r = run("dpkg-query", "-W", "-f=${Status}", "rcptguard")
    return r.stdout.strip() if r.returncode == 0 else "unknown"


def version_hpp():
    text = open(os.path.join(SOURCE_DIR, "util", "version.hpp")).read()
    return re.search(r'#define RCPTGUARD_VERSION "([^"]+)"', text).group(1)


def traces():
    found = set()
    for root in TRACE_ROOTS:
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if os.path.join(dirpath, d) not in TRACE_SKIP]
            for name in dirs + files:
                if "rcptguard" in name:
                    found.add(os.path.join(dirpath, name))
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(pred, seconds):
    # Bounded: 10 polls a second for at most `seconds`.
    for _ in range(int(seconds * 10)):
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def daemon_pid():
    """The pid in the pid file if that process is alive, else None."""
    try:
        pid = int(open(PIDFILE).read().strip() or 0)
    except (OSError, ValueError):
        return None
    return pid if pid and pid_alive(pid) else None


def packaged_daemons():
    """Processes running /usr/sbin/rcptguard (also an old, replaced one)."""
    pids = []
    for p in glob.glob("/proc/[0-9]*"):
        try:
            exe = os.readlink(p + "/exe")
        except OSError:
            continue
        if exe in ("/usr/sbin/rcptguard", "/usr/sbin/rcptguard (deleted)"):
            pids.append(int(p[len("/proc/"):]))
    return pids


def process_uid(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


def elf_section_names(path):
    """Section names of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def header(i):
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
    strtab_off = header(shstrndx)[4]
    names = []
    for i in range(shnum):
        name_off = header(i)[0]
        end = data.index(b"\0", strtab_off + name_off)
        names.append(data[strtab_off + name_off:end].decode())
    return names


# --- a milter client (libmilter's protocol, as Postfix speaks it) ----------

SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL, SMFIP_NORCPT = 0x1, 0x2, 0x4, 0x8
SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000


class Milter:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.send(b"O", struct.pack("!III", 6, 0x1FF, 0x1FFFFF))
        code, data = self.reply()
        if code != b"O" or len(data) < 12:
            raise AssertionError("bad option negotiation reply %r" % code)
        _, _, self.steps = struct.unpack("!III", data[:12])

    def send(self, cmd, data):
        self.sock.sendall(struct.pack("!I", len(data) + 1) + cmd + data)

    def recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise AssertionError("the milter closed the connection")
            out += chunk
        return out

    def reply(self):
        while True:
            n, = struct.unpack("!I", self.recv_exact(4))
            body = self.recv_exact(n)
            if body[:1] != b"p":  # progress: keep waiting, as an MTA does
                return body[:1], body[1:]

    def step(self, skip, no_reply, cmd, data):
        if self.steps & skip:
            return "continue"
        self.send(cmd, data)
        if self.steps & no_reply:
            return "continue"
        code, text = self.reply()
        if code in (b"c", b"a"):
            return "continue"
        if code == b"y":
            return text.rstrip(b"\0").decode(errors="replace")
        return {b"r": "reject", b"t": "tempfail"}.get(code, "unexpected %r" % code)

    def rcpt_verdicts(self, recipients):
        """Connect, HELO, MAIL and one RCPT per recipient: each one's answer
        ("continue" or the reply text)."""
        connect = b"client.test\0" + b"4" + struct.pack("!H", 25) + b"192.0.2.7\0"
        self.step(SMFIP_NOCONNECT, SMFIP_NR_CONN, b"C", connect)
        self.step(SMFIP_NOHELO, SMFIP_NR_HELO, b"H", b"client.test\0")
        self.step(SMFIP_NOMAIL, SMFIP_NR_MAIL, b"M", b"<sender@client.test>\0")
        out = []
        for r in recipients:
            self.send(b"D", b"R{rcpt_mailer}\0smtp\0")
            out.append(self.step(SMFIP_NORCPT, SMFIP_NR_RCPT, b"R", ("<%s>\0" % r).encode()))
        self.send(b"Q", b"")
        self.sock.close()
        return out


def verdicts(port, recipients):
    try:
        return Milter(port).rcpt_verdicts(recipients)
    except (OSError, AssertionError) as e:
        return ["error: %s" % e]


# --- the scenario ------------------------------------------------------------

class State:
    user_existed = False
    group_existed = False
    policy = None  # (content, mode) of the machine's policy-rc.d, or None


def preflight(deb_dir):
    require("running as root", os.geteuid() == 0, "make check-deb installs a package: run it as root")
    arch = run("dpkg", "--print-architecture").stdout.strip()
    debs = sorted(glob.glob(os.path.join(deb_dir, "rcptguard_%s_%s.deb" % (version_hpp(), arch))))
    require("one package for version %s in %s" % (version_hpp(), deb_dir), len(debs) == 1,
            "found %s; build it with: make deb" % (debs or "none"))
    status = package_status()
    require("rcptguard is not installed before the test", "not-installed" in status or status == "unknown",
            "dpkg says '%s': remove it first (apt-get purge rcptguard)" % status)
    for path in ("/etc/rcptguard", DATA, RUN, INIT):
        require("%s does not exist before the test" % path, not os.path.lexists(path),
                "left over from an earlier installation? remove it first")
    require("no packaged rcptguard is running", packaged_daemons() == [], packaged_daemons())
    require("port %d is free" % DEFAULT_PORT, not port_open(DEFAULT_PORT),
            "the packaged configuration listens there")
    return os.path.abspath(debs[0])


def install_policy(state):
    if os.path.lexists(POLICY):
        st = os.lstat(POLICY)
        state.policy = (open(POLICY, "rb").read(), stat.S_IMODE(st.st_mode))
    tmp = POLICY + ".rcptguard-test"
    with open(tmp, "w") as f:
        f.write(TEST_POLICY)
    os.chmod(tmp, 0o755)
    os.replace(tmp, POLICY)


def restore_policy(state):
    if state.policy is None:
        if os.path.exists(POLICY) and "test_deb.py" in open(POLICY).read():
            os.unlink(POLICY)
        return
    content, mode = state.policy
    tmp = POLICY + ".rcptguard-test"
    with open(tmp, "wb") as f:
        f.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, POLICY)


def set_key(text, key, value):
    """Sets a key of the configuration's global section (before the first
    [section]): replaces its active line or adds one."""
    head, sep, tail = text.partition("\n[")
    line = "%s = %s" % (key, value)
    new, n = re.subn(r"(?m)^%s = .*$" % re.escape(key), line, head)
    if n == 0:
        new = head.rstrip("\n") + "\n" + line + "\n"
    return new + sep + tail


def scenario(deb, state, before):
    version = version_hpp()
    shipped = open(os.path.join(SOURCE_DIR, "etc", "rcptguard.conf")).read()
    # MAIL_CONFIG for everything apt runs: a main.cf of the test's own, so the
    # machine's Postfix configuration plays no part.
    postfix_dir = tempfile.mkdtemp(prefix="rcptguard-deb-postfix-")
    main_cf = os.path.join(postfix_dir, "main.cf")
    open(main_cf, "w").close()
    env = {"MAIL_CONFIG": postfix_dir}
    try:
        _scenario(deb, version, shipped, env, main_cf, before)
    finally:
        shutil.rmtree(postfix_dir, ignore_errors=True)


def _scenario(deb, version, shipped, env, main_cf, before):
    # -- install
    r = apt("install", deb, env=env)
    require("apt-get install ./%s" % os.path.basename(deb), r.returncode == 0, r.output)
    require("dpkg: installed", package_status() == "install ok installed", package_status())

    try:
        pw = pwd.getpwnam("rcptguard")
        check("system user rcptguard: uid below 1000, home %s, no login shell" % DATA,
              pw.pw_uid < 1000 and pw.pw_dir == DATA and pw.pw_shell.endswith("nologin"),
              (pw.pw_uid, pw.pw_dir, pw.pw_shell))
        check("its primary group is the rcptguard system group", grp.getgrgid(pw.pw_gid).gr_name == "rcptguard")
    except KeyError:
        require("system user rcptguard exists", False)

    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "rcptguard").stdout
    check("%s is a conffile" % CONF, re.search(r"^\s*%s\s" % re.escape(CONF), conffiles, re.M), conffiles)
    check("%s is a conffile" % INIT, re.search(r"^\s*%s\s" % re.escape(INIT), conffiles, re.M), conffiles)
    conf_text = open(CONF).read()
    check("the conffile is etc/rcptguard.conf as shipped", conf_text == shipped)
    check("the conffile starts in monitor mode", re.search(r"(?m)^mode = monitor$", conf_text))
    check("the conffile is not writable by others", os.stat(CONF).st_mode & 0o022 == 0)

    for page in (["rcptguard"], ["rcptguard-ctl"], ["5", "rcptguard.conf"]):
        r = run("man", "-w", *page)
        check("man -w %s" % " ".join(page), r.returncode == 0 and r.stdout.startswith("/usr/share/man/"), r.output)
    r = run("man", "-w", "rcptguard")
    check("rcptguard(8) is in section 8", r.stdout.strip() == "/usr/share/man/man8/rcptguard.8.gz", r.output)

    r = run("/usr/sbin/rcptguard", "-V")
    check("rcptguard -V prints %s" % version, r.returncode == 0 and r.stdout.strip() == "rcptguard " + version,
          r.output)
    r = run("/usr/sbin/rcptguard-ctl", "-V")
    check("rcptguard-ctl -V prints %s" % version, r.stdout.strip() == "rcptguard-ctl " + version, r.output)
    for prog in ("rcptguard", "rcptguard-ctl"):
        names = elf_section_names("/usr/sbin/" + prog) or []
        check("/usr/sbin/%s is stripped" % prog, names and ".symtab" not in names and ".debug_info" not in names,
              names)

    examples = "/usr/share/doc/rcptguard/examples"
    for name in ("postfix-main.cf.snippet", "sendmail.mc.snippet", "schema.sql"):
        check("%s/%s" % (examples, name), glob.glob("%s/%s*" % (examples, name)), os.listdir(examples)
              if os.path.isdir(examples) else "no " + examples)
    unit = "/lib/systemd/system/rcptguard.service"
    check("the systemd unit runs /usr/sbin/rcptguard with /etc's configuration",
          os.path.exists(unit) and "ExecStart=/usr/sbin/rcptguard -c %s" % CONF in open(unit).read())
    check("the init script is installed and executable", os.access(INIT, os.X_OK))
    check("update-rc.d enabled it in runlevel 2", glob.glob("/etc/rc2.d/S*rcptguard"))

    st = os.stat(DATA)
    check("%s belongs to rcptguard, mode 0750" % DATA,
          pwd.getpwuid(st.st_uid).pw_name == "rcptguard" and stat.S_IMODE(st.st_mode) == 0o750,
          (st.st_uid, oct(st.st_mode)))
    db = DATA + "/recipients.db"
    check("an empty recipient database was created for rcptguard",
          os.path.exists(db) and pwd.getpwuid(os.stat(db).st_uid).pw_name == "rcptguard")

    # -- running after the installation, as the rcptguard user, monitor mode
    require("the installation started the daemon", wait_for(lambda: daemon_pid() is not None, 10),
            r.output)
    pid = daemon_pid()
    check("it runs as user rcptguard", process_uid(pid) == pwd.getpwnam("rcptguard").pw_uid)
    check("init script status: running", run(INIT, "status").returncode == 0)
    require("it listens on 127.0.0.1:%d" % DEFAULT_PORT, wait_for(lambda: port_open(DEFAULT_PORT), 10))
    got = verdicts(DEFAULT_PORT, ["nosuchuser@example.com"])
    check("monitor mode: an unknown recipient is accepted (only logged)", got == ["continue"], got)

    # -- stop and start through the init script, in enforce mode
    r = run(INIT, "stop")
    check("init script stop", r.returncode == 0, r.output)
    check("the daemon is gone", wait_for(lambda: not pid_alive(pid), 10))
    check("its pid file is gone", not os.path.exists(PIDFILE))
    check("init script status: not running (3)", run(INIT, "status").returncode == 3)

    port = free_port()
    text = set_key(set_key(conf_text, "mode", "enforce"), "socket", "inet:%d@127.0.0.1" % port)
    text += "# changed by the administrator (test_deb.py)\n"
    with open(CONF, "w") as f:
        f.write(text)
    r = run("rcptguard-ctl", "add", "alice@example.com")
    check("rcptguard-ctl add alice@example.com", r.returncode == 0, r.output)
    r = run(INIT, "start")
    require("init script start", r.returncode == 0 and wait_for(lambda: port_open(port), 10), r.output)
    pid = daemon_pid()
    check("init script status: running", run(INIT, "status").returncode == 0)
    got = verdicts(port, ["alice@example.com", "nosuchuser@example.com"])
    check("enforce mode: alice accepted, nosuchuser gets 550 5.1.1",
          len(got) == 2 and got[0] == "continue" and got[1].startswith("550 5.1.1"), got)
    r = run(INIT, "start")
    check("init script start while running: no second daemon", r.returncode == 0 and daemon_pid() == pid, r.output)
    r = run(INIT, "reload")
    check("init script reload", r.returncode == 0 and daemon_pid() == pid, r.output)

    # -- upgrade onto itself while running: conffile kept, daemon restarted
    r = apt("install", "--reinstall", deb, env=env)
    require("apt-get install --reinstall (upgrade onto itself)", r.returncode == 0, r.output)
    check("the changed conffile is kept", open(CONF).read() == text)
    check("the daemon was restarted",
          wait_for(lambda: daemon_pid() not in (None, pid), 10) and not pid_alive(pid), (pid, daemon_pid()))
    pid = daemon_pid()
    got = verdicts(port, ["nosuchuser@example.com"]) if wait_for(lambda: port_open(port), 10) else ["not listening"]
    check("the restarted daemon uses the kept configuration", got and got[0].startswith("550 5.1.1"), got)

    # -- upgrade with a configuration that does not pass rcptguard -n
    with open(CONF, "w") as f:
        f.write(text + "no_such_key = 1\n")
    r = apt("install", "--reinstall", deb, env=env)
    check("upgrade with a broken configuration succeeds", r.returncode == 0, r.output)
    check("... says loudly that the daemon was not restarted", "was NOT restarted" in r.output, r.output)
    check("... and the old daemon keeps running", daemon_pid() == pid, (pid, daemon_pid()))
    got = verdicts(port, ["nosuchuser@example.com"])
    check("... and answering", got and got[0].startswith("550 5.1.1"), got)
    with open(CONF, "w") as f:
        f.write(text)

    # -- upgrade while stopped: stays stopped
    run(INIT, "stop")
    require("stopped before the next upgrade", wait_for(lambda: not pid_alive(pid), 10))
    r = apt("install", "--reinstall", deb, env=env)
    check("upgrade while stopped succeeds", r.returncode == 0, r.output)
    check("... and does not start it", daemon_pid() is None and not port_open(port), daemon_pid())

    # -- remove while Postfix still uses it: a loud warning; config and data kept
    r = run(INIT, "start")
    require("started again before removal", r.returncode == 0 and wait_for(lambda: port_open(port), 10), r.output)
    pid = daemon_pid()
    with open(main_cf, "w") as f:
        f.write("smtpd_milters = inet:127.0.0.1:%d\nmilter_default_action = tempfail\n" % port)
    r = apt("remove", "rcptguard", env=env)
    require("apt-get remove rcptguard", r.returncode == 0, r.output)
    check("remove warns that main.cf still names rcptguard's socket",
          "WARNING: your MTA still sends mail through rcptguard" in r.output
          and "smtpd_milters = inet:127.0.0.1:%d" % port in r.output, r.output)
    check("dpkg: configuration files only", package_status() == "deinstall ok config-files", package_status())
    check("remove stopped the daemon", wait_for(lambda: not pid_alive(pid), 10))
    check("no pid file or %s left" % RUN, not os.path.exists(RUN))
    check("the programs are gone", not os.path.exists("/usr/sbin/rcptguard"))
    check("remove kept the configuration", os.path.exists(CONF) and open(CONF).read() == text)
    check("remove kept the recipient database", os.path.exists(db))

    # -- installing it again starts it with the kept configuration
    open(main_cf, "w").close()
    r = apt("install", deb, env=env)
    require("apt-get install after remove", r.returncode == 0, r.output)
    check("... started it again", wait_for(lambda: daemon_pid() is not None and port_open(port), 10), r.output)
    got = verdicts(port, ["alice@example.com", "nosuchuser@example.com"])
    check("... with the kept configuration and database",
          len(got) == 2 and got[0] == "continue" and got[1].startswith("550 5.1.1"), got)
    pid = daemon_pid()
    r = apt("remove", "rcptguard", env=env)
    check("a second remove, main.cf without rcptguard: no warning",
          r.returncode == 0 and "WARNING" not in r.output, r.output)
    check("... and the daemon stopped", wait_for(lambda: not pid_alive(pid), 10))

    # -- purge: nothing left but the system user
    r = apt("purge", "rcptguard", env=env)
    require("apt-get purge rcptguard", r.returncode == 0, r.output)
    check("dpkg: not installed", "not-installed" in package_status() or package_status() == "unknown",
          package_status())
    for path in ("/etc/rcptguard", DATA, RUN, INIT, "/usr/share/doc/rcptguard", "/usr/libexec/rcptguard",
                 "/run/rcptguard.dpkg-install"):
        check("purge removed %s" % path, not os.path.lexists(path))
    left = sorted(traces() - before)
    check("nothing named rcptguard is left under %s" % " ".join(TRACE_ROOTS), left == [], "\n".join(left))
    check("no packaged daemon is running", packaged_daemons() == [], packaged_daemons())
    check("the rcptguard system user stays (Debian's advice for system users)", user_exists("rcptguard"))


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def package_present():
    status = package_status()
    return not ("not-installed" in status or status == "unknown")


def purge_package():
    """Purges rcptguard from whatever state it is in; True if it is gone."""
    for _ in range(3):
        if not package_present():
            return True
        if os.access(INIT, os.X_OK) and os.path.exists("/usr/sbin/rcptguard"):
            run(INIT, "stop")
        r = apt("purge", "rcptguard")
        if r.returncode == 0:
            continue
        print(r.output, flush=True)
        if "dpkg --configure -a" in r.output:  # dpkg itself was interrupted
            run("dpkg", "--configure", "-a", timeout=900)
        else:
            run("dpkg", "--purge", "--force-all", "rcptguard", timeout=900)
    return not package_present()


def cleanup(state, before):
    """Back to the machine as it was: whatever the scenario reached. If the
    package cannot be purged, the rest is left as it is (removing its user or
    files under it would only make things worse) and the checks say so."""
    global _cleaning
    _cleaning = True
    gone = purge_package()
    for pid in packaged_daemons():
        os.kill(pid, signal.SIGKILL)
    if gone:
        for path in ("/etc/rcptguard", DATA, RUN, "/run/rcptguard.dpkg-install"):
            if os.path.lexists(path) and path not in before:
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
    restore_policy(state)
    if gone and not state.user_existed and user_exists("rcptguard"):
        run("userdel", "rcptguard")
    if gone and not state.group_existed and group_exists("rcptguard"):
        run("groupdel", "rcptguard")


def main():
    deb_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SOURCE_DIR, "build", "deb")
    # A CI timeout or a closed terminal still cleans up.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    state = State()
    before = set()
    started = False
    try:
        deb = preflight(deb_dir)
        state.user_existed = user_exists("rcptguard")
        state.group_existed = group_exists("rcptguard")
        before = traces()
        started = True
        install_policy(state)
        scenario(deb, state, before)
    except Abort:
        pass
    except SystemExit as e:
        check("not stopped by a signal", False, "stopped (exit status %s); cleaning up" % e.code)
    except Exception as e:  # report it as a failure, then clean up
        check("no unexpected error", False, "%s: %s" % (type(e).__name__, e))
    finally:
        if started:
            cleanup(state, before)
            check("the machine is as it was: rcptguard not installed", not package_present(),
                  "dpkg says '%s'; remove it with: dpkg --purge rcptguard" % package_status())
            check("the machine is as it was: nothing named rcptguard added", sorted(traces() - before) == [],
                  sorted(traces() - before))
            check("the machine is as it was: the system user %s" %
                  ("kept (it existed before)" if state.user_existed else "removed again"),
                  user_exists("rcptguard") == state.user_existed)
            check("the machine is as it was: policy-rc.d restored",
                  (not os.path.exists(POLICY)) if state.policy is None
                  else open(POLICY, "rb").read() == state.policy[0])
    print("package: %d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 and passed > 0 else 1)


if __name__ == "__main__":
    main()
