"""The documentation's recipes, run as written.

- The sqlite3 recipes of rcptguard-ctl(8) ("THE SAME WITH SQLITE3"),
  rcptguard.conf(5) ("SQLite backend") and the header of etc/schema.sql,
  taken from the files themselves and run with bash against a temporary
  database: the schema loads without printing anything (no stray "wal"), the
  database is in WAL mode, and the import of the shipped users.txt stores
  exactly its addresses, none of its comment lines.
- Wherever the documentation tells Postfix to use rcptguard's unix socket for
  smtpd_milters, it gives non_smtpd_milters the same socket (cleanup is
  chrooted too; an inet: address there defers all local mail and bounces).

Only the paths are replaced (the database, and the installed share directory
by the source tree's etc/). Starts nothing but bash and sqlite3.
"""

import os
import re
import shutil
import sqlite3
import subprocess
import unittest

import harness as h

SRC = h.SOURCE_DIR
SHARE = "/usr/local/share/rcptguard/"
DB = "/var/lib/rcptguard/recipients.db"


def roff_to_text(line):
    """The few roff escapes the recipe blocks use."""
    for esc, text in (("\\e", "\\"), ("\\-", "-"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\~", " ")):
        line = line.replace(esc, text)
    return line


def man_blocks(page, section_regex):
    """The .nf ... .fi blocks of the man page section whose title matches."""
    lines = open(os.path.join(SRC, "man", page)).read().splitlines()
    blocks, inside, current, in_section = [], False, [], False
    for line in lines:
        if line.startswith(".SH") or line.startswith(".SS"):
            in_section = re.search(section_regex, line) is not None
            continue
        if not in_section:
            continue
        if line.startswith(".nf"):
            inside, current = True, []
        elif line.startswith(".fi"):
            inside = False
            blocks.append([roff_to_text(l) for l in current])
        elif inside:
            current.append(line)
    return blocks


def commands(lines):
    """Shell commands, with continuation lines (a trailing backslash or pipe) joined."""
    out, cur = [], ""
    for line in lines:
        cur += line + "\n"
        if not (line.endswith("\\") or line.rstrip().endswith("|")):
            out.append(cur.strip())
            cur = ""
    if cur.strip():
        out.append(cur.strip())
    return out


class SqliteRecipes(unittest.TestCase):
    def setUp(self):
        self.root = h.make_root()
        self.db = os.path.join(self.root, "recipients.db")

    def run_recipe(self, cmd):
        real = cmd.replace(DB, self.db).replace(SHARE, os.path.join(SRC, "etc") + "/")
        real = re.sub(r"< schema\.sql\b", "< " + os.path.join(SRC, "etc", "schema.sql"), real)
        r = subprocess.run(["bash", "-o", "pipefail", "-c", real], capture_output=True, text=True, timeout=60,
                           cwd=self.root)
        self.assertEqual(r.returncode, 0, "%s\n%s%s" % (cmd, r.stdout, r.stderr))
        return r

    def rows(self):
        con = sqlite3.connect(self.db)
        try:
            return sorted(a for (a,) in con.execute("SELECT address FROM recipients"))
        finally:
            con.close()

    def journal_mode(self):
        return subprocess.run(["sqlite3", self.db, "PRAGMA journal_mode"], capture_output=True,
                              text=True).stdout.strip()

    def shipped_users(self):
        users = []
        for line in open(os.path.join(SRC, "etc", "users.txt")):
            line = line.strip()
            if line and not line.startswith("#"):
                users.append(line.split()[0])
        return sorted(users)

    def test_rcptguard_ctl_8_recipes_as_written(self):
        blocks = man_blocks("rcptguard-ctl.8", r"SQLITE3")
        self.assertEqual(len(blocks), 1, "one recipe block in THE SAME WITH SQLITE3")
        cmds = commands(blocks[0])
        self.assertGreaterEqual(len(cmds), 5, cmds)
        create, insert, delete, select, imp = cmds[0], cmds[1], cmds[2], cmds[3], cmds[-1]
        self.assertIn("< %sschema.sql" % SHARE, create)
        r = self.run_recipe(create)
        self.assertEqual((r.stdout, r.stderr), ("", ""), "loading the schema must print nothing")
        self.assertEqual(self.journal_mode(), "wal")
        self.run_recipe(insert)
        self.assertEqual(self.rows(), ["alice@example.com"])
        self.run_recipe(delete)
        self.assertEqual(self.rows(), [])
        self.run_recipe(insert)
        self.assertEqual(self.run_recipe(select).stdout, "alice@example.com\n")
        self.run_recipe(delete)
        self.assertIn(".import", imp)
        self.assertIn(SHARE + "users.txt", imp)
        r = self.run_recipe(imp)
        self.assertEqual(r.stderr, "")
        self.assertEqual(self.rows(), self.shipped_users(), "the import stores the addresses, no comment lines")
        self.assertTrue(all(not a.startswith("#") for a in self.rows()))

    def test_rcptguard_conf_5_recipes_as_written(self):
        blocks = [b for b in man_blocks("rcptguard.conf.5", r"SQLite backend") if any("sqlite3" in l for l in b)]
        self.assertEqual(len(blocks), 1)
        cmds = commands(blocks[0])
        r = self.run_recipe(cmds[0])
        self.assertEqual((r.stdout, r.stderr), ("", ""))
        self.assertEqual(self.journal_mode(), "wal")
        self.run_recipe(cmds[1])
        self.assertEqual(self.rows(), ["alice@example.com"])
        self.run_recipe(cmds[2])
        self.assertEqual(self.rows(), [])

    def test_schema_sql_header_recipes_as_written(self):
        recipes = {}
        for line in open(os.path.join(SRC, "etc", "schema.sql")):
            m = re.match(r"-- (Create|Add|Remove):\s+(sqlite3 .*)$", line.rstrip("\n"))
            if m:
                recipes[m.group(1)] = m.group(2)
        self.assertEqual(sorted(recipes), ["Add", "Create", "Remove"])
        r = self.run_recipe(recipes["Create"])
        self.assertEqual((r.stdout, r.stderr), ("", ""))
        self.assertEqual(self.journal_mode(), "wal")
        self.run_recipe(recipes["Add"])
        self.assertEqual(self.rows(), ["user@example.com"])
        self.run_recipe(recipes["Remove"])
        self.assertEqual(self.rows(), [])

    def test_database_from_recipe_serves_rcptguard(self):
        # The recipe's database is one rcptguard reads: the shipped users valid.
        blocks = man_blocks("rcptguard-ctl.8", r"SQLITE3")
        cmds = commands(blocks[0])
        self.run_recipe(cmds[0])
        self.run_recipe(cmds[-1])
        conf = os.path.join(self.root, "r.conf")
        with open(conf, "w") as f:
            f.write("domains = example.com\nbackends = users\n[backend users]\ntype = sqlite\npath = %s\n" % self.db)
        for user in self.shipped_users():
            r = h.run_rcptguard("-q", user, "-c", conf)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(h.run_rcptguard("-q", "#@example.com", "-c", conf).returncode, 1)


DOCS = ["README.md", "man/rcptguard.8", "man/rcptguard.conf.5", "etc/rcptguard.conf", "etc/postfix-main.cf.snippet"]


class PostfixSocketAdvice(unittest.TestCase):
    def test_unix_smtpd_milters_always_with_the_same_non_smtpd_milters(self):
        checked = 0
        for name in DOCS:
            text = roff_to_text(open(os.path.join(SRC, name)).read())
            smtpd = set(re.findall(r"(?<!non_)smtpd_milters = (unix:\S+?)[\s\"`)]", text))
            non_smtpd = set(re.findall(r"non_smtpd_milters = (unix:\S+?)[\s\"`)]", text))
            for spec in smtpd:
                checked += 1
                self.assertIn(spec, non_smtpd, "%s gives smtpd_milters = %s without non_smtpd_milters = %s"
                              % (name, spec, spec))
        self.assertGreaterEqual(checked, 4, "the unix-socket advice went missing")


if __name__ == "__main__":
    unittest.main()
