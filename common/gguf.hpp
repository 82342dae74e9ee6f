// GGUF header reader (versions 2 and 3, little-endian): the metadata and tensor table a memory estimate needs,
// never the tensor data. Reads are bounded: counts, string lengths, array lengths and dimensions are checked
// against the bytes that remain and against fixed caps before anything is allocated or skipped, so a truncated or
// hostile file yields an error, never a huge allocation or a read past the end. Never throws; pure (no Asio).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/model_shape.hpp"

namespace llmux {

// Sequential bytes with a known total size (a file, or memory for tests and the fuzzer).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual bool read(void* out, size_t n) = 0;  // exactly n bytes, or false
  virtual bool skip(uint64_t n) = 0;           // false past the end
  virtual uint64_t position() const = 0;
  virtual uint64_t size() const = 0;
  uint64_t remaining() const { return size() > position() ? size() - position() : 0; }
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  bool read(void* out, size_t n) override;
  bool skip(uint64_t n) override;
  uint64_t position() const override { return pos_; }
  uint64_t size() const override { return bytes_.size(); }

 private:
  std::string_view bytes_;
  uint64_t pos_ = 0;
};

// A metadata value kept by the reader: numbers (as double and as uint64 when integral), strings, and arrays of
// numbers or bools (arrays of strings, such as the vocabulary, are skipped and kept as their length only).
struct GgufValue {
  enum class Kind { number, string, array, skipped_array } kind = Kind::number;
  double number = 0;
  uint64_t uint = 0;
  std::string text;
  std::vector<double> items;
  uint64_t count = 0;  // array length
  uint64_t raw_begin = 0, raw_end = 0;  // the value's bytes in the source, type tag included (for copying keys)
};

struct GgufTensor {
  std::string name;
  uint32_t type = 0;
  uint64_t elements = 0;
  uint64_t offset = 0;  // relative to the data section
  uint64_t bytes = 0;   // from the next tensor's offset (or the file's end): exact, padding included
};

struct GgufFile {
  uint32_t version = 0;
  std::map<std::string, GgufValue> meta;
  std::vector<GgufTensor> tensors;
  uint64_t data_offset = 0;  // where tensor data begins in the file
  const GgufValue* find(const std::string& key) const;
};

struct GgufResult {
  std::optional<GgufFile> file;
  std::string error;  // set when file is empty: "truncated header", "not a GGUF file", ...
};

GgufResult read_gguf(ByteSource& src);
GgufResult read_gguf_file(const std::string& path);

// The memory-relevant shape of a parsed GGUF (architecture-prefixed keys, per-layer arrays, SWA patterns).
ModelShape gguf_shape(const GgufFile& f);

// The shape of a .gguf file (every part of a split x-00001-of-0000N.gguf counted in the weights); nullopt with
// `error` set when it cannot be read.
std::optional<ModelShape> read_gguf_shape(const std::string& path, std::string& error);

}  // namespace llmux
