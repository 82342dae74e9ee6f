// The prompt of an inference request as a chain of fingerprints, for the prefix-stability diagnosis
// (proxy/policy/prefix_chain): one link per message (chat `messages`, Responses `instructions` + `input` items,
// Anthropic `system` + `messages`, completions `prompt`) and the tool schemas (+ chat_template_kwargs) as one more
// link. Pure, one pass over the bytes that scan_top_level() located; no DOM, no text kept (hashes, lengths and
// the positions of a few checkpoints). Never throws; a body it cannot follow gives a shorter chain.
//
// Canonical bytes: blanks outside strings are dropped and an element's members are hashed in any order, so "same
// JSON, other spacing or key order" is the same link. String contents are hashed as written: `\u00e9` and `é`, or
// `\/` and `/`, differ (one client serializes the same way every turn; the engine's template may not care).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/json_scan.hpp"

namespace llmux {

// A streaming 64-bit hash, eight bytes at a time (not cryptographic: collisions are a matter of chance, 2^-64).
class Hash64 {
 public:
  explicit Hash64(uint64_t seed = 0) : h_(seed ^ 0x243F6A8885A308D3ull) {}
  void add(std::string_view bytes);
  void add_word(uint64_t w);  // eight bytes at once (only when nothing is pending)
  void add_u64(uint64_t v);   // a value as one word (lengths, sub-hashes), after any pending bytes
  uint64_t digest() const;

 private:
  uint64_t h_;
  uint64_t pending_ = 0;
  unsigned npending_ = 0;
  uint64_t length_ = 0;
};

uint64_t hash_bytes(std::string_view bytes, uint64_t seed = 0);

enum class Role : uint8_t { system, user, assistant, tool, prompt, other };
std::string_view role_name(Role r);

// A message's fingerprints. `content` is the text the engine renders (a string's bytes between its quotes, or the
// bytes of a content-parts array / function-call arguments / a function output).
struct MessagePrint {
  static constexpr size_t kCheckpoints = 32;
  uint64_t hash = 0;        // the whole element, canonical
  uint64_t content = 0;     // content bytes as written
  uint64_t masked = 0;      // the same with every digit read as '0': equal while only digits changed
  uint64_t calls = 0;       // tool_calls (canonical), 0 when none
  uint32_t length = 0;      // content bytes
  uint32_t block = 0;       // checkpoint spacing: checkpoint k hashes content[0, (k+1)*block)
  uint32_t at = 0;          // the content's offset in this request's body (valid only while it is at hand)
  uint8_t checkpoints_n = 0;
  Role role = Role::other;
  std::array<uint32_t, kCheckpoints> checkpoints{};
};

// A run of ASCII digits in a text: where, how long, and a 16-bit hash of it (enough to tell which run changed).
struct DigitRun {
  uint32_t at = 0;
  uint16_t length = 0;
  uint16_t hash = 0;
};

// The first `max` digit runs of `text`.
std::vector<DigitRun> digit_runs(std::string_view text, size_t max);

struct ToolPrint {
  uint64_t hash = 0;  // the schema, canonical
  std::string name;   // function name (an identifier, at most 64 bytes): named in hints
};

struct PromptChain {
  std::vector<MessagePrint> messages;
  std::vector<ToolPrint> tools;
  uint64_t tools_hash = 0;    // every schema, in order
  uint64_t options_hash = 0;  // chat_template_kwargs (changes the rendered prompt), 0 when absent
  uint64_t bytes = 0;         // content bytes of every message
  std::string explicit_id;    // the body's prompt_cache_key, else `user` (decoded, at most 128 bytes), or ""
  uint64_t first_key = 0;     // identity fallback: the first non-system message (a prompt: its first KiB, digits masked)
  uint64_t system_key = 0;    // the first system message with digits masked (0 when none)
  std::vector<DigitRun> system_digits;  // message 0's digit runs when it is a system message (timestamps live there)
};

// Fingerprints of the prompt in `body`, whose top level `scan` describes. At most `max_messages` links.
PromptChain scan_prompt(std::string_view body, const TopLevelScan& scan, size_t max_messages = 4096);

// Fingerprints of `content` (checkpoints every `block` bytes; 0: chosen from its length).
void fingerprint_content(std::string_view content, MessagePrint& m, uint32_t block = 0);

// Hash of content[0, length) as fingerprint_content() computes `content` (for "does the new text extend the old").
uint64_t content_prefix_hash(std::string_view content, size_t length);

}  // namespace llmux
