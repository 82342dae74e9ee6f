#include "proxy/policy/metrics.hpp"

#include <cstdio>

namespace llmux {

namespace {

const std::vector<double> kRequestBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
const std::vector<double> kLoadBuckets = {0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, const std::string& labels, const std::string& value) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  out += value;
  out += '\n';
}

std::string model_label(const std::string& model) { return "model=\"" + Metrics::escape_label(model) + "\""; }

Histogram& hist(std::map<std::string, Histogram>& m, const std::string& key, const std::vector<double>& bounds) {
  auto it = m.find(key);
  if (it == m.end()) it = m.emplace(key, Histogram(bounds)).first;
  return it->second;
}

// Each family's HELP and TYPE once, then one sample per resident worker that has the value.
void render_workers(std::string& out, const std::vector<WorkerGauges>& workers) {
  header(out, "llmux_resident_workers", "gauge", "Workers resident now (starting, ready or stopping).");
  sample(out, "llmux_resident_workers", "", std::to_string(workers.size()));
  header(out, "llmux_worker_state", "gauge", "1 for each resident worker's model and state.");
  for (const WorkerGauges& w : workers)
    sample(out, "llmux_worker_state", model_label(w.model) + ",state=\"" + w.state + "\"", "1");
  header(out, "llmux_worker_in_flight", "gauge", "Requests being served by each resident worker.");
  for (const WorkerGauges& w : workers)
    sample(out, "llmux_worker_in_flight", model_label(w.model), std::to_string(w.in_flight));
  struct Bytes {
    const char* name;
    const char* help;
    std::optional<uint64_t> WorkerGauges::*value;
  };
  static const Bytes kBytes[3] = {
      {"llmux_worker_resident_bytes", "Measured resident memory of each worker's process tree.", &WorkerGauges::rss},
      {"llmux_worker_gpu_bytes", "Measured GPU memory of each worker's processes (NVML).", &WorkerGauges::gpu},
      {"llmux_worker_estimate_bytes", "Estimated footprint of each resident worker's model.", &WorkerGauges::estimate}};
  for (const Bytes& b : kBytes) {
    header(out, b.name, "gauge", b.help);
    for (const WorkerGauges& w : workers)
      if (const auto& v = w.*b.value) sample(out, b.name, model_label(w.model), std::to_string(*v));
  }
}

}  // namespace

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  if (i < counts_.size()) ++counts_[i];
  ++count_;
  sum_ += v;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::string prefix = labels.empty() ? "" : labels + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    sample(out, name + "_bucket", prefix + "le=\"" + number(bounds_[i]) + "\"", std::to_string(cumulative));
  }
  sample(out, name + "_bucket", prefix + "le=\"+Inf\"", std::to_string(count_));
  sample(out, name + "_sum", labels, number(sum_));
  sample(out, name + "_count", labels, std::to_string(count_));
}

std::string Metrics::escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Metrics::PerModel& Metrics::per_model(const std::string& model) {
  auto it = models_.find(model);
  if (it == models_.end()) it = models_.emplace(model, PerModel{}).first;
  return it->second;
}

void Metrics::request(const std::string& model, int status, double seconds, std::optional<double> ttft,
                      const TokenUsage* usage) {
  PerModel& m = per_model(model);
  ++m.requests[status];
  if (!m.duration) m.duration.emplace(kRequestBuckets);
  m.duration->observe(seconds);
  if (usage && !usage->approximate) add_tokens(m, *usage);
  if (!ttft) return;
  if (!m.ttft) m.ttft.emplace(kRequestBuckets);
  m.ttft->observe(*ttft);
}

void Metrics::tokens(const std::string& model, const TokenUsage& u) {
  if (!u.prompt && !u.cached && !u.completion) return;
  add_tokens(per_model(model), u);
}

void Metrics::add_tokens(PerModel& m, const TokenUsage& u) {
  const std::optional<int64_t>* kinds[3] = {&u.cached, &u.completion, &u.prompt};
  for (size_t k = 0; k < 3; ++k) {
    if (!*kinds[k]) continue;
    m.tokens[k] += static_cast<uint64_t>(std::max<int64_t>(0, **kinds[k]));
    m.token_kinds[k] = true;
  }
}

void Metrics::load(const std::string& model, double seconds, bool ok) {
  ++loads_[{model, ok}];
  if (ok) hist(load_, model, kLoadBuckets).observe(seconds);
  activity_.event({Activity::Clock::now(), ok ? "load" : "load_failed", model, "", seconds});
}

void Metrics::eviction(const std::string& reason, const std::string& model) {
  ++evictions_[reason];
  activity_.event({Activity::Clock::now(), "evict", model, reason, 0});
}

void Metrics::prefix(const std::string& model, bool chain_break, uint64_t reused_bytes, uint64_t prompt_bytes) {
  PerModel& m = per_model(model);
  ++m.prefix[0];
  if (chain_break) ++m.prefix[1];
  m.prefix[2] += reused_bytes;
  m.prefix[3] += prompt_bytes;
}

void Metrics::render_prefix(std::string& out) const {
  static constexpr const char* kNames[4] = {"llmux_prefix_requests_total", "llmux_prefix_chain_breaks_total",
                                            "llmux_prefix_reused_bytes_total", "llmux_prefix_prompt_bytes_total"};
  static constexpr const char* kHelp[4] = {
      "Requests whose prompt was compared with their conversation's previous request.",
      "Requests in which an earlier message or the tool schemas changed (the engine's prompt cache is lost there).",
      "Prompt content bytes unchanged from the conversation's previous request.",
      "Prompt content bytes of the diagnosed requests."};
  for (size_t k = 0; k < 4; ++k) {
    header(out, kNames[k], "counter", kHelp[k]);
    for (const auto& [model, m] : models_)
      if (m.prefix[0] > 0) sample(out, kNames[k], model_label(model), std::to_string(m.prefix[k]));
  }
  header(out, "llmux_prefix_reuse_share", "gauge",
         "Share of the diagnosed prompt bytes reused from the previous request (reused / prompt bytes, since start).");
  for (const auto& [model, m] : models_)
    if (m.prefix[3] > 0)
      sample(out, "llmux_prefix_reuse_share", model_label(model),
             number(static_cast<double>(m.prefix[2]) / static_cast<double>(m.prefix[3])));
}

std::string Metrics::render(const MetricsGauges& g) const {
  std::string out;
  out.reserve(4096);
  header(out, "llmux_requests_total", "counter", "Requests answered, by model and HTTP status.");
  for (const auto& [model, m] : models_)
    for (const auto& [status, n] : m.requests)
      sample(out, "llmux_requests_total", model_label(model) + ",status=\"" + std::to_string(status) + "\"",
             std::to_string(n));
  header(out, "llmux_request_duration_seconds", "histogram", "Time from request to the end of the response.");
  for (const auto& [model, m] : models_)
    if (m.duration) m.duration->render(out, "llmux_request_duration_seconds", model_label(model));
  header(out, "llmux_time_to_first_token_seconds", "histogram",
         "Time from request to the first response body byte from the engine (queue and load included).");
  for (const auto& [model, m] : models_)
    if (m.ttft) m.ttft->render(out, "llmux_time_to_first_token_seconds", model_label(model));
  header(out, "llmux_tokens_total", "counter", "Tokens reported by engines (kind: prompt, cached, completion).");
  static constexpr const char* kKinds[3] = {"cached", "completion", "prompt"};
  for (const auto& [model, m] : models_)
    for (size_t k = 0; k < 3; ++k)
      if (m.token_kinds[k])
        sample(out, "llmux_tokens_total", model_label(model) + ",kind=\"" + kKinds[k] + "\"",
               std::to_string(m.tokens[k]));
  render_prefix(out);
  header(out, "llmux_swaps_total", "counter", "Worker swaps from one model to another.");
  sample(out, "llmux_swaps_total", "", std::to_string(evictions_.at("swap")));
  header(out, "llmux_loads_total", "counter", "Engine starts, by model and outcome.");
  for (const auto& [k, v] : loads_)
    sample(out, "llmux_loads_total", model_label(k.first) + ",outcome=\"" + (k.second ? "ready" : "failed") + "\"",
           std::to_string(v));
  header(out, "llmux_load_duration_seconds", "histogram", "Engine spawn-to-ready time.");
  for (const auto& [m, h] : load_) h.render(out, "llmux_load_duration_seconds", model_label(m));
  header(out, "llmux_evictions_total", "counter", "Workers stopped, by reason.");
  for (const auto& [r, v] : evictions_) sample(out, "llmux_evictions_total", "reason=\"" + r + "\"", std::to_string(v));
  header(out, "llmux_queue_depth", "gauge", "Requests waiting for a worker.");
  sample(out, "llmux_queue_depth", "", std::to_string(g.queue_depth));
  header(out, "llmux_in_flight", "gauge", "Requests being served, over every worker.");
  sample(out, "llmux_in_flight", "", std::to_string(g.in_flight));
  render_workers(out, g.workers);
  header(out, "llmux_uptime_seconds", "gauge", "Seconds since llmux started.");
  sample(out, "llmux_uptime_seconds", "", number(g.uptime_seconds));
  return out;
}

}  // namespace llmux
