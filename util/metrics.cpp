// metrics: see metrics.hpp. Format: Prometheus text exposition format 0.0.4.
#include "util/metrics.hpp"

#include <sstream>

namespace rcptguard {

namespace {

// Label values are backend names from the config ([A-Za-z0-9_.-]), but escape anyway.
std::string escape_label(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

template <typename T>
std::string value_text(const std::atomic<T>& v, long divisor) {
    T n = v.load(std::memory_order_relaxed);
    if (divisor == 1) return std::to_string(n);
    std::ostringstream o;
    o << static_cast<double>(n) / static_cast<double>(divisor);
    return o.str();
}

struct Row {
    const char* family;
    const char* type;
    const char* labels;
    long divisor;
    const char* help;
    std::string (*value)(const Metrics&);
};

const std::vector<Row>& rows() {
#define RCPTGUARD_COUNTER_ROW(member, family, labels, divisor, help) \
    Row{family, "counter", labels, divisor, help, [](const Metrics& m) { return value_text(m.member, divisor); }},
#define RCPTGUARD_GAUGE_ROW(member, family, labels, divisor, help) \
    Row{family, "gauge", labels, divisor, help, [](const Metrics& m) { return value_text(m.member, divisor); }},
    static const std::vector<Row> table = {RCPTGUARD_METRICS(RCPTGUARD_COUNTER_ROW, RCPTGUARD_GAUGE_ROW)};
#undef RCPTGUARD_COUNTER_ROW
#undef RCPTGUARD_GAUGE_ROW
    return table;
}

struct BackendRow {
    const char* family;
    const char* labels;
    long divisor;
    const char* help;
    std::string (*value)(const BackendCounters&);
};

const std::vector<BackendRow>& backend_rows() {
#define RCPTGUARD_BACKEND_ROW(member, family, labels, divisor, help) \
    BackendRow{family, labels, divisor, help, [](const BackendCounters& c) { return value_text(c.member, divisor); }},
    static const std::vector<BackendRow> table = {RCPTGUARD_BACKEND_METRICS(RCPTGUARD_BACKEND_ROW)};
#undef RCPTGUARD_BACKEND_ROW
    return table;
}

std::string series_name(const char* family, const std::string& labels) {
    return labels.empty() ? std::string(family) : std::string(family) + "{" + labels + "}";
}

}  // namespace

void BackendCounters::note_failure(const std::string& reason, std::int64_t unix_time) {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    last_failure_.failing = true;
    last_failure_.reason = reason.substr(0, kMaxFailureReasonBytes);
    last_failure_.unix_time = unix_time;
    last_failure_.recovered_time = 0;
    failing_.store(true, std::memory_order_relaxed);
}

void BackendCounters::note_recovery(std::int64_t unix_time) {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    if (!last_failure_.failing) return;  // another thread noted it first
    last_failure_.failing = false;
    last_failure_.recovered_time = unix_time;
    failing_.store(false, std::memory_order_relaxed);
}

BackendCounters::Failure BackendCounters::last_failure() const {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    return last_failure_;
}

BackendCounters& Metrics::backend(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = backends_[name];
    if (!slot) slot = std::make_unique<BackendCounters>();
    return *slot;
}

void Metrics::set_refresh(std::function<void(Metrics&)> refresh) {
    std::lock_guard<std::mutex> lock(mutex_);
    refresh_ = std::move(refresh);
}

std::string Metrics::prometheus_text() {
    std::lock_guard<std::mutex> lock(mutex_);
    build_info.store(1, std::memory_order_relaxed);
    if (refresh_) refresh_(*this);
    std::ostringstream o;
    std::string family;
    for (const Row& r : rows()) {
        if (family != r.family) {
            family = r.family;
            o << "# HELP " << r.family << " " << r.help << "\n# TYPE " << r.family << " " << r.type << "\n";
        }
        o << series_name(r.family, r.labels) << " " << r.value(*this) << "\n";
    }
    family.clear();
    for (const BackendRow& r : backend_rows()) {
        if (family != r.family) {
            family = r.family;
            o << "# HELP " << r.family << " " << r.help << "\n# TYPE " << r.family << " counter\n";
        }
        for (const auto& [name, counters] : backends_) {
            std::string labels = "backend=\"" + escape_label(name) + "\"";
            if (*r.labels) labels += std::string(",") + r.labels;
            o << series_name(r.family, labels) << " " << r.value(*counters) << "\n";
        }
    }
    return o.str();
}

std::vector<std::string> declared_series() {
    std::vector<std::string> out;
    for (const Row& r : rows()) out.push_back(series_name(r.family, r.labels));
    for (const BackendRow& r : backend_rows())
        out.push_back(series_name(r.family, std::string("backend=\"*\"") + (*r.labels ? "," : "") + r.labels));
    return out;
}

}  // namespace rcptguard
