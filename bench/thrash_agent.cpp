#include "bench/thrash_agent.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <latch>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench/bench_support.hpp"
#include "bench/tree_rss.hpp"
#include "proxy/cli/options.hpp"

namespace llmux::bench {

namespace {

namespace test = llmux::test;

struct ModelSpec {
  const char* name;
  int load_ms, tokens, token_ms, hold_mib;
};
// The main model loads slowly and streams long answers; the small one loads fast and answers in a few tokens.
// Each allocates and touches `hold_mib` once loaded (fake_engine --memory-mb), so the RSS figures mean something.
constexpr ModelSpec kMain{"main", 400, 48, 5, 128};
constexpr ModelSpec kSmall{"small", 80, 8, 2, 32};
constexpr int kMaxSmallOffsetMs = 100;  // a small request starts this long at most after its turn's main request
constexpr int kMaxThinkMs = 200;
constexpr auto kRequestTimeout = 60s;    // any one request; far above a turn that waits for two swaps
constexpr auto kSampleInterval = 20ms;
const std::string kTarget = "/v1/chat/completions";

struct Options {
  int sessions = 3;
  int turns = 6;
  int repeat = 3;
  unsigned seed = 42;
};

struct Sample {
  double ms = -1, ttft_ms = -1;  // set when the request succeeded (ttft: streamed requests only)
  std::string failure;
};

struct AgentRun {
  std::vector<double> main_ms, ttft_ms, small_ms;
  int failures = 0;
  std::string first_failure;
  uint64_t swaps = 0;
  int turns = 0;
  double wall_s = 0;
  std::optional<uint64_t> peak_rss;

  void add(const Sample& s, const char* model, std::vector<double>& into) {
    if (s.failure.empty()) return into.push_back(s.ms);
    if (failures++ == 0) first_failure = std::string(model) + ": " + s.failure;
  }
};

std::string body(const ModelSpec& m, bool stream) {
  return R"({"model":")" + std::string(m.name) + R"(","messages":[{"role":"user","content":"hi"}],"max_tokens":)" +
         std::to_string(m.tokens) + (stream ? R"(,"stream":true})" : "}");
}

std::string model_yaml(const ModelSpec& m) {
  std::ostringstream y;
  y << "  " << m.name << ":\n    cmd: "
    << fake_cmd(std::string("--model ") + m.name + " --load-delay-ms " + std::to_string(m.load_ms) + " --tokens " +
                std::to_string(m.tokens) + " --token-ms " + std::to_string(m.token_ms) + " --memory-mb " +
                std::to_string(m.hold_mib) + " --quiet")
    << "\n    overhead: " << m.hold_mib + 16 << "MiB\n";  // llmux's estimate: what it holds, plus the process
  return y.str();
}

std::string config_yaml(int resident) {
  return "maxResident: " + std::to_string(resident) + "\nmodels:\n" + model_yaml(kMain) + model_yaml(kSmall);
}

bool carries_text(const std::string& data) {
  const auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return false;
  const auto& d = j["choices"][0]["delta"];
  return d.is_object() && d.contains("content") && d["content"].is_string() && !d["content"].empty();
}

Sample main_request(uint16_t port) {
  Sample s;
  const auto t0 = Clock::now();
  std::optional<Clock::time_point> first;
  bool done = false;
  try {
    const auto r = test::http_stream(port, "POST", kTarget, body(kMain, true), [&](const test::SseEvent& e) {
      if (e.data == "[DONE]") done = true;
      else if (!first && carries_text(e.data)) first = e.at;
      return true;
    }, kRequestTimeout);
    if (r.status != 200) s.failure = "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
    else if (!r.complete || !done || !first) s.failure = "stream ended before [DONE] or carried no token";
    else s.ms = ms_between(t0, Clock::now()), s.ttft_ms = ms_between(t0, *first);
  } catch (const std::exception& e) {
    s.failure = e.what();
  }
  return s;
}

Sample small_request(uint16_t port) {
  Sample s;
  const auto t0 = Clock::now();
  try {
    const auto r = test::http_post(port, kTarget, body(kSmall, false), kRequestTimeout);
    if (r.status == 200 && r.complete) s.ms = ms_between(t0, Clock::now());
    else s.failure = "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
  } catch (const std::exception& e) {
    s.failure = e.what();
  }
  return s;
}

// One agent session: per turn a streamed main request and, concurrently, 1-2 small requests started 0-100 ms after
// it; then a think time. Every random draw comes from the session's own RNG in a fixed order, so each run and each
// configuration sees the same sequence. Touches only `out`.
void session(uint16_t port, int index, const Options& o, std::latch& go, AgentRun& out) {
  std::mt19937 rng(o.seed + static_cast<unsigned>(index));
  std::uniform_int_distribution<int> small_count(1, 2), offset(0, kMaxSmallOffsetMs), think(0, kMaxThinkMs);
  go.arrive_and_wait();
  for (int turn = 0; turn < o.turns; ++turn) {
    if (turn > 0) std::this_thread::sleep_for(std::chrono::milliseconds(think(rng)));
    std::vector<int> offsets(static_cast<size_t>(small_count(rng)));
    for (int& ms : offsets) ms = offset(rng);
    std::vector<Sample> small(offsets.size());
    std::vector<std::thread> threads;
    for (size_t k = 0; k < offsets.size(); ++k)
      threads.emplace_back([&, k] {
        std::this_thread::sleep_for(std::chrono::milliseconds(offsets[k]));
        small[k] = small_request(port);
      });
    const Sample m = main_request(port);
    for (auto& t : threads) t.join();
    out.add(m, kMain.name, out.main_ms);
    if (m.failure.empty()) out.ttft_ms.push_back(m.ttft_ms);
    for (const Sample& s : small) out.add(s, kSmall.name, out.small_ms);
    ++out.turns;
  }
}

uint64_t swaps(Llmux& llmux) { return test::http_get(llmux.port(), "/status", 5s).json().at("swaps").get<uint64_t>(); }

void warm_up(Llmux& llmux, const ModelSpec& m) {
  const auto r = test::http_post(llmux.port(), kTarget, body(m, false), 30s);
  if (r.status != 200)
    throw std::runtime_error(std::string("warm-up request to ") + m.name + " failed: HTTP " +
                             std::to_string(r.status) + " " + r.body.substr(0, 200));
}

// `ignored` is set when this llmux does not know maxResident (its log warns of an unknown key).
AgentRun run_once(int resident, const Options& o, bool& ignored) {
  TempDir dir;
  ::setenv("XDG_STATE_HOME", (dir.path() + "/state").c_str(), 1);  // no footprint learned by an earlier run
  Llmux llmux(dir.path(), config_yaml(resident));
  // Not measured: small, then main. One resident: main is resident; two: both are. Every start counted is a swap.
  warm_up(llmux, kSmall);
  warm_up(llmux, kMain);
  const uint64_t swaps0 = swaps(llmux);

  std::vector<AgentRun> per_session(static_cast<size_t>(o.sessions));
  std::latch go(o.sessions + 1);
  std::vector<std::thread> threads;
  TreeRssSampler rss(llmux.pid(), kSampleInterval);
  for (int i = 0; i < o.sessions; ++i)
    threads.emplace_back(session, llmux.port(), i, std::cref(o), std::ref(go),
                         std::ref(per_session[static_cast<size_t>(i)]));
  go.arrive_and_wait();
  const auto t0 = Clock::now();
  for (auto& t : threads) t.join();
  rss.stop();

  AgentRun total;
  total.wall_s = ms_between(t0, Clock::now()) / 1000;
  total.peak_rss = rss.peak_bytes();
  for (auto& s : per_session) {
    for (auto [from, to] : {std::pair{&s.main_ms, &total.main_ms}, {&s.ttft_ms, &total.ttft_ms},
                            {&s.small_ms, &total.small_ms}})
      to->insert(to->end(), from->begin(), from->end());
    if (s.failures > 0 && total.failures == 0) total.first_failure = s.first_failure;
    total.failures += s.failures;
    total.turns += s.turns;
  }
  if (!llmux.process().running()) throw std::runtime_error("llmux exited:\n" + llmux.process().output());
  total.swaps = swaps(llmux) - swaps0;
  const std::string log = llmux.process().output();
  ignored = ignored || (log.find("maxResident") != std::string::npos && log.find("unknown key") != std::string::npos);
  return total;
}

// The figures compared between runs and configurations, each with its printed precision.
struct Metric {
  std::string label;
  int decimals;
  std::function<double(const AgentRun&)> of;
};

std::optional<double> mib(const AgentRun& r) {
  return r.peak_rss ? std::optional(static_cast<double>(*r.peak_rss) / (1 << 20)) : std::nullopt;
}

const std::vector<Metric>& metrics() {
  static const std::vector<Metric> m = {
      {"swaps", 0, [](const AgentRun& r) { return static_cast<double>(r.swaps); }},
      {"turns/s", 2, [](const AgentRun& r) { return r.turns / r.wall_s; }},
      {"main p50 ms", 0, [](const AgentRun& r) { return percentile(r.main_ms, 50); }},
      {"main p99 ms", 0, [](const AgentRun& r) { return percentile(r.main_ms, 99); }},
      {"main TTFT p50 ms", 1, [](const AgentRun& r) { return percentile(r.ttft_ms, 50); }},
      {"main TTFT p99 ms", 1, [](const AgentRun& r) { return percentile(r.ttft_ms, 99); }},
      {"small p50 ms", 0, [](const AgentRun& r) { return percentile(r.small_ms, 50); }},
      {"small p99 ms", 0, [](const AgentRun& r) { return percentile(r.small_ms, 99); }},
      {"engines peak RSS MiB", 0, [](const AgentRun& r) { return mib(r).value_or(-1); }},
  };
  return m;
}

void print_header(const Options& o) {
  auto spec = [](const ModelSpec& m, const char* verb) {
    return std::string(m.name) + std::string(7 - std::string(m.name).size(), ' ') + "load " +
           std::to_string(m.load_ms) + " ms, " + verb + " " + std::to_string(m.tokens) + " tokens x " +
           std::to_string(m.token_ms) + " ms, holds " + std::to_string(m.hold_mib) + " MiB once loaded\n";
  };
  std::cout << "thrash_bench --workload agent: two fake-engine models, as an agent CLI uses them\n  "
            << spec(kMain, "streams") << "  " << spec(kSmall, "answers") << "  " << o.sessions
            << " concurrent sessions x " << o.turns << " turns; per turn one streamed main request and, concurrently,"
            << " 1-2 small\n  requests started 0-" << kMaxSmallOffsetMs << " ms after it; think time 0-" << kMaxThinkMs
            << " ms (seed " << o.seed << ", the same for every run); a fresh llmux per run with\n"
            << "  small then main loaded first (not measured); maxResident 1 and 2 interleaved, " << o.repeat
            << " run(s) each\n"
            << "  swaps    engine starts during the run (/status swaps delta)\n"
            << "  latency  client: request sent -> response complete, ms; TTFT: sent -> first token of a main stream\n"
            << "  RSS      peak of the engines' summed VmRSS (llmux's descendants, sampled every "
            << kSampleInterval.count() << " ms), MiB\n\n"
            << "  resident run swaps turns/s | main p50   p99   max | TTFT p50   p99 | small p50   p90   p99   max"
            << " | failed  RSS\n";
}

void print_run(int resident, int run, const AgentRun& r) {
  const auto& m = r.main_ms;
  const auto& s = r.small_ms;
  const auto p = [](const std::vector<double>& v, double q, size_t w, int decimals = 0) {
    return pad(fixed(percentile(v, q), decimals), w);
  };
  std::cout << pad(std::to_string(resident), 10) << pad(std::to_string(run), 4) << pad(std::to_string(r.swaps), 6)
            << pad(fixed(r.turns / r.wall_s, 2), 8) << " |" << p(m, 50, 9) << p(m, 99, 6) << p(m, 100, 6) << " |"
            << p(r.ttft_ms, 50, 9, 1) << p(r.ttft_ms, 99, 7, 1) << " |" << p(s, 50, 10) << p(s, 90, 6) << p(s, 99, 6)
            << p(s, 100, 6) << " |" << pad(std::to_string(r.failures), 7)
            << pad(mib(r) ? fixed(*mib(r), 0) : "-", 5) << "\n";
}

std::string spread(const std::vector<double>& v, int decimals) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fixed(median(v), decimals) + " (" + fixed(*lo, decimals) + "-" + fixed(*hi, decimals) + ")";
}

void print_summary(const std::vector<AgentRun>& one, const std::vector<AgentRun>& two) {
  const std::string title = "median (min-max), " + std::to_string(one.size()) + " run(s)";
  std::cout << "\n  " << title << std::string(26 - title.size(), ' ') << pad("maxResident 1", 21)
            << pad("maxResident 2", 21) << pad("2 / 1", 8) << "\n";
  for (const Metric& m : metrics()) {
    std::vector<double> a, b;
    for (const AgentRun& r : one) a.push_back(m.of(r));
    for (const AgentRun& r : two) b.push_back(m.of(r));
    const bool known = median(a) >= 0 && median(b) >= 0;
    const std::string ratio = known && median(a) > 0 ? fixed(median(b) / median(a), 2) + "x" : "-";
    std::cout << "  " << m.label << std::string(26 - m.label.size(), ' ') << pad(known ? spread(a, m.decimals) : "-", 21)
              << pad(known ? spread(b, m.decimals) : "-", 21) << pad(ratio, 8) << "\n";
  }
}

// An error as one line: llmux's log, when an error carries it, joined with " | " and cut to its tail.
std::string one_line(const std::string& multi) {
  std::string text;
  for (char c : multi) text += c == '\n' ? std::string(" | ") : std::string(1, c);
  while (text.ends_with(" | ")) text.resize(text.size() - 3);
  return text.size() <= 600 ? text : text.substr(0, 100) + " ... " + text.substr(text.size() - 500);
}

[[noreturn]] void usage(const std::string& why) {
  throw std::invalid_argument(why + "\nusage: thrash_bench --workload agent [--sessions N] [--turns N] [--repeat N] "
                                    "[--seed N]");
}

Options parse(const std::vector<std::string>& args) {
  Options o;
  long long sessions = o.sessions, turns = o.turns, repeat = o.repeat, seed = o.seed;
  llmux::OptionParser p;
  p.integer("--sessions", sessions, 1, 16, "a number of sessions (1 to 16)")
      .integer("--turns", turns, 1, 200, "a number of turns (1 to 200)")
      .integer("--repeat", repeat, 1, 20, "a number of runs (1 to 20)")
      .integer("--seed", seed, 0, 1 << 30, "a seed (0 to 1073741824)");
  if (const std::string err = p.parse(args); !err.empty()) usage(err);
  o.sessions = static_cast<int>(sessions);
  o.turns = static_cast<int>(turns);
  o.repeat = static_cast<int>(repeat);
  o.seed = static_cast<unsigned>(seed);
  return o;
}

}  // namespace

int run_agent_workload(const std::vector<std::string>& args) {
  Options o;
  try {
    o = parse(args);
  } catch (const std::invalid_argument& e) {
    std::cerr << "thrash_bench: " << e.what() << "\n";
    return 1;
  }
  // Worst case per run: two warm-ups, then every request waits for a swap of each model (~0.6 s) and its answer.
  const int requests = o.sessions * o.turns * 3;
  arm_watchdog(std::chrono::seconds(60 + o.repeat * 2 * (10 + requests * 2)));
  print_header(o);
  std::vector<AgentRun> one, two;
  bool ignored = false;
  try {
    for (int run = 1; run <= o.repeat; ++run)
      for (int resident : {1, 2}) {
        auto& into = resident == 1 ? one : two;
        into.push_back(run_once(resident, o, ignored));
        print_run(resident, run, into.back());
        if (into.back().failures > 0)
          throw std::runtime_error("maxResident " + std::to_string(resident) + " run " + std::to_string(run) + ": " +
                                   std::to_string(into.back().failures) + " request(s) failed; the first: " +
                                   into.back().first_failure);
      }
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "thrash_bench: agent workload failed: " << one_line(e.what()) << "\n";
    return 1;
  }
  print_summary(one, two);
  if (ignored)
    std::cout << "  note: this llmux does not know maxResident (its log warns of an unknown key): both\n"
                 "  configurations ran with one resident engine, so their figures differ only by noise\n";
  return 0;
}

}  // namespace llmux::bench
