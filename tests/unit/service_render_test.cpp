// Rendering the embedded service templates (systemd unit, launchd plist) and reading their command lines back:
// quoting, escaping, what must survive from the template. The plist is tested here because Linux cannot run
// launchd; `xmllint --noout` checks it is well-formed where xmllint is installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "proxy/cli/service/service_render.hpp"

using namespace llmux;

namespace {

ServiceSpec spec_with(std::string config, std::optional<std::string> listen = std::nullopt) {
  return ServiceSpec{"/opt/llmux dev/bin/llmux", std::move(config), "/Users/me", std::move(listen)};
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

}  // namespace

TEST(ServiceRender, PlistHasOurCommandLineAndKeepsTheTemplateKeys) {
  auto spec = spec_with("/Users/me/llm & co/<config>.yaml", "127.0.0.1:8485");
  std::string plist = render_launchd_plist(launchd_plist_template(), spec);
  EXPECT_TRUE(contains(plist, "    <string>/opt/llmux dev/bin/llmux</string>\n"
                              "    <string>serve</string>\n"
                              "    <string>--config</string>\n"
                              "    <string>/Users/me/llm &amp; co/&lt;config&gt;.yaml</string>\n"
                              "    <string>--listen</string>\n"
                              "    <string>127.0.0.1:8485</string>\n"
                              "  </array>"))
      << plist;
  for (const char* kept : {"<key>Label</key>\n  <string>dev.llmux</string>", "<key>RunAtLoad</key>\n  <true/>",
                           "<key>KeepAlive</key>", "<key>ProcessType</key>\n  <string>Interactive</string>",
                           "<key>ThrottleInterval</key>", "<key>ExitTimeOut</key>",
                           "<string>/Users/me/Library/Logs/llmux/llmux.log</string>"})
    EXPECT_TRUE(contains(plist, kept)) << kept << "\n" << plist;
  EXPECT_FALSE(contains(plist, "__HOME__")) << plist;
  EXPECT_FALSE(contains(plist, "__LLMUX__")) << plist;
  EXPECT_TRUE(contains(plist, "Written by `llmux service install`")) << plist;
  EXPECT_EQ(launchd_program_arguments(plist), serve_argv(spec));
}

TEST(ServiceRender, PlistIsWellFormedXml) {
  std::string plist = render_launchd_plist(launchd_plist_template(), spec_with("/Users/me/a&b.yaml"));
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "xmllint is not installed (Debian package libxml2-utils): well-formedness not checked";
  auto path = std::filesystem::temp_directory_path() / ("llmux-plist-" + std::to_string(::getpid()) + ".plist");
  std::ofstream(path) << plist;
  int rc = std::system(("xmllint --noout --nonet '" + path.string() + "'").c_str());
  std::filesystem::remove(path);
  EXPECT_EQ(rc, 0) << plist;
}

TEST(ServiceRender, SystemdUnitQuotesAndRoundTrips) {
  auto spec = spec_with("/home/me/100% \"real\" $HOME\\x.yaml", "127.0.0.1:8485");
  std::string unit = render_systemd_unit(systemd_unit_template(), spec);
  EXPECT_TRUE(contains(unit, "\nExecStart=\"/opt/llmux dev/bin/llmux\" serve --config "
                             "\"/home/me/100%% \\\"real\\\" $$HOME\\\\x.yaml\" --listen 127.0.0.1:8485\n"))
      << unit;
  EXPECT_EQ(systemd_exec_argv(unit, "/home/me"), serve_argv(spec));
  EXPECT_TRUE(contains(unit, "\nType=notify\n")) << unit;
  EXPECT_TRUE(contains(unit, "\nKillMode=mixed\n")) << unit;
  EXPECT_TRUE(contains(unit, "\nLimitNOFILE=1024:65536\n")) << unit;
  EXPECT_TRUE(unit.starts_with("# Written by `llmux service install`")) << unit;
  EXPECT_FALSE(contains(unit, "By hand")) << "the template's install comment is dropped:\n" << unit;
}

TEST(ServiceRender, ReadsTheTemplatesOwnCommandLine) {
  auto argv = systemd_exec_argv(systemd_unit_template(), "/home/me");
  ASSERT_EQ(argv.size(), 4u);
  EXPECT_EQ(argv[0], "/home/me/.local/bin/llmux");
  EXPECT_EQ(serve_args_of(argv).config, "/home/me/.config/llmux/config.yaml");
  EXPECT_FALSE(serve_args_of(argv).listen);
  EXPECT_EQ(systemd_exec_argv("[Service]\nExecStart=-/bin/llmux serve -c 'a b'\n", "/h"),
            (std::vector<std::string>{"/bin/llmux", "serve", "-c", "a b"}));
  EXPECT_EQ(launchd_program_arguments(launchd_plist_template())[0], "__LLMUX__");
}

TEST(ServiceRender, RefusesPathsWithNewlines) {
  EXPECT_THROW(render_systemd_unit(systemd_unit_template(), spec_with("/a\nExecStartPre=/bin/rm")),
               std::invalid_argument);
  EXPECT_THROW(render_launchd_plist(launchd_plist_template(), spec_with("/a\n")), std::invalid_argument);
  EXPECT_THROW(render_systemd_unit("[Service]\nType=notify\n", spec_with("/a")), std::invalid_argument);
}

TEST(ServiceRender, QuoteLeavesPlainWordsBare) {
  EXPECT_EQ(systemd_quote("/usr/local/bin/llmux"), "/usr/local/bin/llmux");
  EXPECT_EQ(systemd_quote("--listen"), "--listen");
  EXPECT_EQ(systemd_quote("a b"), "\"a b\"");
  EXPECT_EQ(systemd_quote(""), "\"\"");
  EXPECT_EQ(systemd_quote("50%"), "50%%");
  EXPECT_EQ(xml_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
}
