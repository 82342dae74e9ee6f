// The top-level scan of a request body (scan_top_level) against two readings:
//  - nlohmann::json, the full parser: whatever it reads as an object (not nested deeper than the scan's 512), the
//    scan reads too, and finds the same "model" (decoded, and its span parses to the same value) and "stream";
//  - a small recursive reading of the scan's own grammar (strings checked, number and literal spelling not: the
//    engine checks those): the scan accepts exactly what it accepts.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "proxy/http/json_scan.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace llmux;
using namespace llmux::fuzz;

namespace {

constexpr int kMaxDepth = 512;  // json_scan.cpp's

class Grammar {
 public:
  explicit Grammar(std::string_view s) : s_(s) {}
  bool top() {
    blanks();
    if (i_ >= s_.size() || s_[i_] != '{') return false;
    if (!value(1)) return false;
    blanks();
    return i_ == s_.size();
  }

 private:
  void blanks() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  bool hex4(unsigned& v) {
    if (i_ + 4 > s_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + static_cast<unsigned>(d);
    }
    return true;
  }
  bool string() {
    ++i_;  // the opening quote
    for (;;) {
      if (i_ >= s_.size()) return false;
      const auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') continue;
      if (i_ >= s_.size()) return false;
      const char e = s_[i_++];
      if (std::string_view("\"\\/bfnrt").find(e) != std::string_view::npos) continue;
      unsigned cp = 0;
      if (e != 'u' || !hex4(cp)) return false;
      // A high surrogate followed by another \u escape must pair with a low one; lone ones pass (the engine's).
      if (cp >= 0xD800 && cp <= 0xDBFF && i_ + 6 <= s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
        i_ += 2;
        unsigned lo = 0;
        if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
      }
    }
  }
  static bool literal_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '+' ||
           c == '.';
  }
  bool value(int depth) {
    blanks();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '"') return string();
    if (c == '{' || c == '[') return container(c == '{', depth);
    const size_t start = i_;
    while (i_ < s_.size() && literal_char(s_[i_])) ++i_;
    return i_ > start;
  }
  bool container(bool object, int depth) {
    if (depth > kMaxDepth) return false;
    ++i_;
    const char close = object ? '}' : ']';
    blanks();
    if (i_ < s_.size() && s_[i_] == close) {
      ++i_;
      return true;
    }
    for (;;) {
      if (object) {
        blanks();
        if (i_ >= s_.size() || s_[i_] != '"' || !string()) return false;
        blanks();
        if (i_ >= s_.size() || s_[i_] != ':') return false;
        ++i_;
      }
      if (!value(depth + 1)) return false;
      blanks();
      if (i_ >= s_.size()) return false;
      if (s_[i_] == close) {
        ++i_;
        return true;
      }
      if (s_[i_++] != ',') return false;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

int depth_of(const nlohmann::json& j) {
  int d = 0;
  if (j.is_structured())
    for (const auto& v : j) d = std::max(d, depth_of(v));
  return j.is_structured() ? d + 1 : 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = as_text(data, size);
  const std::optional<TopLevelScan> scan = scan_top_level(body);
  FUZZ_CHECK(scan.has_value() == Grammar(body).top());

  if (body.find('\0') != std::string_view::npos) return 0;  // nlohmann reads a NUL byte as the end of the input
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || depth_of(j) > kMaxDepth) return 0;
  FUZZ_CHECK(scan.has_value());
  FUZZ_CHECK(body[scan->open_brace] == '{' && body.find_first_not_of(" \t\r\n") == scan->open_brace);
  FUZZ_CHECK(scan->empty_object == j.empty());
  FUZZ_CHECK(scan->stream == (j.contains("stream") && j["stream"] == true));
  const bool has_model = j.contains("model") && !j["model"].is_null();
  FUZZ_CHECK(scan->has_model == has_model);
  if (!j.contains("model")) return 0;
  FUZZ_CHECK(scan->model_is_string == j["model"].is_string());
  if (scan->model_is_string) FUZZ_CHECK(scan->model == j["model"].get<std::string>());
  FUZZ_CHECK(scan->model_begin < scan->model_end && scan->model_end <= body.size());
  const auto span = nlohmann::json::parse(body.substr(scan->model_begin, scan->model_end - scan->model_begin), nullptr,
                                          false);
  FUZZ_CHECK(span == j["model"]);
  return 0;
}
