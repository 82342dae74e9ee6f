// Which models may be resident together: llama-swap's `groups`, as a pure rule the coordinator ANDs into the
// scheduler's `fits` (memory budget) callback. Built once per Config (copies what it needs; no reference kept).
// Never throws; unknown model names are treated as models in no group. Pure: no Asio.
//
// Semantics (llama-swap's groupSwapper, read from its source): when `model` loads,
//   - a resident member of its own group must go if that group has `swap: true`;
//   - a resident model of another group must go if `model`'s group has `exclusive: true`, unless that other group
//     is `persistent: true`.
// Exclusivity is one-way: loading a member of a non-exclusive group leaves every other group's residents alone,
// even an exclusive group's. With any group configured, models listed in no group form llama-swap's implicit group
// "(default)": swap and exclusive, not persistent. Differences from llama-swap: with no group configured the rule
// admits everything (maxResident, default 1, and the memory budget decide); a remote model (mc.remote) listed in no
// group stays out of the implicit group (it holds no local memory), so it neither evicts nor is evicted by groups.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/config.hpp"

namespace llmux {

class ResidencyRules {
 public:
  ResidencyRules() = default;  // no groups: admits everything
  explicit ResidencyRules(const Config& c);

  // May `model` be resident beside every one of `staying` (they stay; `model` loads)? Only the pairs that involve
  // `model` are judged: the staying ones are resident together already.
  bool may_coreside(const std::string& model, const std::vector<std::string>& staying) const;
  // The residents of `running` that loading `model` requires gone (llama-swap's EvictionFor), in `running`'s order.
  std::vector<std::string> conflicts(const std::string& model, const std::vector<std::string>& running) const;
  // Whether loading `model` requires `resident` gone.
  bool evicts(const std::string& model, const std::string& resident) const;
  bool empty() const { return !active_; }  // no group configured: may_coreside is always true

 private:
  struct Group {
    bool swap = true, exclusive = true, persistent = false;
  };
  static constexpr int kImplicit = -1;  // llama-swap's "(default)" group
  static constexpr int kOutside = -2;   // a remote model in no group: no rule applies
  int group_of(const std::string& model) const;

  bool active_ = false;
  std::vector<Group> groups_;             // Config::groups' flags, same order
  std::map<std::string, int> member_of_;  // model id -> index in groups_, or kOutside
};

// One-shot form (builds the rule each call): for tests and rare callers; the coordinator keeps a ResidencyRules.
bool may_coreside(const Config& c, const std::string& model, const std::vector<std::string>& staying);

}  // namespace llmux
