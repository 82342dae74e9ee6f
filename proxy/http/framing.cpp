#include "proxy/http/framing.hpp"

#include <array>
#include <cstring>

#include "proxy/http/byte_scan.hpp"

namespace llmux {

namespace {

// RFC 9110 tchar, as a table: it runs for every character of every field name.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = t[static_cast<size_t>(c - 'a' + 'A')] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool token_char(char c) { return kTokenChars[static_cast<unsigned char>(c)]; }

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequal(s.substr(0, prefix.size()), prefix);
}

// Whether any byte of the 8 at `p` is below `limit` (at most 0x80) or DEL: a quick test (HTAB counts), an exact
// check follows a hit.
bool suspect_word(const char* p, uint64_t limit) {
  const uint64_t w = load_word(p);
  return (bytes_below(w, limit) | bytes_equal(w, 0x7f)) != 0;
}

// True when every byte passes `ok`; words of eight (the last one overlapping) are let through by a quick test
// for bytes below `limit` or DEL, the rest is checked byte by byte.
template <class Ok>
bool all_bytes(std::string_view v, uint64_t limit, Ok&& ok) {
  const size_t n = v.size();
  bool exact = n < 8;
  for (size_t i = 0; !exact && i + 8 <= n; i += 8) exact = suspect_word(v.data() + i, limit);
  if (!exact && suspect_word(v.data() + n - 8, limit)) exact = true;
  if (!exact) return true;
  for (char c : v)
    if (!ok(static_cast<unsigned char>(c))) return false;
  return true;
}

// RFC 9110 §5.5: no control characters in field values (HTAB aside): a bare CR could end the head early for a
// lenient parser on the other side.
bool clean_value(std::string_view v) {
  return all_bytes(v, 0x20, [](unsigned char c) { return (c >= 0x20 || c == '\t') && c != 0x7f; });
}

// A request target holds no blank, control character or DEL.
bool clean_target(std::string_view t) {
  return all_bytes(t, 0x21, [](unsigned char c) { return c > ' ' && c != 0x7f; });
}

// The end of the run of token characters from `i` (before `end`): four at a time while all four are.
size_t token_end(const char* d, size_t i, size_t end) {
  while (i + 4 <= end && (kTokenChars[static_cast<unsigned char>(d[i])] & kTokenChars[static_cast<unsigned char>(d[i + 1])] &
                          kTokenChars[static_cast<unsigned char>(d[i + 2])] & kTokenChars[static_cast<unsigned char>(d[i + 3])]))
    i += 4;
  while (i < end && kTokenChars[static_cast<unsigned char>(d[i])]) ++i;
  return i;
}


// The fields llmux acts on or does not pass on, told apart by one switch on the name's length.
enum class FieldName : uint8_t {
  other, content_length, connection, transfer_encoding, content_type, expect, accel_buffering, hop_by_hop,
  host, origin, authorization, api_key, fetch_site,
  cors,  // Access-Control-*: llmux answers CORS itself (proxy/access.hpp); an engine's own are not passed on
};

FieldName classify(std::string_view name) {
  switch (name.size()) {
    case 2: return iequal_lower(name, "te") ? FieldName::hop_by_hop : FieldName::other;
    case 4: return iequal_lower(name, "host") ? FieldName::host : FieldName::other;
    case 6:
      if (iequal_lower(name, "expect")) return FieldName::expect;
      return iequal_lower(name, "origin") ? FieldName::origin : FieldName::other;
    case 9: return iequal_lower(name, "x-api-key") ? FieldName::api_key : FieldName::other;
    case 7:
      return iequal_lower(name, "trailer") || iequal_lower(name, "upgrade") ? FieldName::hop_by_hop : FieldName::other;
    case 10:
      if (iequal_lower(name, "connection")) return FieldName::connection;
      return iequal_lower(name, "keep-alive") ? FieldName::hop_by_hop : FieldName::other;
    case 12: return iequal_lower(name, "content-type") ? FieldName::content_type : FieldName::other;
    case 13: return iequal_lower(name, "authorization") ? FieldName::authorization : FieldName::other;
    case 14:
      if (iequal_lower(name, "content-length")) return FieldName::content_length;
      return iequal_lower(name, "sec-fetch-site") ? FieldName::fetch_site : FieldName::other;
    case 16: return iequal_lower(name, "proxy-connection") ? FieldName::hop_by_hop : FieldName::other;
    case 17:
      if (iequal_lower(name, "transfer-encoding")) return FieldName::transfer_encoding;
      return iequal_lower(name, "x-accel-buffering") ? FieldName::accel_buffering : FieldName::other;
    case 18: return iequal_lower(name, "proxy-authenticate") ? FieldName::hop_by_hop : FieldName::other;
    case 19: return iequal_lower(name, "proxy-authorization") ? FieldName::hop_by_hop : FieldName::other;
    default:
      return name.size() >= 22 && iequal_lower(name.substr(0, 15), "access-control-") ? FieldName::cors
                                                                                     : FieldName::other;
  }
}

bool hop_by_hop(FieldName n) {
  return n == FieldName::hop_by_hop || n == FieldName::content_length || n == FieldName::connection ||
         n == FieldName::transfer_encoding || n == FieldName::expect || n == FieldName::host || n == FieldName::cors;
}

}  // namespace

bool hop_by_hop_field(std::string_view name) { return hop_by_hop(classify(name)); }

bool credential_field(std::string_view name) {
  const FieldName n = classify(name);
  return n == FieldName::authorization || n == FieldName::api_key;
}

bool listed_in(std::string_view connection, std::string_view name) {
  bool listed = false;
  for_each_token(connection, [&](std::string_view t) { listed = listed || iequal(t, name); });
  return listed;
}

bool passed_field(std::string_view name, std::string_view connection, bool drop_accel) {
  const FieldName n = classify(name);
  if (hop_by_hop(n) || (drop_accel && n == FieldName::accel_buffering)) return false;
  return connection.empty() || !listed_in(connection, name);
}

void append_passed_fields(std::string& out, std::string_view fields, const FieldDrops& drops,
                          std::string_view connection, bool drop_accel) {
  put_passed_fields(fields, drops, connection, drop_accel, [&](std::string_view piece) { out.append(piece); });
}

namespace {

// What request and response heads read alike from their fields.
struct CommonFields {
  std::string_view fields;  // the field lines
  size_t size = 0;          // bytes of the head, blank line included
  std::optional<uint64_t> content_length;
  std::string_view connection;
  bool close = false, keep_alive_token = false;
  FieldDrops drops;
};

// Where the line starting at `pos` of `data` ends (its LF), or npos: no line end yet. (memchr directly:
// string_view::find costs more per call, and this runs for every line of every head.)
size_t line_end(std::string_view data, size_t pos) {
  if (pos >= data.size()) return std::string_view::npos;
  const void* lf = std::memchr(data.data() + pos, '\n', data.size() - pos);
  return lf ? static_cast<size_t>(static_cast<const char*>(lf) - data.data()) : std::string_view::npos;
}

// The line starting at `pos` (line end stripped, bare LF accepted) and where the next one starts; false: no line
// end yet.
bool next_line(std::string_view data, size_t pos, std::string_view& line, size_t& next) {
  const size_t eol = line_end(data, pos);
  if (eol == std::string_view::npos) return false;
  line = data.substr(pos, eol - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  next = eol + 1;
  return true;
}

// What read_fields() found, into a request or response head.
template <class Head>
void take_common(Head& h, const CommonFields& c) {
  h.fields = c.fields;
  h.size = c.size;
  h.connection = c.connection;
  h.content_length = c.content_length;
  h.drops = c.drops;
}

// Reads the field lines from `pos` (just past the start line) to the blank line, in one pass: each is checked
// (token name, no control character in the value), Content-Length and Connection are read into `c`, the lines not
// to pass on are noted in c.drops, and the fields a head reads itself go to on_field(kind, value, line_begin,
// line_end) (offsets into the field lines).
template <class OnField>
HeadParse read_fields(std::string_view data, size_t pos, CommonFields& c, std::string_view& why, OnField&& on_field) {
  const size_t begin = pos;
  const char* const d = data.data();
  for (;;) {
    const size_t lf = line_end(data, pos);
    if (lf == std::string_view::npos) return HeadParse::need_more;
    size_t end = lf;  // the line without its line end
    if (end > pos && d[end - 1] == '\r') --end;
    else if (end > pos) c.drops.exact = false;  // a bare LF: lines are rewritten, not copied
    if (end == pos) {
      c.fields = data.substr(begin, pos - begin);
      c.size = lf + 1;
      return HeadParse::done;
    }
    const size_t colon = token_end(d, pos, end);
    if (colon == end || d[colon] != ':' || colon == pos) {
      const bool empty_name = colon < end && d[colon] == ':';  // (colon == pos)
      const bool bad_name = !empty_name && std::memchr(d + colon, ':', end - colon) != nullptr;
      why = bad_name ? "malformed header field name" : "malformed header field";
      return HeadParse::bad;
    }
    const std::string_view name(d + pos, colon - pos);
    const std::string_view raw_value(d + colon + 1, end - colon - 1);
    if (!clean_value(raw_value)) {  // (the blanks trimmed off are clean)
      why = "control character in a header field value";
      return HeadParse::bad;
    }
    const std::string_view value = trim_blanks(raw_value);
    const FieldName kind = classify(name);
    if (hop_by_hop(kind)) c.drops.add(pos - begin, lf + 1 - begin);
    if (kind == FieldName::content_length) {
      uint64_t n = 0;
      bool ok = !value.empty() && value.size() <= 18;
      for (char ch : value) ok = ok && ch >= '0' && ch <= '9';
      for (char ch : value) n = ok ? n * 10 + static_cast<uint64_t>(ch - '0') : 0;
      if (!ok || (c.content_length && *c.content_length != n)) {
        why = ok ? "conflicting Content-Length fields" : "bad Content-Length";
        return HeadParse::bad;
      }
      c.content_length = n;
    } else if (kind == FieldName::connection) {
      c.connection = value;
      for_each_token(value, [&](std::string_view t) {
        if (iequal(t, "close")) c.close = true;
        else if (iequal(t, "keep-alive")) c.keep_alive_token = true;
        else c.drops.exact = false;  // it names fields to drop
      });
    } else if (kind != FieldName::other) {
      on_field(kind, value, pos - begin, lf + 1 - begin);
    }
    pos = lf + 1;
  }
}

}  // namespace

HeadParse parse_response_head(std::string_view data, ResponseHead& h, std::string_view& why) {
  h = ResponseHead{};
  std::string_view line;
  size_t next = 0;
  if (!next_line(data, 0, line, next)) return HeadParse::need_more;
  // Status line: HTTP/1.x NNN reason
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ') {
    why = "malformed status line";
    return HeadParse::bad;
  }
  h.version = line[7] == '1' ? 11 : 10;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      why = "malformed status code";
      return HeadParse::bad;
    }
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100 || (line.size() > 12 && line[12] != ' ')) {
    why = "malformed status code";
    return HeadParse::bad;
  }
  h.status = status;
  h.reason = line.size() > 13 ? line.substr(13) : std::string_view();
  CommonFields c;
  bool has_te = false;
  const HeadParse r = read_fields(data, next, c, why, [&](FieldName kind, std::string_view value, size_t b, size_t e) {
    if (kind == FieldName::transfer_encoding) {
      bool last_chunked = false;
      for_each_token(value, [&](std::string_view t) { last_chunked = iequal(t, "chunked"); });
      h.chunked = last_chunked;
      has_te = true;
      if (!last_chunked) c.close = true;  // another coding last: the body ends with the connection
    } else if (kind == FieldName::content_type) {
      h.event_stream = starts_with_nocase(value, "text/event-stream");
    } else if (kind == FieldName::accel_buffering) {
      h.accel_field = true;
      c.drops.add(b, e);  // taken back below unless the body is an event stream
    }
  });
  if (r != HeadParse::done) return r;
  take_common(h, c);
  if (h.accel_field && !h.event_stream) h.drops.exact = false;  // kept: the walk keeps it
  if (has_te && h.content_length) {  // RFC 9112 §6.3: Transfer-Encoding wins, and the connection is not reused
    h.content_length.reset();
    c.close = true;
  }
  h.keep_alive = !c.close && (h.version == 11 || c.keep_alive_token);
  // A body ended only by the connection's close leaves nothing to reuse.
  if (!h.bodiless() && !h.chunked && !h.content_length) h.keep_alive = false;
  return HeadParse::done;
}

namespace {

// RFC 9112 §3.2: a target is origin-form ("/path?query"), or absolute-form ("http://authority/path": the authority
// stands for the Host field, the path is the target), or "*" for OPTIONS. False for anything else.
bool origin_form(RequestHead& h) {
  std::string_view t = h.target;
  if (!t.empty() && t.front() == '/') return true;
  if (t == "*") return h.method == "OPTIONS";
  size_t skip = 0;
  if (starts_with_nocase(t, "http://")) skip = 7;
  else if (starts_with_nocase(t, "https://")) skip = 8;
  else return false;
  const size_t path = t.find('/', skip);
  const std::string_view authority = t.substr(skip, path == std::string_view::npos ? t.npos : path - skip);
  if (authority.empty() || authority.find_first_of("@?#") != std::string_view::npos) return false;
  h.host = authority;
  h.absolute_form = true;
  h.target = path == std::string_view::npos ? std::string_view("/") : t.substr(path);
  return true;
}

}  // namespace

HeadParse parse_request_head(std::string_view data, RequestHead& h, std::string_view& why) {
  h = RequestHead{};
  size_t pos = 0;
  while (pos < data.size() && (data[pos] == '\r' || data[pos] == '\n')) ++pos;  // stray line ends before a request
  std::string_view line;
  size_t next = 0;
  if (!next_line(data, pos, line, next)) return HeadParse::need_more;
  // Request line: METHOD SP target SP HTTP/1.x
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1) {
    why = "malformed request line";
    return HeadParse::bad;
  }
  h.method = line.substr(0, sp1);
  h.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (char c : h.method)
    if (!token_char(c)) {
      why = "malformed request method";
      return HeadParse::bad;
    }
  if (!clean_target(h.target) || !origin_form(h)) {
    why = "malformed request target";
    return HeadParse::bad;
  }
  if (version == "HTTP/1.1") h.version = 11;
  else if (version == "HTTP/1.0") h.version = 10;
  else {
    why = version.starts_with("HTTP/") ? "unsupported HTTP version" : "malformed request line";
    return HeadParse::bad;
  }
  CommonFields c;
  bool other_coding = false, has_te = false;
  int chunked_codings = 0;
  const HeadParse r = read_fields(data, next, c, why, [&](FieldName kind, std::string_view value, size_t b, size_t e) {
    switch (kind) {
      case FieldName::transfer_encoding:
        has_te = true;
        for_each_token(value, [&](std::string_view t) {
          if (iequal(t, "chunked")) ++chunked_codings;
          else other_coding = true;
        });
        break;
      case FieldName::expect: h.expect_continue = iequal(value, "100-continue"); break;
      case FieldName::host:
        if (!h.absolute_form) h.host = value;
        h.hosts = static_cast<uint8_t>(h.hosts < 255 ? h.hosts + 1 : 255);
        break;
      case FieldName::origin:
        h.origin = value;
        h.has_origin = true;
        break;
      case FieldName::fetch_site: h.fetch_site = value; break;
      case FieldName::authorization:
      case FieldName::api_key:
        (kind == FieldName::authorization ? h.authorization : h.api_key) = value;
        if (h.credentials < 2) {
          h.credential_begin[h.credentials] = static_cast<uint32_t>(b);
          h.credential_end[h.credentials] = static_cast<uint32_t>(e);
        }
        h.credentials = static_cast<uint8_t>(h.credentials < 255 ? h.credentials + 1 : 255);
        break;
      default: break;
    }
  });
  if (r != HeadParse::done) return r;
  take_common(h, c);
  if (has_te && h.version == 10) {  // RFC 9112 §6.1: faulty framing
    why = "Transfer-Encoding in an HTTP/1.0 request";
    return HeadParse::bad;
  }
  if (has_te && (other_coding || chunked_codings != 1)) {
    why = "unsupported Transfer-Encoding (only chunked, once)";
    return HeadParse::bad;
  }
  h.chunked = chunked_codings == 1;
  if (h.chunked && h.content_length) {  // RFC 9112 §6.3: a request smuggling vector; refused
    why = "both Content-Length and Transfer-Encoding";
    return HeadParse::bad;
  }
  if (h.hosts > 1) {  // RFC 9112 §3.2: which one names the server would be a guess
    why = "more than one Host field";
    return HeadParse::bad;
  }
  h.keep_alive = !c.close && (h.version == 11 || c.keep_alive_token);
  return HeadParse::done;
}

std::string_view find_field(std::string_view fields, std::string_view name) {
  std::string_view found;
  bool have = false;
  for_each_field(fields, [&](std::string_view n, std::string_view v) {
    if (!have && iequal(n, name)) {
      found = v;
      have = true;
    }
  });
  return found;
}

void Request::adopt(std::string_view bytes, const RequestHead& parsed) {
  raw_.assign(bytes.data(), parsed.size);
  head_ = parsed;
  auto rebase = [&](std::string_view v) {
    return v.empty() ? std::string_view() : std::string_view(raw_.data() + (v.data() - bytes.data()), v.size());
  };
  head_.method = rebase(parsed.method);
  // The target of an absolute-form request without a path is the literal "/", not a view into `bytes`.
  const bool target_in_bytes = parsed.target.data() >= bytes.data() && parsed.target.data() < bytes.data() + parsed.size;
  head_.target = target_in_bytes ? rebase(parsed.target) : parsed.target;
  head_.fields = rebase(parsed.fields);
  head_.connection = rebase(parsed.connection);
  head_.host = rebase(parsed.host);
  head_.origin = rebase(parsed.origin);
  head_.authorization = rebase(parsed.authorization);
  head_.api_key = rebase(parsed.api_key);
  head_.fetch_site = rebase(parsed.fetch_site);
  body_.clear();
}

void Request::drop_credentials() {
  const uint8_t n = head_.credentials;
  FieldDrops& d = head_.drops;
  if (n == 0 || d.credentials) return;
  d.credentials = true;  // the field-by-field walk drops them too
  if (!d.exact) return;
  if (n > 2 || d.count + n > FieldDrops::kMax) {
    d.exact = false;
    return;
  }
  FieldDrops merged;  // both lists are in field order: merged in order
  merged.credentials = true;
  size_t i = 0, j = 0;
  while (i < d.count || j < n) {
    if (j < n && (i == d.count || head_.credential_begin[j] < d.begin[i])) {
      merged.add(head_.credential_begin[j], head_.credential_end[j]);
      ++j;
    } else {
      merged.add(d.begin[i], d.end[i]);
      ++i;
    }
  }
  d = merged;
}

namespace {

// A byte of a field value or chunk extension: visible, blank or obs-text; no control character (RFC 9110 §5.5).
bool value_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x20 && u != 0x7f) || c == '\t';
}

}  // namespace

void BodyFraming::step(char c) {
  // Framing bytes between two chunks' data (size line, extensions, CRLF, trailers) are bounded: a peer dripping an
  // endless chunk extension would otherwise hold the connection without ever adding a byte of body.
  if (++meta_ > kMaxMeta) {
    bad_ = true;
    return;
  }
  switch (state_) {
    case State::size: return size_line(c);
    case State::ext_blank:
    case State::ext_name_start:
    case State::ext_name:
    case State::ext_name_blank:
    case State::ext_value_start:
    case State::ext_token:
    case State::ext_quoted:
    case State::ext_quoted_pair:
    case State::ext_value_end: return extension(c);
    case State::data: return;  // handled in feed()
    case State::data_cr:
      if (c == '\r') state_ = State::data_lf;
      else bad_ = true;
      return;
    case State::size_lf:
    case State::data_lf:
    case State::trailer_lf:
    case State::final_lf: return line_feed(c);
    case State::trailer_start:  // the blank line that ends the body, or a trailer field line
      if (c == '\r') state_ = State::final_lf;
      else if (token_char(c)) state_ = State::trailer_name;
      else bad_ = true;  // a bare LF, a folded line, an empty name
      return;
    case State::trailer_name:
      if (c == ':') state_ = State::trailer_value;
      else if (!token_char(c)) bad_ = true;
      return;
    case State::trailer_value:
      if (c == '\r') state_ = State::trailer_lf;
      else if (!value_byte(c)) bad_ = true;
      return;
  }
}

// chunk-size, then the extensions or the CR.
void BodyFraming::size_line(char c) {
  const int v = hex_value(c);
  if (v >= 0) {
    if (++size_digits_ > 15) bad_ = true;
    left_ = left_ * 16 + static_cast<uint64_t>(v);
  } else if (size_digits_ == 0) {
    bad_ = true;
  } else if (c == ';') {
    state_ = State::ext_name_start;
  } else if (c == ' ' || c == '\t') {
    state_ = State::ext_blank;
  } else if (c == '\r') {
    state_ = State::size_lf;
  } else {
    bad_ = true;  // a bare LF among them
  }
}

// chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ), up to the CR (RFC 9112 §7.1.1).
// llmux ignores extensions but reads them to the letter: Beast's parser, for one, reads an unclosed quoted string
// on past the line end, so any leniency here is a place where the two could see a different end of the body.
void BodyFraming::extension(char c) {
  const bool blank = c == ' ' || c == '\t';
  switch (state_) {
    case State::ext_blank:  // BWS before a ';' (not before the line end)
      if (c == ';') state_ = State::ext_name_start;
      else if (!blank) bad_ = true;
      return;
    case State::ext_name_start:
      if (token_char(c)) state_ = State::ext_name;
      else if (!blank) bad_ = true;
      return;
    case State::ext_name:
      if (token_char(c)) return;
      if (c == '\r') {
        state_ = State::size_lf;
        return;
      }
      [[fallthrough]];
    case State::ext_name_blank:
      if (c == '=') state_ = State::ext_value_start;
      else if (c == ';') state_ = State::ext_name_start;
      else if (blank) state_ = State::ext_name_blank;
      else bad_ = true;
      return;
    case State::ext_value_start:
      if (c == '"') state_ = State::ext_quoted;
      else if (token_char(c)) state_ = State::ext_token;
      else if (!blank) bad_ = true;
      return;
    case State::ext_quoted:  // qdtext: a value byte other than '"' and '\\'
      if (c == '"') state_ = State::ext_value_end;
      else if (c == '\\') state_ = State::ext_quoted_pair;
      else if (!value_byte(c)) bad_ = true;
      return;
    case State::ext_quoted_pair:
      if (value_byte(c)) state_ = State::ext_quoted;
      else bad_ = true;
      return;
    case State::ext_token:
      if (token_char(c)) return;
      [[fallthrough]];
    default:  // ext_value_end
      if (c == ';') state_ = State::ext_name_start;
      else if (blank) state_ = State::ext_blank;
      else if (c == '\r') state_ = State::size_lf;
      else bad_ = true;
      return;
  }
}

// The LF after a CR: nothing else.
void BodyFraming::line_feed(char c) {
  if (c != '\n') {
    bad_ = true;
  } else if (state_ == State::size_lf) {
    end_size_line();
  } else if (state_ == State::trailer_lf) {
    state_ = State::trailer_start;
  } else if (state_ == State::final_lf) {
    done_ = true;
  } else {  // data_lf: the next chunk's size line
    state_ = State::size;
    size_digits_ = 0;
    left_ = 0;
  }
}

void BodyFraming::end_size_line() {
  if (left_ == 0) {
    state_ = State::trailer_start;
  } else {
    state_ = State::data;
    meta_ = 0;
  }
}

}  // namespace llmux
