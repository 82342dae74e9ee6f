// `llmux bridge --port N --upstream http(s)://host[:port][/base] [--ca-file F] [--connect-timeout-ms N]`: the
// engine process of a remote model (common/config_remote.cpp). It listens on 127.0.0.1:N; for each connection the
// relay opens, it resolves the host (asynchronously, bounded by the connect timeout), connects, and for https
// verifies the server's certificate (system CAs, or --ca-file; SNI; the host name or IP checked by OpenSSL), then
// forwards each request with the base path put in front of its target, Host set to the upstream's, and the header
// lines of $LLMUX_BRIDGE_HEADERS added (an API key: never on the command line, never printed). Responses go back
// byte for byte. A connection that cannot be made is answered 502 with an OpenAI-shaped error naming the cause
// (e.g. the certificate verification failure), which the relay passes to the client.
// The relay's plain-TCP path is untouched: remote upstreams cost one loopback hop, nothing for local engines.
#pragma once

#include <string>
#include <vector>

namespace llmux {

// Runs until SIGTERM / SIGINT; returns the exit status (2 for bad arguments, with one line on stderr).
int bridge_main(const std::vector<std::string>& args);

}  // namespace llmux
