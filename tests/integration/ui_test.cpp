// The dashboard (/ui) in a real headless Chromium, driven through the DevTools protocol (tests/support/browser):
// it renders, a model loaded with its button shows as ready, a request shows with its TTFT and tok/s, the log
// follows, and its unload button unloads the model; every resident is shown (two, pinned and busy); with API keys
// it asks for one and then works. Screenshots go to <build>/test-artifacts/ui/. Skipped, with a message, where no
// Chromium is installed (scripts/install-deps.sh --test installs Debian's `chromium`). Also, without a browser:
// /ui's headers and access rules, /activity.
#include "tests/integration/harness.hpp"
#include "tests/support/browser.hpp"

using namespace llmux::test;
namespace fs = std::filesystem;

namespace {

const std::string kArtifacts = std::string(LLMUX_BUILD_DIR) + "/test-artifacts/ui";

std::string models_yaml(const std::string& tag, const std::string& extra = "") {
  return extra + "models:\n  a:\n    cmd: " + fake_cmd(tag + "a", "--load-delay-ms 300") + "\n  b:\n    cmd: " +
         fake_cmd(tag + "b") + "\n";
}

#define REQUIRE_BROWSER(var)                                                                                  \
  auto var = Browser::find();                                                                                 \
  if (!var)                                                                                                   \
  GTEST_SKIP() << "chromium is not installed (Debian package `chromium`, installed by scripts/install-deps.sh " \
                  "--test; or set LLMUX_CHROMIUM): the dashboard was not tested in a browser"

std::string page_text(Browser& b, const std::string& s, const std::string& selector) {
  return b.eval(s, "document.querySelector('" + selector + "').textContent").get<std::string>();
}

}  // namespace

TEST(UiBrowser, LoadShowAndUnloadAModel) {
  REQUIRE_BROWSER(chromium);
  Llmux l(models_yaml(unique_tag("ui")));
  Browser b(*chromium, make_temp_dir() + "/profile");
  const std::string s = b.open("http://127.0.0.1:" + std::to_string(l.port()) + "/ui");
  ASSERT_TRUE(b.wait_for(s, "document.querySelectorAll('#models tbody tr').length === 2", 10s))
      << "the page did not list the two models";
  EXPECT_EQ(page_text(b, s, "#worker-none"), "no engine running");
  EXPECT_NE(page_text(b, s, "#pressure").find("pressure: "), std::string::npos);
  b.screenshot(s, kArtifacts + "/1-idle.png");

  b.eval(s, "document.querySelector('.load-btn[data-model=\"a\"]').click()");
  ASSERT_TRUE(b.wait_for(s, "document.querySelector('#workers .worker[data-model=\"a\"] .worker-state')?.textContent "
                            "=== 'ready'", 10s))
      << page_text(b, s, "body");
  EXPECT_TRUE(b.eval(s, "document.getElementById('worker-none').classList.contains('hidden')"));
  EXPECT_EQ(page_text(b, s, "#resident-count"), "(1 of at most 1)");
  auto status = nlohmann::json::parse(http_get(l.port(), "/status").body);
  EXPECT_EQ(status["worker"]["model"], "a");
  EXPECT_EQ(status["worker"]["state"], "ready");

  auto r = http_post(l.port(), "/v1/chat/completions",
                     R"({"model":"a","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  // The request's row: model a, 200, a TTFT and a rate; the timeline's load; the log's PERF line.
  EXPECT_TRUE(b.wait_for(s, "[...document.querySelectorAll('#requests tbody tr')].some(tr => "
                            "tr.cells[1].textContent === 'a' && tr.cells[2].textContent === '200' && "
                            "tr.cells[3].textContent !== '–' && /^[0-9.]+$/.test(tr.cells[6].textContent))", 10s))
      << page_text(b, s, "#requests");
  EXPECT_TRUE(b.wait_for(s, "document.getElementById('events').textContent.includes('loaded a in')", 5s))
      << page_text(b, s, "#events");
  EXPECT_TRUE(b.wait_for(s, "document.querySelectorAll('#timeline .dot.load').length === 1", 5s));
  EXPECT_TRUE(b.wait_for(s, "document.getElementById('logs').textContent.includes('PERF status=200')", 5s))
      << page_text(b, s, "#logs");
  b.screenshot(s, kArtifacts + "/2-loaded.png");

  b.eval(s, "document.querySelector('#workers .unload-btn[data-model=\"a\"]').click()");
  ASSERT_TRUE(b.wait_for(s, "document.querySelectorAll('#workers .worker').length === 0 && "
                            "!document.getElementById('worker-none').classList.contains('hidden') && "
                            "document.getElementById('events').textContent.includes('unloaded a (manual)')", 10s))
      << page_text(b, s, "body");
  EXPECT_TRUE(nlohmann::json::parse(http_get(l.port(), "/status").body)["worker"].is_null());
  EXPECT_EQ(b.eval(s, "document.querySelector('.load-btn[data-model=\"a\"]').disabled"), false);
  b.screenshot(s, kArtifacts + "/3-unloaded.png");
  for (const char* f : {"/1-idle.png", "/2-loaded.png", "/3-unloaded.png"})
    EXPECT_GT(fs::file_size(kArtifacts + f), 10000u) << f;
}

// Two residents, pinned and busy, with their memory: today's coordinator keeps one, so the page's /status answer is
// the daemon's own with a second resident written into it (in the page's fetch, before app.js reads it).
TEST(UiBrowser, ShowsEveryResident) {
  REQUIRE_BROWSER(chromium);
  Llmux l(models_yaml(unique_tag("uiw")));
  Browser b(*chromium, make_temp_dir() + "/profile");
  const std::string s = b.open("http://127.0.0.1:" + std::to_string(l.port()) + "/ui");
  ASSERT_TRUE(b.wait_for(s, "document.querySelectorAll('#models tbody tr').length === 2", 10s));
  b.eval(s, R"(
    const realFetch = window.fetch;
    const resident = (model, state, extra) => Object.assign({model, state, pid: 4242, port: 5001,
      startedAt: new Date().toISOString(), inFlight: 0, queued: 0, pinned: false, loadSeconds: 1.5,
      uptimeSeconds: 30, idleSeconds: 4, ttlRemainingSeconds: 56, lastUsedSeconds: 4,
      memory: {rssBytes: 512 * 1048576, estimateBytes: 1073741824}}, extra);
    window.fetch = async (path, options) => {
      const res = await realFetch(path, options);
      if (path !== '/status' || !res.ok) return res;
      const st = await res.json();
      st.workers = [resident('a', 'ready', {}),
                    resident('b', 'starting', {pid: 4343, port: 5002, inFlight: 2, queued: 1, pinned: true,
                      idleSeconds: null, ttlRemainingSeconds: null, lastLine: 'loading weights',
                      memory: {rssBytes: 256 * 1048576, estimateBytes: 2147483648}})];
      st.worker = st.workers[0];
      st.system.maxResident = 0;
      return new Response(JSON.stringify(st), {status: 200, headers: {'Content-Type': 'application/json'}});
    };
    true)");
  ASSERT_TRUE(b.wait_for(s, "document.querySelectorAll('#workers .worker').length === 2", 10s)) << page_text(b, s, "body");
  const std::string a = page_text(b, s, "#workers .worker[data-model=\"a\"]");
  const std::string w = page_text(b, s, "#workers .worker[data-model=\"b\"]");
  EXPECT_NE(a.find("ready"), std::string::npos) << a;
  EXPECT_NE(a.find("unloads in56.0 s"), std::string::npos) << a;
  EXPECT_NE(a.find("512.0 MiB of ~1.0 GiB estimated"), std::string::npos) << a;
  EXPECT_NE(w.find("starting"), std::string::npos) << w;
  EXPECT_NE(w.find("pinned"), std::string::npos) << w;
  EXPECT_NE(w.find("unloads innever (pinned)"), std::string::npos) << w;
  EXPECT_NE(w.find("in flight2"), std::string::npos) << w;
  EXPECT_NE(w.find("idlebusy"), std::string::npos) << w;
  EXPECT_NE(w.find("256.0 MiB of ~2.0 GiB estimated"), std::string::npos) << w;
  EXPECT_NE(w.find("loading weights"), std::string::npos) << w;
  EXPECT_EQ(page_text(b, s, "#resident-count"), "(2, bounded by memory)");
  EXPECT_NE(page_text(b, s, "#gauge-legend").find("engines 768.0 MiB (2 resident)"), std::string::npos)
      << page_text(b, s, "#gauge-legend");
  b.screenshot(s, kArtifacts + "/5-two-residents.png");
}

TEST(UiBrowser, AsksForTheKeyThenUsesIt) {
  REQUIRE_BROWSER(chromium);
  Llmux l(models_yaml(unique_tag("uik"), "apiKeys: [user-key-1]\nadminKeys: [admin-key-1]\n"));
  Browser b(*chromium, make_temp_dir() + "/profile");
  const std::string s = b.open("http://127.0.0.1:" + std::to_string(l.port()) + "/ui");
  ASSERT_TRUE(b.wait_for(s, "!document.getElementById('key-form').classList.contains('hidden') && "
                            "document.getElementById('banner').textContent.includes('needs a key')", 10s))
      << page_text(b, s, "body");
  b.screenshot(s, kArtifacts + "/4-key-asked.png");
  b.eval(s, "document.getElementById('key').value = 'user-key-1'; "
            "document.getElementById('key-form').requestSubmit()");
  ASSERT_TRUE(b.wait_for(s, "document.getElementById('banner').textContent.includes('adminKeys')", 10s))
      << "a user key is refused on admin routes, and the page says so\n" << page_text(b, s, "#banner");
  b.eval(s, "document.getElementById('key').value = 'admin-key-1'; "
            "document.getElementById('key-form').requestSubmit()");
  ASSERT_TRUE(b.wait_for(s, "document.querySelectorAll('#models tbody tr').length === 2 && "
                            "document.getElementById('banner').classList.contains('hidden')", 10s))
      << page_text(b, s, "body");
  EXPECT_EQ(b.eval(s, "sessionStorage.getItem('llmux.key')"), "admin-key-1");
  EXPECT_TRUE(b.wait_for(s, "document.getElementById('logs').textContent.includes('listening')", 5s))
      << "the log stream carries the key too\n" << page_text(b, s, "#logs");
}

// Without a browser: what /ui answers and who may ask.
TEST(UiRoutes, EmbeddedFilesWithTheirHeadersBehindHostAndOriginChecks) {
  Llmux l(models_yaml(unique_tag("uir"), "apiKeys: [user-key-1]\n"));
  auto page = http_get(l.port(), "/ui");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("<script src=\"/ui/app.js\""), std::string::npos);
  EXPECT_NE(page.header("content-security-policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(page.header("x-frame-options"), "DENY");
  EXPECT_EQ(http_get(l.port(), "/ui/").body, page.body);
  EXPECT_EQ(http_get(l.port(), "/ui/app.js").header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(http_get(l.port(), "/ui/style.css").header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(http_get(l.port(), "/ui/nope.js").status, 404);
  // The page needs no key; Host and Origin are checked as everywhere.
  EXPECT_EQ(http_request(l.port(), "GET", "/ui", "", {{"Host", "evil.example:80"}}).status, 403);
  EXPECT_EQ(http_request(l.port(), "GET", "/ui", "", {{"Sec-Fetch-Site", "cross-site"}}).status, 403);
  EXPECT_EQ(http_request(l.port(), "GET", "/ui", "", {{"Origin", "http://evil.example"}}).status, 403);
  // Its data needs the key.
  EXPECT_EQ(http_get(l.port(), "/activity").status, 401);
  auto activity = http_request(l.port(), "GET", "/activity", "", {{"Authorization", "Bearer user-key-1"}});
  ASSERT_EQ(activity.status, 200) << activity.body;
  auto j = nlohmann::json::parse(activity.body);
  EXPECT_TRUE(j["requests"].is_array() && j["events"].is_array()) << j;
}
