// Engines are spawned with Boost.Process v1 (bp::child): the PATH search and the stdout+stderr pipe are Boost's;
// the environment, the process group, parent-death signal, signal reset, descriptor hygiene and the reaping of a
// failed spawn are llmux's own initializers (worker/spawn_init.hpp). bp::child is detached at once: llmux reaps its
// children itself (worker/reaper.cpp), and an attached bp::child would waitpid() or SIGKILL in its destructor.
#include <utility>  // before any Boost header (Asio's awaitable.hpp, STYLE.md)

#include "worker/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include <boost/process/child.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <boost/process/search_path.hpp>

#include "worker/spawn_init.hpp"

extern char** environ;

namespace llmux {

namespace bp = boost::process;

namespace {

constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";  // when the engine's environment has none

// llmux's environment with the model's `env` entries added or replacing ("NAME=value"), in environ's order.
std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  for (const auto& kv : extra) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;  // the config loader accepts only NAME=value
    const std::string_view name(kv.data(), eq + 1);     // "NAME="
    auto same = std::find_if(env.begin(), env.end(), [&](const std::string& e) { return e.starts_with(name); });
    if (same != env.end()) *same = kv;
    else env.push_back(kv);
  }
  return env;
}

// `name` as given when it holds a '/', else the first executable regular file called `name` in the PATH the engine
// will get (an empty entry is the working directory, as for execvp).
std::string resolve_executable(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  auto it = std::find_if(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("PATH="); });
  const std::string path = it == env.end() ? kDefaultPath : it->substr(5);
  std::vector<boost::filesystem::path> dirs;
  for (size_t start = 0;;) {
    const size_t end = path.find(':', start);
    const std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    dirs.emplace_back(dir.empty() ? "." : dir);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  auto found = bp::search_path(name, dirs);
  if (found.empty()) throw SpawnError("executable '" + name + "' not found in PATH");
  return found.string();
}

}  // namespace

Spawned spawn_process(const SpawnRequest& req) {
  if (req.argv.empty()) throw SpawnError("empty command");
  std::vector<std::string> env = merged_environment(req.env);
  const std::string exe = resolve_executable(req.argv.front(), env);
  bp::pipe output;
  std::error_code ec;
  bp::child child(spawn_init::ExecArgv(exe, req.argv), spawn_init::ExecEnv(std::move(env)), bp::std_in < bp::null,
                  (bp::std_out & bp::std_err) > output, spawn_init::OwnProcessGroup{},
                  spawn_init::DieWithParent(::getpid()), spawn_init::ResetSignals{},
                  spawn_init::ReapFailedChild{}, spawn_init::CloseInheritedFds{}, ec);
  child.detach();  // before anything can throw: ~child() of an attached child waitpid()s and SIGKILLs
  if (ec) throw SpawnError("cannot execute '" + exe + "': " + std::strerror(ec.value()));
  const int fd = output.native_source();
  output.assign_source(-1);  // ours now; bp's pipe would close it
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return Spawned{child.id(), fd};
}

bool signal_group(pid_t pgid, int sig) {
  if (pgid <= 0) return false;
  return ::killpg(pgid, sig) == 0;
}
std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sig == SIGKILL   ? " (SIGKILL)"
                       : sig == SIGTERM ? " (SIGTERM)"
                       : sig == SIGSEGV ? " (SIGSEGV)"
                       : sig == SIGABRT ? " (SIGABRT)"
                       : sig == SIGINT  ? " (SIGINT)"
                       : sig == SIGBUS  ? " (SIGBUS)"
                                        : "";
    return "killed by signal " + std::to_string(sig) + name;
  }
  return "wait status " + std::to_string(status);
}

}  // namespace llmux
