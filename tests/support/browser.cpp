#include "tests/support/browser.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace llmux::test {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string base64_decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) continue;  // '=' padding, line breaks
    bits = (bits << 6) | static_cast<unsigned>(v);
    if ((count += 6) >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

void write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("browser pipe: write failed: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::optional<std::string> Browser::find() {
  if (const char* env = std::getenv("LLMUX_CHROMIUM"); env && *env) return std::string(env);
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    size_t start = 0;
    while (start <= dirs.size()) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string candidate = dirs.substr(start, end - start) + "/" + name;
      if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return std::nullopt;
}

Browser::Browser(const std::string& binary, const std::string& profile_dir, int width, int height) {
  fs::create_directories(profile_dir);
  int cmd[2], out[2];
  if (::pipe(cmd) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe failed");
  for (int fd : {cmd[0], cmd[1], out[0], out[1]}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // macOS has no pipe2
  std::vector<std::string> args{binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                "--disable-sync", "--remote-debugging-pipe", "--user-data-dir=" + profile_dir,
                                "--window-size=" + std::to_string(width) + "," + std::to_string(height),
                                "about:blank"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = profile_dir + "/browser.log";
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
#ifdef __linux__
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // Out of the way of 3 and 4 first, then into place (dup2 clears close-on-exec).
    int r = ::fcntl(cmd[0], F_DUPFD, 10), w = ::fcntl(out[1], F_DUPFD, 10);
    ::dup2(r, 3);
    ::dup2(w, 4);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    // Nothing else of the test's (other children's pipes) reaches the browser.
    for (int fd = 5; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(cmd[0]);
  ::close(out[1]);
  to_browser_ = cmd[1];
  from_browser_ = out[0];
}

Browser::~Browser() {
  if (pid_ > 0) {
    try {
      call("Browser.close", json::object(), "", std::chrono::seconds(3));
    } catch (const std::exception&) {
    }
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ::close(to_browser_);
  ::close(from_browser_);
}

json Browser::read_message(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (auto end = pending_.find('\0'); end != std::string::npos) {
      json m = json::parse(pending_.substr(0, end));
      pending_.erase(0, end + 1);
      return m;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("browser: no answer in time");
    pollfd p{from_browser_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[65536];
    ssize_t n = ::read(from_browser_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("browser: it closed its pipe (exited?)");
    pending_.append(buf, static_cast<size_t>(n));
  }
}

json Browser::call(const std::string& method, const json& params, const std::string& session,
                   std::chrono::milliseconds timeout) {
  const int id = next_id_++;
  json msg{{"id", id}, {"method", method}, {"params", params}};
  if (!session.empty()) msg["sessionId"] = session;
  write_all(to_browser_, msg.dump() + '\0');
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    json m = read_message(deadline);
    if (!m.contains("id") || m["id"] != id) continue;  // an event, or an answer nobody waits for
    if (m.contains("error")) throw std::runtime_error("browser: " + method + ": " + m["error"].dump());
    return m.value("result", json::object());
  }
}

std::string Browser::open(const std::string& url) {
  json target = call("Target.createTarget", {{"url", url}});
  json attached = call("Target.attachToTarget", {{"targetId", target["targetId"]}, {"flatten", true}});
  return attached["sessionId"].get<std::string>();
}

json Browser::eval(const std::string& session, const std::string& expression) {
  json r = call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}},
                session);
  if (r.contains("exceptionDetails")) throw std::runtime_error("script: " + r["exceptionDetails"].dump());
  return r["result"].value("value", json());
}

bool Browser::wait_for(const std::string& session, const std::string& expression, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Until the page has loaded, its elements are missing: an exception counts as "not yet".
    json v = eval(session, "(() => { try { return Boolean(" + expression + "); } catch (e) { return false; } })()");
    if (v == true) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void Browser::screenshot(const std::string& session, const std::string& path) {
  json r = call("Page.captureScreenshot", {{"format", "png"}}, session);
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << base64_decode(r["data"].get<std::string>());
}

}  // namespace llmux::test
