// `llmux prompt`, `llmux chat` and `llmux models --discover` run as child processes against a real daemon with
// fake engines: streamed output, --json, one-line errors, a piped chat that keeps its conversation and switches
// model, and .gguf files planted in a temp dir.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>
#include <map>

#include "tests/integration/harness.hpp"

using namespace llmux::test;
namespace fs = std::filesystem;

namespace {

struct Run {
  int code = -1;
  std::string out, err;  // stdout, stderr
};

// Runs `llmux ARGS...` with `input` on stdin, stdout and stderr kept apart.
Run run(const std::vector<std::string>& args, const std::string& input = "", std::vector<std::string> env = {}) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/in", input);
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" <\"$CLI_IN\" 2>\"$CLI_ERR\"", LLMUX_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  env.push_back("CLI_IN=" + dir + "/in");
  env.push_back("CLI_ERR=" + dir + "/err");
  Process p(argv, env);
  auto st = p.wait_exit(60s);
  Run r{st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, p.output(), read_text_file(dir + "/err")};
  fs::remove_all(dir);
  return r;
}

std::string url(const Llmux& l) { return "http://127.0.0.1:" + std::to_string(l.port()); }

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// The body of the last inference request the resident engine received.
nlohmann::json last_engine_request(Llmux& l) {
  const int port = l.worker()["port"].get<int>();
  return http_get(static_cast<uint16_t>(port), "/debug/last-request").json();
}

std::string two_models(const std::string& ta, const std::string& tb, const std::string& a_extra = "") {
  return "defaultModel: a\nmodels:\n  a:\n    cmd: " + fake_cmd(ta, "--tokens 3 " + a_extra) + "\n  b:\n    cmd: " +
         fake_cmd(tb, "--tokens 2") + "\n";
}

// A one-shot HTTP server on 127.0.0.1 that answers the first request with `response` and keeps the request:
// stands in for a daemon that sends what the fake engine never does (heartbeats, load progress).
class CannedServer {
 public:
  explicit CannedServer(std::string response) : response_(std::move(response)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 1) != 0)
      throw std::runtime_error("CannedServer: bind/listen failed");
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    ::shutdown(fd_, SHUT_RDWR);  // wakes an accept() still waiting
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string request() {  // once the answer was sent
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  void serve() {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    for (size_t need = std::string::npos; request_.size() < need;) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
      size_t head = request_.find("\r\n\r\n"), cl = request_.find("Content-Length: ");
      if (head != std::string::npos && cl != std::string::npos) need = head + 4 + std::stoul(request_.substr(cl + 16));
    }
    [[maybe_unused]] ssize_t w = ::write(c, response_.data(), response_.size());
    ::close(c);
  }

  std::string response_, request_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST(CliChat, PromptSkipsHeartbeatsAndLoadProgressAndSendsNoModel) {
  const std::string body =
      ": loading model a\n\n"
      "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"loading a\\n\"}}]}\n\n"
      ": heartbeat\r\n\r\n"
      "data: {\"model\":\"a\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body);
  auto r = run({"prompt", "--url", server.url(), "--json", "hi"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["content"], "Hello") << "load progress (reasoning_content) is not part of the answer";
  EXPECT_EQ(j["model"], "a");
  EXPECT_EQ(j["usage"]["completion_tokens"], 2);
  const std::string request = server.request();
  auto sent = nlohmann::json::parse(request.substr(request.find("\r\n\r\n") + 4));
  EXPECT_FALSE(sent.contains("model")) << "no --model: the daemon's defaultModel decides";
  EXPECT_EQ(sent["stream"], true);
}

TEST(CliChat, PromptWhileAModelLoadsPrintsOnlyTheAnswer) {
  // a: progress as reasoning_content deltas; b: SSE comment heartbeats. Both loads outlast the daemon's 1 s wait.
  const std::string slow = "--tokens 2 --load-delay-ms 1500 --readiness refuse";
  Llmux l("models:\n  a:\n    sendLoadingState: true\n    cmd: " + fake_cmd(unique_tag("la"), slow) +
          "\n  b:\n    cmd: " + fake_cmd(unique_tag("lb"), slow) + "\n");
  for (const char* model : {"a", "b"}) {
    auto r = run({"prompt", "--url", url(l), "--model", model, "hi"});
    EXPECT_EQ(r.code, 0) << model << ": " << r.err;
    EXPECT_EQ(r.out, "tok0 tok1 \n") << model;
    EXPECT_EQ(r.err, "") << model;
  }
}

TEST(CliChat, PromptStreamsTokensAsTheyArrive) {
  Llmux l(two_models(unique_tag("pa"), unique_tag("pb"), "--token-ms 300"));
  Process p({"/bin/sh", "-c", "exec \"$0\" \"$@\" </dev/null", LLMUX_BIN, "prompt", "--url", url(l), "hello", "there"});
  // wait_for_output waits for a whole line: poll the raw output instead.
  ASSERT_TRUE(eventually([&] { return p.output().find("tok0 ") != std::string::npos; }, 20s)) << p.output();
  EXPECT_TRUE(p.running()) << "the first token must be shown before the answer is complete: " << p.output();
  auto st = p.wait_exit(20s);
  ASSERT_TRUE(st && WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 0);
  EXPECT_EQ(p.output(), "tok0 tok1 tok2 \n");
  EXPECT_EQ(last_engine_request(l)["messages"][0]["content"], "hello there");
}

TEST(CliChat, PromptJsonSystemMaxTokensAndStdin) {
  Llmux l(two_models(unique_tag("ja"), unique_tag("jb")));
  auto r = run({"prompt", "--url", url(l), "--json", "--model", "b", "--max-tokens", "1", "--system", "be brief", "hi"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"], "b");
  EXPECT_EQ(j["content"], "tok0 ");
  EXPECT_EQ(j["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 1);
  EXPECT_GT(j["seconds"].get<double>(), 0.0);
  auto req = last_engine_request(l);
  ASSERT_EQ(req["messages"].size(), 2u);
  EXPECT_EQ(req["messages"][0]["role"], "system");
  EXPECT_EQ(req["messages"][0]["content"], "be brief");
  EXPECT_EQ(req["max_tokens"], 1);

  auto piped = run({"prompt", "--url", url(l)}, "a question\nover two lines\n");
  EXPECT_EQ(piped.code, 0) << piped.err;
  EXPECT_EQ(piped.out, "tok0 tok1 tok2 \n");
  EXPECT_EQ(last_engine_request(l)["messages"][0]["content"], "a question\nover two lines");
}

TEST(CliChat, PromptErrorsAreOneLineAndExit1) {
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(unique_tag("ea"), "--tokens 5 --crash-after-tokens 2") + "\n");
  auto unknown = run({"prompt", "--url", url(l), "--model", "nope", "hi"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_EQ(unknown.out, "");
  EXPECT_NE(unknown.err.find("model 'nope' not found; available: a"), std::string::npos) << unknown.err;
  EXPECT_EQ(lines(unknown.err), 1u) << unknown.err;

  auto no_default = run({"prompt", "--url", url(l), "hi"});
  EXPECT_EQ(no_default.code, 1);
  EXPECT_NE(no_default.err.find("no defaultModel is configured"), std::string::npos) << no_default.err;
  EXPECT_EQ(lines(no_default.err), 1u) << no_default.err;

  auto crash = run({"prompt", "--url", url(l), "--model", "a", "hi"});  // the relay ends the SSE with event: error
  EXPECT_EQ(crash.code, 1);
  EXPECT_EQ(crash.out, "tok0 tok1 \n");
  EXPECT_NE(crash.err.find("engine for model 'a'"), std::string::npos) << crash.err;
  EXPECT_EQ(lines(crash.err), 1u) << crash.err;

  auto usage = run({"prompt", "--url", url(l)});
  EXPECT_EQ(usage.code, 2);
}

TEST(CliChat, UnreachableDaemonIsOneLineAndExit1) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"prompt", "--url", "http://127.0.0.1:1", "hi"},
        std::vector<std::string>{"chat", "--url", "http://127.0.0.1:1"}}) {
    auto r = run(args, "hello\n");
    EXPECT_EQ(r.code, 1) << args[0];
    EXPECT_NE(r.err.find("cannot reach llmux at http://127.0.0.1:1"), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST(CliChat, ChatKeepsTheConversationAcrossAModelSwitch) {
  Llmux l(two_models(unique_tag("ca"), unique_tag("cb")));
  auto r = run({"chat", "--url", url(l)}, "first question\nsecond question\n/model b\nthird question\n");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "tok0 tok1 tok2 \ntok0 tok1 tok2 \ntok0 tok1 \n");  // a answers 3 tokens, b 2
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(l.worker()["model"], "b");
  auto messages = last_engine_request(l)["messages"];
  ASSERT_EQ(messages.size(), 5u) << messages.dump();
  const char* roles[] = {"user", "assistant", "user", "assistant", "user"};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(messages[i]["role"], roles[i]) << i;
  EXPECT_EQ(messages[0]["content"], "first question");
  EXPECT_EQ(messages[1]["content"], "tok0 tok1 tok2 ");
  EXPECT_EQ(messages[4]["content"], "third question");
  EXPECT_EQ(last_engine_request(l)["model"], "b");
}

TEST(CliChat, ChatResetKeepsSystemAndFailedTurnIsNotKept) {
  Llmux l(two_models(unique_tag("ra"), unique_tag("rb")));
  auto r = run({"chat", "--url", url(l), "--system", "terse"},
               "one\n/model nope\nlost\n/model a\n/reset\ntwo\n/help\n/exit\nnever sent\n");
  EXPECT_EQ(r.code, 1) << "a failed turn makes the exit status 1";
  EXPECT_NE(r.err.find("model 'nope' not found"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("/reset"), std::string::npos) << "help text";
  auto messages = last_engine_request(l)["messages"];
  ASSERT_EQ(messages.size(), 2u) << messages.dump();
  EXPECT_EQ(messages[0]["role"], "system");
  EXPECT_EQ(messages[1]["content"], "two");
}

TEST(CliDiscover, FindsPlantedGgufFiles) {
  const std::string dir = make_temp_dir(), other = make_temp_dir(), hub = make_temp_dir();
  auto plant = [](const std::string& path, off_t size) {
    write_file(path, "");
    ASSERT_EQ(::truncate(path.c_str(), size), 0);
  };
  plant(dir + "/configured-Q4.gguf", 3 << 20);
  plant(other + "/new-model-Q8_0.gguf", 5 << 20);
  plant(other + "/mmproj-new-model-f16.gguf", 1 << 20);
  plant(other + "/split-00001-of-00002.gguf", 1 << 20);
  plant(other + "/split-00002-of-00002.gguf", 2 << 20);
  // The configured model names its file in cmd; it is never started, so the fake's unknown -m does not matter.
  Llmux l("models:\n  q:\n    cmd: " + fake_cmd(unique_tag("dq")) + " -m " + dir + "/configured-Q4.gguf\n");
  const std::vector<std::string> env = {"HF_HUB_CACHE=" + hub, "LLMUX_MODEL_DIRS="};
  auto r = run({"models", "--discover", "--dir", other, "--json", "--url", url(l)}, "", env);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& m : j["found"]) by_name[m["name"]] = m;
  ASSERT_EQ(by_name.size(), 3u) << r.out;
  EXPECT_TRUE(by_name["configured-Q4"]["configured"]) << "found through the configured cmd's directory";
  EXPECT_FALSE(by_name["new-model-Q8_0"]["configured"]);
  EXPECT_EQ(by_name["new-model-Q8_0"]["bytes"], 5 << 20);
  EXPECT_EQ(by_name["split"]["bytes"], 3 << 20);
  EXPECT_EQ(by_name["split"]["format"], "gguf");
  EXPECT_TRUE(by_name["split"]["fits"].is_boolean()) << "the daemon's budget is known";
  const std::string snippet = j["snippet"];
  EXPECT_NE(snippet.find("-m " + other + "/new-model-Q8_0.gguf"), std::string::npos) << snippet;
  EXPECT_EQ(snippet.find("configured-Q4"), std::string::npos) << snippet;

  auto text = run({"models", "--discover", "--dir", other, "--url", url(l)}, "", env);
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("MODEL"), std::string::npos) << "the configured table comes first: " << text.out;
  EXPECT_NE(text.out.find("new-model-Q8_0"), std::string::npos) << text.out;

  auto offline = run({"models", "--discover", "--dir", other, "--json", "--url", "http://127.0.0.1:1"}, "", env);
  EXPECT_EQ(offline.code, 0);
  EXPECT_EQ(lines(offline.err), 1u) << offline.err;
  auto oj = nlohmann::json::parse(offline.out);
  ASSERT_EQ(oj["found"].size(), 2u);
  EXPECT_TRUE(oj["found"][0]["fits"].is_null());

  // llmux down, its config file at hand: configured models are marked from the file.
  const std::string config = dir + "/llmux.yaml";
  write_file(config, "models:\n  q:\n    cmd: llama-server --port ${PORT} -m " + dir + "/configured-Q4.gguf\n");
  auto local = run({"models", "--discover", "--dir", other, "--json", "--url", "http://127.0.0.1:1", "--config", config},
                   "", env);
  EXPECT_EQ(local.code, 0) << local.err;
  EXPECT_NE(local.err.find("configured models read from " + config), std::string::npos) << local.err;
  auto lj = nlohmann::json::parse(local.out);
  std::map<std::string, nlohmann::json> local_by_name;
  for (const auto& m : lj["found"]) local_by_name[m["name"]] = m;
  ASSERT_EQ(local_by_name.size(), 3u) << local.out;
  EXPECT_TRUE(local_by_name["configured-Q4"]["configured"]) << local.out;
  EXPECT_FALSE(local_by_name["new-model-Q8_0"]["configured"]);
  for (const auto& d : {dir, other, hub}) fs::remove_all(d);
}
