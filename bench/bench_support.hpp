// Shared pieces of the bench programs: a running `llmux serve` with a generated config, a temp dir removed on exit,
// a watchdog that bounds the whole run, wrk and nginx detection, percentiles and table formatting.
// Everything is loopback-only. Child processes are tests/support Processes (SIGKILLed on destruction, and by
// PR_SET_PDEATHSIG if the bench itself dies), so create them from the main thread.
// Constructors throw std::runtime_error when something cannot be started; a bench's main turns that into exit 1.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace llmux {
class OptionParser;
}

namespace llmux::bench {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Arms a watchdog: if the program is still running after `limit`, it prints a line and exits 1 (children die
// with it through PR_SET_PDEATHSIG). Also ignores SIGPIPE.
void arm_watchdog(std::chrono::seconds limit);

// Parses argv[1..] with `p` (llmux's options parser). When they do not fit, prints one line,
// "<name>: <reason> (usage: <name> <usage>)", and returns false: the bench exits.
bool parse_args(OptionParser& p, int argc, char** argv, const std::string& name, const std::string& usage);

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `cmd:` for a fake engine that answers to any model name; `flags` follow the port.
std::string fake_cmd(const std::string& flags);

// `llmux serve` on 127.0.0.1 with `yaml` (prefixed with `listen: 127.0.0.1:0` unless it has a listen key) written
// to `dir`/config.yaml; llmux's output goes to `dir`/llmux.log. Waits for the "listening on" line.
class Llmux {
 public:
  Llmux(const std::string& dir, const std::string& yaml);
  uint16_t port() const { return port_; }
  pid_t pid() const { return proc_->pid(); }
  test::Process& process() { return *proc_; }
  nlohmann::json worker();  // /status "worker" (null when none)

 private:
  std::unique_ptr<test::Process> proc_;
  uint16_t port_ = 0;
};

// True if `path` names an executable file.
bool executable(const std::string& path);
// `name` if it is an absolute executable path, else the first executable `name` in PATH; nullopt if none.
std::optional<std::string> find_program(const std::string& name);

// Waits until 127.0.0.1:port accepts a TCP connection.
bool wait_port_open(uint16_t port, std::chrono::milliseconds timeout);

// Nearest-rank percentile, p in [0, 100]; 0 for an empty sample.
double percentile(std::vector<double> v, double p);
double median(std::vector<double> v);

std::string fixed(double v, int decimals);           // "12.34"
std::string pad(const std::string& s, size_t width);  // right-aligned
std::string verdict(bool met);                        // "PASS" or "MISS"

double ms_between(Clock::time_point a, Clock::time_point b);

// CPU time (user + system, all threads) a process has used so far, in seconds: the sum of
// /proc/<pid>/task/*/schedstat (nanoseconds) when available, else utime+stime from /proc/<pid>/stat (clock ticks).
// nullopt when /proc cannot be read (not Linux, or the process is gone).
std::optional<double> cpu_seconds(pid_t pid);
bool have_proc();  // /proc/self/stat is readable

// Pins the calling thread (so also the children it forks from now on) and `pids` to one CPU, the first one the
// caller may use; restores the caller's original CPU set on all of them on destruction. Linux only: elsewhere,
// and when the affinity cannot be set, it does nothing and cpu() is -1.
class PinToOneCpu {
 public:
  explicit PinToOneCpu(std::vector<pid_t> pids);
  ~PinToOneCpu();
  PinToOneCpu(const PinToOneCpu&) = delete;
  PinToOneCpu& operator=(const PinToOneCpu&) = delete;
  int cpu() const { return cpu_; }

 private:
  std::vector<pid_t> pids_;
  std::vector<unsigned char> original_;  // the caller's cpu_set_t, as bytes
  int cpu_ = -1;
};

}  // namespace llmux::bench
