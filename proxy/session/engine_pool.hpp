// EnginePool: idle keep-alive connections to resident engines, one pool per worker generation (a spawn), 64
// connections at most in each. Several workers may be resident at once (co-residency): their pools live side by
// side; the pools of at most 8 generations are kept, the least recently used going first (an engine that stopped
// leaves its pool behind until then; its connections are closed by the engine and fail over like any stale one).
// A pooled connection comes with its (empty) read buffer, whose capacity is reused: no allocation per request.
// io_context thread only; never throws.
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
    Pool* p = find(generation);
    if (p == nullptr || p->idle.empty()) return std::nullopt;
    p->used = ++clock_;
    std::optional<EngineSocket> s(std::move(p->idle.back().socket));
    buffer = std::move(p->idle.back().buffer);
    p->idle.pop_back();
    return s;
  }
  void give(uint64_t generation, EngineSocket s, beast::flat_buffer buffer) {  // kept when it fits
    Pool* p = find(generation);
    if (p == nullptr) p = add(generation);
    p->used = ++clock_;
    if (p->idle.size() >= kMaxPooled) return;
    p->idle.push_back(Idle{std::move(s), std::move(buffer)});
  }
  size_t idle() const {
    size_t n = 0;
    for (const auto& p : pools_) n += p.idle.size();
    return n;
  }

 private:
  static constexpr size_t kMaxPooled = 64;
  static constexpr size_t kMaxPools = 8;
  struct Idle {
    EngineSocket socket;
    beast::flat_buffer buffer;
  };
  struct Pool {
    uint64_t generation = 0;
    uint64_t used = 0;  // when last taken from or given to (the pool's LRU key)
    std::vector<Idle> idle;
  };
  Pool* find(uint64_t generation) {
    for (auto& p : pools_)
      if (p.generation == generation) return &p;
    return nullptr;
  }
  Pool* add(uint64_t generation) {
    if (pools_.size() >= kMaxPools) {
      auto lru = pools_.begin();
      for (auto it = pools_.begin(); it != pools_.end(); ++it)
        if (it->used < lru->used) lru = it;
      pools_.erase(lru);
    }
    pools_.push_back(Pool{generation, 0, {}});
    return &pools_.back();
  }
  net::io_context::executor_type executor_;
  uint64_t clock_ = 0;
  std::vector<Pool> pools_;
};

}  // namespace llmux
