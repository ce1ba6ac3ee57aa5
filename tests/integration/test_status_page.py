"""The status page on metrics_listen ("/"), through a real Postfix and a real
browser: after a simulated harvest attack (one client guessing recipients over
several connections until it is banned) the page

- is served as text/html with a policy that forbids loading anything, and is
  well-formed HTML with no script and no external reference;
- shows the per-minute charts as inline SVG, the spike in rejected and
  tarpitted recipients, and the banned client in the ban table;
- renders in Debian's chromium, headless: the DOM Chromium built (--dump-dom)
  holds the charts and the ban table, and a screenshot is written to
  BUILD/test-output/status-page.png for people to look at.

/metrics keeps serving the Prometheus text; the listener is read-only.
"""

import html.parser
import http.client
import os
import shutil
import smtplib
import subprocess
import tempfile
import unittest

import harness as h

OUTPUT_DIR = os.path.join(h.BUILD_DIR, "test-output")
HARVESTER = "127.0.9.9"


def config(root, port, mport, db):
    return """\
socket = inet:{port}@127.0.0.1
user = nobody
pid_file = {root}/rcptguard.pid
metrics_listen = 127.0.0.1:{mport}
domains = example.test
backends = users
trusted_networks =
tarpit_after = 3
tarpit_delay = 10ms
tarpit_max_delay = 20ms
max_bad_recipients = 6
ban_threshold = 10
ban_window = 10m
ban_time = 1h
[backend users]
type = sqlite
path = {db}
""".format(port=port, mport=mport, root=root, db=db)


class Element:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], ""

    def find_all(self, tag=None, **attrs):
        out = []
        for c in self.children:
            if (tag is None or c.tag == tag) and all(c.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                out.append(c)
            out.extend(c.find_all(tag, **attrs))
        return out

    def all_text(self):
        return self.text + "".join(c.all_text() for c in self.children)


VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "wbr", "source", "track", "embed", "param"}


class Tree(html.parser.HTMLParser):
    """A small DOM builder that also reports structural problems: a closing
    tag that does not match the open element, or elements never closed."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", [], None)
        self.cur = self.root
        self.problems = []
        self.doctype = None
        self.feed(text)
        self.close()
        if self.cur is not self.root:
            self.problems.append("<%s> never closed" % self.cur.tag)

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        e = Element(tag, attrs, self.cur)
        self.cur.children.append(e)
        if tag not in VOID:
            self.cur = e

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Element(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        if self.cur.tag != tag:
            self.problems.append("</%s> while <%s> is open" % (tag, self.cur.tag))
            return
        self.cur = self.cur.parent

    def handle_data(self, data):
        self.cur.text += data


def get(port, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read().decode("utf-8", "replace")
    finally:
        c.close()


def chromium(*args):
    """Debian's chromium, headless, with a fresh profile, talking to nothing
    but the URL it is given."""
    profile = tempfile.mkdtemp(prefix="rcptguard-chromium-")
    h.on_cleanup(lambda: shutil.rmtree(profile, ignore_errors=True))
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--user-data-dir=" + profile] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=dict(os.environ, HOME=profile))
    if r.returncode != 0:
        raise AssertionError("chromium failed (%d): %s" % (r.returncode, r.stderr[-3000:]))
    return r


class StatusPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = h.make_root()
        dbdir = os.path.join(cls.root, "db")
        os.makedirs(dbdir)
        os.chmod(dbdir, 0o777)
        cls.db = os.path.join(dbdir, "r.db")
        h.make_sqlite_db(cls.db, ["alice@example.test", "bob@example.test"])
        cls.port, cls.mport = h.free_port(), h.free_port()
        cls.rg = h.Rcptguard(cls.root, config(cls.root, cls.port, cls.mport, cls.db)).start(wait_port=cls.port)
        h.wait_until(lambda: h.port_open(cls.mport), 10, "metrics_listen")
        cls.pf = h.Postfix(cls.root, main={"smtpd_milters": "inet:127.0.0.1:%d" % cls.port}).start()
        cls.harvest()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.rg.kill()

    @classmethod
    def harvest(cls):
        # Some ordinary mail first, from another client.
        for rcpt in ("<alice@example.test>", "<bob@example.test>"):
            assert h.rcpt_verdict(cls.pf.port, rcpt, source="127.0.9.1")[0] == 250
        # The attack: guessing over connections until the client is banned.
        guess = 0
        for _ in range(4):
            try:
                c = h.Smtp(cls.pf.port, source=HARVESTER)
                c.mail("<spammer@harvest.test>")
                for _ in range(8):
                    guess += 1
                    if c.rcpt("<guess%d@example.test>" % guess)[0] == 421:
                        break
                c.close()
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                pass
        cls.rg.wait_log(r"client %s: banned for 1h" % HARVESTER.replace(".", r"\."))

    def page(self):
        status, headers, body = get(self.mport, "/")
        self.assertEqual(status, 200)
        return headers, body

    def wait_for_page(self, predicate, what):
        """The charts are sampled once a second: wait for the harvest to show."""
        h.wait_until(lambda: predicate(Tree(self.page()[1]).root), 15, what)
        return Tree(self.page()[1])

    def test_served_as_self_contained_html_read_only(self):
        headers, body = self.page()
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertIn("default-src 'none'", headers["content-security-policy"])
        self.assertEqual(headers.get("x-content-type-options"), "nosniff")
        tree = Tree(body)
        self.assertEqual(tree.problems, [])
        self.assertEqual(tree.doctype.lower(), "doctype html")
        self.assertEqual(tree.root.find_all("script"), [])
        for e in tree.root.find_all():
            for attr in ("src", "srcset", "action"):
                self.assertNotIn(attr, e.attrs, "%s has %s" % (e.tag, attr))
            if "href" in e.attrs:
                self.assertEqual(e.attrs["href"], "/metrics")
        self.assertEqual(tree.root.find_all("meta", http_equiv="refresh")[0].attrs["content"], "30")
        # Read-only: nothing but GET.
        self.assertNotEqual(get(self.mport, "/", "POST")[0], 200)
        status, headers, body = get(self.mport, "/metrics")
        self.assertEqual(status, 200)
        self.assertIn("rcptguard_recipients_total", body)

    def test_after_a_harvest_charts_show_the_spike_and_the_ban_table_the_client(self):
        def harvest_visible(root):
            bars = [int(r.attrs.get("data-count", "0")) for r in
                    root.find_all("svg", id="svg-rejected")[0].find_all("rect")] if root.find_all(
                        "svg", id="svg-rejected") else []
            return sum(bars) >= 6 and HARVESTER in "".join(
                t.all_text() for t in root.find_all("table", id="ban-table"))
        tree = self.wait_for_page(harvest_visible, "the harvest on the status page")
        self.assertEqual(tree.problems, [])
        root = tree.root
        for chart in ("accepted", "rejected", "deferred", "tarpitted", "bounces"):
            fig = root.find_all("figure", id="chart-" + chart)
            self.assertEqual(len(fig), 1, chart)
            svg = fig[0].find_all("svg")
            self.assertEqual(len(svg), 1)
            self.assertEqual(len(svg[0].find_all("rect")), 60, "one bar per minute of the last hour")
        rejected = sum(int(r.attrs["data-count"]) for r in root.find_all("svg", id="svg-rejected")[0].find_all("rect"))
        tarpitted = sum(int(r.attrs["data-count"]) for r in root.find_all("svg", id="svg-tarpitted")[0].find_all("rect"))
        accepted = sum(int(r.attrs["data-count"]) for r in root.find_all("svg", id="svg-accepted")[0].find_all("rect"))
        self.assertGreaterEqual(rejected, 6)
        self.assertGreater(tarpitted, 0)
        self.assertGreaterEqual(accepted, 2)
        rows = [r for r in root.find_all("table", id="ban-table")[0].find_all("tr") if r.attrs.get("class") == "banned"]
        self.assertEqual(len(rows), 1)
        cells = [td.all_text() for td in rows[0].find_all("td")]
        self.assertEqual(cells[0], HARVESTER)
        self.assertGreaterEqual(int(cells[1]), 10)
        self.assertEqual(cells[2], "banned")
        self.assertRegex(cells[3], r"^\d\d:\d\d:\d\d \(in (59m\d*s?|1h)\)$")
        self.assertIn("1 client is banned now", root.find_all("p", id="summary")[0].all_text())
        backends = root.find_all("table", id="backend-table")[0].all_text()
        self.assertIn("users", backends)
        self.assertIn("sqlite", backends)

    def test_rendered_in_headless_chromium_charts_and_ban_table_present_screenshot_written(self):
        self.wait_for_page(lambda root: HARVESTER in "".join(t.all_text() for t in root.find_all("table", id="ban-table")),
                           "the banned client on the page")
        url = "http://127.0.0.1:%d/" % self.mport
        dom = chromium("--dump-dom", url).stdout
        tree = Tree(dom)
        root = tree.root
        self.assertIn("rcptguard on", "".join(t.all_text() for t in root.find_all("title")))
        svgs = root.find_all("svg")
        ids = {s.attrs.get("id") for s in svgs}
        for chart in ("accepted", "rejected", "deferred", "tarpitted", "bounces"):
            self.assertIn("svg-" + chart, ids, "Chromium's DOM lacks the %s chart" % chart)
        spike = [int(r.attrs["data-count"]) for r in root.find_all("svg", id="svg-rejected")[0].find_all("rect")]
        self.assertGreaterEqual(max(spike), 1)
        table = root.find_all("table", id="ban-table")
        self.assertEqual(len(table), 1, "Chromium's DOM lacks the ban table")
        banned = [r for r in table[0].find_all("tr") if r.attrs.get("class") == "banned"]
        self.assertEqual([r.find_all("td")[0].all_text() for r in banned], [HARVESTER])
        self.assertEqual(root.find_all("script"), [])

        os.makedirs(OUTPUT_DIR, exist_ok=True)
        shot = os.path.join(OUTPUT_DIR, "status-page.png")
        if os.path.exists(shot):
            os.unlink(shot)
        chromium("--screenshot=" + shot, "--window-size=1280,1000", "--hide-scrollbars", url)
        with open(shot, "rb") as f:
            png = f.read()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(png), 20000, "a blank screenshot is a few kilobytes")
        print("[screenshot: %s] " % shot, end="", flush=True)


if __name__ == "__main__":
    unittest.main()
