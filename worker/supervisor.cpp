#include "worker/supervisor.hpp"

#include <signal.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/macros.hpp"
#include "common/seconds.hpp"
#include "worker/engine_ledger.hpp"
#include "worker/output_pump.hpp"
#include "worker/ports.hpp"
#include "worker/probe.hpp"
#include "worker/process.hpp"
#include "worker/reaper.hpp"

namespace llmux {

namespace {

constexpr int kMaxPortAttempts = 3;
constexpr auto kExitOutputWait = std::chrono::milliseconds(300);

std::string format_seconds(Duration d) {
  auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

}  // namespace

const char* to_string(WorkerState s) {
  switch (s) {
    case WorkerState::stopped: return "stopped";
    case WorkerState::starting: return "starting";
    case WorkerState::ready: return "ready";
    case WorkerState::stopping: return "stopping";
  }
  return "?";
}

Supervisor::Supervisor(net::io_context& io, ChildReaper& reaper)
    : io_(io), reaper_(reaper), probe_timer_(io), deadline_(io), grace_(io), exit_wait_(io) {}

Supervisor::~Supervisor() {
  if (info_.pid <= 0) return;
  signal_group(info_.pid, SIGKILL);  // safety net: never leave an engine behind
  if (ledger_) ledger_->remove(info_.pid);
}

void Supervisor::start(const ModelConfig& model, const Timeouts& timeouts, StartHandler done) {
  model_ = model;
  timeouts_ = timeouts;
  start_done_ = std::move(done);
  info_ = WorkerInfo{WorkerState::starting, model.id, -1, {}, {}, {}, info_.generation};
  log_.clear();
  last_probe_.clear();
  deadline_.expires_after(model.start_timeout);
  deadline_.async_wait([this, gen = info_.generation + 1](const error_code& ec) {
    if (ec || info_.state != WorkerState::starting || info_.generation < gen) return;
    std::string why = "not ready after " + format_seconds(model_.start_timeout) +
                      " (healthCheckTimeout, or the model's startTimeout)";
    if (!last_probe_.empty()) why += "; last probe: " + last_probe_;
    spdlog::warn("[{}] {}; killing it", model_.id, why);
    kill_now();
    fail_start(StartFailure{why, log_.tail(20), true});
  });
  spawn(0);
}

void Supervisor::spawn(int attempt_no) {
  attempt_ = attempt_no;
  uint64_t gen = ++info_.generation;
  bool ephemeral = model_.proxy.find("${PORT}") != std::string::npos;
  uint16_t port = ephemeral ? pick_ephemeral_port() : 0;
  std::map<std::string, std::string> values{{"PORT", std::to_string(port)}};
  auto endpoint = parse_engine_url(substitute(model_.proxy, values));
  if (!endpoint) return fail_start(StartFailure{"proxy '" + model_.proxy + "' is not an http://host:port URL", {}});
  if (!ephemeral) values["PORT"] = std::to_string(endpoint->port);
  SpawnRequest req;
  for (const auto& a : model_.argv) req.argv.push_back(substitute(a, values));
  for (const auto& e : model_.env) req.env.push_back(substitute(e, values));
  Spawned child;
  try {
    child = spawn_process(req);
  } catch (const SpawnError& e) {
    spdlog::error("[{}] cannot start engine: {}", model_.id, e.what());
    return fail_start(StartFailure{e.what(), {}});
  }
  info_.pid = child.pid;
  info_.endpoint = *endpoint;
  info_.started_at = std::chrono::system_clock::now();
  spawned_at_ = std::chrono::steady_clock::now();
  exited_ = false;
  spdlog::info("[{}] spawned pid {} on port {}: {}", model_.id, child.pid, endpoint->port, fmt::join(req.argv, " "));
  if (ledger_) ledger_->add(model_.id, child.pid);
  reaper_.watch(child.pid, [this, gen, pid = child.pid](int status) {
    if (ledger_) ledger_->remove(pid);
    on_child_exit(gen, status);
  });
  if (pump_) pump_->stop();
  pump_ = OutputPump::start(
      io_, child.output_fd,
      [this, id = model_.id](std::string_view line) {
        std::string text(line);
        redactor_->redact(text);  // an engine may print its own --api-key
        if (on_line_) on_line_(id, text);
        log_.push(std::move(text));
      },
      [this, gen] {
        if (gen == info_.generation && exited_) exit_wait_.cancel();
      });
  probe();
}

void Supervisor::probe() {
  uint64_t gen = info_.generation;
  if (model_.readiness == Readiness::none) {
    net::post(io_, [this, gen] { on_probe(gen, true, {}); });
    return;
  }
  ProbeTarget t{info_.endpoint, model_.readiness, model_.check_endpoint, model_.forwarded_name(), timeouts_.probe};
  if (model_.readiness == Readiness::completion) {  // the 1-token answer may wait for the whole load
    auto left = std::chrono::duration_cast<Duration>(deadline_.expiry() - std::chrono::steady_clock::now());
    t.timeout = std::max(timeouts_.probe, left);
  }
  async_probe(io_, std::move(t), [this, gen](ProbeResult r) { on_probe(gen, r.ready, r.detail); });
}

void Supervisor::on_probe(uint64_t gen, bool ready, const std::string& detail) {
  if (gen != info_.generation || info_.state != WorkerState::starting || exited_) return;
  if (ready) {
    info_.state = WorkerState::ready;
    info_.load_time = std::chrono::steady_clock::now() - spawned_at_;
    deadline_.cancel();
    spdlog::info("[{}] ready in {:.2f}s (pid {}, port {})", model_.id, seconds(info_.load_time), info_.pid,
                 info_.endpoint.port);
    auto done = std::exchange(start_done_, nullptr);
    if (done) done(nullptr);
    return;
  }
  last_probe_ = detail;
  probe_timer_.expires_after(timeouts_.probe_interval);
  probe_timer_.async_wait([this, gen](const error_code& ec) {
    if (!ec && gen == info_.generation && info_.state == WorkerState::starting) probe();
  });
}

void Supervisor::on_child_exit(uint64_t gen, int status) {
  if (gen != info_.generation) return;  // an earlier attempt's process
  pid_t pgid = info_.pid;
  info_.pid = -1;
  exited_ = true;
  signal_group(pgid, SIGKILL);  // sweep anything the engine left in its group
  switch (info_.state) {
    case WorkerState::stopped:
      return;
    case WorkerState::stopping:
      spdlog::info("[{}] engine {}", model_.id, describe_wait_status(status));
      return finish_stop();
    case WorkerState::ready:
      spdlog::warn("[{}] engine {} while serving", model_.id, describe_wait_status(status));
      info_.state = WorkerState::stopped;
      if (on_exit_) on_exit_(model_.id, status);
      return;
    case WorkerState::starting:
      break;
  }
  // Exited during start: collect its last output lines (the pipe may still hold them) before deciding.
  exit_wait_.expires_after(pump_ && !pump_->at_eof() ? kExitOutputWait : Duration(0));
  exit_wait_.async_wait([this, gen, status, port = info_.endpoint.port](const error_code&) {
    if (gen != info_.generation || info_.state != WorkerState::starting) return;
    bool ephemeral = model_.proxy.find("${PORT}") != std::string::npos;
    if (ephemeral && attempt_ + 1 < kMaxPortAttempts && port_in_use(port)) {
      spdlog::warn("[{}] port {} was taken before the engine could bind it; retrying on another port", model_.id,
                   port);
      return spawn(attempt_ + 1);
    }
    std::string why = "engine " + describe_wait_status(status) + " during start";
    spdlog::error("[{}] {}", model_.id, why);
    fail_start(StartFailure{why, log_.tail(20)});
  });
}

void Supervisor::fail_start(StartFailure f) {
  redactor_->redact(f.reason);  // may quote the command, the proxy URL or a probe's answer
  info_.state = WorkerState::stopped;
  info_.pid = -1;
  probe_timer_.cancel();
  deadline_.cancel();
  auto done = std::exchange(start_done_, nullptr);
  if (done) net::post(io_, [done = std::move(done), f = std::move(f)] { done(&f); });
}

void Supervisor::stop(std::function<void()> done) {
  if (done) stop_waiters_.push_back(std::move(done));
  switch (info_.state) {
    case WorkerState::stopped:
      return finish_stop();
    case WorkerState::stopping:
      return;
    case WorkerState::starting:
      if (auto start = std::exchange(start_done_, nullptr)) {
        StartFailure f{"stopped while starting", log_.tail(20)};
        net::post(io_, [start = std::move(start), f = std::move(f)] { start(&f); });
      }
      probe_timer_.cancel();
      deadline_.cancel();
      if (info_.pid <= 0) return finish_stop();  // exited; its exit is being examined
      break;
    case WorkerState::ready:
      break;
  }
  info_.state = WorkerState::stopping;
  send_stop_signal();
  grace_.expires_after(model_.stop_grace);
  grace_.async_wait([this, gen = info_.generation](const error_code& ec) {
    if (ec || gen != info_.generation || info_.state != WorkerState::stopping) return;
    spdlog::warn("[{}] engine still running {} after the stop request; sending SIGKILL", model_.id,
                 format_seconds(model_.stop_grace));
    kill_now();
  });
}

void Supervisor::send_stop_signal() {
  if (!model_.stop_argv.empty()) {
    std::map<std::string, std::string> values{{"PID", std::to_string(info_.pid)},
                                              {"PORT", std::to_string(info_.endpoint.port)}};
    SpawnRequest req;
    for (const auto& a : model_.stop_argv) req.argv.push_back(substitute(a, values));
    try {
      Spawned s = spawn_process(req);
      OutputPump::start(
          io_, s.output_fd, [id = model_.id](std::string_view line) { spdlog::info("[{} cmdStop] {}", id, line); },
          nullptr);
      reaper_.watch(s.pid, [id = model_.id](int status) {
        spdlog::info("[{}] cmdStop {}", id, describe_wait_status(status));
      });
      spdlog::info("[{}] stopping pid {} with cmdStop (pid {})", model_.id, info_.pid, s.pid);
      return;
    } catch (const SpawnError& e) {
      spdlog::warn("[{}] cmdStop failed ({}); sending SIGTERM", model_.id, e.what());
    }
  }
  spdlog::info("[{}] stopping pid {} (SIGTERM)", model_.id, info_.pid);
  signal_group(info_.pid, SIGTERM);
}

void Supervisor::kill_now() {
  if (info_.pid > 0) signal_group(info_.pid, SIGKILL);
}

void Supervisor::finish_stop() {
  grace_.cancel();
  probe_timer_.cancel();
  if (info_.state != WorkerState::stopped) spdlog::info("[{}] stopped", model_.id);
  info_.state = WorkerState::stopped;
  auto waiters = std::exchange(stop_waiters_, {});
  for (auto& w : waiters) net::post(io_, std::move(w));
}

}  // namespace llmux
