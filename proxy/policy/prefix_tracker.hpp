// PrefixTracker: the prefix-stability diagnosis of every chat, completions, responses and messages request. Finds
// the request's conversation and compares its prompt chain with that conversation's previous request
// (proxy/policy/prefix_chain), keeping per conversation only fingerprints (hashes, lengths, tool names), never
// prompt text. Bounded: at most `conversations` conversations and `messages` fingerprinted messages in all, the
// least recently used forgotten first. Pure and single-threaded (the io_context's thread); never throws for any
// body (a body it cannot follow is not diagnosed).
//
// Conversation identity, first found wins: a session header (kSessionHeaders), the body's `prompt_cache_key` or
// `user`, else the first non-system message. The model and the first system message (digits masked, so that a
// timestamp does not start a new conversation) are part of it, so an agent's side calls (a title, a summary) with
// another system prompt are conversations of their own. A request whose system message changed otherwise but
// whose other messages continue a known conversation is that conversation, with a chain break at message 0.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/framing.hpp"
#include "proxy/http/json_scan.hpp"
#include "proxy/policy/prefix_chain.hpp"

namespace llmux {

// Session headers agent clients send (first found wins): x-session-id (set it yourself), session_id (Codex CLI),
// x-opencode-session (opencode), x-claude-code-session-id (Claude Code).
inline constexpr std::string_view kSessionHeaders[] = {"x-session-id", "session_id", "x-opencode-session",
                                                        "x-claude-code-session-id"};

struct PrefixReport {
  bool diagnosed = false;    // a prompt was found (false: another route, or nothing to compare)
  bool first = false;        // the conversation's first request seen
  std::string conversation;  // 8 hex digits, also shown by `llmux prefix`
  PrefixDiff diff;
};

// The PERF line's fields: " conv=3f2a9c01 reuse=12/15 first_changed=- chain_break=no" ("" when not diagnosed).
std::string prefix_perf_fields(const PrefixReport& r);
// A chain break in words, for its own log line: "conv=3f2a9c01 chain break at message 0 (reused 0 of 15
// messages): message 0 (system) differs at char 312: digits only - a timestamp?".
std::string prefix_break_text(const PrefixReport& r);

class PrefixTracker {
 public:
  using Clock = std::chrono::system_clock;
  explicit PrefixTracker(size_t conversations = 64, size_t messages = 16384)
      : max_conversations_(conversations), max_messages_(messages) {}

  // The diagnosis of one inference request (its body scanned by scan_top_level into `scan`).
  PrefixReport observe(std::string_view model, const Request& req, std::string_view body, const TopLevelScan& scan);
  // The same from its parts: `header_id` is a session header's value ("" when none), `source` names where the
  // identity came from. Used by observe() and the unit tests.
  PrefixReport observe_chain(std::string_view model, std::string_view header_id, std::string_view source,
                             PromptChain chain, std::string_view body, Clock::time_point now = Clock::now());

  // GET /prefix: {"conversations":[...]} most recent first, at most `limit`.
  std::string json(size_t limit) const;
  size_t conversations() const { return entries_.size(); }

 private:
  struct Break {
    Clock::time_point at;
    long message = -1;  // -1: the tools
    std::string hint;
  };
  struct Entry {
    uint64_t key = 0, base = 0;  // base: the identity without the system message
    std::string model, source, id;
    PromptChain chain;           // the previous request's fingerprints
    uint64_t requests = 0, breaks = 0, stamp = 0;
    Clock::time_point first_at, last_at;
    PrefixDiff last;
    std::deque<Break> recent;    // the last few breaks
  };
  Entry* find(uint64_t key, uint64_t base, const PromptChain& chain);
  void evict(const Entry* keep);

  size_t max_conversations_, max_messages_;
  std::vector<Entry> entries_;
  uint64_t clock_ = 0;
  size_t messages_ = 0;  // fingerprinted messages held, all entries
};

}  // namespace llmux
