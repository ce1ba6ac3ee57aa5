// file_backend: see file_backend.hpp.
#include "backends/file/file_backend.hpp"

#include <sys/stat.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/log.hpp"

namespace rcptguard {

namespace {

// Seconds a changed file must stay unchanged before it is loaded, so that a
// file being written in place is not read half-way.
constexpr long long kSettleNs = 1'000'000'000LL;

long long now_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

FileBackend::FileBackend(std::string name, std::string path, AddressOptions opts)
    : Backend(std::move(name), "file"), path_(std::move(path)), opts_(std::move(opts)) {}

std::string FileBackend::load() {
    FileIdentity id;
    std::string text;
    bool stable = false;
    for (int attempt = 0; attempt < 3 && !stable; ++attempt) {
        if (!stat_identity(path_, &id)) return path_ + ": " + std::strerror(errno);
        std::ifstream in(path_, std::ios::binary);
        if (!in) return path_ + ": " + std::strerror(errno);
        std::ostringstream ss;
        ss << in.rdbuf();
        if (in.bad()) return path_ + ": read error";
        text = ss.str();
        // A file rewritten while we read it could yield a partial list, and a
        // missing entry would mean a wrong 550: only a read of an unchanged file counts.
        FileIdentity after;
        stable = stat_identity(path_, &after) && after == id;
    }
    if (!stable) return path_ + ": the file kept changing while being read";
    auto list = std::make_shared<RecipientList>();
    std::string error;
    if (!parse_recipient_list(text, path_, opts_, list.get(), &error)) {
        identity_ = id;  // do not retry the same broken file every second
        return error;
    }
    std::size_t n = list->entries.size();
    list_.publish(std::move(list));
    identity_ = id;
    generation_.fetch_add(1);
    log_info("backend " + name() + ": loaded " + std::to_string(n) + " entries from " + path_);
    return "";
}

std::size_t FileBackend::size() const {
    auto l = list_.get();
    return l ? l->entries.size() : 0;
}

LookupResult FileBackend::lookup(std::string_view key) const noexcept {
    try {
        auto l = list_.get();
        if (!l) return LookupResult::tempfail("file " + path_ + " was never loaded");
        return l->entries.count(std::string(key)) ? LookupResult::found() : LookupResult::not_found();
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

void FileBackend::maintain() noexcept {
    try {
        FileIdentity now;
        if (!stat_identity(path_, &now)) {
            std::string problem = path_ + ": " + std::strerror(errno);
            if (problem != last_error_)
                log_warning("backend " + name() + ": " + problem + ": keeping the " + std::to_string(size()) +
                            " entries loaded before");
            last_error_ = problem;
            return;
        }
        if (now == identity_) return;
        if (now_ns() - now.mtime_ns < kSettleNs) return;  // still being written: next time
        std::string problem = load();
        if (!problem.empty()) {
            if (problem != last_error_)
                log_error("backend " + name() + ": reload failed: " + problem + ": keeping the " +
                          std::to_string(size()) + " entries loaded before");
            last_error_ = problem;
        } else {
            last_error_.clear();
        }
    } catch (...) {
        log_error("backend " + name() + ": reload failed: out of memory");
    }
}

}  // namespace rcptguard
