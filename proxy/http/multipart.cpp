#include "proxy/http/multipart.hpp"

#include <cctype>

namespace llmux {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// A parameter value: a token, or a quoted string with backslash escapes.
std::string unquote(std::string_view v) {
  v = trim(v);
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\' && i + 2 < v.size()) ++i;
    out += v[i];
  }
  return out;
}

// The value of parameter `name` in "type; a=1; name=\"x\"" (not inside quotes of another one: values here are
// simple), or nullopt.
std::optional<std::string> parameter(std::string_view header_value, std::string_view name) {
  size_t at = header_value.find(';');
  while (at != std::string_view::npos) {
    const size_t next = header_value.find(';', at + 1);
    const std::string_view param = trim(header_value.substr(at + 1, next == std::string_view::npos ? next : next - at - 1));
    const size_t eq = param.find('=');
    if (eq != std::string_view::npos && iequal(trim(param.substr(0, eq)), name)) return unquote(param.substr(eq + 1));
    at = next;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  const std::string_view type = trim(content_type.substr(0, content_type.find(';')));
  if (!iequal(type, "multipart/form-data")) return std::nullopt;
  std::optional<std::string> b = parameter(content_type, "boundary");
  if (!b || b->empty() || b->size() > 70) return std::nullopt;
  for (char c : *b) {
    if (c == '\r' || c == '\n' || c == '\0') return std::nullopt;
  }
  return b;
}

MultipartModelScan::MultipartModelScan(std::string boundary) : delimiter_("\r\n--" + boundary) {}

MultipartModelScan::State MultipartModelScan::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (state_ != State::scanning) break;
    step(c);
    ++offset_;
  }
  return state_;
}

MultipartModelScan::State MultipartModelScan::finish() {
  if (state_ == State::scanning) fail("the body ended before its closing boundary");
  return state_;
}

void MultipartModelScan::fail(const char* why) {
  state_ = State::bad;
  why_ = why;
}

void MultipartModelScan::content_byte(char c) {
  if (phase_ != Phase::content || !model_part_) return;
  value_ += c;
  if (value_.size() > kMaxValue) fail("the model field is longer than 1024 bytes");
}

void MultipartModelScan::step(char c) {
  switch (phase_) {
    case Phase::preamble:
    case Phase::content: {
      if (c == delimiter_[matched_]) {
        if (++matched_ == delimiter_.size()) delimiter_done();
        return;
      }
      // The bytes matched so far were content after all. The delimiter has '\r' only first: no other overlap.
      const size_t was = matched_;
      matched_ = c == '\r' ? 1 : 0;
      for (size_t i = 0; i < was && phase_ == Phase::content; ++i) content_byte(delimiter_[i]);
      if (matched_ == 0) content_byte(c);
      return;
    }
    case Phase::after_delimiter:
      if (first_after_ == '-') {
        if (c != '-') return fail("a boundary is followed by neither CRLF nor --");
        state_ = State::absent;  // the closing delimiter: no part was the model field
        return;
      }
      first_after_ = c;
      if (c == '-') return;
      phase_ = Phase::padding;
      first_after_ = 0;
      [[fallthrough]];
    case Phase::padding:
      if (c == ' ' || c == '\t') return;
      if (c == '\r' && first_after_ == 0) {
        first_after_ = '\r';
        return;
      }
      if (c != '\n' || first_after_ != '\r') return fail("a boundary is followed by neither CRLF nor --");
      phase_ = Phase::headers;
      line_.clear();
      header_bytes_ = 0;
      model_part_ = false;
      return;
    case Phase::headers:
      if (++header_bytes_ > kMaxHeaderBlock) return fail("a part's header block is larger than 16 KiB");
      if (c != '\n') {
        line_ += c;
        return;
      }
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (line_.empty()) {
        phase_ = Phase::content;
        matched_ = 0;
        value_begin_ = offset_ + 1;
        return;
      }
      header_line();
      line_.clear();
      return;
  }
}

void MultipartModelScan::delimiter_done() {
  if (phase_ == Phase::content && model_part_) {
    value_end_ = offset_ + 1 - delimiter_.size();
    state_ = State::found;
    return;
  }
  phase_ = Phase::after_delimiter;
  first_after_ = 0;
  matched_ = 0;
}

void MultipartModelScan::header_line() {
  const size_t colon = line_.find(':');
  if (colon == std::string::npos) return fail("a part header line has no ':'");
  if (!iequal(trim(std::string_view(line_).substr(0, colon)), "content-disposition")) return;
  const std::string_view value = std::string_view(line_).substr(colon + 1);
  const std::optional<std::string> name = parameter(value, "name");
  if (!name || *name != "model") return;
  if (seen_model_) return fail("two parts are named model");
  model_part_ = seen_model_ = true;
}

}  // namespace llmux
