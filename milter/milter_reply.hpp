// milter_reply: a Reply as handed to libmilter's smfi_setreply(). Sendmail
// uses the text as a printf format and Postfix maps "%%" to "%", so every '%'
// is doubled (doc/platform.md §3); the result stays within libmilter's
// 980-character limit because Reply::text() keeps to half of it.
// Thread-safety: a pure function.
#pragma once

#include <string>

#include "core/reply.hpp"

namespace rcptguard {

// Doubles every '%' in s; s itself (moved, not copied) when it has none.
std::string escape_percent(std::string s);
// The text argument of smfi_setreply for r.
std::string milter_reply_text(const Reply& r);

}  // namespace rcptguard
