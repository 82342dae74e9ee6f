#include "proxy/json_scan.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

namespace llmux {

namespace {

static_assert(std::endian::native == std::endian::little, "plain_run_end reads the first special byte off the low bits");

// Bytes that end a run of plain string characters: the quote, the backslash, control characters.
constexpr std::array<bool, 256> kStringStop = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<size_t>(c)] = true;
  t['"'] = t['\\'] = true;
  return t;
}();

// Characters of numbers and the literals true, false, null (their spelling is the engine's to check).
constexpr std::array<bool, 256> kLiteral = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = t[static_cast<size_t>(c - 'a' + 'A')] = true;
  t['-'] = t['+'] = t['.'] = true;
  return t;
}();

// Where the run of plain string characters starting at `i` ends: at a quote, a backslash or a control character
// (or the end). Eight bytes at a time (bit tricks on a 64-bit word): prompts and base64 images make most of a
// request body. In each test the lowest flagged byte is exact (a false flag can only follow a true one), so the
// first special byte is read off the word's low bits.
size_t plain_run_end(std::string_view s, size_t i) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  while (i + 8 <= s.size()) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    const uint64_t quote = has_zero(w ^ (kOnes * '"'));
    const uint64_t slash = has_zero(w ^ (kOnes * '\\'));
    const uint64_t control = (w - kOnes * 0x20) & ~w & kHighs;  // a byte below 0x20
    if (const uint64_t special = quote | slash | control) return i + static_cast<size_t>(std::countr_zero(special) >> 3);
    i += 8;
  }
  while (i < s.size() && !kStringStop[static_cast<unsigned char>(s[i])]) ++i;
  return i;
}

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  void ws() {
    // Every JSON blank is at most ' ': one compare for the usual non-blank.
    while (i_ < s_.size() && static_cast<unsigned char>(s_[i_]) <= ' ' &&
           (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  bool peek(char c) {
    ws();
    return i_ < s_.size() && s_[i_] == c;
  }
  size_t pos() const { return i_; }
  bool at_end() {
    ws();
    return i_ == s_.size();
  }

  // A string starting at '"'; decodes into *out when given. Plain runs are skipped (and appended) whole: request
  // bodies are mostly string content (prompts, images).
  bool string(std::string* out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    ++i_;
    for (;;) {
      const size_t run = i_;
      i_ = plain_run_end(s_, i_);
      if (out) out->append(s_.data() + run, i_ - run);
      if (i_ >= s_.size()) return false;
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\') return false;  // a control character
      if (i_ >= s_.size() || !escape(out)) return false;
    }
  }

  bool value(int depth = 0) {
    ws();
    if (i_ >= s_.size() || depth > 512) return false;
    char c = s_[i_];
    if (c == '"') return string(nullptr);
    if (c == '{' || c == '[') return container(depth);
    size_t start = i_;
    while (i_ < s_.size() && kLiteral[static_cast<unsigned char>(s_[i_])]) ++i_;
    return i_ > start;
  }

  std::string_view literal_at(size_t from) const { return s_.substr(from, i_ - from); }

 private:
  bool container(int depth) {
    char close = s_[i_] == '{' ? '}' : ']';
    bool object = close == '}';
    ++i_;
    if (eat(close)) return true;
    for (;;) {
      ws();
      if (object && (!string(nullptr) || !eat(':'))) return false;
      if (!value(depth + 1)) return false;
      if (eat(close)) return true;
      if (!eat(',')) return false;
    }
  }

  bool escape(std::string* out) {
    char e = s_[i_++];
    switch (e) {
      case '"': case '\\': case '/': if (out) out->push_back(e); return true;
      case 'b': if (out) out->push_back('\b'); return true;
      case 'f': if (out) out->push_back('\f'); return true;
      case 'n': if (out) out->push_back('\n'); return true;
      case 'r': if (out) out->push_back('\r'); return true;
      case 't': if (out) out->push_back('\t'); return true;
      case 'u': return unicode(out);
      default: return false;
    }
  }

  bool hex4(unsigned& v) {
    if (i_ + 4 > s_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      char h = s_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
      else return false;
    }
    return true;
  }

  bool unicode(std::string* out) {
    unsigned cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF && i_ + 6 <= s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
      i_ += 2;
      unsigned lo = 0;
      if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (!out) return true;
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

bool member(Scanner& sc, TopLevelScan& out) {
  sc.ws();
  const size_t key_at = sc.pos();
  if (!sc.string(nullptr)) return false;
  // The key as written; decoded only when it has escapes (almost never): no string built per member.
  const std::string_view quoted = sc.literal_at(key_at);
  std::string_view key = quoted.substr(1, quoted.size() - 2);
  std::string decoded;
  if (key.find('\\') != std::string_view::npos) {
    Scanner again(quoted);
    again.string(&decoded);
    key = decoded;
  }
  if (!sc.eat(':')) return false;
  sc.ws();
  size_t begin = sc.pos();
  if (key == "model") {
    std::string model;
    if (sc.peek('"')) {
      if (!sc.string(&model)) return false;
      out.has_model = out.model_is_string = true;
      out.model = std::move(model);
    } else {
      if (!sc.value()) return false;
      out.has_model = sc.literal_at(begin) != "null";
      out.model_is_string = false;
    }
    out.model_begin = begin;
    out.model_end = sc.pos();
    return true;
  }
  if (!sc.value()) return false;
  if (key == "stream") out.stream = sc.literal_at(begin) == "true";
  return true;
}

}  // namespace

std::optional<TopLevelScan> scan_top_level(std::string_view body) {
  Scanner sc(body);
  TopLevelScan out;
  sc.ws();
  out.open_brace = sc.pos();
  if (!sc.eat('{')) return std::nullopt;
  if (!sc.eat('}')) {
    out.empty_object = false;
    for (;;) {
      if (!member(sc, out)) return std::nullopt;
      if (sc.eat('}')) break;
      if (!sc.eat(',')) return std::nullopt;
    }
  }
  if (!sc.at_end()) return std::nullopt;
  return out;
}

std::string json_quote(std::string_view text) { return nlohmann::json(std::string(text)).dump(); }

}  // namespace llmux
