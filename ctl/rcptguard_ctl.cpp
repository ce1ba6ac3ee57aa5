// rcptguard-ctl: manage the recipients in rcptguard's SQLite database, with the
// daemon's own normalisation, safely while the daemon runs (see
// rcptguard-ctl(8)). "check" runs the daemon's full lookup path, like
// "rcptguard -q". "bans", "unban", "flush-cache" and "status" ask the running
// daemon over its control socket (core/control.hpp); with shared_state =
// redis, "bans" and "unban" can also go straight to Redis.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "core/control.hpp"
#include "core/query.hpp"
#include "core/recipients/domain_set.hpp"
#include "core/runtime.hpp"
#include "core/settings.hpp"
#include "ctl/control_client.hpp"
#include "ctl/recipient_db.hpp"
#include "util/config_file.hpp"
#include "util/log.hpp"
#include "util/paths.hpp"
#include "util/text.hpp"
#include "util/version.hpp"

namespace rcptguard {
namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 64;
constexpr int kExitConfig = 78;

void usage(std::ostream& o) {
    o << "usage: rcptguard-ctl [-c CONFIG] [--db PATH] [--backend NAME] COMMAND [ARGS]\n"
         "commands:\n"
         "  init                  create the database (schema, WAL mode, owner from 'user')\n"
         "  add ADDRESS...        add recipients (user@domain or @domain for a catch-all) of the\n"
         "                        configuration's 'domains' (--force: of any domain)\n"
         "  del ADDRESS...        remove recipients\n"
         "  list [PATTERN]        list recipients, optionally matching a glob ('*@example.com')\n"
         "  import FILE|-         add one address per line, all or nothing; bad lines (and, without\n"
         "                        --force, addresses outside 'domains') are reported\n"
         "  export                print every recipient, one per line (importable)\n"
         "  domains               list the domains the database covers\n"
         "  check ADDRESS [SENDER] the daemon's verdict: exit 0 valid, 1 unknown, 2 temporary failure,\n"
         "                        3 not one of our domains (same as rcptguard -q [-S SENDER];\n"
         "                        SENDER '<>' for a bounce)\n"
         "the running daemon (its control_socket):\n"
         "  bans                  clients banned or being counted: bad recipients in the window,\n"
         "                        banned until, the host that counted them last\n"
         "  unban ADDRESS|PREFIX  lift the ban (and the count) everywhere the state is shared\n"
         "  flush-cache [ADDRESS] empty the lookup cache, or forget one recipient (or client)\n"
         "  status                uptime, configuration generation, backends, shared state\n"
         "options:\n"
         "  -c CONFIG      configuration (default "
      << kDefaultConfigPath
      << ")\n"
         "  --db PATH      use this database instead of the one in the configuration\n"
         "  --backend NAME the [backend NAME] to use when the configuration has several sqlite ones\n"
         "  --socket PATH  the daemon's control socket (default: control_socket in CONFIG)\n"
         "  --redis        bans/unban: ask Redis directly (shared_state = redis), not the daemon\n"
         "  --force        add and import addresses of domains rcptguard does not answer for\n"
         "  -h, --help     this help;  -V, --version  the version\n"
         "See rcptguard-ctl(8).\n";
}

struct Options {
    std::string config = kDefaultConfigPath;
    std::string db;
    std::string backend;
    std::string socket;
    bool redis = false;
    std::string command;
    std::vector<std::string> args;
    bool force = false;  // add/import: also domains not in 'domains'
};

struct Context {
    AddressOptions address;
    DomainSet domains;  // the configuration's 'domains' (when config_read)
    // "domains = backend:NAME": the database decides which domains are ours,
    // so rcptguard-ctl cannot tell a domain outside them.
    bool domains_from_backends = false;
    std::vector<std::string> section_domains;  // [domain NAME] sections
    std::string db_path;
    std::string user, group;  // from the configuration, for init
    bool config_read = false;
};

// Reads what the command needs from the configuration. Without --db the
// configuration must exist; with --db a missing default configuration is fine.
Context load_context(const Options& o, bool need_config) {
    Context c;
    ConfigFile file;
    try {
        file = load_config_file(o.config);
    } catch (const ConfigError&) {
        if (need_config || o.db.empty()) throw;
        c.db_path = o.db;
        return c;
    }
    Settings s = read_settings(file);
    c.config_read = true;
    c.address = s.recipients.address;
    c.domains = s.recipients.domains;
    c.domains_from_backends = !s.recipients.domain_backends.empty();
    for (const auto& d : s.recipients.per_domain) c.section_domains.push_back(d.domain);
    c.user = s.user;
    c.group = s.group;
    if (!o.db.empty()) {
        c.db_path = o.db;
        return c;
    }
    std::vector<std::pair<std::string, std::string>> sqlite;  // name, path
    for (const auto& sec : file.sections) {
        std::string type, path;
        for (const auto& v : sec.values) {
            if (v.key == "type") type = v.value;
            if (v.key == "path") path = v.value;
        }
        if (type == "sqlite" && (o.backend.empty() || o.backend == sec.name)) sqlite.emplace_back(sec.name, path);
    }
    if (sqlite.empty())
        throw std::runtime_error(o.config + ": no " +
                                 (o.backend.empty() ? "sqlite backend" : "sqlite backend named '" + o.backend + "'") +
                                 " (give the database with --db PATH)");
    if (sqlite.size() > 1)
        throw std::runtime_error(o.config + ": several sqlite backends (" + sqlite[0].first + ", " + sqlite[1].first +
                                 "...): choose one with --backend NAME");
    c.db_path = sqlite[0].second;
    return c;
}

std::vector<std::string> normalize_all(const RecipientDb& db, const std::vector<std::string>& args, bool* ok) {
    std::vector<std::string> out;
    for (const auto& a : args) {
        std::string problem;
        std::string e = db.normalize(a, &problem);
        if (e.empty()) {
            std::cerr << "rcptguard-ctl: " << printable(a, 200) << ": " << problem << "\n";
            *ok = false;
        } else {
            out.push_back(e);
        }
    }
    return out;
}

int cmd_init(const Context& c) {
    std::string dir = c.db_path.substr(0, c.db_path.rfind('/'));
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    if (geteuid() == 0 && !c.user.empty()) {
        struct passwd* pw = getpwnam(c.user.c_str());
        if (!pw) throw std::runtime_error("no such user '" + c.user + "' (create it first, see rcptguard-ctl(8))");
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        if (!c.group.empty()) {
            struct group* gr = getgrnam(c.group.c_str());
            if (!gr) throw std::runtime_error("no such group '" + c.group + "'");
            gid = gr->gr_gid;
        }
    }
    struct stat st;
    if (!dir.empty() && stat(dir.c_str(), &st) != 0) {
        // Parents as "mkdir -p" makes them; the database's own directory private.
        for (std::size_t slash = dir.find('/', 1); slash != std::string::npos; slash = dir.find('/', slash + 1)) {
            std::string parent = dir.substr(0, slash);
            if (stat(parent.c_str(), &st) != 0 && mkdir(parent.c_str(), 0755) != 0)
                throw std::runtime_error("cannot create " + parent + ": " + std::strerror(errno));
        }
        if (mkdir(dir.c_str(), 0750) != 0)
            throw std::runtime_error("cannot create " + dir + ": " + std::strerror(errno));
        if (uid != static_cast<uid_t>(-1) && chown(dir.c_str(), uid, gid) != 0)
            throw std::runtime_error("cannot hand " + dir + " to " + c.user + ": " + std::strerror(errno));
        std::cout << "created directory " << dir << "\n";
    }
    mode_t old = umask(027);
    RecipientDb::create(c.db_path);
    umask(old);
    if (uid != static_cast<uid_t>(-1) && chown(c.db_path.c_str(), uid, gid) != 0)
        throw std::runtime_error("cannot hand " + c.db_path + " to " + c.user + ": " + std::strerror(errno));
    chmod(c.db_path.c_str(), 0640);
    std::cout << "created " << c.db_path << " (WAL mode, mode 0640"
              << (uid != static_cast<uid_t>(-1) ? ", owner " + c.user : std::string()) << ")\n";
    if (uid != static_cast<uid_t>(-1) && !dir.empty() && stat(dir.c_str(), &st) == 0 && st.st_uid != uid)
        std::cout << "note: " << dir << " is not owned by " << c.user << ": rcptguard needs to create " << c.db_path
                  << "-shm there (chown " << c.user << " " << dir << ")\n";
    return 0;
}

// The domain of a normalised entry ("user@dom" or "@dom").
std::string entry_domain(const std::string& entry) { return entry.substr(entry.rfind('@') + 1); }

// "" when rcptguard consults the database for this entry's domain, else why
// storing it would be pointless: rcptguard answers only for 'domains'.
std::string outside_domains(const Context& c, const Options& o, const std::string& entry) {
    if (!c.config_read || c.domains_from_backends) return "";
    std::string domain = entry_domain(entry);
    if (c.domains.contains(domain)) return "";
    for (const auto& d : c.section_domains)
        if (d == domain) return "";
    return "domain " + entry_domain(entry) + " is not in 'domains' of " + o.config + " (rcptguard never looks it up)";
}
constexpr const char* kForceAdvice = ": add it there first, or use --force";

int cmd_add_del(const Context& c, const Options& o, bool add) {
    if (o.args.empty()) throw std::invalid_argument(o.command + " needs at least one address");
    RecipientDb db(c.db_path, c.address);
    bool ok = true;
    std::vector<std::string> entries = normalize_all(db, o.args, &ok);
    if (add) {
        for (const auto& e : entries) {
            std::string why = outside_domains(c, o, e);
            if (why.empty()) continue;
            if (o.force) {
                std::cerr << "rcptguard-ctl: warning: " << e << ": " << why << "\n";
            } else {
                std::cerr << "rcptguard-ctl: " << e << ": " << why << kForceAdvice << "\n";
                ok = false;
            }
        }
    }
    if (!ok) {
        std::cerr << "rcptguard-ctl: nothing changed\n";
        return kExitError;
    }
    std::vector<std::string> skipped = add ? db.add(entries) : db.remove(entries);
    for (const auto& s : skipped)
        std::cerr << "rcptguard-ctl: " << printable(s, 300) << ": " << (add ? "already present" : "not present")
                  << "\n";
    std::cout << (add ? "added " : "removed ") << entries.size() - skipped.size() << "\n";
    return 0;
}

int cmd_import(const Context& c, const Options& o) {
    if (o.args.size() != 1) throw std::invalid_argument("import needs one FILE (or - for standard input)");
    std::string text;
    if (o.args[0] == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        text = ss.str();
    } else {
        std::ifstream in(o.args[0], std::ios::binary);
        if (!in) throw std::runtime_error(o.args[0] + ": " + std::strerror(errno));
        std::ostringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    RecipientDb db(c.db_path, c.address);
    long added = 0, present = 0;
    std::vector<ImportProblem> problems = db.import(text, &added, &present, [&](const std::string& entry) {
        std::string why = o.force ? std::string() : outside_domains(c, o, entry);
        return why.empty() ? why : why + kForceAdvice;
    });
    std::string name = o.args[0] == "-" ? "<stdin>" : o.args[0];
    for (const auto& p : problems)
        std::cerr << "rcptguard-ctl: " << name << ":" << p.line << ": " << p.text << ": " << p.problem << "\n";
    if (!problems.empty()) {
        std::cerr << "rcptguard-ctl: " << problems.size() << " bad lines: nothing imported\n";
        return kExitError;
    }
    std::cout << "imported " << added << " new recipients (" << present << " already present)\n";
    return 0;
}

// bans and unban straight from Redis: when the daemon does not answer, or
// with --redis. The daemon's own table catches up the next time it asks
// Redis about the client (a few seconds at most).
int redis_direct(const Options& o, const Settings& s, const std::string& why) {
    if (!s.shared.redis)
        throw std::runtime_error(why + (o.redis ? "" : " (is rcptguard running?)") +
                                 (o.redis ? ": shared_state is not redis in " + o.config : std::string()));
    RedisStore store(redis_options(s.shared), s.shared.key_prefix);
    std::string error;
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    if (o.command == "bans") {
        std::vector<ClientRecord> records;
        if (!store.list(s.tarpit.ban, kMaxListedClients, &records, &error))
            throw std::runtime_error("redis " + store.describe() + ": " + error);
        std::cout << format_client_records(records, now, "redis " + store.describe(),
                                           o.redis ? "" : "asked redis directly: " + why);
        return 0;
    }
    auto net = parse_network(o.args[0]);
    if (!net) throw std::invalid_argument("'" + o.args[0] + "' is not an address or prefix");
    std::size_t lifted = 0;
    if (!store.forget(*net, &lifted, &error)) throw std::runtime_error("redis " + store.describe() + ": " + error);
    if (!o.redis) std::cerr << "rcptguard-ctl: note: asked redis directly: " << why << "\n";
    if (lifted == 0)
        std::cout << "nothing to lift: no client matching " << o.args[0] << " is banned or counted in redis\n";
    else
        std::cout << "lifted: " << lifted << (lifted == 1 ? " client" : " clients") << " matching " << o.args[0]
                  << " in redis (every host sharing it)\n";
    return 0;
}

int cmd_daemon(const Options& o) {
    const std::string& cmd = o.command;
    if ((cmd == "bans" || cmd == "status") && !o.args.empty()) throw std::invalid_argument(cmd + " takes no arguments");
    if (cmd == "unban" && o.args.size() != 1) throw std::invalid_argument("unban needs one ADDRESS or PREFIX");
    if (cmd == "flush-cache" && o.args.size() > 1) throw std::invalid_argument("flush-cache takes at most one ADDRESS");
    Settings s;
    bool have_settings = false;
    try {
        s = read_settings(load_config_file(o.config));
        have_settings = true;
    } catch (const ConfigError&) {
        if (o.socket.empty()) throw;
    }
    bool direct_possible = cmd == "bans" || cmd == "unban";
    if (o.redis) {
        if (!direct_possible) throw std::invalid_argument("--redis goes with bans and unban");
        if (!have_settings) throw std::runtime_error("--redis needs the configuration " + o.config);
        return redis_direct(o, s, "");
    }
    std::string path = !o.socket.empty() ? o.socket : s.control_socket;
    if (path.empty()) {
        std::string why = "no control_socket in " + o.config + " (set one and restart rcptguard, or use --socket)";
        if (direct_possible && have_settings && s.shared.redis) return redis_direct(o, s, why);
        throw std::runtime_error(why);
    }
    std::string request = cmd;
    for (const auto& a : o.args) {
        for (char c : a)
            if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F)
                throw std::invalid_argument("'" + printable(a, 80) + "': only printable characters, no blanks");
        request += " " + a;
    }
    ControlReply r = ask_daemon(path, request);
    if (!r.reached) {
        std::string why = "rcptguard does not answer at " + r.error;
        if (direct_possible && have_settings && s.shared.redis) return redis_direct(o, s, why);
        throw std::runtime_error(why + " (is it running? control_socket in " + o.config + ")");
    }
    if (!r.ok) {
        std::cerr << "rcptguard-ctl: " << r.error << "\n";
        return kExitError;
    }
    std::cout << r.body;
    return 0;
}

int run(const Options& o) {
    const std::string& cmd = o.command;
    static const char* const kCommands[] = {"check",  "init",    "add",  "del",   "import",      "list",
                                            "export", "domains", "bans", "unban", "flush-cache", "status"};
    bool known = false;
    for (const char* k : kCommands) known = known || cmd == k;
    if (!known) throw std::invalid_argument("unknown command '" + cmd + "'");
    if (cmd == "bans" || cmd == "unban" || cmd == "flush-cache" || cmd == "status") return cmd_daemon(o);
    if (cmd == "check") {
        if (o.args.empty() || o.args.size() > 2) throw std::invalid_argument("check needs ADDRESS [SENDER]");
        auto rt = build_runtime(o.config, 1);
        for (const auto& w : rt->warnings) std::cerr << "rcptguard-ctl: warning: " << w << "\n";
        std::optional<std::string> sender;
        if (o.args.size() == 2) sender = o.args[1];
        return run_query(*rt, o.args[0], std::cout, static_cast<std::int64_t>(std::time(nullptr)), sender);
    }
    Context c = load_context(o, false);
    if (cmd == "init") return cmd_init(c);
    if (cmd == "add") return cmd_add_del(c, o, true);
    if (cmd == "del") return cmd_add_del(c, o, false);
    if (cmd == "import") return cmd_import(c, o);
    RecipientDb db(c.db_path, c.address);
    if (cmd == "list" || cmd == "export") {
        if (cmd == "list" && o.args.size() > 1) throw std::invalid_argument("list takes at most one PATTERN");
        if (cmd == "export" && !o.args.empty()) throw std::invalid_argument("export takes no arguments");
        for (const auto& a : db.list(o.args.empty() ? "" : o.args[0])) std::cout << a << "\n";
        return 0;
    }
    if (cmd == "domains") {
        if (!o.args.empty()) throw std::invalid_argument("domains takes no arguments");
        bool have_domains = c.config_read;
        for (const auto& d : db.domains()) {
            std::string unicode = unicode_domain(d.domain);
            std::cout << printable(unicode) << (unicode != d.domain ? " (" + printable(d.domain) + ")" : "") << "\t"
                      << d.addresses << (d.addresses == 1 ? " address" : " addresses")
                      << (d.catch_all ? ", catch-all" : "");
            if (have_domains && !outside_domains(c, o, d.domain).empty())
                std::cout << "\t(not in 'domains': never consulted)";
            std::cout << "\n";
        }
        return 0;
    }
    return kExitError;  // not reached: every command is handled above
}

}  // namespace
}  // namespace rcptguard

int main(int argc, char** argv) {
    using namespace rcptguard;
    LogSettings quiet;
    quiet.to_syslog = false;
    quiet.to_stderr = false;
    configure_logging(quiet);
    signal(SIGPIPE, SIG_IGN);  // a daemon or Redis that hangs up is an error message, not a silent death
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "rcptguard-ctl: " << a << " needs a value\n";
                std::exit(kExitUsage);
            }
            return argv[++i];
        };
        if (o.command.empty() && (a == "-h" || a == "--help")) {
            usage(std::cout);
            return 0;
        }
        if (o.command.empty() && (a == "-V" || a == "--version")) {
            std::cout << "rcptguard-ctl " << RCPTGUARD_VERSION << "\n";
            return 0;
        }
        if (a == "--force")
            o.force = true;
        else if (o.command.empty() && a == "-c")
            o.config = value();
        else if (o.command.empty() && a == "--db")
            o.db = value();
        else if (o.command.empty() && a == "--backend")
            o.backend = value();
        else if (o.command.empty() && a == "--socket")
            o.socket = value();
        else if (o.command.empty() && a == "--redis")
            o.redis = true;
        else if (o.command.empty() && !a.empty() && a[0] == '-') {
            std::cerr << "rcptguard-ctl: unknown option " << a << "\n";
            usage(std::cerr);
            return kExitUsage;
        } else if (o.command.empty())
            o.command = a;
        else
            o.args.push_back(a);
    }
    if (o.command.empty()) {
        usage(std::cerr);
        return kExitUsage;
    }
    try {
        return run(o);
    } catch (const std::invalid_argument& e) {
        std::cerr << "rcptguard-ctl: " << e.what() << "\n";
        usage(std::cerr);
        return kExitUsage;
    } catch (const ConfigError& e) {
        std::cerr << "rcptguard-ctl: " << e.what() << "\n";
        return kExitConfig;
    } catch (const std::exception& e) {
        std::cerr << "rcptguard-ctl: " << e.what() << "\n";
        return kExitError;
    }
}
