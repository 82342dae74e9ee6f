// Relay and HTTP surface: real llmux + fake engine processes on 127.0.0.1.
#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

std::string one_model(const std::string& tag, const std::string& flags = "", const std::string& model_extra = "") {
  return "models:\n"
         "  a:\n"
         "    cmd: " + fake_cmd(tag, flags) + "\n"
         "    aliases: [alpha]\n" + model_extra;
}

}  // namespace

TEST(Relay, NonStreamingChatIsRelayedAndStatusShowsTheWorker) {
  auto tag = unique_tag("basic");
  Llmux l(one_model(tag, "--load-delay-ms 200 --token-ms 1"));
  auto r = l.chat("a");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "a");
  EXPECT_GT(j["usage"]["completion_tokens"].get<int>(), 0);
  auto w = l.worker();
  ASSERT_TRUE(w.is_object()) << l.status().dump();
  EXPECT_EQ(w["model"], "a");
  EXPECT_EQ(w["state"], "ready");
  EXPECT_EQ(w["pid"].get<int>(), std::stoi(r.header("x-fake-pid")));
  EXPECT_GT(w["port"].get<int>(), 0);
  EXPECT_EQ(w["inFlight"], 0);
  EXPECT_TRUE(w.contains("startedAt"));
  auto s = l.status();
  EXPECT_EQ(s["queue"]["length"], 0);
  EXPECT_NE(s["config"]["path"].get<std::string>().find("config.yaml"), std::string::npos);
  EXPECT_TRUE(s["config"].contains("loadedAt"));
}

TEST(Relay, AliasAndRoutesWithoutV1PrefixAndTrailingSlash) {
  auto tag = unique_tag("alias");
  Llmux l(one_model(tag, "--token-ms 1"));
  std::string body = R"({"model":"alpha","prompt":"x","max_tokens":3})";
  auto r1 = http_post(l.port(), "/completions/", body);
  ASSERT_EQ(r1.status, 200) << r1.body;
  EXPECT_EQ(r1.json()["object"], "text_completion");
  EXPECT_EQ(r1.json()["model"], "a");  // the alias is forwarded as the model id
  auto r2 = http_post(l.port(), "/v1/embeddings", R"({"model":"a","input":"hi"})");
  ASSERT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(r2.json()["data"][0]["embedding"].size(), 8u);
}

TEST(Relay, DefaultModelAndUseModelNameReachTheEngine) {
  auto tag = unique_tag("rename");
  Llmux l("defaultModel: alpha\n" + one_model(tag, "--token-ms 1", "    useModelName: org/a-4bit\n"));
  auto r = http_post(l.port(), "/v1/chat/completions", R"({"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  int engine_port = l.worker()["port"];
  auto last = http_get(static_cast<uint16_t>(engine_port), "/debug/last-request").json();
  EXPECT_EQ(last["model"], "org/a-4bit");
  EXPECT_EQ(last["messages"][0]["content"], "hi");
}

TEST(Relay, ModelsListsModelsAndAliasesWithStateAndHidesUnlisted) {
  auto tag = unique_tag("models");
  Llmux l(one_model(tag) + "  secret:\n    cmd: " + fake_cmd(tag + "-s") + "\n    unlisted: true\n");
  auto before = http_get(l.port(), "/v1/models").json();
  ASSERT_EQ(before["object"], "list");
  std::map<std::string, std::string> state;
  for (const auto& m : before["data"]) state[m["id"]] = m["state"];
  EXPECT_EQ(state, (std::map<std::string, std::string>{{"a", "stopped"}, {"alpha", "stopped"}}));
  ASSERT_EQ(l.chat("a").status, 200);
  auto after = http_get(l.port(), "/v1/models").json();
  for (const auto& m : after["data"]) EXPECT_EQ(m["state"], "ready") << m.dump();
  EXPECT_EQ(http_get(l.port(), "/health").status, 200);
  auto running = http_get(l.port(), "/running").json();
  ASSERT_EQ(running["running"].size(), 1u);
  EXPECT_EQ(running["running"][0]["model"], "a");
}

TEST(Relay, ErrorsAreOpenAIShaped) {
  auto tag = unique_tag("errors");
  Llmux l("maxRequestBody: 2KB\n" + one_model(tag));
  auto unknown = l.chat("nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json()["error"]["code"], "model_not_found");
  EXPECT_EQ(unknown.json()["error"]["message"], "model 'nope' not found; available: a, alpha");
  auto bad = http_post(l.port(), "/v1/chat/completions", "{\"model\": ");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"]["type"], "invalid_request_error");
  auto nomodel = http_post(l.port(), "/v1/chat/completions", R"({"messages":[]})");
  EXPECT_EQ(nomodel.status, 400);
  EXPECT_EQ(nomodel.json()["error"]["code"], "model_required");
  auto big = http_post(l.port(), "/v1/chat/completions", R"({"model":"a","pad":")" + std::string(4000, 'x') + "\"}");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.json()["error"]["code"], "request_too_large");
  auto method = http_get(l.port(), "/v1/chat/completions");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.header("allow"), "POST");
  auto nowhere = http_get(l.port(), "/v2/whatever");
  EXPECT_EQ(nowhere.status, 404);
  EXPECT_TRUE(nowhere.json()["error"].contains("message"));
  EXPECT_TRUE(l.worker().is_null());  // none of these started an engine
}

TEST(Relay, SseEventsArriveSpacedAsTheEngineSendsThem) {
  auto tag = unique_tag("sse");
  Llmux l(one_model(tag, "--token-ms 120 --tokens 5"));
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);  // load first
  auto r = l.stream_chat("a");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"].rfind("text/event-stream", 0), 0u);
  EXPECT_EQ(r.headers["x-accel-buffering"], "no");
  ASSERT_TRUE(stream_done(r)) << r.body;
  std::vector<std::chrono::steady_clock::time_point> at;
  for (const auto& e : r.events)
    if (e.data.find("\"content\":\"tok") != std::string::npos) at.push_back(e.at);
  ASSERT_EQ(at.size(), 5u);
  for (size_t i = 1; i < at.size(); ++i)  // buffered relays deliver them together at the end
    EXPECT_GT(at[i] - at[i - 1], 60ms) << "event " << i << " arrived bunched with the previous one";
  EXPECT_GT(at.front() - r.headers_at, 60ms) << "header must be flushed before the first token";
}

TEST(Relay, KeepAliveConnectionServesSeveralRequests) {
  auto tag = unique_tag("keepalive");
  Llmux l(one_model(tag, "--token-ms 0"));
  HttpConnection c(l.port());
  for (int i = 0; i < 5; ++i) {
    auto r = c.request("POST", "/v1/chat/completions", R"({"model":"a","max_tokens":2,"messages":[]})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  EXPECT_EQ(c.request("GET", "/health").status, 200);
}

TEST(Relay, IncompleteRequestHeaderIsCutAfterTheHeaderTimeout) {
  Llmux l("timeouts:\n  headerRead: 300ms\n" + one_model(unique_tag("slow")));
  int fd = connect_tcp(l.port());
  std::string partial = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  ASSERT_EQ(::send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
  auto start = std::chrono::steady_clock::now();
  char c;
  ssize_t n = ::recv(fd, &c, 1, 0);  // blocks until llmux closes the connection
  EXPECT_LE(n, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  ::close(fd);

  // headerRead bounds the whole head: a client dripping a byte every 100 ms is cut all the same.
  fd = connect_tcp(l.port());
  start = std::chrono::steady_clock::now();
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    if (::send(fd, "X", 1, MSG_NOSIGNAL) != 1) closed = true;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) == 1 && ::recv(fd, &c, 1, 0) <= 0) closed = true;
  }
  EXPECT_TRUE(closed) << "a dripping client kept the connection for 4 s";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ::close(fd);
}

// Keep-alive with pipelining: the bytes of the next request may arrive with the last one, in pieces, or after a
// pause; each must be answered in order on the same connection (the disconnect watch's read doubles as the wait
// for the next request, and bytes it read must not be lost or reordered).
TEST(Relay, PipelinedAndSplitRequestsOnOneConnectionAreAnsweredInOrder) {
  auto tag = unique_tag("pipe");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--tokens 2") + "\n");
  ASSERT_EQ(l.chat("a").status, 200);  // loaded: the requests below are relayed at once
  int fd = connect_tcp(l.port());
  auto send_all = [fd](const std::string& s) { ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), (ssize_t)s.size()); };
  const std::string body = R"({"model":"a","messages":[{"role":"user","content":"hi"}]})";
  const std::string post = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::string health = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  send_all(post + health.substr(0, 10));  // a whole request and the start of the next
  std::this_thread::sleep_for(100ms);
  send_all(health.substr(10));
  std::this_thread::sleep_for(300ms);     // idle: the next request arrives while llmux waits on the connection
  send_all(post + post);                  // two at once
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto count = [&got](const std::string& what) {
    size_t n = 0;
    for (size_t p = 0; (p = got.find(what, p)) != std::string::npos; ++p) ++n;
    return n;
  };
  while (count("HTTP/1.1 200") < 4 || count("\"finish_reason\"") < 3) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << got;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[8192];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << "connection closed early:\n" << got;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto first_ok = got.find("\r\n\r\nOK");
  ASSERT_NE(first_ok, std::string::npos) << got;
  EXPECT_LT(got.find("\"finish_reason\""), first_ok) << "the health answer came second";
  EXPECT_EQ(count("HTTP/1.1 200"), 4u) << got;
}

namespace {

// Sends raw bytes on a fresh connection and collects the answer until llmux closes the connection or `until`
// appears (then a little more time is not waited for).
std::string raw_exchange(uint16_t port, const std::string& bytes, const std::string& until = {}) {
  int fd = connect_tcp(port);
  EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!until.empty() && got.find(until) != std::string::npos) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[8192];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

}  // namespace

// llmux reads requests with its own parser: chunked bodies are decoded (and sent on with a Content-Length),
// Expect: 100-continue is answered, HTTP/1.0 is spoken back, and malformed or ambiguous framing is refused with an
// OpenAI-shaped 400 (or 431) and the connection closed.
TEST(Relay, RequestFramingEdgeCases) {
  auto tag = unique_tag("framing");
  Llmux l(one_model(tag, "--tokens 2"));
  const std::string body = R"({"model":"a","messages":[{"role":"user","content":"hi"}]})";

  auto chunked = raw_exchange(l.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                                        "Connection: close\r\n\r\n7;ext=1\r\n" + body.substr(0, 7) + "\r\n" +
                                            [&] {
                                              char size[16];
                                              std::snprintf(size, sizeof size, "%zx", body.size() - 7);
                                              return std::string(size);
                                            }() + "\r\n" + body.substr(7) + "\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << chunked;
  EXPECT_NE(chunked.find("\"finish_reason\""), std::string::npos) << chunked;

  std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nConnection: close\r\n"
                     "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  int fd = connect_tcp(l.port());
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  char buf[256];
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "no 100 Continue before the body";
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
  ::close(fd);

  auto old = raw_exchange(l.port(), "POST /v1/chat/completions HTTP/1.0\r\nHost: localhost\r\nContent-Length: " +
                                        std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(old.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << old;
  EXPECT_NE(old.find("\"finish_reason\""), std::string::npos) << old;

  struct Bad {
    std::string request, status, message;
  };
  const std::vector<Bad> bad = {
      {"GARBAGE\r\n\r\n", "400", "malformed request line"},
      {"POST /v1/chat/completions HTTP/2.0\r\n\r\n", "400", "unsupported HTTP version"},
      {"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "400",
       "both Content-Length and Transfer-Encoding"},
      {"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "400", "unsupported Transfer-Encoding"},
      {"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", "400", "bad Content-Length"},
      {"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400",
       "malformed chunked request body"},
      {"GET /health HTTP/1.1\r\nX-Big: " + std::string(70000, 'a') + "\r\n\r\n", "431", "request header too large"},
      {"GET /health HTTP/1.1\r\nX-A: one\rtwo\r\n\r\n", "400", "control character in a header field value"},
      {"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(9000, 'e'), "400",
       "malformed chunked request body"},
  };
  for (const auto& b : bad) {
    auto got = raw_exchange(l.port(), b.request);  // llmux closes the connection after the error
    EXPECT_EQ(got.rfind("HTTP/1.1 " + b.status + " ", 0), 0u) << got;
    EXPECT_NE(got.find("\"error\":{"), std::string::npos) << got;
    EXPECT_NE(got.find(b.message), std::string::npos) << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  }
}

// Chunked request bodies are framed strictly (CRLF line ends, trailers are field lines): what llmux takes for the
// end of a body is where any strict parser in front of it sees it too. The issue's case, "0\n\r\n", was a whole
// body for llmux and an unfinished one for Beast. Each is refused with a 400 and the connection closed, before any
// engine is started; the same body with CRLF and a trailer is served.
TEST(Relay, ChunkedRequestFramingIsStrict) {
  auto tag = unique_tag("strictchunk");
  Llmux l(one_model(tag, "--tokens 2"));
  const std::string host = "Host: 127.0.0.1:" + std::to_string(l.port()) + "\r\n";
  const std::string head = "POST /v1/chat/completions HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n";
  const std::string body = R"({"model":"a","messages":[{"role":"user","content":"hi"}]})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  const std::vector<std::string> refused = {"0\n\r\n", std::string(size) + "\n" + body + "\r\n0\r\n\r\n",
                                          std::string(size) + "\r\n" + body + "\n0\r\n\r\n",
                                          std::string(size) + "\r\n" + body + "\r\n0\r\nX-T: v\n\r\n",
                                          std::string(size) + "\r\n" + body + "\r\n0\r\nno colon\r\n\r\n"};
  for (const std::string& framing : refused) {
    auto got = raw_exchange(l.port(), head + framing);  // llmux closes the connection after the error
    EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << testing::PrintToString(framing) << "\n" << got;
    EXPECT_NE(got.find("malformed chunked request body"), std::string::npos) << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  }
  EXPECT_TRUE(l.worker().is_null()) << "a refused request started an engine: " << l.status().dump();
  auto ok = raw_exchange(l.port(), head + std::string(size) + "\r\n" + body + "\r\n0\r\nX-T: v\r\n\r\n",
                         "\"finish_reason\"");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
}

// Heads larger than the relay's head buffer (1 KiB) pass whole both ways: many client fields reach the engine
// with their values, hop-by-hop ones do not; a long engine field reaches the client, streamed or not.
TEST(Relay, LargeHeadsPassWholeBothWays) {
  auto tag = unique_tag("bighead");
  Llmux l(one_model(tag, "--pad-header 3000 --tokens 2 --token-ms 0"));
  std::string fields;
  for (int i = 0; i < 60; ++i) fields += "X-Field-" + std::to_string(i) + ": value-" + std::string(40, 'v') + "\r\n";
  for (bool stream : {false, true}) {
    const std::string body = R"({"model":"a","stream":)" + std::string(stream ? "true" : "false") +
                             R"(,"messages":[{"role":"user","content":"hi"}]})";
    const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fields +
                                "Keep-Alive: timeout=5\r\nConnection: close\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    const std::string got = raw_exchange(l.port(), request);
    ASSERT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got.substr(0, 300);
    EXPECT_NE(got.find("X-Fake-Pad: " + std::string(3000, 'p') + "\r\n"), std::string::npos);
    EXPECT_NE(got.find(stream ? "data: [DONE]" : "\"finish_reason\""), std::string::npos) << got.substr(got.size() - 300);
    const int engine_port = l.worker()["port"];
    const auto seen = http_get(static_cast<uint16_t>(engine_port), "/debug/last-headers").json();
    for (int i = 0; i < 60; ++i)
      EXPECT_EQ(seen.value("X-Field-" + std::to_string(i), ""), "value-" + std::string(40, 'v')) << seen.dump();
    EXPECT_FALSE(seen.contains("Keep-Alive")) << seen.dump();
    EXPECT_EQ(seen.value("Content-Length", ""), std::to_string(body.size()));
  }
}

// An engine that closes an idle keep-alive connection (its own keep-alive timeout) leaves llmux a stale pooled
// connection: the next request notices before any response byte and goes again on a fresh connection, so the
// client never sees it. Each request reaches the engine once.
TEST(Relay, StalePooledEngineConnectionIsRetriedOnAFreshOne) {
  auto tag = unique_tag("stalepool");
  Llmux l("logLevel: debug\nmodels:\n  a:\n    cmd: " + fake_cmd(tag, "--close-after 1 --tokens 3 --token-ms 0") + "\n");
  for (int i = 0; i < 4; ++i) {
    auto r = l.chat("a");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(nlohmann::json::parse(r.body)["choices"][0]["message"]["content"], "tok0 tok1 tok2 ") << r.body;
  }
  EXPECT_TRUE(l.logged("pooled engine connection was stale")) << l.log();
  auto requests = [&] { return l.log_count("POST /v1/chat/completions model="); };  // the engine's request lines
  EXPECT_TRUE(eventually([&] { return requests() >= 4; })) << l.log();
  EXPECT_EQ(requests(), 4u) << l.log();
}

// Engines frame their answers in every way HTTP/1.1 allows; the client gets a well-framed answer for its own HTTP
// version: interim 1xx responses are not passed on, a close-delimited body is re-chunked for HTTP/1.1 clients, and
// a chunked stream reaches an HTTP/1.0 client as plain bytes ended by the connection's close.
TEST(Relay, EngineFramingReachesClientsOfEitherVersion) {
  auto tag = unique_tag("engframing");
  Llmux l("models:\n  i:\n    cmd: " + fake_cmd(tag + "-i", "--interim --tokens 3") + "\n  c:\n    cmd: " +
          fake_cmd(tag + "-c", "--close-delimited --tokens 3") + "\n");
  auto post = [](const std::string& model, const std::string& version, bool stream) {
    const std::string body = R"({"model":")" + model + R"(","stream":)" + (stream ? "true" : "false") +
                             R"(,"messages":[{"role":"user","content":"hi"}]})";
    return "POST /v1/chat/completions HTTP/" + version + "\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  for (bool stream : {false, true}) {
    auto got = raw_exchange(l.port(), post("i", "1.1", stream));
    EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
    EXPECT_EQ(got.find(" 103 "), std::string::npos) << got;
    EXPECT_NE(got.find(stream ? "[DONE]" : "\"finish_reason\""), std::string::npos) << got;
  }
  auto rechunked = raw_exchange(l.port(), post("c", "1.1", false));
  EXPECT_EQ(rechunked.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << rechunked;
  EXPECT_NE(rechunked.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << rechunked;
  EXPECT_NE(rechunked.find("\"finish_reason\""), std::string::npos) << rechunked;
  EXPECT_TRUE(rechunked.ends_with("\r\n0\r\n\r\n")) << rechunked;

  auto old = raw_exchange(l.port(), post("i", "1.0", true));
  EXPECT_EQ(old.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << old;
  EXPECT_EQ(old.find("Transfer-Encoding"), std::string::npos) << old;
  const auto body_at = old.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  EXPECT_EQ(old.compare(body_at + 4, 6, "data: "), 0) << "chunk framing leaked to an HTTP/1.0 client:\n" << old;
  EXPECT_TRUE(old.ends_with("data: [DONE]\n\n")) << old;
}
