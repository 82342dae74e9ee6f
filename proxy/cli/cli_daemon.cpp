#include "proxy/cli/cli_daemon.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "proxy/cli/cli_discover.hpp"
#include "proxy/cli/cli_json.hpp"
#include "proxy/cli/cli_watch.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/options.hpp"
#include "proxy/cli/status_view.hpp"

namespace llmux {

namespace {

using nlohmann::json;

struct Options {
  std::string url = default_daemon_url();
  bool json_out = false;
  bool force = false;
  bool all = false;
  bool watch = false;            // status
  std::string interval = "1";    // status --watch: seconds between redraws
  std::vector<std::string> positional;
};

// The options of `cmd` (status, models, load or unload); "" or the usage line, prefixed with `cmd`.
std::string parse(const std::string& cmd, const std::vector<std::string>& args, Options& o) {
  std::optional<std::string> interval;
  OptionParser p;
  p.flag("--json", o.json_out).value("--url", o.url, "a URL");
  if (cmd == "status") p.flag("--watch|-w", o.watch).value("--interval", interval, "a value (seconds)");
  if (cmd == "unload") p.flag("--force", o.force).flag("--all", o.all);
  if (cmd == "load" || cmd == "unload") p.positionals(o.positional, 1, "MODEL");
  std::string err = p.parse(args);
  if (err.empty() && interval && !o.watch) err = "--interval goes with --watch";
  if (interval) o.interval = *interval;
  return err.empty() ? "" : cmd + ": " + err;
}

// Calls the daemon; on failure prints one line and returns nullopt (exit 1).
std::optional<json> call(const Options& o, const std::string& method, const std::string& target,
                         const std::string& body = "", std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  try {
    auto r = http_call(o.url, method, target, body, timeout);
    auto j = json::parse(r.body, nullptr, false);
    if (r.status >= 400) {
      std::string msg = j.is_object() && j.contains("error") ? opt(j, "error").value("message", r.body) : r.body;
      std::fprintf(stderr, "llmux: %s (HTTP %d)\n", msg.c_str(), r.status);
      return std::nullopt;
    }
    if (j.is_discarded()) throw std::runtime_error("unexpected answer from " + o.url + target);
    return j;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmux: %s\n", e.what());
    return std::nullopt;
  }
}

int usage(const std::string& what) {
  std::fprintf(stderr, "llmux: %s\n", what.c_str());
  return 2;
}

}  // namespace

void print_status(const json& status, const std::string& url) { std::fputs(status_text(status, url).c_str(), stdout); }

int cli_status(const std::vector<std::string>& args) {
  Options o;
  if (auto err = parse("status", args, o); !err.empty()) return usage(err);
  if (o.watch) {
    auto interval = parse_watch_interval(o.interval);
    if (!interval) return usage("status: --interval: expected seconds from 0.1 to 3600 (e.g. 2, 0.5), got '" + o.interval + "'");
    return watch_status(o.url, *interval, o.json_out);
  }
  auto s = call(o, "GET", "/status");
  if (!s) return 1;
  if (o.json_out) return std::printf("%s\n", s->dump(2).c_str()), 0;
  print_status(*s, o.url);
  return 0;
}

int cli_models(const std::vector<std::string>& args) {
  if (wants_discover(args)) return cli_discover(args);
  Options o;
  if (auto err = parse("models", args, o); !err.empty()) return usage(err);
  auto m = call(o, "GET", "/v1/models");
  if (!m) return 1;
  if (o.json_out) return std::printf("%s\n", m->dump(2).c_str()), 0;
  std::fputs(models_text(*m).c_str(), stdout);
  return 0;
}

int cli_load(const std::vector<std::string>& args) {
  Options o;
  if (auto err = parse("load", args, o); !err.empty()) return usage(err);
  if (o.positional.size() != 1) return usage("load: expected one MODEL");
  json body = {{"model", o.positional[0]}};
  auto r = call(o, "POST", "/models/load", body.dump(), std::chrono::minutes(30));
  if (!r) return 1;
  if (o.json_out) return std::printf("%s\n", r->dump().c_str()), 0;
  std::printf("%s ready (%s)\n", r->value("model", "").c_str(), duration_text(r->value("seconds", 0.0)).c_str());
  return 0;
}

int cli_unload(const std::vector<std::string>& args) {
  Options o;
  if (auto err = parse("unload", args, o); !err.empty()) return usage(err);
  if (o.positional.size() > 1 || (o.positional.empty() && !o.all))
    return usage("unload: expected MODEL or --all");
  json body = {{"force", o.force}};
  if (!o.positional.empty()) body["model"] = o.positional[0];
  auto r = call(o, "POST", "/models/unload", body.dump(), std::chrono::minutes(30));
  if (!r) return 1;
  if (o.json_out) return std::printf("%s\n", r->dump().c_str()), 0;
  if (opt((*r), "unloaded").is_null()) std::printf("nothing to unload (%s)\n", r->value("reason", "").c_str());
  else if (const json& all = opt((*r), "models"); all.is_array() && all.size() > 1) {  // --all, several resident
    for (const auto& m : all) std::printf("%s unloaded\n", m.get<std::string>().c_str());
  } else {
    std::printf("%s unloaded\n", opt((*r), "unloaded").get<std::string>().c_str());
  }
  return 0;
}

}  // namespace llmux
