// Activity: the recent past the dashboard (/ui) draws, kept in two bounded rings: finished requests (model,
// status, time to first token, tok/s) and daemon events (loads, failed loads, evictions with their reason: swap,
// ttl, pressure, ceiling, manual, reload, shutdown). Pure and single-threaded (the io_context's thread); fed by
// Metrics, which already sees every one of these. json() renders GET /activity. Never throws but for bad_alloc.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace llmux {

// "2026-12-05T03:20:00.123Z" (UTC, milliseconds): the one time format of llmux's JSON answers.
std::string iso8601(std::chrono::system_clock::time_point t);

// Tokens per second of generation, as the PERF line tells it: streamed, the tokens over the time after the first
// one; not streamed (the answer arrives whole), over the engine's time (`total` minus queue and load waits).
// nullopt without a completion count, a first byte, or a measurable span.
std::optional<double> generation_rate(std::optional<int64_t> completion, std::optional<double> ttft, double total,
                                      bool streamed, double waited);

class Activity {
 public:
  using Clock = std::chrono::system_clock;
  static constexpr size_t kRequests = 50, kEvents = 100;

  struct Request {
    Clock::time_point at;
    std::string model;  // "" when the request named no known model
    int status = 0;
    double seconds = 0;
    std::optional<double> ttft;
    std::optional<int64_t> completion;  // tokens
    std::optional<double> rate;         // tok/s
  };
  struct Event {
    Clock::time_point at;
    std::string kind;   // load, load_failed, evict
    std::string model;
    std::string reason;  // evict: swap, ttl, pressure, ceiling, manual, reload, shutdown
    double seconds = 0;  // load: how long it took
  };

  void request(Request r);
  void event(Event e);
  // {"now", "requests":[{"at","model","status","seconds","ttft","completionTokens","tokensPerSecond"}],
  //  "events":[{"at","kind","model","reason","seconds"}]}, oldest first.
  std::string json() const;
  const std::deque<Request>& requests() const { return requests_; }
  const std::deque<Event>& events() const { return events_; }

 private:
  std::deque<Request> requests_;
  std::deque<Event> events_;
};

}  // namespace llmux
