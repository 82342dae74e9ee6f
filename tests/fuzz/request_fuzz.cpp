// A client's request as the session reads it: the head (parse_request_head) and the body's framing (Content-Length
// or chunked, BodyFraming). Properties: see head_checks.hpp; a request's own checks (one framing, clean target,
// token method); Request::adopt keeps views into its own copy.
#include "tests/fuzz/head_checks.hpp"

using namespace llmux;
using namespace llmux::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = as_text(data, size);
  RequestHead h;
  std::string_view why;
  const HeadParse r = parse_request_head(in, h, why);
  if (r == HeadParse::bad) FUZZ_CHECK(!why.empty());
  if (r != HeadParse::done) return 0;
  check_head(in, h, parse_request_head, false);
  FUZZ_CHECK(!(h.chunked && h.content_length));
  FUZZ_CHECK(h.version == 10 || h.version == 11);
  FUZZ_CHECK(!(h.chunked && h.version == 10));
  FUZZ_CHECK(!h.method.empty() && !h.target.empty());
  for (char c : h.target) FUZZ_CHECK(static_cast<unsigned char>(c) > ' ' && c != 0x7f);

  Request req;
  req.adopt(in, h);
  FUZZ_CHECK(req.method_string() == h.method && req.target() == h.target && req.fields() == h.fields);
  FUZZ_CHECK(!inside(req.fields(), in) || h.fields.empty());

  const std::string_view rest = in.substr(h.size);
  const auto kind = h.chunked ? BodyFraming::Kind::chunked
                    : h.content_length ? BodyFraming::Kind::length
                                       : BodyFraming::Kind::none;
  check_body(kind, h.content_length.value_or(0), rest);
  return 0;
}
