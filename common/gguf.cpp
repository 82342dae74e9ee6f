#include "common/gguf.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

namespace llmux {

namespace {

constexpr uint64_t kMaxKeys = 1 << 20;
constexpr uint64_t kMaxTensors = 1 << 20;
constexpr uint64_t kMaxString = 1 << 20;       // a key or a kept string value
constexpr uint64_t kMaxKeptArray = 1 << 16;    // numeric arrays kept (per-layer values); longer ones are skipped
constexpr uint32_t kMaxDims = 8;
constexpr uint32_t kMaxNesting = 4;

enum Type : uint32_t { t_u8, t_i8, t_u16, t_i16, t_u32, t_i32, t_f32, t_bool, t_string, t_array, t_u64, t_i64, t_f64 };

uint64_t scalar_size(uint32_t t) {
  switch (t) {
    case t_u8: case t_i8: case t_bool: return 1;
    case t_u16: case t_i16: return 2;
    case t_u32: case t_i32: case t_f32: return 4;
    case t_u64: case t_i64: case t_f64: return 8;
    default: return 0;
  }
}

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : f_(std::fopen(path.c_str(), "rb")) {
    if (f_ && std::fseek(f_, 0, SEEK_END) == 0) {
      const long end = std::ftell(f_);
      size_ = end > 0 ? static_cast<uint64_t>(end) : 0;
      std::fseek(f_, 0, SEEK_SET);
    }
  }
  ~FileSource() override {
    if (f_) std::fclose(f_);
  }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  bool ok() const { return f_ != nullptr; }
  bool read(void* out, size_t n) override {
    if (n > remaining() || std::fread(out, 1, n, f_) != n) return false;
    pos_ += n;
    return true;
  }
  bool skip(uint64_t n) override {
    if (n > remaining() || std::fseek(f_, static_cast<long>(pos_ + n), SEEK_SET) != 0) return false;
    pos_ += n;
    return true;
  }
  uint64_t position() const override { return pos_; }
  uint64_t size() const override { return size_; }

 private:
  std::FILE* f_;
  uint64_t size_ = 0, pos_ = 0;
};

class Parser {
 public:
  explicit Parser(ByteSource& src) : src_(src) {}
  GgufResult run();

 private:
  template <class T>
  bool get(T& v) {
    return src_.read(&v, sizeof v);  // GGUF is little-endian, as are the machines llmux runs on
  }
  bool str(std::string& out) {
    uint64_t n = 0;
    if (!get(n) || n > kMaxString || n > src_.remaining()) return fail("bad string length");
    out.resize(n);
    return n == 0 || src_.read(out.data(), n) || fail("truncated string");
  }
  bool skip_str() {
    uint64_t n = 0;
    return (get(n) && src_.skip(n)) || fail("truncated string");
  }
  bool fail(const char* why) {
    if (error_.empty()) error_ = why;
    return false;
  }
  bool number(uint32_t t, GgufValue& v);
  bool value(uint32_t t, GgufValue& v, uint32_t depth);
  bool array(GgufValue& v, uint32_t depth);
  bool tensor(GgufTensor& t);

  ByteSource& src_;
  std::string error_;
};

bool Parser::number(uint32_t t, GgufValue& v) {
  union {
    uint8_t u8v; int8_t i8v; uint16_t u16v; int16_t i16v; uint32_t u32v; int32_t i32v;
    float f32v; uint64_t u64v; int64_t i64v; double f64v;
  } b{};
  if (!src_.read(&b, scalar_size(t))) return fail("truncated value");
  switch (t) {
    case t_u8: case t_bool: v.number = b.u8v; break;
    case t_i8: v.number = b.i8v; break;
    case t_u16: v.number = b.u16v; break;
    case t_i16: v.number = b.i16v; break;
    case t_u32: v.number = b.u32v; break;
    case t_i32: v.number = b.i32v; break;
    case t_f32: v.number = b.f32v; break;
    case t_u64: v.number = static_cast<double>(b.u64v); v.uint = b.u64v; return true;
    case t_i64: v.number = static_cast<double>(b.i64v); break;
    default: v.number = b.f64v; break;
  }
  v.uint = v.number > 0 && v.number < 1.8e19 ? static_cast<uint64_t>(v.number) : 0;
  return true;
}

bool Parser::value(uint32_t t, GgufValue& v, uint32_t depth) {
  if (t == t_string) {
    v.kind = GgufValue::Kind::string;
    return str(v.text);
  }
  if (t == t_array) return array(v, depth);
  if (scalar_size(t) == 0) return fail("unknown value type");
  v.kind = GgufValue::Kind::number;
  return number(t, v);
}

bool Parser::array(GgufValue& v, uint32_t depth) {
  uint32_t t = 0;
  if (depth >= kMaxNesting || !get(t) || !get(v.count)) return fail("bad array");
  const uint64_t size = scalar_size(t);
  if (size > 0 && v.count <= kMaxKeptArray) {
    v.kind = GgufValue::Kind::array;
    if (v.count * size > src_.remaining()) return fail("truncated array");
    v.items.reserve(v.count);
    for (uint64_t i = 0; i < v.count; ++i) {
      GgufValue item;
      if (!number(t, item)) return false;
      v.items.push_back(item.number);
    }
    return true;
  }
  v.kind = GgufValue::Kind::skipped_array;
  if (size > 0) return (v.count <= src_.remaining() / size && src_.skip(v.count * size)) || fail("truncated array");
  if (v.count > src_.remaining() / 8) return fail("truncated array");  // every element takes at least 8 bytes
  for (uint64_t i = 0; i < v.count; ++i) {
    if (t == t_string) {
      if (!skip_str()) return false;
      continue;
    }
    GgufValue nested;
    if (!value(t, nested, depth + 1)) return false;
  }
  return true;
}

bool Parser::tensor(GgufTensor& t) {
  uint32_t dims = 0;
  if (!str(t.name) || !get(dims) || dims > kMaxDims) return fail("bad tensor info");
  t.elements = 1;
  for (uint32_t d = 0; d < dims; ++d) {
    uint64_t n = 0;
    if (!get(n)) return fail("truncated tensor info");
    if (n != 0 && t.elements > UINT64_MAX / n) return fail("tensor too large");
    t.elements *= n;
  }
  return (get(t.type) && get(t.offset)) || fail("truncated tensor info");
}

GgufResult Parser::run() {
  GgufResult result;
  char magic[4];
  GgufFile f;
  uint64_t n_tensors = 0, n_keys = 0;
  if (!src_.read(magic, 4) || std::memcmp(magic, "GGUF", 4) != 0) return {std::nullopt, "not a GGUF file"};
  if (!get(f.version) || (f.version != 2 && f.version != 3)) return {std::nullopt, "unsupported GGUF version"};
  if (!get(n_tensors) || !get(n_keys) || n_tensors > kMaxTensors || n_keys > kMaxKeys)
    return {std::nullopt, "absurd tensor or key count"};
  for (uint64_t i = 0; i < n_keys; ++i) {
    std::string key;
    uint32_t type = 0;
    GgufValue v;
    if (!str(key)) return {std::nullopt, error_};
    v.raw_begin = src_.position();
    if (!get(type) || !value(type, v, 0)) return {std::nullopt, error_.empty() ? "bad key" : error_};
    v.raw_end = src_.position();
    f.meta[key] = std::move(v);
  }
  f.tensors.reserve(std::min<uint64_t>(n_tensors, src_.remaining() / 24));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    if (!tensor(t)) return {std::nullopt, error_};
    f.tensors.push_back(std::move(t));
  }
  uint64_t align = 32;
  if (const GgufValue* a = f.find("general.alignment"); a && a->uint > 0 && a->uint <= (1u << 20)) align = a->uint;
  f.data_offset = (src_.position() + align - 1) / align * align;
  const uint64_t data_size = src_.size() > f.data_offset ? src_.size() - f.data_offset : 0;
  std::vector<size_t> order(f.tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return f.tensors[a].offset < f.tensors[b].offset; });
  for (size_t k = 0; k < order.size(); ++k) {
    GgufTensor& t = f.tensors[order[k]];
    // The next tensor's offset, never past the data that is there: an offset beyond the file (a broken or
    // truncated header) must not make a tensor larger than the file (found by tests/fuzz/gguf_fuzz).
    const uint64_t end = std::min(k + 1 < order.size() ? f.tensors[order[k + 1]].offset : data_size, data_size);
    t.bytes = end > t.offset ? end - t.offset : 0;
  }
  result.file = std::move(f);
  return result;
}

}  // namespace

bool MemorySource::read(void* out, size_t n) {
  if (n > remaining()) return false;
  std::memcpy(out, bytes_.data() + pos_, n);
  pos_ += n;
  return true;
}

bool MemorySource::skip(uint64_t n) {
  if (n > remaining()) return false;
  pos_ += n;
  return true;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = meta.find(key);
  return it == meta.end() ? nullptr : &it->second;
}

GgufResult read_gguf(ByteSource& src) { return Parser(src).run(); }

GgufResult read_gguf_file(const std::string& path) {
  FileSource src(path);
  if (!src.ok()) return {std::nullopt, "cannot open " + path + ": " + std::strerror(errno)};
  GgufResult r = read_gguf(src);
  if (!r.file) r.error = path + ": " + r.error;
  return r;
}

}  // namespace llmux
