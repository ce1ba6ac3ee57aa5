// metrics_http: see metrics_http.hpp.
#include "milter/metrics_http.hpp"

#include <httplib.h>

#include <thread>

#include "util/log.hpp"
#include "util/socket_spec.hpp"

namespace rcptguard {

std::string start_metrics_server(const std::string& host, int port, Metrics& metrics,
                                 std::function<std::string()> status_page) {
    // Leaked on purpose: it serves until the process exits (see main.cpp).
    auto* server = new httplib::Server;
    server->new_task_queue = [] { return new httplib::ThreadPool(2); };
    server->set_read_timeout(5, 0);
    server->set_write_timeout(5, 0);
    server->Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics.prometheus_text(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server->Get("/", [status_page = std::move(status_page)](const httplib::Request&, httplib::Response& res) {
        // Self-contained by construction; the policy makes sure a browser
        // loads nothing else either (and runs no script at all).
        res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_header("Referrer-Policy", "no-referrer");
        res.set_header("Cache-Control", "no-store");
        res.set_content(status_page(), "text/html; charset=utf-8");
    });
    if (!server->bind_to_port(host, port)) {
        delete server;
        std::string why = tcp_listen_problem(host, port);
        return "cannot listen on " + host + ":" + std::to_string(port) + (why.empty() ? "" : ": " + why);
    }
    std::thread([server] {
        if (!server->listen_after_bind()) log_error("metrics: listener stopped");
    }).detach();
    return "";
}

bool fetch_metrics(const std::string& host, int port, std::string* body, std::string* error) {
    httplib::Client client(host, port);
    client.set_connection_timeout(3, 0);
    client.set_read_timeout(5, 0);
    auto res = client.Get("/metrics");
    if (!res) {
        *error = "cannot reach " + host + ":" + std::to_string(port) + ": " + httplib::to_string(res.error());
        return false;
    }
    if (res->status != 200) {
        *error = "HTTP status " + std::to_string(res->status) + " from " + host + ":" + std::to_string(port);
        return false;
    }
    *body = res->body;
    return true;
}

}  // namespace rcptguard
