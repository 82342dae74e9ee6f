// The trust boundary through real sockets: Host (DNS rebinding), Origin and fetch metadata (pages in the user's
// browser), CORS preflights, API keys in both headers, admin keys, a listen off loopback, the CLI's key.
#include <csignal>
#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

const std::string kChat = R"({"model":"a","messages":[{"role":"user","content":"hi"}]})";

std::string engine_yaml(const std::string& tag, const std::string& extra = "") {
  return extra + "models:\n  a:\n    cmd: " + fake_cmd(tag) + "\n";
}

std::string error_code_of(const HttpResponse& r) {
  try {
    return r.json()["error"]["code"].get<std::string>();
  } catch (const std::exception&) {
    return "(not an OpenAI error: " + r.body + ")";
  }
}

HttpResponse with_key(uint16_t port, const std::string& method, const std::string& target, const std::string& key,
                      const std::string& body = "") {
  return http_request(port, method, target, body,
                      {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}});
}

}  // namespace

TEST(Access, ForeignAndEmptyHostsAreRefusedLoopbackNamesServed) {
  const auto tag = unique_tag("access-host");
  Llmux l(engine_yaml(tag));
  for (const std::string& host : std::vector<std::string>{"evil.example:" + std::to_string(l.port()), "", "127.0.0.1.nip.io"}) {
    const auto r = http_request(l.port(), "GET", "/status", "", {{"Host", host}});
    EXPECT_EQ(r.status, 403) << host;
    EXPECT_EQ(error_code_of(r), "forbidden_host") << host;
    // Not even a model load can be started from a rebinding page.
    const auto load = http_request(l.port(), "POST", "/v1/chat/completions", kChat,
                                   {{"Host", host}, {"Content-Type", "text/plain"}});
    EXPECT_EQ(load.status, 403) << host;
  }
  EXPECT_TRUE(l.worker().is_null());
  EXPECT_EQ(find_pids_with_arg(tag).size(), 0u);
  for (const char* host : {"localhost", "localhost.:1", "127.0.0.7", "[::1]:9"})
    EXPECT_EQ(http_request(l.port(), "GET", "/v1/models", "", {{"Host", host}}).status, 200) << host;
  // An absolute-form target's authority stands for the Host.
  const auto abs = http_request(l.port(), "GET", "http://evil.example/status", "", {{"Host", "127.0.0.1"}});
  EXPECT_EQ(abs.status, 403);
  const auto abs_ok = http_request(l.port(), "GET", "http://localhost:1/v1/models", "");
  EXPECT_EQ(abs_ok.status, 200) << abs_ok.body;
  // /health is the one open door.
  EXPECT_EQ(http_request(l.port(), "GET", "/health", "", {{"Host", "evil.example"}}).status, 200);
}

TEST(Access, PagesFromForeignOriginsAreRefusedWhateverTheirMethod) {
  const auto tag = unique_tag("access-origin");
  Llmux l(engine_yaml(tag));
  ASSERT_EQ(l.chat("a").status, 200);  // resident now
  // <img src="http://127.0.0.1:8484/unload">: no Origin, but fetch metadata says a page of another site sent it.
  const auto img = http_request(l.port(), "GET", "/unload", "", {{"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(img.status, 403);
  EXPECT_EQ(error_code_of(img), "forbidden_origin");
  const auto get = http_request(l.port(), "GET", "/unload", "", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(get.status, 403);
  const auto simple = http_request(l.port(), "POST", "/models/unload", R"({"force":true})",
                                   {{"Origin", "https://evil.example"}, {"Content-Type", "text/plain"}});
  EXPECT_EQ(simple.status, 403);
  EXPECT_NE(simple.json()["error"]["message"].get<std::string>().find("cors.allowOrigins"), std::string::npos);
  EXPECT_EQ(l.worker()["state"], "ready");  // nothing was unloaded
  const auto chat = http_request(l.port(), "POST", "/v1/chat/completions", kChat,
                                 {{"Origin", "null"}, {"Content-Type", "text/plain"}});
  EXPECT_EQ(chat.status, 403);
  // A page of llmux's own origin is not foreign.
  const auto own = http_request(l.port(), "GET", "/status", "",
                                {{"Origin", "http://127.0.0.1:" + std::to_string(l.port())}});
  EXPECT_EQ(own.status, 200) << own.body;
}

TEST(Access, AnAllowedOriginGetsPreflightAndCorsHeadersOnEveryKindOfAnswer) {
  const auto tag = unique_tag("access-cors");
  Llmux l(engine_yaml(tag, "cors:\n  allowOrigins: [\"http://localhost:3000\"]\napiKeys: [cors-key-1]\n"));
  const std::string origin = "http://localhost:3000";
  const auto pre = http_request(l.port(), "OPTIONS", "/v1/chat/completions", "",
                                {{"Origin", origin},
                                 {"Access-Control-Request-Method", "POST"},
                                 {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(pre.status, 204) << pre.body;
  EXPECT_EQ(pre.header("access-control-allow-origin"), origin);
  EXPECT_EQ(pre.header("access-control-allow-headers"), "authorization, content-type");
  EXPECT_NE(pre.header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_EQ(pre.header("vary"), "Origin");
  const auto bad_pre = http_request(l.port(), "OPTIONS", "/v1/chat/completions", "",
                                    {{"Origin", "http://localhost:3001"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(bad_pre.status, 403);
  EXPECT_EQ(bad_pre.header("access-control-allow-origin"), "");
  const Headers h = {{"Origin", origin}, {"Authorization", "Bearer cors-key-1"}, {"Content-Type", "application/json"}};
  // A relayed answer (the engine's own CORS fields are replaced by llmux's), a streamed one, llmux's own.
  const auto relayed = http_request(l.port(), "POST", "/v1/chat/completions", kChat, h);
  EXPECT_EQ(relayed.status, 200) << relayed.body;
  EXPECT_EQ(relayed.header("access-control-allow-origin"), origin);
  const auto streamed = http_stream(l.port(), "POST", "/v1/chat/completions",
                                    R"({"model":"a","stream":true,"messages":[{"role":"user","content":"hi"}]})",
                                    h, {}, 30s);
  EXPECT_EQ(streamed.status, 200);
  EXPECT_EQ(streamed.headers.count("access-control-allow-origin") ? streamed.headers.at("access-control-allow-origin") : "",
            origin);
  const auto own = http_request(l.port(), "GET", "/v1/models", "", h);
  EXPECT_EQ(own.status, 200);
  EXPECT_EQ(own.header("access-control-allow-origin"), origin);
  // The page may read why a key was refused.
  const auto nokey = http_request(l.port(), "GET", "/v1/models", "", {{"Origin", origin}});
  EXPECT_EQ(nokey.status, 401);
  EXPECT_EQ(nokey.header("access-control-allow-origin"), origin);
}

TEST(Access, ApiKeysInEitherHeaderAdminKeysForAdminRoutes) {
  const auto tag = unique_tag("access-keys");
  Llmux l(engine_yaml(tag, "apiKeys: [user-key-1]\nadminKeys: [admin-key-1]\n"));
  const auto missing = http_post(l.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(error_code_of(missing), "missing_api_key");
  EXPECT_EQ(missing.header("www-authenticate"), "Bearer realm=\"llmux\"");
  EXPECT_EQ(missing.json()["error"]["type"], "authentication_error");
  const auto wrong = with_key(l.port(), "POST", "/v1/chat/completions", "user-key-2", kChat);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(error_code_of(wrong), "invalid_api_key");
  EXPECT_EQ(find_pids_with_arg(tag).size(), 0u);  // nothing refused reached an engine
  EXPECT_EQ(with_key(l.port(), "POST", "/v1/chat/completions", "user-key-1", kChat).status, 200);
  const auto xkey = http_request(l.port(), "POST", "/v1/chat/completions", kChat,
                                 {{"x-api-key", "user-key-1"}, {"Content-Type", "application/json"}});
  EXPECT_EQ(xkey.status, 200) << xkey.body;
  // The engine never sees llmux's keys.
  const auto status = with_key(l.port(), "GET", "/status", "admin-key-1");
  ASSERT_EQ(status.status, 200) << status.body;
  const int engine_port = status.json()["worker"]["port"];
  const auto seen = http_get(static_cast<uint16_t>(engine_port), "/debug/last-headers").json();
  for (const auto& [name, value] : seen.items()) {
    EXPECT_NE(name, "Authorization");
    EXPECT_NE(name, "x-api-key");
  }
  // Admin routes and /metrics need the admin key; a user key is told so. /health stays open.
  for (const char* target : {"/status", "/metrics", "/config", "/logs", "/running"}) {
    EXPECT_EQ(http_get(l.port(), target).status, 401) << target;
    const auto user = with_key(l.port(), "GET", target, "user-key-1");
    EXPECT_EQ(user.status, 403) << target;
    EXPECT_EQ(error_code_of(user), "admin_key_required") << target;
    EXPECT_EQ(with_key(l.port(), "GET", target, "admin-key-1").status, 200) << target;
  }
  EXPECT_EQ(with_key(l.port(), "POST", "/models/unload", "user-key-1", "{}").status, 403);
  EXPECT_EQ(http_get(l.port(), "/health").status, 200);
  // The CLI sends the key from --api-key or LLMUX_API_KEY.
  EXPECT_EQ(run_cli(l.port(), {"status"}).code, 1);
  const auto by_flag = run_cli(l.port(), {"status", "--api-key", "admin-key-1"});
  EXPECT_EQ(by_flag.code, 0) << by_flag.out;
  const auto by_env = run_cli(l.port(), {"models"}, {"LLMUX_API_KEY=admin-key-1"});
  EXPECT_EQ(by_env.code, 0) << by_env.out;
  EXPECT_NE(run_cli(l.port(), {"status"}).out.find("API key"), std::string::npos);
}

TEST(Access, ListenOffLoopbackWithoutKeysRefusesToStart) {
  const auto dir = make_temp_dir();
  const std::string config = dir + "/config.yaml";
  write_file(config, engine_yaml(unique_tag("access-listen"), "listen: 0.0.0.0:0\n"));
  Process p({LLMUX_BIN, "serve", "--config", config}, {});
  const auto st = p.wait_exit(10s);
  ASSERT_TRUE(st && WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 2);
  EXPECT_NE(p.output().find("listen: listening on 0.0.0.0 (off loopback) without apiKeys"), std::string::npos)
      << p.output();
  // The same through --listen over a loopback config.
  write_file(config, engine_yaml(unique_tag("access-listen")));
  Process q({LLMUX_BIN, "serve", "--config", config, "--listen", "0.0.0.0:0"}, {});
  const auto st2 = q.wait_exit(10s);
  ASSERT_TRUE(st2 && WIFEXITED(*st2));
  EXPECT_EQ(WEXITSTATUS(*st2), 2);
  EXPECT_NE(q.output().find("allowUnauthenticated: true"), std::string::npos) << q.output();
}

TEST(Access, WrongJsonTypesInAdminBodiesAndBadQueryNumbersAre400) {
  const auto tag = unique_tag("access-input");
  Llmux l(engine_yaml(tag));
  for (const char* body : {R"({"model":5})", R"({"force":"yes"})", R"({"model":"a","stream":"yes"})", "[1]"}) {
    for (const char* target : {"/models/load", "/models/unload"}) {
      const auto r = http_post(l.port(), target, body);
      EXPECT_EQ(r.status, 400) << target << " " << body << " " << r.body;
    }
  }
  for (const char* target : {"/logs?limit=-1", "/logs?limit=12abc", "/logs?limit=99999999999999999999",
                             "/logs/stream?tail=-5", "/logs/stream?tail=1x"}) {
    const auto r = http_get(l.port(), target);
    EXPECT_EQ(r.status, 400) << target << " " << r.body;
    EXPECT_EQ(error_code_of(r), "invalid_query") << target;
  }
  EXPECT_EQ(http_get(l.port(), "/logs?limit=3").status, 200);
  EXPECT_EQ(http_get(l.port(), "/health").status, 200);  // the daemon is fine
}

// `--listen [::1]:0` is read as the config's `listen:` reads it: the brackets are not part of the address.
TEST(Access, ListenFlagTakesABracketedIpv6Literal) {
  const auto dir = make_temp_dir();
  const std::string config = dir + "/c.yaml";
  write_file(config, engine_yaml(unique_tag("access-v6")));
  Process p({LLMUX_BIN, "serve", "--config", config, "--listen", "[::1]:0"}, {"XDG_STATE_HOME=" + dir + "/state"});
  auto line = p.wait_for_output("listening on http://", 10s);
  ASSERT_TRUE(line) << p.output();
  EXPECT_NE(line->find("::1"), std::string::npos) << *line;
  ::kill(p.pid(), SIGTERM);
  p.wait_exit(10s);
  Process q({LLMUX_BIN, "serve", "--config", config, "--listen", "[::1:0"}, {"XDG_STATE_HOME=" + dir + "/state"});
  const auto st = q.wait_exit(10s);
  ASSERT_TRUE(st && WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 2);
  EXPECT_NE(q.output().find("--listen: expected HOST:PORT, got '[::1:0'"), std::string::npos) << q.output();
}
