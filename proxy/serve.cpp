#include "proxy/serve.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/config.hpp"
#include "common/fd_limit.hpp"
#include "common/net.hpp"
#include "common/notify.hpp"
#include "common/redacting_sink.hpp"
#include "proxy/cli/options.hpp"
#include "proxy/daemon/config_watcher.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/daemon/reloader.hpp"
#include "proxy/session/server.hpp"
#include "worker/engine_ledger.hpp"
#include "worker/platform.hpp"
#include "worker/reaper.hpp"
#include "worker/stale_reaper.hpp"

namespace llmux {

namespace {

// Two loggers share the stderr sink: "llmux" for the daemon's own lines and "engine" for engine output; each also
// feeds the LogHub (GET /logs) under its source name. Both go through a RedactingSink first: no secret reaches
// stderr or /logs.
void setup_logging(const std::string& level, const std::shared_ptr<LogHub>& hub,
                   const std::shared_ptr<const Secrets>& secrets) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  auto make = [&](const std::string& name) {
    std::vector<spdlog::sink_ptr> sinks{console, std::make_shared<LogHubSink>(hub, name)};
    auto redacting = std::make_shared<RedactingSink>(secrets, std::move(sinks));
    auto logger = std::make_shared<spdlog::logger>(name, redacting);
    logger->set_level(spdlog::level::from_str(level == "warn" ? "warning" : level));
    logger->flush_on(spdlog::level::trace);
    spdlog::register_logger(logger);
    return logger;
  };
  spdlog::set_default_logger(make("llmux"));
  make("engine");
}

// "HOST:PORT", "[V6]:PORT" or ":PORT" (loopback), as the config's `listen:` reads it.
bool parse_listen(const std::string& text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  host = colon == 0 ? "127.0.0.1" : text.substr(0, colon);
  if (host.starts_with('[')) {  // an IPv6 literal: its brackets are URL syntax, not part of the address
    if (host.size() < 3 || !host.ends_with(']')) return false;
    host = host.substr(1, host.size() - 2);
  }
  const auto p = parse_integer(std::string_view(text).substr(colon + 1), 0, 65535);
  if (p) port = static_cast<uint16_t>(*p);
  return p.has_value();
}

struct Daemon {
#ifdef __APPLE__
  net::io_context io{1};  // the memory-pressure dispatch source posts from a GCD thread (worker/pressure_macos.cpp)
#else
  // One thread runs everything and nothing else touches the io_context: no locking in the scheduler or the reactor.
  // (It also rules out asynchronous name resolution, which llmux does not use: engine addresses are IP literals.)
  net::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE};
#endif
  ChildReaper reaper{io};
  std::shared_ptr<const Config> config;
  DaemonInfo info;
  std::unique_ptr<EngineLedger> ledger;  // outlives the coordinator: its supervisor records engines in it
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<Server> server;
  std::unique_ptr<Reloader> reloader;
  net::signal_set signals{io, SIGINT, SIGTERM};
  bool stopping = false;

  void on_signal(int sig);
  net::awaitable<void> shutdown();
};

void Daemon::on_signal(int sig) {
  if (stopping) {
    spdlog::warn("second signal ({}): exiting now, killing the engine", sig);
    coordinator.reset();  // ~Supervisor SIGKILLs the engine's process group
    spdlog::default_logger()->flush();
    std::_Exit(0);  // now: suspended sessions still refer to the coordinator, so nothing may unwind them
  }
  stopping = true;
  spdlog::info("signal {}: shutting down", sig);
  notify_service_manager("STOPPING=1");
  net::co_spawn(io, shutdown(), [](std::exception_ptr) {});
  signals.async_wait([this](const error_code& ec, int s) {
    if (!ec) on_signal(s);
  });
}

net::awaitable<void> Daemon::shutdown() {
  server->stop_accepting();
  reloader.reset();
  coordinator->begin_shutdown();
  auto deadline = std::chrono::steady_clock::now() + config->timeouts.shutdown_grace;
  net::steady_timer tick(io);
  while (coordinator && coordinator->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(25));
    co_await tick.async_wait(net::use_awaitable);
  }
  if (!coordinator) co_return;
  if (coordinator->in_flight() > 0)
    spdlog::warn("shutdown grace over with {} requests in flight; stopping the engine",
                 coordinator->in_flight());
  co_await coordinator->stop_worker_now();
  server->close_sessions();
  spdlog::info("bye");
  io.stop();
}

}  // namespace

int serve(const ServeOptions& opts) {
  Daemon d;
  try {
    auto text = read_file_if_exists(opts.config_path);
    d.config = text ? load_config_text(*text, opts.config_path) : load_config(opts.config_path);
    d.info.config.path = d.config->path;
    d.info.config.text = text.value_or("");
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "llmux: %s\n", e.what());
    return 2;
  }
  std::string host = d.config->listen_host;
  uint16_t port = d.config->listen_port;
  if (opts.listen && !parse_listen(*opts.listen, host, port)) {
    std::fprintf(stderr, "llmux: --listen: expected HOST:PORT, got '%s'\n", opts.listen->c_str());
    return 2;
  }
  if (std::string why = exposure_error(host, d.config->access); !why.empty()) {
    std::fprintf(stderr, "llmux: --listen: %s\n", why.c_str());
    return 2;
  }
  d.info.secrets->add(d.config->secrets);
  setup_logging(d.config->log_level, d.info.logs, d.info.secrets);
  for (const auto& w : d.config->warnings) spdlog::warn("{}", w);
  for (const auto& p : missing_paths(*d.config)) spdlog::warn("{}: {}", d.config->path, p);
  if (!platform_parent_death_signal() && std::getenv("LLMUX_TEST_NO_PDEATHSIG"))
    spdlog::warn("LLMUX_TEST_NO_PDEATHSIG=1 (a test hook): engines outlive llmux if it is killed");
  // Before listening (and before memory is measured): engines a killed llmux left behind hold memory.
  d.ledger = std::make_unique<EngineLedger>(EngineLedger::default_directory());
  reap_stale_engines(*d.ledger);
  const FdLimit fds = raise_fd_limit();  // before listening: the connection cap is counted from it
  spdlog::debug("descriptor limit: {} (was {}; hard limit {})", fds.soft, fds.soft_before, fds.hard);
  d.coordinator = std::make_unique<Coordinator>(d.io, d.reaper, d.config, d.info.secrets);
  d.coordinator->record_engines_in(*d.ledger);
  d.server = std::make_unique<Server>(d.io, *d.coordinator, d.info);
  try {
    auto ep = d.server->listen(host, port);
    const std::string address = ep.address().to_string();
    d.info.listen = (ep.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(ep.port());
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    std::fprintf(stderr, "llmux: %s\n", e.what());
    return 1;
  }
  // Watch before announcing: an edit made right after "listening" must not be missed.
  d.reloader = std::make_unique<Reloader>(d.io, *d.coordinator, d.info);
  d.reloader->start();
  d.coordinator->preload();  // `preload:` models that fit; requests may come meanwhile
  spdlog::info("llmux {} listening on http://{} ({} models, config {})", LLMUX_VERSION, d.info.listen,
               d.config->models.size(), d.config->path);
  // systemd Type=notify: `systemctl start` returns (and dependent units start) once requests can be accepted.
  notify_service_manager("READY=1\nSTATUS=listening on http://" + d.info.listen +
                         "\nMAINPID=" + std::to_string(::getpid()));
  d.signals.async_wait([&d](const error_code& ec, int sig) {
    if (!ec) d.on_signal(sig);
  });
  d.io.run();
  // Let the sessions closed by shutdown unwind while the coordinator they refer to still exists (frames left
  // suspended are destroyed with the io_context, after everything else).
  error_code ec;
  d.signals.cancel(ec);
  d.io.restart();
  for (int i = 0; i < 100 && d.server->sessions() > 0; ++i) d.io.run_for(std::chrono::milliseconds(10));
  return 0;
}

int serve_command(const std::vector<std::string>& args) {
  const auto usage = [](const std::string& msg) {
    std::fprintf(stderr, "llmux: serve: %s (see llmux serve --help)\n", msg.c_str());
    return 2;
  };
  ServeOptions opts;
  OptionParser p;
  p.value("--config|-c", opts.config_path, "a file").value("--listen", opts.listen, "HOST:PORT");
  if (auto err = p.parse(args); !err.empty()) return usage(err);
  if (opts.config_path.empty()) opts.config_path = default_config_path();
  return serve(opts);
}

}  // namespace llmux
