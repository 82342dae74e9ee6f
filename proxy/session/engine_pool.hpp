// EnginePool: idle keep-alive connections to the resident engine, valid only for one worker generation (a new
// spawn empties it), 64 at most. A pooled connection comes with its (empty) read buffer, whose capacity is reused: no
// allocation per request. io_context thread only; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/http.hpp"

namespace llmux {

// Engine connections are bound to the io_context's own executor type: their operations skip the type-erased
// executor's work tracking (they are the relay's hottest I/O).
using EngineSocket = net::basic_stream_socket<tcp, net::io_context::executor_type>;

class EnginePool {
 public:
  explicit EnginePool(net::io_context& io) : executor_(io.get_executor()) {}
  const net::io_context::executor_type& executor() const { return executor_; }
  std::optional<EngineSocket> take(uint64_t generation, beast::flat_buffer& buffer) {
    if (generation != generation_) {
      idle_.clear();
      generation_ = generation;
    }
    if (idle_.empty()) return std::nullopt;
    std::optional<EngineSocket> s(std::move(idle_.back().socket));
    buffer = std::move(idle_.back().buffer);
    idle_.pop_back();
    return s;
  }
  void give(uint64_t generation, EngineSocket s, beast::flat_buffer buffer) {  // kept when it fits
    if (generation != generation_ || idle_.size() >= kMaxPooled) return;
    idle_.push_back(Idle{std::move(s), std::move(buffer)});
  }
  size_t idle() const { return idle_.size(); }

 private:
  static constexpr size_t kMaxPooled = 64;
  net::io_context::executor_type executor_;
  struct Idle {
    EngineSocket socket;
    beast::flat_buffer buffer;
  };
  uint64_t generation_ = 0;
  std::vector<Idle> idle_;
};

}  // namespace llmux
