// Load generation and the nginx baseline for relay_bench. run_wrk() drives wrk (one thread, N keep-alive
// connections, --latency) and parses its report; run_closed_loop() is the fallback when wrk is missing: N threads
// (at most kFallbackThreads), each sending the next request on its keep-alive connection as soon as the previous
// response is complete. start_nginx() runs nginx as a one-worker reverse proxy in front of an engine port.
// Failures are reported in Load::ok/note, or as nullptr + reason for nginx; nothing here throws for them.
#pragma once

#include <memory>
#include <string>

#include "bench/bench_support.hpp"

namespace llmux::bench {

constexpr int kFallbackThreads = 16;

struct Load {
  bool ok = false;
  double rps = 0, p50 = 0, p99 = 0;  // latencies in ms
  long errors = 0;                   // non-2xx responses and failed requests
  double cpu_us_per_req = -1;        // the proxy's CPU per request, -1 if unknown (filled in by the caller)
  std::string note;
};

// A wrk Lua script that POSTs `body` as application/json.
std::string wrk_post_script(const std::string& body);
Load run_wrk(const std::string& wrk, const std::string& script, uint16_t port, const std::string& target,
             int connections, int seconds);
Load run_closed_loop(uint16_t port, const std::string& target, const std::string& body, int connections,
                     int seconds);

// nginx (/usr/sbin/nginx, else nginx in PATH) on a free 127.0.0.1 port, config and logs in `dir`: daemon off,
// master_process off, 1 worker, proxy_buffering off, HTTP/1.1 upstream keepalive 64, request bodies up to 64 MB
// buffered in memory. Returns nullptr and sets `why` if nginx is missing or does not come up.
std::unique_ptr<test::Process> start_nginx(const std::string& dir, uint16_t engine, uint16_t& port,
                                           std::string& why);

}  // namespace llmux::bench
