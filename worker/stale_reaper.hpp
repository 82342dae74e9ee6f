// Reaping engines left running by an llmux that died without stopping them (SIGKILL, crash; on macOS nothing else
// stops them). `llmux serve` calls it once at start, before it listens, on its only thread: it blocks only when
// there is something to reap, and then for at most grace + kill_wait. A record is reaped only when its llmux is
// gone and its engine provably still runs (judge_record()); that engine's group gets SIGTERM, SIGKILL after the
// grace; one warning line per reaped engine. Never throws.
#pragma once

#include <chrono>
#include <cstddef>

namespace llmux {

class EngineLedger;

struct StaleReapOptions {
  std::chrono::milliseconds grace{2000};      // SIGTERM → SIGKILL
  std::chrono::milliseconds kill_wait{1000};  // SIGKILL → give up waiting (a process stuck in the kernel)
  std::chrono::milliseconds poll{20};
};

// Returns how many engines it reaped.
size_t reap_stale_engines(EngineLedger& ledger, const StaleReapOptions& options = {});

}  // namespace llmux
