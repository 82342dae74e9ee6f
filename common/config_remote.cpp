// Remote models: a model without `cmd` whose `proxy` is http(s)://host[:port][/base] (a vLLM or SGLang service, Ollama,
// LM Studio, another llmux or llama-swap, a hosted OpenAI-compatible API). Its "engine" is `llmux bridge` (proxy/bridge):
// the supervisor starts, probes and stops it like any engine, and the relay reaches it on loopback as it reaches
// local engines, while the bridge resolves the host, speaks TLS (verified against the system's CAs or `caFile`, with
// SNI and host name checks) and adds the configured headers. The headers travel in the bridge's environment, never
// on its command line; an apiKey is a secret from the moment it is read.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "common/config_reader.hpp"
#include "common/footprint.hpp"
#include "common/self_exe.hpp"

namespace llmux::config_detail {
namespace {

constexpr std::string_view kRemoteKeys[] = {"apiKey",     "headers",        "caFile",       "connectTimeout",
                                            "healthPath", "healthInterval", "healthTimeout"};

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The path prefix only llmux and its bridges know (one per llmux process, so a reload does not restart bridges): the
// bridge listens on loopback with the remote's key in hand, and answers no one who does not send it first.
const std::string& bridge_token() {
  static const std::string token = [] {
    unsigned char bytes[16] = {};
    if (FILE* f = std::fopen("/dev/urandom", "rb")) {
      const size_t n = std::fread(bytes, 1, sizeof bytes, f);
      std::fclose(f);
      if (n != sizeof bytes) std::abort();  // no randomness: refuse to hand out a guessable token
    } else {
      std::abort();
    }
    std::string hex;
    for (unsigned char b : bytes) {
      hex += "0123456789abcdef"[b >> 4];
      hex += "0123456789abcdef"[b & 15];
    }
    return hex;
  }();
  return token;
}

void add_secret(std::vector<std::string>& secrets, const std::string& value) {
  if (!value.empty() && std::find(secrets.begin(), secrets.end(), value) == secrets.end()) secrets.push_back(value);
}

// The bridge's health probe (proxy/bridge/health_probe.hpp): path ("" = none), interval and timeout.
void read_health(Reader& r, const std::map<std::string, Entry>& f, std::vector<std::string>& argv) {
  if (const auto it = f.find("healthPath"); it != f.end()) {
    const std::string path = r.string(it->second);
    if (!path.empty() && (path.front() != '/' || path.find_first_of(" \r\n") != std::string::npos))
      r.fail(it->second, "expected a path starting with / (e.g. /health), or \"\" for no probe");
    argv.push_back("--health-path");
    argv.push_back(path);
  }
  if (const auto it = f.find("healthInterval"); it != f.end()) {
    argv.push_back("--health-interval-ms");
    argv.push_back(std::to_string(r.positive_duration(it->second).count()));
  }
  if (const auto it = f.find("healthTimeout"); it != f.end()) {
    argv.push_back("--health-timeout-ms");
    argv.push_back(std::to_string(r.positive_duration(it->second).count()));
  }
}

}  // namespace

bool is_remote_url(const std::string& url) {
  return (url.starts_with("http://") || url.starts_with("https://")) && url.find("${") == std::string::npos;
}

void read_remote(Reader& r, const Entry& proxy, const std::string& url, const Entry* remote,
                 const ScalarExpander& expand, std::vector<std::string>& secrets, ModelConfig& mc) {
  const std::string https = url.starts_with("https://") ? "https" : "http";
  const std::string rest = url.substr(https.size() + 3);
  if (rest.empty() || rest.front() == '/' || rest.front() == ':')
    r.fail(proxy, "expected http(s)://host[:port][/base], got '" + url + "'");
  mc.remote = url;
  mc.argv = {self_executable(), "bridge", "--port", "${PORT}", "--upstream", url};
  mc.proxy = "http://127.0.0.1:${PORT}/" + bridge_token();  // the relay and probes put it in front of each path
  add_secret(secrets, bridge_token());
  mc.env.push_back("LLMUX_BRIDGE_TOKEN=" + bridge_token());
  std::string headers;
  if (remote != nullptr) {
    const std::map<std::string, Entry> f = r.fields(remote->value, remote->path, remote->line, {kRemoteKeys, {}});
    if (const auto it = f.find("apiKey"); it != f.end()) {
      const std::string key = expand(r.string(it->second), it->second.line, it->second.path);
      if (key.empty() || key.find_first_of("\r\n") != std::string::npos) r.fail(it->second, "expected a non-empty key on one line");
      add_secret(secrets, key);
      headers += "Authorization: Bearer " + key + "\r\nx-api-key: " + key + "\r\n";
    }
    if (const auto it = f.find("headers"); it != f.end()) {
      for (const Entry& h : r.entries(it->second.value, it->second.path, it->second.line)) {
        if (h.name.empty() || !std::all_of(h.name.begin(), h.name.end(), token_char)) r.fail(h, "not a header name");
        const std::string value = expand(r.string(h), h.line, h.path);
        if (value.find_first_of("\r\n") != std::string::npos) r.fail(h, "a header value must be one line");
        headers += h.name + ": " + value + "\r\n";
      }
    }
    if (const auto it = f.find("caFile"); it != f.end()) {
      mc.argv.push_back("--ca-file");
      mc.argv.push_back(expand_home(expand(r.string(it->second), it->second.line, it->second.path)));
    }
    if (const auto it = f.find("connectTimeout"); it != f.end()) {
      mc.argv.push_back("--connect-timeout-ms");
      mc.argv.push_back(std::to_string(r.positive_duration(it->second).count()));
    }
    read_health(r, f, mc.argv);
  }
  if (!headers.empty()) {
    add_secret(secrets, headers);
    mc.env.push_back("LLMUX_BRIDGE_HEADERS=" + headers);
  }
}

}  // namespace llmux::config_detail
