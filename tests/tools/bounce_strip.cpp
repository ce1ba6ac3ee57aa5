// bounce_strip: runs the bounce stripper on a message file the way the milter
// layer would, for the corpus test and for trying a bounce by hand.
//
//   bounce_strip [--chunk N] [--max-kept-bytes N] [--skip] [--verdict FILE] FILE|-
//
// The file is prepared as an MTA would hand it to a milter: an mbox "From "
// line is dropped, LF-only and CR-only line endings become CRLF, the header
// section is split into fields (value without the leading blank, folded lines
// joined by "\n"), and the body is fed in chunks of N bytes (default 65535,
// libmilter's chunk size). With --skip, feeding stops when the stripper says
// it needs no more (SMFIS_SKIP). The resulting message goes to stdout: the
// input unchanged, or its header section plus the trace header and the new
// body. A one-line JSON verdict goes to stderr or FILE.
// Exit status: 0 on success (Replace or Unchanged), 2 on a usage or I/O error.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>

#include "core/bounce/bounce_stripper.hpp"
#include "tests/fakes/bounce_message.hpp"

namespace {

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (u < 0x20 || u >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out.push_back(c);
        }
    }
    return out + "\"";
}

[[noreturn]] void usage() {
    std::cerr << "usage: bounce_strip [--chunk N] [--max-kept-bytes N] [--skip] [--verdict FILE] FILE|-\n";
    std::exit(2);
}

std::size_t number(const char* s) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (!end || *end || v == 0) usage();
    return static_cast<std::size_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t chunk = 65535;
    rcptguard::BounceOptions options;
    bool skip = false;
    std::string verdict_path, input_path;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--chunk" && i + 1 < argc)
            chunk = number(argv[++i]);
        else if (a == "--max-kept-bytes" && i + 1 < argc)
            options.max_kept_bytes = number(argv[++i]);
        else if (a == "--skip")
            skip = true;
        else if (a == "--verdict" && i + 1 < argc)
            verdict_path = argv[++i];
        else if (input_path.empty() && (a == "-" || a.substr(0, 1) != "-"))
            input_path = std::string(a);
        else
            usage();
    }
    if (input_path.empty()) usage();

    std::string raw;
    if (input_path == "-") {
        raw.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        std::ifstream in(input_path, std::ios::binary);
        if (!in) {
            std::cerr << "bounce_strip: cannot read " << input_path << "\n";
            return 2;
        }
        raw.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    using rcptguard::testing::MilterMessage;
    MilterMessage m = rcptguard::testing::split_for_milter(rcptguard::testing::normalise_for_milter(raw));
    rcptguard::StripResult r = rcptguard::testing::strip(
        m, options, [chunk](std::size_t left) { return left < chunk ? left : chunk; }, skip);
    std::string out = rcptguard::testing::assemble(m, r);
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
    std::cout.flush();

    std::ostringstream v;
    v << "{\"action\":" << json_string(r.action == rcptguard::StripResult::Action::Replace ? "replace" : "unchanged")
      << ",\"kind\":" << json_string(r.kind) << ",\"reason\":" << json_string(r.reason)
      << ",\"evidence\":" << json_string(r.evidence)
      << ",\"could_not_parse\":" << (r.could_not_parse ? "true" : "false") << ",\"bytes_removed\":" << r.bytes_removed
      << ",\"bytes_removed_exact\":" << (r.bytes_removed_exact ? "true" : "false")
      << ",\"kept_prefix_bytes\":" << r.kept_prefix_bytes << ",\"body_bytes\":" << m.body.size()
      << ",\"new_body_bytes\":" << r.new_body.size() << ",\"trace_header\":" << json_string(r.trace_header_value)
      << "}\n";
    if (verdict_path.empty()) {
        std::cerr << v.str();
    } else {
        std::ofstream f(verdict_path, std::ios::binary | std::ios::trunc);
        f << v.str();
        if (!f) {
            std::cerr << "bounce_strip: cannot write " << verdict_path << "\n";
            return 2;
        }
    }
    return std::cout ? 0 : 2;
}
