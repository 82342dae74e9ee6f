// The fake engine's state and the replies written on one client connection: Engine (options, acceptor, the load
// gate, the counters /debug/stats reports), Conn, and the coroutines that answer (reply.cpp) and serve
// (serve.cpp). One thread, one io_context: nothing is locked. An I/O error ends only its own connection (a reply
// returns false: do not keep the connection); exceptions reach report_exception() through co_spawn.
#pragma once

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "tests/fake_engine/answers.hpp"
#include "tests/fake_engine/options.hpp"
#include "tests/fake_engine/prefix_cache.hpp"

namespace fake {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

struct Engine {
  Engine(net::io_context& io, Options o)
      : opt(std::move(o)), io(io), acceptor(io), load_gate(io, std::chrono::steady_clock::time_point::max()) {
    pid = ::getpid();
    extra_headers = "X-Fake-Pid: " + std::to_string(pid) + "\r\nX-Fake-Model: " + opt.model + "\r\n";
    if (opt.pad_header > 0) extra_headers += "X-Fake-Pad: " + std::string(static_cast<size_t>(opt.pad_header), 'p') + "\r\n";
  }
  Options opt;
  PrefixCache cache{static_cast<std::size_t>(opt.slots)};  // used with --slots
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

// One client connection. `body` and `out` are reused from request to request: no allocation once warm.
struct Conn {
  explicit Conn(tcp::socket s) : sock(std::move(s)) {}
  tcp::socket sock;
  beast::flat_buffer buf;
  std::string body;
  std::string out;
};

// Logs the exception a co_spawned coroutine ended with (the handler every co_spawn passes).
void report_exception(std::exception_ptr p);

// reply.cpp. Sends `c.body` with its header in one gathered write. Returns whether the connection stays open.
// `inference`: a completion or embedding answer, where --interim and --close-delimited apply.
net::awaitable<bool> send(const Engine& e, Conn& c, int status, bool keep_alive,
                          std::string_view content_type = "application/json", bool inference = false);
net::awaitable<bool> send_error(const Engine& e, Conn& c, int status, std::string_view type,
                                std::string_view message, bool keep_alive);
// 503 "Loading model", as llama-server answers while it loads.
net::awaitable<bool> send_loading(const Engine& e, Conn& c, bool keep_alive);
// A streamed answer: one chunked SSE event per token, paced by --token-ms; --crash-after-tokens exits mid-stream.
net::awaitable<bool> stream_reply(Engine& e, Conn& c, const Gen& g, bool keep_alive);
// Non-streaming: the whole generation time (tokens × token-ms) is one timer, watched for a client that leaves.
net::awaitable<bool> complete_reply(Engine& e, Conn& c, const Gen& g, bool keep_alive);

// serve.cpp. Binds --host:--port and accepts connections, one session each; a bind failure exits 1.
void start_listening(Engine& e);

}  // namespace fake
