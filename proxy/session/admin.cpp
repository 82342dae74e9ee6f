#include "proxy/session/admin.hpp"

#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/footprint.hpp"
#include "common/sysmem.hpp"
#include "proxy/policy/footprint_view.hpp"

namespace llmux {

using nlohmann::json;

std::string iso8601(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

namespace {

template <class Rep, class Period>
double seconds(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration<double>(d).count();
}

// The state of one configured model as a client sees it.
std::string model_state(const Coordinator& c, const std::string& id) {
  const auto& info = c.supervisor().info();
  if (info.state == WorkerState::stopped || info.model != id) return "stopped";
  return to_string(info.state);
}

json worker_json(const Coordinator& c) {
  const auto& info = c.supervisor().info();
  if (info.state == WorkerState::stopped) return nullptr;
  json w = {{"model", info.model},
            {"state", to_string(info.state)},
            {"pid", info.pid},
            {"port", info.endpoint.port},
            {"startedAt", iso8601(info.started_at)},
            {"inFlight", c.scheduler().in_flight()}};
  if (info.state != WorkerState::starting) w["loadSeconds"] = seconds(info.load_time);
  w["uptimeSeconds"] = seconds(std::chrono::system_clock::now() - info.started_at);
  const auto& h = c.history();
  auto now = SchedClock::now();
  w["idleSeconds"] = h.idle_since && c.scheduler().in_flight() == 0 ? json(seconds(now - *h.idle_since)) : json(nullptr);
  w["ttlRemainingSeconds"] = h.ttl_expires ? json(std::max(0.0, seconds(*h.ttl_expires - now))) : json(nullptr);
  if (auto line = c.supervisor().log().last(); info.state == WorkerState::starting && !line.empty())
    w["lastLine"] = std::string(line);
  if (const ModelConfig* m = c.config()->find_model(info.model)) {
    auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
    w["limits"] = {{"maxConcurrency", m->max_concurrency},
                   {"queueMax", m->queue.max},
                   {"queueTimeoutSeconds", seconds(m->queue.timeout)},
                   {"maxTokens", {{"default", opt(m->max_tokens.default_tokens)},
                                  {"limit", opt(m->max_tokens.limit)},
                                  {"onExceed", m->max_tokens.reject ? "reject" : "clamp"}}},
                   {"priority", m->priority},
                   {"minResidencySeconds", seconds(m->min_residency)},
                   {"ttlSeconds", seconds(m->ttl)}};
  }
  if (const auto& mem = c.memory().worker()) {
    w["memory"] = {{"rssBytes", mem->rss ? json(*mem->rss) : json(nullptr)},
                   {"gpuBytes", mem->gpu ? json(*mem->gpu) : json(nullptr)},
                   {"peakRssBytes", mem->peak_rss},
                   {"peakGpuBytes", mem->peak_gpu},
                   {"estimateBytes", mem->estimate.total()},
                   {"ceilingBytes", mem->ceiling ? json(*mem->ceiling) : json(nullptr)},
                   {"weightsSource", mem->estimate.weights_source},
                   {"footprint", footprint_json(mem->estimate)}};
    if (mem->rss) w["memory"]["rss"] = format_bytes(*mem->rss);
  }
  return w;
}

json system_json(const Coordinator& c) {
  json s = {{"pressure", to_string(c.memory().last_pressure())}, {"pressureSource", c.memory().pressure_source()}};
  if (auto mem = read_system_memory()) {
    const auto& m = c.config()->memory;
    s["totalBytes"] = mem->total;
    s["availableBytes"] = mem->available;
    s["budgetBytes"] = m.budget.resolve(mem->total);
    s["reserveBytes"] = m.reserve.resolve(mem->total);
  }
  s["gpus"] = json::array();
  for (const GpuDevice& g : c.memory().gpu().devices())
    s["gpus"].push_back({{"index", g.index}, {"name", g.name}, {"usedBytes", g.used}, {"totalBytes", g.total},
                         {"unified", g.unified}});
  return s;
}

json config_state_json(const ConfigState& s, const Config& cfg) {
  json j = {{"path", cfg.path}, {"loadedAt", iso8601(s.loaded_at)}, {"reloads", s.reloads},
            {"warnings", cfg.warnings}, {"pendingRestart", s.pending_restart}, {"error", nullptr}};
  if (!s.error.empty()) j["error"] = {{"message", s.error}, {"at", iso8601(s.error_at)}};
  return j;
}

json opt_seconds(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

std::string metrics_text(const Coordinator& c, const DaemonInfo& d) {
  MetricsGauges g;
  g.queue_depth = c.scheduler().queued();
  g.in_flight = c.scheduler().in_flight();
  const auto& info = c.supervisor().info();
  if (info.state != WorkerState::stopped) {
    g.worker_model = info.model;
    g.worker_state = to_string(info.state);
    if (const auto& mem = c.memory().worker()) {
      g.worker_rss = mem->rss;
      g.worker_estimate = mem->estimate.total();
      g.worker_gpu = mem->gpu;
    }
  }
  g.uptime_seconds = seconds(std::chrono::system_clock::now() - d.started_at);
  return c.metrics().render(g);
}

std::string log_line_json(const LogLine& l) {
  json j = {{"seq", l.seq}, {"time", iso8601(l.time)}, {"source", l.source}, {"level", l.level}, {"text", l.text}};
  j["model"] = l.model.empty() ? json(nullptr) : json(l.model);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string log_line_text(const LogLine& l) {
  std::string out = iso8601(l.time) + " " + l.level + " " + l.source;
  if (!l.model.empty()) out += " [" + l.model + "]";
  return out + " " + l.text;
}

std::string logs_body(const std::vector<LogLine>& lines, bool text) {
  std::string out;
  if (text) {
    for (const auto& l : lines) out += log_line_text(l) + "\n";
    return out;
  }
  out = "{\"lines\":[";
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "," : "") + log_line_json(lines[i]);
  return out + "]}";
}

std::string config_json(const DaemonInfo& d) {
  const std::string text = redacted_config_text(d.config.text, *d.secrets->redactor());
  return json{{"path", d.config.path}, {"text", text}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string status_json(const Coordinator& c, const DaemonInfo& d) {
  const auto& cfg = *c.config();
  json j = {{"version", LLMUX_VERSION},
            {"pid", ::getpid()},
            {"listen", d.listen},
            {"startedAt", iso8601(d.started_at)},
            {"uptimeSeconds", std::chrono::duration<double>(std::chrono::system_clock::now() - d.started_at).count()},
            {"worker", worker_json(c)},
            {"queue", {{"length", c.scheduler().queued()}}},
            {"inFlight", c.scheduler().in_flight()},
            {"swaps", c.scheduler().swaps()},
            {"lastLoadSeconds", opt_seconds(c.history().last_load_seconds)},
            {"lastSwapSeconds", opt_seconds(c.history().last_swap_seconds)},
            {"lastStopReason", c.history().last_stop_reason.empty() ? json(nullptr) : json(c.history().last_stop_reason)},
            {"defaultModel", cfg.default_model.empty() ? json(nullptr) : json(cfg.default_model)},
            {"system", system_json(c)},
            {"config", config_state_json(d.config, cfg)}};
  if (const auto& f = c.last_start_failure()) {
    j["lastStartFailure"] = {{"model", f->model},
                             {"reason", f->failure.reason},
                             {"at", iso8601(f->at)},
                             {"lastLines", f->failure.last_lines}};
  }
  // Engine lines, start failures and config errors were redacted where they were made; this also covers a secret
  // that a reload added after them, and whatever field comes next.
  d.secrets->redactor()->redact_strings(j);
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string models_json(const Coordinator& c) {
  const auto& cfg = *c.config();
  json data = json::array();
  auto created = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& m : cfg.models) {
    if (m.unlisted) continue;
    json entry = {{"id", m.id}, {"object", "model"}, {"created", created}, {"owned_by", "llmux"},
                  {"state", model_state(c, m.id)}, {"aliases", m.aliases}};
    if (!m.name.empty()) entry["name"] = m.name;
    if (!m.description.empty()) entry["description"] = m.description;
    Footprint f = c.memory().footprint(m);
    entry["footprint"] = footprint_json(f);
    entry["footprint"]["fitsBudget"] = c.memory().fits_budget(f);
    data.push_back(entry);
    for (const auto& a : m.aliases)
      data.push_back({{"id", a}, {"object", "model"}, {"created", created}, {"owned_by", "llmux"},
                      {"state", model_state(c, m.id)}, {"alias_of", m.id}});
  }
  return json{{"object", "list"}, {"data", data}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string running_json(const Coordinator& c) {
  const auto& info = c.supervisor().info();
  json running = json::array();
  if (info.state != WorkerState::stopped) {
    json r = {{"model", info.model}, {"state", to_string(info.state)}, {"pid", info.pid},
              {"proxy", "http://" + info.endpoint.host_header()}};
    if (const ModelConfig* m = c.config()->find_model(info.model)) {
      r["ttl"] = std::chrono::duration_cast<std::chrono::seconds>(m->ttl).count();
      if (!m->name.empty()) r["name"] = m->name;
      if (!m->description.empty()) r["description"] = m->description;
    }
    running.push_back(r);
  }
  return json{{"running", running}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace llmux
