#include "proxy/http/relay_heads.hpp"

#include <boost/beast/http/status.hpp>  // obsolete_reason: a table, no Asio
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>

#include "proxy/http/routes.hpp"

namespace llmux {

using namespace std::string_view_literals;

namespace {

// Builds a head in a stack buffer, then hands it to `out` in one append (its one allocation). Pieces are copied
// with inlined memcpy: std::string::append checks room and calls out of line for every piece. A head larger than
// the buffer spills into `out` as it goes (order kept).
class HeadWriter {
 public:
  explicit HeadWriter(std::string& out) : out_(out) {}
  HeadWriter(const HeadWriter&) = delete;
  HeadWriter& operator=(const HeadWriter&) = delete;
  [[gnu::always_inline]] void put(std::string_view v) {
    if (v.size() > static_cast<size_t>(buf_ + sizeof buf_ - p_)) return spill(v);
    if (!v.empty()) std::memcpy(p_, v.data(), v.size());
    p_ += v.size();
  }
  void put_number(uint64_t n) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    put(std::string_view(digits, static_cast<size_t>(end - digits)));
  }
  void finish() { out_.append(buf_, static_cast<size_t>(p_ - buf_)); }

 private:
  [[gnu::noinline]] void spill(std::string_view v) {
    out_.append(buf_, static_cast<size_t>(p_ - buf_)).append(v);
    p_ = buf_;
  }
  std::string& out_;
  char buf_[1024];
  char* p_ = buf_;
};

}  // namespace

namespace {

// `body_size` nullopt: chunked.
std::string request_head(const Request& in, const EngineEndpoint& engine, std::optional<size_t> body_size,
                         std::string_view override) {
  const EngineTarget target = override.empty() ? engine_target_parts(in.target()) : EngineTarget{{}, override, {}};
  std::string h;
  HeadWriter w(h);
  w.put(in.method_string());
  w.put(" "sv);
  w.put(engine.base_path);
  w.put(target.prefix);
  w.put(target.path);
  w.put(target.query);
  w.put(" HTTP/1.1\r\n"sv);
  put_passed_fields(in.fields(), in.head().drops, in.head().connection, false, [&](std::string_view p) { w.put(p); });
  w.put("Host: "sv);
  w.put(engine.host);
  w.put(":"sv);
  w.put_number(engine.port);
  if (body_size) {
    w.put("\r\nContent-Length: "sv);
    w.put_number(*body_size);
  } else {
    w.put("\r\nTransfer-Encoding: chunked"sv);
  }
  w.put("\r\n\r\n"sv);
  w.finish();
  return h;
}

}  // namespace

std::string engine_request_head(const Request& in, const EngineEndpoint& engine, size_t body_size,
                                std::string_view override) {
  return request_head(in, engine, body_size, override);
}

std::string engine_request_head_chunked(const Request& in, const EngineEndpoint& engine, std::string_view override) {
  return request_head(in, engine, std::nullopt, override);
}

ClientHead client_response_head(const ResponseHead& e, unsigned client_version, bool client_keep_alive,
                                std::string_view clamp_note, std::string_view extra_fields) {
  namespace http = boost::beast::http;
  ClientHead out;
  const bool v11 = client_version >= 11;
  HeadWriter w(out.text);
  const char code[4] = {static_cast<char>('0' + e.status / 100 % 10), static_cast<char>('0' + e.status / 10 % 10),
                        static_cast<char>('0' + e.status % 10), ' '};
  w.put(v11 ? "HTTP/1.1 "sv : "HTTP/1.0 "sv);
  w.put(std::string_view(code, 4));
  w.put(e.reason.empty() ? http::obsolete_reason(static_cast<http::status>(e.status)) : e.reason);
  w.put("\r\n"sv);
  put_passed_fields(e.fields, e.drops, e.connection, e.event_stream, [&](std::string_view p) { w.put(p); });
  if (e.event_stream) w.put("X-Accel-Buffering: no\r\n"sv);
  if (!clamp_note.empty()) {
    w.put("X-Llmux-Max-Tokens-Clamped: "sv);
    w.put(clamp_note);
    w.put("\r\n"sv);
  }
  if (!extra_fields.empty()) w.put(extra_fields);
  out.keep_alive = client_keep_alive;
  auto length_field = [&](uint64_t n) {
    w.put("Content-Length: "sv);
    w.put_number(n);
    w.put("\r\n"sv);
  };
  if (e.bodiless()) {
    out.engine_body = BodyFraming::Kind::none;
    out.framing = Framing::none;
    if (e.content_length) length_field(*e.content_length);
  } else if (e.content_length) {
    out.engine_body = BodyFraming::Kind::length;
    out.framing = Framing::length;
    out.passthrough = true;
    length_field(*e.content_length);
  } else {
    out.engine_body = e.chunked ? BodyFraming::Kind::chunked : BodyFraming::Kind::close;
    if (v11) {
      out.framing = Framing::chunked;
      w.put("Transfer-Encoding: chunked\r\n"sv);
    } else {
      out.framing = Framing::close;  // HTTP/1.0 client: the body ends when the connection closes
      out.passthrough = !e.chunked;
      out.keep_alive = false;
    }
  }
  if (v11 && !out.keep_alive) w.put("Connection: close\r\n"sv);
  if (!v11 && out.keep_alive) w.put("Connection: keep-alive\r\n"sv);
  w.put("\r\n"sv);
  w.finish();
  return out;
}

}  // namespace llmux
