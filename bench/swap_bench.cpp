// swap_bench: how long a model swap takes beyond the new engine's own start. llmux serves two fake-engine models
// (300 ms load, /health 503 while loading); requests alternate A, B, A, ... so each one stops the resident engine
// and starts the other. Per swap: client time from sending the request to the response header, minus the new
// worker's loadSeconds from /status (spawn → ready as llmux measured it). Two series: probeInterval 20ms (the
// default) and 5ms. llmux's own log (ms timestamps) gives the breakdown: stop time and probe lag.
// Exit 0 when it ran (unmet goals print MISS), 1 when it could not run.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <sstream>

#include "bench/bench_support.hpp"
#include "proxy/cli/options.hpp"

using namespace llmux::bench;
namespace test = llmux::test;

namespace {

// 325, not 300: a load time that is a multiple of the probe interval (20 ms default, 5 ms series) lines up with a probe and hides the
// interval's granularity (real engines do not load in round numbers).
constexpr int kLoadDelayMs = 325;
constexpr double kGoalMs = 20;
const std::string kTarget = "/v1/chat/completions";

// One request. The breakdown comes from llmux's log (wall clock, 1 ms resolution), -1 where a line is missing.
struct Swap {
  std::string model;
  double first_byte_ms = 0;  // client: request sent → response header complete
  double load_ms = 0;        // /status loadSeconds: spawn → ready
  double stop_ms = -1;       // "stopping pid" → "stopped": SIGTERM until the old engine's exit is reaped
  double spawn_ms = -1;      // "loading model" → "spawned pid": pick a port, fork, exec
  double relay_ms = -1;      // "ready in" → client has the response header: grant, connect, engine's answer
  double probe_lag_ms = -1;  // engine printed "model loaded" → "ready in" (inside loadSeconds)
  double overhead() const { return first_byte_ms - load_ms; }
};

// Milliseconds since local midnight of a wall-clock time, as llmux's log prints it.
double ms_of_day(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  return ((tm.tm_hour * 60 + tm.tm_min) * 60 + tm.tm_sec) * 1000.0 + static_cast<double>(ms);
}

// ms_of_day of the first line in `log` containing `needle` (llmux's lines start "YYYY-MM-DD HH:MM:SS.mmm").
std::optional<double> log_time(const std::string& log, const std::string& needle) {
  const auto at = log.find(needle);
  if (at == std::string::npos) return std::nullopt;
  const auto bol = log.rfind('\n', at);
  const std::string line = log.substr(bol == std::string::npos ? 0 : bol + 1, 23);
  int h = 0, m = 0, s = 0, ms = 0;
  if (std::sscanf(line.c_str(), "%*d-%*d-%*d %d:%d:%d.%d", &h, &m, &s, &ms) != 4) return std::nullopt;
  return ((h * 60 + m) * 60 + s) * 1000.0 + ms;
}

double span(std::optional<double> from, std::optional<double> to) { return from && to ? *to - *from : -1; }

void fill_breakdown(Swap& s, const std::string& log, double header_ms_of_day) {
  const auto stopping = log_time(log, "] stopping pid"), stopped = log_time(log, "] stopped\n");
  const auto loading = log_time(log, "loading model " + s.model), spawned = log_time(log, "] spawned pid");
  const auto loaded = log_time(log, "fake_engine: model loaded"), ready = log_time(log, "] ready in ");
  s.stop_ms = span(stopping, stopped);
  s.spawn_ms = span(loading, spawned);
  s.relay_ms = span(ready, header_ms_of_day);
  s.probe_lag_ms = span(loaded, ready);
}

Swap request(Llmux& llmux, const std::string& model) {
  const std::string body =
      R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}],"max_tokens":1})";
  const size_t from = llmux.process().output_size();
  const auto wall0 = std::chrono::system_clock::now();
  const auto t0 = Clock::now();
  const auto r = test::http_stream(llmux.port(), "POST", kTarget, body, {}, 30s);
  if (r.status != 200)
    throw std::runtime_error("request for " + model + ": HTTP " + std::to_string(r.status) + " " + r.body);
  Swap s{model, ms_between(t0, r.headers_at)};
  const auto w = llmux.worker();
  if (!w.is_object() || w.value("model", "") != model)
    throw std::runtime_error("after a request for " + model + " /status shows worker " + w.dump());
  s.load_ms = w.at("loadSeconds").get<double>() * 1000;
  const auto header_wall = wall0 + std::chrono::duration_cast<std::chrono::system_clock::duration>(r.headers_at - t0);
  fill_breakdown(s, llmux.process().output().substr(from), ms_of_day(header_wall));
  return s;
}

std::string opt_ms(double v) { return v < 0 ? "-" : fixed(v, 0); }

void print_swap(const std::string& label, const Swap& s) {
  std::cout << "  " << label << std::string(10 - std::min<size_t>(label.size(), 9), ' ')
            << pad(fixed(s.first_byte_ms, 1), 9) << pad(fixed(s.load_ms, 1), 9) << pad(fixed(s.overhead(), 1), 10)
            << pad(opt_ms(s.stop_ms), 7) << pad(opt_ms(s.spawn_ms), 7) << pad(opt_ms(s.relay_ms), 7)
            << pad(opt_ms(s.probe_lag_ms), 11) << "\n";
}

void run_series(const std::string& dir, const std::string& probe_interval, int swaps) {
  std::ostringstream yaml;
  if (!probe_interval.empty()) yaml << "timeouts:\n  probeInterval: " << probe_interval << "\n";
  yaml << "models:\n";
  for (const char* m : {"a", "b"})
    yaml << "  " << m << ":\n    cmd: "
         << fake_cmd("--quiet --token-ms 0 --readiness 503 --load-delay-ms " + std::to_string(kLoadDelayMs))
         << "\n    readiness: http\n";
  Llmux llmux(dir, yaml.str());
  std::cout << "\nprobeInterval " << (probe_interval.empty() ? "20ms (default)" : probe_interval) << "\n"
            << "  request   1st byte  loadSec  overhead |  stop  spawn  relay | probe lag   (all ms)\n";
  print_swap("A cold", request(llmux, "a"));
  std::vector<double> overheads, lags;
  for (int i = 0; i < swaps; ++i) {
    const std::string model = i % 2 == 0 ? "b" : "a";
    const Swap s = request(llmux, model);
    print_swap((model == "a" ? "->A " : "->B ") + std::to_string(i + 1), s);
    overheads.push_back(s.overhead());
    if (s.probe_lag_ms >= 0) lags.push_back(s.probe_lag_ms);
  }
  const double max = percentile(overheads, 100);
  std::cout << "  swap overhead median " << fixed(median(overheads), 1) << " ms, max " << fixed(max, 1)
            << " ms  (goal: max <= " << fixed(kGoalMs, 0) << " ms)  " << verdict(max <= kGoalMs)
            << "   [probe lag median " << fixed(median(lags), 0) << " ms, inside loadSeconds]\n";
}

int run(int swaps) {
  std::cout << "swap_bench: model swap latency, 2 fake engines (load " << kLoadDelayMs
            << " ms, /health 503 while loading), " << swaps << " alternating swaps per series\n"
            << "  1st byte  client: request sent -> response header complete\n"
            << "  loadSec   /status loadSeconds: llmux's spawn -> ready (engine exec + load + probe lag)\n"
            << "  overhead  1st byte - loadSec (the goal): stop of the old engine + spawn call + relay of the "
               "request, plus\n"
            << "            scheduling gaps; broken down from llmux's log (1 ms resolution, so parts are +-1 ms):\n"
            << "            stop = SIGTERM -> exit reaped, spawn = port pick + fork/exec, relay = ready -> client "
               "has the header\n"
            << "  probe lag engine printed 'model loaded' -> llmux saw a 200 probe: the probe-interval granularity; "
               "it is inside\n"
            << "            loadSec, so not in the overhead, but clients wait for it too\n";
  TempDir d1, d2;
  run_series(d1.path(), "", swaps);
  run_series(d2.path(), "5ms", swaps);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<long long> given;
  bool quick = false;
  llmux::OptionParser p;
  p.integer("--swaps", given, 1, 100, "a number of swaps (1 to 100)").flag("--quick", quick);
  if (!parse_args(p, argc, argv, "swap_bench", "[--swaps N] [--quick]")) return 1;
  const int swaps = static_cast<int>(given.value_or(quick ? 4 : 10));
  arm_watchdog(std::chrono::seconds(60 + 4 * swaps));
  try {
    return run(swaps);
  } catch (const std::exception& e) {
    std::cerr << "swap_bench: could not run: " << e.what() << "\n";
    return 1;
  }
}
