// Byte tests and searches for the relay's scanners and parsers, eight bytes at a time (bit tricks on a 64-bit word): response and
// request bodies are mostly runs of plain bytes between the few that matter. Pure, header-only.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace llmux {

constexpr uint64_t kByteOnes = 0x0101010101010101ull;  // 0x01 in every byte: kByteOnes * c repeats c

// A flag (the byte's high bit) for each byte of `w` below `limit` (at most 0x80). The lowest flag is exact: a false
// flag can only sit above a true one (the borrow), so the first match is read off the low bits (little-endian
// loads). Bytes from 0x80 up are never flagged.
constexpr uint64_t bytes_below(uint64_t w, uint64_t limit) {
  return (w - kByteOnes * limit) & ~w & (kByteOnes * 0x80);
}

// A flag for each byte of `w` that is zero (the same exactness).
constexpr uint64_t zero_bytes(uint64_t w) { return bytes_below(w, 1); }

// A flag for each byte of `w` equal to `c`.
constexpr uint64_t bytes_equal(uint64_t w, unsigned char c) { return zero_bytes(w ^ (kByteOnes * c)); }

// The 8 bytes at `p` as a word.
inline uint64_t load_word(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

static_assert(std::endian::native == std::endian::little, "the first match is read off the word's low bits");

// The index of the first byte at or after `i` that is `a`, `b` or `c`; s.size() if none.
inline size_t first_of(std::string_view s, size_t i, char a, char b, char c) {
  for (; i + 8 <= s.size(); i += 8) {
    const uint64_t w = load_word(s.data() + i);
    const auto ua = static_cast<unsigned char>(a), ub = static_cast<unsigned char>(b), uc = static_cast<unsigned char>(c);
    if (const uint64_t m = bytes_equal(w, ua) | bytes_equal(w, ub) | bytes_equal(w, uc))
      return i + static_cast<size_t>(std::countr_zero(m) >> 3);
  }
  for (; i < s.size(); ++i)
    if (s[i] == a || s[i] == b || s[i] == c) return i;
  return s.size();
}

}  // namespace llmux
