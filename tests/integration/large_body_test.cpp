// Large request bodies (an agent's whole conversation, every turn) reach the engine byte for byte: forwarded as
// they are, with `model` rewritten in place, on a reused keep-alive engine connection, and decoded from chunked
// framing. Real llmux + fake engine processes on 127.0.0.1; the engine's /debug/last-request is what it received.
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.hpp"
#include "tests/support/fnv.hpp"

using namespace llmux::test;

namespace {

// A chat request of a little over `bytes` whose messages read like code in JSON: escaped quotes, backslashes,
// newlines, \u escapes and raw UTF-8, at every offset of the scanners' eight-byte words.
std::string conversation(const std::string& model, size_t bytes) {
  const std::string line = R"(if (s == \"a\\\\b\") return \"\u00e9t\u00e9\"; // caf)" "\xC3\xA9" R"(\n)";
  std::string out = R"({"model":")" + model + R"(","max_tokens":3,"messages":[)";
  for (int i = 0; out.size() < bytes; ++i) {
    out += i == 0 ? R"({"role":"user","content":")" : i % 2 ? R"(,{"role":"assistant","content":")"
                                                          : R"(,{"role":"tool","tool_call_id":"c1","content":")";
    for (size_t n = 0; n < 3000 + static_cast<size_t>(i % 7); n += line.size()) out += line + std::string(i % 5, 'x');
    out += "\"}";
  }
  return out + "]}";
}

// What the engine last received, as length and digest (the body itself is too large for a failure message).
std::string received(Llmux& l) {
  const auto port = static_cast<uint16_t>(l.worker()["port"].get<int>());
  const HttpResponse r = http_get(port, "/debug/last-request");
  return std::to_string(r.body.size()) + " bytes, fnv1a64 " + fnv1a64_hex(r.body);
}

std::string digest(const std::string& body) { return std::to_string(body.size()) + " bytes, fnv1a64 " + fnv1a64_hex(body); }

// Sends `body` chunk-framed in pieces of `piece` bytes on a fresh connection and reads the answer to its end.
std::string post_chunked(uint16_t port, const std::string& body, size_t piece) {
  std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += piece) {
    const std::string part = body.substr(at, piece);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    req += size + part + "\r\n";
  }
  req += "0\r\n\r\n";
  const int fd = connect_tcp(port);
  for (size_t sent = 0; sent < req.size();) {
    const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return answer;
}

}  // namespace

TEST(LargeBody, OneMebibyteConversationsArriveIntact) {
  auto tag = unique_tag("bigbody");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--token-ms 0") + "\n    aliases: [alpha]\n");
  HttpConnection conn(l.port());  // keep-alive: the later requests reuse the pooled engine connection
  for (const size_t size : {size_t{1} << 20, (size_t{1} << 20) + 4093, size_t{3} << 20}) {
    const std::string body = conversation("a", size);
    const HttpResponse r = conn.request("POST", "/v1/chat/completions", body, {{"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(received(l), digest(body)) << "forwarded as it is, " << size << " bytes";
  }
  // Through the alias, `model` is rewritten in place and nothing else changes.
  const std::string expected = conversation("a", 1 << 20);
  const std::string aliased = R"({"model":"alpha")" + expected.substr(std::string(R"({"model":"a")").size());
  const HttpResponse r = conn.request("POST", "/v1/chat/completions", aliased, {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(received(l), digest(expected)) << "the alias rewritten to the id";
  // A chunked request body is decoded and sent with a Content-Length.
  const std::string chunked = conversation("a", (1 << 20) + 777);
  const std::string answer = post_chunked(l.port(), chunked, 65521);
  ASSERT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer.substr(0, 300);
  EXPECT_EQ(received(l), digest(chunked)) << "decoded from chunked framing";
}
