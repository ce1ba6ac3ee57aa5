// local_client_state: see local_client_state.hpp.
#include "core/tarpit/local_client_state.hpp"

#include <ctime>

#include "core/tarpit/state_file.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

namespace rcptguard {

namespace {

// The longest ban_time the configuration allows (30 days), and a little slack
// for a clock that was set back.
constexpr std::int64_t kLongestBanSeconds = 30 * 86400 + 3600;
constexpr std::size_t kMaxStateFileBytes = 64 << 20;

}  // namespace

bool client_key_overlaps(const std::string& key, const Network& net) {
    auto k = parse_network(key);
    return k && networks_overlap(*k, net);
}

LocalClientState::LocalClientState(LocalStateOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock), table_(options_.max_clients, clock) {
    if (!options_.unix_time) options_.unix_time = [] { return static_cast<std::int64_t>(::time(nullptr)); };
}

std::string LocalClientState::load(const BanSettings& s) {
    if (options_.state_file.empty()) return "";
    std::string text;
    bool missing = false;
    std::string problem = read_small_file(options_.state_file, kMaxStateFileBytes, &text, &missing);
    if (missing) return "";
    std::vector<SavedBan> bans;
    if (problem.empty())
        problem = parse_state_file(text, options_.unix_time(), kLongestBanSeconds, table_.capacity(), &bans);
    if (!problem.empty())
        return "state file " + options_.state_file + ": " + problem + ": ignored, no bans restored from it";
    std::int64_t now = options_.unix_time();
    for (const auto& b : bans) table_.restore_ban(b.key, Millis((b.until_unix - now) * 1000), b.bad, s);
    std::lock_guard<std::mutex> lock(save_mutex_);
    saved_changes_ = table_.ban_changes();  // what was just read needs no writing back
    if (!bans.empty())
        log_notice("state file " + options_.state_file + ": " + std::to_string(bans.size()) + " bans restored");
    return "";
}

ClientStatus LocalClientState::connection_status(const std::string& key, const BanSettings& s) {
    return table_.status(key, s);
}

ClientStatus LocalClientState::known_status(const std::string& key, const BanSettings& s) {
    return table_.status(key, s);
}

ClientStatus LocalClientState::add_bad(const std::string& key, unsigned count, const BanSettings& s) {
    return table_.add_bad(key, count, s);
}

std::vector<ClientRecord> LocalClientState::list(const BanSettings& s, std::size_t max, std::string*) {
    std::vector<ClientRecord> out = table_.list(s, max);
    for (auto& r : out) r.host = options_.host_name;
    return out;
}

bool LocalClientState::forget(const Network& net, std::size_t* lifted, std::string*) {
    *lifted = table_.forget_if([&](const std::string& key) { return client_key_overlaps(key, net); });
    return true;
}

std::string LocalClientState::describe() {
    std::string out = "local (this host only)";
    if (options_.state_file.empty()) return out + ", bans are forgotten at a restart (no state_file)";
    std::lock_guard<std::mutex> lock(save_mutex_);
    out += ", bans kept in " + options_.state_file;
    if (!save_problem_.empty()) out += " (last write failed: " + save_problem_ + ")";
    return out;
}

std::string LocalClientState::write_state_file(const BanSettings& s) {
    if (options_.state_file.empty()) return "";
    std::uint64_t changes = table_.ban_changes();
    // Bans only: counts without a ban are not worth a write per recipient.
    std::vector<SavedBan> bans;
    std::int64_t now = options_.unix_time();
    for (const auto& r : table_.list(s, table_.capacity()))
        if (r.banned()) bans.push_back(SavedBan{r.key, now + (r.ban_left.count() + 999) / 1000, r.bad_in_window});
    std::string problem = write_file_atomically(options_.state_file, format_state_file(bans), 0640);
    if (problem.empty()) saved_changes_ = changes;
    last_save_ = clock_.now();
    return problem;
}

void LocalClientState::maintain(const BanSettings& s) {
    if (options_.state_file.empty()) return;
    std::lock_guard<std::mutex> lock(save_mutex_);
    if (table_.ban_changes() == saved_changes_) return;
    if (last_save_.count() != 0 && clock_.now() - last_save_ < kSaveInterval) return;
    std::string problem = write_state_file(s);
    if (problem != save_problem_) {
        if (!problem.empty())
            log_error("state file: " + problem + ": bans will not survive a restart until this is fixed");
        else
            log_notice("state file " + options_.state_file + ": written again");
    }
    save_problem_ = problem;
}

void LocalClientState::save(const BanSettings& s) {
    if (options_.state_file.empty()) return;
    std::lock_guard<std::mutex> lock(save_mutex_);
    std::string problem = write_state_file(s);
    if (!problem.empty()) log_error("state file: " + problem + ": the bans are lost at this stop");
    save_problem_ = problem;
}

}  // namespace rcptguard
