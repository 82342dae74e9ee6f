// Server-Sent Events that llmux writes itself into a client's event stream: an OpenAI-shaped error event, and the
// end of a stream that loading feedback committed before the engine answered. Pure: no I/O; never throws.
#pragma once

#include <string>

#include "common/errors.hpp"

namespace llmux {

// "event: error\ndata: {"error":{...}}\n\n"
std::string sse_error_event(const ApiError& e);

// A non-SSE engine answer on a stream already committed to SSE: one compact `data:` event and `[DONE]` for a whole
// JSON success (JSON has no raw newlines in a `data:` line), else an error event: the engine's own error object, or
// one llmux words (an error status, a body cut at 64 KiB (`whole` false), or not JSON).
std::string committed_sse_tail(int status, const std::string& body, bool whole);

}  // namespace llmux
