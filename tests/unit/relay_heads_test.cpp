// The heads the relay writes: the engine request's and the client response's, from parsed heads (no sockets).
#include "proxy/http/relay_heads.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace llmux;

namespace {

// A parsed client request (the Request keeps its own copy of the head).
void parse_request(Request& req, const std::string& text) {
  RequestHead h;
  std::string_view why;
  ASSERT_EQ(parse_request_head(text, h, why), HeadParse::done) << why;
  req.adopt(text, h);
}

// An engine response head with the bytes its views point into.
struct Parsed {
  explicit Parsed(std::string t) : text(std::move(t)) {
    std::string_view why;
    EXPECT_EQ(parse_response_head(text, head, why), HeadParse::done) << why;
  }
  Parsed(const Parsed&) = delete;
  std::string text;
  ResponseHead head;
};

}  // namespace

TEST(RelayHeads, EngineRequestHeadIsCanonicalAndCarriesOnlyEndToEndFields) {
  Request req;
  parse_request(req, "POST /chat/completions/?x=1 HTTP/1.1\r\nHost: llmux\r\nAuthorization: Bearer k\r\n"
                     "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: keep-alive\r\n"
                     "X-Trace: a b\r\n\r\n");
  EngineEndpoint engine{"127.0.0.1", 43210, "/base"};
  EXPECT_EQ(engine_request_head(req, engine, 42),
            "POST /base/v1/chat/completions?x=1 HTTP/1.1\r\nAuthorization: Bearer k\r\nX-Trace: a b\r\n"
            "Host: 127.0.0.1:43210\r\nContent-Length: 42\r\n\r\n");
  Request plain;
  parse_request(plain, "POST /v1/embeddings HTTP/1.0\r\n\r\n");
  EXPECT_EQ(engine_request_head(plain, EngineEndpoint{"[::1]", 8080, ""}, 0),
            "POST /v1/embeddings HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Length: 0\r\n\r\n");
}

TEST(RelayHeads, LengthDelimitedAnswersPassThroughForEitherVersion) {
  const Parsed p("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n"
                 "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n");
  const ResponseHead& e = p.head;
  ClientHead h11 = client_response_head(e, 11, true, "");
  EXPECT_EQ(h11.text, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n");
  EXPECT_EQ(h11.framing, Framing::length);
  EXPECT_TRUE(h11.passthrough);
  EXPECT_TRUE(h11.keep_alive);
  EXPECT_EQ(h11.engine_body, BodyFraming::Kind::length);
  ClientHead h10 = client_response_head(e, 10, true, "max_tokens 9000 -> 4096");
  EXPECT_EQ(h10.text, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nX-Llmux-Max-Tokens-Clamped: "
                      "max_tokens 9000 -> 4096\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n");
  ClientHead closing = client_response_head(e, 11, false, "");
  EXPECT_NE(closing.text.find("Connection: close\r\n"), std::string::npos);
  EXPECT_FALSE(closing.keep_alive);
}

TEST(RelayHeads, ChunkedAndUnframedBodiesAreFramedForTheClient) {
  const Parsed ps("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  "X-Accel-Buffering: yes\r\nTransfer-Encoding: chunked\r\n\r\n");
  const ResponseHead& sse = ps.head;
  ClientHead h11 = client_response_head(sse, 11, true, "");
  EXPECT_EQ(h11.text, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Accel-Buffering: no\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(h11.framing, Framing::chunked);
  EXPECT_FALSE(h11.passthrough);  // decoded and re-chunked: one chunk per read
  EXPECT_EQ(h11.engine_body, BodyFraming::Kind::chunked);
  ClientHead h10 = client_response_head(sse, 10, true, "");
  EXPECT_EQ(h10.framing, Framing::close);
  EXPECT_FALSE(h10.passthrough);
  EXPECT_FALSE(h10.keep_alive);  // the body ends with the connection
  EXPECT_EQ(h10.text.find("Transfer-Encoding"), std::string::npos);
  const Parsed pu("HTTP/1.0 200\r\nContent-Type: application/json\r\n\r\n");
  const ResponseHead& unframed = pu.head;
  ClientHead u11 = client_response_head(unframed, 11, true, "");
  EXPECT_EQ(u11.text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << u11.text;  // an empty reason gets the standard one
  EXPECT_EQ(u11.engine_body, BodyFraming::Kind::close);
  EXPECT_EQ(u11.framing, Framing::chunked);
  ClientHead u10 = client_response_head(unframed, 10, true, "");
  EXPECT_TRUE(u10.passthrough);  // raw bytes to the end, both sides
}

TEST(RelayHeads, BodilessAnswersAndHeadsBeyondTheBuffer) {
  const Parsed pn("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n");
  const ResponseHead& none = pn.head;
  ClientHead h = client_response_head(none, 11, true, "");
  EXPECT_EQ(h.text, "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n");
  EXPECT_EQ(h.framing, Framing::none);
  EXPECT_EQ(h.engine_body, BodyFraming::Kind::none);
  std::string big = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 100; ++i) big += "X-Field-" + std::to_string(i) + ": " + std::string(30, 'v') + "\r\n";
  const std::string fields = big.substr(17);
  big += "Content-Length: 0\r\n\r\n";
  const Parsed pb(big);
  ClientHead b = client_response_head(pb.head, 11, true, "");
  EXPECT_EQ(b.text, "HTTP/1.1 200 OK\r\n" + fields + "Content-Length: 0\r\n\r\n");
}

TEST(RelayHeads, CredentialsCheckedByLlmuxStayBehindAndCorsFieldsAreLlmuxs) {
  Request req;
  parse_request(req, "POST /v1/chat/completions HTTP/1.1\r\nHost: llmux\r\nAuthorization: Bearer k\r\n"
                     "X-Trace: a\r\nx-api-key: k\r\nOrigin: http://localhost:3000\r\n\r\n");
  req.drop_credentials();
  EngineEndpoint engine{"127.0.0.1", 43210, ""};
  EXPECT_EQ(engine_request_head(req, engine, 2),
            "POST /v1/chat/completions HTTP/1.1\r\nX-Trace: a\r\nOrigin: http://localhost:3000\r\n"
            "Host: 127.0.0.1:43210\r\nContent-Length: 2\r\n\r\n");
  Parsed e("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 2\r\n\r\n");
  const ClientHead h = client_response_head(e.head, 11, true, "", "Access-Control-Allow-Origin: http://a\r\n");
  EXPECT_EQ(h.text, "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: http://a\r\nContent-Length: 2\r\n\r\n");
}
