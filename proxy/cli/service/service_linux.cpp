// `llmux service` on Linux: a systemd user unit in $XDG_CONFIG_HOME/systemd/user (default ~/.config/systemd/user),
// managed with `systemctl --user`.
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "proxy/cli/service/service_platform.hpp"

namespace llmux::svc {

namespace {

const std::string kUnit = "llmux.service";

std::vector<std::string> systemctl(std::initializer_list<std::string> args) {
  std::vector<std::string> argv{"systemctl", "--user"};
  argv.insert(argv.end(), args);
  return argv;
}

// The single word `systemctl is-active|is-enabled` prints; empty when it printed an error instead.
std::string state_word(const CommandResult& r) {
  std::string out = r.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  bool word = !out.empty() && out.find_first_not_of("abcdefghijklmnopqrstuvwxyz-") == std::string::npos;
  return word ? out : "";
}

}  // namespace

const char* service_manager_name() { return "systemd"; }

std::string service_file_path(const std::string& home) {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  std::string config = xdg && xdg[0] == '/' ? xdg : home + "/.config";  // relative values are invalid: ignored
  return config + "/systemd/user/" + kUnit;
}

std::string service_log_hint(const std::string&) { return "journalctl --user -u llmux -f"; }

std::string service_start_hint(const std::string&) {
  return "systemctl --user daemon-reload && systemctl --user enable --now " + kUnit;
}

std::string running_binary_path() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find the llmux executable (/proc/self/exe): " + ec.message());
  return path.string();
}

std::string render_service_file(const ServiceSpec& spec) { return render_systemd_unit(systemd_unit_template(), spec); }

std::vector<std::string> installed_command(const std::string& text, const std::string& home) {
  return systemd_exec_argv(text, home);
}

void prepare_service_dirs(const std::string&) {}  // logs go to the journal

bool manager_install_start(ManagerRun& run, const std::string&, bool replaced) {
  if (!run.run(systemctl({"daemon-reload"}))) return false;
  // A running llmux keeps its old command line until restarted; try-restart leaves a stopped one stopped.
  if (replaced && !run.run(systemctl({"try-restart", kUnit}))) return false;
  return run.run(systemctl({"enable", "--now", kUnit}));
}

bool manager_start(ManagerRun& run, const std::string&) { return run.run(systemctl({"start", kUnit})); }

bool manager_stop(ManagerRun& run) { return run.run(systemctl({"disable", "--now", kUnit})); }

bool manager_forget(ManagerRun& run) { return run.run(systemctl({"daemon-reload"})); }

ManagerState manager_state(ManagerRun& run) {
  ManagerState s;
  auto active = run.query(systemctl({"is-active", kUnit}));
  auto enabled = run.query(systemctl({"is-enabled", kUnit}));
  s.active = state_word(active);
  s.enabled = state_word(enabled);
  const CommandResult& bad = s.active.empty() ? active : enabled;
  if (s.active.empty() || s.enabled.empty()) {
    std::string why = bad.exit_code < 0 ? bad.error : bad.output.substr(0, bad.output.find('\n'));
    s.error = "`" + display_command(systemctl({s.active.empty() ? "is-active" : "is-enabled", kUnit})) +
              "` failed: " + why;
  }
  return s;
}

}  // namespace llmux::svc
