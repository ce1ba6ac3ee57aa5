// Unit tests for the status page: what it shows (core/status.hpp, the
// recorder behind the charts) and how (milter/status_page.hpp, the HTML and
// SVG).
#include "core/status.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <set>
#include <thread>
#include <vector>

#include "core/control.hpp"
#include "core/tarpit/local_client_state.hpp"
#include "milter/status_page.hpp"
#include "tests/fakes/fake_backend.hpp"
#include "tests/fakes/fake_clock.hpp"

namespace rcptguard {
namespace {

using testing::FakeBackend;
using testing::FakeClock;

constexpr std::int64_t kT0 = 1'700'000'040;  // a whole minute

// A tag-balance check: every element that is not void is closed, in order.
// Enough to catch the mistakes a generator makes (a tag left open, a stray
// '<' from unescaped text).
std::string html_structure_problem(const std::string& html) {
    static const std::set<std::string> kVoid = {"meta", "br",  "hr",  "img",    "input", "link",  "area",
                                                "base", "col", "wbr", "source", "track", "embed", "param"};
    std::vector<std::string> open;
    std::size_t i = 0;
    if (html.rfind("<!DOCTYPE html>", 0) != 0) return "no doctype";
    i = html.find('>') + 1;
    while ((i = html.find('<', i)) != std::string::npos) {
        std::size_t end = html.find('>', i);
        if (end == std::string::npos) return "unterminated tag";
        std::string tag = html.substr(i + 1, end - i - 1);
        i = end + 1;
        if (tag.empty()) return "empty tag";
        bool closing = tag[0] == '/';
        bool self_closing = tag.back() == '/';
        std::string name;
        for (char c : tag.substr(closing ? 1 : 0)) {
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) break;
            name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        if (name.empty()) return "bad tag <" + tag + ">";
        if (name == "style") {  // raw text up to </style>
            std::size_t close = html.find("</style>", i);
            if (close == std::string::npos) return "style not closed";
            i = close + 8;
            continue;
        }
        if (closing) {
            if (open.empty() || open.back() != name)
                return "</" + name + "> does not close <" + (open.empty() ? "" : open.back()) + ">";
            open.pop_back();
        } else if (!self_closing && !kVoid.count(name)) {
            open.push_back(name);
        }
    }
    return open.empty() ? "" : "<" + open.back() + "> never closed";
}

class StatusTest : public ::testing::Test {
protected:
    void SetUp() override {
        setenv("TZ", "UTC", 1);
        tzset();
        backend_ = std::make_shared<FakeBackend>("users");
        backend_->add("alice@example.test");
        rt_ = std::make_shared<Runtime>();
        auto s = std::make_shared<Settings>();
        s->recipients.domains.add_exact("example.test");
        s->tarpit.ban.ban_threshold = 5;
        s->config_path = "/etc/rcptguard/rcptguard.conf";
        rt_->backends = {backend_};
        chain_ = std::make_shared<BackendChain>(rt_->backends, &metrics_);
        rt_->rules = std::make_shared<RecipientRules>(s->recipients, chain_);
        rt_->settings = s;
        rt_->serial = 3;
    }

    Metrics metrics_;
    FakeClock clock_;
    ClientTable clients_{1000, clock_};
    std::shared_ptr<FakeBackend> backend_;
    std::shared_ptr<BackendChain> chain_;
    std::shared_ptr<Runtime> rt_;
};

TEST_F(StatusTest, Recorder_CountsPerMinute_ChartsBackendsClientsAndFacts) {
    StatusRecorder rec(metrics_, 60);
    rec.sample(kT0, *rt_);
    bump(metrics_.rcpt_valid, 4);
    bump(metrics_.reply_550, 2);
    rec.sample(kT0 + 30, *rt_);
    // The next minute: a harvest.
    bump(metrics_.reply_550, 200);
    bump(metrics_.tarpit_delays, 150);
    bump(metrics_.tarpit_disconnects, 10);
    bump(metrics_.reply_451, 1);
    chain_->lookup({"alice@example.test"});
    chain_->lookup({"nosuch@example.test"});
    backend_->fail_everything(true);
    chain_->lookup({"alice@example.test"});
    rec.sample(kT0 + 65, *rt_);
    clients_.add_bad("192.0.2.66", 5, rt_->settings->tarpit.ban);
    clients_.add_bad("192.0.2.7", 2, rt_->settings->tarpit.ban);

    StatusSnapshot s = rec.snapshot(kT0 + 70, *rt_, clients_);
    EXPECT_EQ(s.newest_minute, (kT0 + 70) / 60);
    ASSERT_EQ(s.charts.size(), 5u);  // the monitor chart only in monitor mode or when it counted
    std::vector<std::string> ids;
    for (const auto& c : s.charts) ids.push_back(c.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"accepted", "rejected", "deferred", "tarpitted", "bounces"}));
    const StatusChart& rejected = s.charts[1];
    ASSERT_EQ(rejected.per_minute.size(), 60u);
    EXPECT_EQ(rejected.per_minute[58], 2u);
    EXPECT_EQ(rejected.per_minute[59], 200u);
    EXPECT_EQ(rejected.last_hour, 202u);
    EXPECT_EQ(s.charts[0].per_minute[58], 4u);
    EXPECT_EQ(s.charts[2].per_minute[59], 1u);
    EXPECT_EQ(s.charts[3].per_minute[59], 160u);

    ASSERT_EQ(s.backends.size(), 1u);
    const BackendStatus& b = s.backends[0];
    EXPECT_EQ(b.name, "users");
    EXPECT_EQ(b.type, "fake");
    EXPECT_EQ(b.lookups_per_minute[59], 3u);
    EXPECT_EQ(b.failures_per_minute[59], 1u);
    EXPECT_EQ(b.last_failure.reason, "fake outage");
    EXPECT_GT(b.last_failure.unix_time, 0);

    ASSERT_EQ(s.clients.size(), 2u);
    EXPECT_EQ(s.clients[0].key, "192.0.2.66");
    EXPECT_TRUE(s.clients[0].banned());
    EXPECT_EQ(s.clients[1].key, "192.0.2.7");
    EXPECT_EQ(s.generation, 3u);
    EXPECT_EQ(s.config_path, "/etc/rcptguard/rcptguard.conf");
}

TEST_F(StatusTest, Recorder_BackendLeavesTheConfiguration_Forgotten) {
    StatusRecorder rec(metrics_, 60);
    rec.sample(kT0, *rt_);
    auto other = std::make_shared<Runtime>(*rt_);
    auto dir = std::make_shared<FakeBackend>("directory");
    other->backends = {dir};
    rec.sample(kT0 + 1, *other);
    StatusSnapshot s = rec.snapshot(kT0 + 2, *other, clients_);
    ASSERT_EQ(s.backends.size(), 1u);
    EXPECT_EQ(s.backends[0].name, "directory");
}

// A domain_query that fails ("domains = backend:NAME") marks its backend
// failing for rcptguard-ctl status and the page: the domain lookups count
// under the backend's own name.
TEST_F(StatusTest, DomainQueryFails_BackendMarkedFailing_ThenRecovers) {
    backend_->add_domain("example.test");
    BackendChain domains({domain_query_view(backend_)}, &metrics_);
    backend_->fail_domains(true);
    EXPECT_EQ(domains.lookup({"example.test"}).status, LookupStatus::TempFail);
    BackendCounters& c = metrics_.backend("users");
    EXPECT_TRUE(c.last_failure().failing);
    EXPECT_EQ(c.last_failure().reason, "fake domain outage");
    EXPECT_EQ(c.tempfail.load(), 1u);
    backend_->fail_domains(false);
    EXPECT_EQ(domains.lookup({"example.test"}).status, LookupStatus::Found);
    EXPECT_FALSE(c.last_failure().failing);
    EXPECT_EQ(c.found.load(), 1u);
}

// One record behind both views: what rcptguard-ctl status says about a
// failing backend is what the status page shows, and so is its recovery.
TEST_F(StatusTest, BackendFailsThenRecovers_CtlStatusAndPageShowTheSameRecord) {
    LocalClientState clients{LocalStateOptions{1000, "mx1.example.test", "", nullptr}, clock_};
    rt_->all_backends = chain_;
    RuntimeHolder holder(rt_);
    ControlContext ctx{&holder, &clients, kT0, [] { return kT0 + 70; }};
    StatusRecorder rec(metrics_, 60);

    backend_->fail_everything(true);
    chain_->lookup({"alice@example.test"});
    BackendCounters::Failure f = rec.snapshot(kT0 + 70, *rt_, clients).backends.at(0).last_failure;
    ASSERT_TRUE(f.failing);
    EXPECT_EQ(f.reason, "fake outage");
    EXPECT_GT(f.unix_time, 0);
    std::string failed_line = "; 1 temporary failures since loaded; last error " + format_utc(f.unix_time);
    EXPECT_NE(control_answer("status", ctx).find("\nbackend users (fake): FAILING" + failed_line), std::string::npos);
    std::string html = render_status_page(rec.snapshot(kT0 + 70, *rt_, clients), "mx");
    EXPECT_NE(html.find("<tr class=\"failing\"><td><b>users</b> (fake)"), std::string::npos);
    EXPECT_NE(html.find("<td class=\"error\">fake outage <small>("), std::string::npos);

    backend_->fail_everything(false);
    chain_->lookup({"alice@example.test"});
    BackendCounters::Failure after = rec.snapshot(kT0 + 70, *rt_, clients).backends.at(0).last_failure;
    EXPECT_FALSE(after.failing);
    EXPECT_EQ(after.reason, "fake outage");
    EXPECT_EQ(after.unix_time, f.unix_time);
    EXPECT_GE(after.recovered_time, f.unix_time);
    EXPECT_NE(control_answer("status", ctx).find("\nbackend users (fake): ok" + failed_line), std::string::npos);
    html = render_status_page(rec.snapshot(kT0 + 70, *rt_, clients), "mx");
    EXPECT_NE(html.find("<tr><td><b>users</b> (fake)"), std::string::npos);
    EXPECT_NE(html.find("<td class=\"error\">fake outage <small>("), std::string::npos);
}

// Lookups on many threads write the one record at once (run under TSan by
// make tsan): every failure counted, and the last answer decides "failing".
TEST_F(StatusTest, ManyThreadsFailing_EveryFailureCounted_LastAnswerDecides) {
    backend_->fail_everything(true);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([this] {
            for (int i = 0; i < 200; ++i) chain_->lookup({"alice@example.test"});
        });
    for (auto& t : threads) t.join();
    std::vector<BackendHealth> health = chain_->health();
    ASSERT_EQ(health.size(), 1u);
    EXPECT_EQ(health[0].failures, 800u);
    EXPECT_TRUE(health[0].last_failure.failing);
    backend_->fail_everything(false);
    chain_->lookup({"alice@example.test"});
    EXPECT_FALSE(chain_->health()[0].last_failure.failing);
    EXPECT_EQ(metrics_.backend("users").tempfail.load(), 800u);
}

// A reload builds a new chain: its count starts again, but a backend whose
// last answer failed before the reload is still FAILING, with its reason.
TEST_F(StatusTest, ReloadWhileFailing_NewChainStillFailingWithReason) {
    LocalClientState clients{LocalStateOptions{1000, "mx1.example.test", "", nullptr}, clock_};
    backend_->fail_everything(true);
    chain_->lookup({"alice@example.test"});
    auto reloaded = std::make_shared<Runtime>(*rt_);
    reloaded->all_backends = std::make_shared<BackendChain>(rt_->backends, &metrics_);
    RuntimeHolder holder(reloaded);
    ControlContext ctx{&holder, &clients, kT0, [] { return kT0 + 70; }};
    std::vector<BackendHealth> health = reloaded->all_backends->health();
    ASSERT_EQ(health.size(), 1u);
    EXPECT_EQ(health[0].failures, 0u);
    EXPECT_TRUE(health[0].last_failure.failing);
    EXPECT_NE(control_answer("status", ctx)
                  .find("\nbackend users (fake): FAILING; 0 temporary failures since loaded; "
                        "last error " +
                        format_utc(health[0].last_failure.unix_time)),
              std::string::npos);
}

// The page lists at most kStatusClients, but its banner counts every ban.
TEST_F(StatusTest, MoreBannedClientsThanListed_BannerCountsThemAll) {
    const BanSettings& ban = rt_->settings->tarpit.ban;
    for (int i = 0; i < 60; ++i) clients_.add_bad("192.0.2." + std::to_string(i), ban.ban_threshold, ban);
    clients_.add_bad("198.51.100.1", 1, ban);  // counted, not banned
    StatusRecorder rec(metrics_, 60);
    StatusSnapshot s = rec.snapshot(kT0, *rt_, clients_);
    EXPECT_EQ(s.clients.size(), kStatusClients);
    EXPECT_EQ(s.clients_total, 61u);
    EXPECT_EQ(s.clients_banned, 60u);
    std::string html = render_status_page(s, "mx");
    EXPECT_NE(html.find("<b>60 clients are banned now</b>"), std::string::npos);
    EXPECT_NE(html.find("Showing 50 of 61 clients"), std::string::npos);
}

StatusSnapshot sample_snapshot() {
    StatusSnapshot s;
    s.version = "0.9.0";
    s.now = kT0 + 70;
    s.start_time = kT0 - 3600;
    s.newest_minute = (kT0 + 70) / 60;
    s.minutes = 60;
    for (const char* id : {"accepted", "rejected", "deferred", "tarpitted", "bounces"}) {
        StatusChart c;
        c.id = id;
        c.title = std::string("Chart ") + id;
        c.help = "what <is> counted";
        c.per_minute.assign(60, 0);
        s.charts.push_back(c);
    }
    s.charts[1].per_minute[57] = 3;
    s.charts[1].per_minute[58] = 100;  // the spike
    s.charts[1].last_hour = 103;
    BackendStatus b;
    b.name = "users";
    b.type = "sqlite";
    b.lookups_per_minute.assign(60, 1);
    b.failures_per_minute.assign(60, 0);
    b.last_failure.reason = "database <locked> & \"busy\"";
    b.last_failure.unix_time = kT0;
    s.backends.push_back(b);
    s.clients.push_back({"192.0.2.66", 31, std::chrono::minutes(59), ""});
    s.clients.push_back({"<script>alert(1)</script>", 2, Millis(0), ""});
    s.clients_total = 2;
    s.clients_banned = 1;
    s.ban_threshold = 30;
    s.ban_window = std::chrono::minutes(10);
    s.ban_time = std::chrono::hours(1);
    s.cache_enabled = true;
    s.cache_hits_last_hour = 9;
    s.cache_requests_last_hour = 10;
    s.generation = 2;
    s.config_path = "/etc/rcptguard/rcptguard.conf";
    s.config_loaded = kT0 - 60;
    return s;
}

TEST_F(StatusTest, Page_WellFormedSelfContainedAndRefreshing) {
    std::string html = render_status_page(sample_snapshot(), "mx.example.test");
    EXPECT_EQ(html_structure_problem(html), "");
    EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
    EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"30\">"), std::string::npos);
    EXPECT_NE(html.find("<title>rcptguard on mx.example.test</title>"), std::string::npos);
    // Nothing to fetch, nothing to run: no script, no external reference.
    for (const char* forbidden : {"<script", "src=", "<link", "@import", "url(", "https:"})
        EXPECT_EQ(html.find(forbidden), std::string::npos) << forbidden;
    // (Plain string handling: std::regex trips a GCC 12 false warning under
    // the sanitizer builds' -Werror.)
    std::size_t links = 0;
    for (std::size_t at = html.find("href=\""); at != std::string::npos; at = html.find("href=\"", at + 1)) {
        std::size_t start = at + 6;
        EXPECT_EQ(html.substr(start, html.find('"', start) - start), "/metrics");
        ++links;
    }
    EXPECT_GT(links, 0u);
}

TEST_F(StatusTest, Page_ChartsAsInlineSvg_SpikeIsTheTallestBar) {
    std::string html = render_status_page(sample_snapshot(), "mx");
    for (const char* id : {"accepted", "rejected", "deferred", "tarpitted", "bounces"}) {
        EXPECT_NE(html.find(std::string("<figure class=\"chart\" id=\"chart-") + id + "\">"), std::string::npos);
        EXPECT_NE(html.find(std::string("<svg class=\"bars\" id=\"svg-") + id + "\""), std::string::npos);
    }
    // The 100 reaches the top of the scale (100), the 3 a small fraction of it.
    std::string rejected = html.substr(html.find("id=\"svg-rejected\""));
    rejected = rejected.substr(0, rejected.find("</svg>"));
    // The height="..." of the element that carries data-count="N".
    auto bar_height = [&](const std::string& n) -> std::string {
        std::size_t at = rejected.find(" data-count=\"" + n + "\"");
        if (at == std::string::npos) return "";
        std::size_t h = rejected.find("height=\"", rejected.rfind('<', at));
        if (h == std::string::npos || h > at) return "";
        h += 8;
        return rejected.substr(h, rejected.find('"', h) - h);
    };
    ASSERT_NE(bar_height("100"), "");
    ASSERT_NE(bar_height("3"), "");
    double spike = std::stod(bar_height("100"));
    double small = std::stod(bar_height("3"));
    EXPECT_DOUBLE_EQ(spike, 150 - 10 - 24);
    EXPECT_LT(small, spike / 10);
    EXPECT_NE(rejected.find("<title>22:14: 100</title>"), std::string::npos);  // per-bar tooltip, local time
    EXPECT_NE(html.find("103 in the last hour"), std::string::npos);
}

TEST_F(StatusTest, Page_BanTableAndBackends_HostileTextEscaped) {
    std::string html = render_status_page(sample_snapshot(), "mx");
    EXPECT_NE(html.find("<table id=\"ban-table\">"), std::string::npos);
    EXPECT_NE(html.find("<tr class=\"banned\"><td class=\"client\">192.0.2.66</td><td class=\"num\">31</td>"
                        "<td class=\"state\">banned</td><td>23:14:10 (in 59m)</td></tr>"),
              std::string::npos);
    EXPECT_NE(html.find("1 client is banned now"), std::string::npos);
    EXPECT_EQ(html.find("<script>alert(1)</script>"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find("database &lt;locked&gt; &amp; &quot;busy&quot;"), std::string::npos);
    EXPECT_NE(html.find("<table id=\"backend-table\">"), std::string::npos);
    EXPECT_NE(html.find("90.0% in the last hour (9 of 10)"), std::string::npos);
    EXPECT_NE(html.find("generation 2, loaded 2023-11-14 22:13:00"), std::string::npos);
    EXPECT_EQ(html_structure_problem(html), "");
}

TEST_F(StatusTest, Page_NoClients_EmptyBanTableStillThere) {
    StatusSnapshot s = sample_snapshot();
    s.clients.clear();
    s.clients_total = 0;
    s.clients_banned = 0;
    std::string html = render_status_page(s, "mx");
    EXPECT_NE(html.find("<table id=\"ban-table\">"), std::string::npos);
    EXPECT_NE(html.find("No client sent a bad recipient within the last 10m."), std::string::npos);
    EXPECT_NE(html.find("No client is banned now."), std::string::npos);
    EXPECT_EQ(html_structure_problem(html), "");
}

TEST(HtmlEscape, EveryMarkupCharacter) {
    EXPECT_EQ(html_escape("<a href='x'>\"&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
}

}  // namespace
}  // namespace rcptguard
