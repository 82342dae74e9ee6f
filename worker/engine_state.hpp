// The state file's contents: one record per engine an llmux spawned (who spawned it, when each started), its JSON
// text, and the decision on a record found when llmux starts: keep it, forget it, or reap its engine. Pure: no I/O;
// the caller observes the processes (worker/platform.hpp). parse_engine_state() throws EngineStateError when the
// text is not a state file; single records that make no sense are skipped and counted.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

class EngineStateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct EngineRecord {
  std::string model;
  pid_t pid = -1;            // the engine's process, leader of its own group
  pid_t pgid = -1;           // that group (equal to pid: recorded apart so that the file says what is signalled)
  uint64_t start = 0;        // process_start_time(pid) right after the spawn
  pid_t owner_pid = -1;      // the llmux that spawned it
  uint64_t owner_start = 0;  // process_start_time(owner_pid)
  std::string boot;          // boot_id() of the boot both ran in
  bool operator==(const EngineRecord&) const = default;
};

std::string format_engine_state(const std::vector<EngineRecord>& records);

struct ParsedEngineState {
  std::vector<EngineRecord> records;
  size_t skipped = 0;  // records without a model, a pid or pgid above 1, or the start times
};
ParsedEngineState parse_engine_state(std::string_view text);

// What is true now of a record's processes.
struct ObservedProcesses {
  std::string boot;                      // boot_id() now
  std::optional<uint64_t> owner_start;   // process_start_time(record.owner_pid) now
  std::optional<uint64_t> leader_start;  // process_start_time(record.pid) now
};

enum class StaleVerdict {
  keep,    // its llmux still runs: its record, its business
  forget,  // nothing to do: the engine is gone, its pid is someone else's now, or the record is from another boot
  reap,    // its llmux is gone (or its pid is another process now) and the engine still runs: stop its group
};
const char* to_string(StaleVerdict v);

StaleVerdict judge_record(const EngineRecord& record, const ObservedProcesses& now);

}  // namespace llmux
