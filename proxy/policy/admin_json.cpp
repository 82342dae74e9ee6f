#include "proxy/policy/admin_json.hpp"

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/seconds.hpp"
#include "proxy/policy/footprint_fit.hpp"
#include "proxy/policy/footprint_view.hpp"
#include "proxy/policy/remote_health.hpp"

namespace llmux {

using nlohmann::json;


namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const char* state_name(WorkerPhase p) { return p == WorkerPhase::none ? "stopped" : to_string(p); }

// The state of one configured model as a client sees it.
std::string model_state(const DaemonSnapshot& s, const std::string& id) {
  const ResidentSnapshot* r = s.find(id);
  return r != nullptr ? state_name(r->worker.state) : "stopped";
}

json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json limits_json(const ModelConfig& m) {
  auto opt_int = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  return {{"maxConcurrency", m.max_concurrency},
          {"queueMax", m.queue.max},
          {"queueTimeoutSeconds", seconds(m.queue.timeout)},
          {"maxTokens", {{"default", opt_int(m.max_tokens.default_tokens)},
                         {"limit", opt_int(m.max_tokens.limit)},
                         {"onExceed", m.max_tokens.reject ? "reject" : "clamp"}}},
          {"priority", m.priority},
          {"minResidencySeconds", seconds(m.min_residency)},
          {"ttlSeconds", seconds(m.ttl)}};
}

json memory_json(const WorkerMemory& mem) {
  json j = {{"rssBytes", mem.rss ? json(*mem.rss) : json(nullptr)},
            {"estimateBytes", mem.estimate.total()},
            {"ceilingBytes", mem.ceiling ? json(*mem.ceiling) : json(nullptr)},
            {"gpuBytes", mem.gpu ? json(*mem.gpu) : json(nullptr)},
            {"peakRssBytes", mem.peak_rss},
            {"peakGpuBytes", mem.peak_gpu},
            {"weightsSource", mem.estimate.weights_source},
            {"footprint", footprint_json(mem.estimate)}};
  if (mem.rss) j["rss"] = format_bytes(*mem.rss);
  return j;
}

// One resident worker in /status.
json worker_json(const DaemonSnapshot& s, const ResidentSnapshot& r) {
  const WorkerSnapshot& w = r.worker;
  json j = {{"model", w.model},
            {"state", state_name(w.state)},
            {"pid", w.pid},
            {"port", w.endpoint.port},
            {"startedAt", iso8601(w.started_at)},
            {"inFlight", r.in_flight},
            {"queued", r.queued},
            {"pinned", r.pinned}};
  if (w.state != WorkerPhase::starting) j["loadSeconds"] = w.load_seconds;
  j["uptimeSeconds"] = seconds_between(w.started_at, s.now);
  j["idleSeconds"] = r.idle_seconds && r.in_flight == 0 ? json(*r.idle_seconds) : json(nullptr);
  j["ttlRemainingSeconds"] = opt(r.ttl_remaining_seconds);
  j["lastUsedSeconds"] = opt(r.last_used_seconds);
  if (w.state == WorkerPhase::starting && !w.last_line.empty()) j["lastLine"] = w.last_line;
  if (const ModelConfig* m = s.config->find_model(w.model)) {
    j["limits"] = limits_json(*m);
    if (!m->remote.empty()) {  // a remote model: its URL, and the bridge's last failure to reach it, if the last word
      j["remote"] = m->remote;
      j["remoteError"] = w.last_line.find("remote upstream") != std::string::npos ? json(w.last_line) : json(nullptr);
      j["remoteHealth"] = remote_health_json(w.health_line);
    }
  }
  if (r.memory) j["memory"] = memory_json(*r.memory);
  return j;
}

// What the residents hold together: measured samples (a worker not sampled yet counts 0) and estimates.
json resident_memory_json(const DaemonSnapshot& s) {
  uint64_t rss = 0, gpu = 0, estimate = 0;
  for (const ResidentSnapshot& r : s.workers) {
    if (!r.memory) continue;
    rss += r.memory->rss.value_or(0);
    gpu += r.memory->gpu.value_or(0);
    estimate += r.memory->estimate.total();
  }
  return {{"workers", s.workers.size()}, {"rssBytes", rss}, {"gpuBytes", gpu}, {"estimateBytes", estimate}};
}

json system_json(const DaemonSnapshot& s) {
  json j = {{"pressure", s.pressure}, {"pressureSource", s.pressure_source}, {"maxResident", s.max_resident},
            {"residentMemory", resident_memory_json(s)}};
  if (s.memory) {
    const auto& m = s.config->memory;
    j["totalBytes"] = s.memory->total;
    j["availableBytes"] = s.memory->available;
    j["budgetBytes"] = m.budget.resolve(s.memory->total);
    j["reserveBytes"] = m.reserve.resolve(s.memory->total);
  }
  j["gpus"] = json::array();
  for (const GpuSnapshot& g : s.gpus)
    j["gpus"].push_back({{"index", g.index}, {"name", g.name}, {"usedBytes", g.used}, {"totalBytes", g.total},
                         {"unified", g.unified}});
  return j;
}

json config_state_json(const ConfigState& c, const Config& cfg) {
  json j = {{"path", cfg.path}, {"loadedAt", iso8601(c.loaded_at)}, {"reloads", c.reloads},
            {"warnings", cfg.warnings}, {"pendingRestart", c.pending_restart}, {"error", nullptr}};
  if (!c.error.empty()) j["error"] = {{"message", c.error}, {"at", iso8601(c.error_at)}};
  return j;
}

}  // namespace

std::string metrics_text(const DaemonSnapshot& s, const Metrics& m) {
  MetricsGauges g;
  g.queue_depth = s.queued;
  g.in_flight = s.in_flight;
  for (const ResidentSnapshot& r : s.workers) {
    WorkerGauges w;
    w.model = r.worker.model;
    w.state = state_name(r.worker.state);
    w.in_flight = r.in_flight;
    if (const auto& mem = r.memory) {
      w.rss = mem->rss;
      w.estimate = mem->estimate.total();
      w.gpu = mem->gpu;
    }
    g.workers.push_back(std::move(w));
  }
  g.uptime_seconds = seconds_between(s.started_at, s.now);
  return m.render(g);
}

std::string log_line_json(const LogLine& l) {
  json j = {{"seq", l.seq}, {"time", iso8601(l.time)}, {"source", l.source}, {"level", l.level}, {"text", l.text}};
  j["model"] = l.model.empty() ? json(nullptr) : json(l.model);
  return dump(j);
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

std::string config_json(const DaemonSnapshot& s) {
  const std::string text = redacted_config_text(s.config_state.text, *s.redactor);
  return dump(json{{"path", s.config_state.path}, {"text", text}});
}

std::string status_json(const DaemonSnapshot& s) {
  const Config& cfg = *s.config;
  json workers = json::array();
  for (const ResidentSnapshot& r : s.workers) workers.push_back(worker_json(s, r));
  json j = {{"version", LLMUX_VERSION},
            {"pid", s.pid},
            {"listen", s.listen},
            {"startedAt", iso8601(s.started_at)},
            {"uptimeSeconds", seconds_between(s.started_at, s.now)},
            {"workers", workers},
            {"worker", workers.empty() ? json(nullptr) : workers.front()},  // the first resident, for older clients
            {"queue", {{"length", s.queued}}},
            {"inFlight", s.in_flight},
            {"swaps", s.swaps},
            {"lastLoadSeconds", opt(s.last_load_seconds)},
            {"lastSwapSeconds", opt(s.last_swap_seconds)},
            {"lastStopReason", s.last_stop_reason.empty() ? json(nullptr) : json(s.last_stop_reason)},
            {"defaultModel", cfg.default_model.empty() ? json(nullptr) : json(cfg.default_model)},
            {"system", system_json(s)},
            {"config", config_state_json(s.config_state, cfg)}};
  if (const auto& f = s.last_start_failure) {
    j["lastStartFailure"] = {{"model", f->model}, {"reason", f->reason}, {"at", iso8601(f->at)},
                             {"lastLines", f->last_lines}};
  }
  // Engine lines, start failures and config errors were redacted where they were made; this also covers a secret
  // that a reload added after them, and whatever field comes next.
  s.redactor->redact_strings(j);
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

namespace {

// One /v1/models entry. `as`: the id shown (the model's, or one of its aliases). llama-swap's `metadata` goes under
// meta.llamaswap, where its clients look for it.
json model_entry(const DaemonSnapshot& s, const ModelConfig& m, const std::string& as) {
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(s.now.time_since_epoch()).count();
  json entry = {{"id", as}, {"object", "model"}, {"created", created}, {"owned_by", "llmux"},
                {"state", model_state(s, m.id)}};
  if (as != m.id) entry["alias_of"] = m.id;
  else entry["aliases"] = m.aliases;
  if (!m.name.empty()) entry["name"] = m.name;
  if (!m.description.empty()) entry["description"] = m.description;
  if (m.metadata.is_object() && !m.metadata.empty()) entry["meta"] = {{"llamaswap", m.metadata}};
  if (as != m.id) return entry;
  auto it = s.footprints.find(m.id);
  const Footprint f = it != s.footprints.end() ? it->second : Footprint{};
  entry["footprint"] = footprint_json(f);
  entry["footprint"]["fitsBudget"] = fits_budget(f, s.config->memory, s.memory);
  return entry;
}

}  // namespace

std::string models_json(const DaemonSnapshot& s) {
  json data = json::array();
  const auto& cfg = *s.config;
  for (const auto& m : cfg.models) {
    if (m.unlisted) continue;
    data.push_back(model_entry(s, m, m.id));
    if (cfg.include_aliases_in_list == false) continue;
    for (const auto& a : m.aliases) {
      json entry = model_entry(s, m, a);
      if (!cfg.include_aliases_in_list) {  // llmux's own short form
        entry.erase("name");
        entry.erase("description");
        entry.erase("meta");
      }
      data.push_back(std::move(entry));
    }
  }
  return dump(json{{"object", "list"}, {"data", data}});
}

std::optional<std::string> model_json(const DaemonSnapshot& s, const std::string& name) {
  const ModelConfig* m = s.config->resolve(name);
  if (m == nullptr) return std::nullopt;
  return dump(model_entry(s, *m, name));
}

// llama-swap's /running: one entry per resident (llama-swap lists its running processes the same way), in start
// order; pid, inFlight and memory are llmux's additions (its clients ignore fields they do not know).
std::string running_json(const DaemonSnapshot& s) {
  json running = json::array();
  for (const ResidentSnapshot& res : s.workers) {
    const WorkerSnapshot& w = res.worker;
    json r = {{"model", w.model}, {"state", state_name(w.state)}, {"pid", w.pid},
              {"proxy", "http://" + w.endpoint.host_header()}, {"inFlight", res.in_flight}};
    if (const ModelConfig* m = s.config->find_model(w.model)) {
      r["ttl"] = std::chrono::duration_cast<std::chrono::seconds>(m->ttl).count();
      if (!m->name.empty()) r["name"] = m->name;
      if (!m->description.empty()) r["description"] = m->description;
    }
    if (res.memory) {
      r["memory"] = {{"rssBytes", res.memory->rss ? json(*res.memory->rss) : json(nullptr)},
                     {"estimateBytes", res.memory->estimate.total()}};
    }
    running.push_back(r);
  }
  return dump(json{{"running", running}});
}

}  // namespace llmux
