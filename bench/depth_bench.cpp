// depth_bench: time to first token and decode speed at several context depths (default 1k, 4k, 16k, 32k tokens),
// cold (a prompt the engine has not seen: a fresh nonce first) and warm (the same prompt again: its prefix is
// cached), direct to the engine and through llmux, interleaved, with llmux's ratio. One engine serves both paths:
// the one llmux spawned (its port read from /status). Writes PREFIX.csv and PREFIX.svg (TTFT by depth, four
// series) and prints a table. The engine is the fake engine with its prompt-cache model unless --engine-cmd gives
// a real one (a llmux `cmd` line with ${PORT}). Exit 1 when it could not run.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_support.hpp"
#include "bench/svg_plot.hpp"
#include "bench/turn_measure.hpp"
#include "proxy/cli/options.hpp"

using namespace llmux::bench;
namespace test = llmux::test;
using nlohmann::json;

namespace {

struct Options {
  std::vector<int> depths{1024, 4096, 16384, 32768};
  long long repeat = 3;
  long long max_tokens = 32;
  std::string engine_cmd;
  std::string fake_flags = "--slots 4 --prefill-us-per-token 20 --token-ms 2 --quiet";
  std::string out = "depth";
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "error: %s\nusage: depth_bench [--depths N,N,...] [--repeat N] [--max-tokens N] [--engine-cmd CMD]\n"
               "                   [--fake-flags FLAGS] [--out PREFIX]\n"
               "  --depths    prompt sizes in tokens (default 1024,4096,16384,32768; words for the fake engine)\n"
               "  --repeat N  measurements per depth, path and cache state (median shown; default 3)\n",
               why.c_str());
  std::exit(1);
}

Options parse(int argc, char** argv) {
  Options o;
  std::optional<std::string> depths;
  llmux::OptionParser p;
  p.value("--depths", depths, "numbers N,N,...")
      .integer("--repeat", o.repeat, 1, 100, "a number of runs (1 to 100)")
      .integer("--max-tokens", o.max_tokens, 2, 4096, "a number of tokens (2 to 4096)")
      .value("--engine-cmd", o.engine_cmd, "a command line")
      .value("--fake-flags", o.fake_flags, "fake engine flags")
      .value("--out", o.out, "a file name prefix");
  if (const std::string err = p.parse({argv + 1, argv + argc}); !err.empty()) usage(err);
  if (depths) {
    o.depths.clear();
    std::stringstream in(*depths);
    for (std::string d; std::getline(in, d, ',');) {
      const auto v = llmux::parse_integer(d, 1, 1 << 20);
      if (!v) usage("--depths: expected numbers from 1 to 1048576, got '" + d + "'");
      o.depths.push_back(static_cast<int>(*v));
    }
  }
  return o;
}

// A prompt of about `depth` tokens (words; a real tokenizer makes roughly one token of each), `nonce` first so that
// a cold prompt shares no prefix with any earlier one.
std::string body(const Options& o, int depth, const std::string& nonce) {
  std::string text = "Session " + nonce + ". Summarize the following notes.\n";
  for (int i = 0; i < depth; ++i) text += "note" + std::to_string(i % 89) + (i % 16 == 15 ? "\n" : " ");
  return json{{"model", "depth"},
              {"stream", true},
              {"stream_options", {{"include_usage", true}}},
              {"max_tokens", o.max_tokens},
              {"messages", json::array({{{"role", "user"}, {"content", text}}})}}
      .dump();
}

struct Cell {
  std::vector<double> ttft, tps;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  arm_watchdog(std::chrono::seconds(3600));
  try {
    TempDir dir;
    const std::string cmd = o.engine_cmd.empty() ? fake_cmd(o.fake_flags) : o.engine_cmd;
    Llmux l(dir.path(), "healthCheckTimeout: 600s\nmodels:\n  depth:\n    cmd: " + json(cmd).dump() + "\n");
    if (measure_turn(l.port(), "/v1/chat/completions", body(o, 16, "load")).status != 200)
      throw std::runtime_error("the engine did not answer");
    const uint16_t engine = static_cast<uint16_t>(l.worker().value("port", 0));
    if (engine == 0) throw std::runtime_error("no engine port in /status");
    // cells[depth][path: 0 direct, 1 llmux][state: 0 cold, 1 warm]
    std::vector<std::array<std::array<Cell, 2>, 2>> cells(o.depths.size());
    int nonce = 0;
    for (int rep = 0; rep < o.repeat; ++rep)
      for (size_t d = 0; d < o.depths.size(); ++d)
        for (int path = 0; path < 2; ++path) {  // interleaved: the machine's noise falls on both paths alike
          const uint16_t port = path == 0 ? engine : l.port();
          const std::string b = body(o, o.depths[d], std::to_string(++nonce));
          for (int state = 0; state < 2; ++state) {
            const Turn t = measure_turn(port, "/v1/chat/completions", b);
            if (t.status != 200) throw std::runtime_error("HTTP " + std::to_string(t.status));
            cells[d][path][state].ttft.push_back(t.ttft_ms);
            cells[d][path][state].tps.push_back(t.decode_tps);
          }
        }
    std::string csv = "depth,path,cache,ttft_ms_median,ttft_ms_min,ttft_ms_max,decode_tok_s_median\n";
    static const char* kPath[2] = {"direct", "llmux"};
    static const char* kState[2] = {"cold", "warm"};
    static const char* kColor[4] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};
    Panel ttft{"Time to first token", "context depth (tokens)", "ms", {}, true};
    Panel tps{"Decode speed", "context depth (tokens)", "tokens/s", {}, true};
    for (int path = 0; path < 2; ++path)
      for (int state = 0; state < 2; ++state) {
        const std::string name = std::string(kPath[path]) + " " + kState[state];
        Series a{name, kColor[path * 2 + state], {}, path == 1}, b = a;
        for (size_t d = 0; d < o.depths.size(); ++d) {
          const Cell& c = cells[d][path][state];
          const auto [mn, mx] = std::minmax_element(c.ttft.begin(), c.ttft.end());
          csv += std::to_string(o.depths[d]) + "," + kPath[path] + "," + kState[state] + "," + fixed(median(c.ttft), 2) +
                 "," + fixed(*mn, 2) + "," + fixed(*mx, 2) + "," + fixed(median(c.tps), 1) + "\n";
          a.points.emplace_back(o.depths[d], median(c.ttft));
          b.points.emplace_back(o.depths[d], median(c.tps));
        }
        ttft.series.push_back(a);
        tps.series.push_back(b);
      }
    if (!write_text_file(o.out + ".csv", csv) ||
        !write_text_file(o.out + ".svg", svg_chart("TTFT and decode speed by context depth", {ttft, tps})))
      return 1;
    std::printf("context depth, %lld runs each (%s); medians, TTFT in ms\n", o.repeat,
                o.engine_cmd.empty() ? "fake engine" : o.engine_cmd.c_str());
    std::printf("%8s %12s %12s %8s %12s %12s %8s %10s %10s\n", "depth", "cold direct", "cold llmux", "ratio",
                "warm direct", "warm llmux", "ratio", "tok/s dir", "tok/s llx");
    for (size_t d = 0; d < o.depths.size(); ++d) {
      auto m = [&](int path, int state) { return median(cells[d][path][state].ttft); };
      auto ratio = [](double a, double b) { return b > 0 ? fixed(a / b, 3) : std::string("-"); };
      std::printf("%8d %12s %12s %8s %12s %12s %8s %10s %10s\n", o.depths[d], fixed(m(0, 0), 1).c_str(),
                  fixed(m(1, 0), 1).c_str(), ratio(m(1, 0), m(0, 0)).c_str(), fixed(m(0, 1), 1).c_str(),
                  fixed(m(1, 1), 1).c_str(), ratio(m(1, 1), m(0, 1)).c_str(),
                  fixed(median(cells[d][0][1].tps), 1).c_str(), fixed(median(cells[d][1][1].tps), 1).c_str());
    }
    std::printf("wrote %s.csv and %s.svg\n", o.out.c_str(), o.out.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "depth_bench: %s\n", e.what());
    return 1;
  }
}
