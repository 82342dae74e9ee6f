#include "bench/load.hpp"

#include <algorithm>
#include <sstream>
#include <thread>

namespace llmux::bench {

namespace {

std::string nginx_conf(const std::string& dir, uint16_t listen, uint16_t engine) {
  std::ostringstream c;
  c << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << dir << "/nginx.pid;\n"
    << "error_log " << dir << "/nginx-error.log warn;\n"
    << "events { worker_connections 1024; }\n"
    << "http {\n  access_log off;\n";
  for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
    c << "  " << t << "_temp_path " << dir << "/" << t << "_temp;\n";
  c << "  keepalive_requests 1000000;\n  client_max_body_size 64m;\n  client_body_buffer_size 64m;\n"
    << "  upstream engine {\n    server 127.0.0.1:" << engine << ";\n    keepalive 64;\n"
    << "    keepalive_requests 1000000;\n  }\n"
    << "  server {\n    listen 127.0.0.1:" << listen << ";\n    location / {\n"
    << "      proxy_pass http://engine;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
    << "      proxy_buffering off;\n    }\n  }\n}\n";
  return c.str();
}

std::optional<double> wrk_duration_ms(const std::string& tok) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(tok, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = tok.substr(used);
  if (unit == "us") return v / 1000;
  if (unit == "ms") return v;
  if (unit == "s") return v * 1000;
  if (unit == "m") return v * 60000;
  return std::nullopt;
}

Load parse_wrk(const std::string& out) {
  Load r;
  std::istringstream lines(out);
  bool have_rps = false, have_p50 = false, have_p99 = false;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream w(line);
    std::string first, second;
    w >> first >> second;
    if (first == "50%") have_p50 = (r.p50 = wrk_duration_ms(second).value_or(-1)) >= 0;
    else if (first == "99%") have_p99 = (r.p99 = wrk_duration_ms(second).value_or(-1)) >= 0;
    else if (first == "Requests/sec:") { r.rps = std::atof(second.c_str()); have_rps = true; }
    else if (line.find("Non-2xx or 3xx responses:") != std::string::npos)
      r.errors += std::atol(line.substr(line.find(':') + 1).c_str());
    else if (first == "Socket" && second == "errors:") r.note = line.substr(line.find_first_not_of(' '));
  }
  r.ok = have_rps && have_p50 && have_p99;
  return r;
}

}  // namespace

std::unique_ptr<test::Process> start_nginx(const std::string& dir, uint16_t engine, uint16_t& port,
                                           std::string& why) {
  const std::string bin = "/usr/sbin/nginx";
  auto found = executable(bin) ? std::optional(bin) : find_program("nginx");
  if (!found) {
    why = "nginx not installed (looked for /usr/sbin/nginx and nginx in PATH)";
    return nullptr;
  }
  port = test::pick_free_port();
  const std::string conf = dir + "/nginx.conf";
  test::write_file(conf, nginx_conf(dir, port, engine));
  auto p = std::make_unique<test::Process>(
      std::vector<std::string>{*found, "-p", dir + "/", "-c", conf, "-e", dir + "/nginx-error.log"});
  if (!wait_port_open(port, 5s) || !p->running()) {
    why = "nginx did not start: " + p->output();
    return nullptr;
  }
  return p;
}

std::string wrk_post_script(const std::string& body) {
  return "wrk.method = \"POST\"\nwrk.body = '" + body + "'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n";
}

Load run_wrk(const std::string& wrk, const std::string& script, uint16_t port, const std::string& target,
             int connections, int seconds) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + target;
  test::Process p({wrk, "-t1", "-c" + std::to_string(connections), "-d" + std::to_string(seconds) + "s",
                   "--timeout", "5s", "--latency", "-s", script, url});
  if (!p.wait_exit(std::chrono::seconds(seconds + 20))) return Load{false, 0, 0, 0, 0, -1, "wrk did not finish"};
  Load r = parse_wrk(p.output());
  if (!r.ok) r.note = "cannot parse wrk output: " + p.output();
  return r;
}

// Closed loop: each thread sends the next request as soon as the previous response is complete (keep-alive).
Load run_closed_loop(uint16_t port, const std::string& target, const std::string& body, int connections,
                     int seconds) {
  const int n = std::min(connections, kFallbackThreads);
  std::vector<std::vector<double>> lat(n);
  std::vector<long> errors(n, 0);
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t)
    threads.emplace_back([&, t] {
      std::unique_ptr<test::HttpConnection> c;
      while (Clock::now() < end) {
        try {
          if (!c) c = std::make_unique<test::HttpConnection>(port);
          const auto t0 = Clock::now();
          const auto r = c->request("POST", target, body, 5s);
          lat[t].push_back(ms_between(t0, Clock::now()));
          if (r.status != 200) ++errors[t];
        } catch (const std::exception&) {
          ++errors[t];
          c.reset();
        }
      }
    });
  for (auto& th : threads) th.join();
  std::vector<double> all;
  Load r;
  for (int t = 0; t < n; ++t) {
    all.insert(all.end(), lat[t].begin(), lat[t].end());
    r.errors += errors[t];
  }
  r.ok = !all.empty();
  r.rps = static_cast<double>(all.size()) / seconds;
  r.p50 = percentile(all, 50);
  r.p99 = percentile(all, 99);
  return r;
}

}  // namespace llmux::bench
