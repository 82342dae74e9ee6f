// spawn_bench: what spawn_process() (worker/process.cpp: Boost.Process with llmux's initializers, a PATH search
// and the merged environment) costs against a bare posix_spawn() of the same program, side by side. Each sample is
// the time of the spawn call alone (until it returns: for spawn_process() that is after the child's exec, which its
// exec-error pipe waits for); the child (`true`, found in PATH) is reaped outside the timing. The two are
// interleaved, in reverse order every other sample. Exit 0 when it ran, 1 when it could not run.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "bench/bench_support.hpp"
#include "worker/process.hpp"

extern char** environ;

using namespace llmux::bench;

namespace {

double spawn_llmux(const std::vector<std::string>& argv) {
  const auto t0 = Clock::now();
  const auto s = llmux::spawn_process(llmux::SpawnRequest{argv, {"LLMUX_SPAWN_BENCH=1"}});
  const double us = ms_between(t0, Clock::now()) * 1000;
  ::close(s.output_fd);
  ::waitpid(s.pid, nullptr, 0);
  return us;
}

double spawn_bare(const std::string& path) {
  char arg0[] = "true";
  char* argv[] = {arg0, nullptr};
  pid_t pid = -1;
  const auto t0 = Clock::now();
  if (::posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv, environ) != 0) throw std::runtime_error("posix_spawn");
  const double us = ms_between(t0, Clock::now()) * 1000;
  ::waitpid(pid, nullptr, 0);
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::clamp(std::atoi(argv[1]), 10, 10000) : 500;
  arm_watchdog(std::chrono::seconds(60 + n / 10));
  try {
    const auto path = find_program("true");
    if (!path) throw std::runtime_error("no `true` in PATH");
    std::vector<double> llmux, bare;
    for (int i = -10; i < n; ++i) {  // 10 unrecorded warm-up pairs
      double a, b;
      if (i % 2 == 0) a = spawn_llmux({"true"}), b = spawn_bare(*path);
      else b = spawn_bare(*path), a = spawn_llmux({"true"});
      if (i < 0) continue;
      llmux.push_back(a);
      bare.push_back(b);
    }
    std::cout << "spawn_bench: " << n << " spawns of `true` each, interleaved; microseconds until the call returns\n"
              << "  spawn          median     p90\n"
              << "  spawn_process" << pad(fixed(median(llmux), 0), 8) << pad(fixed(percentile(llmux, 90), 0), 8) << "\n"
              << "  posix_spawn  " << pad(fixed(median(bare), 0), 8) << pad(fixed(percentile(bare, 90), 0), 8) << "\n"
              << "  spawn_process/posix_spawn median " << fixed(median(llmux) / median(bare), 2) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "spawn_bench: could not run: " << e.what() << "\n";
    return 1;
  }
}
