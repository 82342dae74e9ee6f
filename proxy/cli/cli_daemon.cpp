#include "proxy/cli/cli_daemon.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/footprint.hpp"
#include "proxy/cli/cli_discover.hpp"
#include "proxy/cli/cli_json.hpp"
#include "proxy/cli/cli_watch.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/options.hpp"

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

std::string bytes_or_dash(const json& v) { return v.is_number() ? format_bytes(v.get<uint64_t>()) : "-"; }

std::string duration_text(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return buf;
}

void print_worker(const json& w) {
  std::printf("model      %s (%s)\n", w.value("model", "").c_str(), w.value("state", "").c_str());
  std::printf("pid/port   %d / %d\n", w.value("pid", 0), w.value("port", 0));
  std::printf("started    %s", w.value("startedAt", "").c_str());
  if (w.contains("loadSeconds")) std::printf(" (loaded in %s)", duration_text(opt(w, "loadSeconds")).c_str());
  std::printf("\nuptime     %s", duration_text(w.value("uptimeSeconds", 0.0)).c_str());
  if (opt(w, "idleSeconds").is_number()) std::printf(", idle %s", duration_text(opt(w, "idleSeconds").get<double>()).c_str());
  if (opt(w, "ttlRemainingSeconds").is_number())
    std::printf(", unloads in %s (ttl)", duration_text(opt(w, "ttlRemainingSeconds").get<double>()).c_str());
  if (opt(w, "lastLine").is_string()) std::printf("\nengine     %s", opt(w, "lastLine").get<std::string>().c_str());
  std::printf("\nin flight  %d\n", w.value("inFlight", 0));
  if (w.contains("memory")) {
    const auto& m = opt(w, "memory");
    std::printf("memory     %s measured, %s estimated, ceiling %s\n", bytes_or_dash(opt(m, "rssBytes")).c_str(),
                bytes_or_dash(opt(m, "estimateBytes")).c_str(), bytes_or_dash(opt(m, "ceilingBytes")).c_str());
  }
}

}  // namespace

void print_status(const json& status, const std::string& url) {
  std::printf("llmux %s at %s, up %s\n", status.value("version", "").c_str(), url.c_str(),
              duration_text(status.value("uptimeSeconds", 0.0)).c_str());
  if (opt(status, "worker").is_null()) std::printf("model      none resident\n");
  else print_worker(opt(status, "worker"));
  std::printf("queue      %d waiting\n", opt(status, "queue").value("length", 0));
  std::printf("loads      %llu", static_cast<unsigned long long>(status.value("swaps", 0)));
  if (opt(status, "lastLoadSeconds").is_number())
    std::printf(", last took %s", duration_text(opt(status, "lastLoadSeconds").get<double>()).c_str());
  if (opt(status, "lastSwapSeconds").is_number())
    std::printf("; last swap %s", duration_text(opt(status, "lastSwapSeconds").get<double>()).c_str());
  if (opt(status, "lastStopReason").is_string())
    std::printf("; last unload: %s", opt(status, "lastStopReason").get<std::string>().c_str());
  std::printf("\n");
  const auto& sys = opt(status, "system");
  std::printf("system     %s available of %s, pressure %s\n", bytes_or_dash(opt(sys, "availableBytes")).c_str(),
              bytes_or_dash(opt(sys, "totalBytes")).c_str(), sys.value("pressure", "?").c_str());
  const auto& cfg = opt(status, "config");
  std::printf("config     %s (%llu reloads)\n", cfg.value("path", "").c_str(),
              static_cast<unsigned long long>(cfg.value("reloads", 0)));
  if (opt(cfg, "error").is_object())
    std::printf("           REFUSED EDIT: %s\n", opt(cfg, "error").value("message", "").c_str());
}

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
  std::printf("%-28s %-9s %-10s %-9s %-5s %s\n", "MODEL", "STATE", "ESTIMATE", "SOURCE", "FITS", "ALIASES");
  for (const auto& e : opt((*m), "data")) {
    if (e.contains("alias_of")) continue;
    std::string aliases;
    for (const auto& a : e.value("aliases", json::array())) aliases += (aliases.empty() ? "" : ", ") + a.get<std::string>();
    const auto& fp = e.value("footprint", json::object());
    std::printf("%-28s %-9s %-10s %-9s %-5s %s\n", e.value("id", "").c_str(), e.value("state", "").c_str(),
                fp.value("estimate", "-").c_str(), fp.value("source", "-").c_str(),
                fp.value("fitsBudget", true) ? "yes" : "NO", aliases.c_str());
  }
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
  else std::printf("%s unloaded\n", opt((*r), "unloaded").get<std::string>().c_str());
  return 0;
}

}  // namespace llmux
