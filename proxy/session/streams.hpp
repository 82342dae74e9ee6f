// Event streams llmux writes itself, through an SseWriter: POST /models/load progress and GET /logs/stream. (The
// loading feedback of a waiting inference request is admission's: proxy/session/admission.hpp.)
// Include only from Beast translation units. Write failures end the stream (returned as false); nothing throws.
#pragma once

#include <memory>
#include <string_view>

#include "common/log_hub.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/http/framing.hpp"
#include "proxy/session/client_io.hpp"

namespace llmux {

// POST /models/load with "stream": true: progress events each second, then a final state event. A client that
// leaves does not cancel the load.
net::awaitable<bool> serve_load_progress(ClientWriter out, const Request& req, Coordinator& c, const ModelConfig& m,
                                         std::string_view extra_fields);

// GET /logs/stream: the last `tail` matching lines (the session checked the query's number), then live lines as
// `data: {json}` events, a comment heartbeat every 15 s; ends when the client goes away (watch) or a write fails.
net::awaitable<bool> serve_log_stream(ClientWriter out, const Request& req, size_t tail, std::shared_ptr<LogHub> hub,
                                      ClientWatch& watch, std::string_view extra_fields);

}  // namespace llmux
