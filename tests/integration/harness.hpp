// Integration harness: a real `llmux serve` process on an ephemeral port with a config written to a temp dir, and
// fake-engine command lines tagged so a test can find (and count) its own engine processes.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace llmux::test {

using namespace std::chrono_literals;

// A tag unique to this test run, used as the fake engine's --model so find_pids_with_arg() finds its processes.
inline std::string unique_tag(const std::string& base) {
  static std::atomic<int> n{0};
  return base + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// `cmd:` for a fake engine. `tag` is the fake's --model (process marker); extra flags follow.
inline std::string fake_cmd(const std::string& tag, const std::string& extra = "") {
  return std::string(FAKE_ENGINE_BIN) + " --port ${PORT} --model " + tag + (extra.empty() ? "" : " " + extra);
}

// `models:` with one engine command per id; `per_model` (indented 4) is added under every model.
inline std::string models_yaml(const std::vector<std::pair<std::string, std::string>>& m,
                               const std::string& per_model = "") {
  std::string y = "models:\n";
  for (const auto& [id, cmd] : m) y += "  " + id + ":\n    cmd: " + cmd + "\n" + per_model;
  return y;
}

// Polls `pred` every 20 ms until true or timeout.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class Llmux {
 public:
  // `yaml` is the whole config; `listen: 127.0.0.1:0` is prepended unless it already has a listen key. `nofile` > 0:
  // llmux's descriptor limit, soft and hard (it cannot raise it).
  explicit Llmux(const std::string& yaml, std::vector<std::string> env = {}, uint64_t nofile = 0)
      : dir_(make_temp_dir()), env_(std::move(env)), nofile_(nofile) {
    config_path_ = dir_ + "/config.yaml";
    write_file(config_path_, with_listen(yaml));
    start();
  }
  // Serves an existing config file (e.g. a symlink layout); `dir` is where the log goes.
  struct ExistingFile {};
  Llmux(ExistingFile, const std::string& dir, const std::string& config_path) : dir_(dir), config_path_(config_path) {
    start();
  }

  static std::string with_listen(const std::string& yaml) {
    return yaml.find("listen:") == std::string::npos ? "listen: 127.0.0.1:0\n" + yaml : yaml;
  }

  // Unless the test chose one, llmux keeps its state file (engines.json) in the test's directory, not the user's.
  void start() {
    auto env = env_;
    bool state_chosen = std::any_of(env.begin(), env.end(), [](const std::string& kv) {
      return kv.starts_with("XDG_STATE_HOME=");
    });
    if (!state_chosen) env.push_back("XDG_STATE_HOME=" + dir_ + "/state");
    proc_ = std::make_unique<Process>(std::vector<std::string>{LLMUX_BIN, "serve", "--config", config_path_},
                                      env, dir_ + "/llmux.log", nofile_);
    auto line = proc_->wait_for_output("listening on http://", 10s);
    if (!line) throw std::runtime_error("llmux did not start:\n" + proc_->output());
    auto pos = line->find("http://127.0.0.1:");
    port_ = static_cast<uint16_t>(std::stoi(line->substr(pos + 17)));
  }

  uint16_t port() const { return port_; }
  Process& process() { return *proc_; }
  const std::string& dir() const { return dir_; }
  const std::string& config_path() const { return config_path_; }
  uint64_t reloads() { return status()["config"]["reloads"].get<uint64_t>(); }
  std::string log() const { return proc_->output(); }
  // Whether llmux's output has `text` within `timeout`: its output is read from a pipe by another thread, which
  // may lag behind what llmux did (and what /status already shows) on a loaded machine.
  bool logged(const std::string& text, std::chrono::milliseconds timeout = 5s) const {
    return eventually([&] { return proc_->output().find(text) != std::string::npos; }, timeout);
  }
  // How many times `text` is in llmux's output so far.
  size_t log_count(const std::string& text) const {
    const std::string out = proc_->output();
    size_t n = 0;
    for (size_t at = out.find(text); at != std::string::npos; at = out.find(text, at + 1)) ++n;
    return n;
  }

  nlohmann::json status() { return http_get(port_, "/status").json(); }
  // The first resident worker's JSON from /status (null when none).
  nlohmann::json worker() { return status()["worker"]; }

  HttpResponse chat(const std::string& model, const std::string& extra_json = "",
                    std::chrono::milliseconds timeout = 30s) {
    std::string body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hello there"}])" +
                       extra_json + "}";
    return http_post(port_, "/v1/chat/completions", body, timeout);
  }

  StreamResult stream_chat(const std::string& model, std::function<bool(const SseEvent&)> on_event = {},
                           const std::string& extra_json = "", std::chrono::milliseconds timeout = 60s) {
    std::string body = R"({"model":")" + model +
                       R"(","stream":true,"messages":[{"role":"user","content":"hello there"}])" + extra_json + "}";
    return http_stream(port_, "POST", "/v1/chat/completions", body, std::move(on_event), timeout);
  }

 private:
  std::string dir_, config_path_;
  std::vector<std::string> env_;
  uint64_t nofile_ = 0;
  std::unique_ptr<Process> proc_;
  uint16_t port_ = 0;
};

// `llmux ARGS --url http://127.0.0.1:PORT` as a child process: its exit code (-1 if it did not exit normally
// within 30 s) and everything it printed (stdout and stderr).
struct CliRun {
  int code = -1;
  std::string out;
};

inline CliRun run_cli(uint16_t port, std::vector<std::string> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), LLMUX_BIN);
  args.push_back("--url");
  args.push_back("http://127.0.0.1:" + std::to_string(port));
  Process p(args, std::move(env));
  auto st = p.wait_exit(30s);
  return CliRun{st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, p.output()};
}

// Children of `parent` in zombie state (exited, never reaped). Linux /proc.
inline int zombie_children(pid_t parent) {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    std::istringstream rest(line.substr(close + 2));
    rest >> state >> ppid;
    if (state == 'Z' && ppid == parent) ++n;
  }
  return n;
}

// Token events of an OpenAI chat stream (content deltas), [DONE] excluded.
inline size_t count_content_events(const StreamResult& r) {
  size_t n = 0;
  for (const auto& e : r.events)
    if (e.data.find("\"content\":\"tok") != std::string::npos) ++n;
  return n;
}

inline bool stream_done(const StreamResult& r) {
  return r.complete && !r.events.empty() && r.events.back().data == "[DONE]";
}

}  // namespace llmux::test
