"""Integration-test harness: throwaway Postfix, slapd and rcptguard instances on
loopback, started and stopped by the tests themselves (no system services).

Recipes follow doc/testing.md. Everything a test starts is
registered for cleanup, so an aborted run leaves no daemons behind.
"""

import atexit
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.path.abspath(os.environ.get("RCPTGUARD_BUILD", os.path.join(SOURCE_DIR, "build", "release")))
SCHEMA = os.path.join(SOURCE_DIR, "etc", "schema.sql")
UNPRIVILEGED_USER = "nobody"

_cleanups = []


def binary(name):
    return os.path.join(BUILD_DIR, name)


def _run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # pragma: no cover - best effort at exit
            pass


atexit.register(_run_cleanups)


def on_cleanup(fn):
    _cleanups.append(fn)
    return fn


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def make_root(prefix="rcptguard-it-"):
    root = tempfile.mkdtemp(prefix=prefix)
    os.chmod(root, 0o755)  # postfix and nobody must traverse it
    on_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))
    return root


def make_sqlite_db(path, addresses):
    with open(SCHEMA) as f:
        # Also a sqlite3 shell script: its dot-commands are not SQL.
        schema = "".join(line for line in f if not line.startswith("."))
    con = sqlite3.connect(path)
    con.executescript(schema)
    con.executemany("INSERT INTO recipients(address) VALUES (?)", [(a,) for a in addresses])
    con.commit()
    con.close()
    os.chmod(path, 0o644)


def sqlite_cli(path, sql):
    """Changes the database the way an admin does: with the sqlite3 shell."""
    subprocess.run(["sqlite3", path, sql], check=True, capture_output=True)


class Rcptguard:
    """rcptguard -f with a config written by the test; stderr goes to a log file."""

    def __init__(self, root, config, name="rcptguard", binary_path=None):
        self.root = root
        self.name = name
        self.conf = os.path.join(root, name + ".conf")
        self.logfile = os.path.join(root, name + ".log")
        self.binary = binary_path or binary("rcptguard")
        self.proc = None
        self.write_config(config)

    def write_config(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, wait_port=None, wait_socket=None, prefix=()):
        """prefix: a command that execs rcptguard, e.g. ["prlimit", "--nofile=48", "--"]."""
        self._log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(list(prefix) + [self.binary, "-f", "-c", self.conf], stdout=self._log,
                                     stderr=self._log)
        on_cleanup(self.kill)
        if wait_port:
            wait_until(lambda: port_open(wait_port) or self.proc.poll() is not None, 15, "rcptguard to listen")
        if wait_socket:
            wait_until(lambda: os.path.exists(wait_socket) or self.proc.poll() is not None, 15,
                       "rcptguard socket")
        if self.proc.poll() is not None:
            raise AssertionError("rcptguard exited with %s:\n%s" % (self.proc.returncode, self.log()))
        wait_until(lambda: "starting rcptguard" in self.log(), 10, "rcptguard start-up line")
        return self

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10, after=0):
        rx = re.compile(pattern)
        wait_until(lambda: rx.search(self.log()[after:]) is not None, timeout, "log line /%s/" % pattern)

    def log_size(self):
        return len(self.log())

    def reload(self, config=None):
        """Rewrites the config (if given), sends SIGUSR1, waits for the outcome."""
        mark = self.log_size()
        if config is not None:
            self.write_config(config)
        self.proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: re.search(r"reload(: configuration| failed)", self.log()[mark:]), 10, "reload")
        return self.log()[mark:]

    def pid(self):
        return self.proc.pid

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_rcptguard(*args, timeout=30):
    return subprocess.run([binary("rcptguard")] + list(args), capture_output=True, text=True, timeout=timeout)


MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
local     unix - n n - - local
virtual   unix - n n - - virtual
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A throwaway Postfix with its own config, queue and data directories."""

    def __init__(self, root, port=None, main=None):
        self.root = os.path.join(root, "postfix")
        self.port = port or free_port()
        self.etc = os.path.join(self.root, "etc")
        self.logfile = os.path.join(self.root, "log", "maillog")
        for d in ("etc", "spool", "data", "log"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        os.chmod(self.root, 0o755)
        pf = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.root, "data"), pf.pw_uid, pf.pw_gid)
        self.settings = {
            "compatibility_level": "3.6",
            "queue_directory": os.path.join(self.root, "spool"),
            "data_directory": os.path.join(self.root, "data"),
            "command_directory": "/usr/sbin",
            "daemon_directory": "/usr/lib/postfix/sbin",
            "meta_directory": "/etc/postfix",
            "shlib_directory": "/usr/lib/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "maillog_file": self.logfile,
            "maillog_file_prefixes": os.path.join(self.root, "log"),
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "myhostname": "mx.example.test",
            "mydomain": "example.test",
            "myorigin": "mx.example.test",
            "mydestination": "mx.example.test",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            "disable_dns_lookups": "yes",
            # No PTR query for the client's address: it would go to the
            # machine's nameserver (off loopback) and wait on it before the
            # greeting. Clients are "unknown[ADDRESS]" in every test.
            "smtpd_peername_lookup": "no",
            "smtp_dns_support_level": "disabled",
            "smtpd_relay_restrictions": "reject_unauth_destination",
            "relay_domains": "example.test",
            "transport_maps": "inline:{ example.test=discard: }",
            "smtpd_error_sleep_time": "0s",
            "smtpd_soft_error_limit": "1000",
            "smtpd_hard_error_limit": "1000",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_connection_count_limit": "0",
            "milter_protocol": "6",
            "milter_default_action": "tempfail",
            "milter_command_timeout": "30s",
            "milter_connect_timeout": "10s",
            "milter_content_timeout": "60s",
            "biff": "no",
            "smtputf8_enable": "yes",
        }
        if main:
            self.settings.update(main)
        self.running = False

    def write(self):
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            for k, v in self.settings.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen="127.0.0.1:%d" % self.port))

    def _postfix(self, *args, check=True):
        r = subprocess.run(["postfix", "-c", self.etc] + list(args), capture_output=True, text=True)
        if check and r.returncode != 0:
            # Postfix prints fatal errors only to a terminal: ask again under script(1).
            again = subprocess.run(["script", "-qec", "postfix -c %s %s" % (self.etc, " ".join(args)), "/dev/null"],
                                   capture_output=True, text=True)
            raise AssertionError("postfix %s failed: %s %s %s" % (args, r.stdout, r.stderr, again.stdout))
        return r

    def start(self):
        self.write()
        self._postfix("check")
        self._postfix("start")
        self.running = True
        on_cleanup(self.stop)
        wait_until(lambda: port_open(self.port), 20, "postfix smtpd on port %d" % self.port)
        return self

    def reconfigure(self, **settings):
        self.settings.update(settings)
        self.write()
        if self.running:
            self._postfix("reload")
            time.sleep(1.0)  # reload is asynchronous; new smtpd processes pick it up

    def stop(self):
        if self.running:
            self._postfix("stop", check=False)
            self.running = False
            # master exits asynchronously
            pidfile = os.path.join(self.root, "spool", "pid", "master.pid")
            wait_until(lambda: not os.path.exists(pidfile) or not _pid_alive(pidfile), 15, "postfix to stop")

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def sendmail(self, sender, recipients, message):
        r = subprocess.run(["/usr/sbin/sendmail", "-C", self.etc, "-f", sender, "-i", "--"] + list(recipients),
                           input=message, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError("sendmail failed: %s %s" % (r.stdout, r.stderr))

    def flush(self):
        subprocess.run(["postqueue", "-c", self.etc, "-f"], capture_output=True)

    def queue_empty(self):
        r = subprocess.run(["postqueue", "-c", self.etc, "-p"], capture_output=True, text=True)
        return "Mail queue is empty" in r.stdout


def _pid_alive(pidfile):
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


class Smtp:
    """A real SMTP client session (Python's smtplib) with raw RCPT control."""

    def __init__(self, port, helo="client.test", timeout=60, source=None):
        # source: a loopback address such as 127.0.0.7, so that tests can play
        # different clients (the tarpit remembers clients by address).
        self.s = smtplib.SMTP("127.0.0.1", port, timeout=timeout,
                              source_address=(source, 0) if source else None)
        self.s.ehlo(helo)

    def mail(self, sender, smtputf8=False):
        # smtputf8: an RFC 6531 session ("MAIL FROM:<...> SMTPUTF8"); this and
        # the following commands go out in UTF-8.
        if smtputf8:
            self.s.command_encoding = "utf-8"
            code, msg = self.s.docmd("MAIL FROM:%s SMTPUTF8" % sender)
        else:
            code, msg = self.s.docmd("MAIL FROM:%s" % sender)
        return code, msg.decode(errors="replace")

    def rcpt(self, addr):
        code, msg = self.s.docmd("RCPT TO:%s" % addr)
        return code, msg.decode(errors="replace")

    def data(self, body):
        code, msg = self.s.data(body)
        return code, msg.decode(errors="replace")

    def rset(self):
        return self.s.rset()

    def close(self):
        try:
            self.s.quit()
        except Exception:
            try:
                self.s.close()
            except Exception:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def rcpt_verdict(port, addr, sender="<sender@client.test>", source=None):
    with Smtp(port, source=source) as c:
        code, _ = c.mail(sender)
        assert code == 250, "MAIL FROM refused: %s" % code
        return c.rcpt(addr)


def rcpt_verdict_milter_ok(port):
    """True if something speaking the milter protocol answers an option
    negotiation on 127.0.0.1:port (a minimal SMFIC_OPTNEG exchange)."""
    import struct
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        payload = b"O" + struct.pack("!III", 6, 0x1FF, 0x1FFFFF)
        s.sendall(struct.pack("!I", len(payload)) + payload)
        hdr = s.recv(4)
        if len(hdr) != 4:
            return False
        n = struct.unpack("!I", hdr)[0]
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return False
            body += chunk
        return body[:1] == b"O"


class SmtpSink:
    """A small SMTP server on loopback that accepts mail and keeps it, as the
    next hop for Postfix and Sendmail in tests: every message with its
    envelope. Recipients matching reject_rcpt (a regex) get 550 5.1.1, so the
    MTA in front must bounce them."""

    def __init__(self, port=None, reject_rcpt=None):
        import socketserver
        self.port = port or free_port()
        self.messages = []
        self.lock = threading.Lock()
        self.reject = re.compile(reject_rcpt) if reject_rcpt else None
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, text):
                self.wfile.write((text + "\r\n").encode())
                self.wfile.flush()

            def handle(self):
                self.reply("220 sink.test ESMTP test sink")
                mail_from, rcpts = None, []
                while True:
                    line = self.rfile.readline(100000)
                    if not line:
                        return
                    cmd = line.decode("latin-1").rstrip("\r\n")
                    verb = cmd[:4].upper()
                    if verb in ("EHLO",):
                        self.reply("250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250 PIPELINING")
                    elif verb == "HELO":
                        self.reply("250 sink.test")
                    elif verb == "MAIL":
                        mail_from, rcpts = re.search(r"<([^>]*)>", cmd).group(1), []
                        self.reply("250 2.1.0 Ok")
                    elif verb == "RCPT":
                        addr = re.search(r"<([^>]*)>", cmd).group(1)
                        if sink.reject and sink.reject.search(addr):
                            self.reply("550 5.1.1 <%s>: mailbox unavailable (test sink)" % addr)
                        else:
                            rcpts.append(addr)
                            self.reply("250 2.1.5 Ok")
                    elif verb == "DATA":
                        if not rcpts:
                            self.reply("554 5.5.1 No valid recipients")
                            continue
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        data = []
                        while True:
                            l = self.rfile.readline(1000000)
                            if not l or l in (b".\r\n", b".\n"):
                                break
                            data.append(l[1:] if l.startswith(b"..") else l)
                        with sink.lock:
                            sink.messages.append({"from": mail_from, "rcpts": list(rcpts), "data": b"".join(data)})
                        self.reply("250 2.0.0 Ok: stored")
                        mail_from, rcpts = None, []
                    elif verb == "RSET":
                        mail_from, rcpts = None, []
                        self.reply("250 2.0.0 Ok")
                    elif verb == "QUIT":
                        self.reply("221 2.0.0 Bye")
                        return
                    else:
                        self.reply("250 2.0.0 Ok")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        on_cleanup(self.stop)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def received(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, predicate, timeout=30, what="a message at the sink"):
        wait_until(lambda: any(predicate(m) for m in self.received()), timeout, what)
        return [m for m in self.received() if predicate(m)]


SENDMAIL_ROOT = os.path.join(BUILD_DIR, "..", "sendmail-root")


def sendmail_root():
    """Debian's sendmail-bin conflicts with postfix as an installed package, so
    the tests use it unpacked (tools/install-deps puts it in build/sendmail-root)."""
    path = os.path.abspath(SENDMAIL_ROOT)
    binary_path = os.path.join(path, "usr/libexec/sendmail/sendmail")
    if not os.path.exists(binary_path):
        r = subprocess.run([os.path.join(SOURCE_DIR, "tools", "install-deps")], capture_output=True, text=True)
        if not os.path.exists(binary_path):
            raise AssertionError("unpacked Sendmail missing at %s (tools/install-deps: %s %s)" %
                                 (path, r.stdout, r.stderr))
    return path


class Sendmail:
    """A throwaway Sendmail 8.17 daemon on loopback (unpacked, not installed),
    with rcptguard as INPUT_MAIL_FILTER and a mailertable routing test domains
    to an SmtpSink."""

    def __init__(self, root, milter_port, sink_port, routes=("example.test", "client.test"), privacy="authwarnings",
                 timeouts="C:10s;S:10s;R:10s;E:1m", flags="T"):
        self.smroot = sendmail_root()
        self.root = os.path.join(root, "sendmail")
        os.makedirs(os.path.join(self.root, "queue"), exist_ok=True)
        os.makedirs(os.path.join(self.root, "mqueue-client"), exist_ok=True)
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.sbin = os.path.join(self.smroot, "usr/libexec/sendmail")
        cfdir = os.path.join(self.smroot, "usr/share/sendmail/cf")
        with open(os.path.join(self.root, "aliases"), "w") as f:
            f.write("postmaster: root\n")
        with open(os.path.join(self.root, "mailertable"), "w") as f:
            for d in routes:
                f.write("%s esmtp:[127.0.0.1]\n" % d)
        mc = """\
divert(-1)
divert(0)dnl
include(`{cf}/m4/cf.m4')dnl
OSTYPE(`linux')dnl
define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit,GroupWritableDirPathSafe,GroupWritableAliasFile,GroupReadableKeyFile')dnl
define(`QUEUE_DIR', `{r}/queue')dnl
define(`confPID_FILE', `{r}/sendmail.pid')dnl
define(`STATUS_FILE', `{r}/statistics')dnl
define(`ALIAS_FILE', `{r}/aliases')dnl
define(`confHOST_STATUS_DIRECTORY', `')dnl
define(`confPRIVACY_FLAGS', `{privacy}')dnl
define(`confDELIVERY_MODE', `background')dnl
define(`confTO_IDENT', `0s')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confSERVICE_SWITCH_FILE', `{r}/service.switch')dnl
define(`confHOSTS_FILE', `/etc/hosts')dnl
define(`SMTP_MAILER_ARGS', `TCP $h {sink}')dnl
define(`ESMTP_MAILER_ARGS', `TCP $h {sink}')dnl
define(`confMILTER_LOG_LEVEL', `6')dnl
define(`confMILTER_MACROS_CONNECT', `j, _, {{daemon_name}}, {{client_addr}}')dnl
define(`confMILTER_MACROS_ENVFROM', `i, {{auth_authen}}')dnl
define(`confMILTER_MACROS_ENVRCPT', `{{rcpt_mailer}}, {{rcpt_host}}, {{rcpt_addr}}, i')dnl
FEATURE(`no_default_msa')dnl
FEATURE(`nouucp', `reject')dnl
FEATURE(`mailertable', `hash -o {r}/mailertable')dnl
FEATURE(`accept_unresolvable_domains')dnl
{relay}
DAEMON_OPTIONS(`Port={port}, Addr=127.0.0.1, Name=MTA')dnl
INPUT_MAIL_FILTER(`rcptguard', `S=inet:{mport}@127.0.0.1, F={flags}, T={timeouts}')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
""".format(cf=cfdir, r=self.root, privacy=privacy, sink=sink_port, port=self.port, mport=milter_port,
           timeouts=timeouts, flags=flags, relay="".join("RELAY_DOMAIN(`%s')dnl\n" % d for d in routes))
        with open(os.path.join(self.root, "service.switch"), "w") as f:
            f.write("hosts files\naliases files\n")
        mcpath = os.path.join(self.root, "sendmail.mc")
        with open(mcpath, "w") as f:
            f.write(mc)
        self.cf = os.path.join(self.root, "sendmail.cf")
        r = subprocess.run(["m4", mcpath], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("m4 failed: " + r.stderr)
        with open(self.cf, "w") as f:
            f.write(r.stdout)
        with open(os.path.join(self.root, "mailertable")) as mt:
            subprocess.run([os.path.join(self.sbin, "makemap"), "-C", self.cf, "hash",
                            os.path.join(self.root, "mailertable")], stdin=mt, check=True, capture_output=True)
        # (newaliases, in the same UTS namespace trick as start(): no 60s wait)
        subprocess.run(["unshare", "--uts", "sh", "-c", "hostname mx.example.test; exec %s -C %s -bi"
                        % (os.path.join(self.sbin, "sendmail"), self.cf)], check=True, capture_output=True)
        self.traffic = os.path.join(self.root, "traffic.log")
        self.proc = None

    def start(self):
        # An unqualified host name makes sendmail wait 60s at start: give it one
        # in a UTS namespace of its own.
        self.proc = subprocess.Popen(
            ["unshare", "--uts", "sh", "-c", "hostname mx.example.test; exec %s -C %s -bD -X %s -O LogLevel=14"
             % (os.path.join(self.sbin, "sendmail"), self.cf, self.traffic)],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.root, "stderr.log"), "w"))
        on_cleanup(self.stop)
        wait_until(lambda: port_open(self.port) or self.proc.poll() is not None, 30, "sendmail to listen")
        if self.proc.poll() is not None:
            raise AssertionError("sendmail exited: %s" % open(os.path.join(self.root, "stderr.log")).read())
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(self.traffic, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


# --- LDAP: a throwaway slapd and a test CA ------------------------------------

LDAP_TEST_SCHEMA = os.path.join(SOURCE_DIR, "tests", "ldap", "rcptguard-test.schema")


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL if the test process dies, so an
    aborted run leaves no daemon behind (prctl PR_SET_PDEATHSIG).

    Linux sends that signal when the *thread* that forked the child ends, not
    the process: start such a child only from the main thread (see
    _main_thread_only), or it dies with the helper thread that started it."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _main_thread_only(what):
    if threading.current_thread() is not threading.main_thread():
        raise AssertionError("start %s from the main thread: it is killed when the thread that started it ends "
                             "(PR_SET_PDEATHSIG)" % what)


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), r.stderr))


def _all_threads_stopped(pid):
    task_dir = "/proc/%d/task" % pid
    try:
        for tid in os.listdir(task_dir):
            with open(os.path.join(task_dir, tid, "stat")) as f:
                stat = f.read()
            if stat[stat.rindex(")") + 2] != "T":
                return False
    except (OSError, ValueError, IndexError):
        return False
    return True


class TestCA:
    """A throwaway certificate authority made with openssl: ca.pem, and
    server_cert(name) for 127.0.0.1/localhost signed by it."""

    def __init__(self, directory, name="ca"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.cert = os.path.join(directory, name + ".pem")
        self.key = os.path.join(directory, name + ".key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=rcptguard test CA %s" % name,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        os.chmod(self.cert, 0o644)

    def server_cert(self, name="server"):
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        cert = os.path.join(self.dir, name + ".pem")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n"
                    "basicConstraints = CA:FALSE\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                 "-out", csr, "-subj", "/CN=127.0.0.1")
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial",
                 "-out", cert, "-days", "2", "-extfile", ext)
        return cert, key


class Slapd:
    """A throwaway OpenLDAP server on 127.0.0.1 (see doc/testing.md):
    its own slapd.conf, mdb database and log; runs in the foreground ("-d 0") as
    our child. load() adds entries offline with slapadd, add() online with
    ldapadd. Optionally offers StartTLS with a certificate from a TestCA."""

    SUFFIX = "dc=example,dc=test"
    ROOT_DN = "cn=admin,dc=example,dc=test"
    ROOT_PW = "harness-root-secret"

    def __init__(self, root, name="slapd", tls=None, global_lines=None, acl=None, maxsize=64 << 20):
        """tls: (cert, key) to offer StartTLS. global_lines: more global
        slapd.conf lines (e.g. "security simple_bind=128"). acl: access lines
        of the database."""
        self.dir = os.path.join(root, name)
        self.db = os.path.join(self.dir, "db")
        os.makedirs(self.db)
        self.conf = os.path.join(self.dir, "slapd.conf")
        self.logfile = os.path.join(self.dir, "slapd.log")
        self.port = free_port()
        self.ldaps_port = free_port() if tls else None
        self.proc = None
        self.paused = False
        lines = ["include /etc/ldap/schema/%s.schema" % s for s in ("core", "cosine", "inetorgperson")]
        lines += ["include " + LDAP_TEST_SCHEMA,
                  "pidfile " + os.path.join(self.dir, "slapd.pid"),
                  "argsfile " + os.path.join(self.dir, "slapd.args"),
                  "modulepath /usr/lib/ldap", "moduleload back_mdb"]
        if tls:
            lines += ["TLSCertificateFile " + tls[0], "TLSCertificateKeyFile " + tls[1]]
        lines += global_lines or []
        lines += ["database mdb", "maxsize %d" % maxsize, "dbnosync",
                  'suffix "%s"' % self.SUFFIX, 'rootdn "%s"' % self.ROOT_DN, "rootpw " + self.ROOT_PW,
                  "directory " + self.db,
                  "index objectClass eq", "index mail eq", "index mailAlternateAddress eq",
                  "index proxyAddresses eq", "index userPrincipalName eq"]
        lines += acl or []
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def uri(self):
        return "ldap://127.0.0.1:%d/" % self.port

    @property
    def ldaps_uri(self):
        return "ldaps://127.0.0.1:%d/" % self.ldaps_port

    def load(self, ldif):
        """Adds entries offline (slapd must not be running), as admins bulk-load."""
        path = os.path.join(self.dir, "load.ldif")
        with open(path, "w") as f:
            f.write(ldif)
        r = subprocess.run(["slapadd", "-q", "-f", self.conf, "-l", path], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("slapadd failed: %s %s" % (r.stdout, r.stderr))

    def add(self, ldif):
        """Adds entries online, as the root DN."""
        r = subprocess.run(["ldapadd", "-x", "-H", self.uri, "-D", self.ROOT_DN, "-w", self.ROOT_PW],
                           input=ldif, capture_output=True, text=True, env=dict(os.environ, LDAPNOINIT="1"))
        if r.returncode != 0:
            raise AssertionError("ldapadd failed: %s %s" % (r.stdout, r.stderr))

    def start(self):
        _main_thread_only("slapd")
        log = open(self.logfile, "ab")
        listen = self.uri + (" " + self.ldaps_uri if self.ldaps_port else "")
        self.proc = subprocess.Popen(["/usr/sbin/slapd", "-d", "0", "-f", self.conf, "-h", listen],
                                     stdout=log, stderr=log, preexec_fn=_die_with_parent)
        log.close()
        on_cleanup(self.stop)
        wait_until(lambda: port_open(self.port) or self.proc.poll() is not None, 20, "slapd on port %d" % self.port)
        if self.proc.poll() is not None:
            with open(self.logfile, errors="replace") as f:
                raise AssertionError("slapd exited with %s:\n%s" % (self.proc.returncode, f.read()))
        return self

    def stop(self):
        """SIGINT, slapd's clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        """SIGKILL: the directory dies mid-run, connections are cut."""
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.kill()
            self.proc.wait()
        wait_until(lambda: not port_open(self.port), 10, "slapd port closed")

    def pause(self):
        """SIGSTOP: a hung server. The kernel still completes TCP handshakes."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True
            # The signal only queues the stop: a busy slapd thread may answer
            # one more request. Wait until every thread is stopped.
            wait_until(lambda: _all_threads_stopped(self.proc.pid), 10, "slapd to stop")

    def resume(self):
        if self.paused and self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False


# --- SQL servers: throwaway PostgreSQL 15 and MariaDB ---------------------------

def _as_user(name):
    """preexec_fn: become the service user, then die with the parent. The
    order matters: Linux clears PR_SET_PDEATHSIG when the credentials change
    (prctl(2)), so the death signal is set after setuid."""
    import ctypes
    pw = pwd.getpwnam(name)
    # Loaded before the fork: after setuid the interpreter's own files (under
    # /root) may no longer be readable.
    prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl

    def become():
        os.setgid(pw.pw_gid)
        os.setgroups([])
        os.setuid(pw.pw_uid)
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    return become


def _owned_dir(path, user):
    os.makedirs(path, exist_ok=True)
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o700)


def _children_of(pid):
    """The processes whose parent is pid (a postmaster's backends)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return out


def _stopped_or_gone(pid):
    """Every thread of pid stopped - or pid ended anyway (a backend whose
    client had just left is a zombie, never stopped)."""
    task_dir = "/proc/%d/task" % pid
    try:
        for tid in os.listdir(task_dir):
            with open(os.path.join(task_dir, tid, "stat")) as f:
                stat = f.read()
            if stat[stat.rindex(")") + 2] not in "TtZX":
                return False
    except FileNotFoundError:
        return True
    except (OSError, ValueError, IndexError):
        return False
    return True


class _SqlServer:
    """What PostgreSQL and MariaDB share: a foreground server process that is
    our child, killed (SIGKILL), frozen (SIGSTOP, waiting until every thread
    and every child process is really stopped) and thawed."""

    proc = None
    paused_pids = ()

    def _spawn(self, args, user):
        _main_thread_only(self.__class__.__name__)
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, preexec_fn=_as_user(user))
        log.close()
        on_cleanup(self.stop)

    def _pids(self):
        if not self.proc or self.proc.poll() is not None:
            return []
        return [self.proc.pid] + _children_of(self.proc.pid)

    def pause(self):
        """SIGSTOP the server and (PostgreSQL) every backend: a hung database.
        The kernel still completes TCP handshakes on its listening socket."""
        pids = self._pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        self.paused_pids = pids
        wait_until(lambda: all(_stopped_or_gone(p) for p in pids), 10, "%s to stop" % self.__class__.__name__)

    def resume(self):
        for pid in self.paused_pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.paused_pids = ()

    def kill(self):
        """SIGKILL the server and its children: connections are cut at once."""
        pids = self._pids()
        self.resume()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            self.proc.wait()
        wait_until(lambda: not port_open(self.port), 10, "%s port closed" % self.__class__.__name__)

    def running(self):
        return self.proc is not None and self.proc.poll() is None


class Postgres(_SqlServer):
    """A throwaway PostgreSQL 15 (see doc/testing.md): initdb into ROOT/NAME,
    the postmaster in the foreground as user postgres, on 127.0.0.1:PORT and a
    unix socket in its own directory. Password (scram-sha-256) logins over
    TCP; the admin side (psql()) uses the socket as the superuser."""

    BIN = "/usr/lib/postgresql/15/bin"

    def __init__(self, root, name="pg", tls=None, settings=None):
        """tls: (cert, key) to offer TLS. settings: more postgresql.conf lines."""
        self.dir = os.path.join(root, name)
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "postgres.log")
        _owned_dir(self.dir, "postgres")
        self.port = free_port()
        r = subprocess.run([os.path.join(self.BIN, "initdb"), "-D", self.data, "-U", "postgres", "-E", "UTF8",
                            "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions",
                            "--no-sync"], capture_output=True, text=True, preexec_fn=_as_user("postgres"))
        if r.returncode != 0:
            raise AssertionError("initdb failed: %s %s" % (r.stdout, r.stderr))
        lines = ["listen_addresses = '127.0.0.1'", "port = %d" % self.port,
                 "unix_socket_directories = '%s'" % self.dir, "fsync = off", "synchronous_commit = on",
                 "full_page_writes = off", "max_connections = 200", "shared_buffers = 32MB",
                 "log_min_messages = warning"]
        if tls:
            cert, key = (os.path.join(self.dir, "server.pem"), os.path.join(self.dir, "server.key"))
            shutil.copy(tls[0], cert)
            shutil.copy(tls[1], key)
            pw = pwd.getpwnam("postgres")
            for f in (cert, key):
                os.chown(f, pw.pw_uid, pw.pw_gid)
                os.chmod(f, 0o600)
            lines += ["ssl = on", "ssl_cert_file = '%s'" % cert, "ssl_key_file = '%s'" % key]
        lines += settings or []
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        self._spawn([os.path.join(self.BIN, "postgres"), "-D", self.data], "postgres")
        # The port opens before recovery ends: wait until a query works.
        wait_until(lambda: self.proc.poll() is not None or self._ready(), 30, "postgres on port %d" % self.port)
        if self.proc.poll() is not None:
            with open(self.logfile, errors="replace") as f:
                raise AssertionError("postgres exited with %s:\n%s" % (self.proc.returncode, f.read()))
        return self

    def _ready(self):
        r = subprocess.run([os.path.join(self.BIN, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                           capture_output=True)
        return r.returncode == 0

    def stop(self):
        """SIGINT: PostgreSQL's fast shutdown (backends are told to end)."""
        if self.running():
            self.resume()
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def psql(self, sql, db="postgres", check=True):
        """Runs SQL as the superuser over the socket, the way an admin does."""
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port),
                            "-U", "postgres", "-d", db, "-At", "-f", "-"], input=sql, capture_output=True, text=True,
                           env=dict(os.environ, PGCONNECT_TIMEOUT="10"), timeout=600)
        if check and r.returncode != 0:
            raise AssertionError("psql failed: %s %s" % (r.stdout, r.stderr))
        return r.stdout


class MariaDB(_SqlServer):
    """A throwaway MariaDB (see doc/testing.md): mariadb-install-db into
    ROOT/NAME, mariadbd --no-defaults in the foreground as user mysql, on
    127.0.0.1:PORT and a unix socket in its directory. The admin side
    (sql()) is root over the socket, without a password."""

    def __init__(self, root, name="mariadb", tls=None, options=None):
        self.dir = os.path.join(root, name)
        self.data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.logfile = os.path.join(self.dir, "mariadbd.log")
        _owned_dir(self.dir, "mysql")
        self.port = free_port()
        r = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + self.data,
                            "--auth-root-authentication-method=normal", "--skip-test-db",
                            "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"],
                           capture_output=True, text=True, preexec_fn=_as_user("mysql"), cwd=self.dir)
        if r.returncode != 0:
            raise AssertionError("mariadb-install-db failed: %s %s" % (r.stdout, r.stderr))
        self.args = ["mariadbd", "--no-defaults", "--datadir=" + self.data, "--socket=" + self.socket,
                     "--port=%d" % self.port, "--bind-address=127.0.0.1", "--skip-name-resolve",
                     "--pid-file=" + os.path.join(self.dir, "mariadbd.pid"), "--log-error=" + self.logfile,
                     "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=128M",
                     "--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0", "--skip-log-bin",
                     "--max-connections=300", "--local-infile=1"]
        if tls:
            copies = []
            for f, n in ((tls[0], "server.pem"), (tls[1], "server.key"), (tls[2], "ca.pem")):
                dst = os.path.join(self.dir, n)
                shutil.copy(f, dst)
                pw = pwd.getpwnam("mysql")
                os.chown(dst, pw.pw_uid, pw.pw_gid)
                os.chmod(dst, 0o600)
                copies.append(dst)
            self.args += ["--ssl-cert=" + copies[0], "--ssl-key=" + copies[1], "--ssl-ca=" + copies[2]]
        self.args += options or []

    def start(self):
        self._spawn(self.args, "mysql")
        wait_until(lambda: self.proc.poll() is not None or (port_open(self.port) and self._ready()), 60,
                   "mariadbd on port %d" % self.port)
        if self.proc.poll() is not None:
            with open(self.logfile, errors="replace") as f:
                raise AssertionError("mariadbd exited with %s:\n%s" % (self.proc.returncode, f.read()))
        return self

    def _ready(self):
        r = subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-u", "root", "-e", "SELECT 1"],
                           capture_output=True)
        return r.returncode == 0

    def stop(self):
        """SIGTERM: MariaDB's clean shutdown."""
        if self.running():
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()

    def sql(self, sql, db=None, check=True):
        """Runs SQL as root over the socket, the way an admin does."""
        args = ["mariadb", "--no-defaults", "--local-infile=1", "-S", self.socket, "-u", "root", "-N", "-B"]
        if db:
            args.append(db)
        r = subprocess.run(args, input=sql, capture_output=True, text=True, timeout=600)
        if check and r.returncode != 0:
            raise AssertionError("mariadb failed: %s %s" % (r.stdout, r.stderr))
        return r.stdout


# --- Redis: a throwaway redis-server ------------------------------------------

class Redis:
    """A throwaway redis-server on 127.0.0.1 (doc/testing.md): its own
    redis.conf, port and directory, no persistence, run in the foreground as
    our child. users: extra ACL lines, e.g. "user rcptguard on >pw ~* +@all".
    kill() (SIGKILL), pause()/resume() (SIGSTOP: a hung server whose kernel
    still accepts connections), start() again on the same port (empty: nothing
    is saved)."""

    def __init__(self, root, name="redis", users=()):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "redis.conf")
        self.logfile = os.path.join(self.dir, "redis.log")
        self.proc = None
        self.paused = False
        lines = ["port %d" % self.port, "bind 127.0.0.1", "protected-mode yes", "dir " + self.dir,
                 "daemonize no", 'save ""', "appendonly no", "databases 16", "loglevel notice",
                 "logfile " + self.logfile]
        lines += ["user default on nopass ~* &* +@all"] + list(users)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        _main_thread_only("redis-server")
        self.proc = subprocess.Popen(["redis-server", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        on_cleanup(self.kill)
        wait_until(lambda: self.cli_ok() or self.proc.poll() is not None, 20, "redis on port %d" % self.port)
        if self.proc.poll() is not None:
            with open(self.logfile, errors="replace") as f:
                raise AssertionError("redis-server exited with %s:\n%s" % (self.proc.returncode, f.read()))
        return self

    def cli(self, *args, check=True):
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "--no-raw"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=20)
        if check and r.returncode != 0:
            raise AssertionError("redis-cli %s failed: %s %s" % (args, r.stdout, r.stderr))
        return r.stdout

    def raw(self, *args):
        """redis-cli --raw: values one per line."""
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "--raw"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise AssertionError("redis-cli %s failed: %s %s" % (args, r.stdout, r.stderr))
        return r.stdout

    def cli_ok(self):
        try:
            return self.raw("PING").strip() == "PONG"
        except (AssertionError, subprocess.TimeoutExpired):
            return False

    def kill(self):
        """SIGKILL: the server dies, connections are cut, the data is gone."""
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.kill()
            self.proc.wait()
        wait_until(lambda: not port_open(self.port), 10, "redis port closed")

    def pause(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True
            wait_until(lambda: _all_threads_stopped(self.proc.pid), 10, "redis-server to stop")

    def resume(self):
        if self.paused and self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False


def rcptguard_ctl(config, *args, timeout=30):
    return subprocess.run([binary("rcptguard-ctl"), "-c", config] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout)
