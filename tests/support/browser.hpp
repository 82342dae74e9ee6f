// A headless Chromium driven through the DevTools protocol over its pipe (--remote-debugging-pipe: commands on
// the child's fd 3, answers and events on its fd 4, each message a JSON text ended by '\0'). No WebSocket, no npm,
// no Python: what the dashboard test needs (open a page, evaluate script, capture a screenshot) and nothing more.
// The destructor closes the browser (Browser.close, then SIGKILL after 5 s) and reaps it. Methods throw
// std::runtime_error on a protocol error, a timeout (each call is bounded), or a browser that exited.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace llmux::test {

class Browser {
 public:
  // The browser to use: $LLMUX_CHROMIUM, else chromium / chromium-browser / google-chrome found in PATH.
  static std::optional<std::string> find();

  // Starts `binary` headless with a new profile in `profile_dir` (its output goes to profile_dir/browser.log) and
  // a window of width x height.
  Browser(const std::string& binary, const std::string& profile_dir, int width = 1280, int height = 1000);
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // One command; its "result". `session`: a page's session (open()), "" for the browser itself.
  nlohmann::json call(const std::string& method, const nlohmann::json& params = nlohmann::json::object(),
                      const std::string& session = "", std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // A new tab at `url`; returns its session id.
  std::string open(const std::string& url);
  // The value of a JavaScript expression in the page (promises awaited); throws on a script exception.
  nlohmann::json eval(const std::string& session, const std::string& expression);
  // Polls `expression` every 50 ms until it is true (an exception counts as false); false after `timeout`.
  bool wait_for(const std::string& session, const std::string& expression, std::chrono::milliseconds timeout);
  // Writes a PNG of the page's viewport to `path` (folders created).
  void screenshot(const std::string& session, const std::string& path);

 private:
  nlohmann::json read_message(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int to_browser_ = -1, from_browser_ = -1;
  int next_id_ = 1;
  std::string pending_;  // bytes read past the last '\0'
};

}  // namespace llmux::test
