// What the fuzz targets share: a check that reports the broken property and aborts (libFuzzer then saves the
// input), and a deterministic way to cut an input into pieces (a feed must give the same result in any split).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);     \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace llmux::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Piece sizes (1..32) for cutting `text`, drawn from a generator seeded by the text itself: the same input always
// splits the same way, and different inputs split differently.
inline std::vector<size_t> splits(std::string_view text) {
  uint64_t x = 0x9e3779b97f4a7c15ull ^ text.size();
  for (char c : text) x = (x ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  std::vector<size_t> out;
  for (size_t at = 0; at < text.size();) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const size_t n = 1 + (x & 31);
    out.push_back(n);
    at += n;
  }
  return out;
}

}  // namespace llmux::fuzz
