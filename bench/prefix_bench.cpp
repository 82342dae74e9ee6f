// prefix_bench: what the prefix-stability diagnosis costs per request, in process (it is pure code run on the
// event loop before the relay): scanning the prompt into its chain of fingerprints and comparing it with the
// conversation's previous request, beside what llmux already did with every request body before it
// (scan_top_level, the one pass that finds `model`). Bodies: a small chat request, a 2-turn agent request, and a
// 50-turn agent conversation of about 100k tokens (~680 KB). Rounds of timed batches; prints the best round (the
// steadiest figure on a shared machine) and the medians, in microseconds per request, and the ratio to the scan. The end-to-end view of the same cost is
// relay_bench (small requests and its 1 MiB body), run against a build without it. Exit 1 when it could not run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "proxy/http/json_scan.hpp"
#include "proxy/http/prompt_scan.hpp"
#include "proxy/policy/prefix_tracker.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string words(const std::string& stem, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += stem + std::to_string(i % 97) + (i % 12 == 11 ? ".\n" : " ");
  return out;
}

// An agent request at `turn`: system prompt, 6 tools, a task, then tool calls with outputs of `tool_words` each.
std::string agent(int turn, int tool_words) {
  json msgs = json::array({{{"role", "system"}, {"content", words("rule", 1500)}},
                           {{"role", "user"}, {"content", "Fix the failing test."}}});
  for (int i = 0; i < turn; ++i) {
    const std::string id = "call_" + std::to_string(i);
    msgs.push_back({{"role", "assistant"}, {"content", ""},
                    {"tool_calls", json::array({{{"id", id}, {"type", "function"},
                                                 {"function", {{"name", "read"}, {"arguments", "{\"path\":\"a\"}"}}}}})}});
    msgs.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", words("line", tool_words)}});
  }
  json tools = json::array();
  for (const char* n : {"read", "write", "ls", "grep", "bash", "edit"})
    tools.push_back({{"type", "function"}, {"function", {{"name", n}, {"description", words("does", 30)}}}});
  return json{{"model", "m"}, {"stream", true}, {"messages", msgs}, {"tools", tools}}.dump();
}

// A chat request of about `bytes` whose messages read like source code in JSON (an escape every ~17 bytes), as
// relay_bench --bodies sends.
std::string code_chat(size_t bytes) {
  const std::string line = "The function returns \\\"ok\\\" when the file exists.\\n";
  std::string out = R"({"model":"m","messages":[)";
  for (int i = 0; out.size() + 64 < bytes; ++i) {
    out += i == 0 ? R"({"role":"user","content":")" : R"(,{"role":"assistant","content":")";
    for (size_t n = 0; n < 4096 && out.size() + line.size() + 32 < bytes; n += line.size()) out += line;
    out += "\"}";
  }
  return out + "]}";
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

// Microseconds per call of fn over `rounds` batches of `batch` calls.
template <class Fn>
Stats time_it(int rounds, int batch, Fn&& fn) {
  std::vector<double> us;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) fn(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / batch);
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us.front(), us.back()};
}

volatile size_t sink = 0;

void row(const char* name, const std::string& a, const std::string& b, int rounds, int batch) {
  const std::string* bodies[2] = {&a, &b};
  const Stats scan = time_it(rounds, batch, [&](int i) {
    auto s = llmux::scan_top_level(*bodies[i & 1]);
    sink = sink + (s ? s->model_end : 0);
  });
  llmux::PrefixTracker tracker;
  const Stats diag = time_it(rounds, batch, [&](int i) {
    const std::string& body = *bodies[i & 1];
    auto s = llmux::scan_top_level(body);
    llmux::PromptChain chain = llmux::scan_prompt(body, *s);
    const auto r = tracker.observe_chain("m", "", "", std::move(chain), body);
    sink = sink + r.diff.reused;
  });
  // The best round of each is the steadiest figure on a shared machine (noise only ever adds time); the medians
  // show what a loaded machine does.
  const double extra = diag.min - scan.min;
  std::printf("%-26s %8zu %9.2f %9.2f %9.2f %7.2fx %7.0f MB/s   %9.2f %9.2f\n", name, a.size(), scan.min, diag.min,
              extra, scan.min > 0 ? diag.min / scan.min : 0.0, extra > 0 ? a.size() / extra : 0.0, scan.median,
              diag.median);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 15;
  if (argc == 3 && std::string(argv[1]) == "--rounds") rounds = std::max(1, std::atoi(argv[2]));
  else if (argc != 1) {
    std::fprintf(stderr, "usage: prefix_bench [--rounds N]\n");
    return 1;
  }
  const std::string small = R"({"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":4})";
  std::printf("prefix diagnosis cost per request (microseconds; best of %d rounds, then the medians)\n", rounds);
  std::printf("%-26s %8s %9s %9s %9s %8s %12s   %9s %9s\n", "request", "bytes", "scan only", "+diagnos.", "extra",
              "ratio", "extra speed", "scan med.", "diag med.");
  row("small chat", small, small, rounds, 20000);
  row("agent turn 2 (~3k tok)", agent(2, 300), agent(3, 300), rounds, 2000);
  row("agent turn 50 (~100k tok)", agent(49, 1900), agent(50, 1900), rounds, 20);
  row("code-like chat 1 MiB", code_chat(1 << 20), code_chat((1 << 20) + 4096), rounds, 10);
  return 0;
}
