#include "proxy/cli.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "proxy/serve.hpp"

namespace llmux {

namespace {

constexpr const char* kUsage =
    "usage: llmux <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve --config FILE [--listen HOST:PORT]   run the daemon\n"
    "  --version                                  print the version\n"
    "  help                                       this text\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "llmux: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

int cmd_serve(const std::vector<std::string>& args) {
  ServeOptions opts;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "--config" || a == "-c") {
      auto v = value();
      if (!v) return usage_error("--config needs a file");
      opts.config_path = *v;
    } else if (a.starts_with("--config=")) {
      opts.config_path = a.substr(9);
    } else if (a == "--listen") {
      auto v = value();
      if (!v) return usage_error("--listen needs HOST:PORT");
      opts.listen = *v;
    } else {
      return usage_error("serve: unknown option '" + a + "'");
    }
  }
  if (opts.config_path.empty()) {
    if (const char* env = std::getenv("LLMUX_CONFIG")) opts.config_path = env;
  }
  if (opts.config_path.empty()) return usage_error("serve: --config FILE is required (or set LLMUX_CONFIG)");
  return serve(opts);
}

}  // namespace

int run_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("no command given");
  std::string cmd = args.front();
  args.erase(args.begin());
  if (cmd == "--version" || cmd == "version" || cmd == "-V") {
    std::printf("llmux %s\n", LLMUX_VERSION);
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "serve") return cmd_serve(args);
  return usage_error("unknown command '" + cmd + "'");
}

}  // namespace llmux
