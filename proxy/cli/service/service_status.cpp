// `llmux service status`: is the service file installed (and with which command line), what the manager says
// (active/enabled, or launchd's state), and does a daemon answer GET /health at the URL the installed service
// listens on (its --listen, else its config's `listen`; --url overrides; $LLMUX_URL or the default when not
// installed). Exits 0 whenever it could report, whatever the state.
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/service/service_cli.hpp"
#include "proxy/cli/service/service_platform.hpp"

namespace llmux::svc {

namespace {

using nlohmann::json;

// A URL the CLI can call for a listen address; nullopt for an ephemeral port (0).
std::optional<std::string> url_for(std::string host, uint16_t port) {
  if (port == 0) return std::nullopt;
  if (host.empty() || host == "0.0.0.0" || host == "localhost") host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "::1";
  if (host.find(':') != std::string::npos && !host.starts_with("[")) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}

// Where the installed service listens: its --listen, else its config's `listen` (a config error goes to report).
std::optional<std::string> installed_url(const ServeArgs& args, json& report) {
  if (args.listen) {
    auto colon = args.listen->rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    try {
      return url_for(args.listen->substr(0, colon), static_cast<uint16_t>(std::stoi(args.listen->substr(colon + 1))));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (!args.config) return std::nullopt;
  try {
    auto cfg = load_config(*args.config);
    return url_for(cfg->listen_host, cfg->listen_port);
  } catch (const std::exception& e) {
    report["configError"] = e.what();
    return std::nullopt;
  }
}

void describe_manager(const ServiceContext& c, json& report, std::vector<std::string>& lines) {
  std::string label = std::string(service_manager_name()) + "   ";
  if (!c.manager) {
    lines.push_back(label + "not asked (LLMUX_SERVICE_MANAGER=none)");
    return;
  }
  ManagerRun run;
  auto st = manager_state(run);
  report["active"] = st.active.empty() ? json(nullptr) : json(st.active);
  report["enabled"] = st.enabled.empty() ? json(nullptr) : json(st.enabled);
  report["managerError"] = st.error.empty() ? json(nullptr) : json(st.error);
  if (!st.error.empty()) lines.push_back(label + "unknown: " + st.error);
  else lines.push_back(label + st.active + ", " + st.enabled);
}

void probe_daemon(const std::string& url, json& report, std::vector<std::string>& lines) {
  report["url"] = url;
  std::string why;
  try {
    auto r = http_call(url, "GET", "/health", "", std::chrono::seconds(3));
    if (r.status == 200) {
      report["answering"] = true;
      lines.push_back("daemon    answering at " + url);
      return;
    }
    why = "GET /health answered HTTP " + std::to_string(r.status);
  } catch (const std::exception& e) {
    why = e.what();
  }
  report["answering"] = false;
  report["healthError"] = why;
  lines.push_back("daemon    not answering at " + url + ": " + why);
}

}  // namespace

int service_status(const ServiceOptions& o, const ServiceContext& c) {
  json report{{"action", "status"}, {"path", c.file}, {"installed", false}, {"manager", manager_label(c)}};
  std::vector<std::string> lines;
  std::optional<std::string> url = o.url;
  auto text = read_text(c.file);
  if (!text) {
    lines.push_back("service   not installed (no " + tilde(c.file, c.home) + ")");
  } else {
    auto argv = installed_command(*text, c.home);
    auto args = serve_args_of(argv);
    report["installed"] = true;
    report["command"] = argv;
    report["config"] = args.config ? json(*args.config) : json(nullptr);
    lines.push_back("service   installed: " + tilde(c.file, c.home));
    lines.push_back("command   " + (argv.empty() ? std::string("(none found)") : join(argv, " ")));
    if (!url) url = installed_url(args, report);
    if (report.contains("configError")) lines.push_back("config    " + report["configError"].get<std::string>());
    describe_manager(c, report, lines);
  }
  probe_daemon(url.value_or(default_daemon_url()), report, lines);
  return finish(o, report, lines, "");
}

}  // namespace llmux::svc
