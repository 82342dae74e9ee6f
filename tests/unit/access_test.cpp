// The access guard's decisions (Host, Origin, fetch metadata, keys, preflight) on parsed request heads, and the
// request-head facts it reads (one Host, absolute-form targets, credentials that are not passed on).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/endpoint.hpp"
#include "proxy/policy/access.hpp"
#include "proxy/http/framing.hpp"

using namespace llmux;

namespace {

// A parsed request held together with its bytes.
struct Parsed {
  explicit Parsed(std::string fields, std::string start = "POST /v1/chat/completions HTTP/1.1") {
    text = start + "\r\n" + fields + "\r\n";
    std::string_view why;
    ok = parse_request_head(text, head, why) == HeadParse::done;
    EXPECT_TRUE(ok) << why << "\n" << text;
  }
  std::string text;
  RequestHead head;
  bool ok = false;
};

const ListenFacts kLoopback{8484, true};

AccessVerdict check(const AccessConfig& a, const std::string& fields, RouteClass route = RouteClass::user,
                    const ListenFacts& listen = kLoopback, std::string_view preflight = {},
                    const std::string& start = "POST /v1/chat/completions HTTP/1.1") {
  // A verdict's allow_origin is a view into its request's head: the requests live as long as the test binary.
  static std::vector<std::unique_ptr<Parsed>> requests;
  requests.push_back(std::make_unique<Parsed>(fields, start));
  return check_access(a, listen, requests.back()->head, route, preflight);
}

}  // namespace

// One definition of loopback (loopback_name) serves llmux's listen address and the Host check; loopback_host adds
// the Host grammar around it: any port, IPv6 only in brackets.
TEST(Access, LoopbackNamesAndHostValuesWithAnyPort) {
  for (const char* name : {"localhost", "LOCALHOST", "localhost.", "127.0.0.1", "127.255.3.9", "::1", "[::1]"})
    EXPECT_TRUE(loopback_name(name)) << name;
  for (const char* name : {"", "localhost:8484", "evil.example", "localhost.evil.example", "127.0.0.1.nip.io",
                           "128.0.0.1", "127.0.0.256", "127.0.0", "127.0.0.1.", " 127.0.0.1", "+127.0.0.1", "::2",
                           "[::2]", "::", "0.0.0.0", "10.0.0.5"})
    EXPECT_FALSE(loopback_name(name)) << name;
  for (const char* host : {"localhost", "LocalHost:8484", "localhost.:1", "127.0.0.1", "127.0.0.1:8484",
                           "127.255.3.9:80", "[::1]", "[::1]:8484"}) {
    EXPECT_TRUE(loopback_host(host)) << host;
    EXPECT_TRUE(check({}, std::string("Host: ") + host + "\r\n").allowed()) << host;
  }
  for (const char* host : {"", "evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "128.0.0.1",
                           "127.0.0.256", "127.0.0", "[::2]", "localhost:abc", "0.0.0.0:8484", "10.0.0.5", "::1",
                           "::1:8484"}) {
    EXPECT_FALSE(loopback_host(host)) << host;
  }
}

TEST(Access, ForeignOrMissingHostIsForbidden) {
  for (const char* fields : {"Host: evil.example:8484\r\n", "Host: \r\n", "", "Host: 10.0.0.5\r\n"}) {
    const AccessVerdict v = check({}, fields);
    EXPECT_EQ(v.status, 403) << fields;
    EXPECT_EQ(v.code, "forbidden_host") << fields;
    EXPECT_NE(v.message.find("allowedHosts"), std::string::npos);
  }
  // /health is the one open door.
  EXPECT_TRUE(check({}, "Host: evil.example\r\n", RouteClass::open).allowed());
}

TEST(Access, AllowedHostsAddNames) {
  AccessConfig a;
  a.allowed_hosts = {"mybox.local"};
  EXPECT_TRUE(check(a, "Host: MyBox.local:8484\r\n").allowed());
  EXPECT_EQ(check(a, "Host: other.local\r\n").status, 403);
  a.allowed_hosts = {"*"};
  EXPECT_TRUE(check(a, "Host: anything.example\r\n").allowed());
}

TEST(Access, IpLiteralHostsPassOnlyOffLoopback) {
  const ListenFacts lan{8484, false};
  EXPECT_TRUE(check({}, "Host: 192.168.1.20:8484\r\n", RouteClass::user, lan).allowed());
  EXPECT_TRUE(check({}, "Host: [fe80::1]:8484\r\n", RouteClass::user, lan).allowed());
  EXPECT_EQ(check({}, "Host: mybox.local:8484\r\n", RouteClass::user, lan).status, 403);  // a name: rebinding
  EXPECT_EQ(check({}, "Host: 192.168.1.20:8484\r\n").status, 403);
}

TEST(Access, AbsoluteFormAuthorityStandsForHost) {
  Parsed p("Host: 127.0.0.1\r\n", "POST http://evil.example:8484/v1/chat/completions HTTP/1.1");
  EXPECT_TRUE(p.head.absolute_form);
  EXPECT_EQ(p.head.target, "/v1/chat/completions");
  EXPECT_EQ(p.head.host, "evil.example:8484");
  EXPECT_EQ(check_access({}, kLoopback, p.head, RouteClass::user, {}).status, 403);
  Parsed q("", "GET HTTP://localhost:8484 HTTP/1.1");
  EXPECT_EQ(q.head.target, "/");
  EXPECT_TRUE(check_access({}, kLoopback, q.head, RouteClass::user, {}).allowed());
}

TEST(Access, MalformedTargetsAndDoubleHostAreRefusedByTheParser) {
  for (const char* text : {"GET v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n",
                           "GET * HTTP/1.1\r\nHost: localhost\r\n\r\n",
                           "GET http://user@localhost/ HTTP/1.1\r\n\r\n",
                           "GET http:///x HTTP/1.1\r\n\r\n",
                           "GET ftp://localhost/x HTTP/1.1\r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"}) {
    RequestHead h;
    std::string_view why;
    EXPECT_EQ(parse_request_head(text, h, why), HeadParse::bad) << text;
  }
  RequestHead h;
  std::string_view why;
  EXPECT_EQ(parse_request_head("OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n", h, why), HeadParse::done);
}

TEST(Access, ForeignOriginIsForbiddenWhateverTheMethod) {
  for (const char* start : {"GET /unload HTTP/1.1", "POST /v1/chat/completions HTTP/1.1", "POST /models/load HTTP/1.1"}) {
    const AccessVerdict v = check({}, "Host: localhost:8484\r\nOrigin: https://evil.example\r\n", RouteClass::admin,
                                  kLoopback, {}, start);
    EXPECT_EQ(v.status, 403) << start;
    EXPECT_EQ(v.code, "forbidden_origin");
    EXPECT_NE(v.message.find("cors.allowOrigins"), std::string::npos);
  }
  EXPECT_EQ(check({}, "Host: localhost\r\nOrigin: null\r\n").status, 403);
  EXPECT_EQ(check({}, "Host: localhost\r\nOrigin:\r\n").status, 403);
}

TEST(Access, PagesWithoutOriginAreToldApartByFetchMetadata) {
  EXPECT_EQ(check({}, "Host: localhost\r\nSec-Fetch-Site: cross-site\r\n").status, 403);  // <img src=.../unload>
  EXPECT_EQ(check({}, "Host: localhost\r\nSec-Fetch-Site: same-site\r\n").status, 403);   // another localhost port
  EXPECT_TRUE(check({}, "Host: localhost\r\nSec-Fetch-Site: none\r\n").allowed());         // typed in the address bar
  EXPECT_TRUE(check({}, "Host: localhost\r\nSec-Fetch-Site: same-origin\r\n").allowed());
  AccessConfig any;
  any.allow_origins = {"*"};
  EXPECT_TRUE(check(any, "Host: localhost\r\nSec-Fetch-Site: cross-site\r\n").allowed());
}

TEST(Access, AllowedAndSameOriginPages) {
  AccessConfig a;
  a.allow_origins = {"http://localhost:3000"};
  const AccessVerdict v = check(a, "Host: localhost:8484\r\nOrigin: http://localhost:3000\r\n");
  EXPECT_TRUE(v.allowed());
  EXPECT_EQ(v.allow_origin, "http://localhost:3000");
  EXPECT_EQ(check(a, "Host: localhost:8484\r\nOrigin: http://localhost:3001\r\n").status, 403);
  // llmux's own pages (same origin) need no listing and get no CORS fields.
  const AccessVerdict own = check({}, "Host: 127.0.0.1:8484\r\nOrigin: http://127.0.0.1:8484\r\n");
  EXPECT_TRUE(own.allowed());
  EXPECT_TRUE(own.allow_origin.empty());
  EXPECT_EQ(check({}, "Host: 127.0.0.1:8484\r\nOrigin: http://127.0.0.1:8485\r\n").status, 403);
}

TEST(Access, PreflightForAnAllowedOriginIsAnsweredWithoutAKey) {
  AccessConfig a;
  a.allow_origins = {"http://localhost:3000"};
  a.api_keys = {"sekrit-key"};
  const std::string fields = "Host: localhost:8484\r\nOrigin: http://localhost:3000\r\n";
  const AccessVerdict v = check(a, fields, RouteClass::user, kLoopback, "POST", "OPTIONS /v1/chat/completions HTTP/1.1");
  EXPECT_EQ(v.status, 204);
  EXPECT_EQ(v.allow_origin, "http://localhost:3000");
  const std::string f = cors_preflight_fields(v.allow_origin, "authorization, content-type", true);
  EXPECT_NE(f.find("Access-Control-Allow-Origin: http://localhost:3000\r\n"), std::string::npos);
  EXPECT_NE(f.find("Access-Control-Allow-Headers: authorization, content-type\r\n"), std::string::npos);
  EXPECT_NE(f.find("Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"), std::string::npos);
  EXPECT_NE(f.find("Access-Control-Allow-Private-Network: true\r\n"), std::string::npos);
  EXPECT_NE(cors_preflight_fields("http://a", "x\r\ny: z", false).find("Allow-Headers: Authorization, Content-Type"),
            std::string::npos);
  EXPECT_EQ(check(a, "Host: localhost:8484\r\nOrigin: http://evil.example\r\n", RouteClass::user, kLoopback, "POST",
                  "OPTIONS /v1/chat/completions HTTP/1.1").status, 403);
}

TEST(Access, ApiKeysInEitherHeader) {
  AccessConfig a;
  a.api_keys = {"first-key", "second-key"};
  const std::string host = "Host: localhost\r\n";
  const AccessVerdict missing = check(a, host);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.code, "missing_api_key");
  EXPECT_EQ(check(a, host + "Authorization: Bearer wrong\r\n").code, "invalid_api_key");
  EXPECT_EQ(check(a, host + "Authorization: Basic Zmlyc3Qta2V5\r\n").code, "missing_api_key");
  EXPECT_EQ(check(a, host + "x-api-key: first-ke\r\n").code, "invalid_api_key");
  EXPECT_TRUE(check(a, host + "Authorization: Bearer first-key\r\n").allowed());
  EXPECT_TRUE(check(a, host + "authorization: bearer   second-key\r\n").allowed());
  EXPECT_TRUE(check(a, host + "X-Api-Key: second-key\r\n").allowed());
  EXPECT_TRUE(check(a, host + "X-Api-Key: first-key\r\n", RouteClass::admin).allowed());  // no adminKeys: same keys
  EXPECT_TRUE(check(a, host, RouteClass::open).allowed());                                 // /health
}

TEST(Access, AdminKeysGuardAdminRoutes) {
  AccessConfig a;
  a.api_keys = {"user-key"};
  a.admin_keys = {"admin-key"};
  const std::string host = "Host: localhost\r\n";
  EXPECT_EQ(check(a, host + "Authorization: Bearer user-key\r\n", RouteClass::admin).code, "admin_key_required");
  EXPECT_TRUE(check(a, host + "Authorization: Bearer admin-key\r\n", RouteClass::admin).allowed());
  EXPECT_TRUE(check(a, host + "Authorization: Bearer admin-key\r\n").allowed());  // admin keys serve users too
  EXPECT_TRUE(check(a, host + "Authorization: Bearer user-key\r\n").allowed());
  AccessConfig only_admin;
  only_admin.admin_keys = {"admin-key"};
  EXPECT_TRUE(check(only_admin, host).allowed());  // inference stays open without apiKeys
  EXPECT_EQ(check(only_admin, host, RouteClass::admin).status, 401);
}

TEST(Access, AKeyRefusalStillCarriesTheAllowedOrigin) {
  AccessConfig a;
  a.api_keys = {"k-123"};
  a.allow_origins = {"http://localhost:3000"};
  const AccessVerdict v = check(a, "Host: localhost\r\nOrigin: http://localhost:3000\r\n");
  EXPECT_EQ(v.status, 401);
  EXPECT_EQ(v.allow_origin, "http://localhost:3000");
}

TEST(Access, SameSecretComparesWholeValues) {
  EXPECT_TRUE(same_secret("abc", "abc"));
  EXPECT_FALSE(same_secret("abc", "abd"));
  EXPECT_FALSE(same_secret("abc", "abcd"));
  EXPECT_FALSE(same_secret("abc", ""));
  EXPECT_FALSE(same_secret(std::string("ab\0", 3), "ab"));
}

TEST(Access, CredentialsAreNotPassedOnOnceDropped) {
  for (bool many : {false, true}) {
    std::string fields = "Host: localhost\r\nAuthorization: Bearer k\r\nAccept: */*\r\nX-Api-Key: k\r\nX-Keep: 1\r\n";
    if (many)  // more dropped lines than FieldDrops holds: the field-by-field walk must drop them too
      for (int i = 0; i < 8; ++i) fields += "Keep-Alive: " + std::to_string(i) + "\r\n";
    Parsed p(fields);
    Request req;
    req.adopt(p.text, p.head);
    std::string kept;
    append_passed_fields(kept, req.fields(), req.head().drops, req.head().connection);
    EXPECT_NE(kept.find("Authorization"), std::string::npos);  // not dropped unless llmux checked the key
    req.drop_credentials();
    kept.clear();
    append_passed_fields(kept, req.fields(), req.head().drops, req.head().connection);
    EXPECT_EQ(kept.find("Authorization"), std::string::npos) << kept;
    EXPECT_EQ(kept.find("X-Api-Key"), std::string::npos) << kept;
    EXPECT_NE(kept.find("Accept: */*\r\n"), std::string::npos) << kept;
    EXPECT_NE(kept.find("X-Keep: 1\r\n"), std::string::npos) << kept;
    EXPECT_EQ(kept.find("Host"), std::string::npos) << kept;
  }
}

TEST(Access, EngineCorsFieldsAreNotPassedOn) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n"
      "access-control-allow-headers: *\r\nContent-Length: 2\r\n\r\n";
  ResponseHead h;
  std::string_view why;
  ASSERT_EQ(parse_response_head(text, h, why), HeadParse::done);
  std::string kept;
  append_passed_fields(kept, h.fields, h.drops, h.connection);
  EXPECT_EQ(kept, "Content-Type: application/json\r\n");
}

// The dashboard's files (RouteClass::page): no key, but the Host and Origin checks of every other route.
TEST(Access, PageRoutesNeedNoKeyButPassHostAndOriginChecks) {
  AccessConfig a;
  a.api_keys = {"user-key-1"};
  a.admin_keys = {"admin-key-1"};
  const std::string get = "GET /ui HTTP/1.1";
  EXPECT_TRUE(check(a, "Host: 127.0.0.1:8484\r\n", RouteClass::page, kLoopback, {}, get).allowed());
  EXPECT_TRUE(check(a, "Host: localhost:8484\r\nSec-Fetch-Site: none\r\n", RouteClass::page, kLoopback, {}, get)
                  .allowed());
  EXPECT_EQ(check(a, "Host: 127.0.0.1:8484\r\n", RouteClass::admin, kLoopback, {}, get).status, 401);
  EXPECT_EQ(check(a, "Host: evil.example\r\n", RouteClass::page, kLoopback, {}, get).code, "forbidden_host");
  EXPECT_EQ(check(a, "Host: 127.0.0.1:8484\r\nSec-Fetch-Site: cross-site\r\n", RouteClass::page, kLoopback, {}, get)
                .code,
            "forbidden_origin");
  EXPECT_EQ(check(a, "Host: 127.0.0.1:8484\r\nOrigin: http://evil.example\r\n", RouteClass::page, kLoopback, {}, get)
                .code,
            "forbidden_origin");
}
