#include "bench/bench_support.hpp"

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "proxy/cli/options.hpp"

namespace llmux::bench {

namespace {

extern "C" void on_watchdog(int) {
  static const char msg[] = "error: bench exceeded its time limit; giving up\n";
  [[maybe_unused]] ssize_t n = ::write(2, msg, sizeof msg - 1);
  ::_exit(1);
}

}  // namespace

void arm_watchdog(std::chrono::seconds limit) {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGALRM, on_watchdog);
  ::alarm(static_cast<unsigned>(limit.count()));
}

bool parse_args(OptionParser& p, int argc, char** argv, const std::string& name, const std::string& usage) {
  const std::string err = p.parse({argv + 1, argv + argc});
  if (!err.empty())
    std::fprintf(stderr, "%s: %s (usage: %s %s)\n", name.c_str(), err.c_str(), name.c_str(), usage.c_str());
  return err.empty();
}

TempDir::TempDir() : path_(test::make_temp_dir()) {}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string fake_cmd(const std::string& flags) {
  return std::string(FAKE_ENGINE_BIN) + " --port ${PORT}" + (flags.empty() ? "" : " " + flags);
}

Llmux::Llmux(const std::string& dir, const std::string& yaml) {
  const std::string config = dir + "/config.yaml";
  test::write_file(config, yaml.find("listen:") == std::string::npos ? "listen: 127.0.0.1:0\n" + yaml : yaml);
  proc_ = std::make_unique<test::Process>(std::vector<std::string>{LLMUX_BIN, "serve", "--config", config},
                                          std::vector<std::string>{}, dir + "/llmux.log");
  const auto line = proc_->wait_for_output("listening on http://127.0.0.1:", 10s);
  if (!line) throw std::runtime_error("llmux did not start:\n" + proc_->output());
  port_ = static_cast<uint16_t>(std::stoi(line->substr(line->find("http://127.0.0.1:") + 17)));
}

nlohmann::json Llmux::worker() { return test::http_get(port_, "/status", 5s).json()["worker"]; }

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return executable(name) ? std::optional(name) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && executable(dir + "/" + name)) return dir + "/" + name;
  return std::nullopt;
}

bool wait_port_open(uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    try {
      ::close(test::connect_tcp(port));
      return true;
    } catch (const std::exception&) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

double median(std::vector<double> v) { return percentile(std::move(v), 50); }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

std::string verdict(bool met) { return met ? "PASS" : "MISS"; }

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

namespace {

std::optional<double> schedstat_seconds(pid_t pid) {
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  double total = 0;
  bool any = false;
  for (const auto& t : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream f(t.path() / "schedstat");
    unsigned long long ns = 0;
    if (!(f >> ns)) continue;
    total += static_cast<double>(ns) / 1e9;
    any = true;
  }
  return any ? std::optional(total) : std::nullopt;
}

std::optional<double> stat_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // field 3 is the state; 14 utime, 15 stime
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

std::optional<double> cpu_seconds(pid_t pid) {
  if (auto s = schedstat_seconds(pid)) return s;
  return stat_seconds(pid);
}

bool have_proc() { return std::ifstream("/proc/self/stat").good(); }

#ifdef __linux__
PinToOneCpu::PinToOneCpu(std::vector<pid_t> pids) : pids_(std::move(pids)) {
  cpu_set_t all;
  CPU_ZERO(&all);
  if (::sched_getaffinity(0, sizeof all, &all) != 0) return;
  original_.assign(reinterpret_cast<unsigned char*>(&all), reinterpret_cast<unsigned char*>(&all) + sizeof all);
  int cpu = 0;
  while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &all)) ++cpu;
  if (cpu == CPU_SETSIZE) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (::sched_setaffinity(0, sizeof one, &one) != 0) return;
  for (pid_t p : pids_) ::sched_setaffinity(p, sizeof one, &one);
  cpu_ = cpu;
}

PinToOneCpu::~PinToOneCpu() {
  if (cpu_ < 0) return;
  const auto* all = reinterpret_cast<const cpu_set_t*>(original_.data());
  ::sched_setaffinity(0, sizeof *all, all);
  for (pid_t p : pids_) ::sched_setaffinity(p, sizeof *all, all);
}
#else
PinToOneCpu::PinToOneCpu(std::vector<pid_t> pids) : pids_(std::move(pids)) {}
PinToOneCpu::~PinToOneCpu() = default;
#endif

}  // namespace llmux::bench
