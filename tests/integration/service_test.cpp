// `llmux service install|uninstall|status` against a temporary HOME (systemctl is never the real one: either
// LLMUX_SERVICE_MANAGER=none or a fake `systemctl` script first in PATH), `systemd-analyze verify` of the written
// unit where it can run, and the sd_notify READY/STOPPING datagrams of `llmux serve`.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <csignal>
#include <cstddef>
#include <cstring>

#include "tests/integration/harness.hpp"

using namespace llmux::test;
namespace fs = std::filesystem;

namespace {

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr
};

int lines_in(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

// A temporary HOME with XDG_CONFIG_HOME under it and a valid config; the manager is off unless `env` says else.
struct ServiceHome {
  std::string dir = make_temp_dir();
  std::string home = dir + "/home";
  std::string unit = home + "/.config/systemd/user/llmux.service";
  std::string config = dir + "/my configs/config.yaml";  // a space: ExecStart quoting
  std::string bin = dir + "/bin";                        // where a fake systemctl goes

  explicit ServiceHome(uint16_t port = 0) {
    fs::create_directories(home);
    fs::create_directories(bin);
    fs::create_directories(fs::path(config).parent_path());
    write_file(config, "listen: 127.0.0.1:" + std::to_string(port ? port : pick_free_port()) +
                           "\nmodels:\n  a:\n    cmd: " + fake_cmd("svc") + "\n");
  }
  std::vector<std::string> env(std::vector<std::string> extra = {"LLMUX_SERVICE_MANAGER=none"}) const {
    std::vector<std::string> e{"HOME=" + home, "XDG_CONFIG_HOME=" + home + "/.config", "LLMUX_CONFIG="};
    e.insert(e.end(), extra.begin(), extra.end());
    return e;
  }
  // The environment for the fake systemctl: PATH is only `bin`, the manager is on.
  std::vector<std::string> fake_env() const { return env({"LLMUX_SERVICE_MANAGER=", "PATH=" + bin}); }
  void fake_systemctl(const std::string& body) const {
    write_file(bin + "/systemctl", "#!/bin/sh\necho \"$*\" >> '" + dir + "/systemctl.log'\n" + body);
    ::chmod((bin + "/systemctl").c_str(), 0755);
  }
  std::string systemctl_log() const { return read_text_file(dir + "/systemctl.log"); }
};

Run run_llmux(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> argv{LLMUX_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p(argv, env);
  auto st = p.wait_exit(60s);
  return Run{st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, p.output()};
}

nlohmann::json json_of(const Run& r) {
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON (" << e.what() << "):\n" << r.out;
    return nlohmann::json::object();
  }
}

std::string binary() { return fs::canonical(LLMUX_BIN).string(); }

// A bound AF_UNIX datagram socket standing in for systemd's notify socket. `name`: a path, or '@' + name for
// Linux's abstract namespace.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    else len += 1;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0)
      throw std::runtime_error("cannot bind " + name + ": " + std::strerror(errno));
  }
  ~NotifySocket() { ::close(fd_); }
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  int fd_;
};

// Starts `llmux serve` with NOTIFY_SOCKET=`name`; READY must come once GET /health works, STOPPING on SIGTERM.
void expect_ready_then_stopping(const std::string& name) {
  NotifySocket sock(name);
  std::string dir = make_temp_dir();
  write_file(dir + "/config.yaml",
             "listen: 127.0.0.1:0\nmodels:\n  a:\n    cmd: " + fake_cmd(unique_tag("svcn")) + "\n");
  Process p({LLMUX_BIN, "serve", "--config", dir + "/config.yaml"}, {"NOTIFY_SOCKET=" + name});
  auto ready = sock.receive(10s);
  ASSERT_TRUE(ready) << "no READY datagram; llmux output:\n" << p.output();
  EXPECT_NE(ready->find("READY=1\n"), std::string::npos) << *ready;
  EXPECT_NE(ready->find("MAINPID=" + std::to_string(p.pid())), std::string::npos) << *ready;
  auto at = ready->find("STATUS=listening on http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << *ready;
  auto port = static_cast<uint16_t>(std::stoi(ready->substr(at + 37)));
  EXPECT_EQ(http_get(port, "/health", 2s).status, 200) << "READY was sent before the listener accepted";
  p.signal(SIGTERM);
  auto stopping = sock.receive(10s);
  ASSERT_TRUE(stopping) << p.output();
  EXPECT_EQ(*stopping, "STOPPING=1");
  auto st = p.wait_exit(30s);
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << p.output();
}

}  // namespace

TEST(ServiceInstall, WritesNotifyUnitForThisBinaryAndConfig) {
  ServiceHome h;
  auto r = run_llmux({"service", "install", "--force", "--no-start", "--config", h.config}, h.env());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("wrote ~/.config/systemd/user/llmux.service"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not started (--no-start)"), std::string::npos) << r.out;
  std::string unit = read_text_file(h.unit);
  EXPECT_NE(unit.find("\nExecStart=" + binary() + " serve --config \"" + h.config + "\"\n"), std::string::npos)
      << unit;
  for (const char* line : {"Type=notify", "NotifyAccess=main", "KillMode=mixed", "Restart=on-failure",
                           "WantedBy=default.target"})
    EXPECT_NE(unit.find(std::string("\n") + line + "\n"), std::string::npos) << line << "\n" << unit;
  auto stop = unit.find("\nTimeoutStopSec=");
  ASSERT_NE(stop, std::string::npos) << unit;
  EXPECT_GT(std::stoi(unit.substr(stop + 16)), 40) << "must exceed shutdownGrace 30s + stopGrace 10s";
  EXPECT_TRUE(unit.starts_with("# Written by `llmux service install`")) << unit;
  EXPECT_EQ(unit.find("%h/"), std::string::npos) << "the template's ExecStart must be replaced:\n" << unit;
}

TEST(ServiceInstall, UnitPassesSystemdAnalyzeVerify) {
  ServiceHome h;
  auto r = run_llmux({"service", "install", "--force", "--no-start", "--config", h.config, "--listen", "127.0.0.1:9"}, h.env());
  ASSERT_EQ(r.code, 0) << r.out;
  if (!fs::exists("/usr/bin/systemd-analyze") && !fs::exists("/bin/systemd-analyze"))
    GTEST_SKIP() << "systemd-analyze is not installed (Debian package `systemd`): the unit was not verified";
  std::string runtime = h.dir + "/run";
  fs::create_directories(runtime);
  fs::permissions(runtime, fs::perms::owner_all);
  Process p({"systemd-analyze", "--user", "verify", h.unit},
            {"HOME=" + h.home, "XDG_CONFIG_HOME=" + h.home + "/.config", "XDG_RUNTIME_DIR=" + runtime});
  auto st = p.wait_exit(60s);
  ASSERT_TRUE(st && WIFEXITED(*st));
  std::string out = p.output();
  if (out.find("Failed to initialize manager") != std::string::npos ||
      out.find("Failed to lookup RuntimeDirectory") != std::string::npos)
    GTEST_SKIP() << "systemd-analyze cannot run its user manager in this container: " << out;
  EXPECT_EQ(WEXITSTATUS(*st), 0) << out;
  // Unknown keys and bad values are only warnings for systemd: any output is a finding.
  EXPECT_EQ(out, "") << "systemd-analyze verify " << h.unit << ":\n" << out << "\n" << read_text_file(h.unit);
}

TEST(ServiceLifecycle, StatusThenUninstallThenUninstallAgain) {
  ServiceHome h;
  ASSERT_EQ(run_llmux({"service", "install", "--force", "--no-start", "--config", h.config}, h.env()).code, 0);
  auto status = run_llmux({"service", "status", "--json"}, h.env());
  ASSERT_EQ(status.code, 0) << status.out;
  auto s = json_of(status);
  EXPECT_EQ(s["installed"], true) << s;
  EXPECT_EQ(s["path"], h.unit);
  EXPECT_EQ(s["manager"], "none");
  EXPECT_EQ(s["command"][0], binary());
  EXPECT_EQ(s["config"], h.config);
  EXPECT_EQ(s["answering"], false);  // nothing listens on the config's port
  EXPECT_EQ(s["url"].get<std::string>().rfind("http://127.0.0.1:", 0), 0u) << s;

  auto human = run_llmux({"service", "status"}, h.env());
  EXPECT_EQ(human.code, 0);
  EXPECT_NE(human.out.find("service   installed: ~/.config/systemd/user/llmux.service"), std::string::npos)
      << human.out;
  EXPECT_NE(human.out.find("not asked (LLMUX_SERVICE_MANAGER=none)"), std::string::npos) << human.out;

  auto removed = run_llmux({"service", "uninstall", "--json"}, h.env());
  ASSERT_EQ(removed.code, 0) << removed.out;
  EXPECT_EQ(json_of(removed)["removed"], true);
  EXPECT_FALSE(fs::exists(h.unit));
  auto again = run_llmux({"service", "uninstall"}, h.env());
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("not installed"), std::string::npos) << again.out;
  EXPECT_EQ(json_of(run_llmux({"service", "status", "--json"}, h.env()))["installed"], false);
}

TEST(ServiceStatus, SaysTheDaemonAnswersAtTheInstalledListenAddress) {
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(unique_tag("svcst")) + "\n");
  ServiceHome h;
  std::string listen = "127.0.0.1:" + std::to_string(l.port());
  auto install = run_llmux({"service", "install", "--force", "--no-start", "--config", l.config_path(), "--listen", listen}, h.env());
  ASSERT_EQ(install.code, 0) << install.out;
  auto s = json_of(run_llmux({"service", "status", "--json"}, h.env()));
  EXPECT_EQ(s["url"], "http://" + listen) << s;
  EXPECT_EQ(s["answering"], true) << s;
}

TEST(ServiceManager, InstallStatusUninstallRunSystemctl) {
  ServiceHome h;
  h.fake_systemctl(
      "case \"$*\" in *is-active*) echo active;; *is-enabled*) echo enabled;; esac\nexit 0\n");
  auto install = run_llmux({"service", "install", "--force", "--config", h.config}, h.fake_env());
  ASSERT_EQ(install.code, 0) << install.out;
  EXPECT_NE(install.out.find("started the llmux service"), std::string::npos) << install.out;
  EXPECT_EQ(h.systemctl_log(), "--user daemon-reload\n--user enable --now llmux.service\n");

  auto s = json_of(run_llmux({"service", "status", "--json"}, h.fake_env()));
  EXPECT_EQ(s["manager"], "systemd");
  EXPECT_EQ(s["active"], "active") << s;
  EXPECT_EQ(s["enabled"], "enabled") << s;

  // A changed command line restarts a running service (try-restart leaves a stopped one stopped).
  fs::remove(h.dir + "/systemctl.log");
  ASSERT_EQ(run_llmux({"service", "install", "--force", "--config", h.config, "--listen", "127.0.0.1:9"}, h.fake_env()).code, 0);
  EXPECT_EQ(h.systemctl_log(),
            "--user daemon-reload\n--user try-restart llmux.service\n--user enable --now llmux.service\n");

  fs::remove(h.dir + "/systemctl.log");
  auto removed = run_llmux({"service", "uninstall"}, h.fake_env());
  EXPECT_EQ(removed.code, 0) << removed.out;
  EXPECT_EQ(h.systemctl_log(), "--user disable --now llmux.service\n--user daemon-reload\n");
  EXPECT_FALSE(fs::exists(h.unit));
}

TEST(ServiceManager, FailingSystemctlIsOneLineAndExit1ButTheUnitIsWritten) {
  ServiceHome h;
  h.fake_systemctl("echo 'Failed to connect to bus: No medium found' >&2\nexit 1\n");
  auto r = run_llmux({"service", "install", "--force", "--config", h.config}, h.fake_env());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(r.out,
            "llmux: wrote ~/.config/systemd/user/llmux.service but `systemctl --user daemon-reload` failed: "
            "Failed to connect to bus: No medium found (exit 1)\n");
  EXPECT_TRUE(fs::exists(h.unit));

  auto json = run_llmux({"service", "install", "--force", "--config", h.config, "--json"}, h.fake_env());
  EXPECT_EQ(json.code, 1);
  auto brace = json.out.find('{');
  ASSERT_NE(brace, std::string::npos) << json.out;
  // stdout (the JSON report) and stderr (the line) share the captured output; the report is the JSON object.
  auto report = nlohmann::json::parse(json.out.substr(brace, json.out.rfind('}') - brace + 1), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << json.out;
  EXPECT_EQ(report["started"], false);
  EXPECT_NE(report["error"].get<std::string>().find("daemon-reload` failed"), std::string::npos) << report;

  auto uninstall = run_llmux({"service", "uninstall"}, h.fake_env());
  EXPECT_EQ(uninstall.code, 1);
  EXPECT_EQ(lines_in(uninstall.out), 1) << uninstall.out;
  EXPECT_NE(uninstall.out.find("removed ~/.config/systemd/user/llmux.service but `systemctl --user disable --now "
                               "llmux.service` failed"),
            std::string::npos)
      << uninstall.out;
}

TEST(ServiceManager, MissingSystemctlOrBrokenConfigIsOneLine) {
  ServiceHome h;  // `bin` is empty: no systemctl in PATH
  auto r = run_llmux({"service", "install", "--force", "--config", h.config}, h.fake_env());
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out,
            "llmux: wrote ~/.config/systemd/user/llmux.service but `systemctl --user daemon-reload` failed: "
            "systemctl not found in PATH\n");

  std::string missing = h.dir + "/nope.yaml";
  fs::remove(h.unit);
  auto broken = run_llmux({"service", "install", "--force", "--config", missing}, h.fake_env());
  EXPECT_EQ(broken.code, 1);
  EXPECT_EQ(broken.out, "llmux: config " + missing +
                            " does not exist; fix it first, or install with --no-start\n");
  EXPECT_FALSE(fs::exists(h.unit)) << "nothing is written for a service that cannot start";
  auto later = run_llmux({"service", "install", "--force", "--config", missing, "--no-start"}, h.env());
  EXPECT_EQ(later.code, 0) << later.out;
  EXPECT_NE(later.out.find("warning: config " + missing + " does not exist"), std::string::npos) << later.out;
}

TEST(ServiceCli, UsageErrorsExit2) {
  ServiceHome h;
  EXPECT_EQ(run_llmux({"service"}, h.env()).code, 2);
  EXPECT_EQ(run_llmux({"service", "restart"}, h.env()).code, 2);
  EXPECT_EQ(run_llmux({"service", "uninstall", "--config", "x"}, h.env()).code, 2);
  EXPECT_EQ(run_llmux({"service", "install", "--force", "--listen", "8484"}, h.env()).code, 2);
  auto bad = run_llmux({"service", "status", "--json"}, h.env({"LLMUX_SERVICE_MANAGER=upstart"}));
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("LLMUX_SERVICE_MANAGER must be"), std::string::npos) << bad.out;
}

TEST(ServiceNotify, ReadyOnceListeningAndStoppingOnShutdown) {
  expect_ready_then_stopping(make_temp_dir() + "/notify.sock");
}

TEST(ServiceNotify, AbstractNamespaceSocket) {
  expect_ready_then_stopping("@" + unique_tag("llmux-notify"));
}

// `llmux default` when llmux is down: it starts the installed service through the manager (a fake systemctl that
// launches `llmux serve` in the background), waits for it to answer, then preloads defaultModel.
TEST(ServiceManager, DefaultStartsTheInstalledServiceThenPreloads) {
  uint16_t port = pick_free_port();
  ServiceHome h(port);
  write_file(h.config, "listen: 127.0.0.1:" + std::to_string(port) + "\ndefaultModel: a\nmodels:\n  a:\n    cmd: " +
                           fake_cmd(unique_tag("svcdef"), "--load-delay-ms 300") + "\n");
  std::string pidfile = h.dir + "/serve.pid";
  h.fake_systemctl("case \"$*\" in *' start llmux.service') '" + std::string(LLMUX_BIN) + "' serve --config '" +
                   h.config + "' </dev/null >'" + h.dir + "/serve.log' 2>&1 &\n echo $! > '" + pidfile +
                   "';; esac\nexit 0\n");
  ASSERT_EQ(run_llmux({"service", "install", "--force", "--no-start", "--config", h.config}, h.fake_env()).code, 0);
  auto r = run_llmux({"default", "--url", "http://127.0.0.1:" + std::to_string(port)}, h.fake_env());
  pid_t served = 0;
  std::ifstream(pidfile) >> served;
  struct Stop {
    pid_t pid;
    ~Stop() {
      if (pid <= 0) return;
      ::kill(pid, SIGTERM);
      eventually([this] { return ::kill(pid, 0) != 0; }, 10s);
    }
  } stop{served};
  EXPECT_EQ(r.code, 0) << r.out << read_text_file(h.dir + "/serve.log");
  EXPECT_NE(r.out.find("started the service"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a ready"), std::string::npos) << r.out;
  EXPECT_NE(h.systemctl_log().find("--user start llmux.service"), std::string::npos) << h.systemctl_log();
  auto status = http_get(port, "/status").json();
  EXPECT_EQ(status["worker"]["model"], "a");
  EXPECT_EQ(status["worker"]["state"], "ready");
}
