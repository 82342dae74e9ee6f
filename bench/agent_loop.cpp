// agent_loop: replays an agent conversation (a system prompt, tool schemas, a task, then per turn an assistant tool
// call and a growing tool output) through llmux, in two variants run one after the other on a fresh llmux and
// engine each: `stable` (the prefix never changes) and `timestamp` (the system prompt carries the current time,
// as some agents put it there). Per turn: prompt and cached tokens as the engine reports them, time to first token,
// decode speed, and llmux's prefix diagnosis (GET /prefix: messages reused, chain break). Writes PREFIX.csv and
// PREFIX.svg (TTFT and cached share per turn, both variants) and prints a summary with the TTFT ratio.
// The engine is the fake engine with its prompt-cache model unless --engine-cmd gives a real one (a llmux `cmd`
// line with ${PORT}, e.g. "llama-server --port ${PORT} -m model.gguf --cache-reuse 256").
// --check (the test suite's): exit 1 unless the stable variant has no break and the timestamp variant breaks at
// every turn after the first. Exit 1 when it could not run.
#include <cstdio>
#include <cstdlib>
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
  long long turns = 50;
  long long tool_words = 40;  // tool output i has (i + 1) * tool_words words
  long long max_tokens = 16;
  std::string engine_cmd;   // "" = the fake engine
  std::string fake_flags = "--slots 1 --prefill-us-per-token 20 --token-ms 2 --quiet";
  std::string out = "agent_loop";
  bool check = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "error: %s\nusage: agent_loop [--turns N] [--tool-words N] [--max-tokens N] [--engine-cmd CMD]\n"
               "                  [--fake-flags FLAGS] [--out PREFIX] [--check]\n"
               "  --engine-cmd CMD  a real engine's llmux cmd line (with ${PORT}); default: the fake engine\n"
               "  --out PREFIX      writes PREFIX.csv and PREFIX.svg (default agent_loop)\n",
               why.c_str());
  std::exit(1);
}

Options parse(int argc, char** argv) {
  Options o;
  llmux::OptionParser p;
  p.integer("--turns", o.turns, 1, 500, "a number of turns (1 to 500)")
      .integer("--tool-words", o.tool_words, 1, 100000, "a number of words (1 to 100000)")
      .integer("--max-tokens", o.max_tokens, 1, 4096, "a number of tokens (1 to 4096)")
      .value("--engine-cmd", o.engine_cmd, "a command line")
      .value("--fake-flags", o.fake_flags, "fake engine flags")
      .value("--out", o.out, "a file name prefix")
      .flag("--check", o.check);
  if (const std::string err = p.parse({argv + 1, argv + argc}); !err.empty()) usage(err);
  return o;
}

std::string words(const std::string& stem, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += stem + std::to_string(i % 97) + (i % 12 == 11 ? ".\n" : " ");
  return out;
}

std::string system_prompt(bool timestamp, int turn) {
  std::string s = "You are a coding agent working in the user's repository.\n" + words("rule", 120);
  if (timestamp) {
    char when[64];
    std::snprintf(when, sizeof when, "Current time: 2025-01-05 12:%02d:%02d\n", (turn / 6) % 60, (turn * 10) % 60);
    s += when;
  }
  return s + words("guideline", 400);
}

json tools() {
  json t = json::array();
  for (const char* name : {"read_file", "write_file", "list_dir", "grep", "bash", "edit"}) {
    const json params = {{"type", "object"},
                         {"properties", {{"path", {{"type", "string"}}}}},
                         {"required", json::array({"path"})}};
    const json function = {{"name", name},
                           {"description", std::string("Tool ") + name + ": " + words("does", 20)},
                           {"parameters", params}};
    t.push_back({{"type", "function"}, {"function", function}});
  }
  return t;
}

std::string request(const Options& o, bool timestamp, int turn) {
  json msgs = json::array({{{"role", "system"}, {"content", system_prompt(timestamp, turn)}},
                           {{"role", "user"}, {"content", "Fix the failing test in tests/unit and explain why."}}});
  for (int i = 0; i < turn; ++i) {
    const std::string id = "call_" + std::to_string(i);
    msgs.push_back({{"role", "assistant"},
                    {"content", ""},
                    {"tool_calls", json::array({{{"id", id},
                                                 {"type", "function"},
                                                 {"function", {{"name", "read_file"},
                                                               {"arguments", "{\"path\":\"src/f" + std::to_string(i) + ".c\"}"}}}}})}});
    const std::string output = words("line", static_cast<int>((i + 1) * o.tool_words));
    msgs.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", output}});
  }
  return json{{"model", "agent"},       {"stream", true},    {"stream_options", {{"include_usage", true}}},
              {"max_tokens", o.max_tokens}, {"messages", msgs}, {"tools", tools()}}
      .dump();
}

struct Row {
  int turn = 0;
  Turn t;
  int64_t reused = 0, messages = 0;
  bool chain_break = false;
};

std::vector<Row> run_variant(const Options& o, bool timestamp) {
  TempDir dir;
  const std::string cmd = o.engine_cmd.empty() ? fake_cmd(o.fake_flags) : o.engine_cmd;
  Llmux l(dir.path(), "healthCheckTimeout: 600s\nmodels:\n  agent:\n    cmd: " + json(cmd).dump() + "\n");
  std::vector<Row> rows;
  for (int turn = 0; turn < o.turns; ++turn) {
    Row r;
    r.turn = turn;
    r.t = measure_turn(l.port(), "/v1/chat/completions", request(o, timestamp, turn));
    if (r.t.status != 200) throw std::runtime_error("turn " + std::to_string(turn) + ": HTTP " + std::to_string(r.t.status));
    const json p = test::http_get(l.port(), "/prefix?limit=1").json();
    if (!p["conversations"].empty()) {
      const json& last = p["conversations"][0]["last"];
      r.reused = last.value("reused", 0);
      r.messages = last.value("messages", 0);
      r.chain_break = last.value("chainBreak", false);
    }
    rows.push_back(r);
  }
  return rows;
}

double share(const Row& r) {
  return r.t.prompt > 0 && r.t.cached >= 0 ? static_cast<double>(r.t.cached) / static_cast<double>(r.t.prompt) : 0;
}

struct Summary {
  double mean_ttft = 0, mean_share = 0;
  int breaks = 0;
};

Summary summarize(const std::vector<Row>& rows) {
  Summary s;
  int n = 0;
  for (const Row& r : rows) {
    s.breaks += r.chain_break;
    if (r.turn == 0) continue;  // the first turn is cold in both variants
    s.mean_ttft += r.t.ttft_ms;
    s.mean_share += share(r);
    ++n;
  }
  if (n > 0) s.mean_ttft /= n, s.mean_share /= n;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  arm_watchdog(std::chrono::seconds(3600));
  try {
    const std::vector<Row> stable = run_variant(o, false);
    const std::vector<Row> drift = run_variant(o, true);
    std::string csv = "variant,turn,prompt_tokens,cached_tokens,ttft_ms,decode_tok_s,reused,messages,chain_break\n";
    std::vector<Panel> panels{{"Time to first token", "turn", "ms", {}, false},
                              {"Cached share of the prompt", "turn", "cached / prompt tokens", {}, false}};
    for (const auto& [name, rows, color] : {std::tuple{"stable", &stable, "#1f77b4"},
                                            std::tuple{"timestamp", &drift, "#d62728"}}) {
      Series ttft{name, color, {}}, cached{name, color, {}};
      for (const Row& r : *rows) {
        csv += std::string(name) + "," + std::to_string(r.turn) + "," + std::to_string(r.t.prompt) + "," +
               std::to_string(r.t.cached) + "," + fixed(r.t.ttft_ms, 2) + "," + fixed(r.t.decode_tps, 1) + "," +
               std::to_string(r.reused) + "," + std::to_string(r.messages) + "," + (r.chain_break ? "1" : "0") + "\n";
        ttft.points.emplace_back(r.turn, r.t.ttft_ms);
        cached.points.emplace_back(r.turn, share(r));
      }
      panels[0].series.push_back(ttft);
      panels[1].series.push_back(cached);
    }
    if (!write_text_file(o.out + ".csv", csv) ||
        !write_text_file(o.out + ".svg", svg_chart("agent loop: " + std::to_string(o.turns) + " turns", panels)))
      return 1;
    const Summary a = summarize(stable), b = summarize(drift);
    std::printf("agent loop, %lld turns (%s)\n", o.turns, o.engine_cmd.empty() ? "fake engine" : o.engine_cmd.c_str());
    std::printf("%-10s %14s %18s %13s %14s\n", "variant", "mean TTFT ms", "mean cached share", "chain breaks",
                "last prompt");
    for (const auto& [name, s, rows] : {std::tuple{"stable", a, &stable}, std::tuple{"timestamp", b, &drift}})
      std::printf("%-10s %14s %17s%% %13d %14lld\n", name, fixed(s.mean_ttft, 1).c_str(),
                  fixed(s.mean_share * 100, 1).c_str(), s.breaks, static_cast<long long>(rows->back().t.prompt));
    if (a.mean_ttft > 0) std::printf("TTFT timestamp / stable (turns 1..): %sx\n", fixed(b.mean_ttft / a.mean_ttft, 2).c_str());
    std::printf("wrote %s.csv and %s.svg\n", o.out.c_str(), o.out.c_str());
    if (o.check) {
      const bool ok = a.breaks == 0 && b.breaks == o.turns - 1 && (o.turns < 2 || a.mean_share > b.mean_share);
      std::printf("check: %s (stable: no break, timestamp: a break every turn after the first)\n", verdict(ok).c_str());
      return ok ? 0 : 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agent_loop: %s\n", e.what());
    return 1;
  }
}
