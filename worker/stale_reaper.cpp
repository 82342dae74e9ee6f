#include "worker/stale_reaper.hpp"

#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "worker/engine_ledger.hpp"
#include "worker/platform.hpp"
#include "worker/process.hpp"

namespace llmux {

namespace {

using Clock = std::chrono::steady_clock;

struct Victim {
  EngineRecord record;
  enum class End { running, after_sigterm, after_sigkill } end = End::running;
  bool killed = false;  // SIGKILL sent
};

// The engine's leader still runs, as the same process that was recorded.
bool still_there(const EngineRecord& r) { return process_start_time(r.pid) == r.start; }

// Takes the records to reap out of the state file (and the ones that mean nothing any more), in one transaction:
// two llmux starting together do not both reap the same engine.
std::vector<Victim> take_victims(EngineLedger& ledger) {
  std::vector<Victim> victims;
  const pid_t own_group = ::getpgrp(), self = ::getpid();
  ledger.update([&](std::vector<EngineRecord>& records) {
    std::erase_if(records, [&](const EngineRecord& r) {
      ObservedProcesses now{ledger.boot(), process_start_time(r.owner_pid), process_start_time(r.pid)};
      StaleVerdict v = judge_record(r, now);
      if (v == StaleVerdict::reap && r.pgid != own_group && r.pid != self) victims.push_back(Victim{r});
      return v != StaleVerdict::keep;
    });
  });
  return victims;
}

// Polls until every victim's leader is gone or `until`; records how each one ended.
void wait_gone(std::vector<Victim>& victims, Clock::time_point until, std::chrono::milliseconds poll) {
  for (;;) {
    bool left = false;
    for (auto& v : victims) {
      if (v.end != Victim::End::running) continue;
      if (still_there(v.record)) {
        left = true;
      } else if (v.killed) {
        v.end = Victim::End::after_sigkill;
      } else {
        // Its leader left on SIGTERM: whatever else is in its group goes too, now (as Supervisor sweeps a group
        // when its leader is reaped). Reusing the group's id takes a pid wrap-around within one poll.
        v.end = Victim::End::after_sigterm;
        signal_group(v.record.pgid, SIGKILL);
      }
    }
    if (!left || Clock::now() >= until) return;
    std::this_thread::sleep_for(poll);
  }
}

void log_victim(const Victim& v, std::chrono::milliseconds grace, std::chrono::milliseconds kill_wait) {
  const auto& r = v.record;
  std::string how = v.end == Victim::End::after_sigterm ? "stopped by SIGTERM"
                    : v.end == Victim::End::after_sigkill
                        ? "killed with SIGKILL after " + std::to_string(grace.count()) + " ms"
                        : "still running " + std::to_string(kill_wait.count()) + " ms after SIGKILL";
  spdlog::warn("[{}] reaped stale engine pid {} (pgid {}) left running by llmux pid {}, which is gone: {}", r.model,
               r.pid, r.pgid, r.owner_pid, how);
}

}  // namespace

size_t reap_stale_engines(EngineLedger& ledger, const StaleReapOptions& o) {
  std::error_code ec;
  if (!ledger.enabled() || !std::filesystem::exists(ledger.path(), ec)) return 0;  // nothing recorded: touch nothing
  auto victims = take_victims(ledger);
  if (victims.empty()) return 0;
  for (auto& v : victims) signal_group(v.record.pgid, SIGTERM);
  wait_gone(victims, Clock::now() + o.grace, o.poll);
  for (auto& v : victims) {
    if (v.end != Victim::End::running || !still_there(v.record)) continue;  // never kill a pid reused meanwhile
    signal_group(v.record.pgid, SIGKILL);
    v.killed = true;
  }
  wait_gone(victims, Clock::now() + o.kill_wait, o.poll);
  for (const auto& v : victims) log_victim(v, o.grace, o.kill_wait);
  return victims.size();
}

}  // namespace llmux
