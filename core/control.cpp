// control: see control.hpp.
#include "core/control.hpp"

#include <ctime>

#include "util/address.hpp"
#include "util/text.hpp"
#include "util/version.hpp"

namespace rcptguard {

namespace {

std::string ok(const std::string& body) {
    return "ok\n" + body + (body.empty() || body.back() == '\n' ? "" : "\n") + ".\n";
}
std::string fail(const std::string& why) { return "error: " + printable(why, 600) + "\n.\n"; }

std::string pad(const std::string& s, std::size_t width) {
    return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

std::string ago(std::int64_t now, std::int64_t then) {
    return format_duration(Millis((now > then ? now - then : 0) * 1000)) + " ago";
}

std::string cmd_bans(const ControlContext& ctx, const Runtime& rt, std::int64_t now) {
    std::string note;
    std::vector<ClientRecord> records = ctx.clients->list(rt.settings->tarpit.ban, kMaxListedClients, &note);
    return ok(format_client_records(records, now, ctx.clients->describe(), note));
}

std::string cmd_unban(const ControlContext& ctx, const std::string& arg) {
    auto net = parse_network(arg);
    if (!net) return fail("'" + arg + "' is not an address or prefix (e.g. 192.0.2.7, 2001:db8:1:2::/64)");
    std::size_t lifted = 0;
    std::string error;
    if (!ctx.clients->forget(*net, &lifted, &error)) return fail(error);
    if (lifted == 0) return ok("nothing to lift: no client matching " + arg + " is banned or counted");
    return ok("lifted: " + std::to_string(lifted) + (lifted == 1 ? " client" : " clients") + " matching " + arg +
              " (ban and count forgotten " +
              (ctx.clients->shared() ? "on every host sharing the state)" : "on this host)"));
}

std::string cmd_flush(const ControlContext& ctx, const Runtime& rt, const std::string& arg) {
    if (arg.empty()) {
        std::size_t n = rt.cache ? rt.cache->size() : 0;
        if (rt.cache) rt.cache->clear();
        ctx.clients->forget_cached(nullptr);
        return ok(std::string(rt.cache ? "lookup cache emptied (" + std::to_string(n) + " entries)"
                                       : "the lookup cache is off (cache = no)") +
                  "; cached client standings dropped");
    }
    if (arg.find('@') != std::string::npos) {
        const AddressOptions& opts = rt.rules->settings().address;
        Address a = parse_address(arg, opts);
        if (a.status != AddressStatus::Mailbox) return fail("'" + arg + "' is not an address: " + a.error);
        if (!rt.cache) return ok("the lookup cache is off (cache = no): nothing to forget");
        std::vector<std::string> keys{a.canonical()};  // the cache keeps an address under its full form
        std::size_t n = rt.cache->forget(keys);
        return ok("forgot " + std::to_string(n) + " cached " + (n == 1 ? "answer" : "answers") + " for <" +
                  a.canonical() + ">");
    }
    auto net = parse_network(arg);
    if (!net) return fail("'" + arg + "' is neither a recipient address nor a client address or prefix");
    ctx.clients->forget_cached(&*net);
    return ok("dropped the cached standing of clients matching " + arg);
}

std::string cmd_status(const ControlContext& ctx, const Runtime& rt, std::int64_t now) {
    std::string out = "version: rcptguard " RCPTGUARD_VERSION "\n";
    out += "uptime: " + format_duration(Millis((now - ctx.started_unix) * 1000)) + " (started " +
           format_utc(ctx.started_unix) + ")\n";
    out += "configuration: " + rt.settings->config_path + ", generation " + std::to_string(rt.serial) + ", loaded " +
           format_utc(rt.loaded_unix) + " (" + ago(now, rt.loaded_unix) + ")\n";
    if (rt.all_backends) {
        for (const auto& h : rt.all_backends->health()) {
            const BackendCounters::Failure& f = h.last_failure;
            out += "backend " + h.name + " (" + h.type + "): " + (f.failing ? "FAILING" : "ok");
            // A backend still failing since before a reload says why, too.
            if (h.failures > 0 || f.failing)
                out += "; " + std::to_string(h.failures) + " temporary failures since loaded; last error " +
                       format_utc(f.unix_time) + " (" + ago(now, f.unix_time) + "): " + printable(f.reason, 300);
            out += "\n";
        }
    }
    out += "shared state: " + ctx.clients->describe() + "\n";
    ClientTable& table = ctx.clients->local_table();
    out += "clients in this host's table: " + std::to_string(table.size()) + " (" + std::to_string(table.banned_now()) +
           " banned here)\n";
    out += "lookup cache: " + (rt.cache ? std::to_string(rt.cache->size()) + " entries" : std::string("off")) + "\n";
    return ok(out);
}

}  // namespace

std::string format_utc(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string format_client_records(const std::vector<ClientRecord>& records, std::int64_t now_unix,
                                  const std::string& source, const std::string& note) {
    std::string out = "# state: " + source + "\n";
    if (!note.empty()) out += "# note: " + note + "\n";
    out += "# " + pad("CLIENT", 38) + pad("BAD", 7) + pad("BANNED UNTIL", 22) + "LAST HOST\n";
    std::size_t banned = 0;
    for (const auto& r : records) {
        std::string until = "-";
        if (r.ban_left.count() > 0) {
            ++banned;
            until = format_utc(now_unix + (r.ban_left.count() + 999) / 1000);
        }
        out += "  " + pad(r.key, 38) + pad(std::to_string(r.bad_in_window), 7) + pad(until, 22) +
               (r.host.empty() ? "-" : printable(r.host, 255)) + "\n";
    }
    out += "# " + std::to_string(records.size()) + (records.size() == 1 ? " client" : " clients") + ", " +
           std::to_string(banned) + " banned" +
           (records.size() >= kMaxListedClients ? " (list cut at " + std::to_string(kMaxListedClients) + ")" : "") +
           "\n";
    return out;
}

std::string control_answer(std::string_view request, const ControlContext& ctx) {
    try {
        std::string_view line = trim(request);
        if (line.size() > kMaxRequestBytes) return fail("request too long");
        for (char c : line)
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F)
                return fail("requests are printable ASCII");
        std::vector<std::string> words = split_list(line);
        if (words.empty()) return fail("empty request (bans, unban, flush-cache, status)");
        std::int64_t now = ctx.unix_time ? ctx.unix_time() : static_cast<std::int64_t>(std::time(nullptr));
        auto rt = ctx.runtime->get();
        const std::string& cmd = words[0];
        std::size_t args = words.size() - 1;
        if (cmd == "bans" && args == 0) return cmd_bans(ctx, *rt, now);
        if (cmd == "unban" && args == 1) return cmd_unban(ctx, words[1]);
        if (cmd == "flush-cache" && args <= 1) return cmd_flush(ctx, *rt, args ? words[1] : "");
        if (cmd == "status" && args == 0) return cmd_status(ctx, *rt, now);
        if (cmd == "bans" || cmd == "unban" || cmd == "flush-cache" || cmd == "status")
            return fail("usage: bans | unban ADDRESS|PREFIX | flush-cache [ADDRESS] | status");
        return fail("unknown command '" + printable(cmd, 40) + "' (bans, unban, flush-cache, status)");
    } catch (const std::exception& e) {
        return fail(std::string("internal error: ") + e.what());
    }
}

}  // namespace rcptguard
