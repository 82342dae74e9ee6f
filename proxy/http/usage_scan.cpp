#include "proxy/http/usage_scan.hpp"

#include <algorithm>
#include <cstring>

#include "proxy/http/byte_scan.hpp"


namespace llmux {

namespace {

constexpr std::string_view kKey = "\"usage\"";
constexpr std::string_view kData = "data:";
constexpr size_t kMaxCapture = 4096;


}  // namespace

void UsageScanner::feed(std::string_view chunk) {
  if (sse_) count_events(chunk);
  scan(chunk);
}

void UsageScanner::scan(std::string_view chunk) {
  while (!chunk.empty()) {
    if (capturing_) {
      chunk.remove_prefix(capture(chunk, 0));
      continue;
    }
    size_t end = find_key(chunk);
    if (end == std::string_view::npos) return;
    capturing_ = true;
    chunk.remove_prefix(end);
  }
}

// Where the key "usage" ends in `chunk` (it may have begun in the previous chunk), or npos. A key prefix that ends
// the chunk is kept for the next call.
size_t UsageScanner::find_key(std::string_view chunk) {
  if (!tail_.empty()) {  // the previous chunk ended with the start of a key
    const std::string_view rest = kKey.substr(tail_.size());
    const size_t n = std::min(rest.size(), chunk.size());
    if (chunk.substr(0, n) == rest.substr(0, n)) {
      if (n == rest.size()) {
        tail_.clear();
        return n;
      }
      tail_.append(chunk);  // a longer prefix, still
      return std::string_view::npos;
    }
    tail_.clear();
  }
  // Looks for the key's 'g' (rare in JSON and text: memchr skips long runs at once), then compares the rest.
  constexpr size_t kG = 4;  // "\"usage\""[4] == 'g'
  const char* const p = chunk.data();
  for (size_t at = kG; at < chunk.size();) {
    const void* g = std::memchr(p + at, 'g', chunk.size() - at);
    if (g == nullptr) break;
    const size_t i = static_cast<size_t>(static_cast<const char*>(g) - p);
    if (i + kKey.size() - kG <= chunk.size() && std::memcmp(p + i - kG, kKey.data(), kKey.size()) == 0)
      return i - kG + kKey.size();
    at = i + 1;
  }
  // A key prefix at the end starts at the window's last quote (a prefix of the key holds one quote, its first).
  const size_t from = chunk.size() > kKey.size() - 1 ? chunk.size() - (kKey.size() - 1) : 0;
  for (size_t q = chunk.size(); q-- > from;) {
    if (p[q] != '"') continue;
    if (kKey.starts_with(chunk.substr(q))) tail_.assign(chunk.substr(q));
    break;
  }
  return std::string_view::npos;
}

// Captures the value after the key: skips ':' and blanks, takes a balanced {...}; anything else (null) ends it.
// Appends the captured span in one piece per chunk. A value past kMaxCapture is not a usage report: it is followed
// to its end without being kept (and found to be no usage), however its bytes are split into chunks.
size_t UsageScanner::capture(std::string_view chunk, size_t i) {
  size_t from = i;
  auto flush = [&](size_t to) {
    if (to > from && !oversized_)
      captured_.append(chunk.substr(from, std::min(to - from, kMaxCapture + 1 - captured_.size())));
    if (captured_.size() > kMaxCapture) {
      captured_.clear();
      oversized_ = true;
    }
  };
  // The state in locals for the loop (written back on every exit): members would be reloaded each byte.
  int64_t depth = depth_;  // (an engine may stream an endless run of '{')
  bool in_string = in_string_, escaped = escaped_;
  auto save = [&] {
    depth_ = depth;
    in_string_ = in_string;
    escaped_ = escaped;
  };
  const char* p = chunk.data();
  for (; i < chunk.size(); ++i) {
    const char c = p[i];
    if (depth == 0) {
      if (c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        from = i + 1;
        continue;
      }
      if (c != '{') {  // null or a non-object: not a usage report
        capturing_ = false;
        save();
        return i;
      }
    }
    if (in_string) {
      if (escaped) {
        escaped = false;
        continue;
      }
      i = first_of(chunk, i, '"', '\\', '"');  // the plain run of the string at once
      if (i == chunk.size()) break;
      if (p[i] == '\\') escaped = true;
      else in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c != '{' && c != '}') {  // numbers, separators: skipped as a run (p[i] is none of the three)
      i = first_of(chunk, i, '"', '{', '}') - 1;
    } else if (c == '{') {
      ++depth;
    } else if (--depth == 0) {  // '}'
      flush(i + 1);
      save();
      finish_capture();
      return i + 1;
    }
  }
  save();
  flush(i);
  return i;
}

namespace {

// The token counts of a captured usage object: in one pass, the first integer value of each known key at any
// depth (cached_tokens sits in prompt_tokens_details / input_tokens_details). Chat and completions name them
// prompt/completion_tokens, the Responses API input/output_tokens.
TokenUsage read_counts(std::string_view j) {
  std::optional<int64_t> prompt, input, completion, output, cached;
  for (size_t i = 0; i < j.size();) {
    const size_t open = first_of(j, i, '"', '"', '"');
    if (open == j.size()) break;
    size_t close = first_of(j, open + 1, '"', '\\', '"');
    while (close < j.size() && j[close] == '\\') close = first_of(j, close + 2, '"', '\\', '"');
    if (close >= j.size()) break;
    const std::string_view key = j.substr(open + 1, close - open - 1);
    i = close + 1;
    while (i < j.size() && (j[i] == ' ' || j[i] == '\t' || j[i] == '\n' || j[i] == '\r')) ++i;
    if (i >= j.size() || j[i] != ':') continue;  // a string value, not a key
    ++i;
    while (i < j.size() && (j[i] == ' ' || j[i] == '\t' || j[i] == '\n' || j[i] == '\r')) ++i;
    if (i >= j.size() || j[i] < '0' || j[i] > '9') continue;
    int64_t v = 0;
    for (; i < j.size() && j[i] >= '0' && j[i] <= '9' && v < (int64_t{1} << 50); ++i) v = v * 10 + (j[i] - '0');
    std::optional<int64_t>* slot = nullptr;
    if (key == "prompt_tokens") slot = &prompt;
    else if (key == "completion_tokens") slot = &completion;
    else if (key == "cached_tokens") slot = &cached;
    else if (key == "input_tokens") slot = &input;
    else if (key == "output_tokens") slot = &output;
    if (slot && !*slot) *slot = v;
  }
  TokenUsage u;
  u.prompt = prompt ? prompt : input;
  u.completion = completion ? completion : output;
  u.cached = cached;
  return u;
}

}  // namespace

void UsageScanner::finish_capture() {
  capturing_ = false;
  oversized_ = false;
  TokenUsage u = read_counts(captured_);
  captured_.clear();
  if (!u.prompt && !u.completion) return;
  usage_ = u;
  have_usage_ = true;
}

namespace {

constexpr size_t kMaxEventLine = 2048;

// Whether an event's data carries generated text: `"KEY": "` followed by something else than the closing quote,
// for the delta keys of chat, text completions, the Responses API and tool calls.
bool carries_text(std::string_view data) {
  for (std::string_view key : {"\"content\"", "\"reasoning_content\"", "\"text\"", "\"delta\"", "\"arguments\""}) {
    for (size_t at = data.find(key); at != std::string_view::npos; at = data.find(key, at + 1)) {
      size_t i = at + key.size();
      while (i < data.size() && data[i] == ' ') ++i;
      if (i >= data.size() || data[i] != ':') continue;
      ++i;
      while (i < data.size() && data[i] == ' ') ++i;
      if (i + 1 < data.size() && data[i] == '"' && data[i + 1] != '"') return true;
    }
  }
  return false;
}

}  // namespace

// Counts lines starting with "data:", and those of them that carry generated text.
void UsageScanner::count_events(std::string_view chunk) {
  for (char c : chunk) {
    if (c == '\n' || c == '\r') {  // \r\n, \n and \r all end a line
      if (in_data_ && (data_overflow_ || carries_text(data_))) ++token_events_;
      if (in_data_ && !data_overflow_ && (data_ == " [DONE]" || data_ == "[DONE]")) done_ = true;
      in_data_ = data_overflow_ = false;
      data_.clear();
      line_pos_ = 0;
      continue;
    }
    if (in_data_) {
      if (data_.size() < kMaxEventLine) data_.push_back(c);
      else data_overflow_ = true;
      continue;
    }
    if (line_pos_ < 0) continue;
    if (c == kData[static_cast<size_t>(line_pos_)]) {
      if (++line_pos_ == static_cast<int>(kData.size())) {
        ++events_;
        line_pos_ = -1;
        in_data_ = true;
      }
    } else {
      line_pos_ = -1;
    }
  }
}

TokenUsage UsageScanner::result() const {
  if (have_usage_) return usage_;
  TokenUsage u;
  if (sse_ && events_ > 0) {
    u.completion = static_cast<int64_t>(token_events_);
    u.approximate = true;
  }
  return u;
}

}  // namespace llmux
