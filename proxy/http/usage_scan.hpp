// UsageScanner: finds the engine's token counts in a response body while it streams through the relay, without
// holding the body: it looks for the JSON key "usage" across chunk boundaries and captures only that object
// (bounded at 4 KiB). For SSE bodies it also counts the `data:` events that carry generated text (a content,
// reasoning, text or tool-argument delta; not the role, finish or [DONE] events), the fallback when an engine sends
// no usage (each is then counted as one token and marked approximate), and notes the end marker `data: [DONE]`. Pure; feed() never throws.
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
  // An SSE stream's end marker (`data: [DONE]`) was seen: the client that reads it has the whole answer.
  bool done() const { return done_; }
  bool sse() const { return sse_; }

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
  int64_t depth_ = 0;
  std::string captured_;
  bool oversized_ = false;    // the value outgrew kMaxCapture: followed to its end, not kept
  TokenUsage usage_;
  bool have_usage_ = false;
  uint64_t events_ = 0;        // data: events (the end marker included)
  uint64_t token_events_ = 0;  // those that carry generated text (a content, text or argument delta)
  int line_pos_ = 0;           // SSE: how many bytes of "data:" matched at the current line start (-1: not at start)
  bool in_data_ = false;       // inside a data: line, collecting it
  bool data_overflow_ = false; // longer than kMaxEventLine: counted as text
  std::string data_;
  bool done_ = false;
};

}  // namespace llmux
