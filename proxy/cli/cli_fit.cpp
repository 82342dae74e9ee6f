#include "proxy/cli/cli_fit.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/footprint.hpp"
#include "common/sysmem.hpp"
#include "proxy/cli/client.hpp"
#include "proxy/cli/options.hpp"
#include "proxy/policy/footprint_view.hpp"
#include "worker/footprint_ledger.hpp"
#include "worker/gpu.hpp"
#include "worker/platform.hpp"

namespace llmux {

namespace {

using nlohmann::json;

struct FitOptions {
  std::string model, ctx, kv_bits, parallel, url = default_daemon_url(), config, engine;
  bool json_out = false;
};

int usage(const std::string& msg) {
  std::fprintf(stderr, "llmux: fit: %s\nusage: llmux fit MODEL [--ctx N] [--kv-bits B] [--parallel N] [--json] "
                       "[--url URL] [--config FILE] [--engine KIND]\n", msg.c_str());
  return 2;
}

// "" when parsed; otherwise the usage error.
std::string parse(const std::vector<std::string>& args, FitOptions& o) {
  std::vector<std::string> models;
  const std::string err = OptionParser()
                              .flag("--json", o.json_out)
                              .value("--ctx", o.ctx, "a number of tokens")
                              .value("--kv-bits", o.kv_bits, "KV bits (8, 4, \"(8, 4)\" or a llama.cpp type)")
                              .value("--parallel", o.parallel, "a number of slots")
                              .value("--url", o.url, "a URL")
                              .value("--config", o.config, "a config file")
                              .value("--engine", o.engine, "an engine kind")
                              .positionals(models, 1, "MODEL")
                              .parse(args);
  if (!err.empty()) return err;
  if (!models.empty()) o.model = models.front();
  for (const auto& [flag, value] : {std::pair{"--ctx", &o.ctx}, std::pair{"--parallel", &o.parallel}}) {
    if (!value->empty() && value->find_first_not_of("0123456789") != std::string::npos)
      return std::string(flag) + ": expected a whole number, got '" + *value + "'";
  }
  return o.model.empty() ? "expected MODEL (a configured model, or a path to a .gguf file or model directory)" : "";
}

int print(const json& report, bool json_out) {
  if (json_out) std::printf("%s\n", report.dump(2).c_str());
  else std::fputs(fit_text(report).c_str(), stdout);
  return report.value("fits", false) ? 0 : 1;
}

std::string query_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// The daemon's answer; nullopt when no daemon answers (the caller estimates here).
std::optional<int> ask_daemon(const FitOptions& o) {
  std::string target = "/fit?model=" + query_escape(o.model);
  if (!o.ctx.empty()) target += "&ctx=" + query_escape(o.ctx);
  if (!o.kv_bits.empty()) target += "&kvBits=" + query_escape(o.kv_bits);
  if (!o.parallel.empty()) target += "&parallel=" + query_escape(o.parallel);
  ClientResponse r;
  try {
    r = http_call(o.url, "GET", target);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const json j = json::parse(r.body, nullptr, false);
  if (r.status == 200 && j.is_object()) return print(j, o.json_out);
  std::string msg = "GET /fit answered HTTP " + std::to_string(r.status);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) msg = j["error"].value("message", msg);
  std::fprintf(stderr, "llmux: fit: %s\n", msg.c_str());
  return 1;
}

ModelConfig model_for_path(const FitOptions& o) {
  ModelConfig m;
  m.id = std::filesystem::path(o.model).filename().string();
  std::string engine = o.engine;
  std::error_code ec;
  if (engine.empty()) {
#ifdef __APPLE__
    engine = std::filesystem::is_directory(o.model, ec) ? "mlx_lm.server" : "llama-server";
#else
    engine = std::filesystem::is_directory(o.model, ec) ? "vllm" : "llama-server";
#endif
  }
  if (engine == "vllm" || engine == "vllm-mlx") m.argv = {engine, "serve", o.model};
  else if (engine == "mlx_lm.server") m.argv = {engine, "--model", o.model};
  else m.argv = {engine, "-m", o.model};
  return m;
}

int estimate_here(const FitOptions& o) {
  std::shared_ptr<const Config> cfg;
  ModelConfig m;
  std::error_code ec;
  if (std::filesystem::exists(o.model, ec)) {
    m = model_for_path(o);
    cfg = std::make_shared<Config>();
  } else {
    try {
      cfg = load_config(o.config.empty() ? default_config_path() : o.config);
    } catch (const ConfigError& e) {
      std::fprintf(stderr, "llmux: fit: no daemon answers at %s and %s\n", o.url.c_str(), e.what());
      return 1;
    }
    const ModelConfig* found = cfg->resolve(o.model);
    if (found == nullptr) {
      std::fprintf(stderr, "llmux: fit: model '%s' not found in %s and it is not a path\n", o.model.c_str(),
                   cfg->path.c_str());
      return 1;
    }
    m = *found;
  }
  spdlog::set_level(spdlog::level::warn);  // the GPU probe's one info line is for the daemon's log
  auto gpu = make_gpu_probe();
  MemoryNow now;
  if (auto mem = read_system_memory()) now = MemoryNow{mem->total, mem->available, {}, {}};
  EstimateEnv env;
  if (auto g = discrete_gpu_free(*gpu)) {
    now.gpu_free = g->free;
    now.gpu_total = g->total;
    env = EstimateEnv{2 /* Accelerator::discrete */, g->total};
  }
  const Footprint base = estimate_footprint(m, env);
  const FitArgs extra = fit_engine_args(base.engine, o.ctx, o.kv_bits, o.parallel);
  if (!extra.error.empty()) return usage(extra.error);
  Footprint f = estimate_footprint_with(m, extra.args, env);
  std::vector<std::string> argv = m.argv;
  argv.insert(argv.end(), extra.args.begin(), extra.args.end());
  const FootprintLedger ledger(state_directory(std::getenv("XDG_STATE_HOME"), std::getenv("HOME")));
  if (auto learned = ledger.find(FootprintLedger::key(m.id, argv)))
    apply_learned(f, learned->host_peak, learned->gpu_peak, cfg->memory.learned_slack);
  return print(fit_json(m.id, f, now, cfg->memory), o.json_out);
}

}  // namespace

int cli_fit(const std::vector<std::string>& args) {
  FitOptions o;
  if (const std::string err = parse(args, o); !err.empty()) return usage(err);
  std::error_code ec;
  if (!std::filesystem::exists(o.model, ec)) {
    if (auto rc = ask_daemon(o)) return *rc;
  }
  return estimate_here(o);
}

}  // namespace llmux
