// fake_engine: a small, fast OpenAI-compatible inference engine for llmux's integration tests, demo and benches.
// It reproduces what llmux must cope with in real engines: slow loads under three readiness styles (llama-server's
// 503, vLLM's refused connections, mlx_lm.server's always-200 /health), paced token streams, crashes mid-stream,
// failed starts, an ignored SIGTERM and real memory growth. One thread, one io_context; an I/O error ends only its
// own connection. Responses are formatted by hand and written header+body in one write: it is a bench baseline.
// This file: main and the engine's lifecycle (load, memory held, signals, port squatting); options.cpp: the command
// line; serve.cpp: listening, HTTP sessions and routes; reply.cpp: writing answers; answers.cpp: their text.
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "tests/fake_engine/engine.hpp"

namespace fake {
namespace {

// Dirty every page of an anonymous mapping so the resident set really grows; never unmapped.
void occupy_memory(std::int64_t mb) {
  if (mb <= 0) return;
  const std::size_t bytes = static_cast<std::size_t>(mb) << 20;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    log_line("error: cannot allocate " + std::to_string(mb) + " MiB");
    ::_exit(1);
  }
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  volatile unsigned char* bytes_p = static_cast<unsigned char*>(p);
  for (std::size_t off = 0; off < bytes; off += page) bytes_p[off] = 1;
}

net::awaitable<void> load_model(Engine& e) {
  if (e.opt.readiness != Readiness::refuse) start_listening(e);
  if (e.opt.load_delay_ms > 0) {
    net::steady_timer t(e.io, std::chrono::milliseconds(e.opt.load_delay_ms));
    co_await t.async_wait(net::use_awaitable);
  }
  occupy_memory(e.opt.memory_mb);
  if (e.opt.grow_mb > 0) {  // memory that grows while no request runs (a cache filling, a leak)
    auto grow = std::make_shared<net::steady_timer>(e.io, std::chrono::milliseconds(e.opt.grow_after_ms));
    grow->async_wait([grow, mb = e.opt.grow_mb](const beast::error_code& ec) {
      if (!ec) occupy_memory(mb);
    });
  }
  if (e.opt.readiness == Readiness::refuse) start_listening(e);
  e.loaded = true;
  log_line("model loaded");
  e.load_gate.cancel();
}

void watch_signals(net::signal_set& signals, Engine& e) {
  signals.async_wait([&signals, &e](const beast::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGTERM && e.opt.ignore_sigterm) {
      log_line("ignoring SIGTERM");
      return watch_signals(signals, e);
    }
    log_line(sig == SIGTERM ? "SIGTERM, exiting" : "SIGINT, exiting");
    beast::error_code ignored;
    e.acceptor.close(ignored);
    ::_exit(0);  // promptly, even with streams in flight
  });
}

// Simulates "the port was taken between llmux's pick and the engine's bind": the first run (no marker file yet)
// leaves a process in its own session holding the port for 3 s, then fails to bind like a real engine would.
void squat_port(const Options& opt) {
  if (!opt.squat_port_once || ::access(opt.squat_port_once->c_str(), F_OK) == 0) return;
  if (FILE* f = std::fopen(opt.squat_port_once->c_str(), "w")) std::fclose(f);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(*opt.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1) != 0) return;
  int ready[2];
  if (::pipe(ready) != 0) return;
  if (::fork() == 0) {  // escapes the engine's process group, so llmux's group sweep does not free the port
    ::setsid();
    [[maybe_unused]] auto n = ::write(ready[1], "x", 1);
    ::sleep(3);
    ::_exit(0);
  }
  char c;
  [[maybe_unused]] auto n = ::read(ready[0], &c, 1);  // exit only once the squatter is out of our group
  log_line("error: bind " + opt.host + ":" + std::to_string(*opt.port) + ": Address already in use");
  std::exit(1);
}

}  // namespace
}  // namespace fake

int main(int argc, char** argv) {
  using namespace fake;
  std::signal(SIGPIPE, SIG_IGN);
  Options opt = parse_options(argc, argv);
  log_line("loading model " + opt.model + " (pid " + std::to_string(::getpid()) + ")");
  if (opt.exit_at_start) {
    log_line("error: failed to load model '" + opt.model + "': simulated failure");
    return *opt.exit_at_start;
  }
  squat_port(opt);
  net::io_context io(1);
  Engine engine(io, std::move(opt));
  net::signal_set signals(io, SIGTERM, SIGINT);
  watch_signals(signals, engine);
  net::co_spawn(io, load_model(engine), report_exception);
  io.run();
  return 0;
}
