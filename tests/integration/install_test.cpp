// scripts/install.sh into a temporary prefix and HOME (real files: the binary, the example config, never
// overwritten), and `llmux service install`'s refusal of a binary inside a build tree, with its way out (an
// installed copy, or --force). The service manager is never called (LLMUX_SERVICE_MANAGER=none).
#include <sys/stat.h>

#include "tests/integration/harness.hpp"

using namespace llmux::test;
namespace fs = std::filesystem;

namespace {

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr
};

Run run(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  Process p(argv, env);
  auto st = p.wait_exit(120s);
  return Run{st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, p.output()};
}

// A temporary HOME (config under ~/.config), a prefix, and a valid config for `service install`.
struct Home {
  std::string dir = make_temp_dir();
  std::string home = dir + "/home";
  std::string prefix = dir + "/prefix";
  std::string config = dir + "/config.yaml";
  std::string unit = home + "/.config/systemd/user/llmux.service";
  Home() {
    fs::create_directories(home);
    write_file(config, "listen: 127.0.0.1:" + std::to_string(pick_free_port()) + "\nmodels:\n  a:\n    cmd: " +
                           fake_cmd("inst") + "\n");
  }
  std::vector<std::string> env() const {
    return {"HOME=" + home, "XDG_CONFIG_HOME=", "LLMUX_CONFIG=", "LLMUX_SERVICE_MANAGER=none"};
  }
  Run install_sh(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> argv{"bash", std::string(LLMUX_SOURCE_DIR) + "/scripts/install.sh", "--prefix", prefix,
                                  "--build-dir", LLMUX_BUILD_DIR, "--no-build"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv, env());
  }
};

}  // namespace

TEST(Install, ScriptInstallsTheBinaryAndTheExampleConfigThenKeepsAnExistingConfig) {
  Home h;
  auto first = h.install_sh();
  ASSERT_EQ(first.code, 0) << first.out;
  const std::string bin = h.prefix + "/bin/llmux";
  struct stat st{};
  ASSERT_EQ(::stat(bin.c_str(), &st), 0) << first.out;
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  EXPECT_NE(first.out.find("install: installed " + bin), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("is not on your PATH"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find(bin + " service install"), std::string::npos) << "next steps name the installed binary\n"
                                                                         << first.out;
  const std::string config = h.home + "/.config/llmux/config.yaml";
  EXPECT_EQ(read_text_file(config), read_text_file(std::string(LLMUX_SOURCE_DIR) + "/configs/llmux.example.yaml"));
  auto version = run({bin, "--version"}, {});
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.out.find(LLMUX_VERSION), std::string::npos) << version.out;

  write_file(config, "# mine\n");
  auto again = h.install_sh();
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(read_text_file(config), "# mine\n") << "an existing config is never overwritten";
  EXPECT_NE(again.out.find("kept your config " + config), std::string::npos) << again.out;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(h.home + "/.config/llmux")) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"config.yaml"}) << "nothing else is left in the config folder";
  EXPECT_FALSE(fs::exists(h.unit)) << "installing never installs a service";
}

TEST(Install, ScriptRefusesAnUnknownOptionAndAnUnbuiltDirectory) {
  Home h;
  auto bad = run({"bash", std::string(LLMUX_SOURCE_DIR) + "/scripts/install.sh", "--prefx", h.prefix}, h.env());
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("install: unknown option '--prefx'"), std::string::npos) << bad.out;
  auto unbuilt = run({"bash", std::string(LLMUX_SOURCE_DIR) + "/scripts/install.sh", "--prefix", h.prefix,
                      "--build-dir", h.dir + "/nothing", "--no-build"}, h.env());
  EXPECT_EQ(unbuilt.code, 1) << unbuilt.out;
  EXPECT_NE(unbuilt.out.find("is not a configured build directory"), std::string::npos) << unbuilt.out;
  EXPECT_FALSE(fs::exists(h.prefix + "/bin/llmux"));
}

TEST(Install, ServiceInstallRefusesTheBuildTreeBinaryUnlessForced) {
  Home h;
  const std::string bin = fs::canonical(LLMUX_BIN).string();
  const std::string cache = fs::canonical(LLMUX_BUILD_DIR).string() + "/CMakeCache.txt";
  auto refused = run({LLMUX_BIN, "service", "install", "--no-start", "--config", h.config}, h.env());
  EXPECT_EQ(refused.code, 1);
  EXPECT_EQ(refused.out, "llmux: " + bin + " is in a build tree (" + cache + "); install llmux first "
                         "(scripts/install.sh, then ~/.local/bin/llmux service install), or pass --force to use "
                         "this binary\n");
  EXPECT_FALSE(fs::exists(h.unit)) << "nothing is written when refused";

  auto json = run({LLMUX_BIN, "service", "install", "--no-start", "--json", "--config", h.config}, h.env());
  EXPECT_EQ(json.code, 1);
  EXPECT_NE(json.out.find("\"error\": \"" + bin + " is in a build tree"), std::string::npos) << json.out;

  auto forced = run({LLMUX_BIN, "service", "install", "--no-start", "--force", "--config", h.config}, h.env());
  ASSERT_EQ(forced.code, 0) << forced.out;
  EXPECT_NE(read_text_file(h.unit).find("\nExecStart=" + bin + " serve"), std::string::npos) << read_text_file(h.unit);
}

TEST(Install, InstalledCopyInstallsTheServiceWithoutForce) {
  Home h;
  auto installed = h.install_sh();
  ASSERT_EQ(installed.code, 0) << installed.out;
  const std::string bin = h.prefix + "/bin/llmux";
  auto r = run({bin, "service", "install", "--no-start", "--config", h.config}, h.env());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(read_text_file(h.unit).find("\nExecStart=" + fs::canonical(bin).string() + " serve --config " + h.config),
            std::string::npos)
      << read_text_file(h.unit);
}
