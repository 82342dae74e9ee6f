// Compares a request's prompt chain (proxy/http/prompt_scan) with the previous request of the same conversation:
// how many leading messages are reused, the first message that changed, whether that is a chain break (something
// the engine had cached changed, not only appended), and a hint in words at what changed ("message 0 (system)
// differs at char 312: digits only - a timestamp?", "tools re-ordered", "tool 'read' schema changed"). Pure;
// the hint names roles, positions, lengths and tool names, never text of the prompt.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/prompt_scan.hpp"

namespace llmux {

struct PrefixDiff {
  size_t messages = 0;        // in this request
  size_t previous = 0;        // in the conversation's previous request
  size_t reused = 0;          // leading messages unchanged (0 when the tools changed)
  long first_changed = -1;    // index of the first message that differs from the previous request's, -1: none
  bool tools_changed = false; // tool schemas or chat_template_kwargs differ
  bool chain_break = false;   // something before the end of the previous prompt changed
  uint64_t reused_bytes = 0;  // content bytes of the reused messages (+ the old part of an extended prompt)
  uint64_t prompt_bytes = 0;  // content bytes of this request
  std::string hint;           // "" when nothing needs explaining
};

// `now` was scanned from `body` (its content offsets point into it); `before` is the previous request's chain.
PrefixDiff diff_chains(const PromptChain& before, const PromptChain& now, std::string_view body);

}  // namespace llmux
