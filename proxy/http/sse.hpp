// Client side of a Server-Sent Events stream: an incremental parser fed arbitrary byte chunks (lines split across
// chunks, \n, \r\n or \r endings, multi-line data, comment lines) that yields complete events, and the reading of
// one OpenAI chat-completion chunk. Pure: no sockets, no Asio; never throws (malformed JSON is reported in the
// result, not thrown).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmux {

struct SseMessage {
  std::string event;  // the `event:` field; "" means the default ("message")
  std::string data;   // `data:` lines joined with '\n' (one space after the colon dropped)
};

class SseParser {
 public:
  // Complete events found in `bytes` plus what earlier calls left pending. Comment lines (":...", heartbeats) are
  // counted, never returned; a blank line with no data dispatches nothing (per the SSE spec).
  std::vector<SseMessage> feed(std::string_view bytes);
  // The stream ended: an event whose closing blank line never came is returned if it has data.
  std::optional<SseMessage> finish();
  std::size_t comments() const { return comments_; }

 private:
  void line(std::string_view text, std::vector<SseMessage>& out);

  std::string partial_;    // bytes of a line not yet terminated
  bool skip_lf_ = false;   // the last chunk ended with '\r': a '\n' opening the next one belongs to it
  SseMessage current_;
  bool has_data_ = false;
  std::size_t comments_ = 0;
};

// What one `data:` payload of a chat-completion stream carries (choice 0 only).
struct ChatChunk {
  bool done = false;       // the "[DONE]" sentinel
  bool malformed = false;  // not JSON, or not an object
  std::string model;
  std::string content;     // choices[0].delta.content (also message.content of a non-streamed answer)
  std::string reasoning;   // choices[0].delta.reasoning_content (llmux sends load progress this way)
  std::string finish_reason;     // "" while generating
  nlohmann::json usage;          // null unless this chunk carries usage
  std::string error;             // error.message of an {"error":{...}} payload, else ""
};

ChatChunk parse_chat_chunk(std::string_view data);

// The one-line message of an OpenAI-shaped error body ({"error":{"message":...}} or {"error":"..."}); otherwise
// the body itself, trimmed and cut to one line of at most 300 bytes.
std::string error_message(std::string_view body);

}  // namespace llmux
