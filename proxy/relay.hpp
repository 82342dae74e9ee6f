// Relay: sends one client request to the leased engine and streams the response back chunk by chunk, never
// holding a body in memory. Engine connections are kept alive in an EnginePool (valid only for one worker
// generation; a stale pooled connection is retried once on a fresh one if no response byte came back).
// ClientWatch reads the client socket while llmux waits or streams, so a client that goes away is noticed at once
// (queued request abandoned, engine connection closed so the engine stops generating).
// Include only from Beast translation units (server.cpp, relay.cpp). Nothing here throws for I/O failures.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/http.hpp"
#include "proxy/coordinator.hpp"
#include "proxy/usage_scan.hpp"

namespace llmux {

class EnginePool {
 public:
  // A pooled connection comes with its (empty) read buffer, whose capacity is reused: no allocation per request.
  std::unique_ptr<beast::tcp_stream> take(uint64_t generation, beast::flat_buffer& buffer);
  void give(uint64_t generation, std::unique_ptr<beast::tcp_stream> s, beast::flat_buffer buffer);
  size_t idle() const { return idle_.size(); }
  // The body pump's buffers, recycled likewise.
  using ChunkBuffer = std::array<char, 16 * 1024>;
  std::unique_ptr<ChunkBuffer> take_chunk();
  void give_chunk(std::unique_ptr<ChunkBuffer> c);

 private:
  struct Idle {
    std::unique_ptr<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
  };
  uint64_t generation_ = 0;
  std::vector<Idle> idle_;
  std::vector<std::unique_ptr<ChunkBuffer>> chunks_;
};

class ClientWatch : public std::enable_shared_from_this<ClientWatch> {
 public:
  explicit ClientWatch(tcp::socket& client);
  void start();                      // begin watching (one pending read on the raw socket)
  // Start watching only if the request is still running after `delay` (disarm() ends it): a quick request then
  // costs no read, cancel or wake-up. One timer per connection, re-armed lazily, never cancelled per request.
  void arm_after(Duration delay);
  void disarm() { armed_ = false; }
  net::awaitable<void> stop();       // cancel the read and wait for its handler
  bool pending() const { return pending_; }
  bool gone() const { return gone_; }
  std::string take_extra() { return std::exchange(extra_, {}); }  // bytes of a pipelined next request
  std::function<void()> on_gone;     // called once, on the io_context, when the client disconnects

 private:
  tcp::socket& client_;
  net::steady_timer done_;
  std::array<char, 4096> scratch_{};  // holds a typical next request whole
  std::string extra_;
  bool pending_ = false;
  bool gone_ = false;
  net::steady_timer arm_timer_;
  net::steady_timer::time_point arm_due_{};
  bool armed_ = false, arm_waiting_ = false;
  void wait_arm();
};

struct RelayResult {
  RelayResult(int s = 0, bool keep = false) : status(s), keep_alive(keep) {}
  int status = 0;             // engine status relayed (0 = none), or the error status llmux sent
  bool keep_alive = false;    // the client connection can serve another request
  std::optional<std::chrono::steady_clock::time_point> first_byte;  // first engine body byte
  TokenUsage usage;           // what the engine reported (or SSE events counted)
};

class SseWriter;

struct RelayJob {
  const http::request<http::string_body>& request;  // client's request line and headers (body already moved out)
  std::string body;                       // body to send (model rewritten)
  const Lease& lease;
  const Timeouts& timeouts;
  std::string clamp_note;                 // non-empty: sent as X-Llmux-Max-Tokens-Clamped
  SseWriter* committed = nullptr;         // set: a 200 event stream already went out (loading feedback); the
                                          // engine's events continue it, an engine error becomes an error event
};

net::awaitable<RelayResult> relay(beast::tcp_stream& client, RelayJob job, EnginePool& pool, ClientWatch& watch);

}  // namespace llmux
