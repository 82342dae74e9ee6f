#include "proxy/usage_scan.hpp"

#include <string.h>  // memmem (glibc, macOS)


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

// Where the key "usage" ends in `chunk` (it may have begun in the previous chunk), or npos; remembers the last
// bytes for the next call.
size_t UsageScanner::find_key(std::string_view chunk) {
  constexpr size_t keep = kKey.size() - 1;
  if (!tail_.empty()) {  // a key split across the boundary
    std::string joined = tail_;
    joined.append(chunk.substr(0, std::min(chunk.size(), keep)));
    auto pos = joined.find(kKey);
    if (pos != std::string::npos) {
      size_t end = pos + kKey.size() - tail_.size();
      tail_.clear();
      return end;
    }
  }
  // memmem: string_view::find stops at every '"' of the JSON to compare the rest of the key.
  if (const void* hit = memmem(chunk.data(), chunk.size(), kKey.data(), kKey.size())) {
    tail_.clear();
    return static_cast<size_t>(static_cast<const char*>(hit) - chunk.data()) + kKey.size();
  }
  tail_.append(chunk.substr(chunk.size() > keep ? chunk.size() - keep : 0));
  if (tail_.size() > keep) tail_.erase(0, tail_.size() - keep);
  return std::string_view::npos;
}

// Captures the value after the key: skips ':' and blanks, takes a balanced {...}; anything else (null) ends it.
// Appends the captured span in one piece per chunk.
size_t UsageScanner::capture(std::string_view chunk, size_t i) {
  size_t from = i;
  auto flush = [&](size_t to) {
    if (to > from) captured_.append(chunk.substr(from, to - from));
  };
  // The state in locals for the loop (written back on every exit): members would be reloaded each byte.
  int depth = depth_;
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
      while (i < chunk.size() && p[i] != '"' && p[i] != '\\') ++i;  // the plain run of the string at once
      if (i == chunk.size()) break;
      if (p[i] == '\\') escaped = true;
      else in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      flush(i + 1);
      save();
      if (captured_.size() > kMaxCapture) captured_.clear();  // too big for a usage report: ignored
      finish_capture();
      return i + 1;
    }
  }
  save();
  flush(i);
  if (captured_.size() > kMaxCapture) {  // not a usage object worth reading: drop it
    captured_.clear();
    capturing_ = false;
    depth_ = 0;
    in_string_ = escaped_ = false;
  }
  return i;
}

namespace {

// The integer after `"key":` anywhere in `json` (usage objects are small and flat enough for this).
std::optional<int64_t> find_int(std::string_view json, std::string_view key) {
  size_t pos = 0;
  for (;; ++pos) {
    pos = json.find(key, pos);
    if (pos == std::string_view::npos) return std::nullopt;
    if (pos > 0 && json[pos - 1] == '"' && pos + key.size() < json.size() && json[pos + key.size()] == '"') break;
  }
  pos += key.size() + 1;
  while (pos < json.size() && (json[pos] == ' ' || json[pos] == ':' || json[pos] == '\t' || json[pos] == '\n' ||
                               json[pos] == '\r'))
    ++pos;
  if (pos >= json.size() || json[pos] < '0' || json[pos] > '9') return std::nullopt;
  int64_t v = 0;
  for (; pos < json.size() && json[pos] >= '0' && json[pos] <= '9' && v < (int64_t{1} << 50); ++pos)
    v = v * 10 + (json[pos] - '0');
  return v;
}

}  // namespace

void UsageScanner::finish_capture() {
  capturing_ = false;
  std::string_view j = captured_;
  TokenUsage u;
  u.prompt = find_int(j, "prompt_tokens");
  if (!u.prompt) u.prompt = find_int(j, "input_tokens");  // Responses API
  u.completion = find_int(j, "completion_tokens");
  if (!u.completion) u.completion = find_int(j, "output_tokens");
  u.cached = find_int(j, "cached_tokens");  // in prompt_tokens_details / input_tokens_details
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
