// Properties every parsed head (request or response) must have, and a body fed whole and in pieces.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http/framing.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace llmux::fuzz {

inline bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

using Fields = std::vector<std::pair<std::string, std::string>>;

inline Fields fields_of(std::string_view fields) {
  Fields out;
  for_each_field(fields, [&](std::string_view n, std::string_view v) { out.emplace_back(n, v); });
  return out;
}

// The head ends with its blank line, exactly where the parser said: `parse` of the head alone is the same, of the
// head less its last byte is unfinished. The fields passed on to the other side (copied in runs when the drops are
// exact, rewritten otherwise) are the fields passed_field() keeps, each a clean CRLF line: parsed again as a head
// of their own they carry no framing or hop-by-hop field.
template <class Head>
void check_head(std::string_view in, const Head& h, HeadParse (*parse)(std::string_view, Head&, std::string_view&),
                bool drop_accel) {
  FUZZ_CHECK(h.size > 0 && h.size <= in.size() && in[h.size - 1] == '\n');
  FUZZ_CHECK(inside(h.fields, in.substr(0, h.size)) && inside(h.connection, h.fields));
  Head again;
  std::string_view why;
  FUZZ_CHECK(parse(in.substr(0, h.size), again, why) == HeadParse::done && again.size == h.size);
  FUZZ_CHECK(parse(in.substr(0, h.size - 1), again, why) == HeadParse::need_more);

  std::string passed;
  append_passed_fields(passed, h.fields, h.drops, h.connection, drop_accel);
  Fields expected;
  for (auto& [n, v] : fields_of(h.fields))
    if (passed_field(n, h.connection, drop_accel)) expected.emplace_back(n, v);
  FUZZ_CHECK(fields_of(passed) == expected);
  const std::string head = "GET / HTTP/1.1\r\n" + passed + "\r\n";
  RequestHead forwarded;
  FUZZ_CHECK(parse_request_head(head, forwarded, why) == HeadParse::done && forwarded.size == head.size());
  FUZZ_CHECK(!forwarded.content_length && !forwarded.chunked && forwarded.connection.empty());
  for (auto& [n, v] : fields_of(passed)) FUZZ_CHECK(!hop_by_hop_field(n));
}

struct Fed {
  std::string body;
  size_t used = 0;
  bool done = false, bad = false;
  bool operator==(const Fed&) const = default;
};

// Feeds `wire` to a fresh framing in the given piece sizes (all at once when empty), as the relay and the session
// do: each feed takes what arrived, the body's own bytes are consumed, and the rest is the next message's.
// A close-delimited body ends with the wire.
inline Fed feed_body(BodyFraming::Kind kind, uint64_t length, std::string_view wire, const std::vector<size_t>& pieces) {
  BodyFraming f;
  f.start(kind, length);
  Fed out;
  size_t k = 0;
  while (out.used < wire.size() && !f.done() && !f.bad()) {
    const size_t n = pieces.empty() ? wire.size() : std::min(pieces[k++ % pieces.size()], wire.size() - out.used);
    const std::string_view piece = wire.substr(out.used, n);
    const size_t used = f.feed(piece, [&](std::string_view d) {
      FUZZ_CHECK(inside(d, piece));
      out.body.append(d);
    });
    FUZZ_CHECK(used <= piece.size());
    FUZZ_CHECK(used == piece.size() || f.done() || f.bad());
    out.used += used;
    if (used < piece.size()) break;
  }
  f.end_of_input();
  out.done = f.done();
  out.bad = f.bad();
  FUZZ_CHECK(!(out.done && out.bad));
  FUZZ_CHECK(out.body.size() <= out.used);
  return out;
}

// The body's reading does not depend on how its bytes arrive.
inline Fed check_body(BodyFraming::Kind kind, uint64_t length, std::string_view wire) {
  const Fed whole = feed_body(kind, length, wire, {});
  FUZZ_CHECK(feed_body(kind, length, wire, splits(wire)) == whole);
  FUZZ_CHECK(feed_body(kind, length, wire, {1}) == whole);
  if (kind == BodyFraming::Kind::length) {
    FUZZ_CHECK(whole.done == (wire.size() >= length) && !whole.bad);
    FUZZ_CHECK(whole.body == wire.substr(0, length));
  }
  return whole;
}

}  // namespace llmux::fuzz
