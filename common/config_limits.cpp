// Resource-governance keys: per-model limits with top-level defaults (kvReservation, maxTokens, queue, ...), the
// top-level `memory` map, and the memory macros (${KV_BYTES}, ${KV_MB}, ${KV_GB}, ${MEM_UTIL}).
#include <charconv>
#include <cmath>

#include "common/config_reader.hpp"

namespace llmux::config_detail {
namespace {

using Fields = std::map<std::string, Entry>;

constexpr std::string_view kTokenCapKeys[] = {"default", "limit", "onExceed"};
constexpr std::string_view kQueueKeys[] = {"max", "timeout"};
constexpr std::string_view kMemoryKeys[] = {"budget",         "reserve",  "ceilingSlack", "onCeiling",
                                            "sampleInterval", "swapWait", "pressure",     "gpuReserve",
                                            "idleSampleInterval", "learnedSlack"};
constexpr std::string_view kPressureKeys[] = {"evictAt", "psiWarning", "psiCritical"};
constexpr Duration kMinSampleInterval{100};
// An unset memory macro expands to kMarker NAME kMarkerEnd, which no sensible config text contains.
constexpr std::string_view kMarker = "\x01llmux-unset:";
constexpr char kMarkerEnd = '\x01';

const Entry* find(const Fields& fields, const char* name) {
  const auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

// The whole of `text` as a finite double; nullopt otherwise.
std::optional<double> whole_double(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string shortest(double value) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(value);
}

uint64_t positive_size(const Reader& r, const Entry& e) {
  const uint64_t bytes = r.size(e);
  if (bytes == 0) r.fail(e, "must be greater than 0");
  return bytes;
}

int int_at_least(const Reader& r, const Entry& e, int min, const std::string& reason) {
  const int64_t value = r.integer_at_least(e, min, reason);
  if (value > 1'000'000'000) r.fail(e, "too large, got " + std::to_string(value));
  return static_cast<int>(value);
}

// "maxTokens: 2048" is the limit; the map form sets any of default, limit, onExceed.
TokenCaps read_token_caps(Reader& r, const Entry& e) {
  TokenCaps caps;
  if (e.value.IsScalar()) {
    caps.limit = r.integer_at_least(e, 1, "must be at least 1");
    return caps;
  }
  if (!e.value.IsMap() && !e.value.IsNull()) {
    r.fail(e, "expected a token count or a map {default, limit, onExceed}");
  }
  const Fields f = r.fields(e.value, e.path, e.line, {kTokenCapKeys, {}});
  if (const Entry* d = find(f, "default")) caps.default_tokens = r.integer_at_least(*d, 1, "must be at least 1");
  const Entry* limit = find(f, "limit");
  if (limit != nullptr) caps.limit = r.integer_at_least(*limit, 1, "must be at least 1");
  if (caps.limit && caps.default_tokens && *caps.limit < *caps.default_tokens) {
    r.fail(*limit, "must be at least default (" + std::to_string(*caps.default_tokens) + "), got " +
                       std::to_string(*caps.limit));
  }
  if (const Entry* on = find(f, "onExceed")) {
    const std::string mode = r.string(*on);
    if (mode != "clamp" && mode != "reject") r.fail(*on, "expected clamp or reject, got '" + mode + "'");
    caps.reject = mode == "reject";
  }
  return caps;
}

void read_queue(Reader& r, const Entry& e, QueueConfig& q) {
  const Fields f = r.fields(e.value, e.path, e.line, {kQueueKeys, {}});
  if (const Entry* max = find(f, "max")) q.max = int_at_least(r, *max, 1, "must be at least 1 (a model that is not loaded needs its first request queued)");
  if (const Entry* timeout = find(f, "timeout")) q.timeout = r.positive_duration(*timeout);
}

double utilization(const Reader& r, const Entry& e) {
  const double value = r.number(e);
  if (!(value > 0 && value <= 1)) r.fail(e, "expected a number in (0, 1], got '" + e.value.Scalar() + "'");
  return value;
}

// A fraction of physical memory ("0.8", "80%") or a size with a unit ("48GiB"). A bare number is a fraction:
// "1" is all of memory, not one byte.
MemoryAmount memory_amount(const Reader& r, const Entry& e) {
  const std::string reason = "expected a fraction in (0, 1] of physical memory (0.8, 80%) or a size (48GiB)";
  if (!e.value.IsScalar()) r.fail(e, reason);
  std::string text = e.value.Scalar();
  const bool is_percent = text.ends_with('%');
  if (is_percent) text.pop_back();
  if (std::optional<double> fraction = whole_double(text)) {
    if (is_percent) *fraction /= 100;
    if (!(*fraction > 0 && *fraction <= 1)) r.fail(e, reason + ", got '" + e.value.Scalar() + "'");
    return {*fraction, 0};
  }
  const std::optional<uint64_t> bytes = is_percent ? std::nullopt : parse_size(text);
  if (!bytes || *bytes == 0) r.fail(e, reason + ", got '" + e.value.Scalar() + "'");
  return {0, *bytes};
}

double percent(const Reader& r, const Entry& e) {
  const std::string reason = "expected a percentage from 0 to 100";
  if (!e.value.IsScalar()) r.fail(e, reason);
  std::string text = e.value.Scalar();
  if (text.ends_with('%')) text.pop_back();
  const std::optional<double> value = whole_double(text);
  if (!value || *value < 0 || *value > 100) r.fail(e, reason + ", got '" + e.value.Scalar() + "'");
  return *value;
}

PressureConfig read_pressure(Reader& r, const Entry& e) {
  PressureConfig p;
  const Fields f = r.fields(e.value, e.path, e.line, {kPressureKeys, {}});
  if (const Entry* at = find(f, "evictAt")) {
    const std::string level = r.string(*at);
    if (level != "warning" && level != "critical") r.fail(*at, "expected warning or critical, got '" + level + "'");
    p.evict_at = level == "warning" ? PressureLevel::warning : PressureLevel::critical;
  }
  if (const Entry* w = find(f, "psiWarning")) p.psi_warning = percent(r, *w);
  const Entry* c = find(f, "psiCritical");
  if (c != nullptr) p.psi_critical = percent(r, *c);
  if (p.psi_critical < p.psi_warning) {
    const Entry& at = c != nullptr ? *c : *find(f, "psiWarning");
    r.fail(at, "psiCritical (" + shortest(p.psi_critical) + ") must be at least psiWarning (" +
                   shortest(p.psi_warning) + ")");
  }
  return p;
}

void read_memory_timing(const Reader& r, const Fields& f, MemoryConfig& m) {
  if (const Entry* e = find(f, "swapWait")) m.swap_wait = r.duration(*e);
  if (const Entry* e = find(f, "sampleInterval")) {
    m.sample_interval = r.duration(*e);
    if (m.sample_interval < kMinSampleInterval) r.fail(*e, "must be at least 100ms, got '" + e->value.Scalar() + "'");
  }
  if (const Entry* e = find(f, "idleSampleInterval")) {
    m.idle_sample_interval = r.duration(*e);
    if (m.idle_sample_interval.count() != 0 && m.idle_sample_interval < std::chrono::seconds(1))
      r.fail(*e, "must be 0 (off) or at least 1s, got '" + e->value.Scalar() + "'");
  }
  if (const Entry* e = find(f, "gpuReserve")) m.gpu_reserve = r.size(*e);
  if (const Entry* e = find(f, "learnedSlack")) {
    m.learned_slack = r.number(*e);
    if (m.learned_slack < 0 || m.learned_slack > 1) r.fail(*e, "must be between 0 and 1, got '" + e->value.Scalar() + "'");
  }
}

std::string gib_text(uint64_t bytes) {
  // Hundredths of a GiB, rounded; trailing zeros dropped: "4", "1.5", "0.25".
  const uint64_t hundredths = static_cast<uint64_t>(std::llround(static_cast<double>(bytes) * 100.0 / (1ull << 30)));
  std::string text = std::to_string(hundredths / 100);
  const uint64_t frac = hundredths % 100;
  if (frac == 0) return text;
  text += frac % 10 == 0 ? "." + std::to_string(frac / 10) : (frac < 10 ? ".0" : ".") + std::to_string(frac);
  return text;
}

std::string marker(const std::string& name) { return std::string(kMarker) + name + kMarkerEnd; }

}  // namespace

const std::set<std::string> kMemoryMacros = {"KV_BYTES", "KV_MB", "KV_GB", "MEM_UTIL"};

void read_limits(Reader& r, const Fields& f, ModelConfig& mc) {
  if (const Entry* e = find(f, "kvReservation")) mc.kv_reservation = positive_size(r, *e);
  if (const Entry* e = find(f, "memoryUtilization")) mc.memory_utilization = utilization(r, *e);
  if (const Entry* e = find(f, "overhead")) mc.overhead = r.size(*e);
  if (const Entry* e = find(f, "maxMemory")) mc.max_memory = positive_size(r, *e);
  if (const Entry* e = find(f, "maxTokens")) mc.max_tokens = read_token_caps(r, *e);
  if (const Entry* e = find(f, "params")) mc.params = read_params(r, *e);
  const Entry* concurrency = find(f, "maxConcurrency");
  if (concurrency != nullptr) {
    mc.max_concurrency = int_at_least(r, *concurrency, 0, "must be 0 (unlimited) or more");
    mc.refuse_over_limit = false;
  }
  if (const Entry* limit = find(f, "concurrencyLimit")) {  // llama-swap's: 0 = its default 10; 429 beyond it
    if (concurrency != nullptr) r.fail(*limit, "set maxConcurrency (requests beyond it wait in the queue) or "
                                               "concurrencyLimit (llama-swap's: refused with 429), not both");
    const int n = int_at_least(r, *limit, 0, "must be 0 (llama-swap's default, 10) or more");
    mc.max_concurrency = n == 0 ? 10 : n;
    mc.refuse_over_limit = true;
  }
  if (const Entry* e = find(f, "queue")) read_queue(r, *e, mc.queue);
  if (const Entry* e = find(f, "priority")) {
    mc.priority = int_at_least(r, *e, -1'000'000'000, "must be at least -1000000000");
  }
  if (const Entry* e = find(f, "minResidency")) mc.min_residency = r.duration(*e);
}

MemoryConfig read_memory(Reader& r, const Entry& e) {
  MemoryConfig m;
  const Fields f = r.fields(e.value, e.path, e.line, {kMemoryKeys, {}});
  if (const Entry* b = find(f, "budget")) m.budget = memory_amount(r, *b);
  if (const Entry* v = find(f, "reserve")) m.reserve = memory_amount(r, *v);
  if (const Entry* s = find(f, "ceilingSlack")) {
    m.ceiling_slack = r.number(*s);
    if (m.ceiling_slack < 1) r.fail(*s, "must be at least 1, got '" + s->value.Scalar() + "'");
  }
  if (const Entry* c = find(f, "onCeiling")) {
    const std::string mode = r.string(*c);
    if (mode != "evict" && mode != "restart") r.fail(*c, "expected evict or restart, got '" + mode + "'");
    m.on_ceiling = mode == "evict" ? OnCeiling::evict : OnCeiling::restart;
  }
  read_memory_timing(r, f, m);
  if (const Entry* p = find(f, "pressure")) m.pressure = read_pressure(r, *p);
  return m;
}

void add_memory_macros(const ModelConfig& mc, std::map<std::string, std::string>& macros) {
  if (mc.kv_reservation) {
    macros["KV_BYTES"] = std::to_string(*mc.kv_reservation);
    macros["KV_MB"] = std::to_string(*mc.kv_reservation >> 20);
    macros["KV_GB"] = gib_text(*mc.kv_reservation);
  } else {
    for (const char* name : {"KV_BYTES", "KV_MB", "KV_GB"}) macros[name] = marker(name);
  }
  macros["MEM_UTIL"] = mc.memory_utilization ? shortest(*mc.memory_utilization) : marker("MEM_UTIL");
}

std::string unset_memory_macro(const std::string& expanded) {
  const size_t open = expanded.find(kMarker);
  if (open == std::string::npos) return "";
  const size_t start = open + kMarker.size();
  const std::string name = expanded.substr(start, expanded.find(kMarkerEnd, start) - start);
  const char* key = name == "MEM_UTIL" ? "memoryUtilization" : "kvReservation";
  return "uses ${" + name + "} but " + key + " is not set";
}

}  // namespace llmux::config_detail
