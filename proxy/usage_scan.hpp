// UsageScanner: finds the engine's token counts in a response body while it streams through the relay, without
// holding the body: it looks for the JSON key "usage" across chunk boundaries and captures only that object
// (bounded at 4 KiB). For SSE bodies it also counts `data:` events, the fallback when an engine sends no usage
// (each delta is then counted as one token and marked approximate). Pure; feed() never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmux {

struct TokenUsage {
  std::optional<int64_t> prompt;
  std::optional<int64_t> cached;
  std::optional<int64_t> completion;
  bool approximate = false;  // counted from SSE events, not reported by the engine
};

class UsageScanner {
 public:
  explicit UsageScanner(bool sse = false) : sse_(sse) {}
  void feed(std::string_view chunk);
  // The last non-null usage object seen, else (for SSE) the event count as approximate completion tokens.
  TokenUsage result() const;
  uint64_t events() const { return events_; }

 private:
  void scan(std::string_view chunk);
  size_t find_key(std::string_view chunk);
  size_t capture(std::string_view chunk, size_t from);
  void count_events(std::string_view chunk);
  void finish_capture();

  bool sse_;
  std::string tail_;          // the end of the previous chunk, for a key split across chunks
  bool capturing_ = false;    // inside the value after "usage"
  bool in_string_ = false, escaped_ = false;
  int depth_ = 0;
  std::string captured_;
  TokenUsage usage_;
  bool have_usage_ = false;
  uint64_t events_ = 0;
  uint64_t done_events_ = 0;  // `data: [DONE]`
  int line_pos_ = 0;          // SSE: how many bytes of "data:" matched at the current line start (-1: not at start)
  bool check_done_ = false;
  std::string done_probe_;
};

}  // namespace llmux
