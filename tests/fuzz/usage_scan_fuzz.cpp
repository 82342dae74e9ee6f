// The usage scan over a passing response body: what it finds (token counts, event counts) does not depend on how
// the body is cut into reads. The first byte picks the mode (bit 0: an SSE stream); the rest is the body.
#include <string>

#include "proxy/http/usage_scan.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace llmux;
using namespace llmux::fuzz;

namespace {

struct Found {
  TokenUsage usage;
  uint64_t events = 0;
  bool operator==(const Found& o) const {
    return usage.prompt == o.usage.prompt && usage.cached == o.usage.cached && usage.completion == o.usage.completion &&
           usage.approximate == o.usage.approximate && events == o.events;
  }
};

Found scan(bool sse, std::string_view body, const std::vector<size_t>& pieces) {
  UsageScanner s(sse);
  size_t at = 0, k = 0;
  while (at < body.size()) {
    const size_t n = pieces.empty() ? body.size() : std::min(pieces[k++ % pieces.size()], body.size() - at);
    s.feed(body.substr(at, n));
    at += n;
  }
  return {s.result(), s.events()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool sse = (data[0] & 1) != 0;
  const std::string_view body = as_text(data + 1, size - 1);
  const Found whole = scan(sse, body, {});
  FUZZ_CHECK(scan(sse, body, splits(body)) == whole);
  FUZZ_CHECK(scan(sse, body, {1}) == whole);
  if (!sse) FUZZ_CHECK(whole.events == 0 && !whole.usage.approximate);
  for (auto v : {whole.usage.prompt, whole.usage.cached, whole.usage.completion})
    if (v) FUZZ_CHECK(*v >= 0);
  return 0;
}
