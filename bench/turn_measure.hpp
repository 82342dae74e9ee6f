// One streamed completion measured from the client's side, for the agent-loop and depth benches: time to the
// first generated token, decode speed after it, and the engine's own token counts (usage: prompt_tokens and
// prompt_tokens_details.cached_tokens, or llama-server's timings.cache_n). Throws like test::http_stream.
#pragma once

#include <cstdint>
#include <string>

namespace llmux::bench {

struct Turn {
  int status = 0;
  double ttft_ms = 0;      // request sent -> first event carrying generated text
  double decode_tps = 0;   // tokens after the first / time from the first to the last (0 when fewer than 2)
  int64_t prompt = -1;     // as the engine reported them (-1: not reported)
  int64_t cached = -1;
  int64_t completion = 0;  // reported, else the events that carried text
};

// POSTs `body` (a streaming request; stream_options.include_usage is the caller's to set) to 127.0.0.1:port.
Turn measure_turn(uint16_t port, const std::string& target, const std::string& body);

}  // namespace llmux::bench
