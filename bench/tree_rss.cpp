#include "bench/tree_rss.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

#include "bench/bench_support.hpp"

namespace llmux::bench {

namespace {

// The parent pid from /proc/<pid>/stat: the field after the state, after the last ')' (the command name may hold
// spaces and parentheses).
std::optional<pid_t> parent_of(const std::string& pid) {
  std::ifstream f("/proc/" + pid + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 1));
  std::string state;
  long ppid = 0;
  if (!(rest >> state >> ppid)) return std::nullopt;
  return static_cast<pid_t>(ppid);
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

std::vector<pid_t> descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (!all_digits(name)) continue;
    if (const auto parent = parent_of(name)) children.emplace(*parent, static_cast<pid_t>(std::atol(name.c_str())));
  }
  std::vector<pid_t> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    for (auto [it, end] = children.equal_range(p); it != end; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return out;
}

std::optional<uint64_t> rss_bytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (!line.starts_with("VmRSS:")) continue;
    std::istringstream v(line.substr(6));
    uint64_t kib = 0;
    if (v >> kib) return kib * 1024;
  }
  return std::nullopt;
}

TreeRssSampler::TreeRssSampler(pid_t root, std::chrono::milliseconds interval) : root_(root), interval_(interval) {
  if (!have_proc()) return;
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      sample();
      std::this_thread::sleep_for(interval_);
    }
  });
}

TreeRssSampler::~TreeRssSampler() { stop(); }

void TreeRssSampler::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  thread_.join();
  sample();
}

std::optional<uint64_t> TreeRssSampler::peak_bytes() const {
  return sampled_.load() ? std::optional(peak_.load()) : std::nullopt;
}

void TreeRssSampler::sample() {
  uint64_t sum = 0;
  for (pid_t p : descendants(root_)) sum += rss_bytes(p).value_or(0);  // a process gone since the scan counts 0
  sampled_.store(true);
  if (sum > peak_.load()) peak_.store(sum);
}

}  // namespace llmux::bench
