// thrash_bench --workload agent: what an agent CLI (opencode) does to llmux. Every turn streams a long request to
// a main model and, concurrently, sends short requests to a small model (title generation, summaries), so with one
// resident engine a turn swaps twice. Runs the same seeded sessions with `maxResident: 1` and `maxResident: 2`,
// each on a fresh llmux, R times interleaved, and prints swaps, turns/s, latency (main, its TTFT, small), failures
// and the peak of the engines' summed RSS, with the spread over the runs and the ratios two-vs-one.
// Returns the exit status: 0 when it ran, 1 (one line on stderr) when it could not run or a request failed.
#pragma once

#include <string>
#include <vector>

namespace llmux::bench {

// `args`: the command line after the program name, without `--workload agent`.
int run_agent_workload(const std::vector<std::string>& args);

}  // namespace llmux::bench
