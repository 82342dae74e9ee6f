// An engine's response as the relay reads it: the head (parse_response_head) and the body's framing as the relay
// chooses it (none for 1xx/204/304, Content-Length, chunked, or the connection's close). Properties: see
// head_checks.hpp, plus what the relay relies on (a kept-alive connection has a delimited body).
#include "tests/fuzz/head_checks.hpp"

using namespace llmux;
using namespace llmux::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = as_text(data, size);
  ResponseHead h;
  std::string_view why;
  const HeadParse r = parse_response_head(in, h, why);
  if (r == HeadParse::bad) FUZZ_CHECK(!why.empty());
  if (r != HeadParse::done) return 0;
  check_head(in, h, parse_response_head, h.event_stream);
  FUZZ_CHECK(h.status >= 100 && h.status <= 999);
  FUZZ_CHECK(!(h.chunked && h.content_length));
  FUZZ_CHECK(inside(h.reason, in.substr(0, h.size)));
  if (h.keep_alive) FUZZ_CHECK(h.bodiless() || h.chunked || h.content_length);

  const std::string_view rest = in.substr(h.size);
  const auto kind = h.bodiless()         ? BodyFraming::Kind::none
                    : h.content_length   ? BodyFraming::Kind::length
                    : h.chunked          ? BodyFraming::Kind::chunked
                                         : BodyFraming::Kind::close;
  const Fed body = check_body(kind, h.content_length.value_or(0), rest);
  if (kind == BodyFraming::Kind::close) FUZZ_CHECK(body.done && body.body == rest);
  return 0;
}
