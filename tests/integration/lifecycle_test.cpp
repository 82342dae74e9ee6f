// Worker lifecycle: swaps, TTL, crashes, failed starts, stop escalation, shutdown, client disconnects.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

TEST(Lifecycle, SwapABAStopsEachEngineAndNeverRunsTwo) {
  auto ta = unique_tag("swapA"), tb = unique_tag("swapB");
  Llmux l(models_yaml({{"a", fake_cmd(ta, "--load-delay-ms 100 --token-ms 1")},
                  {"b", fake_cmd(tb, "--readiness refuse --load-delay-ms 100 --token-ms 1")}}));
  auto r1 = l.chat("a");
  ASSERT_EQ(r1.status, 200) << r1.body;
  int pid_a1 = std::stoi(r1.header("x-fake-pid"));
  auto r2 = l.chat("b");
  ASSERT_EQ(r2.status, 200) << r2.body;
  EXPECT_FALSE(pid_alive(pid_a1)) << "engine a must be gone once b serves";
  EXPECT_TRUE(find_pids_with_arg(ta).empty());
  EXPECT_EQ(l.worker()["model"], "b");
  auto r3 = l.chat("a");
  ASSERT_EQ(r3.status, 200) << r3.body;
  EXPECT_NE(std::stoi(r3.header("x-fake-pid")), pid_a1);
  EXPECT_TRUE(find_pids_with_arg(tb).empty());
  EXPECT_EQ(find_pids_with_arg(ta).size(), 1u);
}

TEST(Lifecycle, SwapWaitsForTheInFlightStreamToFinish) {
  auto ta = unique_tag("drainA"), tb = unique_tag("drainB");
  Llmux l(models_yaml({{"a", fake_cmd(ta, "--token-ms 40 --tokens 15")}, {"b", fake_cmd(tb, "--token-ms 1")}}));
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  StreamResult streamed;
  std::thread t([&] { streamed = l.stream_chat("a"); });
  ASSERT_TRUE(eventually([&] { return l.status()["inFlight"] == 1; }));
  auto rb = l.chat("b");  // must wait for the stream, not cut it
  t.join();
  EXPECT_EQ(rb.status, 200) << rb.body;
  EXPECT_TRUE(stream_done(streamed)) << streamed.body;
  EXPECT_EQ(count_content_events(streamed), 15u);
}

TEST(Lifecycle, IdleTtlUnloadsTheWorker) {
  auto tag = unique_tag("ttl");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 1")}}, "    ttl: 1\n"));
  auto r = l.chat("a");
  ASSERT_EQ(r.status, 200);
  int pid = std::stoi(r.header("x-fake-pid"));
  EXPECT_TRUE(l.worker().is_object());
  ASSERT_TRUE(eventually([&] { return l.worker().is_null(); }, 5s)) << l.status().dump();
  EXPECT_TRUE(eventually([&] { return !pid_alive(pid); }, 2s));
  EXPECT_TRUE(l.logged("(ttl)"));
  EXPECT_EQ(l.chat("a").status, 200);  // and it comes back on demand
}

// The TTL counts from the end of the last request: a request within the TTL pushes the unload back.
TEST(Lifecycle, RequestWithinTheTtlPostponesTheUnload) {
  auto tag = unique_tag("ttl2");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 1")}}, "    ttl: 1\n"));
  ASSERT_EQ(l.chat("a").status, 200);
  std::this_thread::sleep_for(700ms);
  ASSERT_EQ(l.chat("a").status, 200);
  const auto last = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(600ms);  // 1.3 s after the first request, 0.6 s after the last
  EXPECT_TRUE(l.worker().is_object()) << "unloaded 1 s after the first request, not the last";
  ASSERT_TRUE(eventually([&] { return l.worker().is_null(); }, 3s)) << l.status().dump();
  EXPECT_GE(std::chrono::steady_clock::now() - last, 900ms);
}

TEST(Lifecycle, EngineCrashMidStreamEndsWithAnSseErrorEvent) {
  auto tag = unique_tag("crash");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 10 --tokens 10 --crash-after-tokens 3")}}));
  auto r = l.stream_chat("a");
  ASSERT_EQ(r.status, 200);
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events.back().event, "error") << r.body;
  EXPECT_NE(r.events.back().data.find("\"error\""), std::string::npos);
  EXPECT_EQ(count_content_events(r), 3u);
  ASSERT_TRUE(eventually([&] { return l.worker().is_null(); })) << l.status().dump();
  auto again = l.chat("a", R"(,"max_tokens":2)");  // crashed worker is restarted on demand
  EXPECT_EQ(again.status, 200) << again.body;
}

TEST(Lifecycle, EngineCrashBeforeResponseIsA502) {
  auto tag = unique_tag("crash502");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 5 --crash-after-tokens 2")}}));
  auto r = l.chat("a", R"(,"max_tokens":10)");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "engine_error");
}

TEST(Lifecycle, EngineExitingAtStartReportsItsStatusAndLog) {
  auto tag = unique_tag("exit");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--exit-at-start 3")}}));
  auto r = l.chat("a");
  EXPECT_EQ(r.status, 502) << r.body;
  auto msg = r.json()["error"]["message"].get<std::string>();
  EXPECT_NE(msg.find("exited with status 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("simulated failure"), std::string::npos) << msg;
  EXPECT_EQ(r.json()["error"]["code"], "engine_start_failed");
  EXPECT_TRUE(l.worker().is_null());
  EXPECT_EQ(l.status()["lastStartFailure"]["model"], "a");
}

TEST(Lifecycle, MissingExecutableIsAClearError) {
  Llmux l(models_yaml({{"a", "/nonexistent/engine --port ${PORT}"}}));
  auto r = l.chat("a");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find("/nonexistent/engine"), std::string::npos) << r.body;
}

TEST(Lifecycle, StartDeadlineKillsASlowEngine) {
  auto tag = unique_tag("deadline");
  Llmux l("healthCheckTimeout: 1\n" + models_yaml({{"a", fake_cmd(tag, "--load-delay-ms 10000")}}));
  auto r = l.chat("a");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "engine_start_timeout");
  EXPECT_NE(r.body.find("not ready after 1s"), std::string::npos) << r.body;
  EXPECT_TRUE(eventually([&] { return find_pids_with_arg(tag).empty(); }, 3s));
}

TEST(Lifecycle, SigtermIgnoringEngineIsKilledAfterTheGrace) {
  auto ta = unique_tag("stubborn"), tb = unique_tag("next");
  Llmux l("stopGrace: 400ms\n" +
          models_yaml({{"a", fake_cmd(ta, "--ignore-sigterm --token-ms 1")}, {"b", fake_cmd(tb, "--token-ms 1")}}));
  auto ra = l.chat("a");
  ASSERT_EQ(ra.status, 200);
  int pid_a = std::stoi(ra.header("x-fake-pid"));
  auto start = std::chrono::steady_clock::now();
  auto rb = l.chat("b");
  EXPECT_EQ(rb.status, 200) << rb.body;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 350ms);  // it really waited for the grace
  EXPECT_FALSE(pid_alive(pid_a));
  EXPECT_TRUE(l.logged("sending SIGKILL"));
}

TEST(Lifecycle, EngineExitingWhileIdleIsMarkedStoppedAndRestartedOnDemand) {
  auto tag = unique_tag("idleexit");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 1")}}));
  auto r = l.chat("a");
  ASSERT_EQ(r.status, 200);
  ::kill(std::stoi(r.header("x-fake-pid")), SIGKILL);
  ASSERT_TRUE(eventually([&] { return l.worker().is_null(); })) << l.status().dump();
  EXPECT_TRUE(l.logged("killed by signal 9")) << l.log();
  EXPECT_EQ(l.chat("a").status, 200);
}

TEST(Lifecycle, UnloadEndpointStopsTheWorker) {
  auto tag = unique_tag("unload");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 1")}}));
  ASSERT_EQ(l.chat("a").status, 200);
  auto u = http_get(l.port(), "/unload");
  EXPECT_EQ(u.status, 200);
  EXPECT_TRUE(l.worker().is_null());
  EXPECT_TRUE(find_pids_with_arg(tag).empty());
  EXPECT_TRUE(http_get(l.port(), "/running").json()["running"].empty());
}

TEST(Lifecycle, ClientDisconnectMidStreamClosesTheEngineConnection) {
  auto tag = unique_tag("disconnect");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 50 --tokens 400")}}));
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  int seen = 0;
  auto r = l.stream_chat("a", [&](const SseEvent& e) { return e.data.find("tok") == std::string::npos || ++seen < 3; });
  EXPECT_TRUE(r.closed_early);
  auto engine = static_cast<uint16_t>(l.worker()["port"].get<int>());
  EXPECT_TRUE(eventually([&] { return http_get(engine, "/debug/stats").json()["cancelled"] == 1; }, 3s))
      << http_get(engine, "/debug/stats").body;
  EXPECT_TRUE(eventually([&] { return l.status()["inFlight"] == 0; }, 2s));
}

// A non-streamed request is watched once it has run for a moment: a client that leaves a long generation frees
// the engine without waiting for the answer.
TEST(Lifecycle, ClientDisconnectDuringANonStreamedGenerationClosesTheEngineConnection) {
  auto tag = unique_tag("disconnectNS");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 50 --tokens 200")}}));
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  auto engine = static_cast<uint16_t>(l.worker()["port"].get<int>());
  {
    int fd = connect_tcp(l.port());
    std::string body = R"({"model":"a","messages":[{"role":"user","content":"long"}]})";
    std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    ASSERT_TRUE(eventually([&] { return l.status()["inFlight"] == 1; }));
    std::this_thread::sleep_for(400ms);  // past the moment llmux starts watching
    ::close(fd);                         // 10 s of generation left
  }
  EXPECT_TRUE(eventually([&] { return http_get(engine, "/debug/stats").json()["cancelled"] == 1; }, 3s))
      << http_get(engine, "/debug/stats").body;
  EXPECT_TRUE(eventually([&] { return l.status()["inFlight"] == 0; }, 2s));
}

// A client that stops reading a stream (but keeps its connection) is cut once a write to it makes no progress for
// clientWrite; the engine connection closes with it, so the engine stops generating.
TEST(Lifecycle, ClientThatStopsReadingIsCutAfterClientWrite) {
  auto tag = unique_tag("stalled");
  Llmux l("timeouts:\n  clientWrite: 300ms\n" + models_yaml({{"a", fake_cmd(tag, "--token-ms 0 --tokens 100000")}}));
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  auto engine = static_cast<uint16_t>(l.worker()["port"].get<int>());
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(l.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string body = R"({"model":"a","stream":true,"messages":[{"role":"user","content":"long"}]})";
  std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  // Never read: llmux's writes stall once the socket buffers are full.
  EXPECT_TRUE(eventually([&] { return http_get(engine, "/debug/stats").json()["cancelled"] == 1; }, 10s))
      << http_get(engine, "/debug/stats").body;
  EXPECT_TRUE(eventually([&] { return l.status()["inFlight"] == 0; }, 2s));
  ::close(fd);
}

TEST(Lifecycle, QueuedClientThatDisconnectsNeverReachesTheEngine) {
  auto tag = unique_tag("queued");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--load-delay-ms 800 --readiness refuse")}}));
  {
    int fd = connect_tcp(l.port());
    std::string body = R"({"model":"a","max_tokens":1})";
    std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    ASSERT_TRUE(eventually([&] { return l.worker().is_object(); }));  // load started for it
    ::close(fd);  // gone while the engine loads
  }
  ASSERT_TRUE(eventually([&] { return l.worker()["state"] == "ready"; }, 5s));
  auto engine = static_cast<uint16_t>(l.worker()["port"].get<int>());
  EXPECT_EQ(http_get(engine, "/debug/stats").json()["requests"], 0);
}

TEST(Lifecycle, SigkillOfLlmuxLeavesNoEngine) {
  auto tag = unique_tag("orphan");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 1")}}));
  ASSERT_EQ(l.chat("a").status, 200);
  ASSERT_EQ(find_pids_with_arg(tag).size(), 1u);
  l.process().signal(SIGKILL);
  l.process().wait_exit(5s);
  EXPECT_TRUE(eventually([&] { return find_pids_with_arg(tag).empty(); }, 3s));
}

TEST(Lifecycle, EngineInheritsNoDescriptorsFromLlmux) {
  std::string tag = "100000." + std::to_string(::getpid());  // sleep sums its arguments: a unique marker
  Llmux l(models_yaml({{"a", "sleep " + tag + " ${PORT}"}}, "    checkEndpoint: none\n"));
  auto r = l.chat("a");  // sleep is "ready" at once; the relay then fails to connect: 502
  EXPECT_EQ(r.status, 502);
  auto pids = find_pids_with_arg(tag);
  ASSERT_EQ(pids.size(), 1u);
  std::this_thread::sleep_for(200ms);  // let sleep finish its own start-up (it opens locale files briefly)
  std::string open_fds;
  int fds = 0;
  for (int fd = 0; fd < 1024; ++fd) {
    std::string path = "/proc/" + std::to_string(pids[0]) + "/fd/" + std::to_string(fd);
    char target[256] = {};
    if (::readlink(path.c_str(), target, sizeof target - 1) < 0) continue;
    std::string t = target;
    if (fd > 2 && (t.starts_with("socket:") || t.starts_with("pipe:") || t.starts_with("anon_inode:"))) ++fds;
    open_fds += std::to_string(fd) + " -> " + t + "\n";
  }
  EXPECT_EQ(fds, 0) << "descriptors inherited from llmux:\n" << open_fds;
}

TEST(Lifecycle, GracefulShutdownFinishesInFlightStreamThenStopsEngine) {
  auto tag = unique_tag("shutdown");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 30 --tokens 20")}}));
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  StreamResult streamed;
  std::thread t([&] { streamed = l.stream_chat("a"); });
  ASSERT_TRUE(eventually([&] { return l.status()["inFlight"] == 1; }));
  l.process().signal(SIGTERM);
  t.join();
  EXPECT_TRUE(stream_done(streamed)) << streamed.body;
  auto status = l.process().wait_exit(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_TRUE(find_pids_with_arg(tag).empty());
}

TEST(Lifecycle, InvalidConfigRefusesToStartWithOneLine) {
  auto dir = make_temp_dir();
  write_file(dir + "/bad.yaml", "models:\n  a:\n    cmd: x --port ${PORT}\n    ttl: forever\n");
  Process p({LLMUX_BIN, "serve", "--config", dir + "/bad.yaml"});
  auto st = p.wait_exit(5s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(WEXITSTATUS(*st), 2);
  EXPECT_NE(p.output().find("bad.yaml:4: models.a.ttl:"), std::string::npos) << p.output();
}

TEST(Lifecycle, PortTakenBeforeTheEngineBindsIsRetriedOnAnotherPort) {
  auto tag = unique_tag("squat");
  auto marker = make_temp_dir() + "/squatted";
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--token-ms 1 --squat-port-once " + marker)}}));
  auto r = l.chat("a");
  EXPECT_EQ(r.status, 200) << r.body << "\n" << l.log();
  EXPECT_TRUE(l.logged("was taken before the engine could bind it")) << l.log();
}

TEST(Lifecycle, CompletionReadinessWaitsForTheModelBehindALyingHealthEndpoint) {
  auto tag = unique_tag("mlx");
  Llmux l(models_yaml({{"a", fake_cmd(tag, "--readiness always200 --load-delay-ms 700 --token-ms 1")}},
                 "    readiness: completion\n"));
  HttpResponse r;
  std::thread t([&] { r = l.chat("a"); });
  ASSERT_TRUE(eventually([&] { return l.worker().is_object(); }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(l.worker()["state"], "starting") << "/health says 200 but the model is still loading";
  t.join();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_GE(l.worker()["loadSeconds"].get<double>(), 0.6);
}

TEST(Lifecycle, CmdStopIsUsedToStopTheEngine) {
  auto ta = unique_tag("cmdstop"), tb = unique_tag("after");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(ta, "--token-ms 1") + "\n    cmdStop: kill -INT ${PID}\n" +
          "  b:\n    cmd: " + fake_cmd(tb, "--token-ms 1") + "\n");
  ASSERT_EQ(l.chat("a").status, 200);
  ASSERT_EQ(l.chat("b").status, 200);
  EXPECT_TRUE(l.logged("fake_engine: SIGINT, exiting")) << l.log();
  EXPECT_TRUE(l.logged("with cmdStop"));
  EXPECT_TRUE(find_pids_with_arg(ta).empty());
}

TEST(Lifecycle, SwapsLeaveNoZombies) {
  auto ta = unique_tag("zA"), tb = unique_tag("zB");
  Llmux l(models_yaml({{"a", fake_cmd(ta, "--token-ms 1")}, {"b", fake_cmd(tb, "--token-ms 1")}}));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(l.chat("a").status, 200);
    ASSERT_EQ(l.chat("b").status, 200);
  }
  EXPECT_EQ(zombie_children(l.process().pid()), 0);
}

TEST(Lifecycle, SilentEngineHitsTheIdleAndFirstByteTimeouts) {
  auto tag = unique_tag("stall");
  Llmux l("timeouts:\n  engineIdle: 300ms\n  engineFirstByte: 1s\n" +
          models_yaml({{"a", fake_cmd(tag, "--token-ms 2000 --tokens 3")}}));
  auto r = l.stream_chat("a");
  ASSERT_EQ(r.status, 200);
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events.back().event, "error") << r.body;
  EXPECT_NE(r.events.back().data.find("timed out"), std::string::npos) << r.body;
  auto plain = l.chat("a");  // non-streaming: nothing at all for 6 s
  EXPECT_EQ(plain.status, 504) << plain.body;
  EXPECT_EQ(plain.json()["error"]["code"], "engine_timeout");
}
