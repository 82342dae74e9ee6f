// GgufWriter: writes GGUF v3 files for tests and benches (no downloads): metadata of every kind the reader keeps,
// raw metadata copied from another file (a tokenizer), and tensors whose data is zeros (sparse, for size tests) or
// small random values (F32 / F16, for a real engine to run). Header-only; throws std::runtime_error on I/O errors.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace llmux::test {

class GgufWriter {
 public:
  enum Type : uint32_t { u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9, u64 = 10 };
  enum TensorType : uint32_t { F32 = 0, F16 = 1, Q8_0 = 8 };

  GgufWriter& add_u32(const std::string& key, uint32_t v) { return scalar(key, u32, &v, 4); }
  GgufWriter& add_f32(const std::string& key, float v) { return scalar(key, f32, &v, 4); }
  GgufWriter& add_str(const std::string& key, const std::string& v) {
    key_(key);
    put<uint32_t>(string);
    put_str(v);
    ++kv_;
    return *this;
  }
  GgufWriter& add_i32_array(const std::string& key, const std::vector<int32_t>& v) {
    key_(key);
    put<uint32_t>(array);
    put<uint32_t>(i32);
    put<uint64_t>(v.size());
    for (int32_t x : v) put(x);
    ++kv_;
    return *this;
  }
  GgufWriter& add_bool_array(const std::string& key, const std::vector<bool>& v) {
    key_(key);
    put<uint32_t>(array);
    put<uint32_t>(boolean);
    put<uint64_t>(v.size());
    for (bool x : v) put<uint8_t>(x ? 1 : 0);
    ++kv_;
    return *this;
  }
  GgufWriter& add_str_array(const std::string& key, const std::vector<std::string>& v) {
    key_(key);
    put<uint32_t>(array);
    put<uint32_t>(string);
    put<uint64_t>(v.size());
    for (const std::string& x : v) put_str(x);
    ++kv_;
    return *this;
  }
  // A value's bytes as another file holds them (type tag first): see GgufValue::raw_begin.
  GgufWriter& add_raw(const std::string& key, const std::string& typed_value) {
    key_(key);
    meta_ += typed_value;
    ++kv_;
    return *this;
  }
  // dims innermost first, as GGUF stores them.
  GgufWriter& add_tensor(const std::string& name, std::vector<uint64_t> dims, TensorType type) {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    const uint64_t bytes = type == F32 ? n * 4 : type == F16 ? n * 2 : n / 32 * 34;
    tensors_.push_back({name, std::move(dims), type, data_, bytes});
    data_ += (bytes + kAlign - 1) / kAlign * kAlign;
    return *this;
  }
  uint64_t data_bytes() const { return data_; }

  // random: fill tensor data with small values (norm weights 1.0); otherwise the data is a sparse hole.
  void write(const std::string& path, bool random = false) const {
    std::string head = "GGUF";
    append<uint32_t>(head, 3);
    append<uint64_t>(head, tensors_.size());
    append<uint64_t>(head, kv_);
    head += meta_;
    for (const Tensor& t : tensors_) {
      append<uint64_t>(head, t.name.size());
      head += t.name;
      append<uint32_t>(head, static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims) append(head, d);
      append<uint32_t>(head, t.type);
      append(head, t.offset);
    }
    head.resize((head.size() + kAlign - 1) / kAlign * kAlign, '\0');
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    if (random) {
      write_random(out);
    } else {
      out.seekp(static_cast<std::streamoff>(head.size() + data_ - 1));
      out.put('\0');
    }
    if (!out) throw std::runtime_error("cannot write " + path);
  }

 private:
  static constexpr uint64_t kAlign = 32;
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    TensorType type;
    uint64_t offset, bytes;
  };
  template <class T>
  static void append(std::string& s, T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  template <class T>
  void put(T v) {
    append(meta_, v);
  }
  void put_str(const std::string& s) {
    put<uint64_t>(s.size());
    meta_ += s;
  }
  void key_(const std::string& k) { put_str(k); }
  GgufWriter& scalar(const std::string& key, Type t, const void* v, size_t n) {
    key_(key);
    put<uint32_t>(t);
    meta_.append(static_cast<const char*>(v), n);
    ++kv_;
    return *this;
  }
  static uint16_t half(float f) {  // round-toward-zero float -> IEEE half, for small normal values
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000;
    const int exp = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
    if (exp <= 0) return static_cast<uint16_t>(sign);
    return static_cast<uint16_t>(sign | (exp << 10) | ((x >> 13) & 0x3ff));
  }
  void write_random(std::ofstream& out) const {
    std::mt19937 rng(42);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    uint64_t written = 0;
    std::string buf;
    for (const Tensor& t : tensors_) {
      buf.assign(t.offset - written, '\0');
      const bool norm = t.dims.size() == 1;
      const uint64_t n = t.type == F32 ? t.bytes / 4 : t.bytes / 2;
      for (uint64_t i = 0; i < n; ++i) {
        const float v = norm ? 1.0f : dist(rng);
        if (t.type == F32) append(buf, v);
        else append(buf, half(v));
      }
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      written = t.offset + t.bytes;
    }
    buf.assign(data_ - written, '\0');
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  }

  std::string meta_;
  uint64_t kv_ = 0;
  std::vector<Tensor> tensors_;
  uint64_t data_ = 0;
};

}  // namespace llmux::test
