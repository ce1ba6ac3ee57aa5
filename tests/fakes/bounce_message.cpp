// bounce_message: see bounce_message.hpp.
#include "tests/fakes/bounce_message.hpp"

namespace rcptguard::testing {
namespace {

bool is_field(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && line[i] != ':') {
        auto u = static_cast<unsigned char>(line[i]);
        if (u < 33 || u > 126) return false;
        ++i;
    }
    return i > 0 && i < line.size();
}

}  // namespace

std::string normalise_for_milter(std::string_view raw) {
    if (raw.substr(0, 5) == "From ") {
        std::size_t eol = raw.find_first_of("\r\n");
        raw.remove_prefix(eol == std::string_view::npos ? raw.size() : eol);
        if (!raw.empty() && raw[0] == '\r') raw.remove_prefix(1);
        if (!raw.empty() && raw[0] == '\n') raw.remove_prefix(1);
    }
    std::string out;
    out.reserve(raw.size() + raw.size() / 16);
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '\r') {
            if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
            out += "\r\n";
        } else if (c == '\n') {
            out += "\r\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

MilterMessage split_for_milter(std::string text) {
    MilterMessage m;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find("\r\n", pos);
        std::size_t line_end = eol == std::string::npos ? text.size() : eol;
        std::size_t next = eol == std::string::npos ? text.size() : eol + 2;
        std::string_view line(text.data() + pos, line_end - pos);
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
    m.header_section = text.substr(0, m.separator.empty() ? pos : pos - 2);
    m.body = text.substr(pos);
    return m;
}

std::string assemble(const MilterMessage& m, const StripResult& r) {
    std::string out = m.header_section;
    if (r.action == StripResult::Action::Replace) {
        out += r.trace_header_name + ": " + r.trace_header_value + "\r\n";
        out += m.separator + r.new_body;
    } else {
        out += m.separator + m.body;
    }
    return out;
}

StripResult strip(const MilterMessage& m, const BounceOptions& options,
                  const std::function<std::size_t(std::size_t)>& next_chunk_size, bool skip) {
    BounceStripper s(options);
    for (const auto& [name, value] : m.fields) s.header(name, value);
    s.end_of_headers();
    bool whole = true;
    std::size_t pos = 0;
    while (pos < m.body.size()) {
        std::size_t n = next_chunk_size(m.body.size() - pos);
        bool more = s.body(std::string_view(m.body).substr(pos, n));
        pos += n;
        if (!more && skip) {
            whole = pos >= m.body.size();
            break;
        }
    }
    return s.finish(whole);
}

}  // namespace rcptguard::testing
