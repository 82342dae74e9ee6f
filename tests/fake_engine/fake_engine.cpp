// fake_engine: a small, fast OpenAI-compatible inference engine for llmux's integration tests, demo and benches.
// It reproduces what llmux must cope with in real engines: slow loads under three readiness styles (llama-server's
// 503, vLLM's refused connections, mlx_lm.server's always-200 /health), paced token streams, crashes mid-stream,
// failed starts, an ignored SIGTERM and real memory growth. One thread, one io_context; an I/O error ends only its
// own connection. Responses are formatted by hand and written header+body in one write: it is a bench baseline.
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tests/fake_engine/prefix_cache.hpp"
#include "tests/support/fnv.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;
using namespace std::chrono_literals;

constexpr std::uint64_t kMaxBody = 256ull << 20;  // bench/form_upload_bench sends 100 MiB
constexpr std::size_t kEchoBody = 64 * 1024;  // an echoed body larger than this is reported by length and digest
constexpr std::int64_t kMaxTokens = 100000;

// ---------------------------------------------------------------------------------------------- options, logging

enum class Readiness { http503, refuse, always200 };

struct Options {
  std::optional<std::uint16_t> port;
  std::string host = "127.0.0.1";
  std::string model = "fake-model";
  std::int64_t load_delay_ms = 0;
  Readiness readiness = Readiness::http503;
  std::int64_t token_ms = 5;
  std::int64_t tokens = 16;
  std::int64_t memory_mb = 0;
  std::int64_t grow_mb = 0, grow_after_ms = 0;  // once loaded and this long idle or not, occupy grow_mb more
  std::optional<std::int64_t> crash_after_tokens;
  std::optional<int> exit_at_start;
  bool ignore_sigterm = false;
  std::optional<std::string> name_check;
  bool quiet = false;  // no per-request log lines (benches)
  std::optional<std::string> squat_port_once;  // marker file: see squat_port()
  std::int64_t cached_tokens = -1;  // >= 0: usage reports prompt_tokens_details.cached_tokens
  bool interim = false;          // a 103 Early Hints interim response before every final one
  bool close_delimited = false;  // non-streamed answers without Content-Length, ended by closing the connection
  std::int64_t pad_header = 0;   // > 0: every response carries an X-Fake-Pad field of this many bytes
  std::int64_t close_after = 0;  // > 0: a connection is closed silently after this many inference answers (still
                                 // announced keep-alive), as a server's keep-alive timeout would: a stale pool
  std::int64_t slots = 0;         // > 0: the prompt-cache model (prefix_cache.hpp) with this many slots
  std::int64_t prefill_us = 0;    // simulated prefill time per uncached prompt token (with --slots)
  std::int64_t done_gap_ms = 0;   // a stream's terminating chunk follows its [DONE] event this much later
  bool skim = false;  // chat/completions bodies are not parsed (benches of large bodies: a DOM of 1 MiB costs ms):
                      // `--tokens` tokens, streamed when the body holds "stream":true, prompt tokens = bytes / 4
};

// One write(2) per line, so lines stay whole when stdout and stderr share a pipe.
void log_line(std::string_view text) {
  std::string line = "fake_engine: ";
  line.append(text).push_back('\n');
  for (std::size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(2, line.data() + done, line.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

constexpr std::string_view kUsage =
    "usage: fake_engine --port N [--host H] [--model NAME] [--load-delay-ms N] [--readiness 503|refuse|always200]\n"
    "       [--token-ms N] [--tokens N] [--memory-mb N] [--crash-after-tokens N] [--exit-at-start CODE]\n"
    "       [--ignore-sigterm] [--name-check NAME] [--quiet] [--squat-port-once MARKER_FILE] [--cached-tokens N]\n"
    "       [--interim] [--close-delimited] [--close-after N] [--pad-header BYTES]\n"
    "       [--slots N] [--prefill-us-per-token N] [--done-gap-ms N]\n"
    "       [--grow-mb N --grow-after-ms MS] [--skim]\n";

[[noreturn]] void usage_error(const std::string& message) {
  log_line("error: " + message);
  std::fputs(kUsage.data(), stderr);
  std::exit(2);
}

std::int64_t parse_number(const std::string& flag, const std::string& text, std::int64_t max) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 0 || v > max)
    usage_error(flag + ": expected an integer in [0, " + std::to_string(max) + "], got '" + text + "'");
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::optional<std::string> inline_value;
    if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };
    constexpr std::int64_t big = std::int64_t{1} << 40;
    if (flag == "--help" || flag == "-h") { std::fputs(kUsage.data(), stdout); std::exit(0); }
    else if (flag == "--port") o.port = static_cast<std::uint16_t>(parse_number(flag, value(), 65535));
    else if (flag == "--host") o.host = value();
    else if (flag == "--model") o.model = value();
    else if (flag == "--load-delay-ms") o.load_delay_ms = parse_number(flag, value(), big);
    else if (flag == "--token-ms") o.token_ms = parse_number(flag, value(), big);
    else if (flag == "--tokens") o.tokens = parse_number(flag, value(), kMaxTokens);
    else if (flag == "--memory-mb") o.memory_mb = parse_number(flag, value(), big);
    else if (flag == "--grow-mb") o.grow_mb = parse_number(flag, value(), big);
    else if (flag == "--grow-after-ms") o.grow_after_ms = parse_number(flag, value(), big);
    else if (flag == "--crash-after-tokens") o.crash_after_tokens = parse_number(flag, value(), big);
    else if (flag == "--exit-at-start") o.exit_at_start = static_cast<int>(parse_number(flag, value(), 255));
    else if (flag == "--name-check") o.name_check = value();
    else if (flag == "--squat-port-once") o.squat_port_once = value();
    else if (flag == "--cached-tokens") o.cached_tokens = parse_number(flag, value(), big);
    else if (flag == "--close-after") o.close_after = parse_number(flag, value(), big);
    else if (flag == "--slots") o.slots = parse_number(flag, value(), 64);
    else if (flag == "--prefill-us-per-token") o.prefill_us = parse_number(flag, value(), 1000000);
    else if (flag == "--done-gap-ms") o.done_gap_ms = parse_number(flag, value(), 60000);
    else if (flag == "--pad-header") o.pad_header = parse_number(flag, value(), 1 << 20);
    else if (flag == "--ignore-sigterm" && !inline_value) o.ignore_sigterm = true;
    else if (flag == "--quiet" && !inline_value) o.quiet = true;
    else if (flag == "--skim" && !inline_value) o.skim = true;
    else if (flag == "--interim" && !inline_value) o.interim = true;
    else if (flag == "--close-delimited" && !inline_value) o.close_delimited = true;
    else if (flag == "--readiness") {
      const std::string v = value();
      if (v == "503") o.readiness = Readiness::http503;
      else if (v == "refuse") o.readiness = Readiness::refuse;
      else if (v == "always200") o.readiness = Readiness::always200;
      else usage_error("--readiness: expected 503, refuse or always200, got '" + v + "'");
    } else usage_error("unknown flag '" + std::string(argv[i]) + "'");
  }
  if (const char* env = std::getenv("PORT"); !o.port && env != nullptr)  // as servers that read PORT do
    o.port = static_cast<std::uint16_t>(parse_number("PORT", env, 65535));
  if (!o.port) usage_error("--port is required");
  return o;
}

// ---------------------------------------------------------------------------------------------- text building

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') { out.push_back('\\'); out.push_back(ch); }
    else if (ch == '\n') out += "\\n";
    else if (u < 0x20) { out += "\\u00"; out.push_back(hex[u >> 4]); out.push_back(hex[u & 15]); }
    else out.push_back(ch);
  }
  out.push_back('"');
}

std::string_view reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// `type`: OpenAI error type; the numeric `code` is the HTTP status, as llama-server reports it.
std::string error_json(int status, std::string_view type, std::string_view message) {
  std::string out = R"({"error":{"message":)";
  append_json_string(out, message);
  out += R"(,"type":)";
  append_json_string(out, type);
  out += R"(,"code":)";
  append_int(out, status);
  out += "}}";
  return out;
}

std::int64_t count_words(std::string_view s) {
  std::int64_t n = 0;
  bool in_word = false;
  for (const char ch : s) {
    const bool blank = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
    if (!blank && !in_word) ++n;
    in_word = !blank;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------- engine state

struct Engine {
  Engine(net::io_context& io, Options o)
      : opt(std::move(o)), io(io), acceptor(io), load_gate(io, std::chrono::steady_clock::time_point::max()) {
    pid = ::getpid();
    extra_headers = "X-Fake-Pid: " + std::to_string(pid) + "\r\nX-Fake-Model: " + opt.model + "\r\n";
    if (opt.pad_header > 0) extra_headers += "X-Fake-Pad: " + std::string(static_cast<size_t>(opt.pad_header), 'p') + "\r\n";
  }
  Options opt;
  fake::PrefixCache cache{static_cast<std::size_t>(opt.slots)};  // used with --slots
  net::io_context& io;
  tcp::acceptor acceptor;
  net::steady_timer load_gate;  // never expires; cancel() wakes requests waiting for the load (always200)
  bool loaded = false;
  pid_t pid = 0;
  std::string extra_headers;  // X-Fake-Pid and X-Fake-Model lines, on every response
  std::optional<std::string> last_body;
  nlohmann::json last_headers;  // of the last POST: field name (as sent) -> value
  std::int64_t requests = 0;   // inference POSTs received (chat, completions, embeddings)
  std::int64_t health = 0;     // GET /health received
  std::int64_t total = 0;      // every request except /debug/*
  std::int64_t active = 0;     // inference requests in flight
  std::int64_t cancelled = 0;  // generations cut short because the client went away
  std::int64_t next_id = 0;
};

struct ActiveCount {
  explicit ActiveCount(Engine& e) : e(e) { ++e.active; }
  ~ActiveCount() { --e.active; }
  ActiveCount(const ActiveCount&) = delete;
  ActiveCount& operator=(const ActiveCount&) = delete;
  Engine& e;
};

[[noreturn]] void crash_now() {
  log_line("crashing");
  ::_exit(70);
}

void report_exception(std::exception_ptr p) {
  if (!p) return;
  try {
    std::rethrow_exception(p);
  } catch (const std::exception& ex) {
    log_line(std::string("error: ") + ex.what());
  }
}

// One client connection. `body` and `out` are reused from request to request: no allocation once warm.
struct Conn {
  explicit Conn(tcp::socket s) : sock(std::move(s)) {}
  tcp::socket sock;
  beast::flat_buffer buf;
  std::string body;
  std::string out;
};

constexpr std::string_view kInterim = "HTTP/1.1 103 Early Hints\r\nLink: </hint>; rel=preload\r\n\r\n";

// content_length nullopt: no length, the body ends when the connection closes (keep_alive must be false).
void append_head(const Engine& e, std::string& out, int status, std::string_view content_type,
                 std::optional<std::size_t> content_length, bool keep_alive) {
  out += "HTTP/1.1 ";
  append_int(out, status);
  out.push_back(' ');
  out += reason(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  if (content_length) {
    out += "\r\nContent-Length: ";
    append_int(out, static_cast<std::int64_t>(*content_length));
  }
  out += "\r\n";
  out += e.extra_headers;
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
}

// Sends `c.body` with its header in one gathered write. Returns whether the connection stays open.
// `inference`: a completion or embedding answer, where --interim and --close-delimited apply.
net::awaitable<bool> send(const Engine& e, Conn& c, int status, bool keep_alive,
                          std::string_view content_type = "application/json", bool inference = false) {
  c.out.clear();
  const bool unframed = inference && e.opt.close_delimited;
  if (unframed) keep_alive = false;
  if (inference && e.opt.interim) c.out += kInterim;
  append_head(e, c.out, status, content_type, unframed ? std::nullopt : std::optional<std::size_t>(c.body.size()),
              keep_alive);
  const std::array<net::const_buffer, 2> buffers = {net::buffer(c.out), net::buffer(c.body)};
  beast::error_code ec;
  co_await net::async_write(c.sock, buffers, net::redirect_error(net::use_awaitable, ec));
  co_return keep_alive && !ec;
}

net::awaitable<bool> send_error(const Engine& e, Conn& c, int status, std::string_view type,
                                std::string_view message, bool keep_alive) {
  c.body = error_json(status, type, message);
  const bool keep = co_await send(e, c, status, keep_alive);
  co_return keep;
}

net::awaitable<bool> send_loading(const Engine& e, Conn& c, bool keep_alive) {
  const bool keep = co_await send_error(e, c, 503, "unavailable_error", "Loading model", keep_alive);
  co_return keep;
}

void log_request(const Engine& e, const Request& req, std::string_view model, bool stream) {
  if (e.opt.quiet || req.target() == "/health") return;  // readiness probes would drown the log
  std::string line(req.method_string());
  line.push_back(' ');
  line += req.target();
  line += " model=";
  line += model;
  line += stream ? " stream=1" : " stream=0";
  log_line(line);
}

// ---------------------------------------------------------------------------------------------- disconnects

// While a response is generated nobody reads the client socket, so a client that goes away would be noticed only
// at the next write. A watch keeps one read pending: EOF or reset marks the client gone and cancels the pacing
// timer at once. Bytes of a pipelined next request are kept and handed back to the connection buffer.
struct Watch {
  explicit Watch(const net::any_io_executor& ex) : tick(ex), done(ex, std::chrono::steady_clock::time_point::max()) {}
  net::steady_timer tick;  // the generation's pacing timer
  net::steady_timer done;  // cancelled when the read handler has run for the last time
  std::string pending;
  std::array<char, 4096> scratch{};
  bool reading = false;
  bool stopping = false;
  bool gone = false;
};

// The handler touches only the shared Watch, never the frame that started it, except to re-arm before stop.
void arm_watch(tcp::socket& sock, const std::shared_ptr<Watch>& w) {
  w->reading = true;
  sock.async_read_some(net::buffer(w->scratch), [&sock, w](const beast::error_code& ec, std::size_t n) {
    w->pending.append(w->scratch.data(), n);
    if (!ec && !w->stopping) return arm_watch(sock, w);
    w->reading = false;
    if (ec && ec != net::error::operation_aborted) {
      w->gone = true;
      w->tick.cancel();
    }
    w->done.cancel();
  });
}

std::shared_ptr<Watch> start_watch(Conn& c) {
  auto w = std::make_shared<Watch>(c.sock.get_executor());
  arm_watch(c.sock, w);
  return w;
}

net::awaitable<void> stop_watch(Conn& c, std::shared_ptr<Watch> w) {
  w->stopping = true;
  if (w->reading) {
    beast::error_code ec;
    c.sock.cancel(ec);
    co_await w->done.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  if (!w->pending.empty()) {
    const auto n = net::buffer_copy(c.buf.prepare(w->pending.size()), net::buffer(w->pending));
    c.buf.commit(n);
  }
}

// ---------------------------------------------------------------------------------------------- generation

enum class Kind { chat, text, embed };

struct Gen {
  Kind kind = Kind::chat;
  std::string model;
  bool model_given = false;
  std::int64_t n = 0;         // completion tokens to produce
  bool limited = false;       // the request set max_tokens: finish_reason "length", else "stop"
  std::int64_t prompt_tokens = 1;
  bool stream = false;
  bool include_usage = false;
  std::int64_t cached_tokens = -1;
  bool timings = false;        // the prompt-cache model ran: llama-server's "timings" follow the usage
  std::int64_t prefill_us = 0; // simulated prompt processing before the first token
};

std::int64_t count_prompt_tokens(const nlohmann::json& j, Kind kind) {
  std::int64_t n = 0;
  auto count_item = [&n](const nlohmann::json& v) {
    if (v.is_string()) n += count_words(v.get_ref<const std::string&>());
    else if (v.is_array()) n += static_cast<std::int64_t>(v.size());  // token ids
    else if (v.is_number()) n += 1;
  };
  if (kind == Kind::chat) {
    for (const auto& m : j.value("messages", nlohmann::json::array())) {
      if (!m.is_object() || !m.contains("content")) continue;
      const auto& content = m["content"];
      if (content.is_string()) count_item(content);
      else if (content.is_array())
        for (const auto& part : content)
          if (part.is_object() && part.contains("text")) count_item(part["text"]);
    }
  } else if (const auto in = j.find(kind == Kind::text ? "prompt" : "input"); in != j.end()) {
    if (in->is_array() && !in->empty() && !(*in)[0].is_number()) for (const auto& v : *in) count_item(v);
    else count_item(*in);
  }
  return std::max<std::int64_t>(n, 1);
}

// Fills `g` from a parsed request; returns an error message for a request no client should send, else "".
std::string read_gen(const nlohmann::json& j, const Options& o, Gen& g) {
  if (!j.is_object()) return "request body is not a JSON object";
  if (const auto it = j.find("model"); it != j.end() && it->is_string()) {
    g.model = it->get<std::string>();
    g.model_given = true;
  }
  if (const auto it = j.find("stream"); it != j.end() && it->is_boolean()) g.stream = it->get<bool>();
  if (const auto it = j.find("stream_options"); it != j.end() && it->is_object())
    g.include_usage = it->value("include_usage", false);
  g.n = o.tokens;
  g.cached_tokens = o.cached_tokens;
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_number()) return std::string(key) + " must be an integer";
    g.n = std::clamp<std::int64_t>(it->get<std::int64_t>(), 0, kMaxTokens);
    g.limited = true;
  }
  if (g.kind == Kind::chat && !j.contains("messages")) return "'messages' is required";
  if (g.kind == Kind::text && !j.contains("prompt")) return "'prompt' is required";
  if (g.kind == Kind::embed && !j.contains("input")) return "'input' is required";
  g.prompt_tokens = count_prompt_tokens(j, g.kind);
  return "";
}

// Fills `g` without parsing the body (--skim): one substring search, so that the engine's own cost stays small
// and the same for every body size.
std::string skim_gen(std::string_view body, const Options& o, Gen& g) {
  g.stream = body.find(R"("stream":true)") != std::string_view::npos;
  g.n = o.tokens;
  g.cached_tokens = o.cached_tokens;
  g.prompt_tokens = std::max<std::int64_t>(static_cast<std::int64_t>(body.size() / 4), 1);
  return "";
}

// Appends `{"id":..,"object":..,"created":..,"model":..,"choices":[`, shared by every JSON object of a response.
void append_envelope(Engine& e, const Gen& g, std::string_view object, std::string& h) {
  h += R"({"id":")";
  h += g.kind == Kind::chat ? "chatcmpl-fake" : "cmpl-fake";
  append_int(h, ++e.next_id);
  h += R"(","object":")";
  h += object;
  h += R"(","created":)";
  append_int(h, static_cast<std::int64_t>(std::time(nullptr)));
  h += R"(,"model":)";
  append_json_string(h, g.model);
  h += R"(,"choices":[)";
}

void append_token(std::string& out, std::int64_t i) {
  out += "tok";
  append_int(out, i);
  out.push_back(' ');
}

void append_usage(std::string& out, const Gen& g) {
  out += R"("usage":{"prompt_tokens":)";
  append_int(out, g.prompt_tokens);
  out += R"(,"completion_tokens":)";
  append_int(out, g.n);
  out += R"(,"total_tokens":)";
  append_int(out, g.prompt_tokens + g.n);
  if (g.cached_tokens >= 0) {
    out += R"(,"prompt_tokens_details":{"cached_tokens":)";
    append_int(out, g.cached_tokens);
    out += "}";
  }
  out += "}";
  if (g.timings) {  // llama-server reports its prompt cache here (top level, beside "usage")
    out += R"(,"timings":{"cache_n":)";
    append_int(out, g.cached_tokens);
    out += R"(,"prompt_n":)";
    append_int(out, g.prompt_tokens - g.cached_tokens);
    out += R"(,"predicted_n":)";
    append_int(out, g.n);
    out += "}";
  }
}

std::string_view finish_reason(const Gen& g) { return g.limited ? R"("length")" : R"("stop")"; }

void build_completion_body(Engine& e, const Gen& g, std::string& out) {
  const bool chat = g.kind == Kind::chat;
  out.clear();
  append_envelope(e, g, chat ? "chat.completion" : "text_completion", out);
  out += chat ? R"({"index":0,"message":{"role":"assistant","content":")" : R"({"index":0,"text":")";
  for (std::int64_t i = 0; i < g.n; ++i) append_token(out, i);
  out += chat ? R"("},"finish_reason":)" : R"(","logprobs":null,"finish_reason":)";
  out += finish_reason(g);
  out += "}],";
  append_usage(out, g);
  out += "}";
}

void build_embedding_body(const nlohmann::json& j, const Gen& g, std::string& out) {
  const auto& in = j["input"];
  const bool many = in.is_array() && !in.empty() && !in[0].is_number();
  nlohmann::json data = nlohmann::json::array();
  for (std::size_t i = 0; i < (many ? in.size() : 1); ++i) {
    const std::string text = (many ? in[i] : in).dump();
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a: the same input always gets the same vector
    for (const char ch : text) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    nlohmann::json vec = nlohmann::json::array();
    for (int k = 0; k < 8; ++k) vec.push_back(static_cast<double>((h >> (8 * k)) & 0xff) / 127.5 - 1.0);
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(vec)}});
  }
  const nlohmann::json usage = {{"prompt_tokens", g.prompt_tokens}, {"total_tokens", g.prompt_tokens}};
  const nlohmann::json body = {{"object", "list"}, {"data", std::move(data)}, {"model", g.model}, {"usage", usage}};
  out = body.dump();
}

// Appends `data: <envelope><rest>\n\n` framed as one HTTP chunk.
void append_event(std::string& out, std::string_view envelope, std::string_view rest) {
  constexpr std::string_view prefix = "data: ", suffix = "\n\n\r\n";
  const std::size_t n = prefix.size() + envelope.size() + rest.size() + 2;
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof buf, n, 16);
  out.append(buf, r.ptr).append("\r\n").append(prefix).append(envelope).append(rest).append(suffix);
}

void append_token_event(std::string& out, const Gen& g, std::string_view envelope, std::int64_t i) {
  std::string rest = g.kind == Kind::chat ? R"({"index":0,"delta":{"content":")" : R"({"index":0,"text":")";
  append_token(rest, i);
  rest += g.kind == Kind::chat ? R"("},"finish_reason":null}]})" : R"(","logprobs":null,"finish_reason":null}]})";
  append_event(out, envelope, rest);
}

// The finish chunk, the optional usage chunk, [DONE] and (unless `terminate` is false) the terminating chunk.
void append_stream_end(std::string& out, const Gen& g, std::string_view envelope, bool terminate) {
  std::string rest = g.kind == Kind::chat ? R"({"index":0,"delta":{},"finish_reason":)"
                                          : R"({"index":0,"text":"","logprobs":null,"finish_reason":)";
  rest += finish_reason(g);
  rest += "}]}";
  append_event(out, envelope, rest);
  if (g.include_usage) {
    rest = "],";
    append_usage(rest, g);
    rest += "}";
    append_event(out, envelope, rest);
  }
  out += "e\r\ndata: [DONE]\n\n\r\n";
  if (terminate) out += "0\r\n\r\n";
}

// Simulated prompt processing: the uncached tokens' prefill time, before the first byte of the answer.
net::awaitable<void> prefill(const Gen& g) {
  if (g.prefill_us <= 0) co_return;
  net::steady_timer t(co_await net::this_coro::executor, std::chrono::microseconds(g.prefill_us));
  beast::error_code ec;
  co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
}

net::awaitable<bool> stream_reply(Engine& e, Conn& c, const Gen& g, bool keep_alive) {
  co_await prefill(g);
  std::string envelope;
  append_envelope(e, g, g.kind == Kind::chat ? "chat.completion.chunk" : "text_completion", envelope);
  c.out = e.opt.interim ? std::string(kInterim) : std::string();
  c.out += "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
           "Transfer-Encoding: chunked\r\n";
  c.out += e.extra_headers;
  c.out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (g.kind == Kind::chat)
    append_event(c.out, envelope, R"({"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})");
  beast::error_code ec;
  co_await net::async_write(c.sock, net::buffer(c.out), net::redirect_error(net::use_awaitable, ec));
  if (ec) { ++e.cancelled; co_return false; }
  const auto crash_at = e.opt.crash_after_tokens;
  if (crash_at && *crash_at == 0) crash_now();
  const auto w = start_watch(c);
  bool finished = false;
  for (std::int64_t i = 0; i < g.n && !w->gone; ++i) {
    if (e.opt.token_ms > 0) {
      w->tick.expires_after(std::chrono::milliseconds(e.opt.token_ms));
      co_await w->tick.async_wait(net::redirect_error(net::use_awaitable, ec));
      if (w->gone) break;
    }
    c.out.clear();
    append_token_event(c.out, g, envelope, i);
    co_await net::async_write(c.sock, net::buffer(c.out), net::redirect_error(net::use_awaitable, ec));
    if (ec) w->gone = true;
    else if (crash_at && *crash_at == i + 1) crash_now();
  }
  if (!w->gone) {
    c.out.clear();
    const bool gap = e.opt.done_gap_ms > 0;
    append_stream_end(c.out, g, envelope, !gap);
    co_await net::async_write(c.sock, net::buffer(c.out), net::redirect_error(net::use_awaitable, ec));
    if (!ec && gap) {  // as llama-server may: [DONE] first, the end of the chunked body a moment later
      w->tick.expires_after(std::chrono::milliseconds(e.opt.done_gap_ms));
      co_await w->tick.async_wait(net::redirect_error(net::use_awaitable, ec));
      ec = {};
      if (!w->gone) co_await net::async_write(c.sock, net::buffer("0\r\n\r\n", 5), net::redirect_error(net::use_awaitable, ec));
    }
    if (ec || w->gone) w->gone = true;
    else finished = true;
  }
  co_await stop_watch(c, w);
  if (!finished) ++e.cancelled;
  co_return keep_alive && !w->gone;
}

// Non-streaming: the whole generation time (tokens × token-ms) is one timer, watched for a client that leaves.
net::awaitable<bool> complete_reply(Engine& e, Conn& c, const Gen& g, bool keep_alive) {
  co_await prefill(g);
  const auto crash_at = e.opt.crash_after_tokens;
  const bool crash = crash_at && *crash_at <= g.n;
  const std::int64_t paced = crash ? *crash_at : g.n;
  if (e.opt.token_ms > 0 && paced > 0) {
    const auto w = start_watch(c);
    w->tick.expires_after(std::chrono::milliseconds(paced * e.opt.token_ms));
    beast::error_code ec;
    co_await w->tick.async_wait(net::redirect_error(net::use_awaitable, ec));
    co_await stop_watch(c, w);
    if (w->gone) { ++e.cancelled; co_return false; }
  }
  if (crash) crash_now();
  build_completion_body(e, g, c.body);
  const bool keep = co_await send(e, c, 200, keep_alive, "application/json", true);
  co_return keep;
}

// ---------------------------------------------------------------------------------------------- routing

net::awaitable<void> wait_loaded(Engine& e) {
  while (!e.loaded) {
    beast::error_code ec;
    co_await e.load_gate.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

net::awaitable<bool> serve_inference(Engine& e, Conn& c, Request& req, Kind kind, bool keep_alive) {
  ++e.total;
  ++e.requests;
  ActiveCount active(e);
  const bool skim = e.opt.skim && kind != Kind::embed;
  const auto j = skim ? nlohmann::json() : nlohmann::json::parse(req.body(), nullptr, false);
  Gen g;
  g.kind = kind;
  g.model = e.opt.model;
  const std::string error = skim              ? skim_gen(req.body(), e.opt, g)
                            : j.is_discarded() ? "malformed JSON in request body"
                                               : read_gen(j, e.opt, g);
  log_request(e, req, g.model, g.stream);
  if (error.empty() && !skim && e.opt.slots > 0 && kind != Kind::embed) {
    const fake::PrefixCache::Hit hit = e.cache.process(j);
    g.prompt_tokens = std::max<std::int64_t>(hit.prompt, 1);
    if (g.cached_tokens < 0) g.cached_tokens = hit.cached;  // --cached-tokens wins
    g.timings = true;
    g.prefill_us = (g.prompt_tokens - hit.cached) * e.opt.prefill_us;
  }
  e.last_body = std::move(req.body());
  e.last_headers = nlohmann::json::object();
  for (const auto& f : req) e.last_headers[std::string(f.name_string())] = std::string(f.value());
  if (!e.loaded && e.opt.readiness == Readiness::http503) {
    const bool keep = co_await send_loading(e, c, keep_alive);
    co_return keep;
  }
  co_await wait_loaded(e);
  bool keep = false;
  if (!error.empty()) {
    keep = co_await send_error(e, c, 400, "invalid_request_error", error, keep_alive);
  } else if (e.opt.name_check && g.model_given && g.model != *e.opt.name_check) {
    const std::string message = "model '" + g.model + "' not found";
    keep = co_await send_error(e, c, 404, "not_found_error", message, keep_alive);
  } else if (kind == Kind::embed) {
    build_embedding_body(j, g, c.body);
    keep = co_await send(e, c, 200, keep_alive, "application/json", true);
  } else if (g.stream) {
    keep = co_await stream_reply(e, c, g, keep_alive);
  } else {
    keep = co_await complete_reply(e, c, g, keep_alive);
  }
  co_return keep;
}

net::awaitable<bool> serve_debug(Engine& e, Conn& c, std::string_view path, bool keep_alive) {
  if (path == "/debug/stats") {
    const nlohmann::json stats = {{"requests", e.requests}, {"active", e.active},   {"pid", e.pid},
                                  {"cancelled", e.cancelled}, {"health", e.health}, {"total", e.total},
                                  {"loaded", e.loaded}};
    c.body = stats.dump();
  } else if (path == "/debug/last-request" && e.last_body) {
    c.body = *e.last_body;
  } else if (path == "/debug/last-headers" && e.last_body) {
    c.body = e.last_headers.dump();
  } else {
    const bool keep = co_await send_error(e, c, 404, "not_found_error", "no POST request received yet", keep_alive);
    co_return keep;
  }
  const bool keep = co_await send(e, c, 200, keep_alive);
  co_return keep;
}

// llama.cpp's own routes, OpenAI's multipart and media routes, and anything under /echo/ (for /upstream/).
bool echoed(std::string_view path) {
  for (std::string_view p : {"/completion", "/infill", "/tokenize", "/detokenize", "/props", "/audio/transcriptions",
                             "/audio/translations", "/audio/speech", "/images/edits", "/images/variations",
                             "/images/generations"}) {
    if (path == p) return true;
  }
  return path.starts_with("/echo");
}

net::awaitable<bool> serve(Engine& e, Conn& c, Request& req) {
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  const bool keep_alive = req.keep_alive();
  const bool get = req.method() == http::verb::get, post = req.method() == http::verb::post;
  bool keep = false;
  if (post && (path == "/chat/completions" || path == "/completions" || path == "/embeddings")) {
    const Kind kind = path == "/chat/completions" ? Kind::chat : path == "/completions" ? Kind::text : Kind::embed;
    keep = co_await serve_inference(e, c, req, kind, keep_alive);
    co_return keep;
  }
  log_request(e, req, e.opt.model, false);
  if (get && path.starts_with("/debug/")) {
    keep = co_await serve_debug(e, c, path, keep_alive);
    co_return keep;
  }
  ++e.total;
  if (get && path == "/health") ++e.health;
  if (!e.loaded && e.opt.readiness == Readiness::http503) {
    keep = co_await send_loading(e, c, keep_alive);
  } else if (get && path == "/health") {
    c.body = R"({"status":"ok"})";
    keep = co_await send(e, c, 200, keep_alive);
  } else if (get && path == "/models") {
    c.body = R"({"object":"list","data":[{"id":)";
    append_json_string(c.body, e.opt.model);
    c.body += R"(,"object":"model","owned_by":"fake"}]})";
    keep = co_await send(e, c, 200, keep_alive);
  } else if (echoed(path)) {  // routes llmux relays without reading them: what arrived, as JSON
    nlohmann::json echo = {{"engine", e.opt.model},
                           {"method", std::string(req.method_string())},
                           {"target", std::string(req.target())},
                           {"content_type", std::string(req[http::field::content_type])},
                           {"length", req.body().size()},
                           {"fnv1a64", llmux::test::fnv1a64_hex(req.body())}};
    if (req.body().size() <= kEchoBody) echo["body"] = req.body();  // a large body: its length and digest only
    c.body = echo.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    keep = co_await send(e, c, 200, keep_alive);
  } else {
    const std::string message = "unknown endpoint: " + std::string(req.method_string()) + " " + std::string(path);
    keep = co_await send_error(e, c, 404, "not_found_error", message, keep_alive);
  }
  co_return keep;
}

// An HTTP status for a request that could not be read; 0 when the client simply went away.
int read_failure_status(const beast::error_code& ec) {
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  return ec.category() == http::make_error_code(http::error::bad_target).category() ? 400 : 0;
}

net::awaitable<void> session(Engine& e, tcp::socket sock) {
  Conn c(std::move(sock));
  beast::error_code ec;
  c.sock.set_option(tcp::no_delay(true), ec);  // tokens are small writes: never wait for an ACK
  std::int64_t served = 0;
  for (bool keep = true; keep;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(1 << 20);
    parser.body_limit(kMaxBody);
    co_await http::async_read_header(c.sock, c.buf, parser, net::redirect_error(net::use_awaitable, ec));
    if (!ec && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        c.out = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await net::async_write(c.sock, net::buffer(c.out), net::redirect_error(net::use_awaitable, ec));
      }
      if (!ec) co_await http::async_read(c.sock, c.buf, parser, net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) {
      const int status = read_failure_status(ec);
      if (status != 0) co_await send_error(e, c, status, "invalid_request_error", ec.message(), false);
      break;
    }
    const bool inference = parser.get().method() == http::verb::post;
    keep = co_await serve(e, c, parser.get());
    if (inference && e.opt.close_after > 0 && ++served >= e.opt.close_after) break;
  }
  c.sock.shutdown(tcp::socket::shutdown_send, ec);
  c.sock.close(ec);
}

// ---------------------------------------------------------------------------------------------- lifecycle

net::awaitable<void> accept_loop(Engine& e) {
  for (;;) {
    beast::error_code ec;
    tcp::socket sock = co_await e.acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted) co_return;
    if (ec) {  // e.g. EMFILE: back off instead of spinning
      log_line("accept: " + ec.message());
      net::steady_timer pause(e.io, 50ms);
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    net::co_spawn(e.io, session(e, std::move(sock)), report_exception);
  }
}

void start_listening(Engine& e) {
  const std::string where = e.opt.host + ":" + std::to_string(*e.opt.port);
  beast::error_code ec;
  auto address = net::ip::make_address(e.opt.host, ec);
  if (ec) {  // a host name such as "localhost"
    tcp::resolver resolver(e.io);
    const auto results = resolver.resolve(e.opt.host, "", ec);
    if (!ec && !results.empty()) address = results.begin()->endpoint().address();
  }
  const tcp::endpoint endpoint(address, *e.opt.port);
  if (!ec) e.acceptor.open(endpoint.protocol(), ec);
  if (!ec) e.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) e.acceptor.bind(endpoint, ec);
  if (!ec) e.acceptor.listen(tcp::acceptor::max_listen_connections, ec);
  if (ec) {
    log_line("error: bind " + where + ": " + ec.message());
    ::_exit(1);
  }
  const auto port = e.acceptor.local_endpoint(ec).port();  // differs from --port only for --port 0
  log_line("listening on " + e.opt.host + ":" + std::to_string(port));
  net::co_spawn(e.io, accept_loop(e), report_exception);
}

// Dirty every page of an anonymous mapping so the resident set really grows; never unmapped.
void occupy_memory(std::int64_t mb) {
  if (mb <= 0) return;
  const std::size_t bytes = static_cast<std::size_t>(mb) << 20;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    log_line("error: cannot allocate " + std::to_string(mb) + " MiB");
    ::_exit(1);
  }
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  volatile unsigned char* bytes_p = static_cast<unsigned char*>(p);
  for (std::size_t off = 0; off < bytes; off += page) bytes_p[off] = 1;
}

net::awaitable<void> load_model(Engine& e) {
  if (e.opt.readiness != Readiness::refuse) start_listening(e);
  if (e.opt.load_delay_ms > 0) {
    net::steady_timer t(e.io, std::chrono::milliseconds(e.opt.load_delay_ms));
    co_await t.async_wait(net::use_awaitable);
  }
  occupy_memory(e.opt.memory_mb);
  if (e.opt.grow_mb > 0) {  // memory that grows while no request runs (a cache filling, a leak)
    auto grow = std::make_shared<net::steady_timer>(e.io, std::chrono::milliseconds(e.opt.grow_after_ms));
    grow->async_wait([grow, mb = e.opt.grow_mb](const beast::error_code& ec) {
      if (!ec) occupy_memory(mb);
    });
  }
  if (e.opt.readiness == Readiness::refuse) start_listening(e);
  e.loaded = true;
  log_line("model loaded");
  e.load_gate.cancel();
}

void watch_signals(net::signal_set& signals, Engine& e) {
  signals.async_wait([&signals, &e](const beast::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGTERM && e.opt.ignore_sigterm) {
      log_line("ignoring SIGTERM");
      return watch_signals(signals, e);
    }
    log_line(sig == SIGTERM ? "SIGTERM, exiting" : "SIGINT, exiting");
    beast::error_code ignored;
    e.acceptor.close(ignored);
    ::_exit(0);  // promptly, even with streams in flight
  });
}

// Simulates "the port was taken between llmux's pick and the engine's bind": the first run (no marker file yet)
// leaves a process in its own session holding the port for 3 s, then fails to bind like a real engine would.
void squat_port(const Options& opt) {
  if (!opt.squat_port_once || ::access(opt.squat_port_once->c_str(), F_OK) == 0) return;
  if (FILE* f = std::fopen(opt.squat_port_once->c_str(), "w")) std::fclose(f);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(*opt.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1) != 0) return;
  int ready[2];
  if (::pipe(ready) != 0) return;
  if (::fork() == 0) {  // escapes the engine's process group, so llmux's group sweep does not free the port
    ::setsid();
    [[maybe_unused]] auto n = ::write(ready[1], "x", 1);
    ::sleep(3);
    ::_exit(0);
  }
  char c;
  [[maybe_unused]] auto n = ::read(ready[0], &c, 1);  // exit only once the squatter is out of our group
  log_line("error: bind " + opt.host + ":" + std::to_string(*opt.port) + ": Address already in use");
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options opt = parse_options(argc, argv);
  log_line("loading model " + opt.model + " (pid " + std::to_string(::getpid()) + ")");
  if (opt.exit_at_start) {
    log_line("error: failed to load model '" + opt.model + "': simulated failure");
    return *opt.exit_at_start;
  }
  squat_port(opt);
  net::io_context io(1);
  Engine engine(io, std::move(opt));
  net::signal_set signals(io, SIGTERM, SIGINT);
  watch_signals(signals, engine);
  net::co_spawn(io, load_model(engine), report_exception);
  io.run();
  return 0;
}
