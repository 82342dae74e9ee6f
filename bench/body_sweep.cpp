#include "bench/body_sweep.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "bench/bench_support.hpp"
#include "bench/load.hpp"

namespace llmux::bench {

namespace {

const std::string kTarget = "/v1/chat/completions";

struct SweepPath {
  std::string name;
  uint16_t port = 0;
  pid_t pid = -1;  // the proxy (CPU per request); -1 for direct
  std::unique_ptr<test::HttpConnection> conn;
};

// Samples of one path at one size: per-request milliseconds, per-round p50s, proxy CPU.
struct Cell {
  std::vector<double> ms;
  std::vector<double> round_p50;
  double cpu_s = 0;
  int failures = 0;
};

double timed_request(SweepPath& p, const std::string& body, Cell& cell) {
  const auto cpu0 = p.pid > 0 ? cpu_seconds(p.pid) : std::nullopt;
  const auto t0 = Clock::now();
  test::HttpResponse r;
  try {
    r = p.conn->request("POST", kTarget, body, {{"Content-Type", "application/json"}}, 30s);
  } catch (const std::exception&) {
    p.conn = std::make_unique<test::HttpConnection>(p.port);  // a fresh connection for the next request
  }
  const double ms = ms_between(t0, Clock::now());
  const auto cpu1 = p.pid > 0 ? cpu_seconds(p.pid) : std::nullopt;
  if (cpu0 && cpu1) cell.cpu_s += *cpu1 - *cpu0;
  if (r.status != 200 || !r.complete) {
    ++cell.failures;
    return -1;
  }
  return ms;
}

std::string range(const std::vector<double>& v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fixed(*lo, 3) + "-" + fixed(*hi, 3);
}

void print_size(size_t bytes, const std::vector<SweepPath>& paths, const std::vector<Cell>& cells, int rounds) {
  std::cout << "\nrequest body " << fixed(static_cast<double>(bytes) / 1024, 1) << " KiB\n"
            << "  path        p50 ms  round p50s ms     p90 ms  added p50 ms  proxy CPU us/req  failures\n";
  const double direct = median(cells[0].ms);
  for (size_t p = 0; p < paths.size(); ++p) {
    const Cell& c = cells[p];
    const double p50 = median(c.ms);
    const double cpu = paths[p].pid > 0 && !c.ms.empty() ? c.cpu_s * 1e6 / static_cast<double>(c.ms.size()) : -1;
    std::cout << "  " << paths[p].name << std::string(8 - paths[p].name.size(), ' ') << pad(fixed(p50, 3), 10)
              << pad(c.round_p50.size() == static_cast<size_t>(rounds) ? range(c.round_p50) : "-", 16)
              << pad(fixed(percentile(c.ms, 90), 3), 11) << pad(p == 0 ? "-" : fixed(p50 - direct, 3), 14)
              << pad(cpu < 0 ? "-" : fixed(cpu, 0), 18) << pad(std::to_string(c.failures), 10) << "\n";
  }
  if (paths.size() > 2) {
    const double llmux = median(cells[1].ms) - direct, nginx = median(cells[2].ms) - direct;
    std::cout << "  added p50 llmux/nginx " << (nginx > 0 ? fixed(llmux / nginx, 2) : std::string("n/a")) << "\n";
  }
}

// "VmRSS 12345 kB, VmHWM ..." of a process from /proc; "-" where there is none.
std::string rss_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line, out;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0 || line.rfind("VmHWM:", 0) == 0)
      out += (out.empty() ? "" : ", ") + line.substr(0, 6) + " " + std::to_string(std::atol(line.c_str() + 6)) + " kB";
  return out.empty() ? "-" : out;
}

}  // namespace

std::string chat_body_of(size_t bytes, bool stream) {
  const std::string line = "The function returns \\\"ok\\\" when the file exists.\\n";  // as JSON text
  std::string out = R"({"model":"bench","max_tokens":4,)" + std::string(stream ? R"("stream":true,)" : "") +
                    R"("messages":[)";
  for (int i = 0; out.size() + 64 < bytes; ++i) {
    out += i == 0 ? "" : ",";
    out += i % 2 == 0 ? R"({"role":"user","content":")" : R"({"role":"assistant","content":")";
    const size_t room = bytes - out.size() - 32;
    for (size_t n = 0; n + line.size() <= std::min<size_t>(room, 4096); n += line.size()) out += line;
    out += "\"}";
  }
  return out + "]}";
}

void run_body_sweep(const BodySweepOptions& o) {
  TempDir dir;
  Llmux llmux(dir.path(), "logRequests: false\nmodels:\n  bench:\n    cmd: " +
                              fake_cmd("--quiet --token-ms 0 --tokens 4 --skim --readiness 503") +
                              "\n    readiness: http\n");
  if (auto r = test::http_post(llmux.port(), kTarget, chat_body_of(1024), 30s); r.status != 200)
    throw std::runtime_error("warm-up request through llmux failed: HTTP " + std::to_string(r.status) + " " + r.body);
  const auto w = llmux.worker();
  const auto engine_port = static_cast<uint16_t>(w.at("port").get<int>());
  std::vector<SweepPath> paths;
  paths.push_back({"direct", engine_port, -1, nullptr});
  paths.push_back({"llmux", llmux.port(), llmux.pid(), nullptr});
  std::string why = "--no-nginx";
  uint16_t nginx_port = 0;
  std::unique_ptr<test::Process> nginx = o.nginx ? start_nginx(dir.path(), engine_port, nginx_port, why) : nullptr;
  if (nginx) paths.push_back({"nginx", nginx_port, nginx->pid(), nullptr});
  for (auto& p : paths) p.conn = std::make_unique<test::HttpConnection>(p.port);

  std::cout << "relay_bench --bodies: request body size, one keep-alive connection per path, sequential (c=1), "
            << (o.stream ? "streamed " : "") << "answer of 4 tokens\n  engine  fake_engine --skim (no JSON parse) pid "
            << w.at("pid").get<pid_t>() << "\n  nginx   "
            << (nginx ? "worker_processes 1, proxy_buffering off, upstream keepalive (request body buffered)" : why)
            << "\n  " << o.rounds << " rounds x " << o.per_round
            << " requests per size and path, paths interleaved request by request\n";
  std::vector<std::string> bodies;
  for (size_t k : o.kib) bodies.push_back(chat_body_of(k * 1024, o.stream));
  std::vector<std::vector<Cell>> cells(bodies.size(), std::vector<Cell>(paths.size()));
  for (int round = 0; round < o.rounds; ++round)
    for (size_t s = 0; s < bodies.size(); ++s) {
      std::vector<std::vector<double>> this_round(paths.size());
      for (int i = -2; i < o.per_round; ++i)  // 2 unrecorded warm-up requests per size and round
        for (size_t k = 0; k < paths.size(); ++k) {
          const size_t p = (i + round) % 2 == 0 ? k : paths.size() - 1 - k;
          Cell scratch;
          const double ms = timed_request(paths[p], bodies[s], i < 0 ? scratch : cells[s][p]);
          if (i >= 0 && ms >= 0) this_round[p].push_back(ms);
        }
      for (size_t p = 0; p < paths.size(); ++p) {
        if (this_round[p].empty()) continue;
        cells[s][p].round_p50.push_back(median(this_round[p]));
        cells[s][p].ms.insert(cells[s][p].ms.end(), this_round[p].begin(), this_round[p].end());
      }
    }
  for (size_t s = 0; s < bodies.size(); ++s) print_size(bodies[s].size(), paths, cells[s], o.rounds);
  std::cout << "\nllmux memory after the sweep: " << rss_of(llmux.pid()) << "\n";
  if (!llmux.process().running())
    throw std::runtime_error("llmux exited during the bench:\n" + llmux.process().output());
}

}  // namespace llmux::bench
