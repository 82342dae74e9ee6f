// Redaction of secrets (API keys, values substituted from ${env.*}) from everything llmux prints: log lines,
// /logs, /config, /status, error bodies. Redactor is an immutable value (pure, any thread); Secrets is the set in
// force, shared by the log sinks (any thread, mutex inside) and the daemon. Nothing here throws but bad_alloc.
// Values shorter than Redactor::kMinLength are not redacted: replacing "1" or "on" everywhere would wreck the logs
// and hide nothing worth hiding.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

class Redactor {
 public:
  static constexpr size_t kMinLength = 4;
  static constexpr std::string_view kMark = "[redacted]";

  Redactor() = default;
  // Values shorter than kMinLength and repeats are dropped.
  explicit Redactor(const std::vector<std::string>& secrets);

  bool empty() const { return secrets_.empty(); }
  size_t size() const { return secrets_.size(); }
  // Replaces every occurrence of every secret in `text` with kMark (overlapping or adjacent occurrences become one
  // mark); true when anything was replaced. Costs one search per secret when nothing matches, nothing when empty.
  bool redact(std::string& text) const;
  std::string redacted(std::string_view text) const;
  // Every string value inside `j` (object keys are left alone: they are llmux's own field names).
  void redact_strings(nlohmann::json& j) const;

 private:
  std::vector<std::string> secrets_;
};

// The secrets in force. It only grows (up to kMaxValues, the oldest forgotten first): after a reload, an engine
// started under the previous config may still print that config's secrets until it stops.
class Secrets {
 public:
  static constexpr size_t kMaxValues = 256;

  // Adds `values` (a config's Config::secrets); returns true when one was new and the redactor was rebuilt.
  bool add(const std::vector<std::string>& values);
  // A snapshot; never null (empty when there is nothing to redact).
  std::shared_ptr<const Redactor> redactor() const;

 private:
  mutable std::mutex mu_;
  std::deque<std::string> values_;  // oldest first
  std::shared_ptr<const Redactor> redactor_ = std::make_shared<const Redactor>();
};

}  // namespace llmux
