// file_backend: see file_backend.hpp.
#include "file_backend.hpp"

#include <sys/stat.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "../milter/log.hpp"

namespace rcptguard {

bool stat_identity(const std::string& path, FileIdentity* out) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return false;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    out->size = st.st_size;
    out->mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    return true;
}

namespace {

// Seconds a changed file must stay unchanged before it is loaded, so that a
// file being written in place is not read half-way.
constexpr long long kSettleNs = 1'000'000'000LL;

long long now_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// The first token of a line: up to whitespace, but a quoted local part may
// contain spaces ("john doe"@example.com).
std::string_view first_token_of(std::string_view line) {
    std::size_t i = 0;
    if (!line.empty() && line.front() == '"') {
        for (i = 1; i < line.size(); ++i) {
            if (line[i] == '\\') {
                ++i;
                continue;
            }
            if (line[i] == '"') {
                ++i;
                break;
            }
        }
    }
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    return line.substr(0, i);
}

}  // namespace

ListLine parse_list_line(std::string_view line, const AddressOptions& opts) {
    ListLine out;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos || line[b] == '#') return out;
    out.entry = normalize_entry(first_token_of(line.substr(b)), opts, &out.problem);
    out.kind = out.entry.empty() ? ListLine::Kind::Bad : ListLine::Kind::Entry;
    return out;
}

bool parse_recipient_list(const std::string& text, const std::string& path, const AddressOptions& opts,
                          RecipientList* out, std::string* error) {
    std::size_t pos = 0;
    int lineno = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        ++lineno;
        ListLine l = parse_list_line(line, opts);
        if (l.kind == ListLine::Kind::Bad) {
            *error = path + ":" + std::to_string(lineno) + ": " + l.problem;
            return false;
        }
        if (l.kind == ListLine::Kind::Entry) out->entries.insert(std::move(l.entry));
    }
    return true;
}

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
