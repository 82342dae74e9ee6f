#include "worker/engine_state.hpp"

#include <nlohmann/json.hpp>

#include <limits>

namespace llmux {

namespace {

using json = nlohmann::json;

constexpr int kFormatVersion = 1;

// A pid that may be signalled: 0 and 1 would make killpg() hit llmux's own group or init's.
bool signallable(pid_t pid) { return pid > 1; }

std::optional<pid_t> pid_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  auto v = it->get<int64_t>();
  if (v <= 0 || v > std::numeric_limits<pid_t>::max()) return std::nullopt;
  return static_cast<pid_t>(v);
}

std::optional<uint64_t> start_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<uint64_t>();
}

std::optional<EngineRecord> read_record(const json& j) {
  if (!j.is_object()) return std::nullopt;
  auto model = j.find("model");
  auto owner = j.find("owner");
  if (model == j.end() || !model->is_string() || owner == j.end() || !owner->is_object()) return std::nullopt;
  auto pid = pid_field(j, "pid"), pgid = pid_field(j, "pgid"), owner_pid = pid_field(*owner, "pid");
  auto start = start_field(j, "startTime"), owner_start = start_field(*owner, "startTime");
  if (!pid || !pgid || !owner_pid || !start || !owner_start) return std::nullopt;
  if (!signallable(*pid) || !signallable(*pgid)) return std::nullopt;
  EngineRecord r;
  r.model = model->get<std::string>();
  r.pid = *pid;
  r.pgid = *pgid;
  r.start = *start;
  r.owner_pid = *owner_pid;
  r.owner_start = *owner_start;
  if (auto boot = j.find("boot"); boot != j.end() && boot->is_string()) r.boot = boot->get<std::string>();
  return r;
}

}  // namespace

std::string format_engine_state(const std::vector<EngineRecord>& records) {
  json engines = json::array();
  for (const auto& r : records) {
    engines.push_back({{"model", r.model},
                       {"pid", r.pid},
                       {"pgid", r.pgid},
                       {"startTime", r.start},
                       {"boot", r.boot},
                       {"owner", {{"pid", r.owner_pid}, {"startTime", r.owner_start}}}});
  }
  json doc = {{"version", kFormatVersion}, {"engines", std::move(engines)}};
  return doc.dump(2) + "\n";
}

ParsedEngineState parse_engine_state(std::string_view text) {
  ParsedEngineState out;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;  // empty file: nothing recorded
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw EngineStateError("not JSON");
  if (!doc.is_object()) throw EngineStateError("expected a JSON object");
  auto engines = doc.find("engines");
  if (engines == doc.end()) return out;
  if (!engines->is_array()) throw EngineStateError("'engines' is not an array");
  for (const auto& e : *engines) {
    if (auto r = read_record(e))
      out.records.push_back(std::move(*r));
    else
      ++out.skipped;
  }
  return out;
}

const char* to_string(StaleVerdict v) {
  switch (v) {
    case StaleVerdict::keep: return "keep";
    case StaleVerdict::forget: return "forget";
    case StaleVerdict::reap: return "reap";
  }
  return "?";
}

StaleVerdict judge_record(const EngineRecord& record, const ObservedProcesses& now) {
  // Start times count from boot (Linux) and every process of an earlier boot is gone: its pids mean nothing now.
  if (record.boot != now.boot) return StaleVerdict::forget;
  if (now.owner_start && *now.owner_start == record.owner_start) return StaleVerdict::keep;
  // Never signal a pid that is not provably the engine: gone, or reused by another process since.
  if (!now.leader_start || *now.leader_start != record.start) return StaleVerdict::forget;
  return StaleVerdict::reap;
}

}  // namespace llmux
