// RedactingSink: an spdlog sink that removes secrets from each message's text before handing it to the sinks it
// wraps (the console, the LogHub behind /logs). Every line llmux logs passes through it, engine output included.
// With nothing to redact, or nothing found, the message goes on untouched. Thread-safe as the wrapped sinks are;
// the Secrets it reads may grow at any time (a hot reload).
#pragma once

#include <spdlog/sinks/sink.h>

#include <memory>
#include <vector>

#include "common/redact.hpp"

namespace llmux {

class RedactingSink final : public spdlog::sinks::sink {
 public:
  RedactingSink(std::shared_ptr<const Secrets> secrets, std::vector<spdlog::sink_ptr> sinks)
      : secrets_(std::move(secrets)), sinks_(std::move(sinks)) {}

  void log(const spdlog::details::log_msg& msg) override;
  void flush() override;
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

 private:
  std::shared_ptr<const Secrets> secrets_;
  std::vector<spdlog::sink_ptr> sinks_;
};

}  // namespace llmux
