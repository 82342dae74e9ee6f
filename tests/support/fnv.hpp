// FNV-1a 64 of a byte string, as 16 hex digits: how the fake engine reports a large body it received (its length
// and this digest instead of the bytes), and how a test checks that the body arrived intact. Not cryptographic.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace llmux::test {

inline std::string fnv1a64_hex(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace llmux::test
