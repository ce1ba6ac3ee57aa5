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
  distinctive line of the original's body is gone. A DSN nested one level
  down (in the first part of a multipart/mixed, or inside a returned
  message/rfc822) is checked the same way one level down, with the part or
  message around it unchanged up to its returned part. Inline copies: the
  kept body is a prefix of the input body that ends right after the copy's
  header block.
- The result does not depend on the chunk size or on skipping the rest of the
  body once the stripper says it has enough (SMFIS_SKIP).

The test prints how many messages were stripped, left alone by design and
left alone because they could not be parsed (per index class), and per shape
(found by the independent parser, not by the stripper) how many messages
carry a returned original with a body before and after stripping. It fails
on real defects, plus on regressions of explicit expectations: genuine RFC 3464
DSNs with a message/rfc822 part are stripped unless listed below with the
reason they are not; every message stripped before issue 22 is still
stripped to the very same bytes (tests/golden/bounce-corpus-stripped.sha256);
the shapes issue 22 added are pinned on the real messages that have them.

The hand-written messages in tests/golden/bounce/ (one or more per shape,
stripped and unchanged) go through the same independent checks.
"""

import base64
import collections
import csv
import email
import email.generator
import hashlib
import io
import email.parser
import email.policy
import json
import os
import quopri
import re
import subprocess
import unittest

import harness

SOURCE_DIR = os.path.abspath(os.environ.get("RCPTGUARD_SOURCE_DIR")
                             or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CORPUS = os.path.join(SOURCE_DIR, "tests", "corpus")
DSN_DIR = os.path.join(CORPUS, "dsn")
GOLDEN_DIR = os.path.join(SOURCE_DIR, "tests", "golden", "bounce")
STRIPPED_BEFORE = os.path.join(SOURCE_DIR, "tests", "golden", "bounce-corpus-stripped.sha256")
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
}

# The shapes of issue 22 on the real messages that have them: verdict, kind,
# and for Unchanged a part of the reason.
NEW_SHAPES = {
    # multipart/mixed whose first part is the multipart/report (Domino); the
    # nested report has no close delimiter of its own.
    "sisimai__bsd-lhost-domino-03.eml": ("replace", "dsn-in-mixed", ""),
    # A DSN whose returned message is a DSN that returns the original in turn.
    "sisimai__bsd-rhost-yahooinc-03.eml": ("replace", "dsn-in-rfc822", ""),
    # A bounce forwarded inside a message/rfc822 of a multipart/mixed bounce;
    # the original it returns has no body.
    "sisimai__bsd-lhost-x5-01.eml": ("unchanged", "dsn-in-rfc822", "returned message has no body"),
    "sisimai__dos-lhost-x5-01.eml": ("unchanged", "dsn-in-rfc822", "returned message has no body"),
    # multipart/mixed whose explanation names the failure ("Could not be
    # delivered to: ... As their mailbox is full"), no other clue.
    "sisimai__bsd-lhost-kddi-01.eml": ("replace", "mixed-rfc822", ""),
}

# Rows of the index (made by a heuristic, not ground truth) whose class says
# "not a bounce" although the message is one, with what shows it.
INDEX_CLASS_WRONG = {
    "sisimai__bsd-lhost-kddi-01.eml": "au one net's mailbox-full bounce (sisimai label lhost-kddi): "
                                      "'Could not be delivered to: <...> As their mailbox is full.'",
}

SHAPES = ("multipart/report", "multipart/report, other or no report-type", "report nested in multipart/mixed",
          "report inside message/rfc822", "multipart/mixed with message/rfc822", "multipart without returned message",
          "feedback report (ARF)", "multipart that does not parse", "single-part text", "other")
RETURNED_TYPES = ("message/rfc822", "message/global")
HEADER_ONLY_TYPES = ("text/rfc822-headers", "message/global-headers")
USUAL_FIELDS = (b"received", b"from", b"subject", b"message-id", b"date", b"to", b"return-path")


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
    """MIME defects of msg and its parts. A header-only part (text/rfc822-
    headers, message/global-headers) is not descended into: Python parses
    message/global-headers as a whole message, and a returned original's
    multipart Content-Type without its body would read as an unclosed
    multipart there."""
    names = set(type(d).__name__ for d in msg.defects)
    if msg.get_content_type() in HEADER_ONLY_TYPES:
        return names
    payload = msg.get_payload()
    if isinstance(payload, list):
        for part in payload:
            names |= defect_names(part)
    return names


def header_only_fields(part):
    """The header fields a text/rfc822-headers or message/global-headers part
    holds, decoded from its Content-Transfer-Encoding. Python parses
    message/global-headers as a message (the fields, still encoded, become
    its headers), text/rfc822-headers as text."""
    if not part.is_multipart():
        return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(part.get_payload(decode=True))
    inner = part.get_payload(0)
    cte = (part.get("Content-Transfer-Encoding") or "").strip().lower()
    if cte not in ("quoted-printable", "base64"):
        return inner
    raw = inner.as_bytes(policy=email.policy.compat32)
    raw = quopri.decodestring(raw) if cte == "quoted-printable" else base64.b64decode(raw)
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)


def part_bytes(part):
    """A part as bytes, for comparing parts. Python's byte generator cannot
    write a message/global whose base64 body it decoded to text; the text
    generator can, and the comparison only needs both sides alike."""
    try:
        return part.as_bytes()
    except UnicodeEncodeError:
        return part.as_string().encode("utf-8", "surrogateescape")


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


def is_report(msg):
    return msg.get_content_type() == "multipart/report"


def embedded(part):
    """The message inside a message/rfc822 part, or None."""
    payload = part.get_payload()
    return payload[0] if isinstance(payload, list) and payload else None


def returned_original(part):
    """The message a message/rfc822 (or message/global) part holds. Python's
    parser does not undo a base64 or quoted-printable encoding of such a
    part (RFC 2046 forbids it, MTAs do it), so that is done here."""
    inner = embedded(part)
    cte = (part.get("Content-Transfer-Encoding") or "").split("(")[0].strip().lower()
    if inner is None or cte not in ("base64", "quoted-printable"):
        return inner
    buf = io.BytesIO()
    email.generator.BytesGenerator(buf, mangle_from_=False, maxheaderlen=0).flatten(inner)
    raw = buf.getvalue()
    return parse(base64.b64decode(raw) if cte == "base64" else quopri.decodestring(raw))


def shape_of(msg):
    """The shape of a message as Python's parser sees it."""
    if not msg.is_multipart():
        if msg.get_content_maintype() == "multipart":
            return "multipart that does not parse"
        return "single-part text" if msg.get_content_maintype() == "text" else "other"
    parts = top_parts(msg)
    for p in parts:
        inner = embedded(p) if p.get_content_type() in RETURNED_TYPES else None
        if inner is not None and is_report(inner):
            return "report inside message/rfc822"
    if is_report(msg) and (msg.get_param("report-type") or "").lower() == "feedback-report":
        return "feedback report (ARF)"
    if is_report(msg):
        known = (msg.get_param("report-type") or "").lower() in ("delivery-status", "disposition-notification")
        return "multipart/report" if known else "multipart/report, other or no report-type"
    if parts and is_report(parts[0]):
        return "report nested in multipart/mixed"
    if any(p.get_content_type() in RETURNED_TYPES for p in parts):
        return "multipart/mixed with message/rfc822"
    return "multipart without returned message"


def has_body(msg):
    if msg.is_multipart():
        return bool((msg.preamble or "").strip() or (msg.epilogue or "").strip()) or \
            any(has_body(p) for p in msg.get_payload())
    payload = msg.get_payload()
    return isinstance(payload, str) and bool(payload.strip())


def returned_with_body(msg, depth=0):
    """Whether a returned original with a body is still in a multipart: the
    original a message/rfc822 part holds, or, if that is itself a report (or
    a report nests in the first part), the original that report returns."""
    for i, p in enumerate(top_parts(msg)):
        if p.get_content_type() in RETURNED_TYPES:
            inner = embedded(p)
            if inner is None:
                continue
            if is_report(inner) and depth == 0:
                if returned_with_body(inner, 1):
                    return True
            elif has_body(inner):
                return True
        elif i == 0 and is_report(p) and depth == 0 and returned_with_body(p, 1):
            return True
    return False


def inline_copy_with_body(body):
    """A single-part text: a header block of at least two fields, one of them
    a usual one (Received, From, ...), then an empty line and more text."""
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    i = 0
    while i < len(lines):
        j, usual = i, False
        while j < len(lines) and (HEADER_LINE.match(lines[j]) and not lines[j].startswith(b"From ")):
            if lines[j][:1] not in (b" ", b"\t"):
                usual = usual or lines[j].split(b":", 1)[0].strip().lower() in USUAL_FIELDS
            j += 1
        if j - i >= 2 and usual and j < len(lines) and not lines[j].strip():
            if any(line.strip() for line in lines[j + 1:]):
                return True
        i = max(j, i + 1)
    return False


def carries_body(msg_bytes):
    msg = parse(msg_bytes)
    if msg.is_multipart():
        return returned_with_body(msg)
    return inline_copy_with_body(split_header_section(msg_bytes)[1])


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
        outcomes, problems, checked_body_lines, bodies, digests = self.run_all(DSN_DIR, files)
        self.print_summary(outcomes, checked_body_lines)
        self.print_bodies("bounce corpus", bodies)
        problems.extend(self.check_expectations(outcomes))
        problems.extend(self.check_stripped_before(outcomes, digests))
        if problems:
            self.fail("%d problem(s):\n  %s" % (len(problems), "\n  ".join(problems)))

    def test_golden_messages_independently_checked(self):
        files = sorted(f for f in os.listdir(GOLDEN_DIR) if f.endswith(".eml"))
        self.assertGreaterEqual(len(files), 20)
        outcomes, problems, _, bodies, _ = self.run_all(GOLDEN_DIR, files)
        self.print_bodies("golden messages", bodies)
        for name, (cls, verdict) in sorted(outcomes.items()):
            print("  %-45s %-26s %s%s" % (name, cls, verdict["kind"],
                                          ": " + verdict["reason"] if verdict["reason"] else ""))
        seen = {shape for shape, _, _ in bodies.values()}
        for shape in ("multipart/report", "multipart/report, other or no report-type",
                      "report nested in multipart/mixed", "report inside message/rfc822",
                      "multipart/mixed with message/rfc822", "single-part text"):
            if shape not in seen:
                problems.append("no golden message of shape %s" % shape)
        if problems:
            self.fail("%d problem(s):\n  %s" % (len(problems), "\n  ".join(problems)))

    def run_all(self, directory, files):
        outcomes, problems, bodies, digests = {}, [], {}, {}
        checked_body_lines = 0
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                original = normalise(f.read())
            out, verdict = run_tool(path)
            digests[name] = hashlib.sha256(out).hexdigest()
            try:
                stripped = self.check_one(name, original, out, verdict)
                checked_body_lines += self.check_body_gone(out, verdict, stripped)
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
            bodies[name] = (shape_of(parse(original)), carries_body(original), carries_body(out))
        return outcomes, problems, checked_body_lines, bodies, digests

    # -- per message ---------------------------------------------------------

    def check_one(self, name, original, out, verdict):
        assert verdict["evidence"] and verdict["evidence"] != "none", "no evidence named"
        if verdict["action"] == "unchanged":
            assert verdict["reason"], "Unchanged without a reason"
            assert out == original, "Unchanged but the output differs from the input"
            return None
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
        stripped = None
        if verdict["kind"].startswith("inline-"):
            self.check_inline(in_body, new_body, after)
        else:
            stripped = self.check_multipart(before, after, new_body, in_headers)
        # The independent parser with the modern policy must accept it too.
        email.message_from_bytes(out, policy=email.policy.default).get_body()
        return stripped

    def check_multipart(self, before, after, new_body, in_headers):
        """Returns the stripped original (as parsed from the input) and the
        input bytes kept around it, for check_body_gone."""
        assert after.is_multipart(), "output is not multipart"
        boundary = after.get_boundary()
        assert new_body.endswith(b"\r\n--" + boundary.encode() + b"--\r\n"), "no close delimiter at the end"
        assert not {"CloseBoundaryNotFoundDefect", "StartBoundaryNotFoundDefect"} & defect_names(after), \
            "multipart not closed"
        elsewhere = [in_headers]
        return self.check_level(before, after, elsewhere, 0), b"".join(elsewhere)

    def check_level(self, before, after, elsewhere, depth):
        in_parts, out_parts = top_parts(before), top_parts(after)
        assert out_parts, "output has no parts"
        assert len(in_parts) >= len(out_parts), "output has more parts than the input"
        in_bytes = [part_bytes(p) for p in in_parts]
        out_bytes = [part_bytes(p) for p in out_parts]
        # The rewritten part is the first that differs; the parts before it
        # are unchanged, and the parts after it (a status part that followed
        # the returned message, and what came after that) are the input's
        # last parts, unchanged.
        n = next((i for i in range(len(out_parts)) if out_bytes[i] != in_bytes[i]), len(out_parts) - 1) + 1
        after_n = out_bytes[n:]
        if after_n:
            assert in_bytes[len(in_bytes) - len(after_n):] == after_n and len(in_bytes) - len(after_n) >= n, \
                "the parts after the rewritten part %d are not the input's last parts" % n
            assert out_parts[n].get_content_type() in STATUS_TYPES + ("message/feedback-report", "multipart/report"), \
                "part %d after the rewritten part is %s" % (n + 1, out_parts[n].get_content_type())
        for i, part in enumerate(in_parts):
            if part.get_content_type() in STATUS_TYPES:
                assert in_bytes[i] in out_bytes, "the %s part was lost or changed" % part.get_content_type()
        assert (before.preamble or "") == (after.preamble or ""), "preamble changed"
        elsewhere.append((before.preamble or "").encode("utf-8", "surrogateescape"))
        elsewhere.extend(in_bytes[:n - 1])
        elsewhere.extend(after_n)
        last_in, last = in_parts[n - 1], out_parts[n - 1]
        if last.get_content_type() in ("text/rfc822-headers", "message/global-headers"):
            assert last_in.get_content_type() in RETURNED_TYPES, \
                "stripped part %d was %s" % (n, last_in.get_content_type())
            inner = returned_original(last_in)
            kept_headers = header_only_fields(last)
            assert kept_headers.items() == inner.items(), "the returned message's header fields were not kept"
            for field in ("From", "Subject", "Message-ID", "Date", "Received"):
                if inner.get(field) is not None:
                    assert kept_headers.get_all(field) == inner.get_all(field), "%s not kept" % field
            elsewhere.append("".join("%s: %s\n" % kv for kv in inner.items()).encode("utf-8", "surrogateescape"))
            return inner
        # One level down: a report in the first part of a multipart/mixed, or
        # a returned message that is itself a report.
        assert depth == 0, "part %d became %s more than one level down" % (n, last.get_content_type())
        assert last.get_content_type() == last_in.get_content_type(), \
            "part %d changed from %s to %s" % (n, last_in.get_content_type(), last.get_content_type())
        assert last.items() == last_in.items(), "the header of part %d changed" % n
        if last.get_content_type() == "multipart/report":
            assert n == 1, "a nested report outside the first part"
            return self.check_level(last_in, last, elsewhere, depth + 1)
        assert last.get_content_type() in RETURNED_TYPES, "part %d became %s" % (n, last.get_content_type())
        inner_in, inner_out = embedded(last_in), embedded(last)
        assert inner_in is not None and inner_out is not None and is_report(inner_in), \
            "the returned message of part %d is not a report" % n
        assert inner_out.items() == inner_in.items(), "the returned report's header fields changed"
        elsewhere.append("".join("%s: %s\n" % kv for kv in inner_in.items()).encode("utf-8", "surrogateescape"))
        return self.check_level(inner_in, inner_out, elsewhere, depth + 1)

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

    def check_body_gone(self, out, verdict, stripped):
        """For a stripped message/rfc822: a line that occurs only in the
        original's body must be gone. Returns 1 if such a line was checked."""
        if verdict["action"] != "replace" or verdict["kind"].startswith("inline-"):
            return 0
        inner, elsewhere = stripped
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

    def print_bodies(self, title, bodies):
        """Per shape: messages, and how many carry a returned original with a
        body before and after stripping (as Python's parser sees them)."""
        per_shape = collections.defaultdict(lambda: [0, 0, 0])
        for shape, before, after in bodies.values():
            per_shape[shape][0] += 1
            per_shape[shape][1] += before
            per_shape[shape][2] += after
        print("%s: returned original with a body, per shape (messages: before -> after)" % title)
        total = [0, 0, 0]
        for shape in SHAPES:
            if shape in per_shape:
                c = per_shape[shape]
                total = [a + b for a, b in zip(total, c)]
                print("  %-40s %4d messages: %4d -> %4d" % (shape, c[0], c[1], c[2]))
        print("  %-40s %4d messages: %4d -> %4d" % ("all", total[0], total[1], total[2]))

    def check_stripped_before(self, outcomes, digests):
        """Every message stripped before issue 22 is stripped to the same bytes."""
        problems = []
        with open(STRIPPED_BEFORE, encoding="utf-8") as f:
            pinned = [line.split() for line in f if line.strip() and not line.startswith("#")]
        self.assertGreater(len(pinned), 150)
        for digest, name, kind in pinned:
            cls, verdict = outcomes.get(name, ("missing", {}))
            if cls != "stripped" or verdict.get("kind") != kind:
                problems.append("%s: stripped as %s before, now %s %s: %s" % (
                    name, kind, cls, verdict.get("kind"), verdict.get("reason")))
            elif digests[name] != digest:
                problems.append("%s: stripped differently than before" % name)
        return problems

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
                    and cls == "stripped" and name not in INDEX_CLASS_WRONG:
                problems.append("%s: %s must be left alone" % (name, klass))
            if name in NEW_SHAPES:
                action, kind, reason = NEW_SHAPES[name]
                if verdict["action"] != action or verdict["kind"] != kind or reason not in verdict["reason"]:
                    problems.append("%s: expected %s %s %s, got %s %s: %s" % (
                        name, action, kind, reason, verdict["action"], verdict["kind"], verdict["reason"]))
            if klass == "ARF-feedback-report" and verdict["kind"] != "arf":
                problems.append("%s: ARF not recognised: %s" % (name, verdict["reason"]))
        if dsn_rfc822 == 0 or stripped < 0.9 * dsn_rfc822:
            problems.append("only %d of %d RFC 3464 DSNs with message/rfc822 stripped" % (stripped, dsn_rfc822))
        return problems


if __name__ == "__main__":
    unittest.main()
