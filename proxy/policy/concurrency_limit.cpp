#include "proxy/policy/concurrency_limit.hpp"

namespace llmux {

std::optional<ApiError> concurrency_refusal(const Scheduler& s, const ModelConfig& m) {
  if (!m.refuse_over_limit || m.max_concurrency <= 0) return std::nullopt;
  if (s.phase(m.id) != WorkerPhase::ready) return std::nullopt;
  size_t in_flight = 0;
  for (const auto& w : s.workers())
    if (w.model == m.id) in_flight = w.in_flight;
  if (in_flight < static_cast<size_t>(m.max_concurrency)) return std::nullopt;
  ApiError e = server_error(429, "model '" + m.id + "' is at its concurrencyLimit (" +
                                     std::to_string(m.max_concurrency) + " requests at once); retry shortly, or use "
                                     "maxConcurrency instead to queue requests beyond it", "concurrency_limit");
  e.type = "rate_limit_error";
  e.retry_after = 1;
  return e;
}

}  // namespace llmux
