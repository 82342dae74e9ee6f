// relay_bench: what llmux's relay adds over talking to the engine directly, side by side with nginx as a reverse
// proxy (when installed), from one run. One fake engine (the one llmux spawned) serves all three paths:
//   direct  client → engine
//   llmux   client → llmux → engine
//   nginx   client → nginx (1 worker, proxy_buffering off, upstream keepalive) → engine
// Part 1: throughput and latency of small non-streaming POSTs under load (wrk, else a built-in closed loop).
// Part 2: SSE time to first event, sequential streams on fresh connections, paths interleaved.
// Part 3: sequential requests with a 1 MiB body (llmux parses every request body to route it), and with a
// ~0.85 MiB response (pure relay of bytes).
// --bodies: instead, latency by request body size (bench/body_sweep.hpp).
// Exit 0 when it ran (unmet goals print MISS), 1 when it could not run.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>

#include "bench/bench_support.hpp"
#include "bench/body_sweep.hpp"
#include "bench/load.hpp"

using namespace llmux::bench;
namespace test = llmux::test;

namespace {

const std::string kBody = R"({"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":4})";
const std::string kStreamBody =
    R"({"model":"bench","stream":true,"messages":[{"role":"user","content":"hi"}],"max_tokens":4})";
const std::string kTarget = "/v1/chat/completions";
constexpr int kConnections = 32;

struct Options {
  int seconds = 15;
  int sse_n = 200;
  bool warmup = true;
  bool wrk = true;
  bool nginx = true;
  std::optional<BodySweepOptions> sweep;  // --bodies
};

struct Path {
  std::string name;
  uint16_t port = 0;
  pid_t pid = -1;  // the proxy process (for CPU per request); -1 for direct
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\nusage: relay_bench [--seconds N] [--sse N] [--quick] [--no-wrk] [--no-nginx]\n"
               "       relay_bench --bodies KIB,KIB,... [--rounds N] [--per-round N] [--stream] [--no-nginx]\n"
               "  --seconds N  1 s throughput rounds per path (default 15; the -c1 series takes half)\n  --sse N      streams per path (default 200)\n"
               "  --quick      1 s per path, 50 streams, no warm-up (CI smoke)\n"
               "  --no-wrk     use the built-in load generator\n  --no-nginx   skip the nginx baseline\n"
               "  --bodies L   only latency by request body size (KiB, e.g. 1,64,256,1024), c=1, keep-alive\n"
               "  --rounds N   body rounds (default 3)   --per-round N  requests per size, path and round (20)\n",
               why);
  std::exit(1);
}

std::vector<size_t> kib_list(const std::string& text) {
  std::vector<size_t> out;
  for (size_t at = 0; at <= text.size();) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const long v = std::atol(text.substr(at, comma - at).c_str());
    if (v <= 0 || v > 32 * 1024) usage("--bodies: expected sizes in KiB, 1..32768, separated by commas");
    out.push_back(static_cast<size_t>(v));
    at = comma + 1;
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&] {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      const int v = std::atoi(argv[++i]);
      if (v <= 0 || v > 600) usage((a + ": expected 1..600").c_str());
      return v;
    };
    if (a == "--seconds") o.seconds = number();
    else if (a == "--sse") o.sse_n = number();
    else if (a == "--quick") { o.seconds = 1; o.sse_n = 50; o.warmup = false; }
    else if (a == "--no-wrk") o.wrk = false;
    else if (a == "--no-nginx") o.nginx = false;
    else if (a == "--bodies") o.sweep = BodySweepOptions{kib_list(i + 1 < argc ? argv[++i] : "")};
    else if (a == "--stream" && o.sweep) o.sweep->stream = true;
    else if (a == "--rounds" || a == "--per-round") {
      if (!o.sweep) usage((a + " comes after --bodies").c_str());
      (a == "--rounds" ? o.sweep->rounds : o.sweep->per_round) = number();
    }
    else usage(("unknown argument " + a).c_str());
  }
  return o;
}

Load measure_load(const Path& p, const std::optional<std::string>& wrk, const std::string& script, int connections,
                  int seconds) {
  const auto cpu0 = p.pid > 0 ? cpu_seconds(p.pid) : std::nullopt;
  Load r = wrk ? run_wrk(*wrk, script, p.port, kTarget, connections, seconds)
                : run_closed_loop(p.port, kTarget, kBody, connections, seconds);
  const auto cpu1 = p.pid > 0 ? cpu_seconds(p.pid) : std::nullopt;
  if (cpu0 && cpu1 && r.ok && r.rps > 0) r.cpu_us_per_req = (*cpu1 - *cpu0) * 1e6 / (r.rps * seconds);
  return r;
}

// ------------------------------------------------------------------------------------------------ SSE

// Milliseconds from starting the request (connect included) to the first SSE event; nullopt on failure.
std::optional<double> first_event_ms(uint16_t port) {
  const auto t0 = Clock::now();
  const auto r = test::http_stream(port, "POST", kTarget, kStreamBody, {}, 10s);
  if (r.status != 200 || r.events.empty() || !r.complete || r.events.back().data != "[DONE]") return std::nullopt;
  return ms_between(t0, r.events.front().at);
}

// ------------------------------------------------------------------------------------------------ report

void print_header(const Path& engine, const test::Process* nginx, const std::string& nginx_why,
                  bool wrk) {
  std::cout << "relay_bench: relay overhead, one fake engine (token-ms 0, max_tokens 4) behind every path\n"
            << "  engine  fake_engine pid " << engine.pid << " on 127.0.0.1:" << engine.port
            << " (spawned by llmux, also hit directly)\n"
            << "  llmux   single-threaded event loop\n";
  if (nginx)
    std::cout << "  nginx   worker_processes 1 (master_process off; llmux is single-threaded too), "
                 "proxy_buffering off, HTTP/1.1 upstream keepalive 64\n";
  else
    std::cout << "  nginx   skipped: " << nginx_why << "\n";
  if (wrk)
    std::cout << "  load    wrk -t1 --latency, -c" << kConnections << " (throughput) and -c1 (latency), POST "
              << kTarget << " " << kBody << "\n";
  else
    std::cout << "  load    wrk not found (or --no-wrk): built-in closed loop, " << kFallbackThreads
              << " threads (throughput) and 1 thread (latency), each 1 keep-alive connection, POST " << kTarget
              << "\n";
  std::cout << "  cpus    " << std::thread::hardware_concurrency()
            << " shared by load generator, proxy and engine: absolute figures are machine-bound, compare rows\n\n";
}

void print_load(const std::string& title, const std::vector<Path>& paths, const std::vector<Load>& loads) {
  std::cout << title << "\n  path      req/s    p50 ms   p99 ms  added p50 ms  proxy CPU us/req  errors\n";
  for (size_t i = 0; i < paths.size(); ++i) {
    const Load& l = loads[i];
    std::cout << "  " << paths[i].name << std::string(8 - paths[i].name.size(), ' ');
    if (!l.ok) {
      std::cout << "  failed: " << l.note << "\n";
      continue;
    }
    std::cout << pad(fixed(l.rps, 0), 7) << pad(fixed(l.p50, 3), 10) << pad(fixed(l.p99, 3), 9)
              << pad(i == 0 ? "-" : fixed(l.p50 - loads[0].p50, 3), 14)
              << pad(l.cpu_us_per_req < 0 ? "-" : fixed(l.cpu_us_per_req, 1), 18) << pad(std::to_string(l.errors), 8)
              << (l.note.empty() ? "" : "  (" + l.note + ")") << "\n";
  }
}

bool all_ok(const std::vector<Load>& loads) {
  return loads.size() >= 3 && std::all_of(loads.begin(), loads.end(), [](const Load& l) { return l.ok; });
}

void print_added_p50(const std::string& label, const std::vector<Load>& loads) {
  const double llmux_added = loads[1].p50 - loads[0].p50, nginx_added = loads[2].p50 - loads[0].p50;
  std::cout << "  added p50 " << label << ": llmux " << fixed(llmux_added, 3) << " ms, nginx " << fixed(nginx_added, 3)
            << " ms, llmux/nginx " << (nginx_added > 0 ? fixed(llmux_added / nginx_added, 2) : std::string("n/a"))
            << "  (goal llmux <= nginx)  " << verdict(llmux_added <= nginx_added) << "\n";
}

// The throughput goal is judged on the median of the per-round ratios: the two proxies of a round ran a second
// apart under the same background load, which on a shared VM moves every path's figure by ±10 % from one second
// to the next. The ratio of the medians and the spread of the rounds are printed beside it.
void print_load_goals(const std::vector<Load>& loaded, const std::vector<double>& ratios,
                      const std::vector<Load>& single, int conns) {
  if (!all_ok(loaded) || !all_ok(single) || ratios.empty()) {
    std::cout << "\n  goals vs nginx: not evaluated (no nginx baseline or a run failed)\n\n";
    return;
  }
  const double ratio = median(ratios);
  const auto [low, high] = std::minmax_element(ratios.begin(), ratios.end());
  std::cout << "\n  llmux/nginx throughput " << fixed(ratio, 2) << "  (goal >= 1.00)  " << verdict(ratio >= 1.0)
            << "   [median of " << ratios.size() << " per-round ratios, range " << fixed(*low, 2) << "-"
            << fixed(*high, 2) << "; ratio of medians " << fixed(loaded[1].rps / loaded[2].rps, 2) << "]\n";
  if (loaded[1].cpu_us_per_req > 0 && loaded[2].cpu_us_per_req > 0)
    std::cout << "  CPU per request under load: llmux/nginx "
              << fixed(loaded[1].cpu_us_per_req / loaded[2].cpu_us_per_req, 2) << "\n";
  print_added_p50("at concurrency 1  ", single);
  print_added_p50("under load (-c" + std::to_string(conns) + ")", loaded);
  std::cout << "  (under a closed-loop load p50 tracks connections / throughput, so the -c1 figure is the per-hop "
               "cost)\n\n";
}

void run_sse(const std::vector<Path>& paths, const Options& o) {
  std::vector<std::vector<double>> samples(paths.size());
  std::vector<int> failures(paths.size(), 0);
  for (int i = -5; i < o.sse_n; ++i)  // 5 unrecorded warm-up rounds; paths interleaved so drift hits all alike
    for (size_t p = 0; p < paths.size(); ++p) {
      const auto ms = first_event_ms(paths[p].port);
      if (!ms) ++failures[p];
      else if (i >= 0) samples[p].push_back(*ms);
    }
  std::cout << "SSE time to first event (" << o.sse_n
            << " sequential streams per path, fresh connection each, send -> first data: event)\n"
            << "  path    median ms   p90 ms  added median ms  failures\n";
  const double direct = median(samples[0]);
  for (size_t p = 0; p < paths.size(); ++p)
    std::cout << "  " << paths[p].name << std::string(8 - paths[p].name.size(), ' ')
              << pad(fixed(median(samples[p]), 3), 9) << pad(fixed(percentile(samples[p], 90), 3), 9)
              << pad(p == 0 ? "-" : fixed(median(samples[p]) - direct, 3), 17) << pad(std::to_string(failures[p]), 10)
              << "\n";
  const double added = median(samples[1]) - direct;
  std::cout << "  llmux added " << fixed(added, 3) << " ms  (goal <= 0.200 ms)  " << verdict(added <= 0.2);
  if (paths.size() > 2) std::cout << "   [nginx added " << fixed(median(samples[2]) - direct, 3) << " ms]";
  std::cout << "\n";
}

// A chat request whose prompt makes the body about 1 MiB: llmux reads and inspects the whole body before relaying.
std::string big_request() {
  std::string words;
  while (words.size() < (1u << 20)) words += "hello world ";
  return R"({"model":"bench","messages":[{"role":"user","content":")" + words + R"("}],"max_tokens":4})";
}

// A small request whose non-streaming answer is about 0.85 MiB (100000 tokens): a pure relay of bytes.
const std::string kBigResponse =
    R"({"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":100000})";

// `n` sequential POSTs of `body` per path, paths interleaved; prints median/p90 of the whole exchange.
void run_sequential(const std::vector<Path>& paths, const std::string& title, const std::string& body, int n) {
  std::vector<std::vector<double>> samples(paths.size());
  std::vector<int> failures(paths.size(), 0);
  size_t response_bytes = 0;
  for (int i = -2; i < n; ++i)
    for (size_t p = 0; p < paths.size(); ++p) {
      const auto t0 = Clock::now();
      const auto r = test::http_post(paths[p].port, kTarget, body, 30s);
      if (r.status != 200 || !r.complete) ++failures[p];
      else if (i >= 0) samples[p].push_back(ms_between(t0, Clock::now()));
      response_bytes = r.body.size();
    }
  std::cout << "\n" << title << ": request " << fixed(static_cast<double>(body.size()) / (1 << 20), 2)
            << " MiB, response " << fixed(static_cast<double>(response_bytes) / (1 << 20), 2) << " MiB, " << n
            << " sequential requests per path, interleaved (no goal)\n"
            << "  path    median ms   p90 ms  added median ms  failures\n";
  for (size_t p = 0; p < paths.size(); ++p)
    std::cout << "  " << paths[p].name << std::string(8 - paths[p].name.size(), ' ')
              << pad(fixed(median(samples[p]), 3), 9) << pad(fixed(percentile(samples[p], 90), 3), 9)
              << pad(p == 0 ? "-" : fixed(median(samples[p]) - median(samples[0]), 3), 17)
              << pad(std::to_string(failures[p]), 10) << "\n";
}

// Starts nginx in front of the engine and checks that it relays; nullptr with `why` when it is missing or broken.
std::unique_ptr<test::Process> add_nginx(const std::string& dir, uint16_t engine_port, std::vector<Path>& paths,
                                         std::string& why) {
  uint16_t port = 0;
  auto nginx = start_nginx(dir, engine_port, port, why);
  if (!nginx) return nullptr;
  const auto r = test::http_post(port, kTarget, kBody, 10s);
  if (r.status != 200) {
    why = "request through nginx failed: HTTP " + std::to_string(r.status) + " " + r.body;
    return nullptr;
  }
  paths.push_back({"nginx", port, nginx->pid()});
  return nginx;
}

// Throughput rounds measured side by side: each figure is the median over the rounds; `ratios` holds each
// round's llmux/nginx throughput (the two measured a second apart, under the same background load).
struct Interleaved {
  std::vector<Load> medians;
  std::vector<double> ratios;
};

// `rounds` rounds of 1 s per path, paths interleaved so that a change in background load hits them alike, in
// reverse order every other round (so that neither proxy always runs right after the other). A warm-up round per
// path is not recorded.
Interleaved interleaved(const std::vector<Path>& paths, const std::optional<std::string>& wrk,
                        const std::string& script, int connections, int rounds, bool warmup) {
  std::vector<std::vector<Load>> by_path(paths.size());
  Interleaved out;
  for (int r = warmup ? -1 : 0; r < rounds; ++r) {
    std::vector<Load> round(paths.size());
    for (size_t k = 0; k < paths.size(); ++k) {
      const size_t p = r % 2 == 0 ? k : paths.size() - 1 - k;
      round[p] = measure_load(paths[p], wrk, script, connections, 1);
    }
    if (r < 0) continue;
    if (round.size() >= 3 && round[1].ok && round[2].ok && round[2].rps > 0)
      out.ratios.push_back(round[1].rps / round[2].rps);
    for (size_t p = 0; p < paths.size(); ++p) by_path[p].push_back(std::move(round[p]));
  }
  for (const auto& runs : by_path) {
    Load m;
    std::vector<double> rps, p50, p99, cpu;
    for (const auto& l : runs) {
      if (!l.ok) {
        m.note = l.note;
        continue;
      }
      rps.push_back(l.rps);
      p50.push_back(l.p50);
      p99.push_back(l.p99);
      cpu.push_back(l.cpu_us_per_req);
      m.errors += l.errors;
    }
    m.ok = !rps.empty();
    m.rps = median(rps);
    m.p50 = median(p50);
    m.p99 = median(p99);
    m.cpu_us_per_req = median(cpu);
    out.medians.push_back(m);
  }
  return out;
}

// Concurrency-1 latency swings by tens of microseconds between runs with where the scheduler wakes wrk, proxy and
// engine (same core or another, on a VM with few vCPUs), which is as large as what is measured. So every process
// involved is pinned to one CPU: the round trip is then the CPU path of each hop plus its context switches.
Interleaved single_connection(const std::vector<Path>& paths, pid_t engine_pid,
                                    const std::optional<std::string>& wrk, const std::string& script, int rounds,
                                    int& pinned_cpu) {
  std::vector<pid_t> pids{engine_pid};
  for (const auto& p : paths)
    if (p.pid > 0) pids.push_back(p.pid);
  PinToOneCpu pin(pids);  // wrk (or the fallback's threads) inherit it from this thread
  pinned_cpu = pin.cpu();
  return interleaved(paths, wrk, script, 1, rounds, false);
}

void run_load(const std::vector<Path>& paths, pid_t engine_pid, const std::optional<std::string>& wrk,
              const std::string& script, const Options& o) {
  const Interleaved loaded_rounds = interleaved(paths, wrk, script, kConnections, o.seconds, o.warmup);
  const auto& loaded = loaded_rounds.medians;
  int cpu = -1;
  const int single_rounds = std::max(1, (o.seconds + 1) / 2);  // latency at -c1 is steadier than throughput
  const auto single = single_connection(paths, engine_pid, wrk, script, single_rounds, cpu).medians;
  const int conns = wrk ? kConnections : kFallbackThreads;
  auto rounds = [](int n) { return "medians of " + std::to_string(n) + " interleaved 1 s rounds"; };
  print_load("throughput under load (" + std::to_string(conns) + " connections, non-streaming; " +
                 rounds(o.seconds) + ")",
             paths, loaded);
  print_load("\nlatency at concurrency 1 (one connection, non-streaming; " +
                 (cpu >= 0 ? "load generator, proxies and engine pinned to CPU " + std::to_string(cpu)
                           : std::string("not pinned: no CPU affinity here")) +
                 "; " + rounds(single_rounds) + ")",
             paths, single);
  print_load_goals(loaded, loaded_rounds.ratios, single, conns);
}

int run(const Options& o) {
  TempDir dir;
  // logRequests false: no per-request PERF line, as nginx runs with access_log off.
  Llmux llmux(dir.path(), "logRequests: false\nmodels:\n  bench:\n    cmd: " + fake_cmd("--quiet --token-ms 0 --readiness 503") +
                              "\n    readiness: http\n");
  if (auto r = test::http_post(llmux.port(), kTarget, kBody, 30s); r.status != 200)
    throw std::runtime_error("warm-up request through llmux failed: HTTP " + std::to_string(r.status) + " " + r.body);
  const auto w = llmux.worker();
  const Path engine{"direct", static_cast<uint16_t>(w.at("port").get<int>()), w.at("pid").get<pid_t>()};
  std::vector<Path> paths{{"direct", engine.port, -1}, {"llmux", llmux.port(), llmux.pid()}};
  std::string nginx_why = "--no-nginx";
  const auto nginx = o.nginx ? add_nginx(dir.path(), engine.port, paths, nginx_why) : nullptr;
  const auto wrk = o.wrk ? find_program("wrk") : std::nullopt;
  const std::string script = dir.path() + "/post.lua";
  test::write_file(script, wrk_post_script(kBody));

  print_header(engine, nginx.get(), nginx_why, wrk.has_value());
  run_load(paths, engine.pid, wrk, script, o);
  run_sse(paths, o);
  run_sequential(paths, "large request body", big_request(), std::max(5, o.sse_n / 10));
  run_sequential(paths, "large response body", kBigResponse, std::max(5, o.sse_n / 10));
  if (!llmux.process().running())
    throw std::runtime_error("llmux exited during the bench:\n" + llmux.process().output());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  arm_watchdog(std::chrono::seconds(60 + 12 * o.seconds + 2 * o.sse_n));
  try {
    if (o.sweep) {
      o.sweep->nginx = o.nginx;
      run_body_sweep(*o.sweep);
      return 0;
    }
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "relay_bench: could not run: " << e.what() << "\n";
    return 1;
  }
}
