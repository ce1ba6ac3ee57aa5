// redis_store: see redis_store.hpp.
#include "core/tarpit/redis_store.hpp"

#include <algorithm>
#include <set>

#include "util/text.hpp"

namespace rcptguard {

namespace {

// Redis facts the script relies on: doc/platform.md §14.2 (atomic scripts,
// TIME in scripts, redis.pcall's error table, PTTL's -1/-2, Lua's lenient
// tonumber).
// KEYS[1] = P bad:K, KEYS[2] = P ban:K.
// ARGV: mode ("add" or "get"), count, window ms, threshold, ban ms, host,
// longest acceptable ban ms.
// Returns {count in window, ban ms left, 1 if this call banned, banning host,
// host that counted last}.
const char* const kScript = R"LUA(
local add = ARGV[1] == 'add'
local n = tonumber(ARGV[2]) or 0
local window = tonumber(ARGV[3]) or 600000
local threshold = tonumber(ARGV[4]) or 0
local ban_ms = tonumber(ARGV[5]) or 0
local host = ARGV[6] or ''
local longest = tonumber(ARGV[7]) or 0
local cap = 1000000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local width = math.floor(window / 8)
if width < 1 then width = 1 end
local current = math.floor(now / width)

local function text(v)
  if type(v) ~= 'string' then return '' end
  return string.sub(v, 1, 255)
end
-- redis.pcall answers a table with an 'err' field instead of aborting
-- (a key of another type): cheaper than asking TYPE first.
local function failed(r)
  return type(r) == 'table' and r['err'] ~= nil
end

local ban_left, ban_host = 0, ''
local ttl = redis.call('PTTL', KEYS[2])
if ttl ~= -2 then
  local h = redis.pcall('HGET', KEYS[2], 'host')
  if not failed(h) and ttl > 0 and ttl <= longest then
    ban_left = ttl
    ban_host = text(h)
  elseif add then
    redis.call('DEL', KEYS[2])
  end
end

local sum, mine, last_host = 0, 0, ''
local f = redis.pcall('HGETALL', KEYS[1])
if failed(f) then
  if add then redis.call('DEL', KEYS[1]) end
  f = {}
end
for i = 1, #f, 2 do
  local name, v = f[i], f[i + 1]
  if name == 'host' then
    last_host = text(v)
  else
    local b = tonumber(string.match(name, '^b:(%d+)$') or '')
    local c = tonumber(v)
    if b and c and b > current - 8 and b <= current and c >= 0 and c <= cap and c == math.floor(c) then
      sum = sum + c
      if b == current then mine = c end
    elseif add then
      redis.call('HDEL', KEYS[1], name)
    end
  end
end

local newly = 0
if add and n > 0 then
  sum = sum + n
  redis.call('HSET', KEYS[1], 'b:' .. current, mine + n, 'host', host)
  redis.call('PEXPIRE', KEYS[1], window + width)
  last_host = host
  if ban_left == 0 and threshold > 0 and ban_ms > 0 and sum >= threshold then
    redis.call('HSET', KEYS[2], 'host', host, 'bad', sum, 'since', now)
    redis.call('PEXPIRE', KEYS[2], ban_ms)
    ban_left, ban_host, newly = ban_ms, host, 1
  end
end
if sum > cap then sum = cap end
return {sum, ban_left, newly, ban_host, last_host}
)LUA";

// A ban of up to 30 days (the longest ban_time) and a little slack.
constexpr long long kLongestBanMillis = 30LL * 86400 * 1000 + 60000;
constexpr long long kMaxCount = 1000000;
// Administration calls (bans, unban) may take longer than one recipient's.
constexpr Millis kAdminTimeout{3000};
constexpr std::size_t kBatch = 100;
constexpr int kMaxScanRounds = 20000;
// Clients an administration command reads at most (bans, unban).
constexpr std::size_t kMaxScannedClients = 1000000;

std::string glob_escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

bool parse_answer(const RedisValue& v, SharedStanding* out, std::string* error) {
    using T = RedisValue::Type;
    if (v.is_error()) {
        *error = "the script failed: " + printable(v.str, 160);
        return false;
    }
    bool ok = v.is(T::Array) && v.elements.size() == 5 && v.elements[0].is(T::Integer) &&
              v.elements[1].is(T::Integer) && v.elements[2].is(T::Integer) && v.elements[3].is(T::String) &&
              v.elements[4].is(T::String);
    if (ok) {
        const auto& e = v.elements;
        ok = e[0].integer >= 0 && e[0].integer <= kMaxCount && e[1].integer >= 0 && e[1].integer <= kLongestBanMillis &&
             (e[2].integer == 0 || e[2].integer == 1);
    }
    if (!ok) {
        *error = "unexpected answer to the counting script";
        return false;
    }
    const auto& e = v.elements;
    out->bad_in_window = static_cast<unsigned>(e[0].integer);
    out->ban_left = Millis(e[1].integer);
    out->newly_banned = e[2].integer == 1;
    out->ban_host = printable(e[3].str, 255);
    out->last_host = printable(e[4].str, 255);
    return true;
}

std::vector<std::string> script_args(const char* mode, unsigned count, const BanSettings& s, const std::string& host) {
    return {mode,
            std::to_string(count),
            std::to_string(s.window.count()),
            std::to_string(s.ban_threshold),
            std::to_string(s.ban_time.count()),
            host,
            std::to_string(kLongestBanMillis)};
}

}  // namespace

const std::string& redis_tarpit_script() {
    static const std::string script(kScript);
    return script;
}

RedisStore::RedisStore(RedisOptions options, std::string key_prefix)
    : client_(std::move(options)), prefix_(std::move(key_prefix)) {}

std::string RedisStore::describe() const { return client_.describe() + " (keys " + prefix_ + "*)"; }

bool RedisStore::run(const char* mode, const std::string& key, unsigned count, const BanSettings& s,
                     const std::string& host, SharedStanding* out, std::string* error) noexcept {
    try {
        RedisValue v;
        if (!client_.eval(redis_tarpit_script(), {counts_key(key), ban_key(key)}, script_args(mode, count, s, host), &v,
                          error))
            return false;
        return parse_answer(v, out, error);
    } catch (const std::exception& e) {
        *error = e.what();
        return false;
    }
}

bool RedisStore::add_bad(const std::string& key, unsigned count, const BanSettings& s, const std::string& host,
                         SharedStanding* out, std::string* error) noexcept {
    return run("add", key, count, s, host, out, error);
}

bool RedisStore::standing(const std::string& key, const BanSettings& s, SharedStanding* out,
                          std::string* error) noexcept {
    return run("get", key, 0, s, "", out, error);
}

bool RedisStore::ping(std::string* error) noexcept {
    RedisValue v;
    if (!client_.call({"PING"}, &v, error)) return false;
    if (v.is(RedisValue::Type::Status) && v.str == "PONG") return true;
    *error = "answered PING with '" + printable(v.str, 80) + "'";
    return false;
}

bool RedisStore::clients(std::size_t max, std::vector<std::string>* out, std::string* error) {
    std::set<std::string> found;
    std::string cursor = "0";
    std::string pattern = glob_escaped(prefix_) + "ba[nd]:*";
    for (int round = 0; round < kMaxScanRounds; ++round) {
        RedisValue v;
        if (!client_.call({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, &v, error, kAdminTimeout)) return false;
        using T = RedisValue::Type;
        if (!v.is(T::Array) || v.elements.size() != 2 || !v.elements[0].is(T::String) || !v.elements[1].is(T::Array)) {
            *error = v.is_error() ? printable(v.str, 160) : "unexpected answer to SCAN";
            return false;
        }
        for (const auto& k : v.elements[1].elements) {
            if (!k.is(T::String) || k.str.size() < prefix_.size() + 4) continue;
            std::string client = k.str.substr(prefix_.size() + 4);
            // Keys someone else wrote under our prefix are skipped, not trusted.
            if (client.size() > 64 || !parse_network(client)) continue;
            if (found.size() < max) found.insert(client);
        }
        cursor = v.elements[0].str;
        if (cursor == "0") break;
    }
    out->assign(found.begin(), found.end());
    return true;
}

bool RedisStore::list(const BanSettings& s, std::size_t max, std::vector<ClientRecord>* out,
                      std::string* error) noexcept {
    try {
        // Every client is read before the list is cut: SCAN's order is the
        // hash table's, and the worst offenders must not be left out.
        std::vector<std::string> keys;
        if (!clients(kMaxScannedClients, &keys, error)) return false;
        out->clear();
        auto keep_first = [&](std::size_t n) {
            if (out->size() <= n) return;
            std::partial_sort(out->begin(), out->begin() + static_cast<std::ptrdiff_t>(n), out->end(), listed_before);
            out->resize(n);
        };
        for (std::size_t i = 0; i < keys.size(); i += kBatch) {
            std::vector<std::vector<std::string>> commands;
            for (std::size_t j = i; j < keys.size() && j < i + kBatch; ++j) {
                std::vector<std::string> c{"EVAL", redis_tarpit_script(), "2", counts_key(keys[j]), ban_key(keys[j])};
                for (auto& a : script_args("get", 0, s, "")) c.push_back(std::move(a));
                commands.push_back(std::move(c));
            }
            std::vector<RedisValue> replies;
            if (!client_.call(commands, &replies, error, kAdminTimeout)) return false;
            for (std::size_t j = 0; j < replies.size(); ++j) {
                SharedStanding st;
                if (!parse_answer(replies[j], &st, error)) return false;
                if (st.bad_in_window == 0 && st.ban_left.count() == 0) continue;
                out->push_back(ClientRecord{keys[i + j], st.bad_in_window, st.ban_left,
                                            st.last_host.empty() ? st.ban_host : st.last_host});
            }
            if (out->size() >= 2 * max + kBatch) keep_first(max);  // memory stays bounded
        }
        keep_first(max);
        std::sort(out->begin(), out->end(), listed_before);
        return true;
    } catch (const std::exception& e) {
        *error = e.what();
        return false;
    }
}

bool RedisStore::forget(const Network& net, std::size_t* lifted, std::string* error) noexcept {
    try {
        std::vector<std::string> keys;
        if (!clients(kMaxScannedClients, &keys, error)) return false;
        std::vector<std::string> doomed;
        for (const auto& k : keys) {
            auto n = parse_network(k);
            if (n && networks_overlap(*n, net)) doomed.push_back(k);
        }
        for (std::size_t i = 0; i < doomed.size(); i += kBatch) {
            std::vector<std::string> del{"DEL"};
            for (std::size_t j = i; j < doomed.size() && j < i + kBatch; ++j) {
                del.push_back(counts_key(doomed[j]));
                del.push_back(ban_key(doomed[j]));
            }
            RedisValue v;
            if (!client_.call(del, &v, error, kAdminTimeout)) return false;
            if (v.is_error()) {
                *error = printable(v.str, 160);
                return false;
            }
        }
        *lifted = doomed.size();
        return true;
    } catch (const std::exception& e) {
        *error = e.what();
        return false;
    }
}

}  // namespace rcptguard
