// text_fold: puts a line of a bounce's text into the one form that marker
// lines and failure phrases are matched in: ASCII letters in lower case,
// accented Latin letters (UTF-8 or ISO-8859-1, as localised MTAs write them)
// as their plain letter ("é" -> "e", "ß" -> "ss"), typographic apostrophes
// as "'", and every run of spaces and tabs as one space, trimmed at both ends.
// Other bytes are kept as they are, so they simply match nothing.
// Thread-safety: pure function.
// Failure: cannot fail (std::bad_alloc aside).
#pragma once

#include <string>
#include <string_view>

namespace rcptguard::bounce {

// Folds `line` into *out (replacing its contents).
void fold_text_line(std::string_view line, std::string* out);

}  // namespace rcptguard::bounce
