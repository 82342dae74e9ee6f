#include "proxy/cli/service/service.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "common/config.hpp"
#include "proxy/cli/options.hpp"
#include "proxy/cli/service/service_cli.hpp"
#include "proxy/cli/service/service_platform.hpp"

namespace llmux {
namespace svc {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kServiceUsage =
    "usage: llmux service install [--config FILE] [--listen HOST:PORT] [--no-start] [--force] [--json]\n"
    "       llmux service uninstall [--json]\n"
    "       llmux service status [--url URL] [--json]\n";

int usage(const std::string& msg) {
  std::fprintf(stderr, "llmux: service: %s\n%s", msg.c_str(), kServiceUsage);
  return 2;
}

std::string parse_options(const std::vector<std::string>& args, ServiceOptions& o) {
  OptionParser p;
  p.flag("--json", o.json);
  if (o.sub == "install") {
    p.flag("--no-start", o.no_start).flag("--force", o.force);
    p.value("--config|-c", o.config, "a file").value("--listen", o.listen, "HOST:PORT");
  }
  if (o.sub == "status") p.value("--url", o.url, "a URL");
  const std::string err = p.parse(std::vector<std::string>(args.begin() + 1, args.end()));
  return err.empty() ? "" : o.sub + ": " + err;
}

bool valid_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  return colon != std::string::npos && parse_integer(std::string_view(listen).substr(colon + 1), 0, 65535);
}

// Empty when the config file loads; else why not, in one line.
std::string config_problem(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "config " + path + " does not exist";
  try {
    load_config(path);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

// The CMakeCache.txt of the build tree that holds `binary` (in one of its folders), or "" when there is none.
std::string build_tree_marker(const std::string& binary) {
  std::error_code ec;
  for (fs::path dir = fs::path(binary).parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / "CMakeCache.txt", ec)) return (dir / "CMakeCache.txt").string();
    if (dir == dir.parent_path()) break;
  }
  return "";
}

// Writes through a temporary file and a rename: a unit is never seen half-written.
void write_service_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + tmp);
  fs::rename(tmp, path);
}

// Builds the spec from the options; false with `failure` set when it cannot.
bool make_spec(const ServiceOptions& o, const ServiceContext& c, ServiceSpec& spec, json& report,
               std::string& failure) {
  try {
    spec.binary = running_binary_path();
  } catch (const std::exception& e) {
    return failure = e.what(), false;
  }
  report["binary"] = spec.binary;
  // A unit that runs a build tree's binary breaks at the next `rm -rf build` or half-done rebuild.
  if (std::string marker = build_tree_marker(spec.binary); !marker.empty() && !o.force)
    return failure = spec.binary + " is in a build tree (" + marker + "); install llmux first (scripts/install.sh, "
                     "then ~/.local/bin/llmux service install), or pass --force to use this binary",
           false;
  spec.config_path = fs::absolute(o.config.value_or(default_config_path())).lexically_normal().string();
  spec.home = c.home;
  spec.listen = o.listen;
  report["config"] = spec.config_path;
  report["listen"] = spec.listen ? json(*spec.listen) : json(nullptr);
  std::string problem = config_problem(spec.config_path);
  if (problem.empty()) return true;
  if (!o.no_start && c.manager) return failure = problem + "; fix it first, or install with --no-start", false;
  report["warnings"].push_back(problem + "; the service will not start until it is fixed");
  return true;
}

int install(const ServiceOptions& o, const ServiceContext& c) {
  json report{{"action", "install"}, {"path", c.file}, {"manager", manager_label(c)}, {"started", false},
              {"commands", json::array()}, {"warnings", json::array()}};
  ServiceSpec spec;
  std::string failure;
  if (!make_spec(o, c, spec, report, failure)) return finish(o, report, {}, failure);
  std::string text;
  try {
    text = render_service_file(spec);
    auto previous = read_text(c.file);
    report["replaced"] = previous && *previous != text;
    write_service_file(c.file, text);
    prepare_service_dirs(c.home);
  } catch (const std::exception& e) {
    return finish(o, report, {}, "cannot install " + c.file + ": " + e.what());
  }
  std::vector<std::string> lines{"wrote " + tilde(c.file, c.home) + ": " + display_command(serve_argv(spec))};
  for (const auto& w : report["warnings"]) lines.push_back("warning: " + w.get<std::string>());
  if (o.no_start || !c.manager) {
    std::string why = o.no_start ? "--no-start" : "LLMUX_SERVICE_MANAGER=none";
    lines.push_back("not started (" + why + "); to start it: " + service_start_hint(c.file));
    return finish(o, report, lines, "");
  }
  ManagerRun run;
  bool ok = manager_install_start(run, c.file, report["replaced"].get<bool>());
  report["commands"] = run.ran();
  if (!ok) return finish(o, report, {}, "wrote " + tilde(c.file, c.home) + " but " + run.failure());
  report["started"] = true;
  lines.push_back("started the llmux service (" + join(run.ran(), "; ") + ")");
  lines.push_back("logs: " + service_log_hint(c.home));
  return finish(o, report, lines, "");
}

int uninstall(const ServiceOptions& o, const ServiceContext& c) {
  json report{{"action", "uninstall"}, {"path", c.file}, {"manager", manager_label(c)}, {"removed", false},
              {"commands", json::array()}};
  std::error_code ec;
  if (!fs::exists(c.file, ec)) {
    report["installed"] = false;
    return finish(o, report, {"llmux service is not installed (no " + tilde(c.file, c.home) + ")"}, "");
  }
  report["installed"] = true;
  ManagerRun run;
  bool stopped = !c.manager || manager_stop(run);
  fs::remove(c.file, ec);
  if (ec) {
    report["commands"] = run.ran();
    return finish(o, report, {}, "cannot remove " + c.file + ": " + ec.message());
  }
  report["removed"] = true;
  bool forgotten = stopped && (!c.manager || manager_forget(run));
  report["commands"] = run.ran();
  if (!forgotten) return finish(o, report, {}, "removed " + tilde(c.file, c.home) + " but " + run.failure());
  std::vector<std::string> lines;
  if (c.manager) lines.push_back("stopped the llmux service (" + join(run.ran(), "; ") + ")");
  lines.push_back("removed " + tilde(c.file, c.home) + (c.manager ? "" : " (not stopped: LLMUX_SERVICE_MANAGER=none)"));
  return finish(o, report, lines, "");
}

}  // namespace

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tilde(const std::string& path, const std::string& home) {
  if (!home.empty() && home != "/" && path.starts_with(home + "/")) return "~" + path.substr(home.size());
  return path;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : sep) + item;
  return out;
}

std::string manager_label(const ServiceContext& c) { return c.manager ? service_manager_name() : "none"; }

int finish(const ServiceOptions& o, json report, const std::vector<std::string>& lines, const std::string& failure) {
  report["error"] = failure.empty() ? json(nullptr) : json(failure);
  if (o.json) std::printf("%s\n", report.dump(2).c_str());
  else if (failure.empty())
    for (const auto& line : lines) std::printf("%s\n", line.c_str());
  if (failure.empty()) return 0;
  std::fprintf(stderr, "llmux: %s\n", failure.c_str());
  return 1;
}

std::optional<ServiceContext> service_context(std::string& error) {
  ServiceContext c;
  c.home = user_home();
  if (c.home.empty()) return error = "cannot find your home directory (HOME is not set)", std::nullopt;
  const char* manager = std::getenv("LLMUX_SERVICE_MANAGER");
  std::string m = manager ? manager : "";
  if (m == "none") c.manager = false;
  else if (!m.empty() && m != "auto" && m != service_manager_name())
    return error = "LLMUX_SERVICE_MANAGER must be 'none', 'auto' or '" + std::string(service_manager_name()) +
                   "', got '" + m + "'",
           std::nullopt;
  c.file = service_file_path(c.home);
  return c;
}

}  // namespace svc

using namespace svc;

int cli_service(const std::vector<std::string>& args) {
  if (args.empty()) return usage("expected 'install', 'uninstall' or 'status'");
  ServiceOptions o;
  o.sub = args[0];
  if (o.sub != "install" && o.sub != "uninstall" && o.sub != "status")
    return usage("unknown subcommand '" + o.sub + "'");
  if (auto err = parse_options(args, o); !err.empty()) return usage(err);
  std::string error;
  if (o.listen && !valid_listen(*o.listen)) return usage("--listen: expected HOST:PORT, got '" + *o.listen + "'");
  auto c = service_context(error);
  if (!c) return finish(o, json{{"action", o.sub}}, {}, error);
  try {
    if (o.sub == "install") return install(o, *c);
    if (o.sub == "uninstall") return uninstall(o, *c);
    return service_status(o, *c);
  } catch (const std::exception& e) {  // filesystem errors not handled above
    return finish(o, json{{"action", o.sub}}, {}, e.what());
  }
}

bool service_start_if_installed(std::string& message) {
  auto c = service_context(message);
  if (!c) return false;
  std::error_code ec;
  if (!fs::exists(c->file, ec))
    return message = "the llmux service is not installed (run `llmux service install`)", false;
  if (!c->manager) return message = "not starting the llmux service: LLMUX_SERVICE_MANAGER=none", false;
  ManagerRun run;
  if (!manager_start(run, c->file)) return message = run.failure(), false;
  message = join(run.ran(), "; ");
  return true;
}

}  // namespace llmux
