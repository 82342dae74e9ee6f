#include "common/config_diff.hpp"

#include <set>

namespace llmux {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string ms(Duration d) { return std::to_string(d.count()) + "ms"; }

// Names of the live-applicable fields that differ.
std::vector<std::string> live_changes(const ModelConfig& a, const ModelConfig& b) {
  std::vector<std::string> f;
  if (a.aliases != b.aliases) f.push_back("aliases");
  if (a.ttl != b.ttl) f.push_back("ttl " + ms(a.ttl) + " -> " + ms(b.ttl));
  if (a.use_model_name != b.use_model_name) f.push_back("useModelName");
  if (a.unlisted != b.unlisted) f.push_back("unlisted");
  if (a.name != b.name || a.description != b.description) f.push_back("name/description");
  if (a.stop_argv != b.stop_argv) f.push_back("cmdStop");
  if (a.stop_grace != b.stop_grace) f.push_back("stopGrace");
  if (a.start_timeout != b.start_timeout) f.push_back("startTimeout");
  if (a.readiness != b.readiness || a.check_endpoint != b.check_endpoint) f.push_back("readiness");
  if (a.max_tokens != b.max_tokens) f.push_back("maxTokens");
  if (a.params != b.params) f.push_back("params");
  if (a.max_concurrency != b.max_concurrency || a.queue != b.queue) f.push_back("maxConcurrency/queue");
  if (a.priority != b.priority || a.min_residency != b.min_residency) f.push_back("priority/minResidency");
  if (a.pinned != b.pinned) f.push_back(b.pinned ? "pinned" : "unpinned");
  if (a.kv_reservation != b.kv_reservation || a.memory_utilization != b.memory_utilization ||
      a.weights_bytes != b.weights_bytes || a.weights_path != b.weights_path || a.overhead != b.overhead ||
      a.max_memory != b.max_memory)
    f.push_back("memory estimate");
  return f;
}

std::string resident_count(size_t n) { return n == 0 ? "0 (as many as memory admits)" : std::to_string(n); }

// Co-residency settings: none restarts an engine.
void diff_residency(const Config& a, const Config& b, ConfigDiff& d) {
  if (a.max_resident != b.max_resident)
    d.lines.push_back("~ maxResident: " + resident_count(a.max_resident) + " -> " + resident_count(b.max_resident));
  if (a.groups != b.groups) {
    std::vector<std::string> names;
    for (const ModelGroup& g : b.groups) names.push_back(g.id);
    d.lines.push_back("~ groups changed: now " + (names.empty() ? std::string("none") : join(names)));
  }
  if (a.preload != b.preload)
    d.lines.push_back("~ preload: [" + join(a.preload) + "] -> [" + join(b.preload) + "]");
  if (a.return_to_default != b.return_to_default)
    d.lines.push_back(std::string("~ returnToDefault: ") + (a.return_to_default ? "true" : "false") + " -> " +
                      (b.return_to_default ? "true" : "false"));
}

void diff_globals(const Config& a, const Config& b, ConfigDiff& d) {
  if (a.listen_host != b.listen_host || a.listen_port != b.listen_port) {
    d.listen_changed = true;
    d.lines.push_back("! listen: " + a.listen_host + ":" + std::to_string(a.listen_port) + " -> " + b.listen_host +
                      ":" + std::to_string(b.listen_port) + " (needs a restart of llmux; not applied)");
  }
  if (a.default_model != b.default_model)
    d.lines.push_back("~ defaultModel: '" + a.default_model + "' -> '" + b.default_model + "'");
  if (a.log_level != b.log_level) d.lines.push_back("~ logLevel: " + a.log_level + " -> " + b.log_level);
  if (a.log_requests != b.log_requests)
    d.lines.push_back(std::string("~ logRequests: ") + (a.log_requests ? "true" : "false") + " -> " +
                      (b.log_requests ? "true" : "false"));
  if (a.max_request_body != b.max_request_body)
    d.lines.push_back("~ maxRequestBody: " + std::to_string(a.max_request_body) + " -> " +
                      std::to_string(b.max_request_body));
  if (!(a.timeouts == b.timeouts)) d.lines.push_back("~ timeouts changed");
  // Access settings apply to the next request; keys are never printed, only that they changed.
  if (!(a.access == b.access)) d.lines.push_back("~ access (apiKeys / adminKeys / allowedHosts / cors) changed");
  if (a.max_connections != b.max_connections)
    d.lines.push_back("~ maxConnections: " + std::to_string(a.max_connections) + " -> " +
                      std::to_string(b.max_connections));
  if (!(a.memory == b.memory) || a.max_swaps_waited != b.max_swaps_waited || a.naive_fifo != b.naive_fifo)
    d.lines.push_back("~ memory / scheduling settings changed");
  diff_residency(a, b, d);
}

}  // namespace

bool needs_engine_restart(const ModelConfig& running, const ModelConfig& next) {
  return running.argv != next.argv || running.env != next.env || running.proxy != next.proxy;
}

ConfigDiff diff_configs(const Config& a, const Config& b) {
  ConfigDiff d;
  diff_globals(a, b, d);
  for (const auto& m : a.models) {
    const ModelConfig* n = b.find_model(m.id);
    if (n == nullptr) {
      d.removed.push_back(m.id);
      d.lines.push_back("- model " + m.id + " removed (unloaded after its in-flight requests if resident)");
    } else if (needs_engine_restart(m, *n)) {
      d.restarted.push_back(m.id);
      std::string what = m.argv != n->argv ? "cmd" : m.env != n->env ? "env" : "proxy";
      d.lines.push_back("~ model " + m.id + ": " + what +
                        " changed (restarts after its in-flight requests if resident)");
    } else if (auto live = live_changes(m, *n); !live.empty()) {
      d.updated.push_back(m.id);
      std::string fields;
      for (const auto& f : live) fields += (fields.empty() ? "" : ", ") + f;
      d.lines.push_back("~ model " + m.id + ": " + fields + " (no restart)");
    }
  }
  for (const auto& m : b.models) {
    if (a.find_model(m.id) != nullptr) continue;
    d.added.push_back(m.id);
    d.lines.push_back("+ model " + m.id + " added: " + join(m.argv));
  }
  return d;
}

}  // namespace llmux
