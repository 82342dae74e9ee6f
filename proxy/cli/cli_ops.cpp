#include "proxy/cli/cli_ops.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "proxy/cli/cli_json.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/options.hpp"
#include "proxy/cli/service/service.hpp"
#include "proxy/http/sse.hpp"

namespace llmux {

namespace {

using nlohmann::json;

int fail(const std::string& msg) {
  std::fprintf(stderr, "llmux: %s\n", msg.c_str());
  return 1;
}

int usage(const std::string& msg) {
  std::fprintf(stderr, "llmux: %s\n", msg.c_str());
  return 2;
}

std::string url_encode(const std::string& v) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += {'%', hex[c >> 4], hex[c & 15]};
  }
  return out;
}

struct LogOptions {
  std::string url = default_daemon_url();
  std::string model, source;
  size_t lines = 100;
  bool follow = false, json_out = false;
};

std::string parse_logs(const std::vector<std::string>& args, LogOptions& o) {
  std::string err = OptionParser()
                        .flag("-f|--follow", o.follow)
                        .flag("--json", o.json_out)
                        .value("--model", o.model, "a model name")
                        .value("--source", o.source, "llmux or engine")
                        .value("--url", o.url, "a URL")
                        .integer("-n|--lines", o.lines, 0, 100000, "a number of lines (0 to 100000)")
                        .parse(args);
  if (!err.empty()) return err;
  if (!o.source.empty() && o.source != "llmux" && o.source != "engine") return "--source must be llmux or engine";
  return "";
}

std::string filter_query(const LogOptions& o) {
  std::string q;
  if (!o.model.empty()) q += "&model=" + url_encode(o.model);
  if (!o.source.empty()) q += "&source=" + url_encode(o.source);
  return q;
}

void print_line(const json& l, bool json_out) {
  if (json_out) {
    std::printf("%s\n", l.dump().c_str());
  } else {
    auto m = l.find("model");
    std::string model = m != l.end() && m->is_string() ? " [" + m->get<std::string>() + "]" : "";
    std::printf("%s %-5s %-6s%s %s\n", l.value("time", "").c_str(), l.value("level", "").c_str(),
                l.value("source", "").c_str(), model.c_str(), l.value("text", "").c_str());
  }
  std::fflush(stdout);
}

int follow_logs(const LogOptions& o) {
  SseParser parser;
  std::string refusal;
  int status = http_stream(o.url, "GET", "/logs/stream?tail=" + std::to_string(o.lines) + filter_query(o), "",
                           [&](std::string_view bytes) {
                             for (const auto& ev : parser.feed(bytes)) {
                               auto j = json::parse(ev.data, nullptr, false);
                               if (j.is_object()) print_line(j, o.json_out);
                             }
                             return true;
                           });
  if (status != 200) return fail("GET /logs/stream answered HTTP " + std::to_string(status));
  return 0;
}

}  // namespace

int cli_logs(const std::vector<std::string>& args) {
  LogOptions o;
  if (auto err = parse_logs(args, o); !err.empty()) return usage("logs: " + err);
  try {
    if (o.follow) return follow_logs(o);
    auto r = http_call(o.url, "GET", "/logs?limit=" + std::to_string(o.lines) + filter_query(o));
    if (r.status != 200) return fail(error_message(r.body) + " (HTTP " + std::to_string(r.status) + ")");
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !opt(j, "lines").is_array()) return fail("unexpected answer from " + o.url + "/logs");
    for (const auto& l : opt(j, "lines")) print_line(l, o.json_out);
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

namespace {

bool daemon_up(const std::string& url) {
  try {
    return http_call(url, "GET", "/health", "", std::chrono::seconds(2)).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// The daemon answers, or is started through the installed service and waited for (30 s).
std::string ensure_daemon(const std::string& url, bool quiet) {
  if (daemon_up(url)) return "";
  std::string message;
  if (!service_start_if_installed(message))
    return "llmux is not running at " + url + " and could not be started: " + message;
  if (!quiet) std::fprintf(stderr, "llmux: started the service (%s)\n", message.c_str());
  for (int i = 0; i < 300; ++i) {
    if (daemon_up(url)) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "started the service, but llmux did not answer at " + url + " within 30s";
}

// Shows progress events of POST /models/load (stream) on one line; returns the final event.
json watch_load(const std::string& url, const std::string& model, bool tty, bool quiet) {
  SseParser parser;
  json final;
  json body = {{"model", model}, {"stream", true}};
  int status = http_stream(url, "POST", "/models/load", body.dump(), [&](std::string_view bytes) {
    for (const auto& ev : parser.feed(bytes)) {
      auto j = json::parse(ev.data, nullptr, false);
      if (ev.event == "error" || (j.is_object() && j.value("state", "") == "ready")) {
        final = j.is_object() ? j : json{{"error", {{"message", ev.data}}}};
      } else if (j.is_object() && !quiet && tty) {
        std::string line = j.value("text", "");
        if (line.size() > 150) line.resize(150);
        std::fprintf(stderr, "\r\033[K%s", line.c_str());
      }
    }
    return true;
  });
  if (tty && !quiet) std::fprintf(stderr, "\r\033[K");
  if (status != 200 && final.is_null()) final = {{"error", {{"message", "POST /models/load answered HTTP " + std::to_string(status)}}}};
  return final;
}

}  // namespace

int cli_default(const std::vector<std::string>& args) {
  std::string url = default_daemon_url();
  bool json_out = false;
  if (auto err = OptionParser().flag("--json", json_out).value("--url", url, "a URL").parse(args); !err.empty())
    return usage("default: " + err);
  try {
    if (auto err = ensure_daemon(url, json_out); !err.empty()) return fail(err);
    auto s = json::parse(http_call(url, "GET", "/status").body, nullptr, false);
    if (!s.is_object()) return fail("unexpected answer from " + url + "/status");
    if (!opt(s, "defaultModel").is_string())
      return fail("no defaultModel in " + opt(s, "config").value("path", std::string("the config")) +
                  "; set `defaultModel: NAME` or use `llmux load NAME`");
    std::string model = opt(s, "defaultModel").get<std::string>();
    if (!json_out) std::fprintf(stderr, "loading %s...\n", model.c_str());
    json final = watch_load(url, model, ::isatty(2) != 0, json_out);
    if (final.is_null()) return fail("the load progress stream from " + url + " ended before the model was ready");
    if (final.contains("error")) return fail(error_message(final.dump()));
    if (json_out) return std::printf("%s\n", final.dump().c_str()), 0;
    std::printf("%s ready (%.1fs)\n", model.c_str(), final.value("seconds", 0.0));
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

}  // namespace llmux
