// Byte searches for the relay's scanners, eight bytes at a time (bit tricks on a 64-bit word): response and
// request bodies are mostly runs of plain bytes between the few that matter. Pure, header-only.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace llmux {

// A flag (the byte's high bit) for each byte of `w` that is zero. The lowest flag is exact: a false flag can only
// sit above a true one (the borrow), so the first match is read off the low bits (little-endian loads).
constexpr uint64_t zero_bytes(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  return (w - kOnes) & ~w & kHighs;
}

static_assert(std::endian::native == std::endian::little, "the first match is read off the word's low bits");

// The index of the first byte at or after `i` that is `a`, `b` or `c`; s.size() if none.
inline size_t first_of(std::string_view s, size_t i, char a, char b, char c) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  const uint64_t pa = kOnes * static_cast<unsigned char>(a), pb = kOnes * static_cast<unsigned char>(b),
                 pc = kOnes * static_cast<unsigned char>(c);
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (const uint64_t m = zero_bytes(w ^ pa) | zero_bytes(w ^ pb) | zero_bytes(w ^ pc))
      return i + static_cast<size_t>(std::countr_zero(m) >> 3);
  }
  for (; i < s.size(); ++i)
    if (s[i] == a || s[i] == b || s[i] == c) return i;
  return s.size();
}

}  // namespace llmux
