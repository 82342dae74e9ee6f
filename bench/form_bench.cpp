// form_bench: llmux's peak memory while a large multipart upload goes through it (POST /v1/audio/transcriptions).
// Side by side in one run, each on a fresh llmux (peak RSS is since start):
//   streamed  the `model` field first (as the OpenAI Python SDK and httpx send it): llmux holds the form only up to
//             the field and streams the rest to the engine (proxy/session/session_form.cpp)
//   held      the `model` field last (as curl -F file=@x -F model=m sends it): the form is held whole until the
//             field, as every form was before streaming
// Figures: llmux's VmHWM growth over the upload (after a small warm-up form) and the upload's wall time; the
// engine (tests/fake_engine) echoes the body's length and digest, which are checked. Repeats --repeat times.
// Usage: form_bench [--mib N] [--repeat R]. Linux only (/proc): elsewhere it says so and exits 0.
#include <fstream>
#include <iostream>

#include "bench/bench_support.hpp"
#include "proxy/cli/options.hpp"
#include "tests/support/fnv.hpp"

using namespace llmux::bench;
namespace test = llmux::test;

namespace {

const std::string kBoundary = "----llmuxbench";

double hwm_mib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return -1;
}

std::string part(const std::string& name, const std::string& value, bool file) {
  return "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"" +
         (file ? "; filename=\"a.wav\"\r\nContent-Type: audio/wav" : "") + "\r\n\r\n" + value + "\r\n";
}

struct Figures {
  double growth_mib = 0, seconds = 0;
};

Figures run(const std::string& file, bool model_first, size_t mib) {
  TempDir dir;
  Llmux l(dir.path(), "maxRequestBody: " + std::to_string(mib + 16) + "MiB\nmodels:\n  w:\n    cmd: " +
                          fake_cmd("") + "\n");
  const test::Headers h{{"Content-Type", "multipart/form-data; boundary=" + kBoundary}};
  const std::string end = "--" + kBoundary + "--\r\n";
  const std::string warm = part("model", "w", false) + part("file", "x", true) + end;
  if (test::http_request(l.port(), "POST", "/v1/audio/transcriptions", warm, h).status != 200)
    throw std::runtime_error("warm-up form failed");
  const std::string body = model_first ? part("model", "w", false) + part("file", file, true) + end
                                       : part("file", file, true) + part("model", "w", false) + end;
  const double before = hwm_mib(l.pid());
  const auto t0 = Clock::now();
  const test::HttpResponse r = test::http_request(l.port(), "POST", "/v1/audio/transcriptions", body, h, 120s);
  const double secs = ms_between(t0, Clock::now()) / 1000;
  if (r.status != 200) throw std::runtime_error("upload answered " + std::to_string(r.status) + ": " + r.body);
  if (r.json()["length"] != body.size() || r.json()["fnv1a64"] != test::fnv1a64_hex(body))
    throw std::runtime_error("the engine did not receive the body intact");
  return {hwm_mib(l.pid()) - before, secs};
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = 100;
  long long repeat = 3;
  llmux::OptionParser p;
  p.integer("--mib", mib, 1, 4096, "a size in MiB (1 to 4096)")
      .integer("--repeat", repeat, 1, 100, "a number of runs (1 to 100)");
  if (!parse_args(p, argc, argv, "form_bench", "[--mib N] [--repeat N]")) return 1;
  if (hwm_mib(getpid()) < 0) {
    std::cout << "skipped: needs /proc\n";
    return 0;
  }
  arm_watchdog(std::chrono::seconds(60 + 20 * repeat * static_cast<int>(mib / 10 + 1)));
  std::string file(mib << 20, '\0');
  for (size_t i = 0; i < file.size(); ++i) file[i] = static_cast<char>('a' + (i * 7919) % 26);
  try {
    std::cout << "multipart upload of " << mib << " MiB through llmux: peak RSS growth (VmHWM) and wall time\n"
              << pad("run", 4) << pad("streamed MiB", 14) << pad("held MiB", 10) << pad("ratio", 8)
              << pad("streamed s", 12) << pad("held s", 8) << "\n";
    for (int k = 1; k <= repeat; ++k) {
      const Figures s = run(file, true, mib), h = run(file, false, mib);
      std::cout << pad(std::to_string(k), 4) << pad(fixed(s.growth_mib, 1), 14) << pad(fixed(h.growth_mib, 1), 10)
                << pad(fixed(h.growth_mib / std::max(s.growth_mib, 0.1), 0) + "x", 8) << pad(fixed(s.seconds, 2), 12)
                << pad(fixed(h.seconds, 2), 8) << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "form_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
