// fake_engine's command line and log: the options every integration test and bench passes (`--help` lists them),
// and log lines on stderr. parse_options() prints the usage and exits 2 on a bad option, 0 after --help. No Asio.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fake {

constexpr std::int64_t kMaxTokens = 100000;

enum class Readiness { http503, refuse, always200 };

struct Options {
  std::optional<std::uint16_t> port;
  std::string host = "127.0.0.1";
  std::string model = "fake-model";
  std::int64_t load_delay_ms = 0;
  Readiness readiness = Readiness::http503;
  std::int64_t token_ms = 5;
  std::int64_t tokens = 16;
  std::int64_t memory_mb = 0;
  std::int64_t grow_mb = 0, grow_after_ms = 0;  // once loaded and this long idle or not, occupy grow_mb more
  std::optional<std::int64_t> crash_after_tokens;
  std::optional<int> exit_at_start;
  bool ignore_sigterm = false;
  std::optional<std::string> name_check;
  bool quiet = false;  // no per-request log lines (benches)
  std::optional<std::string> squat_port_once;  // marker file: see squat_port()
  std::int64_t cached_tokens = -1;  // >= 0: usage reports prompt_tokens_details.cached_tokens
  bool interim = false;          // a 103 Early Hints interim response before every final one
  bool close_delimited = false;  // non-streamed answers without Content-Length, ended by closing the connection
  std::int64_t pad_header = 0;   // > 0: every response carries an X-Fake-Pad field of this many bytes
  std::int64_t close_after = 0;  // > 0: a connection is closed silently after this many inference answers (still
                                 // announced keep-alive), as a server's keep-alive timeout would: a stale pool
  std::int64_t slots = 0;         // > 0: the prompt-cache model (prefix_cache.hpp) with this many slots
  std::int64_t prefill_us = 0;    // simulated prefill time per uncached prompt token (with --slots)
  std::int64_t done_gap_ms = 0;   // a stream's terminating chunk follows its [DONE] event this much later
  bool skim = false;  // chat/completions bodies are not parsed (benches of large bodies: a DOM of 1 MiB costs ms):
                      // `--tokens` tokens, streamed when the body holds "stream":true, prompt tokens = bytes / 4
};

// One write(2) per line, so lines stay whole when stdout and stderr share a pipe.
void log_line(std::string_view text);

// The options in argv; PORT from the environment when --port is not given, as servers that read PORT do.
Options parse_options(int argc, char** argv);

}  // namespace fake
