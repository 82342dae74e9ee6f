// Supervisor: owns the lifecycle of at most one engine process (a "worker"): spawn on an ephemeral port, wait
// until truly ready (probe loop raced against child exit, bounded by the start deadline), watch it while it
// serves, and stop it (cmdStop or SIGTERM to its group, SIGKILL after the grace). Runs on the io_context thread
// only; callbacks are always invoked from the io_context, never inline from start()/stop(). Never throws.
// Engine output lines and start failure reasons are redacted (set_redactor) before anything else sees them: the log,
// LogRing (/status, loading feedback) and start errors (502 bodies) all quote them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/net.hpp"
#include "common/redact.hpp"
#include "common/endpoint.hpp"
#include "worker/log_ring.hpp"

namespace llmux {

class ChildReaper;
class EngineLedger;
class OutputPump;

enum class WorkerState { stopped, starting, ready, stopping };
const char* to_string(WorkerState s);

struct StartFailure {
  StartFailure(std::string why = {}, std::vector<std::string> lines = {}, bool timeout = false)
      : reason(std::move(why)), last_lines(std::move(lines)), timed_out(timeout) {}
  std::string reason;                   // "exited with status 1 during start", "not ready after 120s (HTTP 503)"
  std::vector<std::string> last_lines;  // engine's last output lines
  bool timed_out = false;
  std::optional<ApiError> refusal;      // refused before spawning (memory): the error clients get
};

struct WorkerInfo {
  WorkerState state = WorkerState::stopped;
  std::string model;
  pid_t pid = -1;
  EngineEndpoint endpoint;
  std::chrono::system_clock::time_point started_at{};  // spawn time
  std::chrono::steady_clock::duration load_time{};     // spawn → ready
  uint64_t generation = 0;                             // increments with every spawn
};

class Supervisor {
 public:
  using StartHandler = std::function<void(const StartFailure* failure)>;  // nullptr = ready
  using ExitHandler = std::function<void(const std::string& model, int wait_status)>;
  using LineHandler = std::function<void(const std::string& model, std::string_view line)>;

  Supervisor(net::io_context& io, ChildReaper& reaper);
  ~Supervisor();

  // Requires state stopped. The handler is called exactly once.
  void start(const ModelConfig& model, const Timeouts& timeouts, StartHandler done);
  // Any state; `done` runs once the process group is gone (at once, posted, when nothing runs).
  void stop(std::function<void()> done);
  // Called when a ready worker exits on its own (crash, OOM kill, external kill).
  void on_unexpected_exit(ExitHandler h) { on_exit_ = std::move(h); }
  void on_line(LineHandler h) { on_line_ = std::move(h); }
  // Records each engine it spawns in the state file until the engine's process is reaped (nullptr: none). The
  // ledger outlives the supervisor.
  void record_in(EngineLedger* ledger) { ledger_ = ledger; }
  // The secrets to remove from engine output and start failures from now on; never null.
  void set_redactor(std::shared_ptr<const Redactor> r) { redactor_ = std::move(r); }

  const WorkerInfo& info() const { return info_; }
  WorkerState state() const { return info_.state; }
  const LogRing& log() const { return log_; }

 private:
  void spawn(int attempt_no);
  void probe();
  void on_probe(uint64_t gen, bool ready, const std::string& detail);
  void on_child_exit(uint64_t gen, int status);
  void fail_start(StartFailure f);
  void send_stop_signal();
  void kill_now();
  void finish_stop();

  net::io_context& io_;
  ChildReaper& reaper_;
  WorkerInfo info_;
  ModelConfig model_;
  Timeouts timeouts_;
  StartHandler start_done_;
  ExitHandler on_exit_;
  LineHandler on_line_;
  EngineLedger* ledger_ = nullptr;
  std::shared_ptr<const Redactor> redactor_ = std::make_shared<const Redactor>();
  std::vector<std::function<void()>> stop_waiters_;
  std::shared_ptr<OutputPump> pump_;
  net::steady_timer probe_timer_;
  net::steady_timer deadline_;
  net::steady_timer grace_;
  net::steady_timer exit_wait_;  // after an exit during start: lets the pipe drain the engine's last lines
  bool exited_ = false;
  std::chrono::steady_clock::time_point spawned_at_{};
  std::string last_probe_;
  LogRing log_;
  int attempt_ = 0;
};

}  // namespace llmux
