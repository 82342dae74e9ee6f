#include "proxy/cli/cli_discover.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/footprint.hpp"
#include "proxy/cli/cli_daemon.hpp"
#include "proxy/cli/cli_json.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/discover.hpp"
#include "proxy/cli/options.hpp"

namespace llmux {

namespace {

using nlohmann::json;

struct DiscoverOptions {
  std::string url = default_daemon_url();
  std::string config;  // read when the daemon is down (default: $LLMUX_CONFIG, ~/.config/llmux/config.yaml)
  bool json_out = false;
  std::vector<std::string> dirs;
  std::vector<std::string> table_args;  // what `llmux models` gets for the configured table
};

std::string parse(const std::vector<std::string>& args, DiscoverOptions& o) {
  bool discover = false;  // how the command was reached
  std::string err = OptionParser()
                        .flag("--discover", discover)
                        .values("--dir", o.dirs, "a directory")
                        .flag("--json", o.json_out)
                        .value("--url", o.url, "a URL")
                        .value("--config|-c", o.config, "a file")
                        .parse(args);
  for (auto& d : o.dirs) d = expand_home(d);
  if (!o.config.empty()) o.config = expand_home(o.config);
  o.table_args = {"--url", o.url};
  return err;
}

// What the running daemon tells about fit and configured commands; offline when it cannot be reached.
struct DaemonView {
  bool reachable = false;
  std::optional<uint64_t> budget;
  std::vector<std::vector<std::string>> argvs;  // every configured model's engine command
};

void read_config(const std::string& url, DaemonView& v) {
  auto r = http_call(url, "GET", "/config");
  auto j = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !j.is_object()) return;
  try {
    auto cfg = load_config_text(j.value("text", ""), j.value("path", "running config"));
    for (const auto& m : cfg->models) v.argvs.push_back(m.argv);
  } catch (const std::exception&) {
    // a config this CLI cannot read (e.g. an env macro only the daemon has): nothing is marked configured
  }
}

// The daemon is down: the configured models come from the config file it would read, when there is one.
std::string read_local_config(const std::string& path, DaemonView& v) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::is_regular_file(path, ec)) return "configured models not checked";
  try {
    auto cfg = load_config(path);
    for (const auto& m : cfg->models) v.argvs.push_back(m.argv);
    return "configured models read from " + path;
  } catch (const std::exception& e) {
    return "configured models not checked: " + std::string(e.what());
  }
}

DaemonView ask_daemon(const DiscoverOptions& o) {
  DaemonView v;
  try {
    auto r = http_call(o.url, "GET", "/status", "", std::chrono::seconds(5));
    auto s = json::parse(r.body, nullptr, false);
    v.reachable = r.status == 200;
    if (s.is_object() && opt(s, "system").is_object() && opt(opt(s, "system"), "budgetBytes").is_number())
      v.budget = opt(opt(s, "system"), "budgetBytes").get<uint64_t>();
    if (v.reachable) read_config(o.url, v);
  } catch (const std::exception& e) {
    const std::string source = read_local_config(o.config.empty() ? default_config_path() : o.config, v);
    std::fprintf(stderr, "llmux: %s (fit unknown; %s)\n", e.what(), source.c_str());
  }
  return v;
}

std::vector<std::string> search_dirs(const DiscoverOptions& o, const DaemonView& v) {
  std::vector<std::string> dirs = o.dirs;
  if (const char* env = std::getenv("LLMUX_MODEL_DIRS"))
    for (auto& d : split_dirs(env)) dirs.push_back(d);
  for (auto& d : gguf_dirs_of(v.argvs)) dirs.push_back(d);
  std::vector<std::string> unique;
  for (auto& d : dirs)
    if (std::find(unique.begin(), unique.end(), d) == unique.end()) unique.push_back(d);
  return unique;
}

json fit_json(const FoundModel& m, const DaemonView& v) {
  auto f = fits(m.bytes, v.budget);
  return f ? json(*f) : json(nullptr);
}

json result_json(const std::vector<FoundModel>& found, const DaemonView& v, const std::string& hub,
                 const std::vector<std::string>& dirs) {
  json list = json::array();
  for (const auto& m : found)
    list.push_back({{"id", m.id}, {"name", m.name}, {"format", m.format}, {"path", m.path}, {"bytes", m.bytes},
                    {"size", format_bytes(m.bytes)}, {"fits", fit_json(m, v)}, {"configured", m.configured}});
  return {{"found", list}, {"snippet", config_snippet(found)}, {"hfCache", hub}, {"dirs", dirs},
          {"budgetBytes", v.budget ? json(*v.budget) : json(nullptr)}, {"daemonReachable", v.reachable}};
}

void print_found(const std::vector<FoundModel>& found, const DaemonView& v, const std::string& hub,
                 const std::vector<std::string>& dirs) {
  std::string where = hub.empty() ? "no Hugging Face cache" : hub;
  for (const auto& d : dirs) where += ", " + d;
  std::printf("model files on disk (searched %s)", where.c_str());
  if (v.budget) std::printf("; fits = size x 1.2 within the %s budget", format_bytes(*v.budget).c_str());
  std::printf(":\n");
  if (found.empty()) return (void)std::printf("  none found\n");
  std::printf("%-40s %-11s %-10s %-4s %-10s %s\n", "NAME", "FORMAT", "SIZE", "FITS", "CONFIGURED", "PATH");
  for (const auto& m : found) {
    auto f = fits(m.bytes, v.budget);
    std::printf("%-40s %-11s %-10s %-4s %-10s %s\n", m.name.c_str(), m.format.c_str(), format_bytes(m.bytes).c_str(),
                f ? (*f ? "yes" : "NO") : "?", m.configured ? "yes" : "no", m.path.c_str());
  }
  if (std::string snippet = config_snippet(found); !snippet.empty()) std::printf("\n%s", snippet.c_str());
}

}  // namespace

bool wants_discover(const std::vector<std::string>& args) {
  return std::find(args.begin(), args.end(), "--discover") != args.end();
}

int cli_discover(const std::vector<std::string>& args) {
  DiscoverOptions o;
  if (auto err = parse(args, o); !err.empty()) {
    std::fprintf(stderr, "llmux: models --discover: %s\n", err.c_str());
    return 2;
  }
  const DaemonView v = ask_daemon(o);
  const std::string hub = hf_hub_cache();
  const std::vector<std::string> dirs = search_dirs(o, v);
  std::vector<FoundModel> found = scan_hf_cache(hub);
  for (auto& m : scan_gguf_dirs(dirs)) found.push_back(std::move(m));
  finalize(found, v.argvs);
  if (o.json_out) {
    std::printf("%s\n", result_json(found, v, hub, dirs).dump(2, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }
  if (v.reachable && cli_models(o.table_args) == 0) std::printf("\n");
  print_found(found, v, hub, dirs);
  return 0;
}

}  // namespace llmux
