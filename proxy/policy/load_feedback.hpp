// The words llmux sends a streaming client while its model loads (comment heartbeats, or reasoning_content deltas
// with sendLoadingState) and the progress events of POST /models/load, as pure functions of a WorkerSnapshot. The
// engine's own lines stay in the logs: the client is told the phase they show (load_phase.hpp).
#pragma once

#include <cstdint>
#include <string>

#include "proxy/policy/snapshot.hpp"

namespace llmux {

struct LoadingFeedback {
  std::string model;        // the model being waited for
  std::string client_name;  // what the client called it (chunks carry this name)
  bool reasoning = false;   // sendLoadingState on a chat route: reasoning_content deltas instead of comments
};

// "llmux: loading qwen: loading weights, 45% (12s)", "llmux: queued for qwen (3s)", "llmux: waiting for qwen (1s)".
std::string feedback_text(const WorkerSnapshot& w, const std::string& model, double elapsed);
// One SSE event: a comment, or a chat.completion.chunk with a reasoning_content delta (`id`: the request's,
// `created`: Unix seconds).
std::string feedback_event(const WorkerSnapshot& w, const LoadingFeedback& f, double elapsed, uint64_t id,
                           int64_t created);
// POST /models/load progress: `data: {"model","state","elapsedSeconds","text"[,"lastLine"]}`.
std::string load_progress_event(const WorkerSnapshot& w, const std::string& model, double elapsed);

}  // namespace llmux
