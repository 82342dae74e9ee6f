// relay_bench --bodies: what each path adds to one request as its body grows (an agent sends its whole conversation
// every turn: 100 KiB to 1 MiB). One keep-alive connection per path, sequential requests (concurrency 1), small
// answers, paths interleaved request by request; the fake engine runs with --skim so that its own work stays
// small and equal for every size. Rounds give the spread. Throws std::runtime_error when it cannot run.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace llmux::bench {

struct BodySweepOptions {
  std::vector<size_t> kib{1, 64, 256, 1024};  // request body sizes
  int rounds = 3;                             // each round: `per_round` requests per size and path
  int per_round = 20;
  bool nginx = true;
  bool stream = false;  // "stream": true (the answer is an event stream, relayed as it comes)
};

// A chat request of about `bytes` (JSON text included): alternating user/assistant messages of ~4 KiB whose text
// holds the escapes a real conversation has (newlines, quotes).
std::string chat_body_of(size_t bytes, bool stream = false);

void run_body_sweep(const BodySweepOptions& o);

}  // namespace llmux::bench
