#include "proxy/cli/cli_watch.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <thread>

#include "proxy/cli/cli_json.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/options.hpp"

namespace llmux {

using nlohmann::json;

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) { g_stop = 1; }

// SIGINT/SIGTERM set a flag (no SA_RESTART: a blocked read returns at once) instead of killing the process mid-draw.
void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string clock_text() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// The daemon's answer to GET `target` as JSON; throws std::runtime_error with one line when there is none.
json get_json(const std::string& url, const std::string& target) {
  auto r = http_call(url, "GET", target, "", std::chrono::seconds(5));
  auto j = json::parse(r.body, nullptr, false);
  if (r.status >= 400) {
    std::string msg = j.is_object() && j.contains("error") ? opt(j, "error").value("message", r.body) : r.body;
    throw std::runtime_error(msg + " (HTTP " + std::to_string(r.status) + ")");
  }
  if (j.is_discarded()) throw std::runtime_error("unexpected answer from " + url + target);
  return j;
}

// The last few requests, newest first; nothing when the daemon has no /activity (an older llmux).
void print_recent(const json& activity) {
  const auto& requests = opt(activity, "requests");
  if (!requests.is_array() || requests.empty()) return;
  std::printf("recent     %-20s %-6s %-9s %-9s %s\n", "MODEL", "STATUS", "TTFT", "TOTAL", "TOK/S");
  size_t shown = 0;
  for (auto it = requests.rbegin(); it != requests.rend() && shown < 5; ++it, ++shown) {
    auto num = [&](const char* key, const char* fmt) {
      const auto& v = opt(*it, key);
      if (!v.is_number()) return std::string("-");
      char buf[32];
      std::snprintf(buf, sizeof buf, fmt, v.get<double>());
      return std::string(buf);
    };
    const auto& model = opt(*it, "model");
    std::printf("           %-20s %-6d %-9s %-9s %s\n", model.is_string() ? model.get<std::string>().c_str() : "-",
                it->value("status", 0), num("ttft", "%.3fs").c_str(), num("seconds", "%.3fs").c_str(),
                num("tokensPerSecond", "%.1f").c_str());
  }
}

// Sleeps `d` in short steps; false once a stop signal came.
bool pause(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!g_stop && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(std::chrono::milliseconds(50), d));
  return !g_stop;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_watch_interval(const std::string& text) {
  const std::string_view t = text.ends_with('s') ? std::string_view(text).substr(0, text.size() - 1) : text;
  const auto secs = parse_decimal(t, 0.1, 3600);
  if (!secs) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(*secs * 1000 + 0.5));
}

int watch_status(const std::string& url, std::chrono::milliseconds interval, bool json_lines) {
  catch_stop_signals();
  const bool tty = !json_lines && ::isatty(STDOUT_FILENO);
  static char buffer[1 << 16];
  std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);  // a frame reaches the terminal whole: no flicker
  if (tty) std::printf("\x1b[?25l");                      // cursor hidden while redrawing
  int code = 0;
  for (bool first = true; !g_stop; first = false) {
    json status, activity;
    try {
      status = get_json(url, "/status");
      try {
        activity = get_json(url, "/activity");
      } catch (const std::exception&) {  // an llmux without /activity: the status alone
      }
    } catch (const std::exception& e) {
      if (g_stop) break;  // Ctrl-C during the call
      std::fflush(stdout);
      std::fprintf(stderr, first ? "llmux: %s\n" : "llmux: the daemon stopped answering: %s\n", e.what());
      code = 1;
      break;
    }
    if (json_lines) {
      std::printf("%s\n", status.dump().c_str());
    } else {
      std::fputs(tty ? "\x1b[H\x1b[J" : (first ? "" : "\n"), stdout);
      std::printf("--- %s, every %.1fs (Ctrl-C to stop)\n", clock_text().c_str(), interval.count() / 1000.0);
      print_status(status, url);
      print_recent(activity);
    }
    std::fflush(stdout);
    if (!pause(interval)) break;
  }
  if (tty) std::printf("\x1b[?25h");
  std::fflush(stdout);
  return code;
}

}  // namespace llmux
