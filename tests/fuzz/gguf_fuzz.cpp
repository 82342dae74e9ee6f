// The GGUF header reader (common/gguf) on arbitrary bytes. Properties: it never reads past the input, never
// throws, and never allocates beyond its caps (ASan and libFuzzer's -rss_limit_mb catch a huge allocation); a
// header it accepts yields tensors whose byte sizes fit in the data after the header, and a shape whose per-layer
// table has one entry per layer.
#include "common/gguf.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace llmux;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  MemorySource src(std::string_view(reinterpret_cast<const char*>(data), size));
  GgufResult r = read_gguf(src);
  FUZZ_CHECK(r.file.has_value() != !r.error.empty());
  if (!r.file) return 0;
  FUZZ_CHECK(r.file->version == 2 || r.file->version == 3);
  uint64_t sum = 0;
  for (const GgufTensor& t : r.file->tensors) {
    FUZZ_CHECK(t.bytes <= size);
    sum += t.bytes;
  }
  FUZZ_CHECK(sum <= size);
  const ModelShape s = gguf_shape(*r.file);
  FUZZ_CHECK(s.kv.size() == s.layers);
  FUZZ_CHECK(s.weights_bytes == sum);
  return 0;
}
