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
