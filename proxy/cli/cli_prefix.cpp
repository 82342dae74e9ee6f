#include "proxy/cli/cli_prefix.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "proxy/cli/cli_json.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/options.hpp"

namespace llmux {

namespace {

using nlohmann::json;

struct Options {
  std::string url = default_daemon_url();
  size_t limit = 20;
  bool json_out = false;
};

std::string parse(const std::vector<std::string>& args, Options& o) {
  return OptionParser()
      .flag("--json", o.json_out)
      .value("--url", o.url, "a URL")
      .integer("-n|--limit", o.limit, 0, 1000, "a number of conversations (0 to 1000)")
      .parse(args);
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  return "-";
}

void print(const json& list) {
  if (list.empty()) {
    std::printf("no conversations seen yet (chat, completions and responses requests are diagnosed)\n");
    return;
  }
  std::printf("%-8s  %-20s  %8s  %6s  %-9s  %6s  %s\n", "CONV", "MODEL", "REQUESTS", "BREAKS", "LAST", "REUSE",
              "LAST SEEN");
  for (const auto& c : list) {
    const json& last = opt(c, "last");
    const std::string reuse = text_of(opt(last, "reused")) + "/" + text_of(opt(last, "messages"));
    const double share = opt(last, "reuseShare").is_number() ? opt(last, "reuseShare").get<double>() : 0;
    std::printf("%-8s  %-20s  %8s  %6s  %-9s  %5.0f%%  %s  (%s)\n", text_of(opt(c, "id")).c_str(),
                text_of(opt(c, "model")).c_str(), text_of(opt(c, "requests")).c_str(),
                text_of(opt(c, "chainBreaks")).c_str(), reuse.c_str(), share * 100,
                text_of(opt(c, "lastSeen")).c_str(), text_of(opt(c, "identity")).c_str());
    for (const auto& b : opt(c, "breaks"))
      std::printf("          break %s at message %s: %s\n", text_of(opt(b, "at")).c_str(),
                  text_of(opt(b, "message")).c_str(), text_of(opt(b, "hint")).c_str());
  }
}

}  // namespace

int cli_prefix(const std::vector<std::string>& args) {
  Options o;
  if (auto err = parse(args, o); !err.empty()) {
    std::fprintf(stderr, "llmux: prefix: %s\n", err.c_str());
    return 2;
  }
  try {
    auto r = http_call(o.url, "GET", "/prefix?limit=" + std::to_string(o.limit));
    auto j = json::parse(r.body, nullptr, false);
    if (r.status != 200) {
      const std::string msg = j.is_object() ? opt(opt(j, "error"), "message").is_string()
                                                  ? opt(opt(j, "error"), "message").get<std::string>()
                                                  : r.body
                                            : r.body;
      std::fprintf(stderr, "llmux: %s (HTTP %d)\n", msg.c_str(), r.status);
      return 1;
    }
    if (!j.is_object() || !opt(j, "conversations").is_array()) {
      std::fprintf(stderr, "llmux: unexpected answer from %s/prefix\n", o.url.c_str());
      return 1;
    }
    if (o.json_out) std::printf("%s\n", j.dump(2).c_str());
    else print(opt(j, "conversations"));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmux: %s\n", e.what());
    return 1;
  }
}

}  // namespace llmux
