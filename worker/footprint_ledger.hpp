// FootprintLedger: the measured peak memory of each model, per command line, kept in <state dir>/footprints.json
// so that the next start of the model (in this llmux or the next one) is admitted on what it really took. The key
// is the model id plus a hash of its expanded argv (a changed context size or KV type is a new entry); a peak only
// ever grows. Writes are temp file + rename (a reader sees the old file or the new one; two llmux writing at once
// lose one update, which is learned again). Never throws: a failure is one warning line until the file works
// again. Each call blocks for a few small file operations (called at most every few seconds).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace llmux {

struct LearnedFootprint {
  uint64_t host_peak = 0;  // process-group resident memory
  uint64_t gpu_peak = 0;   // GPU memory of the process group (0: none seen or not measurable)
  std::string updated;     // ISO 8601 UTC
  bool operator==(const LearnedFootprint&) const = default;
};

class FootprintLedger {
 public:
  // `dir` empty: disabled (nothing is learned across restarts).
  explicit FootprintLedger(std::string dir);
  static std::string key(const std::string& model, const std::vector<std::string>& argv);

  std::optional<LearnedFootprint> find(const std::string& key) const;
  // Raises the recorded peak (each figure separately) and writes the file when it rose; returns whether it did.
  bool record(const std::string& key, uint64_t host, uint64_t gpu);
  // Forgets one key (`llmux` has no command for it yet: deleting the file forgets everything).
  bool forget(const std::string& key);
  const std::string& path() const { return path_; }

 private:
  void load();
  bool save();

  std::string dir_, path_;
  std::map<std::string, LearnedFootprint> entries_;
  bool failing_ = false;
};

}  // namespace llmux
