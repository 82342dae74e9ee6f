// Component test of spawn_process() (worker/process.cpp: Boost.Process with llmux's initializers) over real child
// processes: what an engine gets (argv as configured, llmux's environment merged with the model's, the PATH search
// in the engine's PATH, stdin /dev/null, its own process group, default signals, no llmux descriptor, the soft
// descriptor limit llmux started with, death with llmux) and that a spawn which cannot exec is an error at once that
// leaves no zombie behind.
#include "worker/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/fd_limit.hpp"
#include "worker/platform.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string temp_dir() {
  std::string templ = (fs::temp_directory_path() / "llmux-spawn-XXXXXX").string();
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  return templ;
}

void write_file(const std::string& path, const std::string& text, fs::perms mode) {
  std::ofstream(path) << text;
  fs::permissions(path, mode);
}

// A child of this test that has exited and not been reaped (looked at, not reaped: WNOWAIT).
bool zombie_child() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0;
}

// Everything the child writes until it closes its output (bounded: 10 s), then its wait status.
struct Outcome {
  std::string output;
  int status = -1;
};
Outcome finish(const Spawned& s) {
  Outcome o;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{s.output_fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::read(s.output_fd, buf, sizeof buf);
    if (n <= 0) break;
    o.output.append(buf, static_cast<size_t>(n));
  }
  ::close(s.output_fd);
  signal_group(s.pid, SIGKILL);  // whatever is left (nothing, when the test went as planned)
  ::waitpid(s.pid, &o.status, 0);
  return o;
}

Outcome run(std::vector<std::string> argv, std::vector<std::string> env = {}) {
  return finish(spawn_process(SpawnRequest{std::move(argv), std::move(env)}));
}

class Spawn : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(zombie_child()) << "a child of an earlier test was left unreaped"; }
  void TearDown() override { fs::remove_all(dir); }
  std::string dir = temp_dir();
};

TEST_F(Spawn, AMissingExecutableIsAnErrorAtOnce) {
  try {
    spawn_process(SpawnRequest{{"llmux-test-no-such-engine", "--port", "1"}, {}});
    FAIL() << "spawned a missing executable";
  } catch (const SpawnError& e) {
    EXPECT_STREQ(e.what(), "executable 'llmux-test-no-such-engine' not found in PATH");
  }
  EXPECT_THROW(spawn_process(SpawnRequest{{}, {}}), SpawnError);
}

// Exec failures come back through Boost.Process's exec-error pipe, before spawn_process() returns; the child that
// failed to exec is reaped there (Boost.Process 1.74 would leave it a zombie).
TEST_F(Spawn, AFileThatCannotBeExecutedIsAnErrorAtOnceAndLeavesNoZombie) {
  const std::string plain = dir + "/plain", garbage = dir + "/garbage";
  write_file(plain, "#!/bin/sh\necho ran\n", fs::perms::owner_read | fs::perms::owner_write);
  write_file(garbage, "\x01\x02 not a program\n", fs::perms::owner_all);
  const std::pair<std::string, std::string> cases[] = {
      {plain, "cannot execute '" + plain + "': Permission denied"},
      {garbage, "cannot execute '" + garbage + "': Exec format error"},
      {dir + "/absent", "cannot execute '" + dir + "/absent': No such file or directory"},
      {dir, "cannot execute '" + dir + "': Permission denied"}};
  for (const auto& [path, message] : cases) {
    try {
      spawn_process(SpawnRequest{{path}, {}});
      ADD_FAILURE() << "spawned " << path;
    } catch (const SpawnError& e) {
      EXPECT_EQ(e.what(), message);
    }
    EXPECT_FALSE(zombie_child()) << "the failed child of " << path << " was not reaped";
  }
}

// The search uses the PATH the engine will get (the model's env may set it), and the engine's environment is llmux's
// with the model's entries added or replacing.
TEST_F(Spawn, FindsTheExecutableInTheEnginesPathAndMergesTheEnvironment) {
  write_file(dir + "/llmux-test-engine",
             "#!/bin/sh\necho \"inherited=$LLMUX_SPAWN_INHERITED replaced=$LLMUX_SPAWN_REPLACED added=$ADDED "
             "empty=[$EMPTY] eq=$WITH_EQ\"\n",
             fs::perms::owner_all);
  ::setenv("LLMUX_SPAWN_INHERITED", "yes", 1);
  ::setenv("LLMUX_SPAWN_REPLACED", "old", 1);
  const auto o = run({"llmux-test-engine"}, {"PATH=/nonexistent::" + dir + ":/usr/bin:/bin", "LLMUX_SPAWN_REPLACED=new",
                                             "ADDED=1", "EMPTY=", "WITH_EQ=a=b"});
  ::unsetenv("LLMUX_SPAWN_INHERITED");
  ::unsetenv("LLMUX_SPAWN_REPLACED");
  EXPECT_EQ(o.output, "inherited=yes replaced=new added=1 empty=[] eq=a=b\n");
  EXPECT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0) << describe_wait_status(o.status);
  // llmux's own PATH does not hold the directory: without the model's PATH it is not found.
  EXPECT_THROW(spawn_process(SpawnRequest{{"llmux-test-engine"}, {}}), SpawnError);
}

TEST_F(Spawn, PassesArgvAsConfiguredEmptyArgumentsIncluded) {
  // argv[0] stays "sh" (not the resolved /bin/sh or /usr/bin/sh): ps shows the command as configured.
  const auto o = run({"sh", "-c", "printf '[%s]' \"$0\" \"$@\"; echo; ps -o args= -p $$", "zero", "", "two", ""});
  EXPECT_EQ(o.output.substr(0, o.output.find('\n')), "[zero][][two][]");
  EXPECT_EQ(o.output.substr(o.output.find('\n') + 1, 6), "sh -c ") << o.output;
}

// stdin /dev/null, a process group of its own (set before spawn_process() returns: no window for a stop to miss
// it), an empty signal mask and SIGPIPE at its default although llmux blocks and ignores signals, and none of
// llmux's descriptors.
TEST_F(Spawn, TheEngineGetsDevNullOwnGroupDefaultSignalsAndNoDescriptorOfLlmux) {
  ASSERT_EQ(::fcntl(9, F_GETFD), -1) << "the test wants descriptor 9 free (sh redirects only 0-9)";
  const int leaked = ::open("/dev/null", O_RDONLY);  // as Asio opens sockets: no close-on-exec
  ASSERT_EQ(::dup2(leaked, 9), 9);
  ::close(leaked);
  sigset_t usr1, old_mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask), 0);
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  int input[2];  // this test's stdin, for the while: a pipe with a line to read
  ASSERT_EQ(::pipe(input), 0);
  ASSERT_EQ(::write(input[1], "data\n", 5), 5);
  ::close(input[1]);
  const int old_stdin = ::dup(0);
  ASSERT_EQ(::dup2(input[0], 0), 0);
  ::close(input[0]);

  const std::string probe =
      "if read line; then echo stdin=data; else echo stdin=eof; fi; "
      "if (: <&9) 2>/dev/null; then echo fd9=open; else echo fd9=closed; fi; kill -$0 $$; echo survived";
  const Spawned s = spawn_process(SpawnRequest{{"sh", "-c", probe, "USR1"}, {}});
  EXPECT_EQ(::getpgid(s.pid), s.pid);
  const auto usr1_run = finish(s);
  const auto pipe_run = run({"sh", "-c", probe, "PIPE"});

  ::dup2(old_stdin, 0);
  ::close(old_stdin);
  ::close(9);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::signal(SIGPIPE, old_pipe);
  EXPECT_EQ(usr1_run.output, "stdin=eof\nfd9=closed\n");
  EXPECT_TRUE(WIFSIGNALED(usr1_run.status) && WTERMSIG(usr1_run.status) == SIGUSR1)
      << describe_wait_status(usr1_run.status);
  EXPECT_TRUE(WIFSIGNALED(pipe_run.status) && WTERMSIG(pipe_run.status) == SIGPIPE)
      << describe_wait_status(pipe_run.status);
}

// llmux raises its soft descriptor limit at start; engines get the one it started with, as from a shell.
TEST_F(Spawn, TheEngineGetsTheSoftDescriptorLimitLlmuxStartedWith) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < 1024) GTEST_SKIP() << "hard descriptor limit below 1024";
  rlimit low = lim;
  low.rlim_cur = 512;  // as a user service starts (launchd: 256)
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const FdLimit raised = raise_fd_limit();
  ASSERT_EQ(raised.soft_before, 512u);
  ASSERT_GT(raised.soft, 512u);
  const auto o = run({"sh", "-c", "ulimit -n"});
  EXPECT_EQ(o.output, "512\n");
  EXPECT_EQ(fd_soft_limit(), raised.soft);  // llmux keeps its own
}

// Linux: PR_SET_PDEATHSIG. The spawner is a forked copy of this test that spawns a `sleep` and exits.
TEST_F(Spawn, TheEngineDiesWithTheProcessThatSpawnedIt) {
  if (!platform_parent_death_signal()) GTEST_SKIP() << "no parent-death signal here (macOS, or the test hook)";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t spawner = ::fork();
  ASSERT_GE(spawner, 0);
  if (spawner == 0) {
    ::close(fds[0]);
    pid_t engine = -1;
    try {
      engine = spawn_process(SpawnRequest{{"sleep", "30"}, {}}).pid;
    } catch (...) {
    }
    [[maybe_unused]] auto n = ::write(fds[1], &engine, sizeof engine);
    ::_exit(0);
  }
  ::close(fds[1]);
  pid_t engine = -1;
  ASSERT_EQ(::read(fds[0], &engine, sizeof engine), static_cast<ssize_t>(sizeof engine));
  ::close(fds[0]);
  ASSERT_GT(engine, 0);
  ::waitpid(spawner, nullptr, 0);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (process_start_time(engine) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(process_start_time(engine).has_value()) << "engine " << engine << " outlived its spawner";
  signal_group(engine, SIGKILL);
}

}  // namespace
}  // namespace llmux
