#include "proxy/cli/cli.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/config_diff.hpp"
#include "common/redact.hpp"
#include "proxy/cli/cli_chat.hpp"
#include "proxy/cli/cli_daemon.hpp"
#include "proxy/cli/cli_fit.hpp"
#include "proxy/cli/cli_ops.hpp"
#include "proxy/cli/cli_prefix.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/options.hpp"
#include "proxy/cli/service/service.hpp"

namespace llmux {

namespace {

constexpr const char* kUsage =
    "usage: llmux <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE] [--listen HOST:PORT] run the daemon (FILE: $LLMUX_CONFIG, ~/.config/llmux/config.yaml)\n"
    "  config check [FILE] [--strict]             validate a config file (exit 1 on error; --strict: on warnings)\n"
    "  config diff [FILE] [--url URL]             what reloading FILE would change in the running daemon\n"
    "  status [--json] [--url URL]                resident model, memory, queue, config state\n"
    "  status --watch [--interval S]              the same, redrawn every S seconds (1) until Ctrl-C\n"
    "  models [--json] [--url URL]                configured models: state, footprint, fit\n"
    "  models --discover [--dir DIR]... [--config FILE] [--json]  also model files on disk (HF cache, .gguf dirs)\n"
    "                                  + config snippet; FILE marks configured models when llmux is down\n"
    "  fit MODEL|PATH [--ctx N] [--kv-bits B] [--parallel N] [--json]  what a model would take (weights, KV,\n"
    "                                  buffers) against the budget and free memory (exit 1: does not fit)\n"
    "  load MODEL [--url URL]                     load a model now (returns when it is ready)\n"
    "  unload MODEL|--all [--force] [--url URL]   unload (after in-flight requests unless --force)\n"
    "  default [--json] [--url URL]               daemon up (starts the service) + preload defaultModel, with progress\n"
    "  logs [-f] [--model M] [--source S] [-n N]  recent llmux + engine log lines; -f follows (--json: JSON lines)\n"
    "  prefix [--json] [-n N] [--url URL]         recent conversations: prompt prefix reused, chain breaks and why\n"
    "  prompt [--model M] [--json] TEXT...|-      one question, answer streamed (--system T, --max-tokens N)\n"
    "  chat [--model M] [--system T] [--url URL]  conversation on stdin (/model NAME, /reset, /exit, /help)\n"
    "  service install [--config FILE] [--listen HOST:PORT] [--no-start] [--force] [--json]\n"
    "                                             run llmux as a user service (systemd unit / LaunchAgent), start it\n"
    "  service uninstall|status [--json]          stop and remove it / installed? active? answering?\n"
    "  --api-key KEY (any command above that calls the daemon; default $LLMUX_API_KEY) sent as Authorization\n"
    "  --version                                  print the version\n"
    "  help                                       this text\n";

// `llmux CMD --help`: the lines of kUsage about CMD (its line and the continuation lines under it).
int command_help(const std::string& cmd) {
  std::string out;
  bool in_block = false;
  std::string_view text = kUsage;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    const bool starts = line.starts_with("  " + cmd + " ") || line == "  " + cmd;
    const bool continues = in_block && line.starts_with("            ");
    in_block = starts || continues;
    if (in_block) out.append("  ").append(line.substr(2)).append("\n");
  }
  if (out.empty()) return -1;
  std::printf("usage: llmux\n%s", out.c_str());
  return 0;
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "llmux: %s\n%s", msg.c_str(), kUsage);
  return 2;
}


int config_check(const std::string& path, bool strict) {
  try {
    auto cfg = load_config(path);
    for (const auto& w : cfg->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    for (const auto& p : missing_paths(*cfg)) std::fprintf(stderr, "warning: %s: %s\n", path.c_str(), p.c_str());
    if (strict && !cfg->warnings.empty()) {
      std::fprintf(stderr, "%s: %zu warning%s (--strict)\n", path.c_str(), cfg->warnings.size(),
                   cfg->warnings.size() == 1 ? "" : "s");
      return 1;
    }
    std::printf("%s: ok (%zu models, %zu aliases%s)\n", path.c_str(), cfg->models.size(), cfg->aliases.size(),
                cfg->default_model.empty() ? "" : (", default " + cfg->default_model).c_str());
    return 0;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

int config_diff(std::string path, const std::string& url) {
  nlohmann::json serving;
  try {
    auto r = http_call(url, "GET", "/config");
    if (r.status != 200) throw std::runtime_error("GET /config answered HTTP " + std::to_string(r.status));
    serving = nlohmann::json::parse(r.body);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmux: %s\n", e.what());
    return 1;
  }
  if (path.empty()) path = serving.value("path", "");
  try {
    auto current = load_config_text(serving.value("text", ""), serving.value("path", "running config"));
    auto next = load_config(path);
    auto diff = diff_configs(*current, *next);
    if (diff.empty()) std::printf("no changes: %s matches the running config\n", path.c_str());
    std::vector<std::string> secrets = current->secrets;  // "+ model x added: CMD" quotes the command
    secrets.insert(secrets.end(), next->secrets.begin(), next->secrets.end());
    const Redactor redactor(secrets);
    for (const auto& line : diff.lines) std::printf("%s\n", redactor.redacted(line).c_str());
    return 0;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

int cmd_config(const std::vector<std::string>& args) {
  if (args.empty()) return usage_error("config: expected 'check' or 'diff'");
  const std::string& sub = args[0];
  if (sub != "check" && sub != "diff") return usage_error("config: unknown subcommand '" + sub + "'");
  std::string url = default_daemon_url();
  std::vector<std::string> files;
  bool strict = false;
  OptionParser p;
  if (sub == "check") p.flag("--strict", strict);
  else p.value("--url", url, "a URL");
  p.positionals(files, 1, "FILE");
  const std::string err = p.parse(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!err.empty()) return usage_error("config " + sub + ": " + err);
  const std::string file = files.empty() ? "" : files[0];
  if (sub == "check") return config_check(file.empty() ? default_config_path() : file, strict);
  return config_diff(file, url);
}

}  // namespace

int run_cli(int argc, char** argv, CliCommand serve) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("no command given");
  std::optional<std::string> api_key;  // `--api-key KEY` anywhere after the command: sent on every call
  if (auto err = take_option(args, "--api-key", api_key, "a key"); !err.empty()) return usage_error(err);
  if (api_key) set_api_key(*api_key);
  std::string cmd = args.front();
  args.erase(args.begin());
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      (cmd != "prompt" && std::find(args.begin(), args.end(), "-h") != args.end())) {
    if (const int rc = command_help(cmd); rc >= 0) return rc;
  }
  if (cmd == "--version" || cmd == "version" || cmd == "-V") {
    std::printf("llmux %s\n", LLMUX_VERSION);
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "serve") return serve(args);
  if (cmd == "config") return cmd_config(args);
  if (cmd == "status") return cli_status(args);
  if (cmd == "models") return cli_models(args);
  if (cmd == "load") return cli_load(args);
  if (cmd == "fit") return cli_fit(args);
  if (cmd == "unload") return cli_unload(args);
  if (cmd == "prompt") return cli_prompt(args);
  if (cmd == "chat") return cli_chat(args);
  if (cmd == "service") return cli_service(args);
  if (cmd == "logs") return cli_logs(args);
  if (cmd == "prefix") return cli_prefix(args);
  if (cmd == "default") return cli_default(args);
  return usage_error("unknown command '" + cmd + "'");
}

}  // namespace llmux
