// The multipart `model` scanner over any body: it never reads out of bounds or keeps more than its limits, its
// answer does not depend on how the body is cut into reads, and a value it finds is the body's bytes at the offsets
// it reports. The first byte picks the boundary's length (1..16, taken from a fixed alphabet); the rest is the body.
#include <string>

#include "proxy/http/multipart.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace llmux;
using namespace llmux::fuzz;

namespace {

struct Found {
  MultipartModelScan::State state;
  std::string value;
  uint64_t begin = 0, end = 0;
  bool operator==(const Found& o) const {
    return state == o.state && value == o.value && begin == o.begin && end == o.end;
  }
};

Found scan(const std::string& boundary, std::string_view body, const std::vector<size_t>& pieces) {
  MultipartModelScan s(boundary);
  size_t at = 0, k = 0;
  while (at < body.size()) {
    const size_t n = pieces.empty() ? body.size() : std::min(pieces[k++ % pieces.size()], body.size() - at);
    s.feed(body.substr(at, n));
    at += n;
  }
  s.finish();
  const bool found = s.state() == MultipartModelScan::State::found;
  return {s.state(), s.value(), found ? s.value_begin() : 0, found ? s.value_end() : 0};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string boundary = std::string("b-0123456789XYZ").substr(0, 1 + data[0] % 15);
  const std::string_view body = as_text(data + 1, size - 1);
  const Found whole = scan(boundary, body, {});
  FUZZ_CHECK(scan(boundary, body, splits(body)) == whole);
  if (whole.state == MultipartModelScan::State::found) {
    FUZZ_CHECK(whole.begin <= whole.end && whole.end <= body.size());
    FUZZ_CHECK(body.substr(whole.begin, whole.end - whole.begin) == whole.value);
    FUZZ_CHECK(whole.value.size() <= MultipartModelScan::kMaxValue);
  }
  return 0;
}
