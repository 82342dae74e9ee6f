// Local TCP port helpers for engine spawning. Both are synchronous and fast (a bind and a close).
#pragma once

#include <cstdint>

namespace llmux {

// A port the kernel considers free right now on 127.0.0.1 (0 on failure). Another process may take it before the
// engine binds it: the Supervisor retries with a new port when that happens.
uint16_t pick_ephemeral_port();

// True if binding 127.0.0.1:port fails with EADDRINUSE.
bool port_in_use(uint16_t port);

}  // namespace llmux
