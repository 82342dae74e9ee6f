#include "proxy/http/json_scan.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/ascii.hpp"
#include "proxy/http/byte_scan.hpp"

namespace llmux {

namespace {

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
inline size_t plain_run_end(std::string_view s, size_t i) {
  while (i + 8 <= s.size()) {
    const uint64_t w = load_word(s.data() + i);
    if (const uint64_t special = bytes_equal(w, '"') | bytes_equal(w, '\\') | bytes_below(w, 0x20))
      return i + static_cast<size_t>(std::countr_zero(special) >> 3);
    i += 8;
  }
  while (i < s.size() && !kStringStop[static_cast<unsigned char>(s[i])]) ++i;
  return i;
}

// Four hex digits at s[i] (i moves past them).
bool hex4(std::string_view s, size_t& i, unsigned& v) {
  if (i + 4 > s.size()) return false;
  v = 0;
  for (int k = 0; k < 4; ++k) {
    const int d = hex_value(s[i++]);
    if (d < 0) return false;
    v = (v << 4) | static_cast<unsigned>(d);
  }
  return true;
}

// The escape after a backslash, from s[i] (i moves past it): \" \\ \/ \b \f \n \r \t or \uXXXX, where a high
// surrogate followed by another \u escape must pair with a low one. The code point goes to *cp for \u.
bool escape(std::string_view s, size_t& i, char& simple, unsigned& cp) {
  if (i >= s.size()) return false;
  const char e = s[i++];
  simple = 0;
  switch (e) {
    case '"': case '\\': case '/': simple = e; return true;
    case 'b': simple = '\b'; return true;
    case 'f': simple = '\f'; return true;
    case 'n': simple = '\n'; return true;
    case 'r': simple = '\r'; return true;
    case 't': simple = '\t'; return true;
    case 'u': break;
    default: return false;
  }
  if (!hex4(s, i, cp)) return false;
  if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
    i += 2;
    unsigned lo = 0;
    if (!hex4(s, i, lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
  }
  return true;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The string starting at the quote s[i]: where it ends (past its closing quote), or npos when it is malformed.
// Decoded into *out when given. Plain runs are skipped (and appended) whole: request bodies are mostly string
// content (prompts, images).
size_t string_end(std::string_view s, size_t i, std::string* out = nullptr) {
  ++i;
  for (;;) {
    const size_t run = i;
    i = plain_run_end(s, i);
    if (out) out->append(s.data() + run, i - run);
    if (i >= s.size()) return std::string_view::npos;
    const char c = s[i++];
    if (c == '"') return i;
    char simple = 0;
    unsigned cp = 0;
    if (c != '\\' || !escape(s, i, simple, cp)) return std::string_view::npos;  // a control character, a bad escape
    if (!out) continue;
    if (simple) out->push_back(simple);
    else append_utf8(*out, cp);
  }
}

// The characters after a backslash that make a two-byte escape.
constexpr std::array<bool, 256> kSimpleEscape = [] {
  std::array<bool, 256> t{};
  for (const char c : {'"', '\\', '/', 'b', 'f', 'n', 'r', 't'}) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// string_end() without decoding, for the scan's hot loop. Two-byte escapes are passed inline: code and tool
// output in a conversation have one every few dozen bytes (a call per escape was a tenth of a 1 MiB body's scan).
inline size_t skip_string(std::string_view s, size_t i) {
  ++i;
  for (;;) {
    i = plain_run_end(s, i);
    if (i >= s.size()) return std::string_view::npos;
    const char c = s[i++];
    if (c == '"') return i;
    if (c != '\\' || i >= s.size()) return std::string_view::npos;  // a control character, or the end
    if (kSimpleEscape[static_cast<unsigned char>(s[i])]) {
      ++i;
      continue;
    }
    char simple = 0;
    unsigned cp = 0;
    if (!escape(s, i, simple, cp)) return std::string_view::npos;
  }
}

inline size_t skip_blanks(std::string_view s, size_t i) {
  // Every JSON blank is at most ' ': one compare for the usual non-blank.
  while (i < s.size() && static_cast<unsigned char>(s[i]) <= ' ' &&
         (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
    ++i;
  return i;
}

// The span a top-level key's value is noted in for the prefix diagnosis, or null. Tested by length first: most
// members are none of these.
JsonSpan* prompt_span(std::string_view key, TopLevelScan& out) {
  switch (key.size()) {
    case 4: return key == "user" ? &out.user : nullptr;
    case 5: return key == "input" ? &out.input : key == "tools" ? &out.tools : nullptr;
    case 6: return key == "prompt" ? &out.prompt : key == "system" ? &out.system : nullptr;
    case 8: return key == "messages" ? &out.messages : nullptr;
    case 12: return key == "instructions" ? &out.instructions : nullptr;
    case 16: return key == "prompt_cache_key" ? &out.cache_key : nullptr;
    case 20: return key == "chat_template_kwargs" ? &out.template_options : nullptr;
    default: return nullptr;
  }
}

// A top-level member, once its value has been read: "model" and "stream" are noted.
bool member(std::string_view body, size_t key_begin, size_t key_end, size_t value_begin, size_t value_end,
            TopLevelScan& out) {
  // The key as written; decoded only when it has escapes (almost never): no string built per member.
  std::string_view key = body.substr(key_begin + 1, key_end - key_begin - 2);
  std::string decoded;
  if (key.find('\\') != std::string_view::npos) {
    string_end(body, key_begin, &decoded);
    key = decoded;
  }
  const std::string_view value = body.substr(value_begin, value_end - value_begin);
  if (key == "model") {
    out.model_is_string = value.front() == '"';
    out.has_model = out.model_is_string || value != "null";
    out.model.clear();
    if (out.model_is_string) string_end(body, value_begin, &out.model);
    out.model_begin = value_begin;
    out.model_end = value_end;
  } else if (key == "stream") {
    out.stream = value == "true";
  } else if (JsonSpan* span = prompt_span(key, out)) {
    *span = JsonSpan{value_begin, value_end};
  }
  return true;
}

constexpr int kMaxDepth = 512;

// The scan's position in the grammar.
enum class Want : uint8_t { key_or_close, key, colon, value, value_or_close, comma_or_close };

}  // namespace

// One flat pass with an explicit stack of container kinds (bit d: depth d is an object): no call per token.
std::optional<TopLevelScan> scan_top_level(std::string_view body) {
  TopLevelScan out;
  const char* const p = body.data();
  size_t i = skip_blanks(body, 0);
  out.open_brace = i;
  if (i >= body.size() || p[i] != '{') return std::nullopt;
  ++i;
  uint64_t objects[kMaxDepth / 64 + 1] = {};
  int depth = 1;
  objects[0] = 2;  // depth 1, the top level, is an object
  auto is_object = [&](int d) { return ((objects[d >> 6] >> (d & 63)) & 1) != 0; };
  Want want = Want::key_or_close;
  size_t key_begin = 0, key_end = 0, value_begin = 0;  // the top-level member being read
  for (;;) {
    i = skip_blanks(body, i);
    if (i >= body.size()) return std::nullopt;
    const char c = p[i];
    bool closes = false;  // c closes the current container
    switch (want) {
      case Want::key_or_close:
        if (c == '}') {
          closes = true;
          break;
        }
        [[fallthrough]];
      case Want::key: {
        if (c != '"') return std::nullopt;
        const size_t end = skip_string(body, i);
        if (end == std::string_view::npos) return std::nullopt;
        if (depth == 1) {
          key_begin = i;
          key_end = end;
          out.empty_object = false;
        }
        i = end;
        want = Want::colon;
        continue;
      }
      case Want::colon:
        if (c != ':') return std::nullopt;
        ++i;
        want = Want::value;
        continue;
      case Want::value_or_close:
        if (c == ']') {
          closes = true;
          break;
        }
        [[fallthrough]];
      case Want::value:
        if (depth == 1) value_begin = i;
        if (c == '{' || c == '[') {
          if (++depth > kMaxDepth) return std::nullopt;
          if (c == '{') objects[depth >> 6] |= uint64_t{1} << (depth & 63);
          else objects[depth >> 6] &= ~(uint64_t{1} << (depth & 63));
          ++i;
          want = c == '{' ? Want::key_or_close : Want::value_or_close;
          continue;
        }
        if (c == '"') {
          i = skip_string(body, i);
          if (i == std::string_view::npos) return std::nullopt;
        } else {  // a number or literal: its characters (their spelling is the engine's to check)
          const size_t start = i;
          while (i < body.size() && kLiteral[static_cast<unsigned char>(p[i])]) ++i;
          if (i == start) return std::nullopt;
        }
        break;
      case Want::comma_or_close:
        if (c == ',') {
          ++i;
          want = is_object(depth) ? Want::key : Want::value;
          continue;
        }
        if (c != (is_object(depth) ? '}' : ']')) return std::nullopt;
        closes = true;
        break;
    }
    if (closes) {
      ++i;
      if (--depth == 0) return skip_blanks(body, i) == body.size() ? std::optional<TopLevelScan>(std::move(out))
                                                                     : std::nullopt;
    }
    // A value ended (a scalar, or the container just closed).
    want = Want::comma_or_close;
    if (depth == 1 && !member(body, key_begin, key_end, value_begin, i, out)) return std::nullopt;
  }
}

size_t json_string_end(std::string_view s, size_t i) { return skip_string(s, i); }

size_t accepted_string_end(std::string_view s, size_t i) {
  const char* const p = s.data();
  for (size_t at = i + 1;;) {
    for (; at + 8 <= s.size(); at += 8)  // the next quote, eight bytes at a time (one test per word)
      if (const uint64_t q = bytes_equal(load_word(p + at), '"')) {
        at += static_cast<size_t>(std::countr_zero(q) >> 3);
        break;
      }
    while (at < s.size() && p[at] != '"') ++at;
    if (at >= s.size()) return std::string_view::npos;
    size_t k = at;  // the backslashes before it (the opening quote stops the walk)
    while (k > i + 1 && p[k - 1] == '\\') --k;
    if ((at - k) % 2 == 0) return at + 1;  // an even run: the quote is not escaped
    ++at;
  }
}

std::string json_quote(std::string_view text) { return nlohmann::json(std::string(text)).dump(); }

}  // namespace llmux
