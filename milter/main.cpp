// main: command line, configuration, privileges, signals, smfi_main.
//
// Signals (see doc/platform.md §1): every signal we or libmilter
// wait for is blocked here before any thread exists, so no thread ever takes
// one with its default action. The main thread waits for SIGTERM, SIGHUP and
// SIGINT (milter/listener.cpp) and stops without asking libmilter to
// (doc/platform.md §1.3); our reload thread waits for SIGUSR1 and swaps in a
// new configuration snapshot.
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <thread>

#include "backends/ldap/ldap_connection.hpp"
#include "backends/mysql/mysql_connection.hpp"
#include "backends/pgsql/pgsql_connection.hpp"
#include "backends/sqlite/sqlite_backend.hpp"
#include "core/query.hpp"
#include "core/runtime.hpp"
#include "core/status.hpp"
#include "milter/callbacks.hpp"
#include "milter/control_socket.hpp"
#include "milter/daemon.hpp"
#include "milter/listener.hpp"
#include "milter/metrics_http.hpp"
#include "milter/status_page.hpp"
#include "policyd/policy_service.hpp"
#include "util/log.hpp"
#include "util/network.hpp"
#include "util/paths.hpp"
#include "util/socket_spec.hpp"
#include "util/text.hpp"
#include "util/version.hpp"

namespace rcptguard {
namespace {

// Exit codes from sysexits.h, for the cases that are not -q verdicts.
constexpr int kExitUsage = 64;
constexpr int kExitSoftware = 70;
constexpr int kExitConfig = 78;
// Enough for SQLite, libldap and GnuTLS handshakes; far below glibc's 8 MiB.
constexpr std::size_t kThreadStackBytes = 512 * 1024;

struct Options {
    std::string config = kDefaultConfigPath;
    bool foreground = false;
    bool check_only = false;
    bool stats = false;
    bool query = false;
    std::string query_address;
    std::optional<std::string> query_sender;  // -S: judge the recipient as for mail from this sender
};

void usage(std::ostream& out) {
    out << "usage: rcptguard [-f] [-c FILE]        run the milter\n"
           "       rcptguard -n [-c FILE]          check the configuration and exit\n"
           "       rcptguard -q ADDRESS [-S SENDER] [-c FILE]\n"
           "                                       print the verdict for one recipient\n"
           "       rcptguard -s [-c FILE]          print the running daemon's statistics\n"
           "       rcptguard -V | -h\n"
           "  -c FILE  configuration file (default "
        << kDefaultConfigPath
        << ")\n"
           "  -f       stay in the foreground and log to stderr as well as syslog\n"
           "  -n       check the configuration: exit 0 if good, else print file:line: key: problem\n"
           "  -q ADDR  exit 0 valid, 1 unknown (550), 2 temporary failure (451), 3 not our domain\n"
           "  -S FROM  with -q: the envelope sender (\"<>\" for a bounce), for BATV's checks\n"
           "  -s       fetch statistics from metrics_listen (Prometheus text format)\n"
           "  -V       print the version\n"
           "  -h       this help\n"
           "See rcptguard(8) and rcptguard.conf(5).\n";
}

// Daemon-wide state shared by reloads: statistics and the clock.
Metrics& daemon_metrics() {
    static Metrics* m = new Metrics;  // never destroyed: callbacks may outlive main
    return *m;
}
const SteadyClock& daemon_clock() {
    static const SteadyClock* c = new SteadyClock;
    return *c;
}
RuntimeContext daemon_context() { return RuntimeContext{&daemon_metrics(), &daemon_clock()}; }
std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

void reload(RuntimeHolder* holder, const std::string& path) {
    auto running = holder->get();
    try {
        auto fresh = build_runtime(path, running->serial + 1, daemon_context());
        // A query the database refuses would answer every lookup 451: keep
        // the running configuration instead.
        if (!fresh->query_problems.empty()) {
            std::string all;
            for (const auto& q : fresh->query_problems) all += (all.empty() ? "" : "\n") + q;
            throw std::runtime_error(all);
        }
        for (const auto& key : restart_only_changes(*running->settings, *fresh->settings))
            log_warning("reload: " + key + " changed: takes effect only after a restart");
        for (const auto& w : fresh->warnings) log_warning(w);
        set_log_level(fresh->settings->log.level);
        holder->publish(fresh);
        // What changed first, so the summary line below ends the report.
        std::vector<ConfigChange> changes = config_changes(running->source, fresh->source);
        for (const auto& c : changes) log_event("reload: changed " + describe(c));
        log_event("reload: configuration " + path + " loaded (" + std::to_string(fresh->backends.size()) +
                  " backends, generation " + std::to_string(fresh->serial) + ", " +
                  (changes.empty()       ? std::string("nothing changed")
                   : changes.size() == 1 ? std::string("1 change")
                                         : std::to_string(changes.size()) + " changes") +
                  ")");
        bump(daemon_metrics().reloads);
        daemon_metrics().last_reload_success.store(1);
        daemon_metrics().last_reload_time.store(unix_now());
        daemon_metrics().config_load_time.store(unix_now());
    } catch (const std::exception& e) {
        // One line per problem (a configuration error lists them all).
        for_each_line(e.what(), [](std::string_view line, int) {
            log_error("reload failed: " + std::string(line));
            return true;
        });
        log_error("reload failed: keeping the running configuration (generation " + std::to_string(running->serial) +
                  ")");
        bump(daemon_metrics().reload_failures);
        daemon_metrics().last_reload_success.store(0);
        daemon_metrics().last_reload_time.store(unix_now());
    }
}

[[noreturn]] void reload_thread(RuntimeHolder* holder, std::string path) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) == 0 && sig == SIGUSR1) reload(holder, path);
    }
}

// The status page's per-minute history; sampled by the maintenance thread
// while metrics_listen serves the page (a restart-only key).
StatusRecorder& status_recorder() {
    static StatusRecorder* r = new StatusRecorder(daemon_metrics());  // never destroyed, like the metrics
    return *r;
}

[[noreturn]] void maintenance_thread(RuntimeHolder* holder, ClientState* clients, bool status_page) {
    for (;;) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        try {
            auto rt = holder->get();
            rt->maintain();
            // The shared state's retry and the state file.
            clients->maintain(rt->settings->tarpit.ban);
            if (status_page) status_recorder().sample(unix_now(), *rt);
        } catch (const std::exception& e) {
            log_error(std::string("maintenance: ") + e.what());
        }
    }
}

std::string host_name() {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) != 0) return "this host";
    return buf;
}

int run_daemon(const Options& opt, std::shared_ptr<const Runtime> rt) {
    const Settings& s = *rt->settings;
    LogSettings ls = s.log;
    ls.to_stderr = opt.foreground;
    configure_logging(ls);
    for (const auto& w : rt->warnings) log_warning(w);
    for (const auto& q : rt->query_problems)
        log_error(q + ": lookups answer temporary failure until the query is fixed");

    ConfigFile file = load_config_file(opt.config);  // for line numbers in identity errors
    Identity id = resolve_identity(s, file);
    if (geteuid() == 0 && !id.change)
        log_warning("running as root: set 'user' in " + opt.config + " to drop privileges");

    PidFile pid;
    if (!s.pid_file.empty()) pid.acquire(s.pid_file, id);
    prepare_socket_path(s.socket, id);

    // Shared state that outlives reloads, smfi_main and every callback.
    static RuntimeHolder holder(rt);
    const SteadyClock& clock = daemon_clock();
    static InterruptibleSleeper sleeper;
    // The tarpit's memory: this host's table, and Redis when shared (restart-only keys).
    static ClientMemory memory =
        build_client_memory(s.shared, ClientMemoryContext{s.tarpit.max_clients, &clock, &daemon_metrics(), nullptr});
    static ClientState& clients = memory.state();
    if (std::string problem = memory.local->load(s.tarpit.ban); !problem.empty()) log_warning(problem);
    static Tarpit tarpit(clients, sleeper, clock);
    static Services services{clock, tarpit, daemon_metrics()};
    daemon_metrics().set_refresh([](Metrics& m) {
        auto now = holder.get();
        m.cache_entries.store(static_cast<std::int64_t>(now->cache ? now->cache->size() : 0));
        m.tarpit_clients.store(static_cast<std::int64_t>(clients.local_table().size()));
        m.tarpit_banned_clients.store(static_cast<std::int64_t>(clients.local_table().banned_now()));
        m.tarpit_waiting.store(static_cast<std::int64_t>(tarpit.sleepers()));
        m.config_generation.store(static_cast<std::int64_t>(now->serial));
        m.shared_state_up.store(memory.shared && clients.healthy() ? 1 : 0);
    });
    daemon_metrics().start_time.store(unix_now());
    daemon_metrics().last_reload_time.store(unix_now());
    daemon_metrics().last_reload_success.store(1);
    daemon_metrics().config_load_time.store(unix_now());
    if (!register_milter(&holder, &services)) throw std::runtime_error("smfi_register failed");
    std::string spec = s.socket;
    if (smfi_setconn(const_cast<char*>(spec.c_str())) != MI_SUCCESS)
        throw std::runtime_error("smfi_setconn " + spec + " failed");
    // Sockets are created with mode 0777 & ~umask; start private, then widen
    // to socket_mode once the owner is right.
    mode_t old_umask = umask(0077);
    int opened = smfi_opensocket(true);
    umask(old_umask);
    if (opened != MI_SUCCESS) {
        std::string why = milter_listen_problem(spec);
        throw std::runtime_error("socket " + spec + ": cannot listen" + (why.empty() ? "" : ": " + why) +
                                 (why == std::strerror(EADDRINUSE) ? " (is another milter running there?)" : ""));
    }
    apply_socket_permissions(spec, s.socket_mode, id);
    SocketFile milter_socket_file, policy_socket_file;
    milter_socket_file.created(spec);
    int policy_fd = -1;
    if (!s.policy_socket.empty())
        policy_fd = open_policy_socket(s.policy_socket, s.socket_mode,
                                       id.socket_gid != static_cast<gid_t>(-1) ? id.socket_gid : id.gid);
    if (policy_fd >= 0) policy_socket_file.created(s.policy_socket);
    // rcptguard-ctl's socket: the daemon's user and group, mode 0660.
    int control_fd = -1;
    if (!s.control_socket.empty())
        control_fd = open_control_socket(s.control_socket, id.change ? id.uid : static_cast<uid_t>(-1),
                                         id.change ? id.gid : static_cast<gid_t>(-1));

    if (!opt.foreground) daemonize();
    pid.write_pid();
    drop_privileges(id);
    // After daemonize(): a thread started before fork() would not exist in the child.
    start_log_writer();

    if (memory.shared) memory.shared->start();
    std::thread(reload_thread, &holder, opt.config).detach();
    std::thread(maintenance_thread, &holder, &clients, !s.metrics_listen.empty()).detach();
    if (control_fd >= 0)
        start_control_service(
            control_fd, ControlContext{&holder, &clients, static_cast<std::int64_t>(std::time(nullptr)), nullptr});
    if (policy_fd >= 0) start_policy_service(policy_fd, holder, services, s.policy_workers);
    if (!s.metrics_listen.empty()) {
        std::string host;
        int port = 0;
        parse_host_port(s.metrics_listen, &host, &port);
        status_recorder().sample(unix_now(), *rt);  // the baseline
        std::string err = start_metrics_server(host, port, daemon_metrics(), [] {
            return render_status_page(status_recorder().snapshot(unix_now(), *holder.get(), clients), host_name());
        });
        if (!err.empty()) throw std::runtime_error("metrics_listen: " + err);
        auto ip = IpAddress::parse(host);
        NetworkList loopback;
        loopback.add_all({"127.0.0.0/8", "::1/128"});
        if (ip && !loopback.contains(*ip))
            log_warning("metrics_listen " + s.metrics_listen +
                        " is not a loopback address: anyone who can reach it "
                        "can read the statistics");
    }

    log_event(std::string("starting rcptguard ") + RCPTGUARD_VERSION + ": listening on " + spec +
              (s.policy_socket.empty() ? std::string() : " and " + s.policy_socket + " (policy service)") + ", " +
              std::to_string(rt->backends.size()) + " backends, mode " +
              (s.recipients.monitor ? "monitor" : "enforce"));
    // libmilter starts a thread per busy connection with default attributes;
    // a tarpit keeps many of them waiting, so keep their stacks small.
    // (Not under ThreadSanitizer, whose thread creation fails with them.)
#ifndef __SANITIZE_THREAD__
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setstacksize(&attr, kThreadStackBytes);
        pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
#endif
    // Serving: a parent waiting in daemonize() may exit 0 now.
    report_start_success();
    ListenerStop stop = run_listener();
    auto stopping = std::chrono::steady_clock::now();
    if (stop.signal != 0)
        log_event(std::string("stopping rcptguard: SIG") + sigabbrev_np(stop.signal) + " received");
    else
        log_event(std::string("stopping rcptguard: libmilter's listener ended") +
                  (stop.failed ? " with an error" : ""));
    // libmilter keeps serving until _exit() below (listener.hpp): tarpit
    // waits end at once, lookups are answered as before.
    sleeper.stop();
    clients.save(holder.get()->settings->tarpit.ban);
    if (!s.control_socket.empty()) unlink(s.control_socket.c_str());
    milter_socket_file.remove();
    policy_socket_file.remove();
    log_event("stopped rcptguard in " + format_duration(std::chrono::steady_clock::now() - stopping) +
              ": sessions still open are dropped");
    stop_log_writer();  // every queued line is written before we go
    closelog();
    // Last: a successor started once the pid file is gone finds the
    // listening socket closed a moment later at the latest. libmilter's
    // threads are still running callbacks: leave without running destructors
    // of the shared state they use; the kernel closes the listening socket
    // and every session.
    pid.remove();
    _exit(stop.failed ? 1 : 0);
}

int print_stats(const Options& opt) {
    try {
        Settings s = read_settings(load_config_file(opt.config));
        if (s.metrics_listen.empty()) {
            std::cerr << "rcptguard: statistics need metrics_listen in " << opt.config << "\n";
            return kExitConfig;
        }
        std::string host, body, error;
        int port = 0;
        parse_host_port(s.metrics_listen, &host, &port);
        if (!fetch_metrics(host, port, &body, &error)) {
            std::cerr << "rcptguard: " << error << " (is rcptguard running?)\n";
            return 1;
        }
        std::cout << body;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "rcptguard: " << e.what() << "\n";
        return kExitConfig;
    }
}

int parse_args(int argc, char** argv, Options* opt) {
    int c;
    opterr = 0;
    while ((c = getopt(argc, argv, ":c:fnq:sS:Vh")) != -1) {
        switch (c) {
            case 's': opt->stats = true; break;
            case 'c': opt->config = optarg; break;
            case 'f': opt->foreground = true; break;
            case 'n': opt->check_only = true; break;
            case 'q':
                opt->query = true;
                opt->query_address = optarg;
                break;
            case 'S': opt->query_sender = optarg; break;
            case 'V': std::cout << "rcptguard " << RCPTGUARD_VERSION << "\n"; return 0;
            case 'h': usage(std::cout); return 0;
            case ':':
                std::cerr << "rcptguard: option -" << static_cast<char>(optopt) << " needs an argument\n";
                usage(std::cerr);
                return kExitUsage;
            default:
                std::cerr << "rcptguard: unknown option -" << static_cast<char>(optopt) << "\n";
                usage(std::cerr);
                return kExitUsage;
        }
    }
    if (optind < argc) {
        std::cerr << "rcptguard: unexpected argument '" << argv[optind] << "'\n";
        usage(std::cerr);
        return kExitUsage;
    }
    // The daemon changes to / when it detaches: a relative path would break reloads.
    if (!opt->config.empty() && opt->config.front() != '/') {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd)) opt->config = std::string(cwd) + "/" + opt->config;
    }
    if ((opt->check_only ? 1 : 0) + (opt->query ? 1 : 0) + (opt->stats ? 1 : 0) > 1) {
        std::cerr << "rcptguard: -n, -q and -s cannot be combined\n";
        return kExitUsage;
    }
    if (opt->query_sender && !opt->query) {
        std::cerr << "rcptguard: -S goes with -q\n";
        return kExitUsage;
    }
    return -1;
}

int real_main(int argc, char** argv) {
    Options opt;
    int rc = parse_args(argc, argv, &opt);
    if (rc >= 0) return rc;

    // Before any thread exists (libldap, our threads, libmilter's).
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&set, sig);
    bool tool = opt.check_only || opt.query || opt.stats;
    if (!tool) pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    // libldap's first call sets its process-wide defaults and must not race
    // with another thread; LDAPNOINIT keeps ~/.ldaprc and ldap.conf out of it.
    ldap_global_init();
    sqlite_global_init();
    // libpq takes defaults from PG* variables, libmariadb's set-up is not
    // thread-safe: both settled here, before any thread.
    pgsql_global_init();
    mysql_global_init();

    LogSettings quiet;
    quiet.to_syslog = !tool;
    quiet.to_stderr = true;
    quiet.level = LogLevel::Warning;
    configure_logging(quiet);

    if (opt.stats) return print_stats(opt);
    std::shared_ptr<const Runtime> rt;
    try {
        rt = build_runtime(opt.config, 1, tool ? RuntimeContext{} : daemon_context());
    } catch (const std::exception& e) {
        // Every problem in the file, one line each, in file order.
        for_each_line(e.what(), [tool](std::string_view line, int) {
            if (tool)
                std::cerr << "rcptguard: " << line << "\n";
            else
                log_error("fatal: " + std::string(line));
            return true;
        });
        return kExitConfig;
    }
    if (opt.check_only) {
        try {
            resolve_identity(*rt->settings, rt->source);  // user, group, socket_group exist?
        } catch (const ConfigError& e) {
            for_each_line(e.what(), [](std::string_view line, int) {
                std::cerr << "rcptguard: " << line << "\n";
                return true;
            });
            return kExitConfig;
        }
        for (const auto& w : rt->warnings) std::cerr << "rcptguard: warning: " << w << "\n";
        // The database was asked and refused a query: the file is not good.
        for (const auto& q : rt->query_problems) std::cerr << "rcptguard: " << q << "\n";
        if (!rt->query_problems.empty()) return kExitConfig;
        std::cout << "rcptguard: " << opt.config << ": configuration is valid (" << rt->backends.size()
                  << " backends)\n";
        return 0;
    }
    if (opt.query) {
        for (const auto& w : rt->warnings) std::cerr << "rcptguard: warning: " << w << "\n";
        for (const auto& q : rt->query_problems) std::cerr << "rcptguard: " << q << "\n";
        return run_query(*rt, opt.query_address, std::cout, unix_now(), opt.query_sender);
    }
    int code = kExitSoftware;
    std::string why;
    try {
        return run_daemon(opt, rt);
    } catch (const ConfigError& e) {
        code = kExitConfig;
        why = e.what();
    } catch (const std::exception& e) {
        why = e.what();
    }
    // Every fatal start error reaches the terminal: with -f the log writes
    // to stderr itself; otherwise it is printed (or, once detached, handed to
    // the parent waiting in daemonize(), which prints it and exits with code).
    std::string terminal;
    for_each_line(why, [&terminal](std::string_view line, int) {
        log_error("fatal: " + std::string(line));
        terminal += "rcptguard: fatal: " + std::string(line) + "\n";
        return true;
    });
    stop_log_writer();  // every queued line is written before we go
    if (!opt.foreground) report_start_failure(terminal, code);
    // Threads may already run (reload, maintenance, listeners): leave
    // without destructors, as a normal stop does.
    closelog();
    _exit(code);
}

}  // namespace
}  // namespace rcptguard

int main(int argc, char** argv) {
    try {
        return rcptguard::real_main(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "rcptguard: fatal: " << e.what() << "\n";
        return 70;
    }
}
