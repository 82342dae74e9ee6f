#include "common/redact.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

namespace llmux {

Redactor::Redactor(const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    if (s.size() >= kMinLength && std::find(secrets_.begin(), secrets_.end(), s) == secrets_.end())
      secrets_.push_back(s);
  }
}

bool Redactor::redact(std::string& text) const {
  // Usually nothing matches: one search per secret, no allocation.
  const auto first = std::find_if(secrets_.begin(), secrets_.end(),
                                  [&](const std::string& s) { return text.find(s) != std::string::npos; });
  if (first == secrets_.end()) return false;
  // Every occurrence of every secret as a [begin, end) span, merged where they touch or overlap, so that no part of
  // a secret survives next to a mark (secrets may overlap each other, or contain one another).
  std::vector<std::pair<size_t, size_t>> spans;
  for (auto it = first; it != secrets_.end(); ++it) {
    for (size_t at = text.find(*it); at != std::string::npos; at = text.find(*it, at + 1))
      spans.emplace_back(at, at + it->size());
  }
  std::sort(spans.begin(), spans.end());
  std::string out;
  out.reserve(text.size());
  size_t done = 0;
  for (size_t i = 0; i < spans.size();) {
    const size_t begin = spans[i].first;
    size_t end = spans[i].second;
    for (++i; i < spans.size() && spans[i].first <= end; ++i) end = std::max(end, spans[i].second);
    out.append(text, done, begin - done);
    out += kMark;
    done = end;
  }
  out.append(text, done);
  text = std::move(out);
  return true;
}

std::string Redactor::redacted(std::string_view text) const {
  std::string out(text);
  redact(out);
  return out;
}

void Redactor::redact_strings(nlohmann::json& j) const {
  if (empty()) return;
  if (j.is_string()) {
    redact(j.get_ref<std::string&>());
  } else if (j.is_structured()) {
    for (auto& child : j) redact_strings(child);
  }
}

bool Secrets::add(const std::vector<std::string>& values) {
  std::lock_guard lock(mu_);
  bool fresh = false;
  for (const std::string& v : values) {
    if (v.size() < Redactor::kMinLength) continue;
    const auto known = std::find(values_.begin(), values_.end(), v);
    if (known != values_.end()) {
      if (std::next(known) != values_.end()) std::rotate(known, std::next(known), values_.end());  // now newest
      continue;
    }
    values_.push_back(v);
    fresh = true;
  }
  if (!fresh) return false;
  while (values_.size() > kMaxValues) values_.pop_front();
  redactor_ = std::make_shared<const Redactor>(std::vector<std::string>(values_.begin(), values_.end()));
  return true;
}

std::shared_ptr<const Redactor> Secrets::redactor() const {
  std::lock_guard lock(mu_);
  return redactor_;
}

}  // namespace llmux
