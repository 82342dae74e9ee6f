// Service files for `llmux service install`, as pure functions: render the systemd unit and the launchd plist from
// their templates (systemd/llmux.service, launchd/dev.llmux.plist, embedded into the binary at build time) with
// the absolute paths of llmux and its config, and read those back from an installed file (for `service status`).
// Rendering replaces only the command line (ExecStart / ProgramArguments), the leading comment and `__HOME__`;
// every other line of the template is kept. Throws std::invalid_argument for a path with a newline or NUL, or a
// template without the expected command line. No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

struct ServiceSpec {
  std::string binary;                 // absolute path of the llmux executable
  std::string config_path;            // absolute path of the config file
  std::string home;                   // the user's home (launchd log paths)
  std::optional<std::string> listen;  // `serve --listen HOST:PORT`, when given at install
};

// The embedded templates, byte for byte.
std::string_view systemd_unit_template();
std::string_view launchd_plist_template();

// `<binary> serve --config <config> [--listen <listen>]`
std::vector<std::string> serve_argv(const ServiceSpec& spec);

std::string render_systemd_unit(std::string_view tmpl, const ServiceSpec& spec);
std::string render_launchd_plist(std::string_view tmpl, const ServiceSpec& spec);

// The command line of an installed file (empty when it has none). Systemd: ExecStart split with systemd's
// quoting rules; `%h` expands to `home`, `%%` to `%`, `$$` to `$`. Launchd: the ProgramArguments strings.
std::vector<std::string> systemd_exec_argv(std::string_view unit, const std::string& home);
std::vector<std::string> launchd_program_arguments(std::string_view plist);

// `--config` / `-c` / `--config=` and `--listen` of a `serve` command line.
struct ServeArgs {
  std::optional<std::string> config;
  std::optional<std::string> listen;
};
ServeArgs serve_args_of(const std::vector<std::string>& argv);

// One ExecStart word: bare when safe, else double-quoted with `\` and `"` escaped; `%` → `%%`, `$` → `$$`.
std::string systemd_quote(std::string_view word);
std::string xml_escape(std::string_view text);

}  // namespace llmux
