#include "proxy/cli/cli_chat.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/seconds.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/options.hpp"
#include "proxy/http/sse.hpp"

namespace llmux {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Bounds the connect and each read: the first byte may wait for a model load when the daemon sends no heartbeat.
constexpr auto kReadTimeout = std::chrono::minutes(30);
constexpr size_t kRawKept = 1 << 20;  // bytes of the body kept for a non-SSE answer (error or plain JSON)
constexpr const char* kDim = "\033[2m";
constexpr const char* kReset = "\033[0m";

struct ChatOptions {
  std::string url = default_daemon_url();
  std::string model, system;
  std::optional<long long> max_tokens;
  bool json_out = false;
  std::vector<std::string> text;
};

// One answer, as the CLI reports it.
struct Turn {
  bool ok = false;
  bool unreachable = false;  // no byte came back: the daemon is down or the URL is wrong
  bool printed = false;      // something went to stdout: the answer needs its closing newline
  std::string error;         // one line when !ok
  std::string model, content, finish_reason;
  json usage;                // null when the daemon sent none
  double seconds = 0;        // request sent → last byte
  double generating = 0;     // first token → last byte
};

struct Display {
  bool print = true;  // stream the content to stdout
  bool tty = false;   // stdout is a terminal: load progress (reasoning_content) is shown dimmed
};


void out(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

// Reads one streamed chat completion: SSE comments (heartbeats) are skipped, `event: error` or an error payload
// ends the turn, content is printed as it arrives. A body that is not SSE is read as a plain JSON answer.
class TurnReader {
 public:
  explicit TurnReader(Display d) : d_(d) {}
  bool on_data(std::string_view bytes) {
    got_bytes_ = true;
    if (raw_.size() < kRawKept) raw_.append(bytes.substr(0, kRawKept - raw_.size()));
    for (const auto& e : parser_.feed(bytes))
      if (!on_event(e)) return false;
    return true;
  }
  bool got_bytes() const { return got_bytes_; }
  Turn finish(int status);

 private:
  bool on_event(const SseMessage& e);
  void show(const ChatChunk& c);
  void read_plain_body();

  Display d_;
  Clock::time_point start_ = Clock::now(), first_{};
  SseParser parser_;
  std::string raw_;
  bool got_bytes_ = false, any_event_ = false, done_ = false, in_reasoning_ = false;
  Turn t_;
};

bool TurnReader::on_event(const SseMessage& e) {
  any_event_ = true;
  if (e.event == "error") {
    t_.error = error_message(e.data);
    return false;
  }
  ChatChunk c = parse_chat_chunk(e.data);
  if (c.done) return !(done_ = true);
  if (c.malformed) return true;
  if (!c.error.empty()) {
    t_.error = c.error;
    return false;
  }
  if (!c.model.empty()) t_.model = c.model;
  if (!c.usage.is_null()) t_.usage = c.usage;
  if (!c.finish_reason.empty()) t_.finish_reason = c.finish_reason;
  show(c);
  return true;
}

void TurnReader::show(const ChatChunk& c) {
  if (!c.reasoning.empty() && d_.print && d_.tty) {
    out(kDim + c.reasoning + kReset);
    in_reasoning_ = !c.reasoning.ends_with('\n');  // the answer starts on a line of its own
    t_.printed = true;
  }
  if (c.content.empty()) return;
  if (first_ == Clock::time_point{}) first_ = Clock::now();
  t_.content += c.content;
  if (!d_.print) return;
  if (in_reasoning_) out("\n");
  in_reasoning_ = false;
  out(c.content);
  t_.printed = true;
}

void TurnReader::read_plain_body() {
  ChatChunk c = parse_chat_chunk(raw_);
  if (c.malformed || (c.content.empty() && c.finish_reason.empty() && c.error.empty())) {
    t_.error = "unexpected answer from the daemon: " + error_message(raw_);
    return;
  }
  done_ = true;
  t_.error = c.error;
  if (!t_.error.empty()) return;
  t_.model = c.model, t_.usage = c.usage, t_.finish_reason = c.finish_reason;
  show(c);
}

Turn TurnReader::finish(int status) {
  if (auto last = parser_.finish(); last && t_.error.empty() && !done_) on_event(*last);
  t_.seconds = seconds_since(start_);
  if (status >= 400) {
    if (t_.error.empty()) t_.error = error_message(raw_);
    t_.error += " (HTTP " + std::to_string(status) + ")";
    return t_;
  }
  if (t_.error.empty() && !any_event_) read_plain_body();
  if (t_.error.empty() && !done_ && t_.finish_reason.empty())
    t_.error = "the answer stream ended before the answer was complete";
  t_.ok = t_.error.empty();
  if (first_ != Clock::time_point{}) t_.generating = seconds_since(first_);
  return t_;
}

json request_body(const ChatOptions& o, const json& messages) {
  json b = {{"messages", messages}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  if (!o.model.empty()) b["model"] = o.model;  // absent: the daemon's defaultModel answers
  if (o.max_tokens) b["max_tokens"] = *o.max_tokens;
  return b;
}

Turn run_turn(const ChatOptions& o, const json& messages, Display d) {
  TurnReader reader(d);
  const std::string body = request_body(o, messages).dump(-1, ' ', false, json::error_handler_t::replace);
  try {
    int status = http_stream(o.url, "POST", "/v1/chat/completions", body,
                             [&reader](std::string_view b) { return reader.on_data(b); }, kReadTimeout);
    return reader.finish(status);
  } catch (const std::exception& e) {
    Turn t = reader.finish(0);  // keeps what was printed of a cut stream
    t.unreachable = !reader.got_bytes();
    t.ok = false;
    t.error = e.what();
    return t;
  }
}

json turn_json(const Turn& t) {
  return {{"model", t.model}, {"content", t.content}, {"finish_reason", t.finish_reason},
          {"usage", t.usage}, {"seconds", t.seconds}};
}

// prompt: TEXT words (or "-": stdin); chat refuses TEXT after parsing, with a hint.
std::string parse_options(const std::vector<std::string>& args, ChatOptions& o) {
  return OptionParser()
      .flag("--json", o.json_out)
      .value("--url", o.url, "a URL")
      .value("--model|-m", o.model, "a model name")
      .value("--system", o.system, "a system prompt")
      .integer("--max-tokens", o.max_tokens, 1, 1'000'000'000, "a positive number")
      .positionals(o.text, SIZE_MAX, "TEXT")
      .parse(args);
}

int usage(const std::string& what) {
  std::fprintf(stderr, "llmux: %s\n", what.c_str());
  return 2;
}

// TEXT words joined; "-" or no TEXT with stdin not a terminal: all of stdin (one trailing newline dropped).
std::string prompt_text(const ChatOptions& o) {
  const bool from_stdin = (o.text.size() == 1 && o.text[0] == "-") || (o.text.empty() && !::isatty(0));
  if (!from_stdin) {
    std::string text;
    for (const auto& w : o.text) text += (text.empty() ? "" : " ") + w;
    return text;
  }
  std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  if (text.ends_with('\n')) text.pop_back();
  if (text.ends_with('\r')) text.pop_back();
  return text;
}

json first_messages(const ChatOptions& o) {
  json m = json::array();
  if (!o.system.empty()) m.push_back({{"role", "system"}, {"content", o.system}});
  return m;
}

}  // namespace

int cli_prompt(const std::vector<std::string>& args) {
  ChatOptions o;
  if (auto err = parse_options(args, o); !err.empty()) return usage("prompt: " + err);
  const std::string text = prompt_text(o);
  if (text.empty()) return usage("prompt: no TEXT given (pass it as arguments, or on stdin with '-')");
  json messages = first_messages(o);
  messages.push_back({{"role", "user"}, {"content", text}});
  const Display d{!o.json_out, ::isatty(1) != 0};
  Turn t = run_turn(o, messages, d);
  if (t.printed) out("\n");
  if (!t.ok) {
    std::fprintf(stderr, "llmux: %s\n", t.error.c_str());
    return 1;
  }
  if (o.json_out) std::printf("%s\n", turn_json(t).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  return 0;
}

namespace {

// The REPL's state: the conversation so far and the model the next turn goes to.
struct ChatSession {
  ChatOptions o;
  json messages;
  bool interactive = false;  // stdin is a terminal: show a prompt and confirmations
  bool out_tty = false;
  bool failed = false;       // some turn failed: exit 1 at the end
};

constexpr const char* kChatHelp =
    "/model NAME   switch model (the conversation continues); /model alone shows the current one\n"
    "/reset        forget the conversation (the --system message stays)\n"
    "/exit         leave (also /quit, or end of input)\n"
    "/help         this text\n";

void print_stats(const ChatSession& s, const Turn& t) {
  if (!s.out_tty || s.o.json_out) return;
  std::string line = t.model.empty() ? "" : t.model + " · ";
  if (t.usage.is_object() && t.usage.contains("completion_tokens")) {
    const long long n = t.usage.value("completion_tokens", 0LL);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%lld tokens · %.1f tok/s · ", n, t.generating > 0 ? n / t.generating : 0.0);
    line += buf;
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1fs", t.seconds);
  out(std::string(kDim) + "[" + line + secs + "]" + kReset + "\n");
}

// Sends the conversation plus `text`; the answer joins the conversation only when it arrived whole.
// Returns false when the daemon cannot be reached (the REPL ends).
bool ask(ChatSession& s, const std::string& text) {
  s.messages.push_back({{"role", "user"}, {"content", text}});
  const Display d{!s.o.json_out, s.out_tty};
  Turn t = run_turn(s.o, s.messages, d);
  if (t.printed) out("\n");
  if (!t.ok) {
    s.messages.erase(s.messages.size() - 1);
    std::fprintf(stderr, "llmux: %s\n", t.error.c_str());
    s.failed = true;
    return !t.unreachable;
  }
  s.messages.push_back({{"role", "assistant"}, {"content", t.content}});
  if (s.o.json_out) std::printf("%s\n", turn_json(t).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  print_stats(s, t);
  std::fflush(stdout);
  return true;
}

// Runs a /command; returns false for /exit.
bool command(ChatSession& s, const std::string& line) {
  const size_t space = line.find(' ');
  const std::string cmd = line.substr(0, space);
  const size_t arg_at = space == std::string::npos ? std::string::npos : line.find_first_not_of(' ', space);
  const std::string arg = arg_at == std::string::npos ? "" : line.substr(arg_at);
  if (cmd == "/exit" || cmd == "/quit") return false;
  if (cmd == "/help") std::fputs(kChatHelp, stdout);
  else if (cmd == "/reset") {
    s.messages = first_messages(s.o);
    if (s.interactive) std::printf("conversation reset\n");
  } else if (cmd == "/model" && arg.empty()) {
    std::printf("model: %s\n", s.o.model.empty() ? "(the daemon's defaultModel)" : s.o.model.c_str());
  } else if (cmd == "/model") {
    s.o.model = arg;
    if (s.interactive) std::printf("model: %s\n", arg.c_str());
  } else {
    std::fprintf(stderr, "llmux: unknown command '%s'; /help lists them\n", cmd.c_str());
  }
  std::fflush(stdout);
  return true;
}

std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace

int cli_chat(const std::vector<std::string>& args) {
  ChatSession s;
  if (auto err = parse_options(args, s.o); !err.empty()) return usage("chat: " + err);
  if (!s.o.text.empty()) return usage("chat: unexpected argument '" + s.o.text[0] + "' (use `llmux prompt TEXT`)");
  try {
    http_call(s.o.url, "GET", "/health");  // fail at once, not after the first question is typed
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmux: %s\n", e.what());
    return 1;
  }
  s.messages = first_messages(s.o);
  s.interactive = ::isatty(0) != 0;
  s.out_tty = ::isatty(1) != 0;
  if (s.interactive) std::printf("llmux chat at %s; /help for commands, /exit or Ctrl-D to leave\n", s.o.url.c_str());
  for (std::string line;;) {
    if (s.interactive) out("> ");
    if (!std::getline(std::cin, line)) break;
    line = trimmed(line);
    if (line.empty()) continue;
    if (line.starts_with('/') && !command(s, line)) break;
    if (!line.starts_with('/') && !ask(s, line)) return 1;
  }
  if (s.interactive) out("\n");
  return s.failed ? 1 : 0;
}

}  // namespace llmux
