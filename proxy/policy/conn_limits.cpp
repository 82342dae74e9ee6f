#include "proxy/policy/conn_limits.hpp"

#include <algorithm>
#include <limits>

namespace llmux {

size_t connections_for_descriptors(uint64_t fd_limit) {
  if (fd_limit <= kFdReserve + 2) return 1;
  const uint64_t n = (fd_limit - kFdReserve) / 2;
  return static_cast<size_t>(std::min<uint64_t>(n, std::numeric_limits<size_t>::max()));
}

bool CapEpisode::reached(size_t open, size_t cap, std::chrono::steady_clock::time_point now) {
  if (active_ || open < cap) return false;
  active_ = true;
  closed_idle_ = pauses_ = 0;
  since_ = now;
  return true;
}

std::optional<CapEpisode::Summary> CapEpisode::eased(size_t open, size_t cap,
                                                     std::chrono::steady_clock::time_point now) {
  // Hysteresis: a count that wobbles just under the cap is still the same episode.
  if (!active_ || open * 4 >= cap * 3) return std::nullopt;
  active_ = false;
  return Summary{closed_idle_, pauses_, now - since_};
}

AcceptBackoff::Failure AcceptBackoff::failed() {
  ++errors_;
  const Duration delay = next_;
  next_ = std::min(next_ * 2, kMax);
  return Failure{delay, errors_ == 1 || errors_ % kRemindEvery == 0, errors_};
}

uint64_t AcceptBackoff::ended() {
  const uint64_t n = errors_;
  errors_ = 0;
  next_ = kFirst;
  return n;
}

}  // namespace llmux
