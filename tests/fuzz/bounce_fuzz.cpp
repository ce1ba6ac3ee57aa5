// libFuzzer target: the bounce stripper. The input is a message (tools/run-fuzz
// seeds this target with the real bounces in tests/corpus/dsn/), prepared
// as an MTA hands it to a milter and fed in chunks whose size, like the cap,
// is derived from the input. Any input must be handled without a crash or an
// internal error, and every Replace must be well formed:
//  - no larger than the cap plus the rewrite's small constant;
//  - starting with the unchanged prefix of the original body;
//  - a multipart rewrite ends with a close delimiter line, an inline cut is a
//    prefix of the original body;
//  - the same whatever the chunking and with SKIP;
//  - stripping the result again changes nothing (idempotent).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/bounce/bounce_stripper.hpp"
#include "tests/fakes/bounce_message.hpp"

using namespace rcptguard;

namespace {

constexpr std::size_t kRewriteSlackBytes = 1024;  // as documented in bounce_stripper.cpp

void check(bool ok) {
    if (!ok) std::abort();
}

StripResult run(const testing::MilterMessage& m, const BounceOptions& o, std::size_t chunk, bool skip) {
    return testing::strip(
        m, o, [chunk](std::size_t left) { return left < chunk ? left : chunk; }, skip);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view raw(reinterpret_cast<const char*>(data), size);
    std::uint32_t h = 2166136261u;  // FNV-1a: parameters follow from the input, reproducibly
    for (unsigned char c : raw) h = (h ^ c) * 16777619u;
    BounceOptions o;
    if (h & 1) o.max_kept_bytes = 64 + (h >> 8) % 4096;
    std::size_t chunk = 1 + (h >> 4) % 97;

    testing::MilterMessage m = testing::split_for_milter(testing::normalise_for_milter(raw));
    if (h & 2) {
        // Also bodies an MTA would not send: bare CR/LF exactly as given.
        std::size_t blank = raw.find("\n\n");
        if (blank != std::string_view::npos) m.body = std::string(raw.substr(blank + 2));
    }

    StripResult whole = run(m, o, m.body.size() + 1, false);
    check(whole.reason.rfind("internal error", 0) != 0);
    if (whole.action == StripResult::Action::Unchanged) {
        check(!whole.reason.empty() && whole.new_body.empty());
    } else {
        const std::string& nb = whole.new_body;
        check(nb.size() <= o.max_kept_bytes + kRewriteSlackBytes);
        check(whole.kept_prefix_bytes > 0 && whole.kept_prefix_bytes <= nb.size());
        check(nb.compare(0, whole.kept_prefix_bytes, m.body, 0, whole.kept_prefix_bytes) == 0);
        if (whole.kind.rfind("inline-", 0) == 0) {
            check(whole.kept_prefix_bytes == nb.size());
        } else {
            check(nb.size() >= 6 && nb.compare(nb.size() - 4, 4, "--\r\n") == 0);
            std::size_t last = nb.rfind("\r\n", nb.size() - 3);
            check(last != std::string::npos && nb.compare(last + 2, 2, "--") == 0);
        }
        check(!whole.trace_header_name.empty() && whole.trace_header_value.find('\n') == std::string::npos);
        // Same headers, the new body: nothing more to strip. (Not the
        // re-parsed delivered message: with no header section at all, the
        // added trace header would turn body lines into headers.)
        testing::MilterMessage stripped = m;
        stripped.body = nb;
        StripResult again = testing::strip(
            stripped, BounceOptions{}, [](std::size_t left) { return left; }, false);
        check(again.action == StripResult::Action::Unchanged);
    }

    for (bool skip : {false, true}) {
        StripResult c = run(m, o, chunk, skip);
        check(c.action == whole.action && c.kind == whole.kind && c.reason == whole.reason &&
              c.new_body == whole.new_body && c.kept_prefix_bytes == whole.kept_prefix_bytes);
        if (!skip) check(c.bytes_removed == whole.bytes_removed);
    }
    return 0;
}
