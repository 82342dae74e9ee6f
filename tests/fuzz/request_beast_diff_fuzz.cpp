// Where does this request end? llmux's reading (parse_request_head + BodyFraming, as the session reads a request)
// against Beast's request parser, the strict reading of a proxy that could sit in front of llmux. They must not
// disagree about the end of a request both find whole, and one must not find a request whole that the other still
// waits on: either is request smuggling (the next request's bytes read as this one's body, or the reverse). One of
// them refusing the request is not a disagreement (the connection is closed).
//
// llmux reads a head's bare LF line ends and skips empty lines before a request (RFC 9112 §2.2 allows both); Beast
// does neither. Beast is given the head as llmux read it (each line ending with CRLF, no leading empty lines), and
// its offsets are mapped back: the comparison is about where the body ends.
//
// And llmux's reading of chunk framing is at least as strict as Beast's: a body Beast refuses for its chunk size
// lines or extensions llmux refuses too. (Beast refuses some heads llmux takes: Connection values that are not
// token lists, targets with bytes above 0x7e. Neither moves the end of a request.)
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <limits>
#include <string>

#include "proxy/http/framing.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace llmux;
using namespace llmux::fuzz;
namespace http = boost::beast::http;

namespace {

enum class Verdict { need_more, bad, done };

struct Reading {
  Verdict verdict = Verdict::need_more;
  size_t end = 0;  // when done: the request's bytes
  bool bad_chunk = false;  // Beast: refused for its chunk framing (size line or extensions)
};

// As Session::read_request: the head, then Content-Length bytes or a chunked body.
Reading llmux_reading(std::string_view in, RequestHead& h) {
  std::string_view why;
  const HeadParse r = parse_request_head(in, h, why);
  if (r == HeadParse::bad) return {Verdict::bad};
  if (r == HeadParse::need_more) return {Verdict::need_more};
  const std::string_view rest = in.substr(h.size);
  if (h.chunked) {
    BodyFraming f;
    f.start(BodyFraming::Kind::chunked);
    const size_t used = f.feed(rest, [](std::string_view) {});
    if (f.bad()) return {Verdict::bad};
    if (!f.done()) return {Verdict::need_more};
    return {Verdict::done, h.size + used};
  }
  const uint64_t length = h.content_length.value_or(0);
  if (rest.size() < length) return {Verdict::need_more};
  return {Verdict::done, h.size + static_cast<size_t>(length)};
}

// A body that keeps nothing: only the framing matters here (string_body would reserve a claimed Content-Length).
struct NullBody {
  struct value_type {};
  struct reader {
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type&) {}
    void init(const boost::optional<std::uint64_t>&, boost::beast::error_code& ec) { ec = {}; }
    template <class Buffers>
    size_t put(const Buffers& buffers, boost::beast::error_code& ec) {
      ec = {};
      return boost::asio::buffer_size(buffers);
    }
    void finish(boost::beast::error_code& ec) { ec = {}; }
  };
};

Reading beast_reading(std::string_view in) {
  http::request_parser<NullBody> p;
  p.eager(true);
  p.header_limit(std::numeric_limits<std::uint32_t>::max());
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  size_t at = 0;
  for (;;) {
    boost::beast::error_code ec;
    const size_t n = p.put(boost::asio::buffer(in.data() + at, in.size() - at), ec);
    at += n;
    if (p.is_done()) return {Verdict::done, at};
    if (ec == http::error::need_more) {
      if (n == 0 || at == in.size()) return {Verdict::need_more};
      continue;
    }
    if (ec) return {Verdict::bad, 0, ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension};
    if (n == 0) return {Verdict::need_more};
  }
}

// The head as llmux read it, each line ending with CRLF, without the empty lines before it; `added`: bytes longer
// than llmux's head.
std::string strict_head(std::string_view head, ptrdiff_t& added) {
  size_t skip = 0;
  while (skip < head.size() && (head[skip] == '\r' || head[skip] == '\n')) ++skip;
  std::string out;
  for (size_t i = skip; i < head.size(); ++i) {
    if (head[i] == '\n' && (i == skip || head[i - 1] != '\r')) out += '\r';
    out += head[i];
  }
  added = static_cast<ptrdiff_t>(out.size()) - static_cast<ptrdiff_t>(head.size());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = as_text(data, size);
  RequestHead h;
  const Reading mine = llmux_reading(in, h);
  Reading theirs;
  if (h.size > 0) {  // llmux read a head: Beast reads the same lines, strictly written
    ptrdiff_t added = 0;
    const std::string input = strict_head(in.substr(0, h.size), added) + std::string(in.substr(h.size));
    theirs = beast_reading(input);
    theirs.end = static_cast<size_t>(static_cast<ptrdiff_t>(theirs.end) - added);
  } else {
    theirs = beast_reading(in);
  }
  if (mine.verdict == Verdict::done && theirs.verdict == Verdict::done) FUZZ_CHECK(mine.end == theirs.end);
  FUZZ_CHECK(!(mine.verdict == Verdict::done && theirs.verdict == Verdict::need_more));
  FUZZ_CHECK(!(mine.verdict == Verdict::need_more && theirs.verdict == Verdict::done));
  // llmux's chunk framing is at least as strict as Beast's.
  FUZZ_CHECK(!(mine.verdict == Verdict::done && theirs.bad_chunk));
  return 0;
}
