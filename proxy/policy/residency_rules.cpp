#include "proxy/policy/residency_rules.hpp"

namespace llmux {

ResidencyRules::ResidencyRules(const Config& c) : active_(!c.groups.empty()) {
  if (!active_) return;
  for (const ModelGroup& g : c.groups) {
    groups_.push_back({g.swap, g.exclusive, g.persistent});
    for (const std::string& m : g.members) member_of_.emplace(m, static_cast<int>(groups_.size() - 1));
  }
  for (const ModelConfig& m : c.models)
    if (!m.remote.empty()) member_of_.emplace(m.id, kOutside);  // no effect on a listed one (already there)
}

int ResidencyRules::group_of(const std::string& model) const {
  const auto it = member_of_.find(model);
  return it == member_of_.end() ? kImplicit : it->second;
}

bool ResidencyRules::evicts(const std::string& model, const std::string& resident) const {
  if (!active_ || model == resident) return false;
  const int a = group_of(model);
  const int b = group_of(resident);
  if (a == kOutside || b == kOutside) return false;
  static const Group implicit;  // swap, exclusive, not persistent
  const Group& ga = a == kImplicit ? implicit : groups_[static_cast<size_t>(a)];
  const Group& gb = b == kImplicit ? implicit : groups_[static_cast<size_t>(b)];
  if (a == b) return ga.swap;
  return ga.exclusive && !gb.persistent;
}

bool ResidencyRules::may_coreside(const std::string& model, const std::vector<std::string>& staying) const {
  if (!active_) return true;
  for (const std::string& s : staying)
    if (evicts(model, s)) return false;
  return true;
}

std::vector<std::string> ResidencyRules::conflicts(const std::string& model,
                                                   const std::vector<std::string>& running) const {
  std::vector<std::string> out;
  for (const std::string& r : running)
    if (evicts(model, r)) out.push_back(r);
  return out;
}

bool may_coreside(const Config& c, const std::string& model, const std::vector<std::string>& staying) {
  return ResidencyRules(c).may_coreside(model, staying);
}

}  // namespace llmux
