// Internals of `llmux service`: running the service manager's commands (fork/exec with an argv, no shell, exit
// status captured, bounded by a timeout) and the per-platform facts: where the service file goes and which
// commands start, stop and query it. service_linux.cpp (systemd user unit) or service_macos.cpp (launchd
// LaunchAgent) defines the platform functions, service_exec.cpp the runner. Nothing here throws except
// running_binary_path() (std::runtime_error).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "proxy/cli/service/service_render.hpp"

namespace llmux::svc {

struct CommandResult {
  int exit_code = -1;   // -1: it could not run, or did not exit normally (see `error`)
  std::string output;   // stdout and stderr, interleaved
  std::string error;    // "systemctl not found in PATH", "killed by signal 9", "timed out after 120s"
};

std::string find_in_path(const std::string& program);  // "" when not found
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::seconds timeout = std::chrono::seconds(120));
std::string display_command(const std::vector<std::string>& argv);  // "systemctl --user daemon-reload"

// Runs a sequence of manager commands, stopping at the first failure, which it keeps as one line:
// "`systemctl --user enable --now llmux.service` failed: Failed to connect to bus (exit 1)".
class ManagerRun {
 public:
  bool run(const std::vector<std::string>& argv);           // false on failure
  CommandResult query(const std::vector<std::string>& argv);  // runs without judging the exit status
  const std::vector<std::string>& ran() const { return ran_; }
  const std::string& failure() const { return failure_; }

 private:
  std::vector<std::string> ran_;
  std::string failure_;
};

// What the manager says about the installed service: systemd `is-active`/`is-enabled` words, or launchd's
// state and whether the job is loaded. `error` is set (one line) when the manager could not be asked.
struct ManagerState {
  std::string active;
  std::string enabled;
  std::string error;
};

// --- per platform ---
const char* service_manager_name();                        // "systemd" | "launchd"
std::string service_file_path(const std::string& home);   // the unit or plist llmux installs
std::string service_log_hint(const std::string& home);    // how to follow the log
std::string service_start_hint(const std::string& file);  // the manual commands that --no-start skipped
std::string running_binary_path();                         // absolute, symlinks resolved
std::string render_service_file(const ServiceSpec& spec);
std::vector<std::string> installed_command(const std::string& text, const std::string& home);
void prepare_service_dirs(const std::string& home);        // launchd: the log directory; throws like filesystem

bool manager_install_start(ManagerRun& run, const std::string& file, bool replaced);  // reload, enable, start
bool manager_start(ManagerRun& run, const std::string& file);  // start the installed service
bool manager_stop(ManagerRun& run);                            // stop and disable, before the file is removed
bool manager_forget(ManagerRun& run);                          // after the file is removed
ManagerState manager_state(ManagerRun& run);

}  // namespace llmux::svc
