// `llmux status` and `llmux models` text from the daemon's own answers (status_json and models_json of a snapshot
// built by hand): every resident in one aligned table with its memory, idle time and TTL or pin; resident models
// marked; an older daemon's single `worker` still shown.
#include "proxy/cli/status_view.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "daemon_snapshot_support.hpp"
#include "proxy/policy/admin_json.hpp"

using namespace llmux;
using namespace llmux::snapshot_test;
using nlohmann::json;

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The line that starts with `prefix`, or "" (the test then fails on what it expected of it).
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const auto& l : split_lines(text))
    if (l.rfind(prefix, 0) == 0) return l;
  return "";
}

}  // namespace

TEST(StatusView, EveryResidentInOneAlignedTable) {
  const std::string text = status_text(json::parse(status_json(two_residents())), "http://127.0.0.1:8484");
  EXPECT_EQ(line_starting(text, "llmux "), "llmux " LLMUX_VERSION " at http://127.0.0.1:8484, up 1m40s") << text;
  EXPECT_EQ(line_starting(text, "resident "),
            "resident   2 (bounded by memory): 768 MiB measured, 3 GiB estimated") << text;
  const std::string head = line_starting(text, "  MODEL");
  const std::string a = line_starting(text, "  a ");
  const std::string b = line_starting(text, "  b ");
  ASSERT_FALSE(head.empty() || a.empty() || b.empty()) << text;
  // Cells of one column start at the same place.
  auto column = [&](const std::string& line, const std::string& cell) { return line.find(" " + cell) + 1; };
  EXPECT_EQ(column(a, "ready"), column(head, "STATE"));
  EXPECT_EQ(column(b, "starting"), column(head, "STATE"));
  EXPECT_EQ(column(a, "4242"), column(head, "PID"));
  EXPECT_EQ(column(b, "5002"), column(head, "PORT"));
  EXPECT_EQ(column(a, "512 MiB"), column(head, "RSS"));
  EXPECT_EQ(column(b, "256 MiB"), column(head, "RSS"));
  EXPECT_EQ(column(a, "1 GiB"), column(head, "ESTIMATE"));
  EXPECT_EQ(column(b, "2 GiB"), column(head, "ESTIMATE"));
  EXPECT_EQ(column(a, "2 GiB"), column(head, "CEILING"));
  EXPECT_EQ(column(a, "2.5s"), column(head, "LOADED IN"));
  EXPECT_EQ(column(a, "4.0s"), column(head, "IDLE"));
  EXPECT_EQ(column(b, "busy"), column(head, "IDLE")) << "two requests in flight";
  EXPECT_EQ(column(a, "in 56.0s"), column(head, "UNLOADS"));
  EXPECT_EQ(column(b, "pinned"), column(head, "UNLOADS"));
  EXPECT_EQ(line_starting(text, "  b: "), "  b: llama_model_loader: loaded meta data") << "a starting engine's line";
  EXPECT_EQ(line_starting(text, "  a: "), "") << "a ready engine's last line is not news";
  EXPECT_EQ(line_starting(text, "queue "), "queue      3 waiting");
  EXPECT_EQ(line_starting(text, "config "), "config     " + two_residents().config->path + " (0 reloads)");
  for (const auto& l : split_lines(text)) EXPECT_EQ(l.find_last_not_of(' '), l.size() - 1) << "trailing blanks: " << l;
}

TEST(StatusView, NoneResidentAndAnOlderDaemon) {
  DaemonSnapshot s = snapshot();
  s.workers.clear();
  const std::string none = status_text(json::parse(status_json(s)), "u");
  EXPECT_EQ(line_starting(none, "resident "), "resident   none (at most 1)") << none;
  EXPECT_EQ(line_starting(none, "  MODEL"), "");

  // A daemon from before co-residency: `worker` alone, no maxResident, no residentMemory.
  json old = json::parse(status_json(snapshot()));
  old.erase("workers");
  old["system"].erase("maxResident");
  old["system"].erase("residentMemory");
  old["worker"].erase("queued");
  const std::string text = status_text(old, "u");
  EXPECT_EQ(line_starting(text, "resident "), "resident   1") << text;
  const std::string head = line_starting(text, "  MODEL");
  const std::string a = line_starting(text, "  a ");
  ASSERT_FALSE(a.empty()) << text;
  EXPECT_EQ(a.find(" - ") + 1, head.find(" QUEUED") + 1) << "a field it lacks shows as -\n" << text;
}

TEST(StatusView, ModelsMarkTheResidentOnes) {
  const std::string text = models_text(json::parse(models_json(two_residents())));
  const auto lines = split_lines(text);
  ASSERT_EQ(lines.size(), 4u) << text;  // head, a (its alias in its row), b, the legend
  EXPECT_EQ(lines[0].rfind("   MODEL", 0), 0u) << text;
  EXPECT_EQ(lines[1].rfind("*  a  ", 0), 0u) << text;
  EXPECT_NE(lines[1].find("ready"), std::string::npos);
  EXPECT_EQ(lines[1].substr(lines[1].size() - 5), "alpha");
  EXPECT_EQ(lines[2].rfind("*  b  ", 0), 0u) << text;
  EXPECT_NE(lines[2].find("starting"), std::string::npos);
  EXPECT_NE(lines[2].find(" NO"), std::string::npos) << "20 GiB does not fit the budget";
  EXPECT_EQ(lines[3], "* resident");

  DaemonSnapshot s = two_residents();
  s.workers.erase(s.workers.begin());  // a stopped: no mark
  const auto after = split_lines(models_text(json::parse(models_json(s))));
  ASSERT_EQ(after.size(), 4u);
  EXPECT_EQ(after[1].rfind("   a  ", 0), 0u) << after[1];
  EXPECT_NE(after[1].find("stopped"), std::string::npos);
  s.workers.clear();
  EXPECT_EQ(split_lines(models_text(json::parse(models_json(s)))).size(), 3u) << "no legend without a resident";
}
