// `llmux service install|uninstall|status`: llmux as a per-user service (systemd user unit on Linux, launchd
// LaunchAgent on macOS), rendered from the embedded templates with the absolute paths of this llmux binary and
// its config, then enabled and started through systemctl/launchctl (unless --no-start or
// LLMUX_SERVICE_MANAGER=none). Returns the exit code: 0 ok, 1 failure (one line on stderr: what was done and
// which command failed, with its message and exit status), 2 usage error. --json prints one JSON object on stdout,
// also on failure (with "error"). Never throws.
#pragma once

#include <string>
#include <vector>

namespace llmux {

int cli_service(const std::vector<std::string>& args);

// Starts the installed service through its manager (`systemctl --user start llmux.service`, or launchctl
// kickstart/bootstrap). false with a one-line `message` when it is not installed, LLMUX_SERVICE_MANAGER=none,
// or the manager fails; true with the commands it ran in `message` ("systemctl --user start llmux.service").
// With systemd it returns once llmux is listening (Type=notify); launchd returns at once, so a caller that
// needs the daemon polls GET /health.
bool service_start_if_installed(std::string& message);

}  // namespace llmux
