// metrics_http: the optional statistics listener (metrics_listen) serving
// Metrics::prometheus_text() at /metrics and the status page
// (milter/status_page) at /, and the client side used by "rcptguard -s".
// Read-only: GET (and HEAD) only, nothing can be changed through it. HTTP comes from cpp-httplib (Debian
// libcpp-httplib-dev): a well-kept library rather than a hand-written HTTP parser on a socket that faces the network.
// Thread-safety: start_metrics_server() runs the server on its own threads
// (two workers); fetch_metrics() is a plain blocking client call.
#pragma once

#include <functional>
#include <string>

#include "util/metrics.hpp"

namespace rcptguard {

// Binds host:port and serves in the background; returns "" or why it failed.
// status_page renders the page for "/" (called on the server's threads).
std::string start_metrics_server(const std::string& host, int port, Metrics& metrics,
                                 std::function<std::string()> status_page);

// GETs http://host:port/metrics; returns false with *error on failure.
bool fetch_metrics(const std::string& host, int port, std::string* body, std::string* error);

}  // namespace rcptguard
