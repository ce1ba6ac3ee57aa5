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
#include <vector>

#include "milter/bounce/bounce_stripper.hpp"

namespace {

struct Message {
    std::string header_section;  // header lines, each ending in CRLF
    std::string separator;       // "\r\n", or "" when the header section ran into the body
    std::string body;
    std::vector<std::pair<std::string, std::string>> fields;
};

std::string normalise_line_endings(std::string_view in) {
    std::string out;
    out.reserve(in.size() + in.size() / 16);
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '\r') {
            if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
            out += "\r\n";
        } else if (c == '\n') {
            out += "\r\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

bool is_field(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && line[i] != ':') {
        auto u = static_cast<unsigned char>(line[i]);
        if (u < 33 || u > 126) return false;
        ++i;
    }
    return i > 0 && i < line.size();
}

// Splits as Postfix's cleanup does: the header section ends at an empty line,
// or at the first line that is neither a field nor a continuation (which then
// starts the body).
Message split_message(std::string text) {
    Message m;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find("\r\n", pos);
        std::size_t next = eol == std::string::npos ? text.size() : eol + 2;
        std::string_view line(text.data() + pos, (eol == std::string::npos ? text.size() : eol) - pos);
        if (line.empty()) {
            m.separator = "\r\n";
            pos = next;
            break;
        }
        bool continuation = (line[0] == ' ' || line[0] == '\t') && !m.fields.empty();
        if (!continuation && !is_field(line)) break;
        if (continuation) {
            m.fields.back().second += "\n";
            m.fields.back().second += line;
        } else {
            std::size_t colon = line.find(':');
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value[0] == ' ' || value[0] == '\t')) value.remove_prefix(1);
            m.fields.emplace_back(std::string(line.substr(0, colon)), std::string(value));
        }
        pos = next;
    }
    std::size_t header_end = m.separator.empty() ? pos : pos - 2;
    m.header_section = text.substr(0, header_end);
    m.body = text.substr(pos);
    return m;
}

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
        if (a == "--chunk" && i + 1 < argc) chunk = number(argv[++i]);
        else if (a == "--max-kept-bytes" && i + 1 < argc) options.max_kept_bytes = number(argv[++i]);
        else if (a == "--skip") skip = true;
        else if (a == "--verdict" && i + 1 < argc) verdict_path = argv[++i];
        else if (input_path.empty() && (a == "-" || a.substr(0, 1) != "-")) input_path = std::string(a);
        else usage();
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
    // A milter never sees the mbox separator line.
    if (raw.rfind("From ", 0) == 0) {
        std::size_t eol = raw.find_first_of("\r\n");
        raw.erase(0, eol == std::string::npos ? raw.size() : eol);
        std::size_t n = 0;
        if (n < raw.size() && raw[n] == '\r') ++n;
        if (n < raw.size() && raw[n] == '\n') ++n;
        raw.erase(0, n);
    }
    Message m = split_message(normalise_line_endings(raw));

    rcptguard::BounceStripper stripper(options);
    for (const auto& [name, value] : m.fields) stripper.header(name, value);
    stripper.end_of_headers();
    bool fed_all = true;
    for (std::size_t pos = 0; pos < m.body.size(); pos += chunk) {
        bool more = stripper.body(std::string_view(m.body).substr(pos, chunk));
        if (!more && skip) {
            fed_all = pos + chunk >= m.body.size();
            break;
        }
    }
    rcptguard::StripResult r = stripper.finish(fed_all);

    std::string out = m.header_section;
    if (r.action == rcptguard::StripResult::Action::Replace) {
        out += r.trace_header_name + ": " + r.trace_header_value + "\r\n";
        out += m.separator + r.new_body;
    } else {
        out += m.separator + m.body;
    }
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
    std::cout.flush();

    std::ostringstream v;
    v << "{\"action\":" << json_string(r.action == rcptguard::StripResult::Action::Replace ? "replace" : "unchanged")
      << ",\"kind\":" << json_string(r.kind) << ",\"reason\":" << json_string(r.reason)
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
