// Internals shared by the `llmux service` subcommands (service.cpp: install, uninstall; service_status.cpp:
// status): parsed options, the resolved context (home, service file, whether the manager is called) and the one
// output path, finish(), which prints the report (--json) or the human lines, and the failure line.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace llmux::svc {

struct ServiceOptions {
  std::string sub;  // install | uninstall | status
  std::optional<std::string> config, listen, url;
  bool no_start = false;
  bool force = false;  // install: accept a binary inside a build tree
  bool json = false;
};

struct ServiceContext {
  std::string home;
  std::string file;     // the unit / plist path
  bool manager = true;  // false: LLMUX_SERVICE_MANAGER=none, systemctl/launchctl are never run
};

// nullopt with `error` when HOME is unknown or LLMUX_SERVICE_MANAGER has an unknown value.
std::optional<ServiceContext> service_context(std::string& error);

// Prints `report` (with "error": failure or null) as JSON when --json, else `lines` when there is no failure;
// a failure also goes to stderr as "llmux: <failure>". Returns 0, or 1 on failure.
int finish(const ServiceOptions& o, nlohmann::json report, const std::vector<std::string>& lines,
           const std::string& failure);

int service_status(const ServiceOptions& o, const ServiceContext& c);

std::optional<std::string> read_text(const std::string& path);     // nullopt when it cannot be opened
std::string tilde(const std::string& path, const std::string& home);  // "/home/u/x" → "~/x"
std::string join(const std::vector<std::string>& items, const std::string& sep);
std::string manager_label(const ServiceContext& c);  // "systemd" | "launchd" | "none"

}  // namespace llmux::svc
