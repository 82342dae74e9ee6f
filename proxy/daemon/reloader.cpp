#include "proxy/daemon/reloader.hpp"

#include <spdlog/spdlog.h>

#include "common/config_diff.hpp"
#include "proxy/daemon/config_watcher.hpp"

namespace llmux {

Reloader::Reloader(net::io_context& io, Coordinator& coordinator, DaemonInfo& info)
    : io_(io), coordinator_(coordinator), info_(info), sighup_(io, SIGHUP) {}

Reloader::~Reloader() = default;

void Reloader::start() {
  watcher_ = std::make_unique<ConfigWatcher>(io_, std::vector<std::string>{info_.config.path},
                                             [this] { reload("file change"); });
  spdlog::debug("watching {} ({})", info_.config.path, watcher_->backend());
  on_sighup();
  net::post(io_, [this] { reload("start"); });  // an edit between the first read and the watch is not lost
}

void Reloader::on_sighup() {
  sighup_.async_wait([this](const error_code& ec, int) {
    if (ec) return;
    reload("SIGHUP");
    on_sighup();
  });
}

void Reloader::refuse(const std::string& error) {
  if (error != info_.config.error)
    spdlog::error("config edit refused, still serving the previous config: {}", error);
  info_.config.error = error;
  info_.config.error_at = std::chrono::system_clock::now();
}

void Reloader::reload(const char* trigger) {
  auto& state = info_.config;
  auto text = read_file_if_exists(state.path);
  if (!text) {
    spdlog::debug("config {} is missing ({}); waiting for it to come back", state.path, trigger);
    return;
  }
  if (*text == state.text) {
    if (!state.error.empty()) spdlog::info("config is back to the serving version; error cleared");
    state.error.clear();
    return;
  }
  std::shared_ptr<const Config> next;
  try {
    next = load_config_text(*text, state.path);
  } catch (const ConfigError& e) {
    return refuse(e.what());
  }
  info_.secrets->add(next->secrets);  // before anything about the new config is logged ("+ model x added: cmd")
  const Config& current = *coordinator_.config();
  ConfigDiff diff = diff_configs(current, *next);
  state.pending_restart.clear();
  if (diff.listen_changed) {  // cannot move the listening socket live: keep serving where we are
    auto patched = std::make_shared<Config>(*next);
    patched->listen_host = current.listen_host;
    patched->listen_port = current.listen_port;
    next = patched;
    state.pending_restart.push_back("listen");
  }
  for (const auto& w : next->warnings) spdlog::warn("{}", w);
  for (const auto& line : diff.lines) spdlog::info("config reload ({}): {}", trigger, line);
  if (diff.empty()) spdlog::info("config reload ({}): no effective change", trigger);
  if (next->log_level != current.log_level)
    spdlog::set_level(spdlog::level::from_str(next->log_level == "warn" ? "warning" : next->log_level));
  coordinator_.apply_config(next);
  state.text = std::move(*text);
  state.error.clear();
  state.loaded_at = std::chrono::system_clock::now();
  ++state.reloads;
}

}  // namespace llmux
