// Hot reload: every way editors and config managers write files reloads exactly once with the final content;
// a reload is applied as a diff (untouched workers keep running); broken edits are refused and reported.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

// Two fake models; `default_model` and the alias `chat` are what the edits repoint.
std::string two_models(const std::string& ta, const std::string& tb, const std::string& default_model,
                       const std::string& chat_alias_on = "a", const std::string& a_flags = "--token-ms 1") {
  std::string y = "defaultModel: " + default_model + "\nmodels:\n";
  y += "  a:\n    cmd: " + fake_cmd(ta, a_flags) + "\n";
  if (chat_alias_on == "a") y += "    aliases: [chat]\n";
  y += "  b:\n    cmd: " + fake_cmd(tb, "--token-ms 1") + "\n";
  if (chat_alias_on == "b") y += "    aliases: [chat]\n";
  return Llmux::with_listen(y);
}

// Waits until `reloads` reaches `want`, then 400 ms more to prove no further reload follows.
void expect_exactly_reloads(Llmux& l, uint64_t want, const std::string& style) {
  EXPECT_TRUE(eventually([&] { return l.reloads() >= want; }, 3s)) << style << ": no reload\n" << l.log();
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(l.reloads(), want) << style << ": reloaded more than once\n" << l.log();
}

std::string default_model_of(Llmux& l) {
  auto r = http_post(l.port(), "/v1/chat/completions", R"({"max_tokens":1,"messages":[]})");
  return r.status == 200 ? r.json()["model"].get<std::string>() : "HTTP " + std::to_string(r.status);
}

void run(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }

}  // namespace

TEST(Reload, EveryEditStyleReloadsExactlyOnceWithTheFinalContent) {
  auto ta = unique_tag("styleA"), tb = unique_tag("styleB");
  Llmux l(two_models(ta, tb, "a"));
  const std::string path = l.config_path(), dir = l.dir();
  uint64_t n = 0;
  bool on_b = false;
  auto next_text = [&] {
    on_b = !on_b;
    return two_models(ta, tb, on_b ? "b" : "a");
  };
  auto check = [&](const std::string& style) {
    expect_exactly_reloads(l, ++n, style);
    EXPECT_EQ(l.status()["config"]["error"], nullptr) << style;
  };

  {  // truncate + write in place
    int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
    std::string t = next_text();
    ASSERT_EQ(::write(fd, t.data(), t.size()), static_cast<ssize_t>(t.size()));
    ::close(fd);
    check("truncate+write");
  }
  {  // write to a temp file, rename over
    write_file(dir + "/.config.yaml.tmp", next_text());
    ASSERT_EQ(::rename((dir + "/.config.yaml.tmp").c_str(), path.c_str()), 0);
    check("temp+rename");
  }
  {  // sed -i (temp + rename under the hood)
    std::string want = on_b ? "a" : "b";
    on_b = !on_b;
    run("sed -i 's/^defaultModel: .*/defaultModel: " + want + "/' " + path);
    check("sed -i");
  }
  {  // vim-style: rename to backup, write a new file, delete the backup
    ASSERT_EQ(::rename(path.c_str(), (path + "~").c_str()), 0);
    write_file(path, next_text());
    ::unlink((path + "~").c_str());
    check("vim backup/rename");
  }
  {  // delete, then recreate
    ::unlink(path.c_str());
    std::this_thread::sleep_for(150ms);
    write_file(path, next_text());
    check("delete+recreate");
  }
  {  // cp over it
    write_file(dir + "/other.yaml", next_text());
    run("cp " + dir + "/other.yaml " + path);
    check("cp");
  }
  {  // a burst of writes: only the final content counts
    for (int i = 0; i < 10; ++i) write_file(path, two_models(ta, tb, i % 2 ? "a" : "b"));
    on_b = false;
    write_file(path, next_text());  // final: defaultModel b
    check("burst");
  }
  EXPECT_EQ(default_model_of(l), on_b ? "b" : "a");
  {  // identical content (touch, rewrite): no reload
    run("touch " + path);
    write_file(path, two_models(ta, tb, on_b ? "b" : "a"));
    std::this_thread::sleep_for(400ms);
    EXPECT_EQ(l.reloads(), n) << "identical content must not reload";
  }
  {  // SIGHUP re-reads too
    std::string t = next_text();
    int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
    ASSERT_EQ(::write(fd, t.data(), t.size()), static_cast<ssize_t>(t.size()));
    ::close(fd);
    l.process().signal(SIGHUP);
    EXPECT_TRUE(eventually([&] { return l.reloads() >= n + 1; }, 3s));
  }
}

TEST(Reload, KubernetesConfigMapSymlinkSwap) {
  auto ta = unique_tag("cmA"), tb = unique_tag("cmB");
  std::string dir = make_temp_dir();
  ASSERT_EQ(::mkdir((dir + "/..2024_01").c_str(), 0755), 0);
  write_file(dir + "/..2024_01/config.yaml", two_models(ta, tb, "a"));
  ASSERT_EQ(::symlink("..2024_01", (dir + "/..data").c_str()), 0);
  ASSERT_EQ(::symlink("..data/config.yaml", (dir + "/config.yaml").c_str()), 0);
  Llmux l(Llmux::ExistingFile{}, dir, dir + "/config.yaml");
  EXPECT_EQ(default_model_of(l), "a");
  ASSERT_EQ(::mkdir((dir + "/..2024_02").c_str(), 0755), 0);
  write_file(dir + "/..2024_02/config.yaml", two_models(ta, tb, "b"));
  ASSERT_EQ(::symlink("..2024_02", (dir + "/..data_tmp").c_str()), 0);
  ASSERT_EQ(::rename((dir + "/..data_tmp").c_str(), (dir + "/..data").c_str()), 0);
  expect_exactly_reloads(l, 1, "configmap");
  EXPECT_EQ(default_model_of(l), "b");
}

TEST(Reload, AliasRepointTakesEffectWithoutRestartingTheResidentWorker) {
  auto ta = unique_tag("repA"), tb = unique_tag("repB");
  Llmux l(two_models(ta, tb, "a", "a"));
  auto r = l.chat("chat");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["model"], "a");
  int pid = l.worker()["pid"];
  write_file(l.config_path(), two_models(ta, tb, "a", "b"));  // chat -> b
  expect_exactly_reloads(l, 1, "repoint");
  EXPECT_EQ(l.worker()["pid"], pid) << "the resident worker must not restart";
  EXPECT_EQ(l.worker()["state"], "ready");
  auto r2 = l.chat("chat");
  ASSERT_EQ(r2.status, 200);
  EXPECT_EQ(r2.json()["model"], "b");
}

TEST(Reload, DefaultModelRepointSendsTheNextDefaultRequestToTheNewModel) {
  auto ta = unique_tag("defA"), tb = unique_tag("defB");
  Llmux l(two_models(ta, tb, "a"));
  EXPECT_EQ(default_model_of(l), "a");
  write_file(l.config_path(), two_models(ta, tb, "b"));
  expect_exactly_reloads(l, 1, "defaultModel");
  EXPECT_EQ(default_model_of(l), "b");
}

TEST(Reload, StreamSurvivesAReloadThatDoesNotTouchItsModel) {
  auto ta = unique_tag("keepA"), tb = unique_tag("keepB");
  Llmux l(two_models(ta, tb, "a", "a", "--token-ms 40 --tokens 15"));
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  int pid = l.worker()["pid"];
  StreamResult s;
  std::thread t([&] { s = l.stream_chat("a"); });
  ASSERT_TRUE(eventually([&] { return l.status()["inFlight"] == 1; }));
  write_file(l.config_path(), two_models(ta, tb, "b", "a", "--token-ms 40 --tokens 15"));
  t.join();
  EXPECT_TRUE(stream_done(s)) << s.body;
  EXPECT_EQ(count_content_events(s), 15u);
  EXPECT_EQ(l.reloads(), 1u);
  EXPECT_EQ(l.worker()["pid"], pid);
}

TEST(Reload, ChangedResidentModelFinishesItsStreamThenRestarts) {
  auto ta = unique_tag("chgA"), tb = unique_tag("chgB");
  Llmux l(two_models(ta, tb, "a", "a", "--token-ms 40 --tokens 15"));
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  int old_pid = l.worker()["pid"];
  StreamResult s;
  std::thread t([&] { s = l.stream_chat("a"); });
  ASSERT_TRUE(eventually([&] { return l.status()["inFlight"] == 1; }));
  write_file(l.config_path(), two_models(ta, tb, "a", "a", "--token-ms 40 --tokens 15 --tokens 16"));
  ASSERT_TRUE(eventually([&] { return l.reloads() == 1; }, 3s));
  EXPECT_TRUE(pid_alive(old_pid)) << "must not be stopped while its stream is in flight";
  t.join();
  EXPECT_TRUE(stream_done(s)) << s.body;
  EXPECT_EQ(count_content_events(s), 15u) << "finished on the old definition";
  EXPECT_TRUE(eventually([&] { return !pid_alive(old_pid); }, 3s));
  auto r = l.stream_chat("a");
  EXPECT_EQ(count_content_events(r), 16u) << "the next request runs the new definition";
  EXPECT_NE(l.worker()["pid"], old_pid);
}

TEST(Reload, RemovedResidentModelIsUnloadedAndAddedModelServes) {
  auto ta = unique_tag("rmA"), tb = unique_tag("rmB"), tc = unique_tag("addC");
  Llmux l(two_models(ta, tb, "a"));
  ASSERT_EQ(l.chat("a").status, 200);
  std::string y = "models:\n  b:\n    cmd: " + fake_cmd(tb, "--token-ms 1") + "\n  c:\n    cmd: " +
                  fake_cmd(tc, "--token-ms 1") + "\n";
  write_file(l.config_path(), Llmux::with_listen(y));
  ASSERT_TRUE(eventually([&] { return l.worker().is_null(); }, 3s)) << l.log();
  EXPECT_TRUE(find_pids_with_arg(ta).empty());
  EXPECT_EQ(l.chat("a").status, 404);
  EXPECT_EQ(l.chat("c").status, 200);
}

TEST(Reload, BrokenEditIsRefusedReportedAndClearedByAFix) {
  auto ta = unique_tag("brkA"), tb = unique_tag("brkB");
  Llmux l(two_models(ta, tb, "a"));
  ASSERT_EQ(l.chat("a").status, 200);
  int pid = l.worker()["pid"];
  write_file(l.config_path(), "models:\n  a:\n    cmd: [unclosed\n");
  ASSERT_TRUE(eventually([&] { return !l.status()["config"]["error"].is_null(); }, 3s)) << l.log();
  auto err = l.status()["config"]["error"]["message"].get<std::string>();
  EXPECT_NE(err.find("config.yaml:"), std::string::npos) << err;
  EXPECT_EQ(l.reloads(), 0u);
  EXPECT_EQ(l.chat("a").status, 200) << "the old config keeps serving";
  EXPECT_EQ(l.worker()["pid"], pid);
  // A model the refused edit may have added: the 404 says why it is not served.
  const auto missing = l.chat("added-by-the-edit");
  EXPECT_EQ(missing.status, 404);
  const std::string why = missing.json()["error"]["message"];
  EXPECT_NE(why.find("the last edit of " + l.config_path() + " was refused"), std::string::npos) << why;
  EXPECT_NE(why.find("config.yaml:"), std::string::npos) << why;
  // A validation error (alias pointing at... a duplicate) is refused too, with file:line and key.
  write_file(l.config_path(), two_models(ta, tb, "nope"));
  ASSERT_TRUE(eventually([&] {
    auto e = l.status()["config"]["error"];
    return e.is_object() && e["message"].get<std::string>().find("defaultModel") != std::string::npos;
  }, 3s)) << l.status().dump();
  // The log reaches the harness through a pipe, possibly after /status shows the error: wait for the lines.
  EXPECT_TRUE(eventually([&] { return l.log_count("config edit refused") >= 2; })) << l.log();
  EXPECT_EQ(l.log_count("config edit refused"), 2u) << "each distinct error is logged once";
  write_file(l.config_path(), two_models(ta, tb, "b"));
  ASSERT_TRUE(eventually([&] { return l.status()["config"]["error"].is_null(); }, 3s));
  EXPECT_EQ(l.reloads(), 1u);
  EXPECT_EQ(default_model_of(l), "b");
}

TEST(Reload, ListenChangeIsReportedAsNeedingARestart) {
  auto ta = unique_tag("lsA"), tb = unique_tag("lsB");
  Llmux l(two_models(ta, tb, "a"));
  std::string moved = two_models(ta, tb, "b");
  moved.replace(moved.find("127.0.0.1:0"), 11, "127.0.0.1:1");
  write_file(l.config_path(), moved);
  expect_exactly_reloads(l, 1, "listen");
  EXPECT_EQ(l.status()["config"]["pendingRestart"], nlohmann::json::array({"listen"}));
  EXPECT_EQ(default_model_of(l), "b") << "the rest of the edit applies";
}

TEST(Reload, ConfigCheckAndDiffCommands) {
  auto ta = unique_tag("cliA"), tb = unique_tag("cliB");
  Llmux l(two_models(ta, tb, "a"));
  std::string next = l.dir() + "/next.yaml";
  write_file(next, two_models(ta, tb, "b", "b", "--token-ms 2"));
  Process check({LLMUX_BIN, "config", "check", next});
  auto st = check.wait_exit(5s);
  ASSERT_TRUE(st);
  EXPECT_EQ(WEXITSTATUS(*st), 0) << check.output();
  EXPECT_NE(check.output().find("ok (2 models"), std::string::npos) << check.output();
  std::string bad = l.dir() + "/bad.yaml";
  write_file(bad, "models:\n  a:\n    cmd: x --port ${PORT}\n    ttl: soon\n");
  Process check_bad({LLMUX_BIN, "config", "check", bad});
  st = check_bad.wait_exit(5s);
  ASSERT_TRUE(st);
  EXPECT_EQ(WEXITSTATUS(*st), 1);
  EXPECT_NE(check_bad.output().find("bad.yaml:4: models.a.ttl:"), std::string::npos) << check_bad.output();
  std::string url = "http://127.0.0.1:" + std::to_string(l.port());
  Process diff({LLMUX_BIN, "config", "diff", next, "--url", url});
  st = diff.wait_exit(5s);
  ASSERT_TRUE(st);
  EXPECT_EQ(WEXITSTATUS(*st), 0) << diff.output();
  EXPECT_NE(diff.output().find("defaultModel: 'a' -> 'b'"), std::string::npos) << diff.output();
  EXPECT_NE(diff.output().find("model a: cmd changed"), std::string::npos) << diff.output();
  EXPECT_NE(diff.output().find("model b: aliases"), std::string::npos) << diff.output();
  Process down({LLMUX_BIN, "config", "diff", next, "--url", "http://127.0.0.1:1"});
  st = down.wait_exit(5s);
  ASSERT_TRUE(st);
  EXPECT_EQ(WEXITSTATUS(*st), 1);
  EXPECT_NE(down.output().find("cannot reach llmux"), std::string::npos) << down.output();
}
