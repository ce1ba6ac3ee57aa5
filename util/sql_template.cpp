// sql_template: see sql_template.hpp. Quoting rules: PostgreSQL "Lexical
// Structure" (standard_conforming_strings on, E'' strings, dollar quoting),
// MariaDB "String Literals" and "Comment Syntax" (backslash escapes, "-- "
// and '#' comments), SQLite "SQL Language Expressions".
#include "util/sql_template.hpp"

#include "util/text.hpp"

namespace rcptguard {

namespace {

bool ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

bool ident_start(char c) { return ident_char(c) && !(c >= '0' && c <= '9'); }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

bool is_placeholder_letter(char c) { return c == 's' || c == 'u' || c == 'd'; }

// A quoted text that holds a placeholder and no other '%' (which would make
// it a LIKE pattern) is a placeholder someone put in quotes.
bool quoted_placeholder(std::string_view content) {
    bool placeholder = false;
    for (std::size_t i = 0; i < content.size(); ++i) {
        if (content[i] != '%') continue;
        if (i + 1 < content.size() && is_placeholder_letter(content[i + 1])) {
            placeholder = true;
            ++i;
            continue;
        }
        return false;
    }
    return placeholder;
}

// The first word of the statement, after blanks, comments and '('.
std::string first_word(std::string_view q) {
    std::size_t i = 0;
    while (i < q.size()) {
        if (is_space(q[i]) || q[i] == '(') {
            ++i;
        } else if (q.compare(i, 2, "--") == 0 || q[i] == '#') {
            std::size_t nl = q.find('\n', i);
            i = nl == std::string_view::npos ? q.size() : nl + 1;
        } else if (q.compare(i, 2, "/*") == 0) {
            std::size_t end = q.find("*/", i + 2);
            i = end == std::string_view::npos ? q.size() : end + 2;
        } else {
            break;
        }
    }
    std::size_t j = i;
    while (j < q.size() && ident_char(q[j])) ++j;
    return to_lower_ascii(q.substr(i, j - i));
}

}  // namespace

SqlKeyParts split_sql_key(std::string_view key) {
    SqlKeyParts k;
    k.key = key;
    std::size_t at = key.rfind('@');
    if (at == std::string_view::npos) {
        k.local = key;
        return k;
    }
    k.local = key.substr(0, at);
    k.domain = key.substr(at + 1);
    return k;
}

std::string_view sql_param_value(SqlParam p, const SqlKeyParts& k) {
    switch (p) {
        case SqlParam::Key: return k.key;
        case SqlParam::Local: return k.local;
        case SqlParam::Domain: return k.domain;
    }
    return k.key;
}

std::string SqlTemplate::parse(std::string_view text, SqlDialect dialect) {
    std::string problem = parse_pieces(text, dialect);
    if (!problem.empty()) {
        pieces_.clear();
        params_.clear();
    }
    return problem;
}

std::string SqlTemplate::parse_pieces(std::string_view text, SqlDialect dialect) {
    text_ = std::string(text);
    dialect_ = dialect;
    pieces_.clear();
    params_.clear();
    if (text.find('\0') != std::string_view::npos) return "contains a NUL byte";
    std::string_view q = trim(text);
    while (!q.empty() && q.back() == ';') q = trim(q.substr(0, q.size() - 1));
    if (q.empty()) return "is empty";
    const bool mysql = dialect == SqlDialect::MySql;
    const bool postgres = dialect == SqlDialect::Postgres;
    const char* markers = postgres ? "$1" : dialect == SqlDialect::Sqlite ? "?1" : "?";

    std::string literal;
    auto flush = [&] {
        if (literal.empty()) return;
        pieces_.push_back(Piece{false, SqlParam::Key, std::move(literal)});
        literal.clear();
    };
    std::size_t i = 0;
    bool any = false;
    auto copy_to_line_end = [&] {
        std::size_t nl = q.find('\n', i);
        std::size_t end = nl == std::string_view::npos ? q.size() : nl + 1;
        literal.append(q.substr(i, end - i));
        i = end;
    };
    while (i < q.size()) {
        char c = q[i];
        char next = i + 1 < q.size() ? q[i + 1] : '\0';
        // Comments are passed on as they are. MariaDB wants a blank after "--".
        if (c == '-' && next == '-' && (!mysql || i + 2 >= q.size() || is_space(q[i + 2]))) {
            copy_to_line_end();
            continue;
        }
        if (c == '#' && mysql) {
            copy_to_line_end();
            continue;
        }
        if (c == '/' && next == '*') {
            std::size_t end = q.find("*/", i + 2);
            if (end == std::string_view::npos) return "a /* comment is not closed";
            literal.append(q.substr(i, end + 2 - i));
            i = end + 2;
            continue;
        }
        if (c == '\'' || c == '"' || c == '`') {
            // MariaDB reads backslash escapes in both kinds of quotes;
            // PostgreSQL only in E'...' strings.
            bool backslash =
                (mysql && c != '`') || (postgres && c == '\'' && i > 0 && (q[i - 1] == 'E' || q[i - 1] == 'e') &&
                                        (i < 2 || !ident_char(q[i - 2])));
            std::string content;
            std::size_t j = i + 1;
            for (;;) {
                if (j >= q.size()) return std::string("a quote (") + c + ") is not closed";
                if (backslash && q[j] == '\\' && j + 1 < q.size()) {
                    content.append(q.substr(j, 2));
                    j += 2;
                    continue;
                }
                if (q[j] == c) {
                    if (j + 1 < q.size() && q[j + 1] == c) {
                        content.push_back(c);
                        j += 2;
                        continue;
                    }
                    break;
                }
                content.push_back(q[j]);
                ++j;
            }
            if (c != '`' && quoted_placeholder(content))
                return "a placeholder is inside quotes (" + std::string(1, c) + printable(content, 40) +
                       std::string(1, c) +
                       "): placeholders are bound as parameters, never pasted into the text, so write "
                       "them without quotes (... = %s)";
            literal.append(q.substr(i, j + 1 - i));
            i = j + 1;
            continue;
        }
        if (postgres && c == '$') {
            if (next >= '0' && next <= '9')
                return "$N parameters are not for this query: write %s (the address), %u (its local part) or %d "
                       "(its domain)";
            if (i == 0 || !ident_char(q[i - 1])) {
                // A dollar-quoted string: $tag$ ... $tag$.
                std::size_t j = i + 1;
                while (j < q.size() && ident_char(q[j])) ++j;
                if (j < q.size() && q[j] == '$' && (j == i + 1 || ident_start(q[i + 1]))) {
                    std::string_view tag = q.substr(i, j + 1 - i);
                    std::size_t end = q.find(tag, j + 1);
                    if (end == std::string_view::npos) return "a dollar quote " + std::string(tag) + " is not closed";
                    std::string_view content = q.substr(j + 1, end - j - 1);
                    if (quoted_placeholder(content))
                        return "a placeholder is inside quotes (" + printable(content, 40) +
                               "): placeholders are bound as parameters, so write them without quotes (... = %s)";
                    literal.append(q.substr(i, end + tag.size() - i));
                    i = end + tag.size();
                    continue;
                }
            }
        }
        if (!postgres && c == '?')
            return std::string(
                "'?' parameters are not for this query: write %s (the address), %u (its local "
                "part) or %d (its domain)");
        if (dialect == SqlDialect::Sqlite && (c == ':' || c == '@' || c == '$') && ident_start(next) &&
            (i == 0 || !ident_char(q[i - 1])))
            return std::string("named parameters (") + c +
                   "name) are not for this query: write %s (the address), %u (its local part) or %d (its domain)";
        if (c == '%') {
            if (next == '%') {
                literal.push_back('%');
                i += 2;
                continue;
            }
            if (is_placeholder_letter(next)) {
                flush();
                pieces_.push_back(Piece{true,
                                        next == 's'   ? SqlParam::Key
                                        : next == 'u' ? SqlParam::Local
                                                      : SqlParam::Domain,
                                        {}});
                any = true;
                i += 2;
                continue;
            }
            if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z'))
                return std::string("unknown placeholder %") + next +
                       " (known: %s the address, %u its local part, %d its domain, %% a literal '%')";
            literal.push_back('%');
            ++i;
            continue;
        }
        if (c == ';') return "must be a single statement (a ';' in the middle)";
        literal.push_back(c);
        ++i;
    }
    flush();
    std::string word = first_word(q);
    if (word != "select" && word != "with") return "must be a SELECT statement (any row it returns means \"found\")";
    if (!any)
        return std::string(
                   "has no placeholder: use %s (the address), %u (its local part) or %d (its domain) "
                   "where the value goes, without quotes (rcptguard binds it as ") +
               markers + ")";
    for (const Piece& p : pieces_) {
        if (!p.placeholder) continue;
        bool seen = false;
        for (SqlParam have : params_) seen = seen || have == p.param;
        if (mysql || !seen) params_.push_back(p.param);
    }
    return "";
}

std::size_t SqlTemplate::number_of(SqlParam p) const {
    for (std::size_t i = 0; i < params_.size(); ++i)
        if (params_[i] == p) return i + 1;
    return 1;
}

std::string SqlTemplate::render(std::size_t offset) const {
    std::string out;
    for (const Piece& p : pieces_) {
        if (!p.placeholder) {
            out += p.literal;
        } else if (dialect_ == SqlDialect::MySql) {
            out += '?';
        } else {
            out += dialect_ == SqlDialect::Postgres ? '$' : '?';
            out += std::to_string(offset + number_of(p.param));
        }
    }
    return out;
}

std::string SqlTemplate::exists_statement(int n) const {
    std::string out = "SELECT ";
    for (int i = 0; i < n; ++i) {
        if (i) out += ", ";
        // The line end ends a "--" comment the query may close with.
        out += "EXISTS (" + render(static_cast<std::size_t>(i) * params_.size()) + "\n)";
    }
    return out;
}

}  // namespace rcptguard
