// block_cache_bench: does the daemon's own operator new (proxy/block_cache.cpp) pay for itself? Two llmux builds
// run side by side, each in front of its own fake engine (--token-ms 0):
//   cache   this build's llmux (block_cache.cpp linked in)
//   malloc  llmux_malloc: the same objects without it (glibc malloc alone)
// Rounds of 1 s under wrk -t1 -c32 (else the built-in closed loop), two workloads (small non-streaming chat POSTs and
// streamed ones), the two builds interleaved within each round and in reverse order every other round, so that a
// change in the machine's background load hits both alike. Per build: req/s and the daemon's CPU per request
// (/proc), median and range over the rounds; per round the cache/malloc ratios, whose median and range decide; the
// daemon's VmRSS before and after the load and its VmHWM. Exit 0 when it ran, 1 when it could not run.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bench/bench_support.hpp"
#include "bench/load.hpp"

using namespace llmux::bench;
namespace test = llmux::test;

namespace {

const std::string kTarget = "/v1/chat/completions";
const std::string kChat = R"({"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":4})";
const std::string kStream =
    R"({"model":"bench","stream":true,"messages":[{"role":"user","content":"hi"}],"max_tokens":4})";
constexpr int kConnections = 32;

struct Options {
  int rounds = 10;
  bool wrk = true;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) o.rounds = std::clamp(std::atoi(argv[++i]), 1, 100);
    else if (a == "--quick") o.rounds = 3;
    else if (a == "--no-wrk") o.wrk = false;
    else {
      std::cerr << "usage: block_cache_bench [--rounds N (default 10)] [--quick (3 rounds)] [--no-wrk]\n";
      std::exit(1);
    }
  }
  return o;
}

// VmRSS or VmHWM of `pid` in MiB; -1 when unknown.
double status_mib(pid_t pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key + ":", 0) == 0) return std::atof(line.c_str() + key.size() + 1) / 1024.0;
  return -1;
}

struct Daemon {
  std::string name;
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Llmux> llmux;
  double rss_idle = -1;
};

Daemon start(const std::string& name, const std::string& binary) {
  Daemon d{name, std::make_unique<TempDir>(), nullptr};
  d.llmux = std::make_unique<Llmux>(d.dir->path(),
                                    "logRequests: false\nmodels:\n  bench:\n    cmd: " +
                                        fake_cmd("--quiet --token-ms 0 --readiness 503") + "\n    readiness: http\n",
                                    binary);
  for (const auto* body : {&kChat, &kStream})  // loads the engine, and one request of each kind before measuring
    if (auto r = test::http_post(d.llmux->port(), kTarget, *body, 30s); r.status != 200)
      throw std::runtime_error(name + ": warm-up request failed: HTTP " + std::to_string(r.status) + " " + r.body);
  return d;
}

struct Series {  // one workload on one build, over the rounds
  std::vector<double> rps, cpu_us;
  long errors = 0;
  int failed = 0;
};

Load measure(Daemon& d, const std::optional<std::string>& wrk, const std::string& script, const std::string& body) {
  const auto cpu0 = cpu_seconds(d.llmux->pid());
  Load r = wrk ? run_wrk(*wrk, script, d.llmux->port(), kTarget, kConnections, 1)
               : run_closed_loop(d.llmux->port(), kTarget, body, kConnections, 1);
  const auto cpu1 = cpu_seconds(d.llmux->pid());
  if (cpu0 && cpu1 && r.ok && r.rps > 0) r.cpu_us_per_req = (*cpu1 - *cpu0) * 1e6 / r.rps;
  return r;
}

std::string spread(const std::vector<double>& v, int decimals) {
  if (v.empty()) return "-";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fixed(median(v), decimals) + " (" + fixed(*lo, decimals) + "-" + fixed(*hi, decimals) + ")";
}

void report(const std::string& workload, const Series& cache, const Series& plain, const std::vector<double>& rps_ratio,
            const std::vector<double>& cpu_ratio) {
  std::cout << "\n" << workload << "\n  build    req/s median (range)     CPU us/req median (range)   errors  failed rounds\n";
  for (const auto& [name, s] : {std::pair<const char*, const Series*>{"cache ", &cache}, {"malloc", &plain}})
    std::cout << "  " << name << pad(spread(s->rps, 0), 24) << pad(spread(s->cpu_us, 1), 28) << pad(std::to_string(s->errors), 8)
              << pad(std::to_string(s->failed), 15) << "\n";
  std::cout << "  cache/malloc per round: throughput " << spread(rps_ratio, 3) << ", CPU per request "
            << spread(cpu_ratio, 3) << "  [median (range) of " << rps_ratio.size() << " rounds]\n";
}

int run(const Options& o) {
  if (!have_proc()) {
    std::cout << "block_cache_bench: skipped: needs /proc (CPU time and RSS of the daemons)\n";
    return 0;
  }
  if (!LLMUX_HAS_BLOCK_CACHE) {
    std::cout << "block_cache_bench: this build's llmux has no block cache (LLMUX_BLOCK_CACHE=OFF or a sanitizer "
                 "build): nothing to compare\n";
    return 0;
  }
  std::vector<Daemon> daemons;
  daemons.push_back(start("cache", LLMUX_BIN));
  daemons.push_back(start("malloc", LLMUX_MALLOC_BIN));
  for (auto& d : daemons) d.rss_idle = status_mib(d.llmux->pid(), "VmRSS");
  const auto wrk = o.wrk ? find_program("wrk") : std::nullopt;
  const TempDir scripts;
  const std::vector<std::pair<std::string, const std::string*>> workloads{{"chat", &kChat}, {"stream", &kStream}};
  for (const auto& [name, body] : workloads) test::write_file(scripts.path() + "/" + name + ".lua", wrk_post_script(*body));

  std::cout << "block_cache_bench: llmux with proxy/block_cache.cpp (cache) against the same build on malloc alone "
               "(malloc), each in front of its own fake engine (token-ms 0, max_tokens 4)\n  load    "
            << (wrk ? "wrk -t1 -c" + std::to_string(kConnections) : "built-in closed loop, " +
                                                                      std::to_string(kFallbackThreads) + " threads")
            << ", " << o.rounds << " rounds of 1 s per workload and build, interleaved (order reversed every other round)\n";
  std::vector<std::vector<Series>> series(workloads.size(), std::vector<Series>(2));
  std::vector<std::vector<double>> rps_ratio(workloads.size()), cpu_ratio(workloads.size());
  for (int r = -1; r < o.rounds; ++r)  // round -1 warms both up and is not recorded
    for (size_t w = 0; w < workloads.size(); ++w) {
      Load l[2];
      for (size_t k = 0; k < 2; ++k) {
        const size_t b = (r % 2 == 0) ? k : 1 - k;
        l[b] = measure(daemons[b], wrk, scripts.path() + "/" + workloads[w].first + ".lua", *workloads[w].second);
      }
      if (r < 0) continue;
      for (size_t b = 0; b < 2; ++b) {
        if (!l[b].ok) {
          ++series[w][b].failed;
          continue;
        }
        series[w][b].rps.push_back(l[b].rps);
        series[w][b].cpu_us.push_back(l[b].cpu_us_per_req);
        series[w][b].errors += l[b].errors;
      }
      if (l[0].ok && l[1].ok && l[1].rps > 0 && l[1].cpu_us_per_req > 0) {
        rps_ratio[w].push_back(l[0].rps / l[1].rps);
        cpu_ratio[w].push_back(l[0].cpu_us_per_req / l[1].cpu_us_per_req);
      }
    }
  for (size_t w = 0; w < workloads.size(); ++w)
    report(workloads[w].first == "chat" ? "non-streaming chat (32 connections)" : "streamed chat, SSE (32 connections)",
           series[w][0], series[w][1], rps_ratio[w], cpu_ratio[w]);
  std::cout << "\nmemory of the daemon (MiB)\n  build    VmRSS idle  VmRSS after  VmHWM\n";
  for (auto& d : daemons) {
    if (!d.llmux->process().running()) throw std::runtime_error(d.name + " exited:\n" + d.llmux->process().output());
    std::cout << "  " << d.name << std::string(8 - d.name.size(), ' ') << pad(fixed(d.rss_idle, 1), 11)
              << pad(fixed(status_mib(d.llmux->pid(), "VmRSS"), 1), 13)
              << pad(fixed(status_mib(d.llmux->pid(), "VmHWM"), 1), 7) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  arm_watchdog(std::chrono::seconds(60 + 6 * (o.rounds + 1)));
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "block_cache_bench: could not run: " << e.what() << "\n";
    return 1;
  }
}
