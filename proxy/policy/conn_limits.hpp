// Pure decisions for the client connection cap and accept errors (no I/O; the Listener acts on them):
// - connections_for_descriptors(): how many client connections a descriptor limit leaves room for;
// - ConnectionTable: the open connections, idle ones in the order they became idle, and which one to close at
//   the cap (the longest idle; never a busy one);
// - CapEpisode: one log line when the cap is reached and one when it has eased, instead of one per connection;
// - AcceptBackoff: the delay before retrying a failed accept, and which failures to log.
// Nothing here throws (std::list may throw bad_alloc).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>

namespace llmux {

// Descriptors kept for everything but client connections: the listener, the event loop's own (epoll, timers,
// signal pipe), engine output pipes, readiness probes, the config watch, /proc and file reads.
inline constexpr uint64_t kFdReserve = 64;

// Client connections the descriptor limit `fd_limit` leaves room for: after the reserve, two descriptors each (a
// client connection may hold an engine connection, relayed or pooled). At least 1.
size_t connections_for_descriptors(uint64_t fd_limit);

// Open client connections. A connection is busy (reading or answering a request, streaming) or idle (waiting for
// the first byte of its next request: a fresh connection or a keep-alive one between requests). Idle connections
// are kept in the order they became idle, so the longest idle is at hand. A connection taken to be closed stays
// listed (closing) until its session ends, but no longer counts as open: its descriptor is already closed.
template <class Conn>
class ConnectionTable {
  enum class State { busy, idle, closing };
  struct Entry {
    Conn conn{};
    State state = State::busy;
  };
  using List = std::list<Entry>;

 public:
  using Handle = typename List::iterator;

  Handle add() {  // a new connection, busy until its session says otherwise
    busy_.emplace_back();
    return std::prev(busy_.end());
  }
  void bind(Handle h, Conn c) { h->conn = c; }
  void idle(Handle h) {  // now the newest idle connection
    if (h->state == State::closing) return;
    idle_.splice(idle_.end(), list_of(h->state), h);
    h->state = State::idle;
  }
  void busy(Handle h) {
    if (h->state != State::idle) return;
    busy_.splice(busy_.end(), idle_, h);
    h->state = State::busy;
  }
  void remove(Handle h) { list_of(h->state).erase(h); }

  size_t open() const { return busy_.size() + idle_.size(); }
  size_t idle_count() const { return idle_.size(); }
  size_t listed() const { return open() + closing_.size(); }  // sessions still running
  // Accept one more: below the cap, or an idle connection can make room for it.
  bool may_accept(size_t cap) const { return open() < cap || !idle_.empty(); }

  // The longest-idle connection, now closing (the caller closes it); nullopt when none is idle.
  std::optional<Conn> take_longest_idle() {
    if (idle_.empty()) return std::nullopt;
    Handle h = idle_.begin();
    closing_.splice(closing_.end(), idle_, h);
    h->state = State::closing;
    return h->conn;
  }
  // Over the cap: the connection to close to come back to it (the longest idle); nullopt when at or under the
  // cap, or when none is idle (then busy connections finish first; nothing is cut).
  std::optional<Conn> over_cap(size_t cap) {
    if (open() <= cap) return std::nullopt;
    return take_longest_idle();
  }

  template <class F>
  void for_each_open(F f) const {
    for (const auto& e : busy_) f(e.conn);
    for (const auto& e : idle_) f(e.conn);
  }

 private:
  List busy_, idle_, closing_;
  List& list_of(State s) { return s == State::busy ? busy_ : s == State::idle ? idle_ : closing_; }
};

// A stretch of time at the connection cap, for the log: reached() says when it begins (log one line), eased()
// when the open connections are back under three quarters of the cap (log one line with what it cost). Between
// the two, a cap that is reached again and again logs nothing more.
class CapEpisode {
 public:
  struct Summary {
    uint64_t closed_idle = 0;  // idle connections closed to make room
    uint64_t pauses = 0;       // times accepting paused with none idle
    std::chrono::steady_clock::duration lasted{};
  };
  bool reached(size_t open, size_t cap, std::chrono::steady_clock::time_point now);
  void closed_idle() { ++closed_idle_; }
  void paused() { ++pauses_; }
  std::optional<Summary> eased(size_t open, size_t cap, std::chrono::steady_clock::time_point now);
  bool active() const { return active_; }

 private:
  bool active_ = false;
  uint64_t closed_idle_ = 0, pauses_ = 0;
  std::chrono::steady_clock::time_point since_{};
};

// Failed accepts (descriptors or memory exhausted, mostly) are retried after a growing delay: 5 ms, doubling up to
// 1 s, back to 5 ms after the next success. An immediate retry would spin: the listening socket stays readable.
// A burst of failures is logged twice: its first error, and its count once kQuiet has passed without one. At the
// descriptor limit, accepts alternate between failing and succeeding (Linux takes the descriptor before it looks
// for a connection): a success does not end the burst, only quiet does.
class AcceptBackoff {
 public:
  using Duration = std::chrono::milliseconds;
  static constexpr Duration kFirst{5};
  static constexpr Duration kMax{1000};
  static constexpr Duration kQuiet{5000};        // a burst ends after this long without an error
  static constexpr uint64_t kRemindEvery = 300;  // a burst still going logs again every 300 errors (~5 min at 1 s)

  struct Failure {
    Duration delay;   // wait this long before the next accept
    bool log;         // the first error of a burst, or a reminder: log it
    uint64_t errors;  // errors in this burst so far
  };
  Failure failed();
  void succeeded() { next_ = kFirst; }  // the delay starts over; the burst goes on until kQuiet without an error
  // kQuiet after the last error: the burst is over; the number of errors it had (0: none).
  uint64_t ended();
  uint64_t errors() const { return errors_; }

 private:
  Duration next_ = kFirst;
  uint64_t errors_ = 0;
};

}  // namespace llmux
