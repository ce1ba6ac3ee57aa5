// atomic_file: writing a file so that a reader (or the next start after a
// crash) sees either the old contents or the new, never a torn mix, and
// reading a small file with a size limit.
//
// write_file_atomically() writes PATH.tmp in the same directory, fsync()s it,
// renames it over PATH and fsync()s the directory (rename(2) is atomic within
// a file system). A failure leaves PATH as it was and removes the temporary.
// Thread-safety: plain functions over the file system; two writers of the same
// path must be serialised by the caller.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace rcptguard {

// Returns "" or the problem ("cannot write PATH: reason").
std::string write_file_atomically(const std::string& path, std::string_view contents, mode_t mode);

// Reads a whole regular file of at most max_bytes. Returns "" and sets
// *contents; *missing (if given) is set when the file does not exist (the
// return value then says so too).
std::string read_small_file(const std::string& path, std::size_t max_bytes, std::string* contents,
                            bool* missing = nullptr);

}  // namespace rcptguard
