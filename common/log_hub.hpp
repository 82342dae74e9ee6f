// LogHub: the recent history of llmux's own log lines and its engines' output, for GET /logs, /logs/stream and
// `llmux logs`. A bounded ring (lines and bytes) plus live subscribers, each with its own bounded queue (a slow
// reader loses lines, counted, never memory). append() may be called from any thread; a subscriber's `wake` is
// called after lines were queued for it and must itself be thread-safe (the daemon posts to its io_context).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/sinks/base_sink.h>

namespace llmux {

struct LogLine {
  uint64_t seq = 0;
  std::chrono::system_clock::time_point time;
  std::string source;  // "llmux" or "engine"
  std::string model;   // the model the line is about ("" = none): the "[model] " prefix of the message
  std::string level;   // "info", "warning", ...
  std::string text;    // the message without the model prefix
};

struct LogFilter {
  std::string source;  // "" = any
  std::string model;   // "" = any
  bool matches(const LogLine& l) const {
    return (source.empty() || l.source == source) && (model.empty() || l.model == model);
  }
};

class LogHub {
 public:
  explicit LogHub(size_t max_lines = 2000, size_t max_bytes = 1 << 20);

  void append(std::string_view source, std::string_view level, std::string_view message,
              std::chrono::system_clock::time_point time = std::chrono::system_clock::now());
  // The newest `limit` lines matching `f`, oldest first.
  std::vector<LogLine> recent(const LogFilter& f, size_t limit) const;

  using SubscriberId = uint64_t;
  SubscriberId subscribe(LogFilter f, std::function<void()> wake, size_t max_queued = 2000);
  void unsubscribe(SubscriberId id);
  // Moves the lines queued for `id` into `out`; returns how many were dropped since the last take.
  uint64_t take(SubscriberId id, std::vector<LogLine>& out);

  // Splits "[model] text" (also "[model cmdStop] text") into model and text.
  static void split_model(std::string_view message, std::string& model, std::string& text);

 private:
  struct Subscriber {
    LogFilter filter;
    std::function<void()> wake;
    size_t max_queued;
    std::deque<LogLine> queue;
    uint64_t dropped = 0;
  };
  mutable std::mutex mu_;
  size_t max_lines_, max_bytes_, bytes_ = 0;
  uint64_t next_seq_ = 1;
  std::deque<LogLine> ring_;
  SubscriberId next_sub_ = 1;
  std::map<SubscriberId, Subscriber> subs_;
};

// An spdlog sink feeding a LogHub under one source name ("llmux" for the daemon's logger, "engine" for the
// logger that carries engine output).
class LogHubSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  LogHubSink(std::shared_ptr<LogHub> hub, std::string source) : hub_(std::move(hub)), source_(std::move(source)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  std::shared_ptr<LogHub> hub_;
  std::string source_;
};

}  // namespace llmux
