"""Fault injection under load, through a real Postfix: nothing lost, nothing
wrongly rejected.

A scripted client sends messages (each with a unique id) to a mix of valid
recipients (in SQLite, in LDAP, in PostgreSQL) and unknown ones, and retries
4xx replies as a real MTA would. Meanwhile rcptguard is killed with SIGKILL and
restarted, sent SIGUSR1 with good and with broken configurations, its SQLite
database is rewritten with the sqlite3 shell, the LDAP server is stopped,
started and frozen (SIGSTOP), and so is the PostgreSQL server (the postmaster
and every backend). Afterwards the messages that reached the sink are counted:
every valid recipient got its message exactly once, none a 5xx; no unknown
recipient got anything.

make check runs a short version; make soak a longer one
(RCPTGUARD_SOAK_SECONDS, bounded)."""

import os
import pwd
import random
import re
import smtplib
import sqlite3
import subprocess
import threading
import time
import traceback
import unittest

import harness as h

SQL_USERS = ["v%d@example.test" % i for i in range(40)]
LDAP_USERS = ["l%d@example.test" % i for i in range(40)]
PG_USERS = ["p%d@example.test" % i for i in range(40)]
PG_PASSWORD = "fault-Pa55"

LDIF_HEAD = """\
dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
dc: example
o: fault tests

dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people
"""


def ldif():
    out = [LDIF_HEAD]
    for a in LDAP_USERS:
        uid = a.split("@")[0]
        out.append("dn: uid=%s,ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n"
                   "mail: %s\n" % (uid, uid, uid, uid, a))
    return "\n".join(out)


class Message:
    def __init__(self, n, rng):
        self.id = "fault-%05d" % n
        picks = (rng.sample(SQL_USERS, rng.randint(0, 2)) + rng.sample(LDAP_USERS, rng.randint(0, 2)) +
                 rng.sample(PG_USERS, rng.randint(0, 1)))
        unknown = ["nx%d-%d@example.test" % (n, i) for i in range(rng.randint(0, 2))]
        if not picks and not unknown:
            picks = [rng.choice(SQL_USERS)]
        self.valid = set(picks)
        self.unknown = set(unknown)
        self.pending = list(self.valid | self.unknown)
        self.accepted = set()       # valid recipients whose DATA got 250
        self.rejected = set()       # unknown recipients refused with 5xx
        self.wrong_5xx = []         # valid recipients refused with 5xx: must stay empty
        self.unknown_accepted = []  # unknown recipients whose message was accepted: must stay empty
        self.tempfails = 0
        self.errors = []
        self.trace = []             # what each attempt saw, printed if the message never finishes

    def done(self):
        return not self.pending

    def note(self, what):
        self.trace.append("%.1f %s" % (time.monotonic(), what))
        del self.trace[:-12]

    def attempt(self, port):
        try:
            with h.Smtp(port, timeout=60) as c:
                code, text = c.mail("<sender@client.test>")
                self.note("MAIL %d %s" % (code, text))
                if code != 250:
                    self.tempfails += code // 100 == 4
                    if code // 100 == 5:
                        self.errors.append("MAIL: %d %s" % (code, text))
                    return
                ok = []
                for r in list(self.pending):
                    code, text = c.rcpt("<%s>" % r)
                    self.note("RCPT %s %d %s" % (r, code, text))
                    if code == 250:
                        ok.append(r)
                    elif code // 100 == 4:
                        self.tempfails += 1
                    elif code // 100 == 5:
                        self.pending.remove(r)
                        if r in self.valid:
                            self.wrong_5xx.append("%s: %d %s" % (r, code, text))
                        else:
                            self.rejected.add(r)
                if not ok:
                    return
                body = "X-Test-Id: %s\r\nMessage-ID: <%s@client.test>\r\nSubject: fault test\r\n\r\nbody of %s\r\n" % (
                    self.id, self.id, self.id)
                code, text = c.data(body)
                self.note("DATA %d %s" % (code, text))
                if code == 250:
                    for r in ok:
                        self.pending.remove(r)
                        if r in self.valid:
                            self.accepted.add(r)
                        else:
                            self.unknown_accepted.append(r)
                elif code // 100 == 4:
                    self.tempfails += 1
                else:
                    self.errors.append("DATA: %d %s" % (code, text))
        except (smtplib.SMTPException, OSError) as e:
            self.note("dropped: %r" % e)
            self.tempfails += 1  # connection dropped (e.g. 421): the client retries, as an MTA does


class Faults:
    def __init__(self, test):
        self.t = test
        self.counts = {}
        self.errors = []

    def bump(self, name):
        self.counts[name] = self.counts.get(name, 0) + 1

    def run(self, seconds):
        steps = [self.kill_restart, self.reload_good, self.reload_broken, self.rewrite_db, self.ldap_stop_start,
                 self.ldap_freeze, self.pg_kill_start, self.pg_freeze]
        deadline = time.monotonic() + seconds
        i = 0
        try:
            while time.monotonic() < deadline:
                steps[i % len(steps)]()
                i += 1
                time.sleep(0.7)
        except Exception as e:  # a broken harness must fail the test, not hang it
            self.errors.append(repr(e))

    def kill_restart(self):
        self.t.rg.kill()
        time.sleep(0.5)
        self.t.rg = h.Rcptguard(self.t.root, self.t.config, name="rg-%d" % self.counts.get("kill", 0))
        self.t.rg.start(wait_port=self.t.port)
        self.bump("kill")

    def reload_good(self):
        self.t.rg.reload(self.t.config)
        self.bump("reload-good")

    def reload_broken(self):
        out = self.t.rg.reload(self.t.config + "\nthis_key_does_not_exist = 1\n")
        if "reload failed" not in out:
            self.errors.append("broken reload not refused: " + out)
        self.t.rg.write_config(self.t.config)
        self.bump("reload-broken")

    def rewrite_db(self):
        kind = self.counts.get("db-rewrite", 0) % 3
        if kind == 0:    # every row deleted and inserted again, in one transaction
            values = ",".join("('%s')" % u for u in SQL_USERS)
            h.sqlite_cli(self.t.db, "BEGIN; DELETE FROM recipients; INSERT INTO recipients VALUES %s; COMMIT;" % values)
        elif kind == 1:  # unrelated rows come and go
            h.sqlite_cli(self.t.db, "INSERT INTO recipients VALUES ('junk%d@example.test')" % time.time_ns())
            h.sqlite_cli(self.t.db, "DELETE FROM recipients WHERE address LIKE 'junk%'")
        else:
            h.sqlite_cli(self.t.db, "VACUUM")
        self.bump("db-rewrite")

    def ldap_stop_start(self):
        self.t.slapd.kill()
        time.sleep(1.0)
        self.t.slapd.start()
        self.bump("ldap-kill-start")

    def ldap_freeze(self):
        self.t.slapd.pause()
        time.sleep(1.5)
        self.t.slapd.resume()
        self.bump("ldap-sigstop")

    def pg_kill_start(self):
        self.t.pg.kill()
        time.sleep(1.0)
        self.t.pg.start()
        self.bump("pgsql-kill-start")

    def pg_freeze(self):
        self.t.pg.pause()
        time.sleep(1.5)
        self.t.pg.resume()
        self.bump("pgsql-sigstop")


class FaultInjection(unittest.TestCase):
    def setUp(self):
        self.root = h.make_root()
        dbdir = os.path.join(self.root, "db")
        os.makedirs(dbdir)
        os.chmod(dbdir, 0o777)
        self.db = os.path.join(dbdir, "r.db")
        h.make_sqlite_db(self.db, SQL_USERS)
        self.slapd = h.Slapd(self.root)
        self.slapd.load(ldif())
        self.slapd.start()
        self.pg = h.Postgres(self.root).start()
        self.pg.psql("CREATE ROLE rcptguard LOGIN PASSWORD '%s'; CREATE DATABASE mail;" % PG_PASSWORD)
        self.pg.psql("CREATE TABLE mailbox (username text PRIMARY KEY, active boolean NOT NULL);"
                     "INSERT INTO mailbox VALUES %s; GRANT SELECT ON mailbox TO rcptguard;"
                     % ",".join("('%s', true)" % u for u in PG_USERS), db="mail")
        pgpass = os.path.join(self.root, "pg-password")
        with open(pgpass, "w") as f:
            f.write(PG_PASSWORD + "\n")
        os.chown(pgpass, 0, pwd.getpwnam(h.UNPRIVILEGED_USER).pw_gid)
        os.chmod(pgpass, 0o640)
        self.port = h.free_port()
        self.config = """\
socket = inet:{port}@127.0.0.1
user = nobody
pid_file = {root}/rcptguard.pid
trusted_networks = 127.0.0.0/8
cache_negative_ttl = 5s
domains = example.test
backends = users directory pf
[backend users]
type = sqlite
path = {db}
[backend directory]
type = ldap
uri = {uri}
base = ou=people,dc=example,dc=test
filter = (mail=%s)
connect_timeout = 1s
search_timeout = 1s
[backend pf]
type = pgsql
hosts = 127.0.0.1:{pg_port}
dbname = mail
user = rcptguard
password_file = {pgpass}
tls = off
query = SELECT 1 FROM mailbox WHERE username = %s AND active
connect_timeout = 1s
query_timeout = 1s
""".format(port=self.port, root=self.root, db=self.db, uri=self.slapd.uri, pg_port=self.pg.port, pgpass=pgpass)
        self.rg = h.Rcptguard(self.root, self.config).start(wait_port=self.port)
        self.sink = h.SmtpSink()
        self.pf = h.Postfix(self.root, main={
            "transport_maps": "inline:{ example.test=smtp:[127.0.0.1]:%d }" % self.sink.port,
            "smtpd_milters": "inet:127.0.0.1:%d" % self.port,
            "milter_command_timeout": "10s",
            "smtp_connect_timeout": "5s",
            "queue_run_delay": "2s", "minimal_backoff_time": "2s", "maximal_backoff_time": "4s",
        }).start()

    def tearDown(self):
        self.pf.stop()
        self.rg.kill()
        self.slapd.stop()
        self.pg.stop()

    def test_no_mail_lost_no_wrong_rejection_under_faults(self):
        seconds = int(os.environ.get("RCPTGUARD_SOAK_SECONDS", "40"))
        seconds = max(10, min(seconds, 3600))  # bounded, also for soak runs
        rng = random.Random(int(os.environ.get("RCPTGUARD_FAULT_SEED", "20261127")))
        faults = Faults(self)
        # The faults run in this (the main) thread: slapd and postgres, which
        # they restart, die with the thread that started them (see
        # harness._die_with_parent).
        faulting = threading.Event()
        faulting.set()

        # New messages keep coming for as long as the faults do; then the
        # senders only retry what is still pending, as a queue would.
        messages, queue = [], []
        lock = threading.Lock()
        give_up = time.monotonic() + seconds + 180

        def next_message():
            with lock:
                todo = [m for m in queue if not m.done()]
                if todo and (todo[0].tempfails or not faulting.is_set()):
                    m = todo[0]
                    queue.remove(m)
                    return m
                if faulting.is_set():
                    m = Message(len(messages), rng)
                    messages.append(m)
                    return m
                return None  # the faults are over and nothing is pending

        sender_errors = []

        def sender():
            while time.monotonic() < give_up:
                m = next_message()
                if m is None:
                    return
                try:
                    m.attempt(self.pf.port)
                except Exception:  # a bug in this script: fail the test with it, do not strand the message
                    sender_errors.append("%s: %s" % (m.id, traceback.format_exc()))
                with lock:
                    if not m.done() and m not in queue:
                        queue.append(m)
                time.sleep(0.05 if m.done() else 0.3)

        senders = [threading.Thread(target=sender) for _ in range(4)]
        for t in senders:
            t.start()
        try:
            faults.run(seconds)
        finally:
            faulting.clear()
            for t in senders:
                t.join()
        self.assertEqual(faults.errors, [])
        # What the faults broke, they mended: the retries above needed it.
        self.assertIsNone(self.slapd.proc.poll(), "slapd died during the run")
        self.assertTrue(self.pg.running(), "postgres died during the run")
        self.assertIsNone(self.rg.proc.poll(), "rcptguard died during the run")
        self.assertEqual(sender_errors, [])
        h.wait_until(self.pf.queue_empty, 120, "Postfix to deliver everything to the sink")

        delivered = {}
        for m in self.sink.received():
            mid = re.search(rb"X-Test-Id: (\S+)", m["data"]).group(1).decode()
            for r in m["rcpts"]:
                delivered[(mid, r)] = delivered.get((mid, r), 0) + 1
        sent = len(messages)
        valid = sum(len(m.valid) for m in messages)
        unknown = sum(len(m.unknown) for m in messages)
        lost = [(m.id, r) for m in messages for r in m.valid if delivered.get((m.id, r), 0) == 0]
        duplicated = [k for k, n in delivered.items() if n > 1]
        wrong_5xx = [w for m in messages for w in m.wrong_5xx]
        unknown_delivered = [k for k in delivered if k[1].startswith("nx")]
        unfinished = [m.id for m in messages if not m.done()]
        after_4xx = sum(1 for m in messages if m.tempfails and m.accepted)
        print("\nfaults: %d messages sent, %d valid and %d unknown recipients; delivered %d, of which "
              "tempfailed-then-delivered messages %d; lost %d; duplicated %d; wrong 5xx %d; unknown delivered %d; "
              "unfinished %d; faults injected: %s" % (
                  sent, valid, unknown, len(delivered), after_4xx, len(lost), len(duplicated), len(wrong_5xx),
                  len(unknown_delivered), len(unfinished), ", ".join("%s %d" % kv for kv in sorted(faults.counts.items()))))
        self.assertEqual(wrong_5xx, [])
        self.assertEqual(unknown_delivered, [])
        self.assertEqual([e for m in messages for e in m.errors], [])
        for m in messages:
            if not m.done():
                print("unfinished %s (senders %s): pending %s, %d tempfails, last attempts (now %.1f):\n  %s" % (
                    m.id, "ran out of time" if time.monotonic() >= give_up else "stopped", sorted(m.pending),
                    m.tempfails, time.monotonic(), "\n  ".join(m.trace)))
        if unfinished:
            print("rcptguard log, last lines:\n" + "\n".join(self.rg.log().splitlines()[-25:]))
        self.assertEqual(unfinished, [])
        self.assertEqual(lost, [])
        self.assertEqual(duplicated, [])
        self.assertEqual(sum(len(m.rejected) for m in messages), unknown)  # every unknown one got a 5xx in the end
        self.assertGreaterEqual(min(faults.counts.values()), 1)
        self.assertGreater(after_4xx, 0)  # the faults really bit


if __name__ == "__main__":
    unittest.main()
