// Resident memory of a process's descendants, for benches that ask what the engines under llmux hold: every
// `interval` a background thread finds the descendants of `root` (the parent links in /proc/<pid>/stat) and sums
// their VmRSS (/proc/<pid>/status); peak_bytes() is the largest sum seen so far. `root` itself is not counted.
// Linux only (it reads /proc): elsewhere, or when /proc cannot be read, peak_bytes() is nullopt. Nothing throws;
// the destructor stops and joins the thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

namespace llmux::bench {

// The descendants of `root` (children, their children, ...), from one pass over /proc; empty without /proc.
std::vector<pid_t> descendants(pid_t root);
// VmRSS of `pid` in bytes; nullopt if it cannot be read (gone, or no /proc).
std::optional<uint64_t> rss_bytes(pid_t pid);

class TreeRssSampler {
 public:
  TreeRssSampler(pid_t root, std::chrono::milliseconds interval);
  ~TreeRssSampler();
  TreeRssSampler(const TreeRssSampler&) = delete;
  TreeRssSampler& operator=(const TreeRssSampler&) = delete;

  void stop();  // takes one last sample, then joins; idempotent
  std::optional<uint64_t> peak_bytes() const;

 private:
  void sample();

  pid_t root_;
  std::chrono::milliseconds interval_;
  std::atomic<uint64_t> peak_{0};
  std::atomic<bool> sampled_{false};  // at least one sample could read /proc
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace llmux::bench
