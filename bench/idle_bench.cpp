// idle_bench: what an idle llmux costs. Three phases, each after 1 s of quiet, sampled over a window (default 5 s):
//   1. no engine loaded        2. one loaded, idle engine        3. the same after a burst of relayed requests
// CPU is llmux's own (all its threads, not the engine): /proc/<pid>/task/*/schedstat, else /proc/<pid>/stat.
// Wakeups are context switches of llmux's threads during the window (a timer or busy loop shows up here first).
// RSS is VmRSS from /proc/<pid>/status (max over the window), with VmHWM (peak since start).
// Linux only: elsewhere it prints "skipped: needs /proc" and exits 0.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/bench_support.hpp"
#include "proxy/cli/options.hpp"

using namespace llmux::bench;
namespace test = llmux::test;

namespace {

constexpr double kGoalCpuPercent = 0.0;  // "no busy loops": llmux must not run at all while nothing happens
constexpr double kGoalRssMb = 10;
constexpr int kBurst = 2000;

// A kB field ("VmRSS:", "VmHWM:") from /proc/<pid>/status, in MB; -1 if absent.
double status_mb(pid_t pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + key.size()) / 1024.0;
  return -1;
}

// Voluntary + involuntary context switches of every thread of `pid`.
long context_switches(pid_t pid) {
  long total = 0;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream f(t.path() / "status");
    for (std::string line; std::getline(f, line);)
      if (line.find("ctxt_switches:") != std::string::npos) total += std::atol(line.c_str() + line.find(':') + 1);
  }
  return total;
}

int thread_count(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for ([[maybe_unused]] const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
    ++n;
  return n;
}

struct Sample {
  double cpu_percent = 0, cpu_ms = 0, rss_mb = 0, hwm_mb = 0;
  long wakeups = 0;
  int threads = 0;
};

Sample sample(pid_t pid, int seconds) {
  std::this_thread::sleep_for(1s);  // let the last request's work settle
  Sample s;
  const auto cpu0 = cpu_seconds(pid);
  const long cs0 = context_switches(pid);
  const auto t0 = Clock::now();
  for (int i = 0; i < seconds * 4; ++i) {
    std::this_thread::sleep_for(250ms);
    s.rss_mb = std::max(s.rss_mb, status_mb(pid, "VmRSS:"));
  }
  const auto cpu1 = cpu_seconds(pid);
  const double wall = ms_between(t0, Clock::now()) / 1000;
  if (!cpu0 || !cpu1) throw std::runtime_error("cannot read llmux's CPU time from /proc");
  s.cpu_ms = (*cpu1 - *cpu0) * 1000;
  s.cpu_percent = (*cpu1 - *cpu0) / wall * 100;
  s.wakeups = context_switches(pid) - cs0;
  s.hwm_mb = status_mb(pid, "VmHWM:");
  s.threads = thread_count(pid);
  return s;
}

void print(const std::string& phase, const Sample& s) {
  std::cout << "  " << phase << std::string(30 - std::min<size_t>(phase.size(), 29), ' ')
            << pad(fixed(s.cpu_percent, 3), 7)
            << pad(fixed(s.cpu_ms, 2), 9) << pad(std::to_string(s.wakeups), 9) << pad(fixed(s.rss_mb, 2), 8)
            << pad(fixed(s.hwm_mb, 2), 8) << pad(std::to_string(s.threads), 9) << "   cpu "
            << verdict(s.cpu_ms < 0.5) << ", rss " << verdict(s.rss_mb <= kGoalRssMb) << "\n";
}

int run(int seconds) {
  TempDir dir;
  Llmux llmux(dir.path(), "models:\n  idle:\n    cmd: " + fake_cmd("--quiet --token-ms 0 --readiness 503") +
                              "\n    readiness: http\n");
  const pid_t pid = llmux.pid();
  std::cout << "idle_bench: llmux pid " << pid << " at rest, " << seconds
            << " s window per phase after 1 s of quiet (llmux only, the engine is not counted)\n"
            << "  goals: CPU " << fixed(kGoalCpuPercent, 0) << " % (PASS if < 0.5 ms of CPU in the window), RSS <= "
            << fixed(kGoalRssMb, 0) << " MB\n"
            << "  phase                          CPU %   CPU ms  wakeups  RSS MB  HWM MB  threads\n";
  print("no engine loaded", sample(pid, seconds));
  const std::string body = R"({"model":"idle","messages":[{"role":"user","content":"hi"}],"max_tokens":4})";
  if (auto r = test::http_post(llmux.port(), "/v1/chat/completions", body, 30s); r.status != 200)
    throw std::runtime_error("loading request failed: HTTP " + std::to_string(r.status) + " " + r.body);
  print("one engine loaded, idle", sample(pid, seconds));
  {
    test::HttpConnection c(llmux.port());
    for (int i = 0; i < kBurst; ++i)
      if (const auto r = c.request("POST", "/v1/chat/completions", body, 10s); r.status != 200)
        throw std::runtime_error("burst request failed: HTTP " + std::to_string(r.status) + " " + r.body);
  }
  print("after " + std::to_string(kBurst) + " requests, idle", sample(pid, seconds));
  if (!llmux.process().running()) throw std::runtime_error("llmux exited:\n" + llmux.process().output());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<long long> given;
  bool quick = false;
  llmux::OptionParser p;
  p.integer("--seconds", given, 1, 60, "a number of seconds (1 to 60)").flag("--quick", quick);
  if (!parse_args(p, argc, argv, "idle_bench", "[--seconds N] [--quick]")) return 1;
  const int seconds = static_cast<int>(given.value_or(quick ? 1 : 5));
  if (!have_proc()) {
    std::cout << "idle_bench: skipped: needs /proc (Linux)\n";
    return 0;
  }
  arm_watchdog(std::chrono::seconds(60 + 3 * (seconds + 1)));
  try {
    return run(seconds);
  } catch (const std::exception& e) {
    std::cerr << "idle_bench: could not run: " << e.what() << "\n";
    return 1;
  }
}
