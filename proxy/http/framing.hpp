// The relay's own reading of an engine's HTTP/1.x response: the head (status, the fields llmux acts on, the raw
// field lines to pass on) and the body's framing (Content-Length, chunked, or ended by the connection's close).
// Pure and allocation-free: views into the caller's buffer, so the relay can pass body bytes on without copying
// them. Lenient where engines are sloppy (bare LF line ends in a head), strict where a mistake would mis-frame the
// body (chunked framing: see BodyFraming).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "common/ascii.hpp"

namespace llmux {

// The field lines of a parsed head that a proxy does not pass on (hop-by-hop and framing fields, found while
// parsing), as byte spans of the head's `fields`: the rest is copied on in runs, as received. `exact` is false when
// the spans alone do not say it (more than kMax of them, a bare LF line end, a Connection field naming other
// fields, a field that depends on the whole head): append_passed_fields() then walks the fields one by one.
struct FieldDrops {
  static constexpr size_t kMax = 8;
  uint32_t begin[kMax];
  uint32_t end[kMax];
  uint8_t count = 0;
  bool exact = true;
  bool credentials = false;  // Authorization and X-Api-Key are not passed on either (llmux checked them itself)
  void add(size_t b, size_t e) {
    if (count == kMax) {
      exact = false;
      return;
    }
    begin[count] = static_cast<uint32_t>(b);
    end[count++] = static_cast<uint32_t>(e);
  }
};

struct ResponseHead {
  unsigned version = 11;  // 10 or 11
  int status = 0;
  std::string_view reason;
  std::string_view fields;  // the field lines, as received (each ends with a line end)
  std::string_view connection;  // the (last) Connection field's value
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;    // the engine keeps the connection open after this response
  bool event_stream = false; // Content-Type: text/event-stream
  bool accel_field = false;  // has an X-Accel-Buffering field (dropped from event streams: llmux sets it)
  size_t size = 0;           // bytes of the head, blank line included
  FieldDrops drops;          // fields not passed on (X-Accel-Buffering among them only for event streams)
  bool bodiless() const { return status < 200 || status == 204 || status == 304; }
};

// A client request's head, as the session reads it.
struct RequestHead {
  std::string_view method;
  std::string_view target;
  unsigned version = 11;  // 10 or 11
  std::string_view fields;  // the field lines, as received
  std::string_view connection;  // the (last) Connection field's value
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;
  bool expect_continue = false;  // Expect: 100-continue
  size_t size = 0;               // bytes of the head, blank line included
  FieldDrops drops;              // fields not passed on to the engine
  // What the access guard reads (proxy/access.hpp), found in the same pass; empty views when absent.
  std::string_view host;          // the Host field (or the authority of an absolute-form target)
  std::string_view origin;        // Origin
  std::string_view authorization; // Authorization
  std::string_view api_key;       // X-Api-Key
  std::string_view fetch_site;    // Sec-Fetch-Site (browsers: same-origin, same-site, cross-site, none)
  uint8_t hosts = 0;              // Host fields seen (RFC 9112 §3.2: exactly one)
  bool has_origin = false;        // an Origin field, even an empty one
  bool absolute_form = false;     // the target was http(s)://authority/path: `target` is the path now
  uint8_t credentials = 0;        // Authorization / X-Api-Key lines, their spans below (the first two)
  uint32_t credential_begin[2] = {0, 0};
  uint32_t credential_end[2] = {0, 0};
};

enum class HeadParse { done, need_more, bad };

// Parses the response head at the start of `data`. need_more: no blank line yet (the caller bounds how long it
// waits and how much it buffers). bad: `why` says what was wrong.
HeadParse parse_response_head(std::string_view data, ResponseHead& head, std::string_view& why);

// Parses the request head at the start of `data` (leading empty lines are skipped, as RFC 9112 §2.2 allows; they
// count in `size`). bad: `why` says what was wrong (the session answers 400 and closes).
HeadParse parse_request_head(std::string_view data, RequestHead& head, std::string_view& why);

// The value of the first field named `name` (case-insensitive) in `fields`, or an empty view.
std::string_view find_field(std::string_view fields, std::string_view name);

// `v` without leading and trailing blanks (SP, HTAB).
inline std::string_view trim_blanks(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Calls fn(token) for each comma-separated token of a field value (blanks trimmed, empty tokens skipped).
template <class Fn>
void for_each_token(std::string_view v, Fn&& fn) {
  while (!v.empty()) {
    size_t comma = v.find(',');
    const std::string_view t = trim_blanks(v.substr(0, comma));
    v.remove_prefix(comma == std::string_view::npos ? v.size() : comma + 1);
    if (!t.empty()) fn(t);
  }
}

// Calls fn(name, value) for each field line of `fields` (values trimmed).
template <class Fn>
void for_each_field(std::string_view fields, Fn&& fn) {
  while (!fields.empty()) {
    size_t eol = fields.find('\n');
    std::string_view line = fields.substr(0, eol);
    fields.remove_prefix(eol == std::string_view::npos ? fields.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    fn(line.substr(0, colon), trim_blanks(line.substr(colon + 1)));
  }
}

// A client request as the session read it: its head's bytes, kept whole (the views point into them), and its body.
// Neither copied nor moved: the views would dangle.
class Request {
 public:
  Request() = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  // Keeps a copy of the head that `parsed` describes (parsed from `bytes`).
  void adopt(std::string_view bytes, const RequestHead& parsed);
  std::string_view method_string() const { return head_.method; }
  std::string_view target() const { return head_.target; }
  unsigned version() const { return head_.version; }
  bool keep_alive() const { return head_.keep_alive; }
  std::string_view fields() const { return head_.fields; }
  std::string_view field(std::string_view name) const { return find_field(head_.fields, name); }
  const RequestHead& head() const { return head_; }
  // Authorization and X-Api-Key are not passed on to the engine (they were llmux's own keys).
  void drop_credentials();
  std::string_view host() const { return head_.host; }
  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

 private:
  std::string raw_;
  RequestHead head_;
  std::string body_;
};

// Fields a proxy does not pass on (RFC 9110 §7.6.1), plus the framing and Host fields llmux writes itself.
bool hop_by_hop_field(std::string_view name);

// Whether `name` is one of the tokens of a Connection field's value (RFC 9110 §7.6.1: such fields are hop-by-hop).
bool listed_in(std::string_view connection, std::string_view name);

// Whether a field goes on to the other side: not hop-by-hop, not named by the Connection field's value, and not
// X-Accel-Buffering when `drop_accel`.
bool passed_field(std::string_view name, std::string_view connection, bool drop_accel);

// Authorization or X-Api-Key.
bool credential_field(std::string_view name);

// Gives put(piece) the field lines of a parsed head that go on to the other side (see passed_field). Runs of kept
// lines are passed as received; when `drops` is not exact, the lines are rewritten one by one ("Name: value" CRLF,
// at most two bytes longer than the line received).
template <class Put>
void put_passed_fields(std::string_view fields, const FieldDrops& drops, std::string_view connection, bool drop_accel,
                       Put&& put) {
  if (drops.exact) {
    size_t at = 0;
    for (size_t k = 0; k < drops.count; ++k) {
      put(fields.substr(at, drops.begin[k] - at));
      at = drops.end[k];
    }
    put(fields.substr(at));
    return;
  }
  for_each_field(fields, [&](std::string_view name, std::string_view value) {
    if (!passed_field(name, connection, drop_accel) || (drops.credentials && credential_field(name))) return;
    put(name);
    put(std::string_view(": "));
    put(value);
    put(std::string_view("\r\n"));
  });
}

// put_passed_fields() appending to `out`.
void append_passed_fields(std::string& out, std::string_view fields, const FieldDrops& drops,
                          std::string_view connection, bool drop_accel = false);

// `token` (a field name or token, already checked to hold token characters only) equals `lower`, a lowercase
// literal of letters, digits and '-', ignoring case: eight bytes at a time with the 0x20 bit forced, no branch per
// character. (For token characters only '-' and letters differ in that bit, and no token character maps to '-'.)
inline bool iequal_lower(std::string_view token, std::string_view lower) {
  if (token.size() != lower.size()) return false;
  size_t i = 0;
  for (; i + 8 <= token.size(); i += 8) {
    uint64_t a, b;
    std::memcpy(&a, token.data() + i, 8);
    std::memcpy(&b, lower.data() + i, 8);
    if ((a | 0x2020202020202020ull) != b) return false;
  }
  for (; i < token.size(); ++i)
    if ((token[i] | 0x20) != lower[i]) return false;
  return true;
}

// Follows a body's framing through the bytes that arrive. feed() takes the next bytes read, reports each piece of
// body data (views into `in`) to on_data, and returns how many bytes of `in` belong to the body (fewer than
// in.size() only when the body ended inside `in`).
// Chunked framing is read strictly (RFC 9112 §7.1), for client requests and engine responses alike: every line
// ends with CRLF (a bare LF or CR is bad), chunk extensions follow their grammar (a quoted string ends on its
// line), and a trailer line is a token, ':' and a value without control characters. A lenient reading here is where a parser on the other
// side of a proxy could see the message end elsewhere (request smuggling); engines write CRLF.
class BodyFraming {
 public:
  enum class Kind { length, chunked, close, none };
  void start(Kind k, uint64_t length = 0) {
    kind_ = k;
    left_ = length;
    state_ = State::size;
    size_digits_ = 0;
    done_ = k == Kind::none || (k == Kind::length && length == 0);
    bad_ = false;
    meta_ = 0;
  }
  Kind kind() const { return kind_; }
  bool done() const { return done_; }
  bool bad() const { return bad_; }  // malformed chunked framing: the connection is unusable
  void end_of_input() {              // the connection closed: ends a close-delimited body
    if (kind_ == Kind::close) done_ = true;
  }

  template <class OnData>
  size_t feed(std::string_view in, OnData&& on_data) {
    if (done_ || bad_) return 0;
    if (kind_ == Kind::close) {
      if (!in.empty()) on_data(in);
      return in.size();
    }
    if (kind_ == Kind::length) {
      size_t n = left_ < in.size() ? static_cast<size_t>(left_) : in.size();
      if (n > 0) on_data(in.substr(0, n));
      left_ -= n;
      done_ = left_ == 0;
      return n;
    }
    size_t i = 0;
    while (i < in.size() && !done_ && !bad_) {
      if (state_ == State::data) {
        size_t n = left_ < in.size() - i ? static_cast<size_t>(left_) : in.size() - i;
        on_data(in.substr(i, n));
        i += n;
        left_ -= n;
        if (left_ == 0) state_ = State::data_cr;
        continue;
      }
      step(in[i++]);
    }
    return i;
  }

 private:
  enum class State {
    size, ext_blank, ext_name_start, ext_name, ext_name_blank, ext_value_start, ext_token, ext_quoted,
    ext_quoted_pair, ext_value_end, size_lf, data, data_cr, data_lf,
    trailer_start, trailer_name, trailer_value, trailer_lf, final_lf
  };
  static constexpr uint32_t kMaxMeta = 8192;  // framing bytes between two chunks' data
  void step(char c);
  void size_line(char c);
  void extension(char c);
  void line_feed(char c);
  void end_size_line();

  Kind kind_ = Kind::none;
  State state_ = State::size;
  uint64_t left_ = 0;
  int size_digits_ = 0;
  uint32_t meta_ = 0;
  bool done_ = true;
  bool bad_ = false;
};

}  // namespace llmux
