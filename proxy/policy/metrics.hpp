// Metrics: llmux's counters and histograms, rendered in the Prometheus text exposition format (GET /metrics).
// Pure and single-threaded (the io_context's thread): the coordinator and sessions record events, render() adds
// the gauges read at scrape time (queue depth, every resident worker's state and memory).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/http/usage_scan.hpp"
#include "proxy/policy/activity.hpp"

namespace llmux {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}
  void observe(double v);
  // Appends `name_bucket{labels,le=...}`, `_sum` and `_count` lines; `labels` is "" or `key="v",...`.
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

// One resident worker's gauges (each sample is labelled with its model).
struct WorkerGauges {
  std::string model;
  std::string state;  // starting/ready/stopping
  size_t in_flight = 0;
  std::optional<uint64_t> rss;
  std::optional<uint64_t> estimate;
  std::optional<uint64_t> gpu;  // GPU memory of the worker's processes, where measurable
};

struct MetricsGauges {
  size_t queue_depth = 0;
  size_t in_flight = 0;
  std::vector<WorkerGauges> workers;  // every resident, in start order
  double uptime_seconds = 0;
};

class Metrics {
 public:
  // A finished request; `usage`, when given and not approximate, adds its token counts (one lookup for both).
  void request(const std::string& model, int status, double seconds, std::optional<double> ttft,
               const TokenUsage* usage = nullptr);
  void tokens(const std::string& model, const TokenUsage& u);
  void load(const std::string& model, double seconds, bool ok);  // also an Activity event
  // ttl, pressure, ceiling, swap, manual, reload, shutdown; `model`: the evicted one (for the Activity event)
  void eviction(const std::string& reason, const std::string& model = "");
  Activity& activity() { return activity_; }  // the recent past for /activity (requests are recorded there)
  const Activity& activity() const { return activity_; }
  // A request whose prompt the prefix diagnosis compared with its conversation's previous one (bytes: content).
  void prefix(const std::string& model, bool chain_break, uint64_t reused_bytes, uint64_t prompt_bytes);
  std::string render(const MetricsGauges& g) const;

  static std::string escape_label(const std::string& v);

 private:
  // What is recorded per request, found with one lookup by name (no key built per request).
  struct PerModel {
    std::map<int, uint64_t> requests;  // HTTP status → count
    std::optional<Histogram> duration, ttft;
    uint64_t tokens[3] = {0, 0, 0};     // cached, completion, prompt (the label order)
    bool token_kinds[3] = {false, false, false};
    uint64_t prefix[4] = {0, 0, 0, 0};  // diagnosed requests, chain breaks, reused bytes, prompt bytes
  };
  void render_prefix(std::string& out) const;
  PerModel& per_model(const std::string& model);
  static void add_tokens(PerModel& m, const TokenUsage& u);

  std::map<std::string, PerModel, std::less<>> models_;
  std::map<std::string, Histogram> load_;
  std::map<std::pair<std::string, bool>, uint64_t> loads_;
  Activity activity_;
  std::map<std::string, uint64_t> evictions_{{"ttl", 0}, {"pressure", 0}, {"ceiling", 0}, {"swap", 0}, {"manual", 0}};
};

}  // namespace llmux
