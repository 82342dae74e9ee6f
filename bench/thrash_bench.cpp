// thrash_bench: swaps and waits under an agent-like workload that alternates models, naive FIFO versus llmux's
// anti-thrash scheduling. llmux serves three fake-engine models (150 ms load, 8 tokens at 2 ms); N concurrent
// clients (default 6) each send R requests (default 12), client i to model (i+k/B)%3 on its k-th request (B, the
// burst, is 1 by default: every request names the client's next model), with a seeded random think time between
// them (the same seeds for every policy). Three policies, each on a fresh llmux:
//   fifo                strict arrival order: a swap whenever the next request names another model
//   grouped             requests queued for a model go together when it loads (the default)
//   grouped+minRes      the same with minResidency on every model
// Per policy: swaps (from /status), requests per swap, throughput, p50/p90/p99/max of the client's whole request
// time (sent → response complete) and failures; then ratios against fifo. No goal: it prints the comparison.
// This is the `rotate` workload (the default); `--workload agent` runs the agent-CLI one (bench/thrash_agent.hpp).
// Exit 0 when it ran, 1 when it could not run.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <latch>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "bench/bench_support.hpp"
#include "bench/thrash_agent.hpp"
#include "proxy/cli/options.hpp"

using namespace llmux::bench;
namespace test = llmux::test;

namespace {

constexpr int kModels = 3;
constexpr int kLoadDelayMs = 150;
constexpr int kTokenMs = 2;
constexpr int kTokens = 8;
constexpr int kMaxThinkMs = 20;
const std::string kTarget = "/v1/chat/completions";

struct Options {
  int clients = 6;
  int requests = 12;       // per client
  int burst = 1;           // consecutive requests a client sends to one model before it moves to the next
  int min_residency_ms = 1000;
  unsigned seed = 42;
};

struct Policy {
  std::string label;
  std::string scheduling;  // fifo | grouped
  int min_residency_ms = 0;
};

struct Result {
  std::vector<double> latencies_ms;  // successful requests only
  int failures = 0;                  // non-200 or no answer
  std::string first_failure;
  uint64_t swaps = 0;
  double wall_s = 0;
  size_t requests() const { return latencies_ms.size() + static_cast<size_t>(failures); }
};

std::string model_name(int m) { return std::string(1, 'm') += std::to_string(m); }

std::string chat_body(const std::string& model) {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}],"max_tokens":)" +
         std::to_string(kTokens) + "}";
}

std::string config_yaml(const Policy& p) {
  std::ostringstream yaml;
  yaml << "scheduling: " << p.scheduling << "\nmodels:\n";
  for (int m = 0; m < kModels; ++m) {
    yaml << "  " << model_name(m) << ":\n    cmd: "
         << fake_cmd("--model " + model_name(m) + " --load-delay-ms " + std::to_string(kLoadDelayMs) +
                     " --token-ms " + std::to_string(kTokenMs) + " --tokens " + std::to_string(kTokens) + " --quiet")
         << "\n";
    if (p.min_residency_ms > 0) yaml << "    minResidency: " << p.min_residency_ms << "ms\n";
  }
  return yaml.str();
}

uint64_t swaps(Llmux& llmux) { return test::http_get(llmux.port(), "/status", 5s).json().at("swaps").get<uint64_t>(); }

// One client: its own rotation through the models and its own seeded think times. Touches only `out`.
void client(uint16_t port, int index, const Options& o, std::latch& go, Result& out) {
  std::mt19937 rng(o.seed + static_cast<unsigned>(index));
  std::uniform_int_distribution<int> think(0, kMaxThinkMs);
  go.arrive_and_wait();
  for (int k = 0; k < o.requests; ++k) {
    if (k > 0) std::this_thread::sleep_for(std::chrono::milliseconds(think(rng)));
    const std::string model = model_name((index + k / o.burst) % kModels);
    const auto t0 = Clock::now();
    std::string failure;
    try {
      const auto r = test::http_post(port, kTarget, chat_body(model), 120s);
      if (r.status == 200) out.latencies_ms.push_back(ms_between(t0, Clock::now()));
      else failure = "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty() && out.failures++ == 0) out.first_failure = model + ": " + failure;
  }
}

Result run_policy(const Policy& p, const Options& o) {
  TempDir dir;
  Llmux llmux(dir.path(), config_yaml(p));
  // Warm-up (not measured): m0 resident, so every start counted below is a swap and none is llmux's cold start.
  if (const auto r = test::http_post(llmux.port(), kTarget, chat_body(model_name(0)), 30s); r.status != 200)
    throw std::runtime_error(p.label + ": warm-up request failed: HTTP " + std::to_string(r.status) + " " + r.body);
  const uint64_t swaps0 = swaps(llmux);

  std::vector<Result> per_client(static_cast<size_t>(o.clients));
  std::latch go(o.clients + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < o.clients; ++i)
    threads.emplace_back(client, llmux.port(), i, std::cref(o), std::ref(go),
                         std::ref(per_client[static_cast<size_t>(i)]));
  go.arrive_and_wait();
  const auto t0 = Clock::now();
  for (auto& t : threads) t.join();

  Result total;
  total.wall_s = ms_between(t0, Clock::now()) / 1000;
  for (auto& c : per_client) {
    total.latencies_ms.insert(total.latencies_ms.end(), c.latencies_ms.begin(), c.latencies_ms.end());
    if (c.failures > 0 && total.failures == 0) total.first_failure = c.first_failure;
    total.failures += c.failures;
  }
  if (!llmux.process().running()) throw std::runtime_error(p.label + ": llmux exited:\n" + llmux.process().output());
  total.swaps = swaps(llmux) - swaps0;
  return total;
}

std::string ratio(double num, double den) { return den > 0 ? fixed(num / den, 2) + "x" : "-"; }

void print_row(const Policy& p, const Result& r) {
  const auto& l = r.latencies_ms;
  const double per_swap = r.swaps > 0 ? static_cast<double>(r.requests()) / static_cast<double>(r.swaps) : 0;
  std::cout << "  " << p.label << std::string(24 - std::min<size_t>(p.label.size(), 23), ' ')
            << pad(std::to_string(r.swaps), 6) << pad(fixed(per_swap, 2), 9)
            << pad(fixed(static_cast<double>(r.requests()) / r.wall_s, 1), 8) << pad(fixed(percentile(l, 50), 0), 8)
            << pad(fixed(percentile(l, 90), 0), 8) << pad(fixed(percentile(l, 99), 0), 8)
            << pad(fixed(percentile(l, 100), 0), 8) << pad(std::to_string(r.failures), 7) << "\n";
}

int run(const Options& o) {
  const std::string minres = std::to_string(o.min_residency_ms) + "ms";
  const std::vector<Policy> policies = {
      {"fifo", "fifo", 0}, {"grouped", "grouped", 0}, {"grouped+minRes " + minres, "grouped", o.min_residency_ms}};
  std::cout << "thrash_bench: " << kModels << " fake-engine models (load " << kLoadDelayMs << " ms, " << kTokens
            << " tokens x " << kTokenMs << " ms), " << o.clients << " concurrent clients x " << o.requests
            << " non-streaming requests,\n"
            << "  client i sends its k-th request to model (i+k" << (o.burst > 1 ? "/" + std::to_string(o.burst) : "")
            << ")%" << kModels << ", think time 0-" << kMaxThinkMs
            << " ms (seed " << o.seed << ", the same for every policy); a fresh llmux per policy\n"
            << "  swaps     workers started during the run (/status swaps delta; a warm-up request loaded m0 first)\n"
            << "  req/swap  requests served per swap\n"
            << "  latency   client: request sent -> response complete, ms (the engine's own generation is ~"
            << kTokens * kTokenMs << " ms; the rest is waiting)\n\n"
            << "  policy                  swaps req/swap   req/s     p50     p90     p99     max  failed\n";
  std::vector<Result> results;
  for (const auto& p : policies) {
    results.push_back(run_policy(p, o));
    print_row(p, results.back());
  }
  const Result& fifo = results[0];
  std::cout << "\n  against fifo              swaps      p50      p99   req/s\n";
  for (size_t i = 1; i < results.size(); ++i) {
    const Result& r = results[i];
    std::cout << "  " << policies[i].label << std::string(24 - std::min<size_t>(policies[i].label.size(), 23), ' ')
              << pad(ratio(static_cast<double>(r.swaps), static_cast<double>(fifo.swaps)), 7)
              << pad(ratio(percentile(r.latencies_ms, 50), percentile(fifo.latencies_ms, 50)), 9)
              << pad(ratio(percentile(r.latencies_ms, 99), percentile(fifo.latencies_ms, 99)), 9)
              << pad(ratio(static_cast<double>(r.requests()) / r.wall_s,
                           static_cast<double>(fifo.requests()) / fifo.wall_s),
                     8)
              << "\n";
  }
  std::cout << "  (below 1x is fewer swaps / shorter latency / lower throughput than fifo)\n";
  for (size_t i = 0; i < results.size(); ++i)
    if (results[i].failures > 0)
      std::cout << "  " << policies[i].label << ": first failure: " << results[i].first_failure << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (const auto w = std::find(args.begin(), args.end(), "--workload"); w != args.end() && w + 1 != args.end()) {
    const std::string workload = *(w + 1);
    args.erase(w, w + 2);
    if (workload == "agent") return run_agent_workload(args);
    if (workload != "rotate") {
      std::cerr << "thrash_bench: --workload: expected rotate or agent, got '" << workload << "'\n";
      return 1;
    }
  }
  Options o;
  long long clients = o.clients, burst = o.burst, residency = o.min_residency_ms, seed = o.seed;
  std::optional<long long> requests;
  bool quick = false;
  llmux::OptionParser p;
  p.integer("--clients", clients, 1, 32, "a number of clients (1 to 32)")
      .integer("--requests", requests, 1, 100, "a number of requests (1 to 100)")
      .integer("--burst", burst, 1, 100, "a number of requests (1 to 100)")
      .integer("--min-residency-ms", residency, 1, 10000, "milliseconds (1 to 10000)")
      .integer("--seed", seed, 0, UINT32_MAX, "a seed (0 to 4294967295)")
      .flag("--quick", quick);
  if (const std::string err = p.parse(args); !err.empty()) {
    std::cerr << "thrash_bench: " << err << "\n"
              << "usage: thrash_bench [--workload rotate] [--clients N] [--requests N] [--burst N]\n"
                 "                    [--min-residency-ms N] [--seed N] [--quick]\n"
                 "       thrash_bench --workload agent [--sessions N] [--turns N] [--repeat N] [--seed N]\n";
    return 1;
  }
  o.clients = static_cast<int>(clients);
  o.requests = static_cast<int>(requests.value_or(quick ? 4 : o.requests));
  o.burst = static_cast<int>(burst);
  o.min_residency_ms = static_cast<int>(residency);
  o.seed = static_cast<unsigned>(seed);
  // Worst case per policy: every request is a swap (load + probe + stop, well under 0.5 s) plus a minResidency wait.
  const int total = o.clients * o.requests;
  arm_watchdog(std::chrono::seconds(60 + total * (1 + 3 * (o.min_residency_ms + 999) / 1000) / 2));
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "thrash_bench: could not run: " << e.what() << "\n";
    return 1;
  }
}
