// Word splitting of a model's `cmd` (split_command) and the comment stripping the config loader does before
// expanding macros (strip_comments). Properties: only std::invalid_argument is thrown, by both alike; stripping
// the comments does not change the words; the words, single-quoted as a shell would, split back to themselves.
#include <stdexcept>
#include <string>
#include <vector>

#include "common/argv.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace llmux;
using namespace llmux::fuzz;

namespace {

std::string single_quoted(const std::string& w) {
  std::string out = "'";
  for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string cmd(as_text(data, size));
  std::vector<std::string> words;
  std::string stripped;
  bool split_threw = false, strip_threw = false;
  try {
    words = split_command(cmd);
  } catch (const std::invalid_argument&) {
    split_threw = true;
  }
  try {
    stripped = strip_comments(cmd);
  } catch (const std::invalid_argument&) {
    strip_threw = true;
  }
  FUZZ_CHECK(split_threw == strip_threw);
  if (split_threw) return 0;
  FUZZ_CHECK(split_command(stripped) == words);
  FUZZ_CHECK(strip_comments(stripped) == stripped);
  std::string quoted;
  for (const auto& w : words) quoted += single_quoted(w) + " ";
  FUZZ_CHECK(split_command(quoted) == words);
  return 0;
}
