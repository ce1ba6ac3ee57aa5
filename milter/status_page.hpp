// status_page: the status page served at "/" on metrics_listen - one
// self-contained HTML document (inline CSS and inline SVG, no script, no
// font, no external resource of any kind, so it works offline and under a
// Content-Security-Policy of "default-src 'none'") that refreshes itself.
//
// It shows, from a StatusSnapshot (core/status.hpp): per-minute bar charts
// of the last hour (accepted, rejected, deferred, tarpitted recipients,
// stripped bounces; each on its own scale, so a harvest attack stands out as
// a spike), the clients the tarpit counts or bans with their counts and ban
// expiry, each backend's lookups and failures per minute, latency and last
// error, the cache's hit ratio, and the configuration's generation and load
// time. Every text taken from outside (client keys, backend errors, paths)
// is made printable and HTML-escaped.
//
// Pure text generation: no libmilter, no sockets, no clock (times come in the
// snapshot and are shown in the local time zone), so it is unit-tested.
// Thread-safety: a pure function.
#pragma once

#include <string>

#include "core/status.hpp"

namespace rcptguard {

constexpr int kStatusRefreshSeconds = 30;

// host: the machine's name, for the title.
std::string render_status_page(const StatusSnapshot& s, const std::string& host);

// The same escaping the page uses (& < > " '), for tests and callers.
std::string html_escape(std::string_view text);

}  // namespace rcptguard
