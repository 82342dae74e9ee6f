// `llmux service` on macOS: a LaunchAgent in ~/Library/LaunchAgents/dev.llmux.plist, logging to
// ~/Library/Logs/llmux/llmux.log, managed with `launchctl` in the user's GUI domain (gui/<uid>).
#include <mach-o/dyld.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "proxy/cli/service/service_platform.hpp"

namespace llmux::svc {

namespace {

std::string domain() { return "gui/" + std::to_string(::getuid()); }
std::string job() { return domain() + "/dev.llmux"; }

bool loaded(ManagerRun& run) { return run.query({"launchctl", "print", job()}).exit_code == 0; }

// "state = running" from `launchctl print`; "" when absent.
std::string print_field(const std::string& text, const std::string& key) {
  size_t pos = text.find("\t" + key + " = ");
  if (pos == std::string::npos) pos = text.find(" " + key + " = ");
  if (pos == std::string::npos) return "";
  pos += key.size() + 4;
  return text.substr(pos, text.find('\n', pos) - pos);
}

}  // namespace

const char* service_manager_name() { return "launchd"; }

std::string service_file_path(const std::string& home) { return home + "/Library/LaunchAgents/dev.llmux.plist"; }

std::string service_log_hint(const std::string& home) { return "tail -f " + home + "/Library/Logs/llmux/llmux.log"; }

std::string service_start_hint(const std::string& file) { return "launchctl bootstrap " + domain() + " " + file; }

std::string running_binary_path() {
  char raw[PATH_MAX];
  uint32_t size = sizeof raw;
  if (_NSGetExecutablePath(raw, &size) != 0)
    throw std::runtime_error("cannot find the llmux executable: path too long");
  char resolved[PATH_MAX];
  if (!::realpath(raw, resolved)) throw std::runtime_error(std::string("cannot resolve the llmux executable ") + raw);
  return resolved;
}

std::string render_service_file(const ServiceSpec& spec) {
  return render_launchd_plist(launchd_plist_template(), spec);
}

std::vector<std::string> installed_command(const std::string& text, const std::string&) {
  return launchd_program_arguments(text);
}

// launchd does not create the directories of StandardOutPath/StandardErrorPath: the job would fail to start.
void prepare_service_dirs(const std::string& home) {
  std::filesystem::create_directories(home + "/Library/Logs/llmux");
}

bool manager_install_start(ManagerRun& run, const std::string& file, bool replaced) {
  if (loaded(run)) {
    if (!replaced) return run.run({"launchctl", "kickstart", job()});  // starts it unless it runs already
    if (!run.run({"launchctl", "bootout", job()})) return false;   // launchd keeps the old plist until then
  }
  // `enable` clears a `launchctl disable` left from earlier, which would make bootstrap fail.
  return run.run({"launchctl", "enable", job()}) && run.run({"launchctl", "bootstrap", domain(), file});
}

bool manager_start(ManagerRun& run, const std::string& file) {
  if (loaded(run)) return run.run({"launchctl", "kickstart", job()});
  return run.run({"launchctl", "enable", job()}) && run.run({"launchctl", "bootstrap", domain(), file});
}

bool manager_stop(ManagerRun& run) { return !loaded(run) || run.run({"launchctl", "bootout", job()}); }

bool manager_forget(ManagerRun&) { return true; }

ManagerState manager_state(ManagerRun& run) {
  ManagerState s;
  auto r = run.query({"launchctl", "print", job()});
  if (r.exit_code < 0) {
    s.error = "`launchctl print " + job() + "` failed: " + r.error;
  } else if (r.exit_code != 0) {
    s.active = "not loaded", s.enabled = "not loaded";
  } else {
    std::string state = print_field(r.output, "state");
    s.active = state.empty() ? "loaded" : state;
    s.enabled = "loaded";
  }
  return s;
}

}  // namespace llmux::svc
