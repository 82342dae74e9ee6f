// LogCapture: llmux's log lines (spdlog's default logger, message only) for the lifetime of the object, so that a
// component test can assert what was logged and in which order. Not thread-safe beyond what spdlog's _mt sink is.
#pragma once

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>

namespace llmux {

struct LogCapture {
  LogCapture() : previous(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    sink->set_pattern("%v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() const { return out.str(); }
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> previous;
};

}  // namespace llmux
