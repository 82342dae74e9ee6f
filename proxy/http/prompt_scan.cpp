#include "proxy/http/prompt_scan.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "proxy/http/byte_scan.hpp"

namespace llmux {

namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr size_t kNpos = std::string_view::npos;

inline uint64_t round(uint64_t h, uint64_t w) { return std::rotl(h ^ (w * kP2), 31) * kP1; }

inline uint64_t fmix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

// Every ASCII digit of the word read as '0' (SWAR: the tests cannot carry from one byte into the next, since the
// bytes' high bits are cleared first; bytes from 0x80 up are left alone).
inline uint64_t mask_digits(uint64_t w) {
  const uint64_t v = w & 0x7F7F7F7F7F7F7F7Full;
  const uint64_t at_least_0 = v + 0x5050505050505050ull;  // high bit set: v >= '0'
  const uint64_t above_9 = v + 0x4646464646464646ull;     // high bit set: v > '9'
  const uint64_t digit = at_least_0 & ~above_9 & ~w & 0x8080808080808080ull;
  const uint64_t m = (digit >> 7) * 0xFF;
  return (w & ~m) | (0x3030303030303030ull & m);
}

inline bool blank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

inline size_t skip_blanks(std::string_view s, size_t i) {
  while (i < s.size() && blank(s[i])) ++i;
  return i;
}

// Where the value starting at s[i] ends, or npos (the body was checked by scan_top_level: this only follows it).
size_t value_end(std::string_view s, size_t i) {
  if (i >= s.size()) return kNpos;
  const char c0 = s[i];
  if (c0 == '"') return accepted_string_end(s, i);
  if (c0 != '{' && c0 != '[') {
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !blank(s[i])) ++i;
    return i;
  }
  int depth = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      i = accepted_string_end(s, i);
      if (i == kNpos) return kNpos;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
    ++i;
  }
  return kNpos;
}

// Calls fn(begin) for each element of the array s[span]. fn returns where the element ended, or npos to stop: a
// caller that walks the element anyway says where it ended, so that a long message is followed once, not twice.
template <class Fn>
void each_element(std::string_view s, JsonSpan span, Fn&& fn) {
  size_t i = span.begin;
  if (i >= span.end || s[i] != '[') return;
  i = skip_blanks(s, i + 1);
  while (i < span.end && s[i] != ']') {
    const size_t e = fn(i);
    if (e == kNpos || e > span.end) return;
    i = skip_blanks(s, e);
    if (i >= span.end || s[i] != ',') return;
    i = skip_blanks(s, i + 1);
  }
}

// Calls fn(key as written, value begin, value end) for each member of the object starting at s[span.begin];
// returns where the object ended (past its '}'), or npos when it is not an object or leaves the span.
template <class Fn>
size_t each_member(std::string_view s, JsonSpan span, Fn&& fn) {
  size_t i = span.begin;
  if (i >= span.end || s[i] != '{') return kNpos;
  i = skip_blanks(s, i + 1);
  while (i < span.end && s[i] == '"') {
    const size_t ke = accepted_string_end(s, i);
    if (ke == kNpos) return kNpos;
    const std::string_view key = s.substr(i + 1, ke - i - 2);
    i = skip_blanks(s, ke);
    if (i >= span.end || s[i] != ':') return kNpos;
    i = skip_blanks(s, i + 1);
    const size_t ve = value_end(s, i);
    if (ve == kNpos || ve > span.end) return kNpos;
    fn(key, i, ve);
    i = skip_blanks(s, ve);
    if (i >= span.end || s[i] != ',') break;
    i = skip_blanks(s, i + 1);
  }
  return i < span.end && s[i] == '}' ? i + 1 : kNpos;
}

// The canonical hash of a JSON value: its bytes without the blanks outside strings.
uint64_t canonical_hash(std::string_view v, uint64_t seed = 0) {
  Hash64 h(seed);
  size_t i = 0;
  while (i < v.size()) {
    const char c = v[i];
    if (c == '"') {
      size_t e = accepted_string_end(v, i);
      if (e == kNpos) e = v.size();
      h.add(v.substr(i, e - i));
      i = e;
    } else if (blank(c)) {
      ++i;
    } else {
      const size_t s = i;
      while (i < v.size() && v[i] != '"' && !blank(v[i])) ++i;
      h.add(v.substr(s, i - s));
    }
  }
  return h.digest();
}

// A string value's bytes between its quotes; any other value as it is.
std::string_view inner(std::string_view s, size_t b, size_t e) {
  if (e - b >= 2 && s[b] == '"') return s.substr(b + 1, e - b - 2);
  return s.substr(b, e - b);
}

Role role_of(std::string_view role, std::string_view type) {
  if (role == "system" || role == "developer") return Role::system;
  if (role == "user") return Role::user;
  if (role == "assistant" || role == "model") return Role::assistant;
  if (role == "tool" || role == "function" || role == "ipython") return Role::tool;
  if (!role.empty()) return Role::other;
  if (type == "function_call" || type == "reasoning" || type == "custom_tool_call") return Role::assistant;
  if (type == "function_call_output" || type == "custom_tool_call_output") return Role::tool;
  return Role::other;
}

bool content_key(std::string_view key) { return key == "content" || key == "output" || key == "arguments"; }

// One link from the element s[b, e): a message object, or a bare string (a Responses input string, a prompt). For
// an object, `e` may be any bound past its end: it becomes where the object ended (npos when it could not be
// followed).
MessagePrint message_print(std::string_view s, size_t b, size_t& e, Role bare_role) {
  MessagePrint m;
  if (s[b] != '{') {
    const std::string_view content = inner(s, b, e);
    fingerprint_content(content, m);
    m.at = static_cast<uint32_t>(content.data() - s.data());
    m.role = bare_role;
    Hash64 h(7);
    h.add_u64(static_cast<uint64_t>(bare_role));
    h.add_u64(m.content);
    m.hash = h.digest();
    return m;
  }
  std::string_view role, type;
  uint64_t sum = 0, count = 0;
  bool have_content = false;
  e = each_member(s, JsonSpan{b, e}, [&](std::string_view key, size_t vb, size_t ve) {
    uint64_t value_hash = 0;
    if (!have_content && content_key(key)) {
      have_content = true;
      const std::string_view content = s[vb] == 'n' ? std::string_view() : inner(s, vb, ve);  // null: no text
      fingerprint_content(content, m);
      m.at = static_cast<uint32_t>((content.empty() ? s.data() + vb : content.data()) - s.data());
      value_hash = m.content ^ (s[vb] == '"' ? 0 : 0x5bd1e995ull);  // "x" and ["x"] differ
    } else {
      value_hash = canonical_hash(s.substr(vb, ve - vb));
      if (key == "role") role = inner(s, vb, ve);
      else if (key == "type") type = inner(s, vb, ve);
      else if (key == "tool_calls") m.calls = value_hash;
    }
    sum += fmix(hash_bytes(key, 3) + value_hash * kP1);  // members in any order
    ++count;
  });
  if (!have_content) fingerprint_content({}, m);
  m.role = role_of(role, type);
  if (m.role == Role::other && role.empty()) m.role = bare_role;  // e.g. Anthropic `system` text blocks
  Hash64 h(5);
  h.add_u64(sum);
  h.add_u64(count);
  m.hash = h.digest();
  return m;
}

std::string tool_name(std::string_view s, size_t b, size_t e) {
  std::string_view name;
  each_member(s, JsonSpan{b, e}, [&](std::string_view key, size_t vb, size_t ve) {
    if (key == "name" && name.empty() && s[vb] == '"') name = inner(s, vb, ve);
    if (key == "function" && s[vb] == '{')
      each_member(s, JsonSpan{vb, ve}, [&](std::string_view k2, size_t b2, size_t e2) {
        if (k2 == "name" && s[b2] == '"') name = inner(s, b2, e2);
      });
  });
  return std::string(name.substr(0, 64));
}

uint64_t masked_hash(std::string_view text) {
  Hash64 h;
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) h.add_word(mask_digits(load_word(text.data() + i)));
  char tail[8] = {};
  std::memcpy(tail, text.data() + i, text.size() - i);
  h.add(std::string_view(tail, text.size() - i));
  return h.digest();
}

std::string explicit_id(std::string_view s, JsonSpan span) {
  if (span.empty() || s[span.begin] != '"') return {};
  return std::string(inner(s, span.begin, span.end).substr(0, 128));
}

}  // namespace

void Hash64::add_word(uint64_t w) {
  h_ = round(h_, w);
  length_ += 8;
}

void Hash64::add(std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (npending_ > 0 && n > 0) {  // fill the pending word first
    pending_ |= static_cast<uint64_t>(static_cast<unsigned char>(*p++)) << (8 * npending_);
    --n;
    if (++npending_ == 8) {
      add_word(pending_);
      pending_ = 0;
      npending_ = 0;
    }
  }
  for (; n >= 8; n -= 8, p += 8) add_word(load_word(p));
  for (; n > 0; --n) pending_ |= static_cast<uint64_t>(static_cast<unsigned char>(*p++)) << (8 * npending_++);
}

void Hash64::add_u64(uint64_t v) {
  if (npending_ > 0) {
    add_word(pending_);
    pending_ = 0;
    npending_ = 0;
  }
  add_word(v);
}

uint64_t Hash64::digest() const {
  uint64_t h = h_;
  if (npending_ > 0) h = round(h, pending_ ^ (0xA5ull << 56));
  return fmix(h ^ (length_ + npending_) * kP2);
}

uint64_t hash_bytes(std::string_view bytes, uint64_t seed) {
  Hash64 h(seed);
  h.add(bytes);
  return h.digest();
}

std::string_view role_name(Role r) {
  switch (r) {
    case Role::system: return "system";
    case Role::user: return "user";
    case Role::assistant: return "assistant";
    case Role::tool: return "tool";
    case Role::prompt: return "prompt";
    case Role::other: break;
  }
  return "message";
}

void fingerprint_content(std::string_view content, MessagePrint& m, uint32_t block) {
  const size_t len = content.size();
  if (block == 0 || (block & (block - 1)) != 0) {  // (a stored spacing is always a power of two from 32 up)
    block = 32;
    while (static_cast<uint64_t>(block) * MessagePrint::kCheckpoints < len) block *= 2;
  }
  m.length = static_cast<uint32_t>(std::min<size_t>(len, UINT32_MAX));
  m.block = block;
  Hash64 h, masked;
  uint8_t n = 0;
  const char* p = content.data();
  const size_t mask = block - 1;  // a power of two (a division per word cost more than the hashing)
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const uint64_t w = load_word(p + i);
    h.add_word(w);
    masked.add_word(mask_digits(w));
    if (((i + 8) & mask) == 0 && n < MessagePrint::kCheckpoints) m.checkpoints[n++] = static_cast<uint32_t>(h.digest());
  }
  const std::string_view tail = content.substr(i);
  h.add(tail);
  char masked_tail[8] = {};
  if (!tail.empty()) std::memcpy(masked_tail, tail.data(), tail.size());
  const uint64_t w = mask_digits(load_word(masked_tail));
  std::memcpy(masked_tail, &w, 8);
  masked.add(std::string_view(masked_tail, tail.size()));
  m.content = h.digest();
  m.masked = masked.digest();
  m.checkpoints_n = n;
}

std::vector<DigitRun> digit_runs(std::string_view text, size_t max) {
  std::vector<DigitRun> runs;
  for (size_t i = 0; i < text.size() && runs.size() < max;) {
    if (text[i] < '0' || text[i] > '9') {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    const std::string_view run = text.substr(start, std::min<size_t>(i - start, UINT16_MAX));
    runs.push_back(DigitRun{static_cast<uint32_t>(start), static_cast<uint16_t>(run.size()),
                            static_cast<uint16_t>(hash_bytes(run))});
  }
  return runs;
}

uint64_t content_prefix_hash(std::string_view content, size_t length) {
  return hash_bytes(content.substr(0, length));
}

PromptChain scan_prompt(std::string_view body, const TopLevelScan& scan, size_t max_messages) {
  PromptChain c;
  auto add = [&](size_t b, size_t e, Role bare) {  // e: the element's end (an object's: a bound), then its end
    if (c.messages.size() >= max_messages) return kNpos;
    c.messages.push_back(message_print(body, b, e, bare));
    return e;
  };
  auto add_value = [&](JsonSpan span, Role bare) {  // a string, or an array of messages / items
    if (span.empty()) return;
    if (body[span.begin] == '[')
      each_element(body, span, [&](size_t b) {
        const size_t e = body[b] == '{' ? span.end : value_end(body, b);  // an object is followed once, by add()
        return e == kNpos ? kNpos : add(b, e, bare);
      });
    else if (body[span.begin] == '"') add(span.begin, span.end, bare);
  };
  add_value(scan.instructions, Role::system);
  add_value(scan.system, Role::system);
  add_value(scan.messages, Role::user);
  add_value(scan.input, Role::user);
  if (!scan.prompt.empty()) add(scan.prompt.begin, scan.prompt.end, Role::prompt);  // one text, however written
  if (!scan.tools.empty()) {
    Hash64 all;
    each_element(body, scan.tools, [&](size_t b) {
      const size_t e = value_end(body, b);
      if (c.tools.size() >= 512 || e == kNpos) return kNpos;
      ToolPrint t{canonical_hash(body.substr(b, e - b)), tool_name(body, b, e)};
      all.add_u64(t.hash);
      c.tools.push_back(std::move(t));
      return e;
    });
    c.tools_hash = all.digest();
  }
  if (!scan.template_options.empty())
    c.options_hash = canonical_hash(body.substr(scan.template_options.begin, scan.template_options.end -
                                                                               scan.template_options.begin));
  if (!c.messages.empty() && c.messages[0].role == Role::system)
    c.system_digits = digit_runs(body.substr(c.messages[0].at, c.messages[0].length), 64);
  c.explicit_id = explicit_id(body, scan.cache_key);
  if (c.explicit_id.empty()) c.explicit_id = explicit_id(body, scan.user);
  for (const MessagePrint& m : c.messages) {
    c.bytes += m.length;
    if (m.role == Role::system) {
      if (c.system_key == 0) c.system_key = m.masked | 1;
    } else if (c.first_key == 0) {
      c.first_key = m.role == Role::prompt ? masked_hash(body.substr(m.at, std::min<size_t>(m.length, 1024))) | 1
                                           : m.hash | 1;
    }
  }
  return c;
}

}  // namespace llmux
