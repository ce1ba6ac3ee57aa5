"""Bounce stripping on every real message in tests/corpus/dsn/ (real bounces
from about 90 mail systems, copied byte-exact with their sources and licences;
see tests/corpus/README.md). The source tree is RCPTGUARD_SOURCE_DIR or, by
default, the one this file is in.

Each file is run through build/<config>/bounce_strip as a null-sender message
with CRLF line endings (the tool drops an mbox "From " line and normalises
line endings as an MTA would), and the result is checked with an independent
MIME parser, Python's email package, not with our code:

- Unchanged: the output is byte-identical to the input and the verdict says why.
- Replace: the output is valid MIME (no parser defect the input did not
  already have, closing boundary present); the top-level headers are kept
  (only the trace header is added); every body byte before the returned part
  is unchanged, so a delivery-status/disposition part is byte-identical; the
  returned part is text/rfc822-headers (message/global-headers) holding the
  very header fields the parser finds in the input's returned message; a
  distinctive line of the original's body is gone. Inline copies: the kept
  body is a prefix of the input body that ends right after the copy's header
  block.
- The result does not depend on the chunk size or on skipping the rest of the
  body once the stripper says it has enough (SMFIS_SKIP).

The test prints how many messages were stripped, left alone by design and
left alone because they could not be parsed (per index class), and fails only
on real defects, plus on regressions of explicit expectations: genuine RFC 3464
DSNs with a message/rfc822 part are stripped unless listed below with the
reason they are not.
"""

import collections
import csv
import email
import email.parser
import email.policy
import json
import os
import re
import subprocess
import unittest

import harness

SOURCE_DIR = os.path.abspath(os.environ.get("RCPTGUARD_SOURCE_DIR")
                             or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CORPUS = os.path.join(SOURCE_DIR, "tests", "corpus")
DSN_DIR = os.path.join(CORPUS, "dsn")
TRACE = b"X-Rcptguard-Bounce-Stripped: "
HEADER_LINE = re.compile(rb"^(From |[\041-\071\073-\176]*:|[\t ])")  # as email.feedparser
STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status", "message/disposition-notification",
                "message/global-disposition-notification")

# RFC 3464 DSNs with a message/rfc822 part that are rightly left alone, with
# the reason expected in the verdict.
DSN_RFC822_NOT_STRIPPED = {
    # The returned message/rfc822 holds only headers: nothing to strip.
    "sisimai__bsd-lhost-courier-01.eml": "returned message has no body",
    "sisimai__bsd-lhost-courier-04.eml": "returned message has no body",
    "sisimai__bsd-rhost-nttdocomo-02.eml": "returned message has no body",
    "sisimai__err-make-test-06.eml": "returned message has no body",
    "sisimai__err-make-test-11.eml": "returned message has no body",
    # "Content-Type: message/rfc822" followed directly by the close delimiter.
    "sisimai__bsd-lhost-postfix-01.eml": "returned part is empty",
    "sisimai__dos-lhost-postfix-01.eml": "returned part is empty",
    # The corpus replaced the original by "[from here, just a copy ...]".
    "sisimai__bsd-lhost-postfix-30.eml": "cannot parse: returned message does not start with a header field",
    # A bounce of a bounce: the returned message is itself a multipart/report.
    "sisimai__bsd-rhost-yahooinc-03.eml": "bounce of a bounce",
}


def normalise(raw):
    """What a milter sees: no mbox From line, CRLF line endings."""
    if raw.startswith(b"From "):
        nl = raw.find(b"\n")
        cr = raw.find(b"\r")
        ends = [i for i in (nl, cr) if i >= 0]
        raw = raw[min(ends) + 1:] if ends else b""
        if raw.startswith(b"\n"):
            raw = raw[1:]
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def split_header_section(msg):
    i = msg.find(b"\r\n\r\n")
    if msg.startswith(b"\r\n"):
        return b"", msg[2:]
    if i < 0:
        return msg, b""
    return msg[:i + 2], msg[i + 4:]


def run_tool(path, *args):
    r = subprocess.run([harness.binary("bounce_strip")] + list(args) + [path], capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("bounce_strip %s failed (%s): %s" % (path, r.returncode, r.stderr[-2000:]))
    return r.stdout, json.loads(r.stderr.decode())


def defect_names(msg):
    names = set()
    for part in msg.walk():
        names.update(type(d).__name__ for d in part.defects)
    return names


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.compat32)


def top_parts(msg):
    p = msg.get_payload()
    return p if isinstance(p, list) else []


def body_lines(inner):
    """Text lines of the returned original's body (every leaf, undecoded)."""
    out = []
    for leaf in inner.walk():
        if leaf.is_multipart():
            continue
        payload = leaf.get_payload()
        if isinstance(payload, str):
            out.extend(line.strip() for line in payload.splitlines())
    return [line for line in out if len(line) >= 3]


def without_trace(msg):
    start = msg.find(TRACE)
    if start < 0:
        return msg
    return msg[:start] + msg[msg.index(b"\r\n", start) + 2:]


class BounceCorpus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        index = os.path.join(CORPUS, "dsn-index.csv")
        for path, isthere in ((DSN_DIR, os.path.isdir), (index, os.path.isfile)):
            if not isthere(path):
                raise AssertionError("bounce corpus missing: %s not found (the corpus is part of the source tree, "
                                     "tests/corpus/; set RCPTGUARD_SOURCE_DIR if the tests run from elsewhere)"
                                     % path)
        with open(index, newline="", encoding="utf-8") as f:
            cls.index = {row["file"]: row for row in csv.DictReader(f)}

    def test_every_corpus_message(self):
        files = sorted(os.listdir(DSN_DIR))
        self.assertGreater(len(files), 300)
        outcomes = {}
        problems = []
        checked_body_lines = 0
        for name in files:
            path = os.path.join(DSN_DIR, name)
            with open(path, "rb") as f:
                original = normalise(f.read())
            out, verdict = run_tool(path)
            try:
                self.check_one(name, original, out, verdict)
                checked_body_lines += self.check_body_gone(name, original, out, verdict)
                self.check_chunking_and_skip(path, out, verdict)
            except AssertionError as e:
                problems.append("%s: %s" % (name, e))
            if verdict["action"] == "replace":
                cls = "stripped"
            elif verdict["could_not_parse"]:
                cls = "unchanged-could-not-parse"
            else:
                cls = "unchanged-by-design"
            outcomes[name] = (cls, verdict)

        self.print_summary(outcomes, checked_body_lines)
        problems.extend(self.check_expectations(outcomes))
        if problems:
            self.fail("%d problem(s):\n  %s" % (len(problems), "\n  ".join(problems)))

    # -- per message ---------------------------------------------------------

    def check_one(self, name, original, out, verdict):
        if verdict["action"] == "unchanged":
            assert verdict["reason"], "Unchanged without a reason"
            assert out == original, "Unchanged but the output differs from the input"
            return
        in_headers, in_body = split_header_section(original)
        assert out.startswith(in_headers + TRACE), "top-level headers changed or trace header missing"
        trace_end = out.index(b"\r\n", len(in_headers)) + 2
        assert out[trace_end:trace_end + 2] == b"\r\n", "no empty line after the header section"
        new_body = out[trace_end + 2:]
        kept = verdict["kept_prefix_bytes"]
        assert 0 < kept <= len(new_body), "kept_prefix_bytes out of range"
        assert new_body[:kept] == in_body[:kept], "the kept prefix differs from the input body"
        assert len(new_body) <= len(in_body) + 1024, "the new body is much larger than the old"

        before, after = parse(original), parse(out)
        new_defects = defect_names(after) - defect_names(before)
        assert not new_defects, "new MIME defects: %s" % sorted(new_defects)
        assert before.get_content_type() == after.get_content_type(), "top-level Content-Type changed"
        if verdict["kind"].startswith("inline-"):
            self.check_inline(in_body, new_body, after)
        else:
            self.check_multipart(before, after, new_body)
        # The independent parser with the modern policy must accept it too.
        email.message_from_bytes(out, policy=email.policy.default).get_body()

    def check_multipart(self, before, after, new_body):
        assert after.is_multipart(), "output is not multipart"
        boundary = after.get_boundary()
        assert new_body.endswith(b"\r\n--" + boundary.encode() + b"--\r\n"), "no close delimiter at the end"
        assert not {"CloseBoundaryNotFoundDefect", "StartBoundaryNotFoundDefect"} & defect_names(after), \
            "multipart not closed"
        in_parts, out_parts = top_parts(before), top_parts(after)
        assert out_parts, "output has no parts"
        last = out_parts[-1]
        assert last.get_content_type() in ("text/rfc822-headers", "message/global-headers"), \
            "returned part became %s" % last.get_content_type()
        n = len(out_parts)
        assert len(in_parts) >= n, "output has more parts than the input"
        for i in range(n - 1):
            assert in_parts[i].as_bytes() == out_parts[i].as_bytes(), "part %d changed" % (i + 1)
        for i, part in enumerate(in_parts):
            if part.get_content_type() in STATUS_TYPES:
                assert i < n - 1, "the %s part was lost" % part.get_content_type()
                assert part.as_bytes() == out_parts[i].as_bytes(), "the status part changed"
        returned = in_parts[n - 1]
        assert returned.get_content_type() in ("message/rfc822", "message/global"), \
            "stripped part %d was %s" % (n, returned.get_content_type())
        inner = returned.get_payload(0)
        kept_headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
            last.get_payload(decode=True))
        assert kept_headers.items() == inner.items(), "the returned message's header fields were not kept"
        for field in ("From", "Subject", "Message-ID", "Date", "Received"):
            if inner.get(field) is not None:
                assert kept_headers.get_all(field) == inner.get_all(field), "%s not kept" % field

    def check_inline(self, in_body, new_body, after):
        assert not after.is_multipart(), "inline bounce became multipart"
        assert in_body.startswith(new_body), "the kept body is not a prefix of the input body"
        removed = in_body[len(new_body):]
        assert removed.strip(), "nothing was removed"
        text = new_body
        if (after.get("Content-Transfer-Encoding") or "").strip().lower() == "quoted-printable":
            text = after.get_payload(decode=True)
        text = text.replace(b"\r\n", b"\n")
        # The last paragraph is the copy's header block, possibly led by the
        # marker (and the lines around it) when the MTA put no empty line
        # after it (Sendmail 5, Domino, Exim 3).
        lines = text.rstrip(b"\n").rsplit(b"\n\n", 1)[-1].split(b"\n")
        lead = 0
        while lead < len(lines) and not (HEADER_LINE.match(lines[lead]) and lines[lead][:1] not in (b" ", b"\t")):
            lead += 1
        assert lead < len(lines), "the kept text does not end with a header block"
        block = b"\n".join(lines[lead:])
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(block + b"\n")
        assert headers.items(), "the kept text does not end with a header block"
        assert not headers.defects and not headers.get_payload().strip(), \
            "the last paragraph kept is not a clean header block"
        assert any(headers.get(f) for f in ("Received", "From", "Subject", "Message-ID", "To", "Date",
                                            "Return-Path")), "the kept header block has no usual header field"
        # The cut ends the header block: after its empty line, or before a line
        # that cannot be a header line (Python's own test for that).
        first_removed = removed.split(b"\r\n", 1)[0]
        assert new_body.endswith(b"\r\n\r\n") or not HEADER_LINE.match(first_removed), \
            "cut inside the header block (first removed line %r)" % first_removed[:60]

    def check_body_gone(self, name, original, out, verdict):
        """For a stripped message/rfc822: a line that occurs only in the
        original's body must be gone. Returns 1 if such a line was checked."""
        if verdict["action"] != "replace" or verdict["kind"].startswith("inline-"):
            return 0
        before = parse(original)
        in_parts = top_parts(before)
        n = len(top_parts(parse(out)))
        returned = in_parts[n - 1]
        inner = returned.get_payload(0)
        elsewhere = split_header_section(original)[0] + b"".join(p.as_bytes() for p in in_parts[:n - 1])
        elsewhere += (before.preamble or "").encode("utf-8", "surrogateescape")
        elsewhere += "".join("%s: %s\n" % kv for kv in inner.items()).encode("utf-8", "surrogateescape")
        for line in body_lines(inner):
            raw = line.encode("utf-8", "surrogateescape")
            if raw not in elsewhere:
                assert raw not in out, "a line of the original's body survived: %r" % line[:60]
                return 1
        return 0

    def check_chunking_and_skip(self, path, out, verdict):
        for args in (["--chunk", "7"], ["--chunk", "1000", "--skip"], ["--skip"]):
            out2, verdict2 = run_tool(path, *args)
            for key in ("action", "kind", "reason", "kept_prefix_bytes", "new_body_bytes"):
                assert verdict2[key] == verdict[key], "%s differs with %s: %r vs %r" % (
                    key, " ".join(args), verdict2[key], verdict[key])
            assert without_trace(out2) == without_trace(out), "output differs with %s" % " ".join(args)
            if "--skip" not in args:
                assert verdict2["bytes_removed"] == verdict["bytes_removed"]

    # -- summary and expectations ----------------------------------------------

    def print_summary(self, outcomes, checked_body_lines):
        totals = collections.Counter(cls for cls, _ in outcomes.values())
        print()
        print("bounce corpus: %d messages: %d stripped, %d unchanged-by-design, %d unchanged-could-not-parse "
              "(%d with a body line checked gone)" % (
                  len(outcomes), totals["stripped"], totals["unchanged-by-design"],
                  totals["unchanged-could-not-parse"], checked_body_lines))
        by_class = collections.defaultdict(collections.Counter)
        for name, (cls, _) in outcomes.items():
            by_class[self.index.get(name, {}).get("class", "?")][cls] += 1
        for klass in sorted(by_class):
            c = by_class[klass]
            print("  %-52s stripped %3d  by-design %3d  could-not-parse %3d" % (
                klass, c["stripped"], c["unchanged-by-design"], c["unchanged-could-not-parse"]))
        reasons = collections.Counter((cls, v["reason"]) for cls, v in outcomes.values() if cls != "stripped")
        for (cls, reason), n in sorted(reasons.items()):
            print("  %3d %-26s %s" % (n, cls, reason))

    def check_expectations(self, outcomes):
        problems = []
        dsn_rfc822 = stripped = 0
        for name, (cls, verdict) in sorted(outcomes.items()):
            row = self.index.get(name)
            if row is None:
                continue
            klass, returned = row["class"], row["returned_original"]
            if klass == "DSN(RFC3464)" and returned == "message/rfc822":
                dsn_rfc822 += 1
                expected = DSN_RFC822_NOT_STRIPPED.get(name)
                if expected is None and cls != "stripped":
                    problems.append("%s: RFC 3464 DSN with message/rfc822 not stripped: %s" % (name, verdict["reason"]))
                elif expected is not None and (cls == "stripped" or expected not in verdict["reason"]):
                    problems.append("%s: expected unchanged (%s), got %s: %s" % (name, expected, cls,
                                                                               verdict["reason"]))
                stripped += cls == "stripped"
            if returned == "text/rfc822-headers" and cls == "stripped":
                problems.append("%s: already text/rfc822-headers but stripped" % name)
            if klass in ("ARF-feedback-report", "auto-reply", "other/not-bounce?", "FBL-non-ARF(Hotmail-JMRP-style)") \
                    and cls == "stripped":
                problems.append("%s: %s must be left alone" % (name, klass))
            if klass == "ARF-feedback-report" and verdict["kind"] != "arf":
                problems.append("%s: ARF not recognised: %s" % (name, verdict["reason"]))
        if dsn_rfc822 == 0 or stripped < 0.9 * dsn_rfc822:
            problems.append("only %d of %d RFC 3464 DSNs with message/rfc822 stripped" % (stripped, dsn_rfc822))
        return problems


if __name__ == "__main__":
    unittest.main()
