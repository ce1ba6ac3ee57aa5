// status_page: see status_page.hpp.
#include "milter/status_page.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "util/duration.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

// Chart geometry (SVG user units).
constexpr int kWidth = 600;
constexpr int kHeight = 150;
constexpr int kLeft = 46;
constexpr int kRight = 8;
constexpr int kTop = 10;
constexpr int kBottom = 24;

const char* color_of(const std::string& id) {
    if (id == "accepted") return "#2e7d32";
    if (id == "rejected") return "#c62828";
    if (id == "deferred") return "#ef6c00";
    if (id == "tarpitted") return "#6a1b9a";
    if (id == "bounces") return "#1565c0";
    return "#616161";
}

std::string text(std::string_view untrusted, std::size_t max_len = 300) {
    return html_escape(printable(untrusted, max_len));
}

enum class TimeShape { Minute, Second, DateTime, DateTimeZone };

// Local time as the server's clock shows it (formats spelled out: -Wformat=2).
std::string clock_time(std::int64_t unix_seconds, TimeShape shape) {
    time_t t = static_cast<time_t>(unix_seconds);
    struct tm tm;
    if (!localtime_r(&t, &tm)) return "?";
    char buf[64];
    std::size_t n = 0;
    switch (shape) {
        case TimeShape::Minute: n = strftime(buf, sizeof buf, "%H:%M", &tm); break;
        case TimeShape::Second: n = strftime(buf, sizeof buf, "%H:%M:%S", &tm); break;
        case TimeShape::DateTime: n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm); break;
        case TimeShape::DateTimeZone: n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm); break;
    }
    return n ? std::string(buf, n) : std::string("?");
}

std::string ago(std::int64_t now, std::int64_t then) {
    if (then <= 0) return "never";
    std::int64_t d = now - then;
    if (d < 0) d = 0;
    return format_duration(std::chrono::seconds(d)) + " ago";
}

// The smallest of 2, 5, 10, 20, 50, ... at or above n: round scale tops with
// a middle line that is a round number too (2.5 for 5).
std::uint64_t nice_top(std::uint64_t n) {
    std::uint64_t base = 1;
    for (;;) {
        for (std::uint64_t f : {1, 2, 5})
            if (f * base >= n && f * base >= 2) return f * base;
        if (base > UINT64_MAX / 10) return n;
        base *= 10;
    }
}

std::string number(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
    if (whole == 0) return "&ndash;";
    return number(100.0 * static_cast<double>(part) / static_cast<double>(whole), 1) + "%";
}

// One bar chart: a bar per minute, the newest (unfinished) one lighter.
void bar_chart(std::ostringstream& o, const StatusChart& c, std::int64_t newest_minute) {
    const std::size_t n = c.per_minute.size();
    const std::uint64_t peak = n ? *std::max_element(c.per_minute.begin(), c.per_minute.end()) : 0;
    const std::uint64_t top = nice_top(peak);
    const double plot_w = kWidth - kLeft - kRight;
    const double plot_h = kHeight - kTop - kBottom;
    const double slot = n ? plot_w / static_cast<double>(n) : plot_w;
    const char* color = color_of(c.id);
    o << "<svg class=\"bars\" id=\"svg-" << c.id << "\" viewBox=\"0 0 " << kWidth << " " << kHeight << "\" width=\""
      << kWidth << "\" height=\"" << kHeight << "\" role=\"img\" aria-labelledby=\"title-" << c.id
      << "\" xmlns=\"http://www.w3.org/2000/svg\">"
      << "<title id=\"title-" << c.id << "\">" << html_escape(c.title) << " per minute, last " << n << " minutes; peak "
      << peak << "</title>";
    // Scale: 0, half, top.
    for (int i = 0; i <= 2; ++i) {
        double y = kTop + plot_h - plot_h * i / 2.0;
        std::string label = number(static_cast<double>(top) * i / 2.0, (top * static_cast<unsigned>(i)) % 2 ? 1 : 0);
        o << "<line class=\"grid\" x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << number(y, 1)
          << "\" y2=\"" << number(y, 1) << "\"/>"
          << "<text class=\"ylabel\" x=\"" << kLeft - 6 << "\" y=\"" << number(y + 4, 1) << "\">" << label << "</text>";
    }
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t v = c.per_minute[i];
        std::int64_t minute = newest_minute - static_cast<std::int64_t>(n - 1 - i);
        double h = plot_h * static_cast<double>(v) / static_cast<double>(top);
        if (v > 0 && h < 1.5) h = 1.5;  // a single event stays visible
        double x = kLeft + slot * static_cast<double>(i) + slot * 0.1;
        o << "<rect class=\"bar" << (i + 1 == n ? " now" : "") << "\" x=\"" << number(x, 1) << "\" y=\""
          << number(kTop + plot_h - h, 1) << "\" width=\"" << number(slot * 0.8, 1) << "\" height=\"" << number(h, 1)
          << "\" fill=\"" << color << "\" data-count=\"" << v << "\"><title>"
          << clock_time(minute * 60, TimeShape::Minute) << ": " << v << "</title></rect>";
    }
    // Time axis: every quarter of the span, and the newest minute.
    for (std::size_t i = 0; i < n; i += std::max<std::size_t>(n / 4, 1)) {
        std::int64_t minute = newest_minute - static_cast<std::int64_t>(n - 1 - i);
        o << "<text class=\"xlabel\" x=\"" << number(kLeft + slot * (static_cast<double>(i) + 0.5), 1) << "\" y=\""
          << kHeight - 6 << "\">" << clock_time(minute * 60, TimeShape::Minute) << "</text>";
    }
    if (n)
        o << "<text class=\"xlabel\" x=\"" << number(kLeft + slot * (static_cast<double>(n) - 0.5), 1) << "\" y=\""
          << kHeight - 6 << "\">now</text>";
    o << "</svg>";
}

// A small bar line for a table cell.
void sparkline(std::ostringstream& o, const std::vector<std::uint64_t>& v, const char* color, const char* label) {
    const int w = 120, h = 24;
    std::uint64_t top = v.empty() ? 1 : std::max<std::uint64_t>(*std::max_element(v.begin(), v.end()), 1);
    double slot = v.empty() ? w : static_cast<double>(w) / static_cast<double>(v.size());
    o << "<svg class=\"spark\" viewBox=\"0 0 " << w << " " << h << "\" width=\"" << w << "\" height=\"" << h
      << "\" role=\"img\" aria-label=\"" << label << "\" xmlns=\"http://www.w3.org/2000/svg\">";
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == 0) continue;
        double bh = std::max(1.0, (h - 2) * static_cast<double>(v[i]) / static_cast<double>(top));
        o << "<rect x=\"" << number(slot * static_cast<double>(i), 1) << "\" y=\"" << number(h - bh, 1) << "\" width=\""
          << number(std::max(slot * 0.8, 0.8), 1) << "\" height=\"" << number(bh, 1) << "\" fill=\"" << color << "\"/>";
    }
    o << "</svg>";
}

const char* kStyle = R"CSS(
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1c2330; background: #f4f5f7; }
header { background: #1c2330; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; font-weight: 600; }
header h1 small { font-weight: 400; opacity: .75; margin-left: .5em; }
header p { margin: 4px 0 0; opacity: .85; }
header a { color: #9ecbff; }
main { padding: 8px 24px 24px; }
h2 { font-size: 16px; margin: 22px 0 8px; }
.alert { background: #fdecea; border: 1px solid #f5c2c0; color: #8a1c17; padding: 8px 12px; border-radius: 6px; margin-top: 14px; }
.calm { background: #e8f5e9; border: 1px solid #b9dfbb; color: #1e5a22; padding: 8px 12px; border-radius: 6px; margin-top: 14px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(610px, 1fr)); gap: 12px; }
figure.chart { margin: 0; background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 10px 12px; }
figure.chart figcaption { display: flex; justify-content: space-between; gap: 12px; }
figure.chart figcaption b { font-weight: 600; }
figure.chart figcaption span { color: #5a6472; }
figure.chart p.help { margin: 2px 0 0; color: #6b7480; font-size: 12px; }
svg.bars { display: block; max-width: 100%; height: auto; }
svg.bars .grid { stroke: #e3e6ea; stroke-width: 1; }
svg.bars .ylabel { font-size: 11px; fill: #6b7480; text-anchor: end; }
svg.bars .xlabel { font-size: 11px; fill: #6b7480; text-anchor: middle; }
svg.bars rect.now { opacity: .45; }
table { border-collapse: collapse; background: #fff; border: 1px solid #dde1e6; border-radius: 8px; min-width: 60%; }
th, td { text-align: left; padding: 6px 12px; border-bottom: 1px solid #eceef1; vertical-align: middle; }
th { background: #f8f9fb; font-weight: 600; font-size: 13px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.banned td.state { color: #c62828; font-weight: 600; }
td.error { color: #8a1c17; max-width: 40em; overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 4px 16px; background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 10px 14px; margin: 0; max-width: 60em; }
dl.facts dt { color: #5a6472; }
dl.facts dd { margin: 0; }
p.note { color: #5a6472; margin: 4px 0 8px; }
footer { color: #6b7480; font-size: 12px; padding: 0 24px 24px; }
)CSS";

void charts_section(std::ostringstream& o, const StatusSnapshot& s) {
    o << "<section id=\"traffic\"><h2>Recipients per minute, last " << s.minutes << " minutes</h2>"
      << "<div class=\"charts\">";
    for (const StatusChart& c : s.charts) {
        std::uint64_t now = c.per_minute.empty() ? 0 : c.per_minute.back();
        o << "<figure class=\"chart\" id=\"chart-" << c.id << "\"><figcaption><b>" << html_escape(c.title)
          << "</b><span>" << c.last_hour << " in the last hour &middot; " << now << " this minute &middot; "
          << c.since_start << " since start</span></figcaption>";
        bar_chart(o, c, s.newest_minute);
        o << "<p class=\"help\">" << html_escape(c.help) << "</p></figure>";
    }
    o << "</div></section>";
}

void clients_section(std::ostringstream& o, const StatusSnapshot& s) {
    o << "<section id=\"clients\"><h2>Clients counted or banned now</h2><p class=\"note\">";
    if (s.ban_threshold > 0)
        o << "A client is banned for " << format_duration(s.ban_time) << " after " << s.ban_threshold
          << " bad recipients within " << format_duration(s.ban_window)
          << "; the ban is applied at RCPT time (421 4.7.0).";
    else
        o << "Bans are off (ban_threshold = 0); bad recipients are still counted per connection.";
    o << " " << s.clients_remembered << (s.clients_remembered == 1 ? " client" : " clients")
      << " remembered in all.</p>";
    o << "<table id=\"ban-table\"><thead><tr><th>Client</th><th>Bad recipients within " << format_duration(s.ban_window)
      << "</th><th>State</th><th>Ban ends</th></tr></thead><tbody>";
    if (s.clients.empty())
        o << "<tr class=\"empty\"><td colspan=\"4\">No client sent a bad recipient within the last "
          << format_duration(s.ban_window) << ".</td></tr>";
    for (const ClientRecord& c : s.clients) {
        bool banned = c.banned();
        o << "<tr class=\"" << (banned ? "banned" : "counted") << "\"><td class=\"client\">" << text(c.key, 80)
          << "</td><td class=\"num\">" << c.bad_in_window << "</td><td class=\"state\">"
          << (banned ? "banned" : "counted") << "</td><td>";
        if (banned) {
            std::int64_t ends = s.now + std::chrono::duration_cast<std::chrono::seconds>(c.ban_left).count();
            o << clock_time(ends, TimeShape::Second) << " (in " << format_duration(c.ban_left) << ")";
        } else {
            o << "&ndash;";
        }
        o << "</td></tr>";
    }
    o << "</tbody></table>";
    if (s.clients_total > s.clients.size())
        o << "<p class=\"note\">Showing " << s.clients.size() << " of " << s.clients_total
          << " clients (banned first, then by bad recipients).</p>";
    o << "</section>";
}

void backends_section(std::ostringstream& o, const StatusSnapshot& s) {
    o << "<section id=\"backends\"><h2>Backends</h2><table id=\"backend-table\"><thead><tr><th>Backend</th>"
         "<th>Lookups per minute</th><th>Last hour</th><th>Failures per minute</th><th>Last hour</th>"
         "<th>Average latency</th><th>Last error</th></tr></thead><tbody>";
    for (const BackendStatus& b : s.backends) {
        const BackendCounters::Failure& f = b.last_failure;
        o << "<tr" << (f.failing ? " class=\"failing\"" : "") << "><td><b>" << text(b.name, 64) << "</b> ("
          << text(b.type, 32) << ")</td><td>";
        sparkline(o, b.lookups_per_minute, "#1565c0", "lookups per minute");
        o << "</td><td class=\"num\">" << b.lookups_last_hour << "</td><td>";
        sparkline(o, b.failures_per_minute, "#c62828", "failures per minute");
        o << "</td><td class=\"num\">" << b.failures_last_hour << "</td><td class=\"num\">"
          << (b.lookups_last_hour ? number(b.average_millis_last_hour, 2) + " ms" : std::string("&ndash;"))
          << "</td><td class=\"error\">";
        if (f.unix_time == 0)
            o << "none since start";
        else
            o << text(f.reason) << " <small>(" << clock_time(f.unix_time, TimeShape::Second) << ", "
              << ago(s.now, f.unix_time) << ")</small>";
        o << "</td></tr>";
    }
    o << "</tbody></table></section>";
}

void facts_section(std::ostringstream& o, const StatusSnapshot& s) {
    o << "<section id=\"facts\"><h2>Cache and configuration</h2><dl class=\"facts\">";
    o << "<dt>Cache hit ratio</dt><dd id=\"cache-ratio\">";
    if (!s.cache_enabled)
        o << "cache off (cache = no)";
    else
        o << percent(s.cache_hits_last_hour, s.cache_requests_last_hour) << " in the last hour ("
          << s.cache_hits_last_hour << " of " << s.cache_requests_last_hour << "), "
          << percent(s.cache_hits_since_start, s.cache_requests_since_start) << " since start; " << s.cache_entries
          << " entries";
    o << "</dd>";
    o << "<dt>Configuration</dt><dd id=\"config\">generation " << s.generation << ", loaded "
      << clock_time(s.config_loaded, TimeShape::DateTime) << " (" << ago(s.now, s.config_loaded) << ") from "
      << text(s.config_path, 200) << "</dd>";
    o << "<dt>Last reload</dt><dd>";
    if (s.last_reload <= 0 || s.last_reload == s.config_loaded)
        o << (s.generation > 1 ? "succeeded" : "none since start");
    else
        o << (s.last_reload_ok ? "succeeded " : "<b>failed</b> (the running configuration stays) ")
          << clock_time(s.last_reload, TimeShape::Second) << " (" << ago(s.now, s.last_reload) << ")";
    o << "</dd><dt>Mode</dt><dd>" << (s.monitor ? "monitor: refusals are only logged" : "enforce") << "</dd>";
    o << "<dt>MTA connections open</dt><dd>" << s.connections << "</dd>";
    o << "<dt>Running since</dt><dd>" << clock_time(s.start_time, TimeShape::DateTime) << " ("
      << ago(s.now, s.start_time) << ")</dd>";
    o << "</dl></section>";
}

}  // namespace

std::string html_escape(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (char c : in) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out.push_back(c);
        }
    }
    return out;
}

std::string render_status_page(const StatusSnapshot& s, const std::string& host) {
    std::ostringstream o;
    std::string who = text(host, 100);
    o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta http-equiv=\"refresh\" content=\"" << kStatusRefreshSeconds << "\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>rcptguard on " << who << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
    o << "<header><h1>rcptguard<small>" << text(s.version, 40) << " on " << who << "</small></h1><p>"
      << clock_time(s.now, TimeShape::DateTimeZone) << " &middot; refreshes every " << kStatusRefreshSeconds
      << "s &middot; up " << format_duration(std::chrono::seconds(std::max<std::int64_t>(s.now - s.start_time, 0)))
      << " &middot; configuration generation " << s.generation << " &middot; mode "
      << (s.monitor ? "monitor" : "enforce") << " &middot; counters: <a href=\"/metrics\">/metrics</a></p></header>\n";
    o << "<main>\n";
    std::size_t banned = s.clients_banned;
    if (banned > 0)
        o << "<p class=\"alert\" id=\"summary\"><b>" << banned << (banned == 1 ? " client is" : " clients are")
          << " banned now</b> for sending too many bad recipients; see below.</p>";
    else
        o << "<p class=\"calm\" id=\"summary\">No client is banned now.</p>";
    charts_section(o, s);
    clients_section(o, s);
    backends_section(o, s);
    facts_section(o, s);
    o << "\n</main>\n<footer>Read-only. Bars: one per minute, newest (unfinished) on the right and lighter; "
         "each chart has its own scale. Times are local to the server.</footer>\n</body>\n</html>\n";
    return o.str();
}

}  // namespace rcptguard
