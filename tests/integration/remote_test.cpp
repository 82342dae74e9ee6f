// Remote upstreams (common/config_remote.cpp, proxy/bridge): a model whose proxy is an https URL is served through
// `llmux bridge`, with a CA made here by the openssl command: the right CA is accepted (SNI and the host name
// "localhost" resolved and checked, the API key injected, the base path kept), a certificate from another CA is
// refused with a 502 that names the verification failure, and the key never appears in llmux's output.
#include <cstdlib>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

// A CA and a server certificate for localhost / 127.0.0.1 signed by it, in `dir`; false when openssl is missing.
bool make_ca(const std::string& dir, const std::string& name) {
  const std::string d = dir + "/" + name;
  const std::string cmd =
      "cd " + dir + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout " + name + "-ca.key -out " + name +
      "-ca.pem -days 1 -subj '/CN=llmux test CA " + name + "' >/dev/null 2>&1 && openssl req -newkey rsa:2048 "
      "-nodes -keyout " + name + "-srv.key -out " + name + "-srv.csr -subj /CN=localhost >/dev/null 2>&1 && "
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > " + name + "-ext.cnf && openssl x509 -req -in " +
      name + "-srv.csr -CA " + name + "-ca.pem -CAkey " + name + "-ca.key -CAcreateserial -out " + name +
      "-srv.pem -days 1 -extfile " + name + "-ext.cnf >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

struct TlsUpstream {
  uint16_t port = pick_free_port();
  Process proc;
  TlsUpstream(const std::string& dir, const std::string& name)
      : proc({TLS_UPSTREAM_BIN, "--port", std::to_string(port), "--cert", dir + "/" + name + "-srv.pem", "--key",
              dir + "/" + name + "-srv.key"}) {
    EXPECT_TRUE(proc.wait_for_output("listening", 5s)) << proc.output();
  }
};

}  // namespace

TEST(Remote, TlsUpstreamWithTheTestCaIsAcceptedAndAWrongOneRefused) {
  const std::string dir = make_temp_dir();
  if (!make_ca(dir, "good") || !make_ca(dir, "other")) GTEST_SKIP() << "the openssl command is needed";
  TlsUpstream up(dir, "good");
  const std::string url = "https://localhost:" + std::to_string(up.port) + "/api/";
  Llmux l("models:\n  remote:\n    proxy: " + url + "\n    remote:\n      apiKey: sk-planted-remote-key\n"
          "      caFile: " + dir + "/good-ca.pem\n      headers: {X-Team: llmux}\n"
          "  wrong-ca:\n    proxy: " + url + "\n    remote:\n      caFile: " + dir + "/other-ca.pem\n"
          "  system-ca:\n    proxy: " + url + "\n");
  HttpResponse r = l.chat("remote", R"(,"max_tokens":1)");
  ASSERT_EQ(r.status, 200) << r.body << l.log();
  const nlohmann::json echo = r.json();
  EXPECT_EQ(echo["target"], "/api/v1/chat/completions");
  EXPECT_EQ(echo["host"], "localhost:" + std::to_string(up.port));
  EXPECT_EQ(echo["authorization"], "Bearer sk-planted-remote-key");
  EXPECT_EQ(echo["x_api_key"], "sk-planted-remote-key");
  EXPECT_NE(echo["body"].get<std::string>().find("\"model\":\"remote\""), std::string::npos);
  for (const char* model : {"wrong-ca", "system-ca"}) {
    r = l.chat(model);
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(r.json()["error"]["code"], "upstream_tls_error");
    const std::string message = r.json()["error"]["message"];
    EXPECT_NE(message.find("TLS certificate verification failed"), std::string::npos) << message;
  }
  EXPECT_EQ(l.log().find("sk-planted-remote-key"), std::string::npos);
  EXPECT_EQ(http_get(l.port(), "/config").body.find("sk-planted-remote-key"), std::string::npos);
}

// An IP literal must match the certificate's IP entry; a host name that does not resolve is a 502 naming it.
TEST(Remote, IpLiteralAndUnresolvableName) {
  const std::string dir = make_temp_dir();
  if (!make_ca(dir, "ip")) GTEST_SKIP() << "the openssl command is needed";
  TlsUpstream up(dir, "ip");
  Llmux l("models:\n  ip:\n    proxy: https://127.0.0.1:" + std::to_string(up.port) + "\n    remote:\n      caFile: " +
          dir + "/ip-ca.pem\n  nowhere:\n    proxy: http://no-such-host.invalid:8080\n    remote:\n"
          "      connectTimeout: 3s\n");
  EXPECT_EQ(l.chat("ip", R"(,"max_tokens":1)").status, 200);
  const HttpResponse r = l.chat("nowhere");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "upstream_unreachable");
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("cannot resolve no-such-host.invalid"),
            std::string::npos)
      << r.body;
}

// A plain-http remote reached by host name: `localhost` resolves (to the fake engine on 127.0.0.1).
TEST(Remote, HostnameUpstreamOverPlainHttp) {
  const uint16_t port = pick_free_port();
  const auto tag = unique_tag("remote-plain");
  Process engine({FAKE_ENGINE_BIN, "--port", std::to_string(port), "--model", tag});
  ASSERT_TRUE(eventually([&] {
    try {
      return http_get(port, "/health").status == 200;
    } catch (const std::exception&) {
      return false;  // not listening yet
    }
  }));
  Llmux l("models:\n  far:\n    proxy: http://localhost:" + std::to_string(port) + "\n    useModelName: " + tag +
          "\npeers:\n  lab:\n    proxy: http://localhost:" + std::to_string(port) + "\n    models: [" + tag + "]\n");
  HttpResponse r = l.chat("far", R"(,"max_tokens":2)");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["model"], tag);
  EXPECT_EQ(l.worker()["remote"], "http://localhost:" + std::to_string(port));  // /status names the remote
  // The bridge holds the remote's credentials on loopback: a local process without llmux's token is refused.
  const auto bridge = static_cast<uint16_t>(l.worker()["port"].get<int>());
  EXPECT_EQ(http_get(bridge, "/v1/models").status, 403);
  // llama-swap's peers: "<peer>/<model>", and the bare name when one peer serves it; the peer gets its own name.
  for (const std::string& name : {"lab/" + tag, tag}) {
    r = l.chat(name, R"(,"max_tokens":1)");
    ASSERT_EQ(r.status, 200) << name << ": " << r.body;
    EXPECT_EQ(r.json()["model"], tag);
  }
}
