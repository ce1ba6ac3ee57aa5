// main: command line, configuration, privileges, signals, smfi_main.
//
// Signals (see ../shared/notes/platform.md 1): every signal we or libmilter
// wait for is blocked here before any thread exists, so no thread ever takes
// one with its default action. libmilter's own thread turns SIGTERM, SIGHUP and
// SIGINT into a stop (libmilter has no reload); our reload thread waits for
// SIGUSR1 and swaps in a new configuration snapshot.
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "../backends/ldap_connection.hpp"
#include "callbacks.hpp"
#include "daemon.hpp"
#include "log.hpp"
#include "query.hpp"
#include "runtime.hpp"
#include "version.hpp"

namespace rcptguard {
namespace {

// Exit codes from sysexits.h, for the cases that are not -q verdicts.
constexpr int kExitUsage = 64;
constexpr int kExitSoftware = 70;
constexpr int kExitConfig = 78;

struct Options {
    std::string config = kDefaultConfigPath;
    bool foreground = false;
    bool check_only = false;
    bool query = false;
    std::string query_address;
};

void usage(std::ostream& out) {
    out << "usage: rcptguard [-f] [-c FILE]        run the milter\n"
           "       rcptguard -n [-c FILE]          check the configuration and exit\n"
           "       rcptguard -q ADDRESS [-c FILE]  print the verdict for one recipient\n"
           "       rcptguard -V | -h\n"
           "  -c FILE  configuration file (default " << kDefaultConfigPath << ")\n"
           "  -f       stay in the foreground and log to stderr as well as syslog\n"
           "  -n       check the configuration: exit 0 if good, else print file:line: key: problem\n"
           "  -q ADDR  exit 0 valid, 1 unknown (550), 2 temporary failure (451), 3 not our domain\n"
           "  -V       print the version\n"
           "  -h       this help\n"
           "See rcptguard(8) and rcptguard.conf(5).\n";
}

void reload(RuntimeHolder* holder, const std::string& path) {
    auto running = holder->get();
    try {
        auto fresh = build_runtime(path, running->serial + 1);
        for (const auto& key : restart_only_changes(*running->settings, *fresh->settings))
            log_warning("reload: " + key + " changed: takes effect only after a restart");
        for (const auto& w : fresh->warnings) log_warning(w);
        set_log_level(fresh->settings->log.level);
        holder->publish(fresh);
        log_notice("reload: configuration " + path + " loaded (" + std::to_string(fresh->backends.size()) +
                   " backends, generation " + std::to_string(fresh->serial) + ")");
    } catch (const std::exception& e) {
        log_error(std::string("reload failed: ") + e.what() + ": keeping the running configuration");
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

[[noreturn]] void maintenance_thread(RuntimeHolder* holder) {
    for (;;) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        try {
            holder->get()->maintain();
        } catch (const std::exception& e) {
            log_error(std::string("maintenance: ") + e.what());
        }
    }
}

int run_daemon(const Options& opt, std::shared_ptr<const Runtime> rt) {
    const Settings& s = *rt->settings;
    LogSettings ls = s.log;
    ls.to_stderr = opt.foreground;
    configure_logging(ls);
    for (const auto& w : rt->warnings) log_warning(w);

    ConfigFile file = load_config_file(opt.config);  // for line numbers in identity errors
    Identity id = resolve_identity(s, file);
    if (geteuid() == 0 && !id.change)
        log_warning("running as root: set 'user' in " + opt.config + " to drop privileges");

    PidFile pid;
    if (!s.pid_file.empty()) pid.acquire(s.pid_file, id);
    prepare_socket_path(s.socket, id);

    static RuntimeHolder holder(rt);  // outlives smfi_main and every callback
    if (!register_milter(&holder)) throw std::runtime_error("smfi_register failed");
    std::string spec = s.socket;
    if (smfi_setconn(const_cast<char*>(spec.c_str())) != MI_SUCCESS)
        throw std::runtime_error("smfi_setconn " + spec + " failed");
    // Sockets are created with mode 0777 & ~umask; start private, then widen
    // to socket_mode once the owner is right.
    mode_t old_umask = umask(0077);
    int opened = smfi_opensocket(true);
    umask(old_umask);
    if (opened != MI_SUCCESS) throw std::runtime_error("cannot listen on " + spec + " (see syslog for libmilter's reason)");
    apply_socket_permissions(spec, s.socket_mode, id);

    if (!opt.foreground) daemonize();
    pid.write_pid();
    drop_privileges(id);

    std::thread(reload_thread, &holder, opt.config).detach();
    std::thread(maintenance_thread, &holder).detach();

    log_notice(std::string("starting rcptguard ") + RCPTGUARD_VERSION + ": listening on " + spec + ", " +
               std::to_string(rt->backends.size()) + " backends, mode " +
               (s.policy.monitor ? "monitor" : "enforce"));
    int rc = smfi_main();
    log_notice(std::string("stopping rcptguard") + (rc == MI_SUCCESS ? "" : " after a libmilter error"));
    pid.remove();
    // Worker threads may still be inside callbacks: leave without running
    // destructors of the shared state they use.
    closelog();
    _exit(rc == MI_SUCCESS ? 0 : 1);
}

int parse_args(int argc, char** argv, Options* opt) {
    int c;
    opterr = 0;
    while ((c = getopt(argc, argv, ":c:fnq:Vh")) != -1) {
        switch (c) {
            case 'c': opt->config = optarg; break;
            case 'f': opt->foreground = true; break;
            case 'n': opt->check_only = true; break;
            case 'q': opt->query = true; opt->query_address = optarg; break;
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
    if (opt->check_only && opt->query) {
        std::cerr << "rcptguard: -n and -q cannot be combined\n";
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
    if (!opt.check_only && !opt.query) pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    // libldap's first call sets its process-wide defaults and must not race
    // with another thread; LDAPNOINIT keeps ~/.ldaprc and ldap.conf out of it.
    ldap_global_init();

    LogSettings quiet;
    quiet.to_syslog = !opt.check_only && !opt.query;
    quiet.to_stderr = true;
    quiet.level = LogLevel::Warning;
    configure_logging(quiet);

    std::shared_ptr<const Runtime> rt;
    try {
        rt = build_runtime(opt.config, 1);
    } catch (const std::exception& e) {
        if (opt.check_only || opt.query) std::cerr << "rcptguard: " << e.what() << "\n";
        else log_error(std::string("fatal: ") + e.what());
        return kExitConfig;
    }
    if (opt.check_only) {
        for (const auto& w : rt->warnings) std::cerr << "rcptguard: warning: " << w << "\n";
        std::cout << "rcptguard: " << opt.config << ": configuration is valid (" << rt->backends.size()
                  << " backends)\n";
        return 0;
    }
    if (opt.query) {
        for (const auto& w : rt->warnings) std::cerr << "rcptguard: warning: " << w << "\n";
        return run_query(*rt, opt.query_address, std::cout);
    }
    try {
        return run_daemon(opt, rt);
    } catch (const ConfigError& e) {
        log_error(std::string("fatal: ") + e.what());
        return kExitConfig;
    } catch (const std::exception& e) {
        log_error(std::string("fatal: ") + e.what());
        return kExitSoftware;
    }
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
