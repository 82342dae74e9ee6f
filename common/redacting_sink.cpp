#include "common/redacting_sink.hpp"

#include <string>

namespace llmux {

void RedactingSink::log(const spdlog::details::log_msg& msg) {
  const std::shared_ptr<const Redactor> redactor = secrets_->redactor();
  std::string text;
  spdlog::details::log_msg out = msg;
  if (!redactor->empty()) {
    text.assign(msg.payload.data(), msg.payload.size());
    if (redactor->redact(text)) out.payload = spdlog::string_view_t(text.data(), text.size());
  }
  for (const auto& s : sinks_) {
    if (s->should_log(out.level)) s->log(out);
  }
}

void RedactingSink::flush() {
  for (const auto& s : sinks_) s->flush();
}

void RedactingSink::set_pattern(const std::string& pattern) {
  for (const auto& s : sinks_) s->set_pattern(pattern);
}

void RedactingSink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
  for (const auto& s : sinks_) s->set_formatter(formatter->clone());
}

}  // namespace llmux
