"""The repository stands alone: a fresh clone passes its tests with nothing
beside it.

- No file in the source tree points at a sibling folder of the checkout (the
  path made of two dots, a slash and "shared"): code, docs and tests must use
  what is in the repository.
- The bounce corpus in tests/corpus/ is complete: every file its index names is
  there with the recorded checksum, and its README and licence texts are there.

The source tree is RCPTGUARD_SOURCE_DIR or, by default, two levels up from
this file. Standard library only; starts nothing.
"""

import csv
import hashlib
import os
import unittest

SOURCE_DIR = os.path.abspath(os.environ.get("RCPTGUARD_SOURCE_DIR")
                             or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CORPUS = os.path.join(SOURCE_DIR, "tests", "corpus")

# Built from parts so that this file does not match itself.
SIBLING = b"." * 2 + b"/" + b"shared"

# Not part of the repository's content: git's own data, build output and
# Python's byte-code caches.
SKIP_DIRS = {".git", "build", "__pycache__"}


def source_files():
    for root, dirs, files in os.walk(SOURCE_DIR):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


class StandsAlone(unittest.TestCase):
    def test_no_file_points_at_a_sibling_folder(self):
        hits = []
        n = 0
        for path in source_files():
            n += 1
            with open(path, "rb") as f:
                data = f.read()
            start = data.find(SIBLING)
            while start >= 0:
                line = data.count(b"\n", 0, start) + 1
                hits.append("%s:%d" % (os.path.relpath(path, SOURCE_DIR), line))
                start = data.find(SIBLING, start + 1)
        self.assertGreater(n, 100, "too few files under %s; is RCPTGUARD_SOURCE_DIR right?" % SOURCE_DIR)
        if hits:
            self.fail("%d mention(s) of %s (the repository must stand alone):\n  %s" % (
                len(hits), SIBLING.decode(), "\n  ".join(hits)))


class CorpusCopy(unittest.TestCase):
    def test_readme_and_licences(self):
        for name in ("README.md", "LICENSE.sisimai-set-of-emails", "LICENSE.MimeKit"):
            path = os.path.join(CORPUS, name)
            self.assertTrue(os.path.isfile(path), "%s is missing" % path)
            self.assertGreater(os.path.getsize(path), 0, "%s is empty" % path)

    def test_every_indexed_file_is_there_unchanged(self):
        index = os.path.join(CORPUS, "dsn-index.csv")
        dsn = os.path.join(CORPUS, "dsn")
        self.assertTrue(os.path.isfile(index), "%s is missing" % index)
        self.assertTrue(os.path.isdir(dsn), "%s is missing" % dsn)
        with open(index, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertGreater(len(rows), 300)
        problems = []
        named = set()
        for row in rows:
            name, want = row["file"], row["sha256"].strip().lower()
            named.add(name)
            # The index records a prefix of the hex SHA-256 (16 digits).
            if len(want) < 16 or any(c not in "0123456789abcdef" for c in want):
                problems.append("%s: bad sha256 column %r in the index" % (name, want))
                continue
            path = os.path.join(dsn, name)
            if not os.path.isfile(path):
                problems.append("%s: missing" % name)
                continue
            with open(path, "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            if not got.startswith(want):
                problems.append("%s: sha256 %s, the index says %s..." % (name, got[:len(want)], want))
        for name in sorted(set(os.listdir(dsn)) - named):
            problems.append("%s: in dsn/ but not in the index" % name)
        if problems:
            self.fail("%d problem(s) with tests/corpus/:\n  %s" % (len(problems), "\n  ".join(problems)))


if __name__ == "__main__":
    unittest.main()
