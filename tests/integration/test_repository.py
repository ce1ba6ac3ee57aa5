"""The repository stands alone: a fresh clone passes its tests with nothing
beside it.

- No file in the source tree points at a sibling folder of the checkout (the
  path made of two dots, a slash and "shared"): code, docs and tests must use
  what is in the repository.
- The bounce corpus in tests/corpus/ is complete: every file its index names is
  there with the recorded checksum, and its README and licence texts are there.
- The layers stay in order: no folder includes a folder above it, and each
  layer's archive needs nothing from a higher one (nm on the build's archives).

The source tree is RCPTGUARD_SOURCE_DIR or, by default, two levels up from
this file. Standard library only (plus nm and c++filt from binutils); starts
nothing.
"""

import csv
import subprocess
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


# The layers, lowest first (doc/architecture.md). A folder may use its own
# layer and the layers below it, never one above.
LAYERS = {"util": 0, "backends": 1, "core": 2, "milter": 3, "policyd": 3, "ctl": 3}
# Doors are separate: only the milter door's process code (main.cpp) starts
# the policy door beside it.
DOOR_TO_DOOR = {("milter", "policyd")}


def includes_of(path):
    with open(path, errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if line.startswith("#include \""):
                yield number, line[len("#include \""):].split("\"", 1)[0]


class Layers(unittest.TestCase):
    """Dependencies point one way: doors -> core -> backends -> util."""

    def test_no_folder_includes_a_folder_above_it(self):
        bad = []
        for top in LAYERS:
            for root, _dirs, files in os.walk(os.path.join(SOURCE_DIR, top)):
                for name in files:
                    if not name.endswith((".cpp", ".hpp")):
                        continue
                    path = os.path.join(root, name)
                    rel = os.path.relpath(path, SOURCE_DIR)
                    for number, inc in includes_of(path):
                        target = inc.split("/", 1)[0]
                        if target not in LAYERS:
                            continue  # generated files, e.g. "paths.inc"
                        if target == top:
                            parts, inc_parts = rel.split("/"), inc.split("/")
                            # One backend folder never reaches into another; only the
                            # registry knows them all.
                            if (top == "backends" and len(parts) > 2 and len(inc_parts) > 2
                                    and parts[1] != inc_parts[1]):
                                bad.append("%s:%d: %s (another backend's folder)" % (rel, number, inc))
                            continue
                        if LAYERS[target] > LAYERS[top] or (
                                LAYERS[target] == LAYERS[top] and (top, target) not in DOOR_TO_DOOR):
                            bad.append("%s:%d: %s" % (rel, number, inc))
        self.assertEqual(bad, [], "includes that go up a layer (or across doors):\n" + "\n".join(bad))

    def test_each_layer_archive_links_only_against_lower_layers(self):
        """Every rcptguard symbol an archive needs is defined in that archive or a
        lower one: a call up a layer would not link."""
        build = os.environ.get("RCPTGUARD_BUILD")
        if not build:
            self.fail("RCPTGUARD_BUILD is not set (tools/run-tests sets it)")

        def symbols(lib, which):
            r = subprocess.run(["nm", which, "-P", os.path.join(build, lib)], capture_output=True, text=True,
                               check=True)
            out = set()
            for line in r.stdout.splitlines():
                fields = line.split()
                if fields and not fields[0].endswith(":") and "9rcptguard" in fields[0]:
                    out.add(fields[0])
            return out

        defined = set()
        for lib in ["libutil.a", "libbackends.a", "libcore.a"]:
            defined |= symbols(lib, "--defined-only")
            missing = sorted(symbols(lib, "--undefined-only") - defined)
            demangled = subprocess.run(["c++filt"], input="\n".join(missing[:20]), capture_output=True,
                                       text=True).stdout if missing else ""
            self.assertEqual(missing, [], "%s uses symbols of a higher layer:\n%s" % (lib, demangled))
