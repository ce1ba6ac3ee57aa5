// bounce_test_util: small helpers shared by the bounce unit tests: messages
// written with "\n" in the source become CRLF messages as a milter sees them,
// and every message can be run whole, byte by byte and in random chunks.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>
#include <string_view>

#include "core/bounce/bounce_stripper.hpp"
#include "tests/fakes/bounce_message.hpp"

namespace rcptguard::testing {

inline MilterMessage message(std::string_view lf_text) { return split_for_milter(normalise_for_milter(lf_text)); }

inline std::string crlf(std::string_view lf_text) { return normalise_for_milter(lf_text); }

inline StripResult strip_whole(const MilterMessage& m, BounceOptions o = {}) {
    return strip(
        m, o, [](std::size_t left) { return left; }, false);
}

inline StripResult strip_chunked(const MilterMessage& m, std::size_t chunk, BounceOptions o = {}, bool skip = false) {
    return strip(
        m, o, [chunk](std::size_t left) { return left < chunk ? left : chunk; }, skip);
}

inline StripResult strip_random(const MilterMessage& m, unsigned seed, BounceOptions o = {}) {
    std::mt19937 rng(seed);
    return strip(
        m, o,
        [&rng](std::size_t left) {
            std::size_t n = std::uniform_int_distribution<std::size_t>(1, 97)(rng);
            return n < left ? n : left;
        },
        false);
}

inline void expect_same_result(const StripResult& a, const StripResult& b, const std::string& how) {
    EXPECT_EQ(a.action, b.action) << how;
    EXPECT_EQ(a.kind, b.kind) << how;
    EXPECT_EQ(a.reason, b.reason) << how;
    EXPECT_EQ(a.could_not_parse, b.could_not_parse) << how;
    EXPECT_EQ(a.new_body, b.new_body) << how;
    EXPECT_EQ(a.kept_prefix_bytes, b.kept_prefix_bytes) << how;
    EXPECT_EQ(a.bytes_removed, b.bytes_removed) << how;
    EXPECT_EQ(a.trace_header_value, b.trace_header_value) << how;
}

// The result must not depend on where the chunk boundaries fall (inside a
// CRLF, inside a delimiter line, ...), nor - apart from the byte count - on
// skipping the rest once body() returned false.
inline void expect_chunking_invariant(const MilterMessage& m, const StripResult& whole, BounceOptions o = {}) {
    expect_same_result(strip_chunked(m, 1, o), whole, "byte by byte");
    for (std::size_t n : {2, 3, 5, 7, 13, 64, 1000})
        expect_same_result(strip_chunked(m, n, o), whole, "chunks of " + std::to_string(n));
    for (unsigned seed = 1; seed <= 8; ++seed)
        expect_same_result(strip_random(m, seed, o), whole, "random chunks, seed " + std::to_string(seed));
    for (std::size_t n : {1, 7, 65535}) {
        StripResult skipped = strip_chunked(m, n, o, /*skip=*/true);
        EXPECT_EQ(skipped.action, whole.action) << "skip, chunks of " << n;
        EXPECT_EQ(skipped.kind, whole.kind) << "skip, chunks of " << n;
        EXPECT_EQ(skipped.reason, whole.reason) << "skip, chunks of " << n;
        EXPECT_EQ(skipped.new_body, whole.new_body) << "skip, chunks of " << n;
    }
}

}  // namespace rcptguard::testing
