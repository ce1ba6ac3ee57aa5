// Unit tests for the statistics (util/metrics.hpp): every declared series is
// rendered, with its HELP and TYPE once per family, and counters count.
#include "util/metrics.hpp"

#include <gtest/gtest.h>

#include <set>

namespace rcptguard {
namespace {

// The rendered series names ("family" or "family{labels}"), one per sample line.
std::set<std::string> rendered_series(const std::string& text) {
    std::set<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        if (line.empty() || line[0] == '#') continue;
        out.insert(line.substr(0, line.rfind(' ')));
    }
    return out;
}

TEST(Metrics, EveryDeclaredSeries_Rendered) {
    Metrics m;
    m.backend("users");
    std::set<std::string> got = rendered_series(m.prometheus_text());
    std::vector<std::string> declared = declared_series();
    EXPECT_GT(declared.size(), 40u);
    for (std::string name : declared) {
        auto star = name.find("backend=\"*\"");
        if (star != std::string::npos) name.replace(star, 11, "backend=\"users\"");
        EXPECT_TRUE(got.count(name)) << name << " is declared but not in the output";
    }
    // And nothing is rendered that is not declared.
    EXPECT_EQ(got.size(), declared.size());
}

TEST(Metrics, HelpAndTypeOncePerFamily) {
    Metrics m;
    std::string text = m.prometheus_text();
    for (const char* family : {"rcptguard_recipients_total", "rcptguard_replies_total", "rcptguard_batv_total"}) {
        std::string help = std::string("# HELP ") + family + " ";
        std::string type = std::string("# TYPE ") + family + " counter\n";
        auto first = text.find(help);
        ASSERT_NE(first, std::string::npos) << family;
        EXPECT_EQ(text.find(help, first + 1), std::string::npos) << family;
        EXPECT_NE(text.find(type), std::string::npos) << family;
    }
    EXPECT_NE(text.find("# TYPE rcptguard_connections gauge\n"), std::string::npos);
}

TEST(Metrics, CountersAndScaledValues) {
    Metrics m;
    bump(m.reply_550, 3);
    bump(m.tarpit_delay_millis, 1500);
    bump(m.policy_connections_total);
    bump(m.backend("dir").lookup_micros, 2500000);
    bump(m.backend("dir").tempfail);
    m.set_refresh([](Metrics& x) { x.cache_entries.store(42); });
    std::string text = m.prometheus_text();
    EXPECT_NE(text.find("\nrcptguard_replies_total{code=\"550\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nrcptguard_tarpit_delay_seconds_total 1.5\n"), std::string::npos);
    EXPECT_NE(text.find("\nrcptguard_policy_connections_total 1\n"), std::string::npos);
    EXPECT_NE(text.find("\nrcptguard_backend_lookup_seconds_total{backend=\"dir\"} 2.5\n"), std::string::npos);
    EXPECT_NE(text.find("\nrcptguard_backend_lookups_total{backend=\"dir\",result=\"tempfail\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("\nrcptguard_cache_entries 42\n"), std::string::npos);
    EXPECT_NE(text.find("\nrcptguard_build_info{version=\"" RCPTGUARD_VERSION "\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace rcptguard
