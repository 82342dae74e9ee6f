// Everyday CLI behaviour: --help on every subcommand, config check --strict and its suggestions.
#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

CliRun run(std::vector<std::string> args) {
  args.insert(args.begin(), LLMUX_BIN);
  Process p(args, {});
  auto st = p.wait_exit(30s);
  return CliRun{st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, p.output()};
}

}  // namespace

TEST(CliHelp, EverySubcommandHasHelp) {
  for (const char* cmd : {"serve", "config", "status", "models", "load", "unload", "default", "logs", "prefix", "prompt", "chat",
                          "service"}) {
    const CliRun r = run({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find(std::string("  ") + cmd), std::string::npos) << cmd << ": " << r.out;
    EXPECT_EQ(r.out.find("unknown"), std::string::npos) << cmd << ": " << r.out;
  }
  const CliRun serve = run({"serve", "-h"});
  EXPECT_EQ(serve.code, 0);
  EXPECT_NE(serve.out.find("--listen"), std::string::npos) << serve.out;
}

TEST(CliHelp, ConfigCheckSuggestsAndStrictFailsOnWarnings) {
  const std::string dir = make_temp_dir();
  const std::string path = dir + "/c.yaml";
  write_file(path, "globalTtl: 5m\nmodels:\n  a:\n    cmd: " + fake_cmd("x") + " -m /nonexistent/m.gguf\n");
  const CliRun plain = run({"config", "check", path});
  EXPECT_EQ(plain.code, 0) << plain.out;
  EXPECT_NE(plain.out.find("globalTtl: unknown key, ignored; did you mean 'globalTTL'?"), std::string::npos)
      << plain.out;
  EXPECT_NE(plain.out.find("models.a.cmd: /nonexistent/m.gguf does not exist"), std::string::npos) << plain.out;
  const CliRun strict = run({"config", "check", "--strict", path});
  EXPECT_EQ(strict.code, 1) << strict.out;
  EXPECT_NE(strict.out.find("1 warning (--strict)"), std::string::npos) << strict.out;
  write_file(path, "globalTTL: 5m\nmodels:\n  a:\n    cmd: " + fake_cmd("x") + "\n");
  EXPECT_EQ(run({"config", "check", "--strict", path}).code, 0);
}

// Every command parses with the one options parser (proxy/cli/options.hpp): a usage error is one line naming the
// command and the option, and exits 2 before anything is called (no daemon runs here).
TEST(CliHelp, UsageErrorsNameTheCommandAndExit2) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"serve", "--listen"}, "llmux: serve: --listen needs HOST:PORT (see llmux serve --help)"},
      {{"serve", "--config", "a", "-c", "b"}, "llmux: serve: --config given twice (see llmux serve --help)"},
      {{"config", "check", "a.yaml", "b.yaml"}, "llmux: config check: more than one FILE given ('b.yaml')"},
      {{"config", "diff", "--strict"}, "llmux: config diff: unknown option '--strict'"},
      {{"status", "--url"}, "llmux: status: --url needs a URL"},
      {{"status", "--json=yes"}, "llmux: status: --json takes no value"},
      {{"models", "extra"}, "llmux: models: unexpected argument 'extra'"},
      {{"load", "a", "b"}, "llmux: load: more than one MODEL given ('b')"},
      {{"fit", "a", "b"}, "llmux: fit: more than one MODEL given ('b')"},
      {{"fit", "--ctx"}, "llmux: fit: --ctx needs a number of tokens"},
      {{"unload", "--all", "--all"}, "llmux: unload: --all given twice"},
      {{"default", "--bogus"}, "llmux: default: unknown option '--bogus'"},
      {{"logs", "-n", "-3"}, "llmux: logs: -n needs a number of lines (0 to 100000), got '-3'"},
      {{"prefix", "--limit=1001"}, "llmux: prefix: -n needs a number of conversations (0 to 1000), got '1001'"},
      {{"prompt", "--max-tokens", "0", "hi"}, "llmux: prompt: --max-tokens needs a positive number, got '0'"},
      {{"chat", "--model"}, "llmux: chat: --model needs a model name"},
      {{"models", "--discover", "--dir"}, "llmux: models --discover: --dir needs a directory"},
      {{"service", "status", "--listen", "x"}, "llmux: service: status: unknown option '--listen'"},
      {{"status", "--api-key"}, "llmux: --api-key needs a key"},
  };
  for (const auto& [args, line] : cases) {
    const CliRun r = run(args);
    EXPECT_EQ(r.code, 2) << args[0] << ": " << r.out;
    EXPECT_EQ(r.out.substr(0, r.out.find('\n')), line) << r.out;
  }
}
